"""Convergent learning: how similar are networks that differ only in their seed?

Linear CKA and its debiased form (Kornblith et al. 2019; every model x model pair with a null
is in :mod:`goaldriven.similarity`); one-to-one unit matching (Li et al. 2016), either of layer
columns or of conv channels, with examples of the most and least convergent and the most and
least active units (brain scores across seeds: :mod:`goaldriven.seed_variance`). Rows of every matrix are stimuli (times
spatial positions for channels), columns units.
"""

from __future__ import annotations

import logging
import math
from itertools import combinations

import numpy as np
import pandas as pd

from ..core.io import InputError
from ..core.registry import UNIT_DEFAULT, UNITS

log = logging.getLogger(__name__)
UNIT_KINDS, UNIT_DEFAULT = UNITS, UNIT_DEFAULT
CHANCE = ("chance_r, frac_convergent: best r with any unit of the other seed after shuffling its stimuli "
          "(images interchangeable), p <= 0.05; matched_r_held_out, frac_convergent_images: pairs matched on "
          "one half of the stimuli, r on the other (chance 0), above 0 at bootstrap p <= 0.05 over the "
          "held-out stimuli drawn with replacement; both halves, averaged")


def _centre(X) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    return X - X.mean(axis=0)


def seeds_by_model(feature_paths) -> dict[tuple, dict]:
    """{(arch, task): {seed: activations}} from features files whose ``model`` attribute reads
    ``arch/task_seedN``, each seed's rows in the first file's stimulus order (paired by
    ``stimulus_id``)."""
    from ..data.stimulus_ids import align_by_stimulus_id
    from ..models.features import open_features

    groups: dict[tuple, dict] = {}
    first = None
    for path in feature_paths:
        da = open_features(path)
        da.encoding["source"] = str(path)
        if first is None:
            first = da
        else:
            _, da = align_by_stimulus_id(first, da, _source(first), str(path))
            da.encoding["source"] = str(path)
        arch, rest = da.attrs["model"].split("/")
        task, seed = rest.rsplit("_seed", 1)
        groups.setdefault((arch, task), {})[int(seed)] = da
    return dict(sorted(groups.items()))


def _zscore(X) -> np.ndarray:
    X = _centre(X)
    sd = X.std(axis=0)
    return np.divide(X, sd, out=np.zeros_like(X), where=sd > 0)  # constant unit -> 0, not NaN


def _assign(C: np.ndarray):
    """Optimal one-to-one assignment maximising the summed correlation: (rows, cols, r)."""
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(C, maximize=True)
    return rows, cols, C[rows, cols]


def _stimulus_shuffle(rng, n_stimuli: int, positions: int) -> np.ndarray:
    """Row order that shuffles whole stimuli and keeps each stimulus's positions together."""
    return (rng.permutation(n_stimuli)[:, None] * positions + np.arange(positions)).ravel()


def match_units(A, B, n_permutations: int = 20, seed: int = 0, positions: int = 1) -> dict:
    """One-to-one matching of the units (columns) of A and B by correlation over rows,
    maximising the summed correlation (Li et al. 2016's bipartite matching).

    Rows are stimuli, or with ``positions`` > 1 stimuli times spatial positions: each stimulus's
    ``positions`` rows are consecutive (see :func:`channel_responses`). A may hold fewer units
    than B (a subsample of A against all of B: every unit of A can still find its partner).
    Chance comes from shuffling B's stimuli (whole stimuli, so a position stays a position):
    for each unit of A, its best correlation with any unit of the shuffled B (which bounds its
    matched correlation, so the selection by matching is in the null). A pair is "convergent"
    when its permutation p-value (1 + shuffles at least as high) / (1 + shuffles) is at most
    0.05: under independent seeds about 5% of units (at most) are called convergent, unit by
    unit, and none with fewer than 19 shuffles.
    """
    A, B = np.asarray(A), np.asarray(B)
    if A.ndim != 2 or B.ndim != 2 or len(A) != len(B) or len(A) % positions or A.shape[1] > B.shape[1]:
        raise InputError(f"need two matrices with the same rows, a multiple of {positions} positions, and no "
                         f"more units in the first; got {A.shape} and {B.shape}")
    # Shuffling rows leaves each column's mean and sd alone: standardise once, not per shuffle.
    zA, zB = _zscore(A), _zscore(B)
    rows, cols, corr = _assign(zA.T @ zB / len(A))
    # The null in single precision (twice as fast with many positions): its rounding (~1e-5)
    # is far below its own sampling spread.
    zA, zB = zA[:, rows].astype(np.float32), zB.astype(np.float32)
    rng = np.random.default_rng(seed)
    null = np.array([(zA.T @ zB[_stimulus_shuffle(rng, len(A) // positions, positions)] / len(A)).max(axis=1)
                     for _ in range(n_permutations)]).reshape(n_permutations, len(rows))
    p = (1 + np.sum(null >= corr - 1e-6, axis=0)) / (1 + n_permutations)
    return {"pairs": np.stack([rows, cols], axis=1), "correlation": corr, "chance": null.mean(axis=0),
            "chance_95": np.percentile(null, 95, axis=0), "p": p, "convergent": p <= 0.05}


def _r_from_sums(n, sx, sy, sxx, syy, sxy) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (n * sxy - sx * sy) / np.sqrt((n * sxx - sx ** 2) * (n * syy - sy ** 2))
    return np.where(np.isfinite(r), r, np.nan)


def held_out_matching(A, B, half, positions: int = 1, n_boot: int = 200, seed: int = 0) -> dict:
    """Chance without interchangeable images: units matched one-to-one (as :func:`match_units`)
    on one half of the stimuli, their correlation measured on the other half, both ways. Pairs
    chosen on other images owe nothing to the selection, so an unrelated pair's held-out r is 0
    on average (the chance level); a pair is convergent on the images when the held-out r is
    above 0 with one-sided bootstrap p <= 0.05, p = (1 + draws <= 0) / (1 + n_boot), the
    held-out stimuli drawn with replacement (a stimulus's positions together): the sampling of
    images enters, not a shuffle that treats every image as interchangeable with every other.
    ``half``: 0/1 per stimulus. Returns per matched unit of A and half: ``r`` and ``p``
    (NaN r and p 1 for a unit constant on the held-out images)."""
    A, B, half = np.asarray(A, np.float64), np.asarray(B, np.float64), np.asarray(half)
    rows_half = np.repeat(half, positions)
    rng = np.random.default_rng([seed, 2])
    rs, ps = [], []
    for h in (0, 1):
        fit, test = rows_half == h, rows_half != h
        rows, cols, _ = _assign(_zscore(A[fit]).T @ _zscore(B[fit]) / fit.sum())
        x, y = _centre(A[test][:, rows]), _centre(B[test][:, cols])
        n_stim = int((half != h).sum())
        # per held-out stimulus, sums over its positions: a bootstrap draw is a weighting of these
        parts = [v.reshape(n_stim, positions, -1).sum(axis=1) for v in (x, y, x * x, y * y, x * y)]
        r = _r_from_sums(len(x), *(v.sum(axis=0) for v in parts))
        counts = rng.multinomial(n_stim, np.full(n_stim, 1 / n_stim), size=n_boot).astype(np.float64)
        boot = _r_from_sums(positions * n_stim, *(counts @ v for v in parts))
        p = (1 + np.sum(~(boot > 0), axis=0)) / (1 + n_boot)  # a NaN draw counts against
        rs.append(r)
        ps.append(np.where(np.isfinite(r), p, 1.0))
    return {"r": np.concatenate(rs), "p": np.concatenate(ps)}


def _source(features) -> str:
    """How to name a features assembly in an error: its file when it came from one."""
    return str(features.encoding.get("source") or features.attrs.get("model", "<features>"))


def _channel_shape(features, layer: str, width: int) -> tuple[int, ...] | None:
    """The (channels, height, width) of a layer's columns, or (units,) for a flat layer, from
    the features file (attribute ``shape_<layer>``); None when not recorded."""
    from ..models.features import layer_shape

    try:
        shape = layer_shape(features, layer)
    except ValueError:
        shape = ()  # unparsable: reported below with the other malformed shapes
    if shape is not None and (len(shape) not in (1, 3) or math.prod(shape) != width):
        raise InputError(f"{_source(features)}: attribute shape_{layer}={features.attrs[f'shape_{layer}']!r} "
                         f"is not 'C,H,W' or 'C' of the layer's {width} columns")
    return shape


def channel_responses(X, shape) -> np.ndarray:
    """(stimuli, C*H*W) columns in (channel, y, x) order -> (stimuli * H*W, C): one column per
    channel, one row per stimulus and position, a stimulus's positions consecutive."""
    X = np.asarray(X)
    return X.reshape(len(X), shape[0], -1).transpose(0, 2, 1).reshape(-1, shape[0])


def _layer_units(features, layer: str, unit: str):
    """The layer's columns, and (responses with one column per unit, rows per stimulus, unit
    kind): channels when asked for and the layer's shape is recorded, else the columns."""
    from ..models.features import layer_matrix

    X = layer_matrix(features, layer).values
    shape = _channel_shape(features, layer, X.shape[1]) if unit == "channel" else None
    if shape is None:
        return X, (X, 1, "column")
    return X, (channel_responses(X, shape), math.prod(shape[1:]), "channel")


def _check_unit(unit: str) -> None:
    if unit not in UNIT_KINDS:
        raise InputError(f"unknown unit {unit!r}; choose from {UNIT_KINDS}")


def _subsample(n: int, max_units: int, seed) -> np.ndarray:
    """Sorted seeded choice of at most ``max_units`` of ``n`` units."""
    return np.sort(np.random.default_rng(seed).choice(n, min(n, max_units), replace=False))


def cross_seed_predictivity(X, Y, splits: int = 3, seed: int = 0) -> np.ndarray:
    """Held-out Pearson r of each unit of Y predicted linearly (ridge) from X."""
    import xarray as xr

    from .methods import neural_predictivity

    ids = np.array([f"s{i}" for i in range(len(X))])
    fx = xr.DataArray(X, dims=("presentation", "neuroid"), coords={"stimulus_id": ("presentation", ids)})
    fy = xr.DataArray(Y, dims=("presentation", "neuroid"), coords={"stimulus_id": ("presentation", ids)})
    return neural_predictivity(fx, fy, splits=splits, seed=seed)["r"].values


def matching_table(feature_paths, max_units: int = 128, n_permutations: int = 10, seed: int = 0,
                   unit: str = UNIT_DEFAULT, n_boot: int = 200) -> pd.DataFrame:
    """Per layer and seed pair: unit matching (with chance) and cross-seed linear predictivity.

    ``unit="column"`` matches layer columns (channel x position) by their correlation over
    stimuli; ``unit="channel"`` matches conv channels by their correlation over stimuli and
    positions (Li et al. 2016), for layers whose shape the features file records (attribute
    ``shape_<layer>``; other layers fall back to columns, logged; column ``unit`` says which).
    Every unit is matched; in a layer with more units than ``max_units``, a seeded subsample
    of seed a's units is matched against all of seed b's (never the same indices on both sides,
    which would drop true partners). ``n_units`` is the layer's number of units (its real
    channel count with ``unit="channel"``), ``n_matched`` those of seed a matched. The cross-seed mapping always predicts ``max_units`` columns of seed b from all of
    seed a's columns. Randomly projected layers are skipped: their columns mix units, so
    matching them would say nothing about units.

    Two chance levels (column ``chance``): ``chance_r`` and ``frac_convergent`` shuffle seed b's
    stimuli (images interchangeable); ``matched_r_held_out`` and ``frac_convergent_images``
    match on one half of the stimuli (:func:`goaldriven.data.stimulus_ids.image_halves`) and
    test on the other with the held-out images resampled (:func:`held_out_matching`; chance 0).
    """
    from ..data.stimulus_ids import image_halves
    from ..models.features import layer_order

    _check_unit(unit)
    rows = []
    for (arch, task), by_seed in seeds_by_model(feature_paths).items():
        first = next(iter(by_seed.values()))
        half = image_halves(first["stimulus_id"].values)  # every seed's rows are in this order
        projected = set(filter(None, first.attrs.get("projected_layers", "").split(",")))
        for index, layer in enumerate(layer_order(first)):
            if layer in projected:
                log.warning("%s/%s %s: randomly projected features, no unit matching", arch, task, layer)
                continue
            both = {s: _layer_units(da, layer, unit) for s, da in by_seed.items()}
            mats, units = ({s: v[i] for s, v in both.items()} for i in (0, 1))
            kinds = {kind for _, _, kind in units.values()}
            if len(kinds) > 1:
                raise InputError(f"{arch}/{task} {layer}: shape_{layer} recorded in some seeds' features "
                                 f"files but not in others ({', '.join(_source(da) for da in by_seed.values())})")
            kind, positions = kinds.pop(), next(iter(units.values()))[1]
            if kind != unit:
                log.warning("%s/%s %s: no shape_%s attribute, matching columns, not channels", arch, task,
                            layer, layer)
            keep_cols = _subsample(next(iter(mats.values())).shape[1], max_units, [seed, index])
            keep = _subsample(next(iter(units.values()))[0].shape[1], max_units, [seed, index])
            for a, b in combinations(sorted(mats), 2):
                m = match_units(units[a][0][:, keep], units[b][0], n_permutations=n_permutations,
                                seed=seed, positions=positions)
                r = cross_seed_predictivity(mats[a], mats[b][:, keep_cols], seed=seed)
                held = held_out_matching(units[a][0][:, keep], units[b][0], half, positions, n_boot, seed)
                rows.append({"arch": arch, "task": task, "layer": layer, "layer_index": index, "seed_a": a,
                             "seed_b": b, "unit": kind, "n_units": units[b][0].shape[1], "n_matched": len(keep),
                             "matched_r": float(np.mean(m["correlation"])),
                             "chance_r": float(np.mean(m["chance"])),
                             "n_convergent": int(m["convergent"].sum()),
                             "frac_convergent": float(m["convergent"].mean()),
                             "matched_r_held_out": float(np.nanmean(held["r"])),
                             "frac_convergent_images": float(np.mean(held["p"] <= 0.05)),
                             "chance": CHANCE, "cross_seed_r": float(np.nanmedian(r))})
    return pd.DataFrame(rows)


def _as_features(features):
    from ..models.features import open_features

    return features if hasattr(features, "attrs") else open_features(features)


def unit_examples(features_a, features_b, layer: str, n_units: int = 3, k: int = 5, unit: str = UNIT_DEFAULT,
                  max_units: int = 512, seed: int = 0) -> pd.DataFrame:
    """The most and the least convergent matched units of one layer between two seeds, and the
    most and the least active units of seed a (highest and lowest mean response; Li et al.
    2016, Figs. S11-S12) with their match in seed b, each with the ``k`` stimuli that drive the
    unit most in seed a and its match in seed b.

    Units are matched one-to-one by correlation (as :func:`match_units`): every unit of seed a
    (at most ``max_units`` seeded ones: matching is cubic) against all of seed b's. Rows are
    paired by ``stimulus_id``. Units that are constant in either seed (dead ReLUs) are left
    out: their correlation is undefined and they have no preferred stimuli. A channel's drive
    by a stimulus is its mean over positions. The caller picks the layer (say the top conv
    layer, where convergence is interesting).

    Tidy table, one row per unit pair and image: model_a, model_b, layer, unit_type, kind
    ("most"/"least" convergent, "most_active"/"least_active"), rank (1 = the most, respectively
    least, of its kind), unit_a, unit_b (index of the column or channel within the layer), r,
    mean_a, mean_b (mean response of the two units), image_rank, stimulus_id_a,
    stimulus_id_b, drive_a, drive_b.
    """
    from ..data.stimulus_ids import align_by_stimulus_id

    _check_unit(unit)
    da_a, da_b = _as_features(features_a), _as_features(features_b)
    for da in (da_a, da_b):
        if layer not in set(da["layer"].values.tolist()):
            raise InputError(f"{_source(da)}: no layer {layer!r}")
        if layer in da.attrs.get("projected_layers", "").split(","):
            raise InputError(f"{_source(da)}: layer {layer!r} is randomly projected, its columns are not units")
    source_b = _source(da_b)
    _, da_b = align_by_stimulus_id(da_a, da_b, _source(da_a), source_b)
    (Ua, positions, kind), (Ub, _, kind_b) = (_layer_units(da, layer, unit)[1] for da in (da_a, da_b))
    if kind != kind_b:
        raise InputError(f"{source_b}: shape_{layer} recorded in only one of the two features files")
    if kind != unit:
        log.warning("%s: no shape_%s attribute, examples of columns, not channels", _source(da_a), layer)
    keep = _subsample(Ua.shape[1], max_units, seed)
    Ua, Ub = Ua[:, keep].astype(np.float64), Ub.astype(np.float64)
    rows, cols, corr = _assign(_zscore(Ua).T @ _zscore(Ub) / len(Ua))
    live = np.flatnonzero((Ua[:, rows].std(axis=0) > 0) & (Ub[:, cols].std(axis=0) > 0))
    n = min(n_units, len(live) // 2)
    if n == 0:
        raise InputError(f"{_source(da_a)}: layer {layer!r} has fewer than two units that respond in both seeds")
    by_r = live[np.argsort(-corr[live], kind="stable")]
    mean_a, mean_b = Ua[:, rows].mean(axis=0), Ub[:, cols].mean(axis=0)
    by_mean = live[np.argsort(-mean_a[live], kind="stable")]
    # Drive per stimulus: a stimulus's positions are consecutive rows (mean over one for columns).
    drive_a, drive_b = (U.reshape(-1, positions, U.shape[1]).mean(axis=1) for U in (Ua, Ub))
    ids = da_a["stimulus_id"].values
    out = []
    for which, picks in (("most", by_r[:n]), ("least", by_r[::-1][:n]),
                         ("most_active", by_mean[:n]), ("least_active", by_mean[::-1][:n])):
        for rank, i in enumerate(picks, start=1):
            top_a = np.argsort(-drive_a[:, rows[i]], kind="stable")[:k]
            top_b = np.argsort(-drive_b[:, cols[i]], kind="stable")[:k]
            for image_rank, (sa, sb) in enumerate(zip(top_a, top_b), start=1):
                out.append({"model_a": da_a.attrs.get("model", ""), "model_b": da_b.attrs.get("model", ""),
                            "layer": layer, "unit_type": kind, "kind": which, "rank": rank,
                            "unit_a": int(keep[rows[i]]), "unit_b": int(cols[i]), "r": float(corr[i]),
                            "mean_a": float(mean_a[i]), "mean_b": float(mean_b[i]),
                            "image_rank": image_rank, "stimulus_id_a": ids[sa], "stimulus_id_b": ids[sb],
                            "drive_a": float(drive_a[sa, rows[i]]), "drive_b": float(drive_b[sb, cols[i]])})
    return pd.DataFrame(out)


SUMMARY_METRICS = ("frac_convergent", "matched_r", "frac_convergent_images", "matched_r_held_out")


def _leave_one_seed_out(d: pd.DataFrame, value: str) -> tuple[float, np.ndarray]:
    """The mean over seed pairs and its delete-one-seed replicates (pairs without that seed)."""
    seeds = sorted(set(d["seed_a"]) | set(d["seed_b"]))
    reps = [d.loc[(d["seed_a"] != s) & (d["seed_b"] != s), value].mean() for s in seeds]
    return float(d[value].mean()), np.array(reps, float)


def matching_summary(tables) -> pd.DataFrame:
    """Trained against untrained unit matching, per architecture, trained task and layer (and
    "mean" over layers): each of :data:`SUMMARY_METRICS` (mean over seed pairs) of the trained
    seeds, of their untrained controls (the same architecture's initialisations) and trained
    minus untrained, with a 95% interval over networks: delete-one-seed jackknife of each set of
    seeds (pairs share seeds, so seeds, not pairs, are the unit), the two sets independent
    (a seed's trained network and its initialisation are alike, so this is conservative), t
    with min(m, t) - 1 df (:func:`goaldriven.compare.similarity._interval`; NaN with 2 seeds,
    which leave no pair out). ``tables``: matching tables (CSV paths or frames) of every task."""
    from ..core.registry import MODEL_KINDS
    from .similarity import _interval, _network_part

    frames = [t if isinstance(t, pd.DataFrame) else pd.read_csv(t) for t in tables]
    df = pd.concat([f for f in frames if len(f)], ignore_index=True) if frames else pd.DataFrame()
    if df.empty:
        raise InputError("matching summary: no rows in the matching tables")
    missing = [m for m in SUMMARY_METRICS if m not in df]
    if missing:
        raise InputError(f"matching summary: the matching tables have no column(s) {missing}; "
                         "run goaldriven matching again with this version")
    untrained_of = {k: spec.untrained for k, spec in MODEL_KINDS.items() if spec.untrained}
    rows = []
    for (arch, task), trained in df.groupby(["arch", "task"], sort=True):
        control = df[(df["arch"] == arch) & (df["task"] == untrained_of.get(task))]
        if control.empty:
            continue
        layers = list(trained.sort_values("layer_index")["layer"].unique())
        for layer in [*layers, "mean"]:
            pick = (lambda d: d.groupby(["seed_a", "seed_b"], as_index=False)[list(SUMMARY_METRICS)].mean()) \
                if layer == "mean" else (lambda d, layer=layer: d[d["layer"] == layer])
            t, c = pick(trained), pick(control)
            if t.empty or c.empty:
                continue
            m, n = len(set(t["seed_a"]) | set(t["seed_b"])), len(set(c["seed_a"]) | set(c["seed_b"]))
            row = {"arch": arch, "task": task, "untrained_task": untrained_of[task], "layer": layer,
                   "layer_index": -1 if layer == "mean" else int(trained.loc[trained["layer"] == layer,
                                                                             "layer_index"].iloc[0]),
                   "n_seeds": m, "n_seeds_untrained": n}
            for value in SUMMARY_METRICS:
                (tv, t_reps), (cv, c_reps) = _leave_one_seed_out(t, value), _leave_one_seed_out(c, value)
                reps = np.concatenate([t_reps - cv, tv - c_reps])
                row.update({f"{value}_trained": tv, f"{value}_untrained": cv, f"{value}_difference": tv - cv,
                            **_interval(f"{value}_difference", tv - cv, [_network_part(reps, m, n)])})
            rows.append({**row, "chance": df["chance"].iloc[0] if "chance" in df else "",
                         "resampling": "networks (delete-one jackknife over the seeds of the trained and of the "
                                       "untrained networks, independent); images as in each matching table"})
    if not rows:
        raise InputError("matching summary: no trained task with its untrained control among the tables")
    return pd.DataFrame(rows)
