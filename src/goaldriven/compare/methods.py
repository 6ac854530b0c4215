"""Scoring methods: how a layer is mapped to sites, split, ceiled and described, behind one
interface, chosen by name (``comparison.method``; names declared in goaldriven.core.options).

- :class:`Ridge` (``ridge``): goaldriven's mapping, ridge per site with the penalty chosen in
  each training fold (exact leave-one-out or GCV) from the spec's penalty grid, k folds seeded
  by the spec's seed, split-half ceilings.
- :class:`BrainScorePLS` (``pls``): Brain-Score's protocol throughout (:mod:`.brainscore`):
  PLS-25 on 90/10 shuffle splits with Brain-Score's ``random_state=1`` whatever the spec's seed
  says, its ceiling per split, its aggregates.

Each method carries its own defaults wherever it is called, so ``neural_predictivity(...,
method="pls")`` splits as Brain-Score does without the caller passing its seed.
"""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import xarray as xr
from sklearn.cross_decomposition import PLSRegression
from sklearn.model_selection import KFold, ShuffleSplit, StratifiedKFold, StratifiedShuffleSplit

from ..core.io import InputError
from ..core.options import CRITERIA, METHODS, ScoringSpec
from . import brainscore
from .mapping import _align, _pooled_predictions, columnwise_r
from .ridge import penalty_grid, ridge_cv
from ..data.stimulus_ids import align_by_stimulus_id

GOALDRIVEN = ("goaldriven (score per site: mean over folds of its r, or r of predictions pooled over folds; "
              "area score: median over sites of r²/ceiling, or signed r² without a ceiling)")
POOL_BELOW = 20  # test images per fold below which r is taken from the pooled predictions


class ScoringMethod:
    """The interface: splits, fitted predictions, ceilings and the words the scores' files use."""

    name = ""
    keeps_splits = False  # per-split r and ceilings stored, for aggregates over splits
    pools_small_folds = False  # r of pooled predictions where a fold holds few images

    def __init__(self, spec: ScoringSpec | None = None):
        self.spec = spec or ScoringSpec(method=self.name)

    def split_seed(self, seed: int | None = None) -> int:
        return self.spec.seed if seed is None else seed

    def splits(self, n_splits: int, n: int, labels=None, seed: int | None = None) -> list:
        raise NotImplementedError

    def fit_predict(self, X, Y, folds, on_fold=None, **options) -> list:
        """[(held-out predictions, penalty per site or NaN)] per fold; ``on_fold()`` after each."""
        raise NotImplementedError

    def ceilings(self, reps, n_splits: int):
        """(per-site ceiling, per-split ceilings or None) from (reps, stimuli, sites) trials."""
        raise NotImplementedError

    def convention(self, n_splits: int) -> str:
        raise NotImplementedError

    def describe(self, r_pooled: bool) -> dict:
        raise NotImplementedError


class Ridge(ScoringMethod):
    name = "ridge"
    pools_small_folds = True

    def splits(self, n_splits, n, labels=None, seed=None):
        cv = StratifiedKFold if labels is not None else KFold
        return list(cv(n_splits, shuffle=True, random_state=self.split_seed(seed)).split(np.zeros(n), labels))

    def fit_predict(self, X, Y, folds, alphas=None, on_fold=None, **options):
        s = self.spec  # explicit alphas are absolute; else the spec's grid, relative to the variance
        return ridge_cv(X, Y, folds, alphas, criterion=s.criterion,
                        grid=penalty_grid(s.alpha_low, s.alpha_high, s.alpha_steps), on_fold=on_fold, **options)

    def ceilings(self, reps, n_splits):
        from .mapping import split_half_reliability

        return split_half_reliability(reps, seed=self.spec.seed), None

    def convention(self, n_splits):
        return GOALDRIVEN

    def describe(self, r_pooled):
        return {"mapping": f"ridge (alpha per site by {CRITERIA[self.spec.criterion]}; folds stratified by "
                           "object_name where present), per recording session",
                "r_estimator": ("r of the held-out predictions pooled over the folds (a fold holds fewer than "
                                f"{POOL_BELOW} images)") if r_pooled else "mean over folds of each fold's r",
                "criterion": self.spec.criterion,
                "ceiling": "split-half over repetitions, Spearman-Brown corrected; NaN without single trials"}


class BrainScorePLS(ScoringMethod):
    name = "pls"
    keeps_splits = True

    def split_seed(self, seed=None):
        return brainscore.SPLIT_SEED  # Brain-Score's random_state, whatever comparison.seed says

    def splits(self, n_splits, n, labels=None, seed=None):
        cv = StratifiedShuffleSplit if labels is not None else ShuffleSplit
        return list(cv(n_splits=n_splits, train_size=0.9, test_size=0.1,
                       random_state=self.split_seed(seed)).split(np.zeros(n), labels))

    def fit_predict(self, X, Y, folds, on_fold=None, **options):
        # float64 as in Brain-Score, converted once for all folds
        X, Y = np.asarray(X, np.float64), np.asarray(Y, np.float64)
        out = []
        for train, test in folds:
            out.append((_pls_predict(X[train], Y[train], X[test]), np.full(Y.shape[1], np.nan)))
            if on_fold is not None:
                on_fold()
        return out

    def ceilings(self, reps, n_splits):
        per_split = brainscore.split_half_consistency(reps, n_splits)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a site without trials: NaN
            return np.nanmean(per_split, axis=0), per_split

    def convention(self, n_splits):
        if n_splits == brainscore.N_SPLITS:
            return brainscore.CONVENTION
        return f"{brainscore.CONVENTION}; here {n_splits} splits, not Brain-Score's {brainscore.N_SPLITS}"

    def describe(self, r_pooled):
        return {"mapping": "PLS, 25 components, no scaling; 90/10 shuffle splits (random_state=1) stratified "
                           "by object_name where present, per recording session",
                "r_estimator": "mean over folds of each fold's r",
                "criterion": "",
                "ceiling": "Brain-Score's split-half consistency (10 splits of the repetitions, random_state=1, "
                           "Spearman-Brown per split); per site its mean over splits; NaN without single trials"}


def neural_predictivity(features: xr.DataArray, responses: xr.DataArray, method="ridge",
                        splits=10, alphas=None, seed: int | None = None, stratify_coord: str = "object_name", *,
                        backend: str = "auto", device=None, dtype: str = "float32",
                        criterion: str | None = None, on_fold=None) -> xr.Dataset:
    """Cross-validated prediction of every neuroid from the features; Pearson r on held-out stimuli.

    ``method``: a name, a ScoringSpec or a :class:`ScoringMethod`, each with its own defaults.
    ``"ridge"``: centred features, ridge penalty chosen per neuroid inside each training fold by
    exact efficient leave-one-out (``criterion="loo"``) or generalised cross-validation
    (``"gcv"``) (:mod:`goaldriven.compare.ridge`; ``backend``, ``device``, ``dtype`` go to it),
    k-fold splits (stratified by ``stratify_coord``) seeded by ``seed`` (default: the spec's, 0).
    ``"pls"``: Brain-Score's protocol (PLS, 25 components, ``scale=False``, shuffle splits with
    90% training data, stratified, its ``random_state=1`` whatever ``seed`` says), so numbers
    compare with Brain-Score's.
    ``splits``: a number of splits or an explicit list of (train_idx, test_idx) pairs.
    ``on_fold``: called with no argument after each fold is fitted (progress reports).

    Returns per-neuroid ``r`` (mean over splits), ``r_split`` and ``alpha`` (NaN for PLS),
    ``prediction`` (each stimulus's held-out prediction, pooled over the splits) and
    ``r_pooled`` (r of those pooled predictions: the estimate to use when a split holds too
    few stimuli for its own r); the attrs hold ``median_r`` (median over neuroids of ``r``),
    ``split_median_r`` (mean over splits of the per-split median: Brain-Score's order of
    aggregation) and ``min_test_images``.
    """
    m = scoring_method(method)
    if criterion is not None and criterion != m.spec.criterion:
        m = scoring_method(replace(m.spec, criterion=criterion))
    if isinstance(splits, int):
        features, responses = _align(features, responses)
    else:  # explicit folds index the responses' rows as given
        responses, features = align_by_stimulus_id(responses, features, "responses", "features")
    labels = responses[stratify_coord].values if stratify_coord in responses.coords else (
        features[stratify_coord].values if stratify_coord in features.coords else None)
    X = features.transpose("presentation", "neuroid").values
    Y = responses.transpose("presentation", "neuroid").values
    seed = m.split_seed(seed)
    folds = (m.splits(splits, len(X), labels, seed) if isinstance(splits, int)
             else [(np.asarray(tr), np.asarray(te)) for tr, te in splits])
    options = {"alphas": alphas, "backend": backend, "device": device, "dtype": dtype} if m.name == "ridge" else {}
    fitted = m.fit_predict(X, Y, folds, on_fold=on_fold, **options)
    r_split = np.array([columnwise_r(pred, Y[test]) for (pred, _), (_, test) in zip(fitted, folds)])
    alpha_split = np.array([alpha for _, alpha in fitted], dtype=np.float64)
    prediction = _pooled_predictions(fitted, folds, Y.shape)
    neuroid_coords = {k: ("neuroid", v.values) for k, v in responses.coords.items() if v.dims == ("neuroid",)}
    with warnings.catch_warnings():  # a constant neuroid has no r in any split: NaN, by design
        warnings.simplefilter("ignore", RuntimeWarning)
        r_mean = np.nanmean(r_split, axis=0)
        summary = {"median_r": float(np.nanmedian(r_mean)),
                   "split_median_r": float(np.nanmean(np.nanmedian(r_split, axis=1)))}
    attrs = {"method": m.name, "n_splits": len(folds), "seed": seed,
             "min_test_images": int(min(len(test) for _, test in folds)), **summary}
    if m.name == "ridge":
        attrs.update(dtype=dtype, criterion=m.spec.criterion)
    return xr.Dataset(
        {"r": ("neuroid", r_mean), "r_split": (("split", "neuroid"), r_split),
         "alpha": (("split", "neuroid"), alpha_split),
         "r_pooled": ("neuroid", columnwise_r(prediction, Y)),
         "prediction": (("presentation", "neuroid"), prediction)},
        coords={**neuroid_coords, "stimulus_id": ("presentation", responses["stimulus_id"].values)},
        attrs=attrs)


def _pls_predict(X_train, Y_train, X_test) -> np.ndarray:
    """Brain-Score's PLS regression: 25 components (fewer if the data cannot hold them), no scaling."""
    n_comp = min(25, len(X_train) - 1, X_train.shape[1])
    model = PLSRegression(n_components=n_comp, scale=False).fit(X_train, Y_train)
    return model.predict(X_test)


METHOD_CLASSES = {"ridge": Ridge, "pls": BrainScorePLS}


def scoring_method(method: str | ScoringMethod | ScoringSpec = "ridge") -> ScoringMethod:
    """The method object of a name (its defaults), a spec (its settings) or an object."""
    if isinstance(method, ScoringMethod):
        return method
    spec = method if isinstance(method, ScoringSpec) else None
    name = spec.method if spec is not None else method
    if name not in METHODS:
        raise InputError(f"unknown comparison method {name!r}; choose from {tuple(METHODS)}")
    return METHOD_CLASSES[name](spec)
