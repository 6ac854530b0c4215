"""The statistics the figures report across models: Pearson r with an interval over the
points (a seeded bootstrap, Fisher-z below 4 points), and over architectures (all seeds of a
resampled architecture together). Figures draw; these compute, so each can be checked alone."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import chi2, norm, t as t_dist

from ..compare.mapping import columnwise_r
from ..core.io import InputError


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


def arch_bootstrap_r(df, x: str, y: str, n_boot: int = 2000, seed: int = 0) -> dict:
    """Pearson r of ``x`` and ``y`` with a 95% interval that resamples architectures (all seeds
    of a drawn architecture together: seeds are not independent models); no interval with
    fewer than 3 architectures. Keys r, low, high, n, n_archs."""
    df = df.dropna(subset=[x, y])
    out = {"r": np.nan, "low": np.nan, "high": np.nan, "n": len(df), "n_archs": df["arch"].nunique()}
    r_of = lambda d: np.corrcoef(d[x], d[y])[0, 1] if len(d) > 2 and d[x].std() > 0 and d[y].std() > 0 else np.nan  # noqa: E731
    out["r"] = r_of(df)
    if out["n_archs"] >= 3 and np.isfinite(out["r"]):
        rng, groups = np.random.default_rng(seed), [g for _, g in df.groupby("arch")]
        boot = [r_of(pd.concat([groups[i] for i in rng.integers(0, len(groups), len(groups))]))
                for _ in range(n_boot)]
        out["low"], out["high"] = np.nanpercentile(boot, [2.5, 97.5])
    return out


DF_BOUND = 0.9  # seeds_and_images: the df at this upper confidence bound of each seed variance (90%)


def holm(p) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error, any dependence between the tests):
    the i-th smallest p times (m - i + 1), made monotone, at most 1. NaN p-values are not tests:
    they stay NaN and do not count in m."""
    p = np.asarray(p, float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    order = ok[np.argsort(p[ok], kind="stable")]
    m = len(order)
    out[order] = np.minimum(1.0, np.maximum.accumulate(p[order] * (m - np.arange(m))))
    return out


def seeds_and_images(estimate: float, seed_groups, image_var: float, level: float = 0.95,
                     df_bound: float = DF_BOUND) -> dict:
    """Interval and two-sided p (of "the expected value is 0") of a mean over seeds, or a
    difference of such means, with seeds and images both samples: estimate +- t_df
    sqrt(v_seeds + image_var). ``seed_groups``: the per-seed values whose means make the
    estimate (one array per independent set of seeds), v_seeds = sum of var / n over them;
    ``image_var``: the estimate's variance over resamples of the images (and sites) with the
    seeds fixed, its df taken as infinite. df: Welch-Satterthwaite, but with each seed variance
    at its ``df_bound`` upper confidence bound (chi-square): from 2-3 seeds a seed variance
    small by chance would otherwise also inflate the df, and the plain Welch-Satterthwaite
    interval covered 0.87 with 2 seeds whose spread dominates (benchmarks/
    positive_control_coverage.py). NaN without 2 seeds in every group or a finite image variance."""
    groups = [np.asarray(g, float) for g in seed_groups]
    if any(len(g) < 2 for g in groups) or not np.isfinite(image_var) or not np.isfinite(estimate):
        return {"low": np.nan, "high": np.nan, "p": np.nan, "df": np.nan}
    parts = [(np.var(g, ddof=1) / len(g), len(g) - 1) for g in groups]
    v = sum(x for x, _ in parts) + image_var
    upper = [(x * df / chi2.ppf(1 - df_bound, df), df) for x, df in parts]
    denominator = sum(x ** 2 / df for x, df in upper)
    df = (sum(x for x, _ in upper) + image_var) ** 2 / denominator if denominator > 0 else np.inf
    se = np.sqrt(v)
    half = t_dist.ppf(0.5 + level / 2, df) * se
    p = 2 * t_dist.sf(abs(estimate) / se, df) if se > 0 else float(estimate == 0)
    return {"low": float(estimate - half), "high": float(estimate + half), "p": float(p), "df": float(df)}
