"""Ridge regression with the penalty chosen per target by exact, efficient leave-one-out.

One thin SVD of the centred training features per fold gives, for every penalty of a grid
and every target at once, the exact leave-one-out residuals (the hat-matrix identity
``e_loo = (y - yhat) / (1 - h)``); each target keeps the penalty with the smallest mean squared
LOO error, which is what scikit-learn's ``RidgeCV(alpha_per_target=True)`` computes, at a
fraction of its cost. Features and targets are centred, i.e. an unpenalised intercept is fitted.

The SVD comes from an eigendecomposition of the smaller Gram matrix: the ``n x n`` kernel
``X X^T`` when features outnumber samples (dual form), ``X^T X`` otherwise (primal form).
Squaring the matrix loses the smallest singular values to rounding, but the penalty grid
starts at 1e-3 of the total variance, so those directions are shrunk to nothing either way;
that is also why float32 is accurate enough and is the default.

Two backends share the code: ``numpy`` and ``torch`` (CPU or CUDA via ``device``). Only
operators and methods that numpy arrays and torch tensors spell alike are used in the maths;
:class:`_Backend` holds the few that differ.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Penalties relative to the features' total variance (the trace of their covariance, i.e. of
# the centred Gram matrix per sample), so that the grid means the same for narrow and wide
# layers and for any units, and its floor (1e-3) keeps every fit well above float32 rounding of
# the eigenvalues. Features are centred but not standardised: standardising would blow
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
    return _fit(bk.asarray(X), bk.asarray(Y), alphas, bk)


def _check_data(X: np.ndarray, Y: np.ndarray) -> None:
    if X.ndim != 2 or Y.ndim != 2 or len(X) != len(Y) or X.shape[1] == 0:
        raise ValueError(f"need features (n, p >= 1) and responses (n, t) with the same n; "
                         f"got {X.shape} and {Y.shape}")
    for name, a in (("features", X), ("responses", Y)):
        if not np.isfinite(a).all():
            raise ValueError(f"{name} contain NaN or infinite values; ridge needs finite data")


def _fit(X, Y, alphas, bk: _Backend) -> RidgeFit:
    x_mean, y_mean = X.mean(0), Y.mean(0)
    Xc, Yc = X - x_mean, Y - y_mean
    U, d = _left_svd(Xc, bk)
    if alphas is None:
        grid = bk.asarray(ALPHA_GRID) * (d.sum() / X.shape[0])   # sum(d)/n = total variance
    else:
        grid = bk.asarray(np.atleast_1d(np.asarray(alphas, float)))
        if not (bk.to_numpy(grid) > 0).all():
            raise ValueError(f"ridge penalties must be positive; got {np.asarray(alphas)}")
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
    X, Y = bk.asarray(X), bk.asarray(Y)
    out = []
    for train, test in folds:
        if len(train) < 3:
            raise ValueError(f"a training fold has {len(train)} samples; leave-one-out needs at least 3")
        train, test = bk.index(train), bk.index(test)
        fit = _fit(X[train], Y[train], alphas, bk)
        out.append((bk.to_numpy(fit.predict(X[test])), bk.to_numpy(fit.alpha)))
    return out
