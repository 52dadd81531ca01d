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

from ._likelihood import log_softmax, linear_predictor, objective
from .information import information_matrix, information_nbytes

__all__ = ["OptimResult", "fit_coefficients"]

#: "auto" uses Newton polish only while the information matrix stays below this.
NEWTON_MAX_BYTES = 2 * 2**30
#: "auto" goes straight to Newton (no L-BFGS warm start) for this many coefficients or fewer.
NEWTON_DIRECT_MAX_COEF = 800


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


class _Problem:
    def __init__(self, Z, Y, offset, decay):
        self.Z, self.Y, self.offset, self.decay = Z, Y, offset, float(decay)
        self.m = Y.sum(axis=1)
        self.J = Y.shape[1] - 1
        self.p = Z.shape[1]
        self.n_fg = 0

    def fg(self, B):
        self.n_fg += 1
        return objective(B, self.Z, self.Y, self.offset, self.decay)

    def f(self, B):
        self.n_fg += 1
        logp = log_softmax(linear_predictor(self.Z, B, self.offset))
        mask = self.Y != 0
        val = -float(np.sum(self.Y[mask] * logp[mask]))
        if self.decay:
            val += self.decay * float(np.sum(B * B))
        return val


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
        q = prob.Y.sum(axis=0) / max(prob.Y.sum(), 1e-300)
        v = np.clip(q[1:] * (1.0 - q[1:]), 1e-8, None)
        self.c = 1.0 / np.sqrt(v)

    def to_B(self, S):
        return solve_triangular(self.L, S.T, trans="T", lower=True).T * self.c[:, None]

    def to_S(self, B):
        return (self.L.T @ (B / self.c[:, None]).T).T

    def grad_to_S(self, G):
        return solve_triangular(self.L, G.T, lower=True).T * self.c[:, None]


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
def _newton_direction(H, g):
    """Solve ``H d = -g`` by a Jacobi-scaled Cholesky; damp when not positive definite."""
    d = np.sqrt(np.maximum(np.diag(H), 1e-300))
    Hs = H / d[:, None] / d[None, :]
    gs = g / d
    mu = 0.0
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


def _newton(prob: _Problem, B, f, G, P, maxiter, tol, trace, history):
    J, p = B.shape
    n_steps = 0
    converged = False
    crit = math.inf
    last_dir = np.zeros_like(B)
    scale_f = max(abs(f), 1e-300)
    for _ in range(int(maxiter)):
        H = information_matrix(P[:, 1:], prob.Z, prob.m, decay=prob.decay)
        g = G.ravel()
        step, mu = _newton_direction(H, g)
        dec = float(-g @ step)  # Newton decrement lambda^2
        last_dir = step.reshape(J, p)
        scale_f = max(abs(f), 1e-300)
        crit = 0.5 * dec / scale_f
        if not np.isfinite(dec) or dec < 0:
            dec, crit = math.inf, math.inf
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
        history.append({"f": f, "decrement": dec, "alpha": alpha if f_new is not None else 0.0,
                        "damping": mu})
        if trace:
            print(f"  Newton step {n_steps}: f = {f:.10g}, decrement/2|f| = {crit:.3g}, "
                  f"step = {alpha if f_new is not None else 0:g}")
        if f_new is None:
            # no decrease possible: at the floor of floating-point resolution?
            converged = crit <= max(tol, 1e-12) or crit <= 1e-9
            break
        B = B_new
        f, G, P = prob.fg(B)
        if crit <= tol:
            converged = True
            break
    return B, f, G, P, n_steps, converged, crit, last_dir


def _diverging(direction, Z, m, converged):
    """Coefficients whose last Newton direction is still of order one."""
    if direction is None or not converged:
        return np.zeros_like(direction, dtype=bool) if direction is not None else None
    rows = np.flatnonzero(m > 0)
    Zu = Z[rows]
    if sp.issparse(Zu):
        zmax = np.asarray(abs(Zu).max(axis=0).todense()).ravel()
    else:
        zmax = np.abs(Zu).max(axis=0) if len(rows) else np.zeros(Z.shape[1])
    return np.abs(direction) * zmax[None, :] > 0.05


def choose_method(method: str, n_coef: int) -> str:
    """Resolve ``method="auto"`` for a problem with ``n_coef`` coefficients."""
    if method not in ("auto", "lbfgs", "newton"):
        raise ValueError(f"method must be 'auto', 'lbfgs' or 'newton', got {method!r}")
    if method != "auto":
        return method
    if information_nbytes(n_coef) > NEWTON_MAX_BYTES:
        return "lbfgs"
    if n_coef <= NEWTON_DIRECT_MAX_COEF:
        return "newton"
    return "lbfgs+newton"


def fit_coefficients(Z, Y, offset=None, *, decay=0.0, start=None, method="auto", maxit=10000,
                     tol=1e-10, trace=False) -> OptimResult:
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
    """
    t0 = time.perf_counter()
    prob = _Problem(Z, Y, offset, decay)
    J, p = prob.J, prob.p
    B0 = np.zeros((J, p)) if start is None else np.array(start, dtype=float).reshape(J, p)
    if start is None and offset is None:
        _start_intercepts(B0, Z, Y)
    resolved = choose_method(method, J * p)
    history: list = []
    f, G, P = prob.fg(B0)
    B = B0
    n_lbfgs = n_newton = 0
    converged = False
    crit = math.inf
    direction = None
    if resolved in ("lbfgs", "lbfgs+newton") and p > 0:
        warm = resolved == "lbfgs+newton"
        ftol = 1e-9 if warm else max(tol * 1e-3, 1e-16)
        gtol = 1e-6 if warm else 1e-10
        iters = min(maxit, 3000) if warm else maxit
        B, f, G, P, n_lbfgs, approx_dec, res = _lbfgs(prob, B, iters, ftol, gtol, trace)
        crit = 0.5 * approx_dec / max(abs(f), 1e-300)
        if not warm:
            converged = crit <= tol or (res.success and crit <= 1e3 * tol)
    if resolved in ("newton", "lbfgs+newton") and p > 0:
        B, f, G, P, n_newton, converged, crit, direction = _newton(
            prob, B, f, G, P, min(maxit, 200), tol, trace, history)
    if p == 0:
        converged, crit = True, 0.0
    diverging = _diverging(direction, Z, prob.m, converged)
    if diverging is None:
        diverging = np.zeros((J, p), dtype=bool)
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
