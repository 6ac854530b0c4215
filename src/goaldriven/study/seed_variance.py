"""Does a brain score depend as much on the seed as on the architecture (Dong, Wang & Hu 2018)?

One score per (architecture, seed); the seeds are a random sample. With the architectures
studied as the ones we care about (fixed effects) the seed share is

    theta = sigma2_seed / (sigma2_seed + V_arch),  V_arch = sum_a (mu_a - mu)**2 / (k - 1),

estimated from the one-way ANOVA (V_arch = max(0, (MS_B - MS_W) / n), sigma2 = MS_W) with an
exact interval: F = MS_B / MS_W is noncentral F(k - 1, k(n - 1), lambda), lambda = n (k - 1)
V_arch / sigma2, and theta = 1 / (1 + lambda / (n (k - 1))) is monotone in lambda, so the
interval for lambda from inverting the noncentral F CDF maps to one for theta. The raw variance
of the architecture means (the former estimator) contains sigma2 / n and so overstated the
architecture share; its percentile bootstrap over 3 seeds covered the truth far below 95%.

Two questions, both in every row of :func:`seed_variance`'s table (``share_fixed*``,
``share_random*``; the point estimate is the same, the intervals differ):

* fixed: do seeds move this score as much as THESE architectures do? (theta above, exact
  noncentral-F interval);
* random: do seeds move it as much as architectures drawn from a population of architectures
  do? (sigma2_seed / (sigma2_seed + sigma2_arch), 1 - ICC(1), F-based interval; wider, since
  k architectures are a small sample of that population).

``reading_*`` says what the interval supports: seeds dominate only if its lower bound is
above 0.5, architecture dominates only if its upper bound is below 0.5.

Tests and multiplicity: ``p_value`` is the F test of "no architecture effect" (the same test
for both questions); ``p_adjusted`` is Holm's adjustment over every row of the table (one
family: every task x metric). Rankings are tested pair by pair over all seed pairs
(Mann-Whitney, exact), not by pairing "seed i of every architecture", which is arbitrary;
their p-values are Holm-adjusted over every pair of every row (a second family), and
``n_pairs_robust`` counts the pairs whose adjusted p is below 0.05.
"""

from __future__ import annotations

import logging
import math
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats
from scipy.optimize import brentq

from ..core.io import InputError
from .statistics import holm

log = logging.getLogger(__name__)

# Smallest seeds per architecture for which an exact two-sided Mann-Whitney p can go below 0.05:
# with n seeds each, the smallest p is 2 / C(2n, n) (0.10 at n = 3, 0.029 at n = 4).
MIN_SEEDS_FOR_RANKING = next(n for n in range(2, 50) if 2 / math.comb(2 * n, n) < 0.05)


def min_seeds_for_ranking(n_tests: int = 1, alpha: float = 0.05) -> int:
    """Seeds per architecture for which the smallest exact two-sided Mann-Whitney p can pass
    Holm's first step in a family of ``n_tests`` ranking pairs (4 for one test)."""
    return next(n for n in range(2, 200) if 2 / math.comb(2 * n, n) * max(n_tests, 1) < alpha)


QUESTION = {"fixed": "do seeds move this score as much as these architectures do (architectures fixed)",
            "random": "do seeds move this score as much as architectures drawn from a population of "
                      "architectures do (architectures random)"}


def reading(low: float, high: float) -> str:
    """What an interval of the seed share supports, and no more."""
    if not (np.isfinite(low) and np.isfinite(high)):
        return "undefined (no spread among the scores)"
    if low > 0.5:
        return "seeds dominate (interval above 0.5)"
    if high < 0.5:
        return "architecture dominates (interval below 0.5)"
    return "cannot separate seed from architecture (interval contains 0.5)"


def _groups(values, groups) -> tuple[list[str], list[np.ndarray]]:
    values = np.asarray(values, float)
    groups = np.asarray(groups).astype(str)
    if values.shape != groups.shape or values.ndim != 1:
        raise InputError(f"seed_share: values {values.shape} and groups {groups.shape} must be 1-d and alike")
    if not np.isfinite(values).all():
        raise InputError(f"seed_share: {int((~np.isfinite(values)).sum())} score(s) are NaN or infinite")
    names = list(dict.fromkeys(groups.tolist()))
    out = [values[groups == g] for g in names]
    if len(names) < 2:
        raise InputError(f"seed_share: needs at least 2 architectures, got {len(names)} ({names})")
    few = {g: len(v) for g, v in zip(names, out) if len(v) < 2}
    if few:
        raise InputError(f"seed_share: needs at least 2 seeds of every architecture; seeds per architecture {few}")
    sizes = {g: len(v) for g, v in zip(names, out)}
    if len(set(sizes.values())) > 1:  # the exact interval needs a balanced design
        raise InputError(f"seed_share: unbalanced design, seeds per architecture {sizes}; "
                         "use the same number of seeds for every architecture")
    return names, out


def _lambda_at(F: float, df1: int, df2: int, q: float) -> float:
    """lambda with P(F' <= F | lambda) = q (the CDF falls as lambda grows); 0 if already below."""
    f = lambda lam: stats.ncf.cdf(F, df1, df2, lam) - q if lam > 0 else stats.f.cdf(F, df1, df2) - q  # noqa: E731
    if f(0.0) <= 0:
        return 0.0
    hi = max(10.0, 2 * F * df1)
    while f(hi) > 0:
        hi *= 2
    return brentq(f, 0.0, hi, xtol=1e-10)


def seed_share(values, groups, level: float = 0.95, effects: str = "fixed") -> dict:
    """Seed share of a brain score's variance with its interval (module docstring).

    ``values``: one score per (architecture, seed); ``groups``: the architecture of each. A
    balanced design (same seeds per architecture, at least 2, at least 2 architectures) is
    required, else :class:`InputError`. ``effects="fixed"`` (default): architectures as
    fixed effects, exact noncentral-F interval. ``effects="random"``: architectures as a
    sample of a population, the F-based interval of 1 - ICC(1) (Shrout & Fleiss 1979).
    Returns share, low, high, the ANOVA terms, the p of the F test of "no architecture effect"
    (``p_value``, the same for both) and the interval's name.
    """
    if effects not in ("fixed", "random"):
        raise InputError(f"seed_share: effects must be 'fixed' or 'random', not {effects!r}")
    names, g = _groups(values, groups)
    k, n = len(g), len(g[0])
    means = np.array([v.mean() for v in g])
    ms_b = n * np.sum((means - means.mean()) ** 2) / (k - 1)
    ms_w = sum(np.sum((v - v.mean()) ** 2) for v in g) / (k * (n - 1))
    df1, df2 = k - 1, k * (n - 1)
    v_arch = max(0.0, (ms_b - ms_w) / n)
    out = {"n_archs": k, "n_seeds": n, "ms_between": float(ms_b), "ms_within": float(ms_w),
           "seed_var": float(ms_w), "arch_var": float(v_arch)}
    if ms_w <= 0:  # no seed spread at all: share 0 if the architectures differ, undefined if not
        share = 0.0 if ms_b > 0 else np.nan
        return {**out, "share": share, "low": share, "high": share, "F": np.inf,
                "p_value": 0.0 if ms_b > 0 else np.nan, "interval": "degenerate"}
    F = ms_b / ms_w
    share = ms_w / (ms_w + v_arch)
    alpha = 1 - level
    if effects == "fixed":
        to_theta = lambda lam: 1.0 / (1.0 + lam / (n * (k - 1)))  # noqa: E731
        low = to_theta(_lambda_at(F, df1, df2, alpha / 2))
        high = to_theta(_lambda_at(F, df1, df2, 1 - alpha / 2))
        name = f"exact {level:.0%} (noncentral F, architectures fixed)"
    else:
        f_low, f_high = F / stats.f.ppf(1 - alpha / 2, df1, df2), F / stats.f.ppf(alpha / 2, df1, df2)
        icc = lambda f: (f - 1) / (f + n - 1)  # noqa: E731
        low, high = 1 - np.clip(icc(f_high), 0, 1), 1 - np.clip(icc(f_low), 0, 1)
        name = f"F-based {level:.0%} of 1 - ICC(1) (architectures random)"
    return {**out, "share": float(share), "low": float(low), "high": float(high), "F": float(F),
            "p_value": float(stats.f.sf(F, df1, df2)), "interval": name}


def seeds_to_exclude_half(ms_within: float, arch_var: float, n_archs: int, level: float = 0.95,
                          max_seeds: int = 1000) -> float:
    """Seeds per architecture whose expected F (at these variance estimates) gives an interval
    without 0.5; NaN if no finite number does (estimate 0.5, or beyond ``max_seeds``)."""
    if not ms_within > 0:
        return np.nan
    k = n_archs

    def excludes(n: int) -> bool:
        F = 1 + n * arch_var / ms_within  # ratio of the expected mean squares
        lam_lo = _lambda_at(F, k - 1, k * (n - 1), 1 - (1 - level) / 2)
        lam_hi = _lambda_at(F, k - 1, k * (n - 1), (1 - level) / 2)
        return 1 / (1 + lam_lo / (n * (k - 1))) < 0.5 or 1 / (1 + lam_hi / (n * (k - 1))) > 0.5

    if not excludes(max_seeds):
        return np.nan
    lo, hi = 1, max_seeds  # more seeds only narrow the interval: bisect for the first that excludes
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if excludes(mid) else (mid, hi)
    return float(hi)


def pairwise_rankings(values, groups) -> pd.DataFrame:
    """For every pair of architectures: P(score_a > score_b) over all pairs of their seeds
    (ties count half), with the exact two-sided Mann-Whitney p; robust = p < 0.05."""
    names, g = _groups_any(values, groups)
    rows = []
    for (a, x), (b, y) in combinations(zip(names, g), 2):
        test = stats.mannwhitneyu(x, y, alternative="two-sided", method="exact"
                                  if not len(np.intersect1d(x, y)) else "asymptotic")
        rows.append({"arch_a": a, "arch_b": b, "p_a_greater": float(test.statistic / (len(x) * len(y))),
                     "p_value": float(test.pvalue), "robust": bool(test.pvalue < 0.05)})
    return pd.DataFrame(rows, columns=["arch_a", "arch_b", "p_a_greater", "p_value", "robust"])


def _groups_any(values, groups):
    """Like :func:`_groups`, but the seeds per architecture may differ."""
    values, groups = np.asarray(values, float), np.asarray(groups).astype(str)
    names = list(dict.fromkeys(groups.tolist()))
    return names, [values[groups == n] for n in names]


def metric_columns(models: pd.DataFrame) -> list[str]:
    """The brain-score columns of a models table: names ending in ``_ev`` or ``_rsa``."""
    return [c for c in models.columns if c.endswith(("_ev", "_rsa"))]


def _balanced(d: pd.DataFrame, where: str) -> pd.DataFrame:
    """The same seeds for every architecture (the lowest n_min of each), logging what is dropped."""
    n_min = d.groupby("arch")["seed"].nunique().min()
    kept = d.sort_values("seed").groupby("arch", sort=False).head(n_min)
    if len(kept) < len(d):
        log.warning("%s: unbalanced seeds, kept the %d lowest of every architecture (%d rows dropped)",
                    where, n_min, len(d) - len(kept))
    return kept


def _retest_sd(d: pd.DataFrame, metric: str, of: str = "") -> float:
    """The score's own noise: from the two disjoint halves of the sites (``of=""``) or of the
    images (``of="images_"``) the summary scored each model on (``<metric>_retest_<of>diff`` =
    |half A - half B|), sd of a whole-data score ~ rms(diff) / 2 (a half's noise variance is
    about twice the whole's)."""
    col = f"{metric}_retest_{of}diff"
    if col not in d or d[col].isna().all():
        return np.nan
    return float(np.sqrt(np.nanmean(d[col].astype(float) ** 2)) / 2)


def seed_variance(models: pd.DataFrame, metrics=None, level: float = 0.95,
                  name: str = "models table") -> pd.DataFrame:
    """Per task and metric (default :func:`metric_columns`; requested ones missing from the table
    are skipped, logged): the seed share under both questions (module docstring; architectures
    fixed and random) with their intervals and readings, the F test of the architecture effect
    (``p_value``, Holm ``p_adjusted`` over the table's rows), what excluding 0.5 would need (fixed
    question), the pairwise ranking tests (Holm over the table's pairs), the score's test-retest
    sd beside the seed sd, and the layer-selection rule the scores come from (``selection``)."""
    if metrics is None:
        metrics = metric_columns(models)
    missing = [m for m in metrics if m not in models.columns]
    if missing:
        log.warning("%s has no column(s) %s: skipped", name, missing)
    metrics = [m for m in metrics if m in models.columns]
    if not metrics:
        raise InputError(f"{name}: no metric columns to analyse among {list(models.columns)}")
    rows, pairs_of, refused = [], [], []
    for task, df in models.groupby("task"):
        for metric in metrics:
            where = f"{name} {task} {metric}"
            if df[metric].isna().all():  # this task was not scored on that benchmark
                log.warning("%s: no scores, skipped", where)
                continue
            d = df.dropna(subset=[metric])
            seeds = d.groupby("arch")["seed"].nunique()
            if (seeds < 2).any():  # e.g. an external model, which has one set of weights
                log.warning("%s: %s with fewer than 2 seeds left out", where, sorted(seeds.index[seeds < 2]))
                d = d[d["arch"].isin(seeds.index[seeds >= 2])]
            try:
                if d.empty:
                    raise InputError(f"seed_share: needs at least 2 seeds of every architecture; "
                                     f"seeds per architecture {seeds.to_dict()}")
                d = _balanced(d, where)
                fixed, random = (seed_share(d[metric], d["arch"], level=level, effects=e) for e in ("fixed", "random"))
            except InputError as e:  # this task cannot answer the question; another may
                refused.append(f"task {task!r}, metric {metric!r}: {e}")
                log.warning("%s: %s", where, e)
                continue
            pairs_of.append(pairwise_rankings(d[metric], d["arch"]))
            sel_col = metric.removesuffix("_ev") + "_selection" if metric.endswith("_ev") else "rsa_selection"
            s = fixed  # the ANOVA terms, the same for both questions
            rows.append({"task": task, "metric": metric, "n_archs": s["n_archs"], "n_seeds": s["n_seeds"],
                         "arch_var": s["arch_var"], "seed_var": s["seed_var"], "F": s["F"],
                         "p_value": s["p_value"],
                         "share_fixed": fixed["share"], "share_fixed_low": fixed["low"],
                         "share_fixed_high": fixed["high"], "reading_fixed": reading(fixed["low"], fixed["high"]),
                         "share_random": random["share"], "share_random_low": random["low"],
                         "share_random_high": random["high"],
                         "reading_random": reading(random["low"], random["high"]),
                         "question_fixed": QUESTION["fixed"], "question_random": QUESTION["random"],
                         "interval_fixed": fixed["interval"], "interval_random": random["interval"],
                         "seeds_to_exclude_half": seeds_to_exclude_half(s["ms_within"], s["arch_var"],
                                                                        s["n_archs"], level),
                         "seed_sd": float(np.sqrt(s["seed_var"])), "retest_sd": _retest_sd(d, metric),
                         "retest_images_sd": _retest_sd(d, metric, "images_"),
                         "selection": str(d[sel_col].iloc[0]) if sel_col in d else "not recorded"})
    if not rows and refused:  # nothing could be analysed: say why, not an empty table
        raise InputError(f"{name}: {refused[0]}")
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    # One family per kind of test: the F tests (a row each), the ranking pairs (all rows' pairs).
    table.insert(table.columns.get_loc("p_value") + 1, "p_adjusted", holm(table["p_value"]))
    table.insert(table.columns.get_loc("p_adjusted") + 1, "p_family",
                 f"Holm over the {int(table['p_value'].notna().sum())} F tests of this table (every task x metric)")
    all_pairs = pd.concat(pairs_of, keys=range(len(pairs_of)), names=["row", None])
    all_pairs["p_adjusted"] = holm(all_pairs["p_value"])
    robust = all_pairs["p_adjusted"] < 0.05
    by_row = [all_pairs.loc[i] for i in range(len(pairs_of))]
    table["n_pairs"] = [len(g) for g in by_row]
    table["n_pairs_robust"] = [int((g["p_adjusted"] < 0.05).sum()) for g in by_row]
    table["ranking_seed_robust"] = [bool(len(g)) and bool((g["p_adjusted"] < 0.05).all()) for g in by_row]
    table["pairwise"] = ["; ".join(f"P({r.arch_a}>{r.arch_b})={r.p_a_greater:.2f} p={r.p_value:.3f} "
                                   f"p_holm={r.p_adjusted:.3f}" for r in g.itertuples()) for g in by_row]
    # With m pairs in the family the smallest exact p, 2 / C(2n, n), must pass Holm's first step.
    table["min_seeds_for_ranking_test"] = min_seeds_for_ranking(len(all_pairs))
    table["pairwise_family"] = (f"Holm over the {len(all_pairs)} ranking pairs of this table; "
                                f"robust: p_holm < 0.05 ({int(robust.sum())} pairs)")
    return table
