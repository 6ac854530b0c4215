"""Neural predictivity along training: every kept epoch of every model, scored on one benchmark.

``goaldriven train --keep-epochs 1,2,4`` leaves ``DIR/epochs/epoch_{E:03d}.safetensors`` beside
the final ``DIR/weights.safetensors``. :func:`trajectory_table` extracts each checkpoint's
features of the benchmark stimuli (in a temporary folder: they are large and used once), scores
them as ``goaldriven score`` does, and keeps each region's score with its layer chosen on held-out
sites, the model's score for that region (as in ``models.csv``: ``summary.held_out_scores``),
next to that epoch's categorisation accuracy.
"""

from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..models.features import extract_to_netcdf
from ..core.options import FeatureSpec, ScoringSpec
from ..core.io import InputError, open_netcdf, read_csv, read_json
from ..compare.score import score_model
from .summary import held_out_scores, model_fields, predictivity_rows

log = logging.getLogger(__name__)

COLUMNS = ["model", "arch", "task", "seed", "epoch", "final", "test_accuracy", "benchmark", "region",
           "best_layer", "ev_median", "ceiling_normalised", "r_median", "n_sites", "weights", "selection"]


@dataclass(frozen=True)
class Checkpoint:
    epoch: int
    weights: Path
    test_accuracy: float  # NaN where the epoch has none (no test set, pose or autoencoder task)
    final: bool


def _accuracy(value) -> float:
    return float("nan") if value is None else float(value)


def _same_run(path: Path, found, run) -> None:
    """Every file of a model folder must come from the training run of its metrics.json."""
    if found != run:
        what = "carries no training-run fingerprint" if found is None else f"comes from another training run ({found[:12]})"
        raise InputError(f"{path}: {what}, not from the run of the folder's metrics.json "
                         f"({str(run)[:12]}); retrain the model into a clean folder")


def _kept_epoch(path: Path, run) -> Checkpoint:
    """A kept epoch's number and metrics, from the metadata :func:`goaldriven.train.save_weights` wrote."""
    from ..models.train import load_weights

    meta = load_weights(path)[1]
    _same_run(path, meta.get("run"), run)
    if "epoch" not in meta or "metrics" not in meta:
        raise InputError(f"{path}: not a kept epoch (its metadata has no 'epoch' and 'metrics')")
    try:
        metrics = json.loads(meta["metrics"])
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: its 'metrics' metadata is not valid JSON ({e})") from None
    return Checkpoint(int(meta["epoch"]), path, _accuracy(metrics.get("test_accuracy")), final=False)


def _read_metrics(path: Path) -> dict:
    metrics = read_json(path)
    config = metrics.get("config") if isinstance(metrics, dict) else None
    missing = {"arch", "task", "seed"} - set(config if isinstance(config, dict) else ())
    if missing:
        raise InputError(f"{path}: not the metrics of goaldriven train (no config {sorted(missing)})")
    return metrics


def checkpoints(model_dir, metrics: dict) -> list[Checkpoint]:
    """The kept epochs of a model folder, then its final weights as the last epoch, in order.

    The final weights count as epoch ``len(history)`` (0 for an untrained control); a kept
    epoch equal to it holds the same weights, so it is left out rather than scored twice.
    """
    model_dir = Path(model_dir)
    final_weights = model_dir / "weights.safetensors"
    if not final_weights.is_file():
        raise InputError(f"{final_weights}: file not found (is {model_dir} a folder written by goaldriven train?)")
    from ..models.train import _run_of

    run = metrics.get("run")
    if run is None:
        raise InputError(f"{model_dir / 'metrics.json'}: has no training-run fingerprint ('run'; written "
                         "by an older goaldriven), so its kept epochs cannot be checked; retrain the model")
    _same_run(final_weights, _run_of(final_weights), run)
    last = len(metrics.get("history", []))
    kept = [_kept_epoch(p, run) for p in sorted((model_dir / "epochs").glob("epoch_*.safetensors"))]
    late = [c.epoch for c in kept if c.epoch > last]
    if late:
        raise InputError(f"{model_dir / 'epochs'}: epochs {late} lie beyond the {last} epochs of "
                         f"{model_dir / 'metrics.json'}; the folder mixes files of different runs")
    final = Checkpoint(last, final_weights, _accuracy(metrics.get("test_accuracy")), final=True)
    return [c for c in kept if c.epoch != last] + [final]


def _score_checkpoint(ckpt: Checkpoint, stimuli, recordings_path, options: dict, spec: FeatureSpec,
                      fields: dict, device: str, ds=None) -> list[dict]:
    """``options``: keyword arguments of ``score_model``; ``ds``: the scores of these very
    weights, if the workflow already made them (see ``_final_scores``)."""
    benchmark = options["benchmark"]
    if ds is None:
        with tempfile.TemporaryDirectory(prefix="goaldriven-trajectory-") as tmp:
            features = extract_to_netcdf(ckpt.weights, stimuli, Path(tmp) / "features.nc",
                                         model_id=fields["model"], spec=spec, device=device, progress=False)
            ds = score_model(features, recordings_path, **options)
    rows = []
    per_layer = {(r["region"], r["layer"]): r for r in predictivity_rows(ds, {**fields, "benchmark": benchmark})}
    for region, held in held_out_scores(ds).items():
        row = per_layer[(region, held["layer"])]  # r_median etc. of the layer best on all sites
        rows.append({**row, "ev_median": held["score"], "epoch": ckpt.epoch, "final": ckpt.final,
                     "test_accuracy": ckpt.test_accuracy, "best_layer": row["layer"], "weights": str(ckpt.weights),
                     "selection": held["selection"]})
    return rows


def _final_scores(paths, options: dict) -> dict:
    """Scores files of final weights by model, each read once and checked before any scoring:
    one model's predictivity, made with the splits and penalty criterion asked for."""
    out = {}
    for path in paths:
        ds = open_netcdf(path, kind="dataset")
        if ds.attrs.get("kind", "predictivity") != "predictivity" or "model" not in ds.attrs:
            raise InputError(f"{path}: not the predictivity scores of one model (goaldriven score)")
        scoring = options["spec"]
        for key in ("method", "splits", "criterion"):
            made = ds.attrs.get(key, {"criterion": "loo", "method": "ridge"}.get(key))  # older files: ridge, loo
            if key == "criterion" and scoring.method == "pls":
                continue  # PLS has no penalty
            if str(made) != str(getattr(scoring, key)):
                raise InputError(f"{path}: scored with {key} {made}, not {getattr(scoring, key)} as asked")
        out[ds.attrs["model"]] = ds
    return out


def trajectory_table(model_dirs, stimuli_path, recordings_path, trials_path=None,
                     scoring: ScoringSpec = ScoringSpec(), spec: FeatureSpec = FeatureSpec(), benchmark: str = "",
                     device: str = "cpu", final_scores=()) -> pd.DataFrame:
    """One row per model folder, checkpoint (kept epochs, then the final weights) and region:
    that epoch's ``test_accuracy`` and the ``ev_median`` of the layer chosen on held-out sites
    (median ceiling-normalised EV over sites; the median signed r**2 where there are no single
    trials, see ``ceiling_normalised``; rule in ``selection``), ``best_layer`` the best on all sites. ``spec`` is how features are reduced; ``scoring`` how layers are scored, as in
    :func:`goaldriven.compare.score.score_model`. ``final_scores``: scores files of the final weights
    (``goaldriven score`` with the same benchmark, features and splits), reused instead of
    extracting and scoring those weights again.
    """
    from ..data.stimulus_sets import load_stimulus_set

    model_dirs = [Path(d) for d in model_dirs]
    if not model_dirs:
        raise InputError("trajectory_table needs at least one model folder")
    stimuli = load_stimulus_set(stimuli_path)
    plan, seen = [], {}
    for model_dir in model_dirs:  # check every folder before the long scoring loop starts
        metrics = _read_metrics(model_dir / "metrics.json")
        fields = model_fields(metrics, model_dir / "metrics.json")
        if fields["model"] in seen:
            raise InputError(f"{model_dir}: model {fields['model']} is also in {seen[fields['model']]}")
        seen[fields["model"]] = model_dir
        plan += [(fields, ckpt) for ckpt in checkpoints(model_dir, metrics)]
    options = dict(trials_path=trials_path, spec=scoring, benchmark=benchmark)
    scored = _final_scores(final_scores, options)
    rows = []
    for i, (fields, ckpt) in enumerate(plan, 1):
        new = _score_checkpoint(ckpt, stimuli, recordings_path, options, spec, fields, device,
                                scored.get(fields["model"]) if ckpt.final else None)
        log.info("%s epoch %d (checkpoint %d/%d): test accuracy %.3f, best layer %s", fields["model"], ckpt.epoch,
                 i, len(plan), ckpt.test_accuracy,
                 ", ".join(f"{r['region']} {r['best_layer']} {r['ev_median']:.3f}" for r in new))
        rows += new
    return pd.DataFrame(rows)[COLUMNS]


def join_tables(paths) -> pd.DataFrame:
    """The tables of :func:`trajectory_table` (one per model, as the workflow makes them) as one,
    in the given order; each must have the columns of a trajectory table and its own models."""
    if not paths:
        raise InputError("join_tables needs at least one table")
    parts, seen = [], {}
    for path in paths:
        table = read_csv(path)
        if list(table.columns) != COLUMNS:
            raise InputError(f"{path}: not a trajectory table (columns {list(table.columns)}, expected {COLUMNS})")
        for model in table["model"].unique():
            if model in seen:
                raise InputError(f"{path}: model {model} is also in {seen[model]}")
            seen[model] = path
        parts.append(table)
    return pd.concat(parts, ignore_index=True)
