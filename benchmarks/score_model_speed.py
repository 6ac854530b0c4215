#!/usr/bin/env python
"""How long ``goaldriven score-model`` takes for a small model on the whole Cowley V4 benchmark.

A 3-layer ``nn.Sequential`` (conv 3->16 k5 s2, conv 16->32 k3 s2, conv 32->64 k3 s2, each with a
ReLU; layers "0", "2", "4", seeded random init) is scored on every Cowley et al. 2023 V4 session
(6 sessions, 306 sites, 6,240 images of 112 px) with the default feature and scoring settings
(layers wider than 4,096 columns sparse-projected to 4,096; ridge, 10 folds, exact leave-one-out
penalties). Prints the wall time of each phase: features (extraction and projection), ridge
per layer, RSA (layer RDMs and their comparison with the areas'), the rest (loading, ceilings)
and the total; with ``--profile FILE`` also writes a cProfile of the scoring. The goal is at most
2 minutes on 2 idle cores (issue #28).

The benchmark is imported first if ``--benchmark`` does not hold it yet:

    python benchmarks/score_model_speed.py [--benchmark /tmp/cowley] [--source ../shared/data/cowley2023_v4]
        [--numerics portable|fast] [--threads 2] [--profile scoring.prof] [--src DIR]

Numerics as the command line's: ``portable`` (the default: one thread, ISA capped at AVX2; what
``goaldriven score-model`` runs unless told ``--numerics fast``) or ``fast`` with ``--threads``.

The scoring's phases are those ``score_model(timings=...)`` reports; for older versions of the
package (``--src``), which lack it, the functions it calls are wrapped and timed instead (the
ridge's ``neural_predictivity``, the RSA's ``rdm`` and ``compare_rdms``).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # idle threads sleep: the machine may be shared

import argparse
import logging
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("GOALDRIVEN_SHARED_DATA", REPO.parent / "shared" / "data"))
LAYERS = ["0", "2", "4"]


def build():
    import torch
    from torch import nn

    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 16, 5, stride=2), nn.ReLU(), nn.Conv2d(16, 32, 3, stride=2), nn.ReLU(),
                         nn.Conv2d(32, 64, 3, stride=2), nn.ReLU())


def load() -> str:
    """The machine's load averages, as the timings depend on them."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--benchmark", type=Path, default=Path(tempfile.gettempdir()) / "goaldriven-cowley-v4",
                    help="imported Cowley V4 (goaldriven import cowley-v4); imported here when missing")
    ap.add_argument("--source", type=Path, default=SHARED / "cowley2023_v4")
    ap.add_argument("--numerics", choices=("portable", "fast"), default="portable")
    ap.add_argument("--threads", type=int, default=2, help="with --numerics fast")
    ap.add_argument("--profile", type=Path, help="write a cProfile of the scoring here")
    ap.add_argument("--quiet", action="store_true", help="no progress lines")
    ap.add_argument("--src", type=Path, default=REPO / "src",
                    help="the goaldriven sources to time (default: this checkout's; e.g. an older commit's, "
                         "unpacked with git archive, for a before/after comparison)")
    a = ap.parse_args()
    sys.path.insert(0, str(a.src))
    from goaldriven.core import numerics

    numerics.pin(a.numerics, a.threads)  # before numpy and torch load, as the command line does

    logging.basicConfig(level=logging.WARNING if a.quiet else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not (a.benchmark / "assembly.nc").is_file():
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "goaldriven.cli", "import", "cowley-v4", str(a.source),
                        str(a.benchmark)], check=True)
        print(f"imported {a.benchmark} in {time.perf_counter() - started:.1f} s (not counted)")

    numerics.configure_torch(a.numerics, a.threads)

    import goaldriven.compare.score as score_module
    from goaldriven.api import benchmark_files
    from goaldriven.core.options import FeatureSpec, ScoringSpec
    from goaldriven.data.stimulus_sets import load_stimulus_set
    from goaldriven.models.external import load_external
    from goaldriven.models.features import extract_to_netcdf

    spent = defaultdict(float)  # seconds per phase

    def timed(key, fn):
        def wrapper(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                k = key(*args) if callable(key) else key
                spent[k] += time.perf_counter() - t0
        return wrapper

    import inspect

    options = {}
    if "timings" in inspect.signature(score_module.score_model).parameters:  # score_model times its phases
        options["timings"] = spent
    else:  # an older version: ridge time by layer (the features' layer coordinate); RSA time of the
        # layers' RDMs and comparisons (the areas' RDMs, made once before the layers, count there too)
        score_module.neural_predictivity = timed(lambda xb, *_: f"ridge {xb['layer'].values[0]}",
                                                 score_module.neural_predictivity)
        score_module.rdm = timed("rsa", score_module.rdm)
        score_module.compare_rdms = timed("rsa", score_module.compare_rdms)

    bench = benchmark_files(a.benchmark)
    threads = 1 if a.numerics == "portable" else a.threads
    print(f"score-model speed: 3-layer nn.Sequential on {bench.recordings}; goaldriven from "
          f"{Path(score_module.__file__).parents[2]}; numerics {a.numerics}, {threads} thread(s); "
          f"load average before: {load()}", flush=True)
    total0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="goaldriven-speed-") as tmp:
        model = load_external(build(), LAYERS, preprocessing="imagenet", name="seq3")
        stimuli = load_stimulus_set(bench.stimuli)
        t0 = time.perf_counter()
        features = extract_to_netcdf(model, stimuli, Path(tmp) / "features.nc", model_id="seq3", spec=FeatureSpec(),
                                     layers=LAYERS, batch_size=64, device="cpu")
        spent["features"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        if a.profile:
            import cProfile

            profiler = cProfile.Profile()
            ds = profiler.runcall(score_module.score_model, features, bench.recordings, trials_path=bench.trials,
                                  spec=ScoringSpec(), benchmark="cowley", **options)
            profiler.dump_stats(a.profile)
        else:
            ds = score_module.score_model(features, bench.recordings, trials_path=bench.trials, spec=ScoringSpec(),
                                          benchmark="cowley", **options)
        scoring = time.perf_counter() - t0
    total = time.perf_counter() - total0
    ridge = {k: v for k, v in spent.items() if k.startswith("ridge ")}
    rows = [("features", spent["features"]), *sorted(ridge.items()), ("rsa", spent["rsa"]),
            ("other (loading, ceilings)", scoring - sum(ridge.values()) - spent["rsa"]), ("total", total)]
    print(f"{'phase':<28}{'seconds':>9}")
    for name, seconds in rows:
        print(f"{name:<28}{seconds:9.1f}")
    import numpy as np

    print("median r per layer:", {str(layer): round(float(np.nanmedian(ds["r"].sel(layer=layer))), 4)
                                  for layer in ds["layer"].values})
    print("rsa per layer:", {str(layer): round(float(ds["rsa"].sel(layer=layer).values[0]), 4)
                             for layer in ds["layer"].values})
    print(f"load average after: {load()}; goal: total <= 120 s on 2 idle cores "
          f"({'met' if total <= 120 else 'not met'} here)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
