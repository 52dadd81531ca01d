"""The weighted multinomial (softmax) log-likelihood, its gradient and probabilities.

Layout conventions (used everywhere in the package)
---------------------------------------------------
``K``      number of response levels; internally level 0 is the baseline.
``J``      ``K - 1``, the number of non-baseline levels (1 for a binary response).
``p``      number of model-matrix columns.
``Z``      model matrix, ``(n, p)``; a dense ndarray or a scipy.sparse CSR matrix.
``Y``      response counts, ``(n, K)``: for a factor response ``Y[i, y_i] = w_i``
           (the frequency weight), for a count-matrix response ``Y[i] = w_i * counts_i``.
``m``      row totals ``Y.sum(axis=1)``; they are the weights of the information.
``offset`` ``(n, K)`` or ``None``; column 0 is the baseline's offset.
``B``      coefficients ``(J, p)``; row ``j`` belongs to level ``j + 1``. Flattened
           *level-major* (``theta = B.ravel()``, ``theta[j * p + k] = B[j, k]``): the
           order of nnet ("B:(Intercept)", "B:x", ..., "C:(Intercept)", ...).

The linear predictor is ``eta[:, 0] = offset[:, 0]`` and
``eta[:, 1:] = Z @ B.T + offset[:, 1:]``; probabilities are the softmax of ``eta``.

The objective minimised by the fitter is the penalised negative log-likelihood

.. math::  f(B) = -\\sum_i \\sum_k Y_{ik} \\log p_{ik} + \\lambda \\sum_{j,k} B_{jk}^2

(``lambda`` is nnet's ``decay``) with gradient

.. math::  \\nabla_B f = (m \\odot P_{\\cdot,1:} - Y_{\\cdot,1:})^T Z + 2 \\lambda B.

Log-probabilities are computed with the log-sum-exp shift, so nothing overflows
for ``|eta|`` in the thousands.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["linear_predictor", "log_softmax", "probabilities", "loglik", "objective", "objective_censored",
           "censored_posterior", "gradient_rows"]


def linear_predictor(Z, B: np.ndarray, offset: np.ndarray | None = None) -> np.ndarray:
    """Return ``eta`` of shape ``(n, K)`` (baseline column first)."""
    n = Z.shape[0]
    eta = np.empty((n, B.shape[0] + 1))
    eta[:, 0] = 0.0
    eta[:, 1:] = Z @ B.T
    if offset is not None:
        eta += offset
    return eta


def log_softmax(eta: np.ndarray) -> np.ndarray:
    """Row-wise ``log softmax`` of ``eta`` (n, K), stable for any finite ``eta``."""
    shift = eta.max(axis=1, keepdims=True)
    z = eta - shift
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def probabilities(Z, B: np.ndarray, offset: np.ndarray | None = None) -> np.ndarray:
    """Fitted probabilities ``(n, K)`` for coefficients ``B`` (J, p)."""
    return np.exp(log_softmax(linear_predictor(Z, B, offset)))


def loglik(logp: np.ndarray, Y: np.ndarray, censored: bool = False) -> float:
    """Log-likelihood from log-probabilities ``logp`` (n, K) and counts ``Y``.

    ``sum_ik Y_ik log p_ik`` with ``0 log 0 = 0`` (a zero count must never pick
    up an ``-inf`` from an extreme eta); for censored responses
    ``sum_i w_i log sum_{k in S_i} p_ik`` (see :func:`objective_censored`).
    """
    if censored:
        ls, _ = censored_posterior(logp, Y)
        return float(np.sum(Y.max(axis=1) * ls))
    mask = Y != 0
    return float(np.sum(Y[mask] * logp[mask]))


def _penalised(f: float, R: np.ndarray, Z, B: np.ndarray, decay: float):
    """Objective ``f`` and gradient ``R^T Z`` (R: (n, J) score residuals) plus the decay terms."""
    G = np.asarray((Z.T @ R).T) if sp.issparse(Z) else R.T @ Z
    if decay:
        f += decay * float(np.sum(B * B))
        G = G + 2.0 * decay * B
    return f, G


def objective(B: np.ndarray, Z, Y: np.ndarray, offset, decay: float = 0.0):
    """Penalised negative log-likelihood and its gradient.

    Parameters
    ----------
    B : ndarray (J, p)
    Z : ndarray or sparse (n, p)
    Y : ndarray (n, K) counts
    offset : ndarray (n, K) or None
    decay : float

    Returns
    -------
    f : float
    grad : ndarray (J, p)
    P : ndarray (n, K), the probabilities at ``B``
    """
    logp = log_softmax(linear_predictor(Z, B, offset))
    P = np.exp(logp)
    m = Y.sum(axis=1)
    R = m[:, None] * P[:, 1:] - Y[:, 1:]  # (n, J) residuals of the score
    f, G = _penalised(-loglik(logp, Y), R, Z, B, decay)
    return f, G, P


def censored_posterior(logp: np.ndarray, Y: np.ndarray):
    """For censored responses: ``log sum_{k in S_i} p_ik`` and ``q_i``.

    ``S_i = {k : Y_ik > 0}`` is the set of possible classes of row ``i``;
    ``q_ik = p_ik / sum_{l in S_i} p_il`` on ``S_i`` and 0 elsewhere (the
    probability of each possible class given that the class is in ``S_i``).
    """
    masked = np.where(Y > 0, logp, -np.inf)
    shift = masked.max(axis=1, keepdims=True)
    shift = np.where(np.isfinite(shift), shift, 0.0)
    ls = shift[:, 0] + np.log(np.exp(masked - shift).sum(axis=1))
    Q = np.exp(masked - ls[:, None])
    return ls, Q


def objective_censored(B: np.ndarray, Z, Y: np.ndarray, offset, decay: float = 0.0):
    """Penalised negative log-likelihood of *censored* responses and its gradient.

    nnet's ``censored = TRUE``: row ``i`` says only that its class lies in
    ``S_i`` (the columns where ``Y_i`` is positive; ``w_i = max_k Y_ik`` is its
    weight). The log-likelihood is ``sum_i w_i log sum_{k in S_i} p_ik``;
    with ``q_i`` from :func:`censored_posterior` its gradient with respect to
    ``eta_ij`` is ``w_i (q_ij - p_ij)``, so

    .. math::  \\nabla_B f = (w \\odot (P - Q))_{\\cdot,1:}^T Z + 2 \\lambda B .

    The observed information is
    ``sum_i w_i [(diag(p_i) - p_i p_i^T) - (diag(q_i) - q_i q_i^T)] ⊗ z_i z_i^T``:
    the difference of two standard informations. The objective is not convex
    in general.

    Returns ``f``, the gradient ``(J, p)``, ``P`` ``(n, K)`` and ``Q`` ``(n, K)``.
    """
    logp = log_softmax(linear_predictor(Z, B, offset))
    P = np.exp(logp)
    w = Y.max(axis=1)
    ls, Q = censored_posterior(logp, Y)
    f = -float(np.sum(w * ls))
    R = w[:, None] * (P[:, 1:] - Q[:, 1:])
    f, G = _penalised(f, R, Z, B, decay)
    return f, G, P, Q


def gradient_rows(P: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Per-row score residuals ``Y[:, 1:] - m P[:, 1:]`` (n, J).

    The score of row ``i`` for level ``j`` and column ``k`` is
    ``(Y_ij - m_i p_ij) z_ik``.
    """
    m = Y.sum(axis=1)
    return Y[:, 1:] - m[:, None] * P[:, 1:]
