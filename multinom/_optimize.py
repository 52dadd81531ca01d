"""Reaching the maximum of the (penalised) multinomial likelihood.

Two phases, both on the coefficients ``B`` (J, p) of :mod:`multinom._likelihood`:

*L-BFGS on a well-conditioned parametrisation.*
    The raw design of a lineage model (an uncentred date times country
    dummies) is so badly conditioned that plain L-BFGS needs tens of
    thousands of iterations. We optimise instead over ``S`` with
    ``B_j = c_j L^{-T} S_j`` where ``L L^T = Z^T diag(m) Z`` (the weighted Gram
    matrix of the model matrix) and ``c_j = 1 / sqrt(q_j (1 - q_j))`` with
    ``q_j`` the observed share of level ``j``. At the intercept-only
    probabilities ``q`` this makes every diagonal block of the Hessian the
    identity: a block-Jacobi preconditioner. The map is linear and exact, so
    the optimum is unchanged; the gradient maps back as ``c_j L^{-1} g_j``.

*Newton polish with the exact information.*
    ``H delta = -g`` with ``H`` from :func:`multinom.information.information_matrix`
    (plus ``2 decay`` on the diagonal), solved by a Jacobi-scaled Cholesky
    factorisation (Levenberg damping if it fails). A backtracking line search
    keeps every step a descent step; when the full step is accepted, doubling
    it is tried as well, which turns the linear tail of a coefficient that
    diverges (a category never observed in some cell) into a fast one.

Convergence is scale-free: the Newton decrement ``lambda^2 = g^T H^{-1} g``
estimates twice the gap ``f - f*`` in log-likelihood units whatever the
parametrisation; we stop when ``lambda^2 / 2 <= tol * |f|``. With L-BFGS alone
the same quantity is approximated by the preconditioned gradient norm.

Coefficients that diverge (quasi-complete separation) are recognised by the
last Newton direction: at a finite optimum it shrinks quadratically, but along
an exponential tail ``c exp(-beta)`` it stays of length ~1 in the linear
predictor whatever ``beta``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.linalg import cho_factor, cho_solve, solve_triangular
from scipy.optimize import minimize

from ._likelihood import linear_predictor, log_softmax, loglik, objective, objective_censored
from . import information as _information
from .information import check_memory, information_nbytes, observed_information

__all__ = ["OptimResult", "fit_coefficients"]

#: "auto" uses Newton polish only while the information matrix stays below this.
NEWTON_MAX_BYTES = 2 * 2**30


@dataclass
class OptimResult:
    """What the optimiser found.

    Attributes
    ----------
    B : ndarray (J, p)
    f : float
        Penalised negative log-likelihood at ``B``.
    P : ndarray (n, K)
    converged : bool
    n_iter : int
        L-BFGS iterations plus Newton steps.
    n_lbfgs, n_newton : int
    criterion : float
        ``decrement / 2 / |f|`` at the end (relative estimated gap to the optimum).
    method : str
        What ran: ``"newton"``, ``"lbfgs"`` or ``"lbfgs+newton"``.
    diverging : ndarray of bool (J, p)
        Coefficients moving off to infinity.
    message : str
    history : list of dict
        One entry per Newton step (f, decrement, step length), for trace/docs.
    """

    B: np.ndarray
    f: float
    P: np.ndarray
    converged: bool
    n_iter: int
    n_lbfgs: int
    n_newton: int
    criterion: float
    method: str
    diverging: np.ndarray
    message: str
    seconds: float = 0.0
    history: list = field(default_factory=list)


class ColumnTransform:
    """An exact, sparsity-preserving reparametrisation ``Z' = Z T`` that centres and scales.

    A numeric column ``z_k`` whose non-zeros all lie where an indicator column
    ``z_a`` (the intercept, a dummy, a product of dummies) is 1 -- its
    *parent* -- is replaced by ``(z_k - mu_k z_a) / s_k``, with ``mu_k`` and
    ``s_k`` the weighted mean and standard deviation of ``z_k`` where the
    parent is 1. ``date`` is centred against the intercept,
    ``country:date`` within its country: the support, hence the sparsity, is
    unchanged, and the near-collinearity of an uncentred date with the
    intercept (condition numbers of 1e10 and more) disappears. Columns
    without a parent are only scaled. ``eta = Z B^T = Z' B'^T`` with
    ``B = B' T^T``, so the optimum maps back exactly.
    """

    def __init__(self, Z, m):
        p = Z.shape[1]
        rows = np.flatnonzero(m > 0)
        Zu = Z[rows]
        wu = m[rows]
        Zc = sp.csc_matrix(Zu)
        T = sp.lil_matrix((p, p))
        nnz = np.diff(Zc.indptr)
        is_ind = np.zeros(p, dtype=bool)
        for k in range(p):
            v = Zc.data[Zc.indptr[k]:Zc.indptr[k + 1]]
            is_ind[k] = nnz[k] > 0 and np.all(v == 1.0)
        pattern = Zc.copy()
        pattern.data = np.ones_like(pattern.data)
        overlap = (pattern.T @ pattern).tocsc()  # |S_a ∩ S_k|
        for k in range(p):
            lo, hi = Zc.indptr[k], Zc.indptr[k + 1]
            if hi == lo:
                T[k, k] = 1.0
                continue
            idx, v = Zc.indices[lo:hi], Zc.data[lo:hi]
            ww = wu[idx]
            if is_ind[k]:
                T[k, k] = 1.0
                continue
            # parent: the indicator with the smallest support containing S_k
            col = overlap[:, k]
            cand = col.indices[(col.data == nnz[k]) & is_ind[col.indices]]
            parent = cand[np.argmin(nnz[cand])] if len(cand) else -1
            if parent >= 0:
                pidx = Zc.indices[Zc.indptr[parent]:Zc.indptr[parent + 1]]
                wsum = wu[pidx].sum()
                mu = float(np.sum(ww * v) / wsum) if wsum > 0 else 0.0
                var = (np.sum(ww * (v - mu) ** 2) + (wsum - ww.sum()) * mu * mu) / wsum if wsum > 0 else 0.0
            else:
                mu = 0.0
                tot = ww.sum()
                var = float(np.sum(ww * v * v) / tot) if tot > 0 else 0.0
            s = math.sqrt(var) if var > 0 else 1.0
            T[k, k] = 1.0 / s
            if parent >= 0:
                T[parent, k] = -mu / s
        self.T = T.tocsc()
        self.identity = bool(np.all(self.T.diagonal() == 1.0) and self.T.nnz == p)

    def transform_Z(self, Z):
        if self.identity:
            return Z
        out = Z @ self.T
        return out.tocsr() if sp.issparse(out) else np.asarray(out)

    def to_original(self, Bt):
        """``B = B' T^T``."""
        return np.asarray((self.T @ Bt.T).T)

    def to_transformed(self, B):
        """``B' = B T^{-T}``."""
        if self.identity:
            return B
        from scipy.sparse.linalg import spsolve
        sol = spsolve(self.T.tocsc(), B.T)
        return np.asarray(sol).reshape(B.shape[1], B.shape[0]).T if B.shape[0] > 1 else np.asarray(sol).reshape(1, -1)


class _Problem:
    """The objective on a fixed design; ``censored`` switches to nnet's censored likelihood."""

    def __init__(self, Z, Y, offset, decay, censored=False):
        self.Z, self.Y, self.offset, self.decay = Z, Y, offset, float(decay)
        self.censored = bool(censored)
        self.m = Y.max(axis=1) if censored else Y.sum(axis=1)
        self.J = Y.shape[1] - 1
        self.p = Z.shape[1]
        self.n_fg = 0

    def fg(self, B):
        self.n_fg += 1
        if self.censored:
            f, G, P, _ = objective_censored(B, self.Z, self.Y, self.offset, self.decay)
            return f, G, P
        return objective(B, self.Z, self.Y, self.offset, self.decay)

    def f(self, B):
        self.n_fg += 1
        logp = log_softmax(linear_predictor(self.Z, B, self.offset))
        val = -loglik(logp, self.Y, self.censored)
        if self.decay:
            val += self.decay * float(np.sum(B * B))
        return val

    def hessian(self, B, P, sparse_output=False):
        """Hessian of the objective at ``B`` (``P`` its probabilities)."""
        return observed_information(P, self.Z, self.Y, censored=self.censored, decay=self.decay,
                                    sparse_output=sparse_output)


# --------------------------------------------------------------------------- #
# Preconditioned L-BFGS
# --------------------------------------------------------------------------- #
class _Preconditioner:
    """``B_j = c_j L^{-T} S_j``; see the module docstring."""

    def __init__(self, prob: _Problem):
        Z, m = prob.Z, prob.m
        if sp.issparse(Z):
            G = (Z.T @ Z.multiply(m[:, None])).toarray()
        else:
            G = Z.T @ (Z * m[:, None])
        G = np.asarray(G) + 2.0 * prob.decay * np.eye(prob.p)
        d = np.sqrt(np.maximum(np.diag(G), 1e-300))
        Gs = G / d[:, None] / d[None, :]
        Gs[np.diag_indices_from(Gs)] += 1e-10
        self.L = np.linalg.cholesky(Gs) * d[:, None]  # L L^T = G (+ tiny ridge)
        # explicit inverse once: the per-iteration maps are then plain products
        # (a triangular solve per call costs more than the product for small p)
        self.Linv = solve_triangular(self.L, np.eye(prob.p), lower=True)
        q = prob.Y.sum(axis=0) / max(prob.Y.sum(), 1e-300)
        v = np.clip(q[1:] * (1.0 - q[1:]), 1e-8, None)
        self.c = 1.0 / np.sqrt(v)

    def to_B(self, S):
        return (S @ self.Linv) * self.c[:, None]  # rows: c_j L^{-T} S_j

    def to_S(self, B):
        return (B / self.c[:, None]) @ self.L

    def grad_to_S(self, G):
        return (G @ self.Linv.T) * self.c[:, None]  # rows: c_j L^{-1} g_j


def _lbfgs(prob: _Problem, B0, maxiter, ftol, gtol, trace):
    pre = _Preconditioner(prob)
    shape = B0.shape
    it = [0]

    def fun(s):
        B = pre.to_B(s.reshape(shape))
        f, G, _ = prob.fg(B)
        gs = pre.grad_to_S(G)
        return f, gs.ravel()

    def callback(xk):
        it[0] += 1
        if trace and it[0] % 50 == 0:
            print(f"  L-BFGS iteration {it[0]}")

    res = minimize(fun, pre.to_S(B0).ravel(), jac=True, method="L-BFGS-B", callback=callback,
                   options={"maxiter": int(maxiter), "ftol": ftol, "gtol": gtol, "maxcor": 20,
                            "maxls": 50})
    B = pre.to_B(res.x.reshape(shape))
    f, G, P = prob.fg(B)
    gs = pre.grad_to_S(G)
    # ||g||^2 in the preconditioned metric approximates the Newton decrement
    approx_decrement = float(np.sum(gs * gs))
    return B, f, G, P, int(res.nit), approx_decrement, res


# --------------------------------------------------------------------------- #
# Newton
# --------------------------------------------------------------------------- #
def _newton_direction(H, g, mu0=0.0):
    """Solve ``H d = -g`` by a Jacobi-scaled Cholesky; damp when not positive definite.

    A sparse ``H`` (factor-heavy designs) is solved by a sparse LU with a
    fill-reducing ordering, checked by its residual; dense Cholesky otherwise.
    """
    if sp.issparse(H):
        step = _sparse_solve(H, g, mu0)
        if step is not None:
            return step, mu0
        H = H.toarray()
    d = np.sqrt(np.maximum(np.diag(H), 1e-300))
    Hs = H / d[:, None] / d[None, :]
    gs = g / d
    mu = mu0
    for _ in range(12):
        try:
            A = Hs if mu == 0.0 else Hs + mu * np.eye(len(gs))
            c = cho_factor(A, lower=False, overwrite_a=False, check_finite=False)
            step = -cho_solve(c, gs, check_finite=False)
            if np.all(np.isfinite(step)):
                return step / d, mu
        except np.linalg.LinAlgError:
            pass
        mu = 1e-10 if mu == 0.0 else mu * 100.0
    return -g / d**2, math.inf  # diagonal step as a last resort


def _sparse_solve(H, g, mu=0.0):
    from scipy.sparse.linalg import splu
    d = np.sqrt(np.maximum(H.diagonal(), 1e-300))
    Dinv = sp.diags(1.0 / d)
    Hs = (Dinv @ H @ Dinv).tocsc()
    if mu:
        Hs = (Hs + mu * sp.identity(Hs.shape[0], format="csc")).tocsc()
    try:
        lu = splu(Hs, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                  options={"SymmetricMode": True})
        x = -lu.solve(g / d)
        for _ in range(2):  # iterative refinement
            r = -(g / d) - Hs @ x
            x = x + lu.solve(r)
    except (RuntimeError, ValueError):
        return None
    res = np.linalg.norm(Hs @ x + g / d)
    if not np.all(np.isfinite(x)) or res > 1e-8 * max(np.linalg.norm(g / d), 1e-300) or float(-(g / d) @ x) <= 0:
        return None
    return x / d


def _gap_scale(f, f_start):
    """Scale of the relative convergence criterion.

    ``|f|``, except that it may not vanish: under complete separation the
    infimum of ``f`` is 0, so a thousandth of the starting objective bounds it.
    """
    return max(abs(f), 1e-3 * abs(f_start), 1e-300)


def _newton(prob: _Problem, B, f, G, P, maxiter, tol, trace, history, f_start):
    J, p = B.shape
    n_steps = 0
    converged = False
    crit = math.inf
    last_dir = np.zeros_like(B)
    damping = 0.0  # Levenberg-Marquardt damping, raised after poor steps
    for _ in range(int(maxiter)):
        H = prob.hessian(B, P, sparse_output=sp.issparse(prob.Z))
        g = G.ravel()
        step, mu = _newton_direction(H, g, damping)
        dec = float(-g @ step)  # Newton decrement lambda^2 (damped: a lower bound)
        last_dir = step.reshape(J, p)
        if not np.isfinite(dec) or dec < 0:
            dec = math.inf
        # the objective is >= 0 (probabilities <= 1), so f itself bounds the gap too
        crit = min(0.5 * dec, f) / _gap_scale(f, f_start)
        # line search: Armijo backtracking, then doubling while it keeps paying
        alpha, f_new, B_new = 1.0, None, None
        slope = float(g @ step)
        for _ls in range(60):
            B_try = B + alpha * last_dir
            f_try = prob.f(B_try)
            if np.isfinite(f_try) and f_try <= f + 1e-4 * alpha * slope:
                f_new, B_new = f_try, B_try
                break
            alpha *= 0.5
        if f_new is not None and alpha == 1.0:
            while alpha < 64.0:
                B_try = B + 2.0 * alpha * last_dir
                f_try = prob.f(B_try)
                if np.isfinite(f_try) and f_try < f_new - 1e-4 * alpha * abs(slope):
                    alpha, f_new, B_new = 2.0 * alpha, f_try, B_try
                else:
                    break
        n_steps += 1
        if f_new is None or alpha < 0.25:
            damping = max(10.0 * damping, 1e-3) if damping < 1e6 else damping
        elif alpha >= 1.0:
            damping = 0.0 if damping < 1e-6 else damping / 10.0
        history.append({"f": f, "decrement": dec, "alpha": alpha if f_new is not None else 0.0,
                        "damping": mu})
        if trace:
            print(f"  Newton step {n_steps}: f = {f:.10g}, decrement/2|f| = {crit:.3g}, "
                  f"step = {alpha if f_new is not None else 0:g}")
        if f_new is None:
            if crit <= max(tol, 1e-9):
                converged = True  # at the floor of floating-point resolution
                break
            if damping < 1e6:
                continue  # retry with more damping
            break
        B = B_new
        f, G, P = prob.fg(B)
        if crit <= tol and mu == 0.0:
            converged = True
            break
    return B, f, G, P, n_steps, converged, crit, last_dir


def _diverging(direction, Zt, Z, Y, converged, T=None):
    """Coefficients that diverge to +-infinity or are not estimable.

    Two signs, either suffices:

    * *zero cells*: level ``j`` (or the baseline) is never observed on the
      rows where column ``k`` is non-zero. The score equation of an indicator
      column then forces ``p_j = 0`` there, reached only at infinity, and
      every coefficient living on those rows alone (``country:date`` for an
      absent lineage) is not estimable;
    * at a converged fit, the last Newton direction is still of order one in
      the linear predictor (along an exponential tail ``c exp(-beta)`` the
      Newton step is 1 whatever ``beta``; at a finite optimum it vanishes
      quadratically). This catches separation by a continuous predictor.
      The direction lives in the transformed coordinates ``B' `` of
      :class:`ColumnTransform`; ``B = B' T^T`` makes original column ``k``
      diverge when any transformed column it is built from does.
    """
    J, p = Y.shape[1] - 1, Z.shape[1]
    flags = np.zeros((J, p), dtype=bool)
    rows = np.flatnonzero(Y.sum(axis=1) > 0)
    if p == 0 or len(rows) == 0:
        return flags
    Zu, Yu = Z[rows], Y[rows]
    support = (abs(Zu) > 0).astype(float)
    support = sp.csr_matrix(support) if sp.issparse(Zu) else support
    observed = np.asarray((support.T @ Yu)).T  # (K, p): counts of each level on each column's rows
    flags |= observed[1:] <= 0
    flags |= observed[:1] <= 0
    if direction is not None and converged:
        Zt_u = Zt[rows]
        if sp.issparse(Zt_u):
            zmax = np.asarray(abs(Zt_u).max(axis=0).todense()).ravel()
        else:
            zmax = np.abs(Zt_u).max(axis=0)
        with np.errstate(invalid="ignore", over="ignore"):
            moving = ~(np.abs(direction) * zmax[None, :] <= 0.05)
        if T is not None:
            moving = np.asarray(sp.csr_matrix(moving.astype(float)) @ (abs(T) > 0).T.astype(float)
                                .todense()) > 0
        flags |= moving
    return flags


def choose_method(method: str, n_coef: int) -> str:
    """Resolve ``method="auto"`` for a problem with ``n_coef`` coefficients."""
    if method not in ("auto", "lbfgs", "newton"):
        raise ValueError(f"method must be 'auto', 'lbfgs' or 'newton', got {method!r}")
    if method != "auto":
        return method
    available = _information._available_memory()
    budget = NEWTON_MAX_BYTES if available is None else min(NEWTON_MAX_BYTES, available // 4)
    if information_nbytes(n_coef) > budget:
        return "lbfgs"
    return "lbfgs+newton"


def fit_coefficients(Z, Y, offset=None, *, decay=0.0, start=None, method="auto", maxit=10000,
                     tol=1e-10, trace=False, censored=False) -> OptimResult:
    """Minimise the penalised negative log-likelihood over ``B`` (J, p).

    Parameters
    ----------
    Z : ndarray or scipy.sparse (n, p)
        Model matrix with full column rank on the rows of positive weight.
    Y : ndarray (n, K)
    offset : ndarray (n, K) or None
    decay : float
    start : ndarray (J, p), optional
        Starting coefficients; default: zero slopes and, when ``Z`` has a
        constant column, intercepts at the observed log-odds.
    method : {"auto", "newton", "lbfgs"}
    maxit : int
        Maximum L-BFGS iterations (Newton steps are capped at ``min(maxit, 200)``).
    tol : float
        Relative convergence tolerance on the estimated gap ``decrement/2/|f|``.
    trace : bool
        Print progress.
    censored : bool
        ``Y`` marks the possible classes of each row (nnet's ``censored``);
        see :func:`multinom._likelihood.objective_censored`.
    """
    t0 = time.perf_counter()
    J, p = Y.shape[1] - 1, Z.shape[1]
    m = Y.max(axis=1) if censored else Y.sum(axis=1)
    # an exact reparametrisation that centres and scales columns (not with a
    # penalty, which is defined on the original coefficients)
    ct = ColumnTransform(Z, m) if decay == 0 and p > 0 else None
    Zt = ct.transform_Z(Z) if ct is not None else Z
    prob = _Problem(Zt, Y, offset, decay, censored)
    if start is None:
        B0 = np.zeros((J, p))
        if offset is None:
            _start_intercepts(B0, Zt, Y)
    else:
        B0 = np.array(start, dtype=float).reshape(J, p)
        if ct is not None:
            B0 = ct.to_transformed(B0)
    resolved = choose_method(method, J * p)
    history: list = []
    f, G, P = prob.fg(B0)
    f_start = f
    B = B0
    n_lbfgs = n_newton = 0
    converged = False
    crit = math.inf
    direction = None
    if resolved in ("lbfgs", "lbfgs+newton") and p > 0:
        warm = resolved == "lbfgs+newton"
        ftol = 1e-7 if warm else max(tol * 1e-3, 1e-16)
        gtol = 1e-5 if warm else 1e-10
        iters = min(maxit, 300) if warm else maxit
        B, f, G, P, n_lbfgs, approx_dec, res = _lbfgs(prob, B, iters, ftol, gtol, trace)
        crit = 0.5 * approx_dec / _gap_scale(f, f_start)
        if not warm:
            converged = crit <= tol or (res.success and crit <= 1e3 * tol)
    if resolved in ("newton", "lbfgs+newton") and p > 0:
        check_memory(J * p)
        B, f, G, P, n_newton, converged, crit, direction = _newton(
            prob, B, f, G, P, min(maxit, 200), tol, trace, history, f_start)
    if p == 0:
        converged, crit = True, 0.0
    diverging = _diverging(direction, Zt, Z, Y, converged,
                           None if ct is None or ct.identity else ct.T)
    if ct is not None:
        B = ct.to_original(B)
    msg = "converged" if converged else "maximum number of iterations reached before convergence"
    return OptimResult(B=B, f=f, P=P, converged=converged, n_iter=n_lbfgs + n_newton,
                       n_lbfgs=n_lbfgs, n_newton=n_newton, criterion=crit, method=resolved,
                       diverging=diverging, message=msg, seconds=time.perf_counter() - t0,
                       history=history)


def _start_intercepts(B0, Z, Y):
    """Intercepts at the observed log-odds against the baseline (slopes zero)."""
    if Z.shape[1] == 0:
        return
    col = Z[:, 0]
    col = col.toarray().ravel() if sp.issparse(col) else np.asarray(col).ravel()
    if not np.allclose(col, 1.0):
        return
    tot = Y.sum(axis=0)
    if tot[0] <= 0:
        return
    with np.errstate(divide="ignore"):
        lo = np.log(np.maximum(tot[1:], 1e-8 * tot.sum()) / tot[0])
    B0[:, 0] = lo
