import numpy as np
import pytest
from scipy.stats import ortho_group

from goaldriven.convergence import debiased_linear_cka, linear_cka, pairwise_cka


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
