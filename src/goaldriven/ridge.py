"""Ridge regression with the penalty chosen per target by exact, efficient leave-one-out.

One thin SVD of the centred training features per fold gives, for every penalty of a grid
and every target at once, the exact leave-one-out residuals (the hat-matrix identity
``e_loo = (y - yhat) / (1 - h)``); each target keeps the penalty with the smallest mean squared
LOO error, which is what scikit-learn's ``RidgeCV(alpha_per_target=True)`` computes, at a
fraction of its cost. Features and targets are centred, i.e. an unpenalised intercept is fitted.

The SVD comes from an eigendecomposition of the smaller Gram matrix: the ``n x n`` kernel
``X X^T`` when features outnumber samples (dual form), ``X^T X`` otherwise (primal form).
Squaring the matrix loses the smallest singular values to rounding: directions below
``max(n, p) * eps * d_max`` are dropped. The penalty grid starts at 1e-3 of the total
variance, usually above that cut-off; for the steep spectra of conv layers it can fall below
it in float32, and then the smallest penalties are fitted without those directions (on real V4
this changed the penalties picked; the shared-kernel path below keeps every direction).

Cross-validation over wide features (p > n, the usual case for a layer against a few hundred
or thousand images) decomposes the kernel of all samples once and gets each training fold's
solution from it by a block inverse (``_shared_kernel_cv``): about half the cost of one
decomposition per fold, and it keeps every direction of the spectrum (no float32 cut-off).

Two backends share the code: ``numpy`` and ``torch`` (CPU or CUDA via ``device``). Only
operators and methods that numpy arrays and torch tensors spell alike are used in the maths;
:class:`_Backend` (and ``_concat``) hold the few that differ.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Penalties relative to the features' total variance (the trace of their covariance, i.e. of
# the centred Gram matrix per sample), so that the grid means the same for narrow and wide
# layers and for any units, and its floor (1e-3) keeps the penalised systems well conditioned
# in float32. Features are centred but not standardised: standardising would blow
# near-silent units up to the size of active ones and let their noise dominate. Half-decade steps.
ALPHA_GRID = np.logspace(-3, 2, 11)

# Cap on the (alphas x samples x targets) block of LOO residuals held at once, in elements.
_BLOCK_ELEMENTS = 1 << 24


@dataclass(frozen=True)
class _Backend:
    name: str
    device: object = None
    dtype: object = None

    def asarray(self, a):
        if self.name == "numpy":
            return np.asarray(a, dtype=self.dtype)
        import torch

        if isinstance(a, torch.Tensor):
            return a.to(device=self.device, dtype=self.dtype)
        return torch.as_tensor(np.asarray(a), dtype=self.dtype, device=self.device)

    def index(self, idx):
        """Integer row indices usable on this backend's arrays."""
        if self.name == "numpy":
            return np.asarray(idx)
        import torch

        return torch.as_tensor(np.asarray(idx), dtype=torch.long, device=self.device)

    @property
    def eps(self) -> float:
        if self.name == "numpy":
            return float(np.finfo(self.dtype).eps)
        import torch

        return float(torch.finfo(self.dtype).eps)

    def eigh(self, a):
        if self.name == "numpy":
            return np.linalg.eigh(a)
        import torch

        return torch.linalg.eigh(a)

    def cholesky(self, a):
        if self.name == "numpy":
            return np.linalg.cholesky(a)
        import torch

        return torch.linalg.cholesky(a)

    def solve_lower(self, low, b):
        """``low^-1 b`` for a lower-triangular ``low``."""
        if self.name == "numpy":
            # Not scipy's solve_triangular: scipy ships its own OpenBLAS, and switching between
            # two BLAS thread pools in this loop made every numpy product here 3-5x slower.
            return np.linalg.solve(low, b)
        import torch

        return torch.linalg.solve_triangular(low, b, upper=False)

    def to_numpy(self, a) -> np.ndarray:
        return a if self.name == "numpy" else a.detach().cpu().numpy()


def get_backend(backend: str = "auto", device=None, dtype: str = "float32") -> _Backend:
    """Resolve ``backend`` ("auto", "numpy", "torch"), ``device`` and ``dtype`` ("float32" or
    "float64"). "auto" is torch, on the GPU when one is available: even on the CPU the torch
    wheel's eigensolver (MKL) is about twice as fast as numpy's (OpenBLAS), and the
    eigendecomposition dominates the cost."""
    if dtype not in ("float32", "float64"):
        raise ValueError(f"unknown dtype {dtype!r}; choose 'float32' or 'float64'")
    if backend not in ("auto", "numpy", "torch"):
        raise ValueError(f"unknown backend {backend!r}; choose 'auto', 'numpy' or 'torch'")
    if backend == "numpy":
        if device not in (None, "cpu"):
            raise ValueError(f"the numpy backend runs on the CPU only, not on device {device!r}")
        return _Backend("numpy", None, np.dtype(dtype))
    import torch

    device = torch.device(device if device is not None else ("cuda" if torch.cuda.is_available() else "cpu"))
    return _Backend("torch", device, getattr(torch, dtype))


@dataclass
class RidgeFit:
    """A fitted ridge map: ``predict(X) = (X - x_mean) @ weights + y_mean``.

    ``alpha`` (n_targets,) is the penalty chosen per target, ``alphas`` the grid tried and
    ``loo_mse`` (n_alphas, n_targets) the mean squared leave-one-out error of each; arrays live
    on the backend (numpy arrays or torch tensors).
    """

    backend: _Backend
    x_mean: object
    y_mean: object
    weights: object
    alpha: object
    alphas: object
    loo_mse: object

    def predict(self, X):
        return (self.backend.asarray(X) - self.x_mean) @ self.weights + self.y_mean


def _left_svd(Xc, bk: _Backend):
    """Left singular vectors U (n, r) and squared singular values d (r,) of ``Xc``, from the
    eigendecomposition of its smaller Gram matrix; directions with a numerically zero singular
    value are dropped. (The right singular vectors are never needed: see ``_fit``.)"""
    n, p = Xc.shape
    d, vecs = bk.eigh(Xc @ Xc.T if p > n else Xc.T @ Xc)
    keep = d > max(n, p) * bk.eps * float(d.max())
    d, vecs = d[keep], vecs[:, keep]
    return (vecs, d) if p > n else ((Xc @ vecs) / d ** 0.5, d)


def _loo_mse(U, d, UtY, Yc, alphas):
    """Mean squared exact leave-one-out error (n_alphas, n_targets) of ridge with an
    unpenalised intercept, for every penalty and target."""
    n = Yc.shape[0]
    shrink = d / (d + alphas[:, None])                   # (A, r): hat-matrix eigenvalues
    leverage = 1.0 / n + (U * U) @ shrink.T               # (n, A); 1/n from the intercept
    scale = (1.0 - leverage).T[:, :, None]                # (A, n, 1)
    block = max(1, _BLOCK_ELEMENTS // (len(alphas) * n))
    parts = []
    for j in range(0, Yc.shape[1], block):
        fitted = U @ (shrink[:, :, None] * UtY[None, :, j:j + block])   # (A, n, b)
        parts.append((((Yc[None, :, j:j + block] - fitted) / scale) ** 2).mean(1))
    return parts[0] if len(parts) == 1 else _concat(parts)


def _concat(parts):
    if isinstance(parts[0], np.ndarray):
        return np.concatenate(parts, axis=1)
    import torch

    return torch.cat(parts, dim=1)


def fit_ridge_loo(X, Y, alphas=None, *, backend: str = "auto", device=None,
                  dtype: str = "float32") -> RidgeFit:
    """Fit ridge regressions of every column of ``Y`` (n, t) on ``X`` (n, p), each with the
    penalty from ``alphas`` that minimises the exact leave-one-out squared error.

    ``alphas=None`` uses ``ALPHA_GRID`` times the features' total variance (see ALPHA_GRID);
    explicit ``alphas`` are absolute. Ties go to the first (smallest, for a sorted grid)
    penalty, as in scikit-learn.
    """
    bk = get_backend(backend, device, dtype)
    X, Y = np.asarray(X), np.asarray(Y)
    _check_data(X, Y)
    if len(X) < 3:
        raise ValueError(f"leave-one-out needs at least 3 samples; got {len(X)}")
    return _fit(bk.asarray(X), bk.asarray(Y), _checked_alphas(alphas), bk)


def _check_data(X: np.ndarray, Y: np.ndarray) -> None:
    if X.ndim != 2 or Y.ndim != 2 or len(X) != len(Y) or X.shape[1] == 0:
        raise ValueError(f"need features (n, p >= 1) and responses (n, t) with the same n; "
                         f"got {X.shape} and {Y.shape}")
    for name, a in (("features", X), ("responses", Y)):
        if not np.isfinite(a).all():
            raise ValueError(f"{name} contain NaN or infinite values; ridge needs finite data")


def _checked_alphas(alphas):
    """Explicit penalties as a float array (checked once, before any fold), or None."""
    if alphas is None:
        return None
    alphas = np.atleast_1d(np.asarray(alphas, float))
    if not (alphas > 0).all():
        raise ValueError(f"ridge penalties must be positive; got {alphas}")
    return alphas


def _grid(alphas, total_variance, bk: _Backend):
    """The penalties tried: explicit ``alphas``, else ALPHA_GRID times the training features'
    total variance (``total_variance()``, computed only then)."""
    if alphas is None:
        return bk.asarray(ALPHA_GRID) * total_variance()
    return bk.asarray(alphas)


def _fit(X, Y, alphas, bk: _Backend) -> RidgeFit:
    x_mean, y_mean = X.mean(0), Y.mean(0)
    Xc, Yc = X - x_mean, Y - y_mean
    U, d = _left_svd(Xc, bk)
    grid = _grid(alphas, lambda: d.sum() / X.shape[0], bk)   # sum(d)/n = total variance
    UtY = U.T @ Yc
    mse = _loo_mse(U, d, UtY, Yc, grid)
    alpha = grid[mse.argmin(0)]
    # Ridge weights V diag(sqrt(d) / (d + alpha)) U^T Yc, written as Xc^T U diag(1 / (d + alpha))
    # U^T Yc (since Xc^T U = V diag(sqrt(d))): two thin products instead of forming V.
    weights = Xc.T @ (U @ (UtY / (d[:, None] + alpha[None, :])))
    return RidgeFit(bk, x_mean, y_mean, weights, alpha, grid, mse)


def ridge_cv(X, Y, folds, alphas=None, *, backend: str = "auto", device=None, dtype: str = "float32"):
    """Cross-validated ridge: for each (train, test) pair of ``folds``, fit on the training rows
    (penalty per target by LOO within them) and predict the test rows. Returns a list of
    ``(prediction (n_test, t), alpha (t,))`` numpy pairs. ``X`` and ``Y`` go to the backend's
    device once, so folds run there without copies back and forth."""
    bk = get_backend(backend, device, dtype)
    X, Y = np.asarray(X), np.asarray(Y)
    _check_data(X, Y)
    for train, _ in folds:
        if len(train) < 3:
            raise ValueError(f"a training fold has {len(train)} samples; leave-one-out needs at least 3")
    alphas = _checked_alphas(alphas)
    X, Y = bk.asarray(X), bk.asarray(Y)
    if len(folds) > 1 and X.shape[1] > X.shape[0]:
        return _shared_kernel_cv(X, Y, folds, alphas, bk)
    out = []
    for train, test in folds:
        train, test = bk.index(train), bk.index(test)
        fit = _fit(X[train], Y[train], alphas, bk)
        out.append((bk.to_numpy(fit.predict(X[test])), bk.to_numpy(fit.alpha)))
    return out


def _shared_kernel_cv(X, Y, folds, alphas, bk: _Backend):
    """``ridge_cv`` for wide features (p > n) from ONE eigendecomposition for all folds.

    Per fold, the eigendecomposition of the training kernel dominates the cost of ``_fit``.
    Here ``K = Q diag(lam) Q^T`` of all n samples is decomposed once; for a fold with training
    rows t and the other rows r, ``B = (K + alpha I)^-1 = Q diag(1 / (lam + alpha)) Q^T`` and the
    block-inverse (Schur complement) identity gives the training system's inverse exactly:
    ``(K_tt + alpha I)^-1 = B_tt - B_tr B_rr^-1 B_rt``, at the cost of matrix products with
    the few held-out rows. The unpenalised intercept is the limit c -> inf of the kernel
    ``K + c 11^T``, a rank-one correction; the leave-one-out residual of kernel ridge is
    ``(M^-1 y)_i / (M^-1)_ii``. The result equals ``_fit`` fold by fold (a test checks it).
    """
    n = X.shape[0]
    Xg = X - X.mean(0)  # a shift the intercept absorbs; it keeps float32 kernels accurate
    # With an unpenalised intercept the dual coefficients sum to zero, so adding c 11^T to the
    # kernel changes nothing but rounding: it lifts the constant direction, an eigenvalue ~0 of
    # the centred kernel, to an average one, without which B = (K + alpha I)^-1 is dominated by
    # 1 / alpha along it and float32 loses ~3 digits in the block inverse below.
    K = Xg @ Xg.T
    K = K + K.diagonal().mean() / n
    lam, Q = bk.eigh(K)
    out = []
    for train, test in folds:
        rest = np.setdiff1d(np.arange(n), np.asarray(train))
        tr, te, rs = bk.index(train), bk.index(test), bk.index(rest)
        Qt, Qr = Q[tr], Q[rs]
        nt, nr = len(train), len(rest)

        def total_variance():  # as in _fit: of the fold's features, from its centred kernel
            Ktt = K[tr][:, tr]
            return (Ktt.diagonal().sum() - Ktt.sum() / nt) / nt

        grid = _grid(alphas, total_variance, bk)
        R = _concat([Y[tr], bk.asarray(np.ones((nt, 1)))])     # targets and the constant
        QrT, QtR = Qr.T, Qt.T @ R
        diag_btt = (Qt * Qt) @ (1.0 / (lam[:, None] + grid[None, :]))   # (nt, A)
        mse, coefs, intercepts = [], [], []
        for k in range(len(grid)):
            dinv = (1.0 / (lam + grid[k]))[:, None]
            rhs = _concat([dinv * QrT, dinv * QtR])             # Q^T-side of B_.r and B_.t R
            top, bottom = Qt @ rhs, Qr @ rhs
            low = bk.cholesky(bottom[:, :nr])                   # B_rr = low low^T
            W = bk.solve_lower(low, _concat([top[:, :nr].T, bottom[:, nr:]]))
            Wt, WR = W[:, :nt], W[:, nt:]
            Ainv_R = top[:, nr:] - Wt.T @ WR                    # (K_tt + alpha I)^-1 R
            Ainv_diag = diag_btt[:, k] - (Wt * Wt).sum(0)
            u = Ainv_R[:, -1]                                    # (K_tt + alpha I)^-1 1
            b = Ainv_R[:, :-1].sum(0) / u.sum()                  # the intercept
            a = Ainv_R[:, :-1] - u[:, None] * b[None, :]         # dual coefficients, M^-1 y
            loo = a / (Ainv_diag - u * u / u.sum())[:, None]
            mse.append((loo ** 2).mean(0)[:, None])
            coefs.append(a)
            intercepts.append(b)
        best = bk.to_numpy(_concat(mse)).argmin(1)  # (targets,); ties: the smaller penalty, as in _fit
        a = _stack_pick(coefs, best, bk)
        b = _stack_pick([c[None, :] for c in intercepts], best, bk)[0]
        pred = K[te][:, tr] @ a + b
        out.append((bk.to_numpy(pred), bk.to_numpy(grid)[best]))
    return out


def _stack_pick(per_alpha, best: np.ndarray, bk: _Backend):
    """Column j of the result is column j of ``per_alpha[best[j]]``."""
    out = per_alpha[0] * 0
    for k in np.unique(best):
        cols = bk.index(np.flatnonzero(best == k))
        out[:, cols] = per_alpha[k][:, cols]
    return out
