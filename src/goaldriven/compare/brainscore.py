"""Brain-Score's conventions for neural predictivity: the defaults and aggregates of
``comparison.method: pls``, so that a number compares with one on the Brain-Score leaderboard.

As brainscore-vision 2.4 computes them (``CrossRegressedCorrelation`` with ``pls_regression``,
``InternalConsistency`` and ``neural_common.explained_variance``):

- mapping: PLS regression, 25 components, no scaling (:func:`goaldriven.mapping.neural_predictivity`
  with ``method="pls"``);
- splits: 10 shuffle splits, 90% of the images for training, stratified by ``object_name``
  where the stimuli have one, ``random_state=1`` (:data:`SPLIT_SEED`);
- raw score (``split_median_r``): per split, the median over neuroids of Pearson r on the
  held-out images; then the mean over splits (not the median over neuroids of each neuroid's
  mean r, goaldriven's ridge convention);
- ceiling: split-half consistency over repetitions (10 shuffle splits of the repetitions into
  halves, ``random_state=1``), Spearman-Brown corrected in each split, median over neuroids,
  mean over splits;
- ceiled score: raw² / ceiling, of the two aggregates (not a median of per-site ratios): not
  clipped, and a negative raw r is squared like a positive one, as in Brain-Score.

tests/unit/test_brainscore.py compares these with stored outputs of brainscore-vision's own code.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.model_selection import ShuffleSplit

from .mapping import columnwise_r

SPLIT_SEED = 1  # Brain-Score's random_state for image splits and repetition halves
N_SPLITS = 10
CONVENTION = ("Brain-Score (PLS-25; 10 shuffle splits 90/10, random_state=1; score = mean over splits of the "
              "median r over sites; ceiled = score² / ceiling, both aggregated before dividing)")


def split_half_consistency(trials: np.ndarray, n_splits: int = N_SPLITS, seed: int = SPLIT_SEED) -> np.ndarray:
    """(split, neuroid) Spearman-Brown corrected split-half consistency of ``trials``
    (n_reps, n_stimuli, n_neuroids; NaN for a missing repetition): in each split the
    repetitions are shuffled into halves (scikit-learn's ShuffleSplit over the repetition
    index, train half 50%), each half averaged over its repetitions, and the two halves
    correlated over stimuli per neuroid."""
    trials = np.asarray(trials, np.float64)
    n_reps = trials.shape[0]
    halves = ShuffleSplit(n_splits=n_splits, train_size=0.5, test_size=None, random_state=seed)
    out = []
    with warnings.catch_warnings():  # a stimulus with no trial in one half: NaN, left out of r
        warnings.simplefilter("ignore", RuntimeWarning)
        for a, b in halves.split(np.zeros(n_reps)):
            r = columnwise_r(np.nanmean(trials[a], axis=0), np.nanmean(trials[b], axis=0))
            out.append(2 * r / (1 + r))
    return np.array(out)


def split_median(per_split: np.ndarray) -> float:
    """Mean over splits of the median over neuroids: ``per_split`` is (split, neuroid)."""
    per_split = np.asarray(per_split, np.float64)
    if per_split.size == 0:
        return np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN split or no split: NaN
        return float(np.nanmean(np.nanmedian(per_split, axis=-1), axis=-1))


def ceiled_score(raw: float, ceiling: float) -> float:
    """Brain-Score's explained variance of an aggregate r: raw² / ceiling (NaN without a
    positive ceiling)."""
    if not np.isfinite(ceiling) or ceiling <= 0:
        return np.nan
    return float(raw ** 2 / ceiling)
