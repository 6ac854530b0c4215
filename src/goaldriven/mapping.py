"""Site predictivity: a cross-validated linear mapping from a layer to each recorded site,
Pearson r on held-out stimuli, split-half noise ceilings and explained variance; the
correlation interval the figures use across models.

Inputs are Brain-Score-style assemblies (``presentation`` x ``neuroid``) aligned on
``stimulus_id``; outputs are labelled xarray objects. RSA is in :mod:`goaldriven.rsa`.
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr
from scipy.stats import norm
from sklearn.cross_decomposition import PLSRegression
from sklearn.model_selection import KFold, ShuffleSplit, StratifiedKFold, StratifiedShuffleSplit

from .io import InputError
from .ridge import ALPHA_GRID, ridge_cv
from .stimulus_ids import align_by_stimulus_id, canonical_order

__all__ = ["ALPHA_GRID", "columnwise_r", "correlation_ci", "explained_variance", "make_splits", "neural_predictivity",
           "split_half_reliability"]


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


def make_splits(splits, n: int, labels=None, seed: int = 0, method: str = "ridge"):
    """(train, test) index pairs: k-fold for ridge, 90/10 shuffle splits for PLS (Brain-Score);
    stratified by ``labels`` when given; an explicit list of pairs is passed through."""
    if not isinstance(splits, int):
        return [(np.asarray(tr), np.asarray(te)) for tr, te in splits]
    if method == "pls":  # Brain-Score's protocol: shuffle splits with 90% for training
        cv = (StratifiedShuffleSplit if labels is not None else ShuffleSplit)(
            n_splits=splits, train_size=0.9, test_size=0.1, random_state=seed)
        return list(cv.split(np.zeros(n), labels))
    if labels is not None:
        return list(StratifiedKFold(splits, shuffle=True, random_state=seed).split(np.zeros(n), labels))
    return list(KFold(splits, shuffle=True, random_state=seed).split(np.zeros(n)))


def neural_predictivity(features: xr.DataArray, responses: xr.DataArray, method: str = "ridge",
                        splits=10, alphas=None, seed: int = 0, stratify_coord: str = "object_name", *,
                        backend: str = "auto", device=None, dtype: str = "float32",
                        criterion: str = "loo") -> xr.Dataset:
    """Cross-validated prediction of every neuroid from the features; Pearson r on held-out stimuli.

    ``method="ridge"``: centred features, ridge penalty chosen per neuroid inside each training
    fold by exact efficient leave-one-out (``criterion="loo"``) or generalised cross-validation
    (``"gcv"``) (:mod:`goaldriven.ridge`; ``backend``, ``device``, ``dtype`` and ``criterion``
    go to it), k-fold splits (stratified by ``stratify_coord``).
    ``method="pls"``: Brain-Score's protocol (PLS, 25 components, ``scale=False``, shuffle splits
    with 90% training data, stratified), so numbers compare with Brain-Score's.
    ``splits``: a number of splits or an explicit list of (train_idx, test_idx) pairs.

    Returns per-neuroid ``r`` (mean over splits), ``r_split`` and ``alpha`` (NaN for PLS),
    ``prediction`` (each stimulus's held-out prediction, pooled over the splits) and
    ``r_pooled`` (r of those pooled predictions: the estimate to use when a split holds too
    few stimuli for its own r); the attrs hold ``median_r`` (median over neuroids of ``r``),
    ``split_median_r`` (mean over splits of the per-split median: Brain-Score's order of
    aggregation) and ``min_test_images``.
    """
    if method not in ("ridge", "pls"):
        raise InputError(f"unknown method {method!r}; choose 'ridge' or 'pls'")
    if isinstance(splits, int):
        features, responses = _align(features, responses)
    else:  # explicit folds index the responses' rows as given
        responses, features = align_by_stimulus_id(responses, features, "responses", "features")
    labels = responses[stratify_coord].values if stratify_coord in responses.coords else (
        features[stratify_coord].values if stratify_coord in features.coords else None)
    X = features.transpose("presentation", "neuroid").values
    Y = responses.transpose("presentation", "neuroid").values
    folds = make_splits(splits, len(X), labels, seed, method)

    if method == "pls":  # float64 as in Brain-Score, converted once for all folds
        X, Y = X.astype(np.float64), Y.astype(np.float64)
        fitted = [(_pls_predict(X[train], Y[train], X[test]), np.full(Y.shape[1], np.nan)) for train, test in folds]
    else:
        fitted = ridge_cv(X, Y, folds, alphas, backend=backend, device=device, dtype=dtype, criterion=criterion)
    r_split = np.array([columnwise_r(pred, Y[test]) for (pred, _), (_, test) in zip(fitted, folds)])
    alpha_split = np.array([alpha for _, alpha in fitted], dtype=np.float64)
    prediction = _pooled_predictions(fitted, folds, Y.shape)
    neuroid_coords = {k: ("neuroid", v.values) for k, v in responses.coords.items() if v.dims == ("neuroid",)}
    with warnings.catch_warnings():  # a constant neuroid has no r in any split: NaN, by design
        warnings.simplefilter("ignore", RuntimeWarning)
        r_mean = np.nanmean(r_split, axis=0)
        summary = {"median_r": float(np.nanmedian(r_mean)),
                   "split_median_r": float(np.nanmean(np.nanmedian(r_split, axis=1)))}
    attrs = {"method": method, "n_splits": len(folds), "seed": seed,
             "min_test_images": int(min(len(test) for _, test in folds)), **summary}
    if method == "ridge":
        attrs.update(dtype=dtype, criterion=criterion)
    return xr.Dataset(
        {"r": ("neuroid", r_mean), "r_split": (("split", "neuroid"), r_split),
         "alpha": (("split", "neuroid"), alpha_split),
         "r_pooled": ("neuroid", columnwise_r(prediction, Y)),
         "prediction": (("presentation", "neuroid"), prediction)},
        coords={**neuroid_coords, "stimulus_id": ("presentation", responses["stimulus_id"].values)},
        attrs=attrs)


def _pooled_predictions(fitted, folds, shape) -> np.ndarray:
    """Each stimulus's held-out prediction, averaged over the splits that held it out (k-fold:
    exactly one); NaN for a stimulus no split held out."""
    total, count = np.zeros(shape), np.zeros(shape[0])
    for (pred, _), (_, test) in zip(fitted, folds):
        np.add.at(total, test, np.asarray(pred, np.float64))
        np.add.at(count, test, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / count[:, None]


def _pls_predict(X_train, Y_train, X_test) -> np.ndarray:
    """Brain-Score's PLS regression: 25 components (fewer if the data cannot hold them), no scaling."""
    n_comp = min(25, len(X_train) - 1, X_train.shape[1])
    model = PLSRegression(n_components=n_comp, scale=False).fit(X_train, Y_train)
    return model.predict(X_test)


def correlation_ci(x, y, n_boot: int = 10000, seed: int = 0, level: float = 0.95) -> dict:
    """Pearson r across models (e.g. categorisation performance vs IT predictivity) with a
    confidence interval: percentile bootstrap over models, or, with fewer than 4 models (too
    few distinct resamples for a bootstrap), the Fisher-z interval, which is all of (-1, 1)
    at n = 3. Returns ``dict(r, low, high, n, method)``; pairs with a NaN are dropped.
    """
    x, y = np.asarray(x, float).ravel(), np.asarray(y, float).ravel()
    if x.shape != y.shape:
        raise InputError(f"x and y differ in length: {len(x)} and {len(y)}")
    ok = np.isfinite(x) & np.isfinite(y)
    x, y, n = x[ok], y[ok], int(ok.sum())
    if n < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        raise InputError(f"a correlation needs at least 3 finite pairs with varying x and y; got n = {n}")
    r = float(np.corrcoef(x, y)[0, 1])
    tail = (1 - level) / 2
    if n < 4:
        low, high = _fisher_interval(r, n, level)
        return {"r": r, "low": low, "high": high, "n": n, "method": "fisher-z"}
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, n, (n_boot, n)).T
    boot = columnwise_r(x[pick], y[pick])  # one resample per column; NaN where x or y is constant
    low, high = np.nanquantile(boot, [tail, 1 - tail])
    return {"r": r, "low": float(low), "high": float(high), "n": n, "method": "bootstrap"}


def _fisher_interval(r: float, n: int, level: float) -> tuple[float, float]:
    """Fisher-z confidence interval of a Pearson r from n pairs; (-1, 1) for n <= 3, where
    the standard error of z, 1 / sqrt(n - 3), is unbounded."""
    if n <= 3:
        return -1.0, 1.0
    half = norm.ppf((1 + level) / 2) / np.sqrt(n - 3)
    z = np.arctanh(np.clip(r, -1 + 1e-12, 1 - 1e-12))
    return float(np.tanh(z - half)), float(np.tanh(z + half))
