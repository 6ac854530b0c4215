
import numpy as np
import pytest
import xarray as xr
from scipy.stats import norm

from goaldriven.compare.mapping import columnwise_r, explained_variance, split_half_reliability
from goaldriven.study.statistics import _fisher_interval, correlation_ci
from goaldriven.compare.methods import neural_predictivity, scoring_method
from goaldriven.compare.rsa import (bootstrap_rdm_comparison, compare_rdms, kendall_tau_a, rdm, rdm_noise_ceiling,
                            repetition_split_rdms)

from workflow_helpers import SHARED

COWLEY_TRIALS = SHARED / "cowley2023_v4" / "responses_raw" / "responses_210325.npy"


def _cowley_trials(n_stimuli=80):
    """Real V4 single trials (Cowley et al. 2023), as (n_reps, n_stimuli, n_sites), NaN-padded."""
    assert COWLEY_TRIALS.exists(), f"shared data missing: {COWLEY_TRIALS}"
    return np.load(COWLEY_TRIALS).transpose(2, 1, 0)[:, :n_stimuli]


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
    with pytest.raises(ValueError, match="features: lacks 10 stimuli of responses"):
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
    with pytest.raises(ValueError, match="unknown comparison method 'svm'"):
        neural_predictivity(feats, resp, method="svm")


def test_summary_attrs_and_backends_agree():
    feats, resp = _assemblies(n=200, d=60, noise=2.0)
    folds = scoring_method("ridge").splits(5, 200, resp["object_name"].values)
    a = neural_predictivity(feats, resp, splits=folds, backend="numpy", dtype="float64")
    b = neural_predictivity(feats, resp, splits=folds, backend="torch", device="cpu", dtype="float64")
    np.testing.assert_allclose(a["r_split"], b["r_split"], rtol=1e-8)
    np.testing.assert_allclose(a["alpha"], b["alpha"], rtol=1e-12)
    assert a.attrs["median_r"] == pytest.approx(np.median(a["r"].values))
    assert a.attrs["split_median_r"] == pytest.approx(np.median(a["r_split"].values, axis=1).mean())
    f32 = neural_predictivity(feats, resp, splits=folds)  # float32 by default: same r to float tolerance
    np.testing.assert_allclose(f32["r"], a["r"], atol=1e-4)


def test_noise_ceiling_of_noiseless_copies_is_one():
    d = rdm(np.random.default_rng(0).normal(size=(25, 10)))
    for method in ("spearman", "pearson", "kendall_tau_a"):
        assert rdm_noise_ceiling(np.stack([d, d, d]), method) == pytest.approx((1.0, 1.0))


def test_noise_ceiling_bounds_shrink_with_noise():
    rng = np.random.default_rng(1)
    truth = rng.normal(size=(30, 40))
    ceilings = []
    for noise in (0.5, 2.0):
        subjects = np.stack([rdm(truth + noise * rng.normal(size=truth.shape)) for _ in range(6)])
        lower, upper = rdm_noise_ceiling(subjects)
        assert 0 < lower < upper < 1
        # the true RDM fits each subject at most as well as the upper bound allows
        assert np.mean([compare_rdms(s, rdm(truth)) for s in subjects]) <= upper
        ceilings.append((lower, upper))
    assert ceilings[1][0] < ceilings[0][0] and ceilings[1][1] < ceilings[0][1]
    with pytest.raises(ValueError, match="at least two RDMs"):
        rdm_noise_ceiling(subjects[:1])


@pytest.mark.real_data
def test_repetition_split_rdms_on_real_v4_trials():
    trials = _cowley_trials()
    halves = repetition_split_rdms(trials, n_groups=2, seed=0)
    assert halves.shape == (2, 80, 80)
    lower, upper = rdm_noise_ceiling(halves)
    assert lower == pytest.approx(compare_rdms(halves[0], halves[1]))  # with two RDMs, by definition
    assert 0.3 < lower < upper < 1
    with pytest.raises(ValueError, match="repetitions"):
        repetition_split_rdms(trials, n_groups=7)  # some stimuli have only 6 repetitions


@pytest.mark.real_data
def test_bootstrap_interval_covers_the_estimate_and_drops_self_pairs():
    trials = _cowley_trials(60)
    a, b = repetition_split_rdms(trials, n_groups=2, seed=1)
    samples = bootstrap_rdm_comparison(a, b, "spearman", n_boot=200, seed=0)
    low, high = np.quantile(samples, [0.025, 0.975])
    assert low < compare_rdms(a, b) < high and high - low < 0.5
    # Independent RDMs: kept self-pairs (0 in both) would bias the samples upwards (about +0.1 here).
    rng = np.random.default_rng(0)
    x, y = rdm(rng.normal(size=(30, 5))), rdm(rng.normal(size=(30, 5)))
    assert abs(bootstrap_rdm_comparison(x, y, n_boot=300).mean()) < 0.03
    np.testing.assert_allclose(bootstrap_rdm_comparison(x, x, "pearson", n_boot=20), 1.0)


def test_correlation_ci():
    rng = np.random.default_rng(0)
    x = rng.normal(size=20)
    y = x + rng.normal(size=20)
    out = correlation_ci(x, y, n_boot=2000, seed=0)
    assert out["n"] == 20 and out["method"] == "bootstrap"
    assert out["r"] == pytest.approx(np.corrcoef(x, y)[0, 1])
    assert out["low"] < out["r"] < out["high"] and out["low"] > 0
    # widths agree with Fisher's large-sample interval within a factor of two
    f_low, f_high = _fisher_interval(out["r"], 20, 0.95)
    assert 0.5 < (out["high"] - out["low"]) / (f_high - f_low) < 2
    assert correlation_ci(x[:3], y[:3])["method"] == "fisher-z"
    assert (correlation_ci(x[:3], y[:3])["low"], correlation_ci(x[:3], y[:3])["high"]) == (-1.0, 1.0)
    with pytest.raises(ValueError, match="at least 3"):
        correlation_ci([1.0, 2.0, np.nan], [1.0, 2.0, 3.0])


def test_fisher_interval_matches_the_formula():
    half = norm.ppf(0.975) / 5  # n = 28: standard error of z is 1/5
    low, high = _fisher_interval(0.5, 28, 0.95)
    assert (low, high) == pytest.approx((np.tanh(np.arctanh(0.5) - half), np.tanh(np.arctanh(0.5) + half)))


def test_columnwise_r_skips_nan_rows_and_flags_constant_columns():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(50, 4)), rng.normal(size=(50, 4))
    a[[3, 7], 0], b[10, 0] = np.nan, np.nan
    a[:, 2] = 1.0           # constant: no r
    b[3:, 3] = np.nan       # three rows left: r defined; two would not be
    r = columnwise_r(a, b)
    rows = ~(np.isnan(a[:, 0]) | np.isnan(b[:, 0]))
    assert r[0] == pytest.approx(np.corrcoef(a[rows, 0], b[rows, 0])[0, 1])
    assert r[1] == pytest.approx(np.corrcoef(a[:, 1], b[:, 1])[0, 1])
    assert np.isnan(r[2]) and r[3] == pytest.approx(np.corrcoef(a[:3, 3], b[:3, 3])[0, 1])
    b[2, 3] = np.nan
    assert np.isnan(columnwise_r(a, b)[3])


def test_held_out_predictions_are_pooled_over_folds_and_give_r_pooled():
    feats, resp = _assemblies(n=60, d=10, k=4, noise=0.5)
    out = neural_predictivity(feats, resp, splits=10)
    pred = out["prediction"].values
    assert pred.shape == (60, 4) and np.isfinite(pred).all()  # k-fold: every stimulus once
    assert out.attrs["min_test_images"] == 6
    # rows in the canonical order of the stimulus ids, r_pooled the r of those predictions
    assert list(out["stimulus_id"].values) == sorted(resp["stimulus_id"].values.astype(str).tolist())
    observed = resp.sel(presentation=resp["stimulus_id"].isin(out["stimulus_id"].values))
    order = [list(observed["stimulus_id"].values).index(i) for i in out["stimulus_id"].values]
    np.testing.assert_allclose(out["r_pooled"].values, columnwise_r(pred, observed.values[order]), rtol=1e-12)
    # PLS shuffle splits hold some stimuli out never: NaN there, not a fitted value
    pls = neural_predictivity(feats, resp, method="pls", splits=2)
    assert np.isnan(pls["prediction"].values).all(axis=1).sum() >= 60 - 2 * 6
