"""Coverage of the positive control's intervals (goaldriven.study.positive_control), by simulation.

Simulated score files of known truth: sites respond to images with a signal plus trial noise;
two models predict every site from the signal with the same noise level (so their true
difference is 0) at their better layer, a worse layer beside it. The interval of the
difference (resampling images and sites, layer chosen on held-out halves) should cover 0 in
at least 95% of data sets; the same with one model better shows the power.

    PYTHONPATH=src python benchmarks/positive_control_coverage.py [--datasets 1000]
"""

from __future__ import annotations

import argparse

import numpy as np
import xarray as xr

from goaldriven.study.positive_control import positive_control_table


def score_dataset(model: str, signal, observed, rng, noise=(1.0, 2.0), ceiling=0.8) -> xr.Dataset:
    """A score file as goaldriven score writes it (one session): predictions of two layers."""
    n_img, n_site = observed.shape
    pred = np.stack([signal + rng.normal(0, sd, signal.shape) for sd in noise]).astype(np.float32)
    ids, sites = [f"im{i:03d}" for i in range(n_img)], [f"n{j:03d}" for j in range(n_site)]
    return xr.Dataset(
        {"ceiling": ("neuroid", np.full(n_site, ceiling)),
         "prediction": (("layer", "entry"), pred.reshape(len(noise), -1)),
         "observed": ("entry", observed.astype(np.float32).ravel())},
        coords={"layer": [f"layer{k}" for k in range(len(noise))], "neuroid_id": ("neuroid", sites),
                "region": ("neuroid", ["IT"] * n_site), "area": ["IT"],
                "entry_stimulus_id": ("entry", np.repeat(ids, n_site)),
                "entry_neuroid_id": ("entry", np.tile(sites, n_img)),
                "entry_session": ("entry", np.zeros(n_img * n_site, int))},
        attrs={"model": model, "benchmark": "sim"})


def one_dataset(rng, n_img=60, n_site=30, better=0.0, n_boot=200, seed=0):
    """The (ev and r) rows of one simulated study: trained vs its untrained seed."""
    signal = rng.normal(0, 1, (n_img, n_site))
    observed = signal + rng.normal(0, 1, signal.shape)
    trained = score_dataset("a/supervised_seed0", signal, observed, rng, noise=(1.0 - better, 2.0))
    untrained = score_dataset("a/untrained_seed0", signal, observed, rng)
    return positive_control_table([trained, untrained], n_boot=n_boot, seed=seed)


def coverage(datasets: int, better: float = 0.0, seed: int = 0, **kw) -> dict[str, float]:
    """Share of data sets whose interval of the difference covers 0 (better = 0: the truth),
    per score."""
    rng = np.random.default_rng(seed)
    hits = {}
    for _ in range(datasets):
        for row in one_dataset(rng, better=better, **kw).itertuples():
            hits.setdefault(row.score, []).append(row.difference_low <= 0 <= row.difference_high)
    return {k: float(np.mean(v)) for k, v in hits.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", type=int, default=1000)
    a = ap.parse_args()
    for score, share in coverage(a.datasets).items():
        print(f"no true difference, {score}: the 95% interval covers 0 in {share:.3f} of {a.datasets} data sets")
    for score, share in coverage(a.datasets // 4, better=0.3).items():
        print(f"trained better (noise sd 0.7 vs 1.0), {score}: interval excludes 0 in {1 - share:.3f}")


if __name__ == "__main__":
    main()
