"""Model-brain comparison: cross-validated linear mapping, noise ceilings, RSA.

Inputs are Brain-Score-style assemblies (``presentation`` x ``neuroid``) aligned on
``stimulus_id``; outputs are labelled xarray objects.
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr
from scipy.spatial.distance import pdist, squareform
from scipy.stats import kendalltau, norm, pearsonr, rankdata, spearmanr
from sklearn.cross_decomposition import PLSRegression
from sklearn.model_selection import KFold, ShuffleSplit, StratifiedKFold, StratifiedShuffleSplit

from .io import InputError
from .ridge import ALPHA_GRID, ridge_cv
from .stimulus_ids import align_by_stimulus_id, canonical_order

__all__ = ["ALPHA_GRID", "bootstrap_rdm_comparison", "compare_rdms", "correlation_ci", "explained_variance",
           "kendall_tau_a", "make_splits", "neural_predictivity", "rdm", "rdm_noise_ceiling",
           "repetition_split_rdms", "split_half_reliability"]


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
        rs.append(_columnwise_r(a, b))
    r = np.nanmean(np.array(rs), axis=0)
    return 2 * r / (1 + r)


def _columnwise_r(a: np.ndarray, b: np.ndarray) -> np.ndarray:
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
    r_split = np.array([_columnwise_r(pred, Y[test]) for (pred, _), (_, test) in zip(fitted, folds)])
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
         "r_pooled": ("neuroid", _columnwise_r(prediction, Y)),
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


def rdm(X: np.ndarray, metric: str = "correlation", ids=None, source: str = "") -> np.ndarray:
    """Square representational dissimilarity matrix over rows (1 - Pearson r, or Euclidean).

    A stimulus whose features are constant has no correlation distance to anything: its
    dissimilarities are NaN (not 0, "identical to everything"), every comparison leaves them
    out (as rsatoolbox does), and a warning names the stimulus (``ids[row]``, from ``source``).
    """
    if metric not in ("correlation", "euclidean"):
        raise InputError(f"unknown RDM metric {metric!r}")
    X = np.asarray(X, float)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the undefined distances: reported below
        d = squareform(pdist(X, metric=metric))
    bad = ~np.isfinite(X).all(axis=1) if X.ndim == 2 and X.size else np.zeros(len(X), bool)
    if metric == "correlation" and X.ndim == 2 and X.shape[1]:
        bad |= np.ptp(np.where(np.isfinite(X), X, 0), axis=1) == 0
    undefined = np.flatnonzero(bad)
    if len(undefined):
        names = [str(ids[i]) if ids is not None else f"row {i}" for i in undefined]
        why = "constant or non-finite features" if metric == "correlation" else "non-finite features"
        warnings.warn(f"{source + ': ' if source else ''}{len(names)} stimuli with {why} (e.g. {names[0]!r}) have "
                      "undefined dissimilarities: NaN, left out of every RDM comparison", RuntimeWarning,
                      stacklevel=2)
    np.fill_diagonal(d, 0.0)
    return d


def compare_rdms(a: np.ndarray, b: np.ndarray, method: str = "spearman") -> float:
    """Correlation of the upper triangles of two square RDMs; pairs undefined (NaN) in either
    are left out."""
    iu = np.triu_indices_from(a, k=1)
    return _compare_vectors(a[iu], b[iu], method)


RDM_COMPARISONS = ("spearman", "pearson", "kendall_tau_a")


def _compare_vectors(x: np.ndarray, y: np.ndarray, method: str) -> float:
    if method not in RDM_COMPARISONS:
        raise InputError(f"unknown RDM comparison {method!r}; choose from {RDM_COMPARISONS}")
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y)  # undefined dissimilarities (see rdm) take no part
    if not ok.all():
        x, y = x[ok], y[ok]
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:  # a constant RDM correlates with nothing
        return float("nan")
    if method == "spearman":
        return float(spearmanr(x, y)[0])
    if method == "pearson":
        return float(pearsonr(x, y)[0])
    return kendall_tau_a(x, y)


def _stacked_upper(rdms) -> np.ndarray:
    """(k, n, n) square RDMs -> (k, n (n - 1) / 2) upper triangles, with shape checks."""
    rdms = np.asarray(rdms, float)
    if rdms.ndim != 3 or rdms.shape[1] != rdms.shape[2]:
        raise InputError(f"need a stack of square RDMs (k, n, n); got shape {rdms.shape}")
    if len(rdms) < 2:
        raise InputError(f"a noise ceiling needs at least two RDMs (subjects or data splits); got {len(rdms)}")
    iu = np.triu_indices(rdms.shape[1], k=1)
    return rdms[:, iu[0], iu[1]]


def rdm_noise_ceiling(rdms, method: str = "spearman") -> tuple[float, float]:
    """Lower and upper bound of the RDM noise ceiling (Nili et al. 2014).

    ``rdms`` (k, n, n): one RDM per subject or per independent split of the repetitions.
    Upper bound: mean correlation of each RDM with the mean of all (which includes it, so
    it over-fits its noise); lower bound: with the mean of the others (leave-one-out). For
    the rank-based comparisons the RDMs are rank-transformed, and for Pearson z-scored,
    before averaging, so the mean RDM is the best-fitting one under that comparison.
    """
    vecs = _stacked_upper(rdms)
    vecs = vecs[:, np.isfinite(vecs).all(axis=0)]  # pairs undefined in any RDM (see rdm) are left out
    if method not in RDM_COMPARISONS:
        raise InputError(f"unknown RDM comparison {method!r}; choose from {RDM_COMPARISONS}")
    if method == "pearson":
        with np.errstate(invalid="ignore", divide="ignore"):
            scaled = (vecs - vecs.mean(1, keepdims=True)) / vecs.std(1, keepdims=True)
    else:
        scaled = rankdata(vecs, axis=1)
    total = scaled.sum(0)
    k = len(vecs)
    upper = np.mean([_compare_vectors(v, total / k, method) for v in vecs])
    lower = np.mean([_compare_vectors(v, (total - w) / (k - 1), method) for v, w in zip(vecs, scaled)])
    return float(lower), float(upper)


def repetition_split_rdms(trials: np.ndarray, n_groups: int = 2, metric: str = "correlation",
                          seed: int = 0) -> np.ndarray:
    """RDMs (n_groups, n_stimuli, n_stimuli) from disjoint groups of repetitions, for
    :func:`rdm_noise_ceiling` when there is one subject but repeated presentations.

    ``trials``: (n_reps, n_stimuli, n_sites), NaN-padded where a stimulus has fewer
    repetitions (as for :func:`split_half_reliability`). Each stimulus's own valid
    repetitions are shuffled and dealt out to the groups in turn, so every group gets
    some of every stimulus's trials even when the repetition counts differ.
    """
    trials = np.asarray(trials, float)
    if trials.ndim != 3:
        raise InputError(f"need trials (n_reps, n_stimuli, n_sites); got shape {trials.shape}")
    valid = ~np.isnan(trials).all(axis=2)                 # (n_reps, n_stimuli)
    counts = valid.sum(0)
    if counts.min() < n_groups:
        s = int(np.argmin(counts))
        raise InputError(f"stimulus {s} has {counts[s]} repetitions; {n_groups} groups need at least one each")
    rng = np.random.default_rng(seed)
    means = np.empty((n_groups,) + trials.shape[1:])
    for s in range(trials.shape[1]):
        reps = rng.permutation(np.flatnonzero(valid[:, s]))
        for g in range(n_groups):
            with warnings.catch_warnings():  # a site missing in a trial that others have: mean of the rest
                warnings.simplefilter("ignore", RuntimeWarning)
                means[g, s] = np.nanmean(trials[reps[g::n_groups], s], axis=0)
    return np.stack([rdm(m, metric) for m in means])


def bootstrap_rdm_comparison(a: np.ndarray, b: np.ndarray, method: str = "spearman", n_boot: int = 1000,
                             seed: int = 0) -> np.ndarray:
    """RDM comparisons over ``n_boot`` bootstrap resamples of the stimuli (for error bars).

    Stimuli are drawn with replacement and both RDMs restricted to them; the pairs of a drawn
    stimulus with another copy of itself have a dissimilarity of 0 by construction, not by
    measurement, so they are dropped (as rsatoolbox does). NaN where a resample leaves a
    constant RDM.
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape != b.shape:
        raise InputError(f"need two square RDMs of the same size; got {a.shape} and {b.shape}")
    n = len(a)
    rng = np.random.default_rng(seed)
    iu, ju = np.triu_indices(n, k=1)
    samples = np.empty(n_boot)
    for i in range(n_boot):
        pick = rng.integers(0, n, n)
        rows, cols = pick[iu], pick[ju]
        keep = rows != cols
        samples[i] = _compare_vectors(a[rows[keep], cols[keep]], b[rows[keep], cols[keep]], method)
    return samples


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
    boot = _columnwise_r(x[pick], y[pick])  # one resample per column; NaN where x or y is constant
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


def kendall_tau_a(x, y) -> float:
    """Kendall's tau-a: (concordant - discordant) / (n (n - 1) / 2); ties count as neither.

    Recommended for RDMs with tied model dissimilarities (Nili et al. 2014). Derived from
    scipy's O(n log n) tau-b: both share the numerator, only the denominators differ.
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    n0 = len(x) * (len(x) - 1) / 2
    tau_b = kendalltau(x, y, variant="b")[0]
    if not np.isfinite(tau_b):
        return float("nan")

    def tied_pairs(v):
        counts = np.unique(v, return_counts=True)[1]
        return float(np.sum(counts * (counts - 1) / 2))

    return float(tau_b * np.sqrt((n0 - tied_pairs(x)) * (n0 - tied_pairs(y))) / n0)
