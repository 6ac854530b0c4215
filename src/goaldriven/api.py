"""Score your own model from Python, in one call.

>>> from goaldriven.api import score
>>> table = score("my_model.py:build", ["conv1", "conv2", "fc"], "results/neural/kalfas")  # doctest: +SKIP

``model`` is a ``torch.nn.Module``, a function returning one, a factory string
(``file.py:function`` / ``package.module:function``) or a model by name (``torchvision:resnet18``,
``timm:NAME``, ``hf:NAME``; ``+weights`` for the package's trained weights); ``layers`` are module names; the
benchmark is a folder written by ``goaldriven import`` (``stimuli.nc`` with ``assembly.nc``
[+ ``trials.nc``] or ``rdms.nc``) or a benchmark name of a config (its imported files under
the config's results folder). The result is one row per layer and area.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .core.io import InputError


@dataclass(frozen=True)
class Benchmark:
    name: str
    stimuli: Path
    recordings: Path | None = None  # site responses (predictivity and RSA)
    trials: Path | None = None      # single trials, for noise ceilings
    rdms: Path | None = None        # published RDMs (RSA only)


def workflow_root(start=None) -> Path | None:
    """The workflow checkout to look benchmark names up in: the one holding ``start`` (default:
    the current folder), else goaldriven's own checkout (an editable install); None if neither."""
    start = Path(start or Path.cwd()).resolve()
    for folder in (start, *start.parents, Path(__file__).resolve().parents[2]):
        if (folder / "Snakefile").is_file() and (folder / "config" / "config.yaml").is_file():
            return folder
    return None


def benchmark_files(benchmark, config=None) -> Benchmark:
    """Where a benchmark's files are: a folder as ``goaldriven import`` writes, or a name in
    ``config`` (a YAML file or a dict; default: config/config.yaml of :func:`workflow_root`)
    resolved under its results folder, from any working folder."""
    if isinstance(benchmark, Benchmark):
        return benchmark
    folder = Path(benchmark)
    if not folder.is_dir():
        root = workflow_root()
        cfg = config if config is not None else (root / "config/config.yaml" if root else "config/config.yaml")
        if not isinstance(cfg, dict):
            import yaml

            path = Path(cfg)
            if not path.is_file() and root is not None and (root / path).is_file():
                path = root / path
            if not path.is_file():
                raise InputError(f"{benchmark}: not a benchmark folder, and there is no config {cfg} to look "
                                 "its name up in (run from a goaldriven checkout, or give the config's path)")
            root = path.resolve().parent.parent  # config/NAME.yaml of a checkout: results are under it
            cfg = yaml.safe_load(path.read_text())
        names = cfg.get("neural", {})
        if str(benchmark) not in names:
            raise InputError(f"{benchmark}: not a benchmark folder nor a benchmark of the config "
                             f"(it has {sorted(names)})")
        results = Path(cfg.get("results", "results"))
        if not results.is_absolute() and root is not None:
            results = root / results
        if names[str(benchmark)]["importer"] == "simulate":
            found = Benchmark(str(benchmark), results / "stimuli/test.nc", results / "recordings/simulated.nc")
            for path in (found.stimuli, found.recordings):
                if not path.is_file():
                    raise InputError(f"{path}: not made yet; run the workflow (snakemake) first")
            return found
        folder = results / "neural" / str(benchmark)
        if not folder.is_dir():
            raise InputError(f"{folder}: benchmark {benchmark!r} is not imported yet; run snakemake {folder}/stimuli.nc")
    stimuli = folder / "stimuli.nc"
    if not stimuli.is_file():
        raise InputError(f"{folder}: no stimuli.nc; a benchmark folder holds stimuli.nc with assembly.nc or rdms.nc")
    files = {k: folder / f"{k if k != 'recordings' else 'assembly'}.nc" for k in ("recordings", "trials", "rdms")}
    files = {k: p if p.is_file() else None for k, p in files.items()}
    if files["recordings"] is None and files["rdms"] is None:
        raise InputError(f"{folder}: neither assembly.nc nor rdms.nc; nothing to score against")
    return Benchmark(folder.name, stimuli, **files)


def score_table(ds) -> pd.DataFrame:
    """One row per layer and area of a scores Dataset (``goaldriven score``/``score-rdms``):
    median explained variance (ceiling-normalised where the benchmark has single trials, else
    the median signed r²), median r, and RSA (with its interval where there is one)."""
    from .study.summary import predictivity_rows

    rows = []
    sites = ({(p["layer"], p["region"]): p for p in predictivity_rows(ds, {})}
             if ds.attrs.get("kind", "predictivity") == "predictivity" else {})
    for layer, idx in zip(ds["layer"].values, ds["layer_index"].values):
        for area in ds["area"].values:
            row = {"layer": str(layer), "layer_index": int(idx), "area": str(area)}
            if sites:  # the per-layer definitions of summary/predictivity.csv
                p = sites[(str(layer), str(area))]
                row.update({"ev": p["ev_median"], "ceiling_normalised": p["ceiling_normalised"], "r": p["r_median"],
                            "n_sites": int((ds["region"].values == area).sum()), "convention": p["convention"]})
            row["rsa"] = float(ds["rsa"].sel(layer=layer, area=area))
            for extra in ("rsa_low", "rsa_high"):
                if extra in ds:
                    row[extra] = float(ds[extra].sel(layer=layer, area=area))
            rows.append(row)
    return pd.DataFrame(rows)


def score(model, layers, benchmark, *, input_size: int | None = None, preprocessing: str | None = None,
          weights=None, name: str | None = None, spec=None, scoring=None, bootstraps: int = 100, out=None,
          device: str = "auto", config=None, batch_size: int = 64) -> pd.DataFrame:
    """Every listed layer of ``model`` scored on ``benchmark``: a table with one row per layer
    and area (see :func:`score_table`). ``spec``: how features are reduced (a FeatureSpec);
    ``scoring``: how layers are scored (a ScoringSpec: splits, seed, method...). With ``out`` (a
    folder), also writes ``features.nc``, ``scores.nc`` and ``scores.csv`` there.
    ``preprocessing`` (and ``input_size``): default the package's own for a model by name
    (``torchvision:resnet18``, ``timm:NAME``, ``hf:NAME``), else ``imagenet`` (and the stored size)."""
    import shutil
    import tempfile

    from .models.external import load_external
    from .models.features import extract_to_netcdf
    from .core.io import atomic_path, write_csv, write_netcdf
    from .core.options import FeatureSpec, ScoringSpec
    from .compare.score import score_model, score_rdms
    from .data.stimulus_sets import load_stimulus_set

    if isinstance(layers, str):
        layers = [n.strip() for n in layers.split(",") if n.strip()]
    bench = benchmark_files(benchmark, config)
    ext = load_external(model, layers, input_size=input_size, preprocessing=preprocessing, weights=weights,
                        name=name)
    # Everything is made in a temporary folder and moved to ``out`` at the end: a failure (a
    # layer giving NaN, a bad benchmark) leaves no output folder, empty or half-written.
    with tempfile.TemporaryDirectory(prefix="goaldriven-score-") as tmp:
        folder = Path(tmp)
        features = folder / "features.nc"
        extract_to_netcdf(ext, load_stimulus_set(bench.stimuli), features, model_id=name or ext.name,
                          spec=spec or FeatureSpec(), layers=layers, batch_size=batch_size, device=device)
        if bench.recordings is not None:
            ds = score_model(features, bench.recordings, trials_path=bench.trials, spec=scoring or ScoringSpec(),
                             benchmark=bench.name)
        else:
            ds = score_rdms(features, bench.rdms, n_boot=bootstraps, seed=(scoring or ScoringSpec()).seed,
                            benchmark=bench.name)
        table = score_table(ds)
        table.insert(0, "benchmark", bench.name)
        table.insert(0, "model", name or ext.name)
        if out is not None:
            ds.attrs["features"] = str(Path(out) / "features.nc")  # where it will be, not the temporary
            write_netcdf(ds, folder / "scores.nc")
            write_csv(table, folder / "scores.csv")
            for name in ("features.nc", "scores.nc", "scores.csv"):
                with atomic_path(Path(out) / name) as dest:
                    shutil.move(folder / name, dest)
    return table
