"""Site predictivity's pieces: Pearson r per site, split-half noise ceilings, explained
variance, rows aligned by stimulus id, held-out predictions pooled over folds. The
cross-validated mapping itself is
:func:`goaldriven.compare.methods.neural_predictivity`.

Inputs are Brain-Score-style assemblies (``presentation`` x ``neuroid``) aligned on
``stimulus_id``; outputs are labelled xarray objects. RSA is in :mod:`goaldriven.rsa`.
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from ..core.io import InputError
from ..data.stimulus_ids import align_by_stimulus_id, canonical_order

__all__ = ["columnwise_r", "explained_variance", "split_half_reliability"]


def split_half_reliability(trials: np.ndarray, n_splits: int = 10, seed: int = 0) -> np.ndarray:
    """Spearman-Brown corrected split-half reliability per site.

    ``trials``: (n_reps, n_stimuli, n_sites), NaN for missing repetitions. Returns the
    reliability of the mean over all repetitions, i.e. the fraction of its variance across
    stimuli that is explainable (the ceiling for r**2 of any model).
    """
    rng = np.random.default_rng(seed)
    n_reps = trials.shape[0]
    if n_reps < 2:
        raise InputError("split-half reliability needs at least two repetitions")
    rs = []
    for _ in range(n_splits):
        perm = rng.permutation(n_reps)
        with warnings.catch_warnings():  # a stimulus with no trial in one half gives NaN: expected
            warnings.simplefilter("ignore", RuntimeWarning)
            a = np.nanmean(trials[perm[: n_reps // 2]], axis=0)
            b = np.nanmean(trials[perm[n_reps // 2:]], axis=0)
        rs.append(columnwise_r(a, b))
    r = np.nanmean(np.array(rs), axis=0)
    return 2 * r / (1 + r)


def columnwise_r(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson r between matching columns, ignoring rows with a NaN in either; NaN for a
    column with fewer than 3 such rows or no variance. Vectorised over columns: it runs once
    per fold for hundreds of sites, so a loop would cost as much as a GPU ridge fit."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    ok = ~(np.isnan(a) | np.isnan(b))
    n = ok.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        da = np.where(ok, a - np.where(ok, a, 0).sum(axis=0) / n, 0)
        db = np.where(ok, b - np.where(ok, b, 0).sum(axis=0) / n, 0)
        r = (da * db).sum(axis=0) / np.sqrt((da ** 2).sum(axis=0) * (db ** 2).sum(axis=0))
    return np.where((n > 2) & np.isfinite(r), r, np.nan)


def explained_variance(r, ceiling) -> np.ndarray:
    """Ceiling-normalised explained variance, sign(r) r**2 / ceiling, clipped to [0, 1]."""
    r, ceiling = np.asarray(r, float), np.asarray(ceiling, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        ev = np.clip(np.sign(r) * r ** 2 / ceiling, 0, 1)
    return np.where(np.isfinite(ceiling) & (ceiling > 0), ev, np.nan)


def _align(features: xr.DataArray, responses: xr.DataArray, features_source: str = "features",
           responses_source: str = "responses"):
    """Both arrays on the same stimuli, rows paired by ``stimulus_id`` and put in the canonical
    order (sorted ids), so the cross-validation folds are a function of the ids, not of row order."""
    responses, features = align_by_stimulus_id(responses, features, responses_source, features_source)
    order = canonical_order(responses["stimulus_id"].values)
    return features.isel(presentation=order), responses.isel(presentation=order)


def _pooled_predictions(fitted, folds, shape) -> np.ndarray:
    """Each stimulus's held-out prediction, averaged over the splits that held it out (k-fold:
    exactly one); NaN for a stimulus no split held out."""
    total, count = np.zeros(shape), np.zeros(shape[0])
    for (pred, _), (_, test) in zip(fitted, folds):
        np.add.at(total, test, np.asarray(pred, np.float64))
        np.add.at(count, test, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / count[:, None]
