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
                   unit: str = UNIT_DEFAULT) -> pd.DataFrame:
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
    """
    from ..models.features import layer_order

    _check_unit(unit)
    rows = []
    for (arch, task), by_seed in seeds_by_model(feature_paths).items():
        first = next(iter(by_seed.values()))
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
                rows.append({"arch": arch, "task": task, "layer": layer, "layer_index": index, "seed_a": a,
                             "seed_b": b, "unit": kind, "n_units": units[b][0].shape[1], "n_matched": len(keep),
                             "matched_r": float(np.mean(m["correlation"])),
                             "chance_r": float(np.mean(m["chance"])),
                             "n_convergent": int(m["convergent"].sum()),
                             "frac_convergent": float(m["convergent"].mean()),
                             "cross_seed_r": float(np.nanmedian(r))})
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
