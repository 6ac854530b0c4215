import numpy as np
import pytest
from scipy.stats import ortho_group

import pandas as pd

from goaldriven.convergence import (cross_seed_predictivity, debiased_linear_cka, linear_cka, match_units,
                                    pairwise_cka, seed_variance)


@pytest.fixture
def reference():
    np.random.seed(1337)
    X = np.random.randn(100, 10)
    Y = np.random.randn(100, 10) + X
    return X, Y


def test_cka_reference_values(reference):
    X, Y = reference
    assert round(linear_cka(X, Y), 5) == 0.55761
    assert round(debiased_linear_cka(X, Y), 5) == 0.51346


def test_cka_invariances(reference):
    X, Y = reference
    Q = ortho_group.rvs(10, random_state=0)
    assert linear_cka(X, X) == pytest.approx(1.0)
    assert linear_cka(X @ Q * 3.7, Y) == pytest.approx(linear_cka(X, Y))
    assert linear_cka(X + 5.0, Y) == pytest.approx(linear_cka(X, Y))  # centring


def test_independent_data_has_low_debiased_cka():
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(200, 50)), rng.normal(size=(200, 50))
    assert abs(debiased_linear_cka(X, Y)) < 0.05 < linear_cka(X, Y)


def test_pairwise_cka_covers_every_pair_once():
    rng = np.random.default_rng(0)
    feats = {s: rng.normal(size=(30, 5)) for s in range(4)}
    pairs = pairwise_cka(feats)
    assert [(a, b) for a, b, *_ in pairs] == [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]


def test_match_units_recovers_a_permuted_rescaled_copy():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(200, 40))
    perm = rng.permutation(40)
    B = A[:, perm] * rng.uniform(0.5, 3, 40) + rng.normal(size=40)
    m = match_units(A, B, n_permutations=5)
    mapping = dict(map(tuple, m["pairs"]))
    assert all(perm[mapping[i]] == i for i in range(40))  # unit i of A found where it went in B
    np.testing.assert_allclose(m["correlation"], 1.0)
    assert m["convergent"].all() and (m["chance"] < 0.5).all()


def test_independent_units_are_mostly_not_convergent_and_constant_units_are_safe():
    rng = np.random.default_rng(1)
    A, B = rng.normal(size=(300, 30)), rng.normal(size=(300, 30))
    B[:, 0] = 1.0  # a dead unit
    m = match_units(A, B, n_permutations=20)
    assert m["convergent"].mean() < 0.2
    assert np.isfinite(m["correlation"]).all()


def test_cross_seed_predictivity_of_a_linear_copy_is_high():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(150, 20))
    assert np.median(cross_seed_predictivity(X, X @ rng.normal(size=(20, 10)))) > 0.95
    assert abs(np.median(cross_seed_predictivity(X, rng.normal(size=(150, 10))))) < 0.2


def _models(arch_means, seed_sd, n_seeds=4, seed=0):
    rng = np.random.default_rng(seed)
    rows = [{"arch": a, "task": "supervised", "seed": s, "v4_ev": m + rng.normal(0, seed_sd),
             "it_ev": m + rng.normal(0, seed_sd)} for a, m in arch_means.items() for s in range(n_seeds)]
    return pd.DataFrame(rows)


def test_seed_variance_separates_seed_from_architecture_spread():
    apart = seed_variance(_models({"a": 0.2, "b": 0.5, "c": 0.8}, seed_sd=0.01), n_boot=200)
    assert (apart["seed_share"] < 0.05).all() and (apart["rank_agreement"] == 1).all()
    mixed = seed_variance(_models({"a": 0.5, "b": 0.5, "c": 0.5, "d": 0.5}, seed_sd=0.1, n_seeds=10), n_boot=200)
    assert (mixed["seed_share"] > 0.5).all() and (mixed["rank_agreement"] < 1).all()
    row = apart.iloc[0]
    assert row["seed_share_ci_low"] <= row["seed_share"] <= row["seed_share_ci_high"]
