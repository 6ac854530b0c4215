"""The leaderboard: every model (zoo, controls, external) x benchmark area, ranked.

Per model and area the score is the median over sites of the ceiling-normalised explained
variance (the median signed r² where the benchmark has no single trials) of the model's best
layer, where the best layer is chosen on *held-out sites*: the sites are split in two halves
(by site id, as in models.csv), the layer best on one half is scored on the other and the other
way round, and the two half medians are averaged (the same definition as models.csv), so that
choosing the layer does not inflate the score. Seeds of a zoo model are averaged; the 95%
interval comes from resampling sites (the same resample for every seed). For benchmarks of
published RDMs (no sites) the layer is chosen on one half of the images and its RSA taken on
the other, both ways averaged, with a bootstrap interval over the images of each half (score
files from before the halves were scored: the best layer on all images, in-sample, and the
table says so in ``selection``). Score files of ``comparison.method: pls`` are scored with
Brain-Score's aggregates over the same sites instead of medians (``convention``; see
:class:`goaldriven.summary.AreaScores`).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.io import InputError, open_netcdf, read_csv, write_csv, write_json
from ..core.registry import MODEL_KINDS
from .summary import AreaScores, convention_of, site_halves

MODEL_ID = re.compile(r"(?P<arch>[^/]+)/(?P<task>[a-z_]+)_seed(?P<seed>\d+)$")
CONTROLS = tuple(k for k, spec in MODEL_KINDS.items() if spec.control)
COLUMNS = ["rank", "benchmark", "area", "model", "arch", "task", "kind", "metric", "score", "ci_low", "ci_high",
           "best_layer", "n_seeds", "n_sites", "selection", "convention"]


def _kind(task: str) -> str:
    return "external" if task == "external" else "control" if task in CONTROLS else "zoo"


def _splits(area: AreaScores, halves: np.ndarray) -> bool:
    """Whether the sites can be split: each half has a score at some layer (as
    summary.held_out_scores decides; else the layer is chosen and scored on all sites)."""
    return all(np.isfinite(area(np.flatnonzero(halves == h))).any() for h in (0, 1))


def _chosen_layers(area: AreaScores, halves: np.ndarray, split: bool) -> list[int]:
    """For each half of the sites, the layer best on the *other* half (all sites if not ``split``)."""
    chosen = []
    for h in (0, 1):
        scores = area(np.flatnonzero(halves != h) if split else None)
        chosen.append(int(np.nanargmax(np.where(np.isfinite(scores), scores, -np.inf))))
    return chosen


def _held_out_score(area: AreaScores, halves: np.ndarray, chosen, split: bool, sites=None) -> float:
    """The summary's held-out score (:func:`goaldriven.summary.held_out_scores`): the mean over
    the two halves of the half's area score (``sites``: resampled ones) at its layer."""
    sites = np.arange(len(halves)) if sites is None else sites
    if not split:  # in-sample, as summary.held_out_scores
        return float(area(sites, chosen[0])[0])
    parts = [area(sites[halves[sites] == h], chosen[h])[0] for h in (0, 1) if (halves[sites] == h).any()]
    return float(np.mean(parts)) if parts else np.nan


def _predictivity_row(group: list, area_name: str, n_boot: int, seed: int) -> dict:
    per_seed = [AreaScores(ds, area_name) for ds in group]
    layers = [str(x) for x in group[0]["layer"].values]
    rng = np.random.default_rng(seed)
    # the same split by site id as models.csv (summary.site_halves), not by row position
    mask = group[0]["region"].values == area_name
    halves = site_halves(group[0]["neuroid_id"].values[mask], group[0]["region"].values[mask])
    split = [_splits(a, halves) for a in per_seed]
    chosen = [_chosen_layers(a, halves, sp) for a, sp in zip(per_seed, split)]
    with np.errstate(all="ignore"):
        score = float(np.mean([_held_out_score(a, halves, c, sp) for a, c, sp in zip(per_seed, chosen, split)]))
        boot = []
        for _ in range(n_boot):  # sites resampled within each half, the same resample for every seed
            sites = np.concatenate([rng.choice(np.flatnonzero(halves == h), (halves == h).sum())
                                    for h in (0, 1) if (halves == h).any()])
            boot.append(np.mean([_held_out_score(a, halves, c, sp, sites)
                                 for a, c, sp in zip(per_seed, chosen, split)]))
        profile = np.nanmean([a() for a in per_seed], axis=0)
    low, high = np.nanpercentile(boot, [2.5, 97.5]) if n_boot else (np.nan, np.nan)
    return {"metric": per_seed[0].metric, "score": score, "ci_low": float(low), "ci_high": float(high),
            "best_layer": layers[int(np.nanargmax(profile))], "n_sites": int(per_seed[0].usable.sum()),
            "convention": convention_of(group[0]),
            "selection": "layer chosen on one half of the sites, scored on the other, both ways averaged "
                         "(as models.csv); 95% interval over sites resampled within halves"}


def _rdm_row(group: list, area: str) -> dict:
    if "rsa_half_boot" in group[0] and group[0].sizes.get("bootstrap", 0):
        return _held_out_rdm_row(group, area)
    return _in_sample_rdm_row(group, area)


def _held_out_rdm_row(group: list, area: str) -> dict:
    """The RSA of the layer chosen on one half of the images, scored on the other, both ways
    averaged (models.csv's *_rsa), mean over seeds; its interval from the per-half bootstraps
    of goaldriven score-rdms (the same resamples for every model), the choice held fixed."""
    scores, boots = [], []
    for ds in group:
        half = ds["rsa_half"].sel(area=area).values  # (2, layer)
        boot = ds["rsa_half_boot"].sel(area=area).values  # (2, layer, bootstrap)
        c0, c1 = (int(np.nanargmax(half[h])) if np.isfinite(half[h]).any() else 0 for h in (1, 0))
        scores.append((half[0, c0] + half[1, c1]) / 2)  # half 0 at the layer best on half 1, and back
        boots.append((boot[0, c0] + boot[1, c1]) / 2)
    with np.errstate(all="ignore"):
        low, high = np.nanpercentile(np.mean(boots, axis=0), [2.5, 97.5])
    rsa = np.nanmean([ds["rsa"].sel(area=area).values for ds in group], axis=0)
    return {"metric": "rsa", "score": float(np.mean(scores)), "ci_low": float(low), "ci_high": float(high),
            "best_layer": str(group[0]["layer"].values[int(np.nanargmax(rsa))]), "n_sites": np.nan,
            "selection": "layer chosen on one half of the images, RSA on the other, both ways averaged (as "
                         "models.csv); 95% interval from resampling the images of each half"}


def _in_sample_rdm_row(group: list, area: str) -> dict:
    rsa = np.nanmean([ds["rsa"].sel(area=area).values for ds in group], axis=0)
    best = int(np.nanargmax(rsa))
    low = np.nanmean([ds["rsa_low"].sel(area=area).values[best] for ds in group]) if "rsa_low" in group[0] else np.nan
    high = np.nanmean([ds["rsa_high"].sel(area=area).values[best] for ds in group]) if "rsa_high" in group[0] else np.nan
    return {"metric": "rsa", "score": float(rsa[best]), "ci_low": float(low), "ci_high": float(high),
            "best_layer": str(group[0]["layer"].values[best]), "n_sites": np.nan,
            "selection": "best layer by RDM correlation on all images (in-sample: optimistic; models.csv "
                         "holds the RSA of the layer chosen on the other half of the images); 95% interval over stimuli"}


def leaderboard(score_paths, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """The ranked table from scores files (goaldriven score / score-rdms) of any models."""
    groups: dict = {}
    for path in score_paths:
        ds = open_netcdf(path, kind="dataset")
        m = MODEL_ID.match(str(ds.attrs.get("model", "")))
        if m is None:
            raise InputError(f"{path}: model {ds.attrs.get('model')!r} is not ARCH/TASK_seedN")
        key = (str(ds.attrs.get("benchmark", "")), m["arch"], m["task"], ds.attrs.get("kind", "predictivity"))
        groups.setdefault(key, []).append(ds)
    rows = []
    for (benchmark, arch, task, kind), group in groups.items():
        for area in (str(a) for a in group[0]["area"].values):
            row = (_predictivity_row(group, area, n_boot, seed) if kind == "predictivity"
                   else {**_rdm_row(group, area), "convention": "goaldriven"})
            rows.append({"benchmark": benchmark, "area": area, "model": arch if task == "external" else f"{arch}/{task}",
                         "arch": arch, "task": task, "kind": _kind(task), "n_seeds": len(group), **row})
    if not rows:
        raise InputError("leaderboard: no scores given")
    df = pd.DataFrame(rows)
    df = df.sort_values(["benchmark", "area", "score"], ascending=[True, True, False], na_position="last")
    df["rank"] = df.groupby(["benchmark", "area"]).cumcount() + 1
    return df[COLUMNS].reset_index(drop=True)


def as_metrics(df: pd.DataFrame) -> dict:
    """The leaderboard as DVC metrics: {benchmark: {area: {model: {score, ci_low, ci_high, rank}}}}."""
    out: dict = {}
    for r in df.itertuples():
        out.setdefault(r.benchmark, {}).setdefault(r.area, {})[r.model] = {
            "score": None if pd.isna(r.score) else round(float(r.score), 6),
            "ci_low": None if pd.isna(r.ci_low) else round(float(r.ci_low), 6),
            "ci_high": None if pd.isna(r.ci_high) else round(float(r.ci_high), 6),
            "rank": int(r.rank), "best_layer": r.best_layer}
    return out


def write_leaderboard(score_paths, out_csv, out_json, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    df = leaderboard(score_paths, n_boot=n_boot, seed=seed)
    write_csv(df, out_csv)
    write_json(as_metrics(df), out_json)
    return df


def layer_profiles(predictivity_csv, out_dir) -> list[Path]:
    """Per benchmark, area and model, its layer profile as a CSV (DVC plots, one plot per file,
    so that ``dvc plots diff`` sets a model's profile in two experiments side by side): one row
    per layer, the median EV (mean over seeds)."""
    df = read_csv(predictivity_csv)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    df["model"] = np.where(df["task"] == "external", df["arch"], df["arch"] + "/" + df["task"])
    for (benchmark, region, model), g in df.groupby(["benchmark", "region", "model"]):
        table = g.groupby(["layer_index", "layer"], as_index=False)["ev_median"].mean().sort_values("layer_index")
        name = "_".join(re.sub(r"[^A-Za-z0-9]+", "-", str(part)).strip("-") for part in (benchmark, region, model))
        write_csv(table, out_dir / f"{name}.csv")
        written.append(out_dir / f"{name}.csv")
    return written
