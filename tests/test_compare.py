import numpy as np
import pytest
import xarray as xr

from goaldriven.compare import (compare_rdms, explained_variance, kendall_tau_a, neural_predictivity, rdm,
                                split_half_reliability)


def _assemblies(n=240, d=30, k=12, noise=0.05, seed=0, permute=False):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    Y = X @ rng.normal(size=(d, k)) + noise * rng.normal(size=(n, k))
    ids = np.array([f"s{i:04d}" for i in range(n)])
    objects = np.repeat([f"obj{i}" for i in range(n // 10)], 10)
    feats = xr.DataArray(X, dims=("presentation", "neuroid"),
                         coords={"stimulus_id": ("presentation", ids), "object_name": ("presentation", objects)})
    order = rng.permutation(n) if permute else np.arange(n)
    resp = xr.DataArray(Y[order], dims=("presentation", "neuroid"),
                        coords={"stimulus_id": ("presentation", ids[order]),
                                "object_name": ("presentation", objects[order]),
                                "neuroid_id": ("neuroid", [f"n{j}" for j in range(k)]),
                                "region": ("neuroid", ["IT"] * k)})
    return feats, resp


def test_ridge_recovers_a_known_linear_map_in_any_stimulus_order():
    feats, resp = _assemblies(permute=True)
    result = neural_predictivity(feats, resp, splits=5)
    assert result["r"].dims == ("neuroid",) and result.sizes["split"] == 5
    assert (result["r"].values > 0.95).all()
    assert list(result["region"].values) == ["IT"] * 12


def test_noise_responses_are_not_predicted():
    feats, resp = _assemblies()
    noise = resp.copy(data=np.random.default_rng(1).normal(size=resp.shape))
    assert abs(np.median(neural_predictivity(feats, noise, splits=5)["r"].values)) < 0.15


def test_explicit_splits_and_mismatched_stimuli():
    feats, resp = _assemblies(n=100)
    splits = [(np.arange(0, 80), np.arange(80, 100)), (np.arange(20, 100), np.arange(0, 20))]
    assert neural_predictivity(feats, resp, splits=splits).sizes["split"] == 2
    with pytest.raises(ValueError, match="different stimuli"):
        neural_predictivity(feats.isel(presentation=slice(0, 90)), resp, splits=5)


def test_split_half_reliability_matches_poisson_theory():
    rng = np.random.default_rng(0)
    lam = rng.gamma(4.0, 2.0, size=(400, 30))
    n_reps = 10
    trials = rng.poisson(lam, size=(n_reps,) + lam.shape).astype(float)
    truth = lam.var(0) / (lam.var(0) + lam.mean(0) / n_reps)
    est = split_half_reliability(trials, n_splits=20)
    assert np.median(np.abs(est - truth)) < 0.03
    padded = np.concatenate([trials, np.full((2,) + lam.shape, np.nan)])  # NaN-padded repetitions
    assert np.median(np.abs(split_half_reliability(padded, n_splits=20) - truth)) < 0.03


def test_explained_variance_is_clipped_and_signed():
    ev = explained_variance([0.5, -0.5, 0.9, 0.3], [0.5, 0.5, 0.5, 0.0])
    np.testing.assert_allclose(ev[:3], [0.5, 0.0, 1.0])
    assert np.isnan(ev[3])


def test_rdm_and_rdm_comparison():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 8))
    d = rdm(X)
    assert d.shape == (20, 20) and np.allclose(d, d.T) and np.allclose(np.diag(d), 0)
    assert compare_rdms(d, d) == pytest.approx(1.0)
    assert compare_rdms(d, rdm(rng.normal(size=(20, 8)))) < 0.5
    assert compare_rdms(rdm(X, "euclidean"), rdm(2 * X, "euclidean"), "pearson") == pytest.approx(1.0)


def test_kendall_tau_a_matches_brute_force_with_ties():
    rng = np.random.default_rng(3)
    x, y = rng.integers(0, 5, 40).astype(float), rng.integers(0, 4, 40).astype(float)
    s = 0
    for i in range(40):
        for j in range(i + 1, 40):
            s += np.sign(x[i] - x[j]) * np.sign(y[i] - y[j])
    assert kendall_tau_a(x, y) == pytest.approx(s / (40 * 39 / 2))
    d = rdm(rng.normal(size=(12, 5)))
    assert compare_rdms(d, d, "kendall_tau_a") == pytest.approx(1.0)


def test_pls_protocol_predicts_a_linear_map():
    feats, resp = _assemblies(n=300, d=40)
    result = neural_predictivity(feats, resp, method="pls", splits=10)
    assert result.sizes["split"] == 10 and (result["r"].values > 0.9).all()
    with pytest.raises(ValueError, match="unknown method 'svm'"):
        neural_predictivity(feats, resp, method="svm")
