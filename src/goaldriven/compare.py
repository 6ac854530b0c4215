"""Model-brain comparison: cross-validated linear mapping, noise ceilings, RSA.

Inputs are Brain-Score-style assemblies (``presentation`` x ``neuroid``) aligned on
``stimulus_id``; outputs are labelled xarray objects.
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr
from scipy.spatial.distance import pdist, squareform
from scipy.stats import kendalltau, pearsonr, spearmanr
from sklearn.cross_decomposition import PLSRegression
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import KFold, ShuffleSplit, StratifiedKFold, StratifiedShuffleSplit

# Penalties relative to the features' total variance (the trace of the centred Gram matrix
# per sample), so that the grid means the same for narrow and wide layers and for any units.
# Features are centred but not standardised: standardising would blow near-silent units up to
# the size of active ones and let their noise dominate. Half-decade steps.
ALPHA_GRID = np.logspace(-3, 2, 11)


def split_half_reliability(trials: np.ndarray, n_splits: int = 10, seed: int = 0) -> np.ndarray:
    """Spearman-Brown corrected split-half reliability per site.

    ``trials``: (n_reps, n_stimuli, n_sites), NaN for missing repetitions. Returns the
    reliability of the mean over all repetitions, i.e. the fraction of its variance across
    stimuli that is explainable (the ceiling for r**2 of any model).
    """
    rng = np.random.default_rng(seed)
    n_reps = trials.shape[0]
    if n_reps < 2:
        raise ValueError("split-half reliability needs at least two repetitions")
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
    """Pearson r between matching columns, ignoring rows with a NaN in either."""
    ok = ~(np.isnan(a) | np.isnan(b))
    out = np.full(a.shape[1], np.nan)
    for j in range(a.shape[1]):
        x, y = a[ok[:, j], j], b[ok[:, j], j]
        if len(x) > 2 and x.std() > 0 and y.std() > 0:
            out[j] = np.corrcoef(x, y)[0, 1]
    return out


def explained_variance(r, ceiling) -> np.ndarray:
    """Ceiling-normalised explained variance, sign(r) r**2 / ceiling, clipped to [0, 1]."""
    r, ceiling = np.asarray(r, float), np.asarray(ceiling, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        ev = np.clip(np.sign(r) * r ** 2 / ceiling, 0, 1)
    return np.where(np.isfinite(ceiling) & (ceiling > 0), ev, np.nan)


def _align(features: xr.DataArray, responses: xr.DataArray):
    ids_f, ids_r = features["stimulus_id"].values, responses["stimulus_id"].values
    for name, ids in (("features", ids_f), ("responses", ids_r)):
        if len(set(ids.tolist())) != len(ids):
            raise ValueError(f"{name} have duplicate stimulus_id values: average repetitions first")
    if set(ids_f.tolist()) != set(ids_r.tolist()):
        only = set(ids_f.tolist()) ^ set(ids_r.tolist())
        raise ValueError(f"features and responses cover different stimuli ({len(only)} differ, e.g. {sorted(only)[0]})")
    where = {s: i for i, s in enumerate(ids_f)}
    return features.isel(presentation=[where[s] for s in ids_r]), responses


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
                        splits=10, alphas=None, seed: int = 0, stratify_coord: str = "object_name") -> xr.Dataset:
    """Cross-validated prediction of every neuroid from the features; Pearson r on held-out stimuli.

    ``method="ridge"``: centred features, ridge penalty chosen per neuroid by efficient
    leave-one-out inside each training fold, k-fold splits (stratified by ``stratify_coord``).
    ``method="pls"``: Brain-Score's protocol (PLS, 25 components, ``scale=False``, shuffle splits
    with 90% training data, stratified), so numbers compare with Brain-Score's.
    """
    if method not in ("ridge", "pls"):
        raise ValueError(f"unknown method {method!r}; choose 'ridge' or 'pls'")
    features, responses = _align(features, responses)
    labels = responses[stratify_coord].values if stratify_coord in responses.coords else (
        features[stratify_coord].values if stratify_coord in features.coords else None)
    X = features.transpose("presentation", "neuroid").values.astype(np.float64)
    Y = responses.transpose("presentation", "neuroid").values.astype(np.float64)
    folds = make_splits(splits, len(X), labels, seed, method)

    r_split, alpha_split = [], []
    for train, test in folds:
        if method == "pls":
            n_comp = min(25, len(train) - 1, X.shape[1])
            pred = PLSRegression(n_components=n_comp, scale=False).fit(X[train], Y[train]).predict(X[test])
            alpha_split.append(np.full(Y.shape[1], np.nan))
        else:
            centre = X[train].mean(axis=0)
            grid = np.asarray(alphas) if alphas is not None else ALPHA_GRID * X[train].var(axis=0).sum()
            model = RidgeCV(alphas=grid, alpha_per_target=True).fit(X[train] - centre, Y[train])
            pred = model.predict(X[test] - centre)
            alpha_split.append(np.broadcast_to(model.alpha_, (Y.shape[1],)))
        r_split.append(_columnwise_r(pred, Y[test]))
    neuroid_coords = {k: ("neuroid", v.values) for k, v in responses.coords.items() if v.dims == ("neuroid",)}
    with warnings.catch_warnings():  # a constant neuroid has no r in any split: NaN, by design
        warnings.simplefilter("ignore", RuntimeWarning)
        r_mean = np.nanmean(r_split, axis=0)
    return xr.Dataset(
        {"r": ("neuroid", r_mean), "r_split": (("split", "neuroid"), np.array(r_split)),
         "alpha": (("split", "neuroid"), np.array(alpha_split))},
        coords=neuroid_coords, attrs={"method": method, "n_splits": len(folds), "seed": seed})


def rdm(X: np.ndarray, metric: str = "correlation") -> np.ndarray:
    """Square representational dissimilarity matrix over rows (1 - Pearson r, or Euclidean)."""
    if metric not in ("correlation", "euclidean"):
        raise ValueError(f"unknown RDM metric {metric!r}")
    return squareform(np.nan_to_num(pdist(np.asarray(X, float), metric=metric)))


def compare_rdms(a: np.ndarray, b: np.ndarray, method: str = "spearman") -> float:
    """Correlation of the upper triangles of two square RDMs."""
    iu = np.triu_indices_from(a, k=1)
    x, y = a[iu], b[iu]
    if method == "spearman":
        return float(spearmanr(x, y)[0])
    if method == "pearson":
        return float(pearsonr(x, y)[0])
    if method == "kendall_tau_a":
        return kendall_tau_a(x, y)
    raise ValueError(f"unknown RDM comparison {method!r}")


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
