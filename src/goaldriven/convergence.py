"""Convergent learning: how similar are networks that differ only in their seed?

Centred kernel alignment (Kornblith et al. 2019) per layer between every pair of seeds of one
architecture; rows of every matrix are stimuli, columns units.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd


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


def cka_table(feature_paths) -> pd.DataFrame:
    """Cross-seed CKA per layer for every (architecture, task) among the given features files.

    Each file is an activations assembly whose ``model`` attribute reads ``arch/task_seedN``.
    """
    from .features import layer_matrix, layer_order
    from .io import open_netcdf

    groups: dict[tuple, dict] = {}
    for path in feature_paths:
        da = open_netcdf(path)
        arch, rest = da.attrs["model"].split("/")
        task, seed = rest.rsplit("_seed", 1)
        groups.setdefault((arch, task), {})[int(seed)] = da
    rows = []
    for (arch, task), by_seed in sorted(groups.items()):
        first = next(iter(by_seed.values()))
        for index, layer in enumerate(layer_order(first)):
            mats = {s: layer_matrix(da, layer).values for s, da in by_seed.items()}
            for a, b, cka, dcka in pairwise_cka(mats):
                rows.append({"arch": arch, "task": task, "layer": layer, "layer_index": index,
                             "seed_a": a, "seed_b": b, "cka": cka, "cka_debiased": dcka})
    return pd.DataFrame(rows)
