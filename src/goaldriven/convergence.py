"""Convergent learning: how similar are networks that differ only in their seed?

Centred kernel alignment (Kornblith et al. 2019) per layer between every pair of seeds of one
architecture; rows of every matrix are stimuli, columns units.
"""

from __future__ import annotations

import logging
from itertools import combinations

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)


def _centre(X) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    return X - X.mean(axis=0)


def linear_cka(X, Y) -> float:
    """Linear CKA: ||Y'X||_F^2 / (||X'X||_F ||Y'Y||_F) on column-centred data."""
    X, Y = _centre(X), _centre(Y)
    return float(np.linalg.norm(Y.T @ X) ** 2 / (np.linalg.norm(X.T @ X) * np.linalg.norm(Y.T @ Y)))


def _unbiased_hsic(K: np.ndarray, L: np.ndarray) -> float:
    """Unbiased HSIC estimator (Song et al. 2012) of Gram matrices with zeroed diagonals."""
    n = K.shape[0]
    K, L = K.copy(), L.copy()
    np.fill_diagonal(K, 0)
    np.fill_diagonal(L, 0)
    ones = np.ones(n)
    term = np.sum(K * L) + (ones @ K @ ones) * (ones @ L @ ones) / ((n - 1) * (n - 2)) \
        - 2 * (ones @ K @ L @ ones) / (n - 2)
    return term / (n * (n - 3))


def debiased_linear_cka(X, Y) -> float:
    """Linear CKA with the unbiased HSIC estimator: less inflated when units outnumber stimuli."""
    X, Y = _centre(X), _centre(Y)
    K, L = X @ X.T, Y @ Y.T
    return float(_unbiased_hsic(K, L) / np.sqrt(_unbiased_hsic(K, K) * _unbiased_hsic(L, L)))


def pairwise_cka(layer_features: dict) -> list[tuple]:
    """(seed_a, seed_b, linear CKA, debiased CKA) for every unordered pair of seeds."""
    return [(a, b, linear_cka(layer_features[a], layer_features[b]),
             debiased_linear_cka(layer_features[a], layer_features[b]))
            for a, b in combinations(sorted(layer_features), 2)]


def seeds_by_model(feature_paths) -> dict[tuple, dict]:
    """{(arch, task): {seed: activations}} from features files whose ``model`` attribute reads
    ``arch/task_seedN``."""
    from .io import open_netcdf

    groups: dict[tuple, dict] = {}
    for path in feature_paths:
        da = open_netcdf(path)
        arch, rest = da.attrs["model"].split("/")
        task, seed = rest.rsplit("_seed", 1)
        groups.setdefault((arch, task), {})[int(seed)] = da
    return dict(sorted(groups.items()))


def cka_table(feature_paths) -> pd.DataFrame:
    """Cross-seed CKA per layer for every (architecture, task) among the given features files."""
    from .features import layer_matrix, layer_order

    rows = []
    for (arch, task), by_seed in seeds_by_model(feature_paths).items():
        first = next(iter(by_seed.values()))
        for index, layer in enumerate(layer_order(first)):
            mats = {s: layer_matrix(da, layer).values for s, da in by_seed.items()}
            for a, b, cka, dcka in pairwise_cka(mats):
                rows.append({"arch": arch, "task": task, "layer": layer, "layer_index": index,
                             "seed_a": a, "seed_b": b, "cka": cka, "cka_debiased": dcka})
    return pd.DataFrame(rows)


def _zscore(X) -> np.ndarray:
    X = _centre(X)
    sd = X.std(axis=0)
    return np.divide(X, sd, out=np.zeros_like(X), where=sd > 0)  # constant unit -> 0, not NaN


def _matched(A, B):
    from scipy.optimize import linear_sum_assignment

    C = _zscore(A).T @ _zscore(B) / len(A)
    rows, cols = linear_sum_assignment(C, maximize=True)
    return rows, cols, C[rows, cols]


def match_units(A, B, n_permutations: int = 20, seed: int = 0) -> dict:
    """One-to-one matching of the units (columns) of A and B by correlation over stimuli
    (rows), maximising the summed correlation (Li et al. 2016's bipartite matching).

    Chance comes from the same matching after shuffling B's stimuli: the k-th best matched
    correlation is compared with the k-th best under shuffling, and a pair is "convergent"
    when it beats that null's 95th percentile.
    """
    rows, cols, corr = _matched(A, B)
    rng = np.random.default_rng(seed)
    null = np.array([np.sort(_matched(A, B[rng.permutation(len(B))])[2])[::-1]
                     for _ in range(n_permutations)])
    rank = np.empty(len(corr), dtype=int)
    rank[np.argsort(-corr)] = np.arange(len(corr))
    chance_95 = np.percentile(null, 95, axis=0)[rank]
    return {"pairs": np.stack([rows, cols], axis=1), "correlation": corr,
            "chance": null.mean(axis=0)[rank], "chance_95": chance_95, "convergent": corr > chance_95}


def cross_seed_predictivity(X, Y, splits: int = 3, seed: int = 0) -> np.ndarray:
    """Held-out Pearson r of each unit of Y predicted linearly (ridge) from X."""
    import xarray as xr

    from .compare import neural_predictivity

    ids = np.array([f"s{i}" for i in range(len(X))])
    fx = xr.DataArray(X, dims=("presentation", "neuroid"), coords={"stimulus_id": ("presentation", ids)})
    fy = xr.DataArray(Y, dims=("presentation", "neuroid"), coords={"stimulus_id": ("presentation", ids)})
    return neural_predictivity(fx, fy, splits=splits, seed=seed)["r"].values


def matching_table(feature_paths, max_units: int = 128, n_permutations: int = 10, seed: int = 0) -> pd.DataFrame:
    """Per layer and seed pair: unit matching (with chance) and cross-seed linear predictivity.

    Layers wider than ``max_units`` are subsampled (the same seeded units for every pair).
    Randomly projected layers are skipped: their columns mix units, so matching them would
    say nothing about units.
    """
    from .features import layer_matrix, layer_order

    rows = []
    for (arch, task), by_seed in seeds_by_model(feature_paths).items():
        first = next(iter(by_seed.values()))
        projected = set(filter(None, first.attrs.get("projected_layers", "").split(",")))
        for index, layer in enumerate(layer_order(first)):
            if layer in projected:
                log.warning("%s/%s %s: randomly projected features, no unit matching", arch, task, layer)
                continue
            mats = {s: layer_matrix(da, layer).values for s, da in by_seed.items()}
            width = next(iter(mats.values())).shape[1]
            keep = np.sort(np.random.default_rng([seed, index]).choice(width, min(width, max_units), replace=False))
            for a, b in combinations(sorted(mats), 2):
                A, B = mats[a][:, keep], mats[b][:, keep]
                m = match_units(A, B, n_permutations=n_permutations, seed=seed)
                r = cross_seed_predictivity(mats[a], B, seed=seed)
                rows.append({"arch": arch, "task": task, "layer": layer, "layer_index": index, "seed_a": a,
                             "seed_b": b, "n_units": len(keep), "matched_r": float(np.mean(m["correlation"])),
                             "chance_r": float(np.mean(m["chance"])),
                             "n_convergent": int(m["convergent"].sum()),
                             "frac_convergent": float(m["convergent"].mean()),
                             "cross_seed_r": float(np.nanmedian(r))})
    return pd.DataFrame(rows)


def _between_within(groups: list[np.ndarray]) -> tuple[float, float]:
    """Variance of the group means (between) and mean within-group variance (over seeds)."""
    means = [g.mean() for g in groups]
    between = float(np.var(means, ddof=1)) if len(groups) > 1 else 0.0
    return between, float(np.mean([g.var(ddof=1) for g in groups]))


def seed_variance(models: pd.DataFrame, metrics=("v4_ev", "it_ev"), n_boot: int = 1000,
                  seed: int = 0) -> pd.DataFrame:
    """Do brain scores vary more across seeds than across architectures?

    Per task and metric: the variance of architecture means (between) and the mean variance
    over seeds within an architecture (within), the seed share within / (within + between)
    with a bootstrap interval (seeds resampled within each architecture), and how often two
    seeds rank the architectures the same way (fraction of seed pairs with identical order).
    """
    rng = np.random.default_rng(seed)
    rows = []
    for task, df in models.groupby("task"):
        for metric in metrics:
            d = df.dropna(subset=[metric])
            groups = [g[metric].to_numpy(float) for _, g in d.groupby("arch")]
            if not groups or min(len(g) for g in groups) < 2:
                continue  # a seed variance needs two seeds of every architecture
            between, within = _between_within(groups)
            boot = []
            for _ in range(n_boot):
                b, w = _between_within([rng.choice(g, len(g)) for g in groups])
                boot.append(w / (w + b) if w + b > 0 else np.nan)
            rows.append({"task": task, "metric": metric, "n_archs": len(groups),
                         "n_seeds": min(len(g) for g in groups), "between_arch_var": between,
                         "within_arch_var": within, "seed_share": within / (within + between),
                         "seed_share_ci_low": float(np.nanpercentile(boot, 2.5)),
                         "seed_share_ci_high": float(np.nanpercentile(boot, 97.5)),
                         "rank_agreement": _rank_agreement(d, metric)})
    return pd.DataFrame(rows)


def _rank_agreement(d: pd.DataFrame, metric: str) -> float:
    """Fraction of pairs of seed draws (one seed per architecture, by seed index) that order
    the architectures identically."""
    table = d.pivot_table(index="seed", columns="arch", values=metric).dropna()
    orders = [tuple(np.argsort(row.values)) for _, row in table.iterrows()]
    pairs = list(combinations(orders, 2))
    return float(np.mean([a == b for a, b in pairs])) if pairs else np.nan
