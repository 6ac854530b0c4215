"""Representational similarity analysis: RDMs, their comparison (Spearman, Pearson,
Kendall's tau-a), the RDM noise ceiling from split repetitions, and bootstrap intervals over
stimuli.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.spatial.distance import pdist, squareform
from scipy.stats import kendalltau, pearsonr, rankdata, spearmanr

from ..core.io import InputError

__all__ = ["RDM_COMPARISONS", "RankedRDM", "bootstrap_rdm_comparison", "compare_rdms", "compare_vectors",
           "kendall_tau_a", "rdm",
           "rdm_noise_ceiling", "repetition_split_rdms"]


def rdm(X: np.ndarray, metric: str = "correlation", ids=None, source: str = "") -> np.ndarray:
    """Square representational dissimilarity matrix over rows (1 - Pearson r, or Euclidean).

    A stimulus whose features are constant has no correlation distance to anything: its
    dissimilarities are NaN (not 0, "identical to everything"), every comparison leaves them
    out (as rsatoolbox does), and a warning names the stimulus (``ids[row]``, from ``source``).
    """
    if metric not in ("correlation", "euclidean"):
        raise InputError(f"unknown RDM metric {metric!r}")
    X = np.asarray(X, float)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the undefined distances: reported below
        if metric == "correlation" and X.ndim == 2 and len(X) > 1 and X.shape[1] >= BLAS_WIDTH:
            d = _correlation_distances(X)
        else:
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


# Rows at least this wide get their correlation distances from BLAS (_correlation_distances);
# narrower ones (site responses: tens to hundreds of sites, often counts whose RDMs tie
# exactly) from pdist, cheap there, whose ties BLAS's other rounding could break.
BLAS_WIDTH = 512


def _correlation_distances(X: np.ndarray) -> np.ndarray:
    """``1 - Pearson r`` of every pair of rows, as ``squareform(pdist(X, "correlation"))``, from
    one matrix product (BLAS) of the centred, unit-norm rows rather than pdist's pair-by-pair
    loop: 20-30x faster for a layer's 1,000 x 4,096 features.

    The same numbers to ~1e-15 (BLAS adds in another order), and the same ties: identical rows
    (a stimulus shown twice, as in Cowley's session 190925) are computed once, so their
    distances to every other row are equal here as in pdist, and the distance between two
    copies is pdist's own (its rounding of 1 - cos(u, u), ~1e-16). A Spearman of such RDMs is
    then the same bit for bit unless pdist ties two distinct pairs by chance. A row without a
    defined correlation (constant or not finite) gets NaN, as with pdist. Exactly symmetric."""
    keys, inverse = {}, np.empty(len(X), np.intp)
    for i, row in enumerate(np.ascontiguousarray(X + 0.0)):  # (+ 0.0: -0.0 and 0.0 are one value)
        inverse[i] = keys.setdefault(row.tobytes(), len(keys))
    first = np.unique(inverse, return_index=True)[1]  # the first row of each distinct one, in order
    unique, counts = X[first], np.bincount(inverse)
    centred = unique - unique.mean(axis=1, keepdims=True)
    unit = centred / np.sqrt(np.einsum("ij,ij->i", centred, centred))[:, None]
    upper = np.triu(1.0 - unit @ unit.T, k=1)
    d = upper + upper.T
    for k in np.flatnonzero(counts > 1):  # two copies of one row: pdist's value for them
        d[k, k] = pdist(unique[[k, k]], metric="correlation")[0]
    bad = ~np.isfinite(unit).all(axis=1)
    d[bad, :] = np.nan
    d[:, bad] = np.nan
    return d if len(unique) == len(X) else d[np.ix_(inverse, inverse)]


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """scipy's ``rankdata(x)`` (ties get their average rank; x finite), the same numbers (half
    integers, exact) from numpy's quicksort rather than a stable sort: about twice as fast."""
    order = np.argsort(x, kind="quicksort")
    xs = x[order]
    new = np.empty(len(xs), bool)
    new[:1] = True
    np.not_equal(xs[1:], xs[:-1], out=new[1:])
    dense = np.cumsum(new)
    count = np.r_[np.flatnonzero(new), len(new)]
    ranks = np.empty(len(x))
    ranks[order] = 0.5 * (count[dense] + count[dense - 1] + 1)
    return ranks


class RankedRDM:
    """One RDM kept for many Spearman comparisons with others (an area's RDM against every
    layer's): its upper triangle is ranked once, not once per comparison.
    ``spearman(other)`` is ``compare_rdms(other, this, "spearman")`` bit for bit (the same
    ranks, the same correlation of them as scipy's ``spearmanr``); with undefined (NaN)
    dissimilarities in either it falls back to that function."""

    def __init__(self, d: np.ndarray):
        d = np.asarray(d, float)
        self.iu = np.triu_indices_from(d, k=1)
        self.values = d[self.iu]
        usable = len(self.values) >= 3 and np.isfinite(self.values).all() and np.ptp(self.values) > 0
        self.ranks = _average_ranks(self.values) if usable else None

    def spearman(self, other: np.ndarray) -> float:
        x = np.asarray(other, float)[self.iu]
        if self.ranks is None or not np.isfinite(x).all():
            return compare_vectors(x, self.values, "spearman")
        if np.ptp(x) == 0:
            return float("nan")
        # The layout scipy's spearmanr gives its ranks (apply_along_axis over column_stack: an
        # F-ordered (n, 2) array), so that np.corrcoef adds in the same order.
        ranked = np.vstack((_average_ranks(x), self.ranks)).T
        return float(np.corrcoef(ranked, rowvar=False)[1, 0])


def compare_rdms(a: np.ndarray, b: np.ndarray, method: str = "spearman") -> float:
    """Correlation of the upper triangles of two square RDMs; pairs undefined (NaN) in either
    are left out."""
    iu = np.triu_indices_from(a, k=1)
    return compare_vectors(a[iu], b[iu], method)


RDM_COMPARISONS = ("spearman", "pearson", "kendall_tau_a")


def compare_vectors(x: np.ndarray, y: np.ndarray, method: str) -> float:
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
    upper = np.mean([compare_vectors(v, total / k, method) for v in vecs])
    lower = np.mean([compare_vectors(v, (total - w) / (k - 1), method) for v, w in zip(vecs, scaled)])
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
        samples[i] = compare_vectors(a[rows[keep], cols[keep]], b[rows[keep], cols[keep]], method)
    return samples


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
