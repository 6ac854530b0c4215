import numpy as np
import pytest
from sklearn.linear_model import RidgeCV

from goaldriven.compare import ridge
from goaldriven.compare.ridge import fit_ridge_loo, penalty_grid, ridge_cv

ALPHA_GRID = penalty_grid()


def _data(n, p, t=8, seed=0):
    """Features with uneven scales and a non-zero mean; targets from a sparse linear map with
    noise levels from low to high, so that different targets want different penalties."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) * rng.gamma(1.0, 1.0, p) + 3.0
    W = rng.normal(size=(p, t)) * (rng.random((p, t)) < 0.3)
    Y = X @ W + rng.normal(size=(n, t)) * np.geomspace(0.1, 30, t)
    X_test = rng.normal(size=(25, p)) * X.std(0) + X.mean(0)
    return X, Y, X_test, W


def _numpy(a):
    return a if isinstance(a, np.ndarray) else a.cpu().numpy()


@pytest.mark.parametrize("n,p", [(150, 40), (60, 250)], ids=["primal", "dual"])
@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_matches_sklearn_ridgecv_alpha_per_target(n, p, backend):
    X, Y, X_test, _ = _data(n, p)
    grid = ALPHA_GRID * X.var(axis=0).sum()
    ref = RidgeCV(alphas=grid, alpha_per_target=True).fit(X, Y)
    assert len(np.unique(ref.alpha_)) > 2  # the data do make targets choose differently
    fit = fit_ridge_loo(X, Y, backend=backend, dtype="float64")  # default, variance-scaled grid
    np.testing.assert_allclose(_numpy(fit.alpha), ref.alpha_, rtol=1e-9)
    np.testing.assert_allclose(_numpy(fit.predict(X_test)), ref.predict(X_test), rtol=1e-7, atol=1e-9)
    fit32 = fit_ridge_loo(X, Y, backend=backend)  # float32 by default
    assert _numpy(fit32.predict(X_test)).dtype == np.float32
    scale = np.abs(ref.predict(X_test)).max()
    np.testing.assert_allclose(_numpy(fit32.predict(X_test)), ref.predict(X_test), atol=1e-3 * scale)


def test_loo_error_equals_brute_force_refits():
    X, Y, _, _ = _data(30, 12, t=3, seed=1)
    alphas = [0.5, 20.0, 900.0]
    fit = fit_ridge_loo(X, Y, alphas=alphas, dtype="float64")
    for a_i, alpha in enumerate(alphas):
        errors = []
        for i in range(len(X)):
            keep = np.arange(len(X)) != i
            Xk, Yk = X[keep], Y[keep]
            xm, ym = Xk.mean(0), Yk.mean(0)
            W = np.linalg.solve((Xk - xm).T @ (Xk - xm) + alpha * np.eye(X.shape[1]), (Xk - xm).T @ (Yk - ym))
            errors.append(Y[i] - ((X[i] - xm) @ W + ym))
        np.testing.assert_allclose(fit.loo_mse[a_i], np.mean(np.square(errors), axis=0), rtol=1e-9)


def test_gcv_score_equals_its_definition_from_the_hat_matrix():
    # GCV (Golub, Heath & Wahba 1979) with an unpenalised intercept: n |(I - H) y|^2 / trace(I - H)^2,
    # H the hat matrix of centred ridge plus the mean; primal (n > p) and dual (p > n) alike
    for n, p in ((30, 12), (25, 40)):
        X, Y, _, _ = _data(n, p, t=3, seed=5)
        alphas = [0.5, 20.0, 900.0]
        fit = fit_ridge_loo(X, Y, alphas=alphas, dtype="float64", criterion="gcv")
        Xc = X - X.mean(0)
        for a_i, alpha in enumerate(alphas):
            H = np.full((n, n), 1.0 / n) + Xc @ np.linalg.solve(Xc.T @ Xc + alpha * np.eye(p), Xc.T)
            resid = Y - H @ Y
            expected = n * (resid ** 2).sum(0) / np.trace(np.eye(n) - H) ** 2
            np.testing.assert_allclose(fit.loo_mse[a_i], expected, rtol=1e-9)
    with pytest.raises(ValueError, match="unknown penalty criterion"):
        fit_ridge_loo(X, Y, criterion="kfold")


def test_recovers_a_known_linear_map_and_penalises_noise_more():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(400, 20))
    W = rng.normal(size=(20, 4))
    Y = X @ W + 0.01 * rng.normal(size=(400, 4))
    Y = np.column_stack([Y, rng.normal(size=400)])  # a pure-noise target
    fit = fit_ridge_loo(X, Y)
    np.testing.assert_allclose(_numpy(fit.weights)[:, :4], W, atol=0.02)
    grid, alpha = _numpy(fit.alphas), _numpy(fit.alpha)
    assert (alpha[:4] == grid[0]).all() and alpha[4] == grid[-1]


def test_torch_and_numpy_cross_validation_agree():
    X, Y, _, _ = _data(120, 300, t=5, seed=3)
    folds = [(np.arange(30, 120), np.arange(0, 30)), (np.arange(0, 90), np.arange(90, 120))]
    a = ridge_cv(X, Y, folds, backend="numpy", dtype="float64")
    b = ridge_cv(X, Y, folds, backend="torch", device="cpu", dtype="float64")
    for (pa, aa), (pb, ab) in zip(a, b):
        assert pa.shape == (30, 5)
        np.testing.assert_allclose(pa, pb, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(aa, ab, rtol=1e-12)


def test_bad_input_is_refused():
    X, Y, _, _ = _data(40, 5, t=2)
    with pytest.raises(ValueError, match="positive"):
        fit_ridge_loo(X, Y, alphas=[1.0, -1.0])
    bad = X.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="features contain NaN"):
        ridge_cv(bad, Y, [(np.arange(30), np.arange(30, 40))])
    with pytest.raises(ValueError, match="same n"):
        fit_ridge_loo(X, Y[:-1])
    with pytest.raises(ValueError, match="unknown dtype"):
        fit_ridge_loo(X, Y, dtype="float16")
    with pytest.raises(ValueError, match="CPU only"):
        fit_ridge_loo(X, Y, backend="numpy", device="cuda")


@pytest.mark.parametrize("criterion", ["loo", "gcv"])
@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("alphas", [None, [0.3, 30.0, 3000.0]], ids=["grid", "explicit"])
def test_wide_features_share_one_eigendecomposition_and_match_fold_by_fold_fits(backend, alphas, criterion, monkeypatch):
    # p > n: ridge_cv decomposes the kernel of all samples once (block inverse per fold). It
    # must give what a separate leave-one-out fit on each training fold gives, also when some
    # rows are in neither the training nor the test part of a fold.
    X, Y, _, _ = _data(90, 200, t=6, seed=4)
    folds = [(np.arange(20, 90), np.arange(0, 20)), (np.arange(0, 60), np.arange(60, 75)),
             (np.r_[0:30, 45:90], np.arange(30, 45))]
    shared = ridge_cv(X, Y, folds, alphas, backend=backend, dtype="float64", criterion=criterion)
    # one penalty per batch, so that the best-so-far merge across batches is exercised
    monkeypatch.setattr(ridge, "_ALPHA_BLOCK_ELEMENTS", 1)
    batched = ridge_cv(X, Y, folds, alphas, backend=backend, dtype="float64", criterion=criterion)
    for (pred, alpha), (pred_b, alpha_b), (train, test) in zip(shared, batched, folds):
        fit = fit_ridge_loo(X[train], Y[train], alphas, backend=backend, dtype="float64", criterion=criterion)
        assert len(np.unique(alpha)) > 1
        np.testing.assert_array_equal(alpha_b, alpha)
        np.testing.assert_allclose(pred_b, pred, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(alpha, _numpy(fit.alpha), rtol=1e-9)
        np.testing.assert_allclose(pred, _numpy(fit.predict(X[test])), rtol=1e-8, atol=1e-8)
    # float32 (the default) picks the same penalties on these non-centred features
    for (pred32, alpha32), (pred, alpha) in zip(ridge_cv(X, Y, folds, alphas, backend=backend, criterion=criterion),
                                                shared):
        np.testing.assert_allclose(alpha32, alpha, rtol=1e-5)
        np.testing.assert_allclose(pred32, pred, atol=1e-4 * np.abs(pred).max())


def _cnn_like(n, p, t, seed, decay=1.5):
    """Features with the steep power-law spectrum of CNN layers (eigenvalues over ~7 decades)
    and a non-zero mean; sites are noisy read-outs of many of their directions, with noise
    levels that make them pick different penalties."""
    rng = np.random.default_rng(seed)
    k = min(n, p)
    Z = rng.normal(size=(n, k))
    V = np.linalg.qr(rng.normal(size=(p, k)))[0]
    X = (Z * np.arange(1, k + 1) ** -decay) @ V.T + rng.gamma(2.0, 1.0, p)
    signal = Z @ (rng.normal(size=(k, t)) * (np.arange(1, k + 1) ** -0.5)[:, None])
    return X, signal / signal.std(0) + rng.normal(size=(n, t)) * np.geomspace(0.3, 3, t)


def _median_r(preds, Y, folds):
    P = np.concatenate(preds)
    T = np.concatenate([Y[te] for _, te in folds])
    return np.median([np.corrcoef(P[:, j], T[:, j])[0, 1] for j in range(T.shape[1])])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("n,p", [(300, 120), (240, 235), (120, 480)], ids=["narrow", "square", "wide"])
def test_exact_loo_is_exact_in_every_regime(n, p, backend, dtype):
    # Issue #14: in float32 the narrow path dropped every direction below ~1e-4 of the largest
    # eigenvalue, so on steep (CNN-like) spectra it picked other penalties than exact LOO and
    # predicted worse. Every regime must agree with scikit-learn's exact LOO.
    X, Y = _cnn_like(n, p, 40, seed=n + p)
    idx = np.random.default_rng(0).permutation(n)
    parts = np.array_split(idx, 4)
    folds = [(np.sort(np.concatenate(parts[:i] + parts[i + 1:])), np.sort(parts[i])) for i in range(4)]
    ours = ridge_cv(X, Y, folds, backend=backend, dtype=dtype)
    same, ref_preds = [], []
    for (train, test), (_, alpha) in zip(folds, ours):
        ref = RidgeCV(alphas=ALPHA_GRID * X[train].var(0).sum(), alpha_per_target=True).fit(X[train], Y[train])
        same.append(np.isclose(alpha, ref.alpha_, rtol=1e-4))
        ref_preds.append(ref.predict(X[test]))
    assert np.mean(np.concatenate(same)) >= 0.99
    assert abs(_median_r([pred for pred, _ in ours], Y, folds) - _median_r(ref_preds, Y, folds)) < 0.002
    # a single fit (no folds to share a kernel across) is exact too
    train = folds[0][0]
    single = fit_ridge_loo(X[train], Y[train], backend=backend, dtype=dtype)
    ref = RidgeCV(alphas=ALPHA_GRID * X[train].var(0).sum(), alpha_per_target=True).fit(X[train], Y[train])
    assert np.mean(np.isclose(_numpy(single.alpha), ref.alpha_, rtol=1e-4)) >= 0.99
