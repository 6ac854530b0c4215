"""Ridge regression with the penalty chosen per target by exact, efficient leave-one-out
(the default) or by generalised cross-validation (GCV).

One thin SVD of the centred training features per fold gives, for every penalty of a grid
and every target at once, the exact leave-one-out residuals (the hat-matrix identity
``e_loo = (y - yhat) / (1 - h)``); each target keeps the penalty with the smallest mean squared
LOO error, which is what scikit-learn's ``RidgeCV(alpha_per_target=True)`` computes, at a
fraction of its cost. Features and targets are centred, i.e. an unpenalised intercept is fitted.

The SVD comes from an eigendecomposition of the smaller Gram matrix: the ``n x n`` kernel
``X X^T`` when features outnumber samples (dual form), ``X^T X`` otherwise (primal form).
Squaring the matrix loses the smallest singular values to rounding (directions below
``max(n, p) * eps * d_max``), so the Gram matrix is formed and decomposed in float64 whatever
the working dtype: in float32 the cut-off (~1e-4 of the largest eigenvalue) removed most
directions of real conv layers, where the chosen penalties lie, and changed the penalties
picked on real V4 data (issue #14). The rest of the work runs in the working dtype.

Cross-validation over wide features (p > n, the usual case for a layer against a few hundred
or thousand images) decomposes the kernel of all samples once and gets each training fold's
solution from it by a block inverse (``_shared_kernel_cv``), every penalty of the grid in one
batch: it keeps every direction of the spectrum (no float32 cut-off), and per fold it costs
products with the held-out rows rather than a decomposition. Exact LOO needs the diagonal of
each training fold's hat matrix, the largest of those products; GCV needs only its trace and
runs about twice as fast (``benchmarks/mapping.py`` prints both).

Two backends share the code: ``numpy`` and ``torch`` (CPU or CUDA via ``device``). Only
operators and methods that numpy arrays and torch tensors spell alike are used in the maths;
:class:`_Backend` (and ``_concat``) hold the few that differ.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.io import InputError
from ..core.options import CRITERIA, ScoringSpec



def penalty_grid(low: float | None = None, high: float | None = None, steps: int | None = None) -> np.ndarray:
    """Penalties relative to the features' total variance (the trace of their covariance, i.e.
    of the centred Gram matrix per sample), log-spaced from ``low`` to ``high``: the grid means
    the same for narrow and wide layers and for any units, and its floor keeps the penalised
    systems well conditioned in float32. Features are centred but not standardised:
    standardising would blow near-silent units up to the size of active ones and let their noise
    dominate. Defaults: ScoringSpec's (1e-3 to 100 in half-decade steps)."""
    d = ScoringSpec()
    low, high, steps = low or d.alpha_low, high or d.alpha_high, steps or d.alpha_steps
    return np.logspace(np.log10(low), np.log10(high), steps)

# Cap on the (alphas x samples x targets) block of LOO residuals held at once, in elements.
_BLOCK_ELEMENTS = 1 << 24
# Cap on the (alphas x held-out rows x samples) blocks of the shared-kernel path, in elements.
_ALPHA_BLOCK_ELEMENTS = 1 << 26

# Penalty criteria, with the words the scores' attributes use for them.


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

    def as_float64(self, a):
        if self.name == "numpy":
            return np.asarray(a, dtype=np.float64)
        import torch

        return a.to(dtype=torch.float64)

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
        raise InputError(f"unknown dtype {dtype!r}; choose 'float32' or 'float64'")
    if backend not in ("auto", "numpy", "torch"):
        raise InputError(f"unknown backend {backend!r}; choose 'auto', 'numpy' or 'torch'")
    if backend == "numpy":
        if device not in (None, "cpu"):
            raise InputError(f"the numpy backend runs on the CPU only, not on device {device!r}")
        return _Backend("numpy", None, np.dtype(dtype))
    import torch

    device = torch.device(device if device is not None else ("cuda" if torch.cuda.is_available() else "cpu"))
    return _Backend("torch", device, getattr(torch, dtype))


@dataclass
class RidgeFit:
    """A fitted ridge map: ``predict(X) = (X - x_mean) @ weights + y_mean``.

    ``alpha`` (n_targets,) is the penalty chosen per target, ``alphas`` the grid tried and
    ``loo_mse`` (n_alphas, n_targets) the mean squared leave-one-out error of each (the GCV score
    under ``criterion="gcv"``); arrays live on the backend (numpy arrays or torch tensors).
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
    value are dropped. (The right singular vectors are never needed: see ``_fit``.)

    The Gram matrix and its eigendecomposition are always computed in float64, and U and d
    returned in the backend's dtype: squaring the matrix in float32 would lose every direction
    below ``max(n, p) * 1.2e-7`` of the largest eigenvalue (about 1e-4 for a few hundred images),
    where conv layers have most of their directions and the chosen penalties lie, so that the
    leave-one-out errors would no longer be exact. In float64 the cut-off is ~1e-13: only truly
    degenerate directions go. The extra cost is one ``min(n, p)``-sized float64 decomposition."""
    n, p = Xc.shape
    X64 = bk.as_float64(Xc)
    d, vecs = bk.eigh(X64 @ X64.T if p > n else X64.T @ X64)
    keep = d > max(n, p) * np.finfo(np.float64).eps * float(d.max())
    d, vecs = d[keep], vecs[:, keep]
    U = vecs if p > n else (X64 @ vecs) / d ** 0.5
    return bk.asarray(U), bk.asarray(d)


def _cv_mse(U, d, UtY, Yc, alphas, criterion: str = "loo"):
    """Mean squared exact leave-one-out error, or the GCV score, (n_alphas, n_targets) of
    ridge with an unpenalised intercept, for every penalty and target. Both divide the
    training residuals by one minus the leverage: per sample for LOO, its mean for GCV."""
    n = Yc.shape[0]
    shrink = d / (d + alphas[:, None])                   # (A, r): hat-matrix eigenvalues
    if criterion == "loo":
        leverage = 1.0 / n + (U * U) @ shrink.T           # (n, A); 1/n from the intercept
        scale = (1.0 - leverage).T[:, :, None]            # (A, n, 1)
    else:
        scale = (1.0 - (1.0 + shrink.sum(1)) / n)[:, None, None]   # trace(H) / n, intercept included
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
                  dtype: str = "float32", criterion: str = "loo", grid=None) -> RidgeFit:
    """Fit ridge regressions of every column of ``Y`` (n, t) on ``X`` (n, p), each with the
    penalty from ``alphas`` that minimises the exact leave-one-out squared error
    (``criterion="gcv"``: generalised cross-validation, see :func:`ridge_cv`).

    ``alphas=None`` uses ``grid`` (default :func:`penalty_grid`) times the features' total
    variance; explicit ``alphas`` are absolute. Ties go to the first (smallest, for a sorted grid)
    penalty, as in scikit-learn.
    """
    bk = get_backend(backend, device, dtype)
    X, Y = np.asarray(X), np.asarray(Y)
    _check_data(X, Y)
    if len(X) < 3:
        raise InputError(f"leave-one-out needs at least 3 samples; got {len(X)}")
    return _fit(bk.asarray(X), bk.asarray(Y), _checked_alphas(alphas), bk, _checked_criterion(criterion),
                _relative(grid))


def _check_data(X: np.ndarray, Y: np.ndarray) -> None:
    if X.ndim != 2 or Y.ndim != 2 or len(X) != len(Y) or X.shape[1] == 0:
        raise InputError(f"need features (n, p >= 1) and responses (n, t) with the same n; "
                         f"got {X.shape} and {Y.shape}")
    for name, a in (("features", X), ("responses", Y)):
        if not np.isfinite(a).all():
            raise InputError(f"{name} contain NaN or infinite values; ridge needs finite data")


def _checked_alphas(alphas):
    """Explicit penalties as a float array (checked once, before any fold), or None."""
    if alphas is None:
        return None
    alphas = np.atleast_1d(np.asarray(alphas, float))
    if not (alphas > 0).all():
        raise InputError(f"ridge penalties must be positive; got {alphas}")
    return alphas


def _checked_criterion(criterion: str) -> str:
    if criterion not in CRITERIA:
        raise InputError(f"unknown penalty criterion {criterion!r}; choose from {tuple(CRITERIA)}")
    return criterion


def _relative(grid) -> np.ndarray:
    return penalty_grid() if grid is None else np.asarray(grid, float)


def _grid(alphas, total_variance, bk: _Backend, relative: np.ndarray):
    """The penalties tried: explicit ``alphas``, else the ``relative`` grid times the training
    features' total variance (``total_variance()``, computed only then)."""
    if alphas is None:
        return bk.asarray(relative) * total_variance()
    return bk.asarray(alphas)


def _fit(X, Y, alphas, bk: _Backend, criterion: str = "loo", relative=None) -> RidgeFit:
    x_mean, y_mean = X.mean(0), Y.mean(0)
    Xc, Yc = X - x_mean, Y - y_mean
    U, d = _left_svd(Xc, bk)
    grid = _grid(alphas, lambda: d.sum() / X.shape[0], bk, _relative(relative))   # sum(d)/n = total variance
    UtY = U.T @ Yc
    mse = _cv_mse(U, d, UtY, Yc, grid, criterion)
    alpha = grid[mse.argmin(0)]
    # Ridge weights V diag(sqrt(d) / (d + alpha)) U^T Yc, written as Xc^T U diag(1 / (d + alpha))
    # U^T Yc (since Xc^T U = V diag(sqrt(d))): two thin products instead of forming V.
    weights = Xc.T @ (U @ (UtY / (d[:, None] + alpha[None, :])))
    return RidgeFit(bk, x_mean, y_mean, weights, alpha, grid, mse)


def ridge_cv(X, Y, folds, alphas=None, *, backend: str = "auto", device=None, dtype: str = "float32",
             criterion: str = "loo", grid=None, on_fold=None):
    """Cross-validated ridge: for each (train, test) pair of ``folds``, fit on the training rows
    (penalty per target chosen within them) and predict the test rows. Returns a list of
    ``(prediction (n_test, t), alpha (t,))`` numpy pairs. ``X`` and ``Y`` go to the backend's
    device once, so folds run there without copies back and forth.

    ``criterion``: "loo", the exact leave-one-out error (the default), or "gcv", generalised
    cross-validation (Golub, Heath & Wahba 1979: the mean squared training residual over the
    squared mean of one minus the leverage). GCV needs only the trace of the hat matrix, not
    its diagonal, which makes wide-feature cross-validation about twice as fast; it usually
    picks the same or a neighbouring penalty.

    ``on_fold``: called with no argument after each fold (progress reports)."""
    bk = get_backend(backend, device, dtype)
    X, Y = np.asarray(X), np.asarray(Y)
    _check_data(X, Y)
    for train, _ in folds:
        if len(train) < 3:
            raise InputError(f"a training fold has {len(train)} samples; leave-one-out needs at least 3")
    alphas, criterion, grid = _checked_alphas(alphas), _checked_criterion(criterion), _relative(grid)
    X, Y = bk.asarray(X), bk.asarray(Y)
    if len(folds) > 1 and X.shape[1] > X.shape[0]:
        return _shared_kernel_cv(X, Y, folds, alphas, bk, criterion, grid, on_fold)
    out = []
    for train, test in folds:
        train, test = bk.index(train), bk.index(test)
        fit = _fit(X[train], Y[train], alphas, bk, criterion, grid)
        out.append((bk.to_numpy(fit.predict(X[test])), bk.to_numpy(fit.alpha)))
        if on_fold is not None:
            on_fold()
    return out


def _shared_kernel_cv(X, Y, folds, alphas, bk: _Backend, criterion: str, relative: np.ndarray, on_fold=None):
    """``ridge_cv`` for wide features (p > n) from ONE eigendecomposition for all folds.

    Per fold, the eigendecomposition of the training kernel dominates the cost of ``_fit``.
    Here ``K = Q diag(lam) Q^T`` of all n samples is decomposed once. For a fold with training
    rows t and the other rows r, ``B = (K + alpha I)^-1 = Q D Q^T`` with ``D = diag(1 / (lam +
    alpha))``, and the block-inverse (Schur complement) identity gives the training system's
    inverse exactly, ``(K_tt + alpha I)^-1 = B_tt - B_tr B_rr^-1 B_rt``. Written in the
    eigenbasis, ``B_tr B_rr^-1 B_rt = Q_t G^T G Q_t^T`` with ``G = L^-1 Q_r D`` (``L L^T =
    B_rr``), so each penalty costs products with the few held-out rows, all penalties at once.
    The unpenalised intercept is the limit c -> inf of the kernel ``K + c 11^T``, a rank-one
    correction; the leave-one-out residual of kernel ridge is ``(M^-1 y)_i / (M^-1)_ii`` and
    GCV needs only the trace of ``M^-1``. The result equals ``_fit`` fold by fold (a test checks it).
    """
    n = X.shape[0]
    Xg = X - X.mean(0)  # a shift the intercept absorbs; it keeps float32 kernels accurate
    # With an unpenalised intercept the dual coefficients sum to zero, so adding c 11^T to the
    # kernel changes nothing but rounding: it lifts the constant direction, an eigenvalue ~0 of
    # the centred kernel, to an average one, without which B = (K + alpha I)^-1 is dominated by
    # 1 / alpha along it and float32 loses ~3 digits in the block inverse below.
    # The kernel and its decomposition in float64, as in _left_svd (see there): in float32 the
    # small eigenvalues, where the chosen penalties lie on steep spectra, drown in rounding.
    Xg64 = bk.as_float64(Xg)
    K64 = Xg64 @ Xg64.T
    K64 = K64 + K64.diagonal().mean() / n
    lam, Q = bk.eigh(K64)
    K, lam, Q = bk.asarray(K64), bk.asarray(lam), bk.asarray(Q)
    Q2t = (Q * Q).T if criterion == "loo" else None   # diag(B) = D @ Q2t
    R = _concat([Y, bk.asarray(np.ones((n, 1)))])      # targets and the constant
    out = []
    for train, test in folds:
        mask = np.zeros(n, bool)
        mask[np.asarray(train)] = True
        tr, te, Qr = bk.index(train), bk.index(test), Q[bk.index(np.flatnonzero(~mask))]
        ind, nt = bk.asarray(mask), len(train)
        # No gathers of the big Q or K by training rows (slower than the products): products
        # with the zero-padded training part instead, and rows picked from the small results.
        QtR = Q.T @ (R * ind[:, None])                  # Q_t^T R, (n, t + 1)

        def total_variance():  # as in _fit: of the fold's features, from its centred kernel
            return (K.diagonal() @ ind - ind @ (K @ ind) / nt) / nt

        grid = _grid(alphas, total_variance, bk, relative)
        eye = bk.asarray(np.eye(Qr.shape[0]))
        step = max(1, _ALPHA_BLOCK_ELEMENTS // (Qr.shape[0] * n))  # penalties per batch
        best = None
        for a0 in range(0, len(grid), step):
            D = 1.0 / (lam[None, :] + grid[a0:a0 + step, None])            # (A, n)
            QrD = Qr[None] * D[:, None, :]                                  # B_r. = QrD Q^T
            low = bk.cholesky(QrD @ Qr.T)                                   # B_rr = low low^T
            G = bk.solve_lower(low, eye) @ QrD                              # (A, nr, n)
            # (K_tt + alpha I)^-1 R = Q_t z: eigenbasis coordinates, for every penalty at once
            z = D[:, :, None] * QtR[None] - G.swapaxes(1, 2) @ (G @ QtR)    # (A, n, t + 1)
            zy, z1 = z[:, :, :-1], z[:, :, -1:]
            su = (QtR[None, :, -1:] * z1).sum(1)                            # 1^T (K_tt + alpha I)^-1 1
            b = (QtR[None, :, -1:] * zy).sum(1) / su                        # the intercepts (A, t)
            w = zy - z1 * b[:, None, :]                                     # dual coefficients = Q_t w
            if criterion == "loo":  # per-sample leverage from diag of (K_tt + alpha I)^-1
                Qz = (Q @ z)[:, tr]                                         # (A, nt, t + 1)
                u = Qz[:, :, -1]
                W = G @ Q.T                                                 # (A, nr, n)
                diag = (D @ Q2t - (W * W).sum(1))[:, tr]
                coef = Qz[:, :, :-1] - u[:, :, None] * b[:, None, :]
                mse = ((coef / (diag - u * u / su)[:, :, None]) ** 2).mean(1)
            else:  # GCV: traces only. trace (K_tt + alpha I)^-1 = trace(B) - |G|^2, and
                # |Q_t v|^2 = |v|^2 - |Q_r v|^2 since Q is orthogonal
                def sq_norms(v):
                    return (v * v).sum(1) - ((Qr @ v) ** 2).sum(1)
                trace = D.sum(1)[:, None] - (G * G).sum((1, 2))[:, None]
                mean_scale = (trace - sq_norms(z1) / su) / nt              # mean of (1 - h) / alpha
                mse = sq_norms(w) / nt / mean_scale ** 2
            best = _keep_best(best, mse, w, b, a0, bk)
        _, idx, w, b = best
        coef = (Q @ w) * ind[:, None]                                       # zero off the training rows
        pred = K[te] @ coef + b
        out.append((bk.to_numpy(pred), bk.to_numpy(grid)[idx]))
        if on_fold is not None:
            on_fold()
    return out


def _keep_best(best, mse, coef, b, offset: int, bk: _Backend):
    """Merge a batch of penalties (``mse`` (A, t), ``coef`` (A, m, t), ``b`` (A, t)) into the
    best ``(mse, penalty index, coef, b)`` per target so far; ties keep the earlier penalty."""
    m = bk.to_numpy(mse)
    k = m.argmin(0)
    cols = np.arange(m.shape[1])
    new = (m[k, cols], k + offset, coef[bk.index(k), :, bk.index(cols)].T, b[bk.index(k), bk.index(cols)])
    if best is None:
        return new
    better = np.flatnonzero(new[0] < best[0])
    if len(better):
        best[0][better], best[1][better] = new[0][better], new[1][better]
        best[2][:, bk.index(better)] = new[2][:, bk.index(better)]
        best[3][bk.index(better)] = new[3][bk.index(better)]
    return best
