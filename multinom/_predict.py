"""Predicted probabilities and log-odds with delta-method standard errors.

For a row ``x`` (length ``p``) the probability of level ``k`` (level 0 the
baseline) is ``p_k = softmax(eta)_k`` with ``eta_l = x^T beta_l``. Its gradient
with respect to the coefficients ``beta_l`` of non-baseline level ``l`` is

.. math::  \\partial p_k / \\partial \\beta_l = p_k (\\delta_{kl} - p_l) \\, x ,

so with ``a_{kl} = p_k (delta_kl - p_l)`` and the ``J x J`` matrix
``Q_{ll'} = x^T V_{ll'} x`` (``V_{ll'}`` the ``p x p`` blocks of the coefficient
covariance ``V``),

.. math::  \\operatorname{Var}(\\hat p_k) \\approx a_k^T Q a_k ,
           \\qquad \\operatorname{Var}(\\hat\\eta_l) = Q_{ll}.

``Q`` costs ``J^2 s^2`` per row, with ``s`` the non-zeros of ``x``. Rows are
grouped by their pattern of non-zeros (a factor design has a handful of
patterns: one per country, say) and each group is processed in chunks with
dense BLAS, so there is no Python loop over rows or levels and memory stays
bounded.

Bands
-----
``interval="logit"`` (the effects package's construction):
``se_logit = se / (p (1 - p))`` and ``plogis(logit(p) ± z se_logit)``, always
inside (0, 1). ``interval="probability"`` (emmeans' ``mode = "prob"``):
``p ± z se``, symmetric, may leave [0, 1] for probabilities near the edges.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.special import expit, logit

__all__ = ["row_quadratic_forms", "probability_se", "bands"]

_CHUNK_ELEMENTS = 8_000_000  # doubles in the largest temporary (64 MB)


def row_quadratic_forms(X, V: np.ndarray, J: int) -> np.ndarray:
    """``Q[r, l, l'] = x_r^T V_{ll'} x_r`` for every row of ``X``.

    Parameters
    ----------
    X : ndarray or scipy.sparse (r, p)
    V : ndarray (J p, J p), level-major
    J : int

    Returns
    -------
    ndarray (r, J, J)
    """
    n, p = X.shape
    V4 = V.reshape(J, p, J, p)
    Q = np.zeros((n, J, J))
    Xs = sp.csr_matrix(X)
    Xs.sort_indices()
    # group rows by their pattern of non-zeros
    nnz = np.diff(Xs.indptr)
    keys = {}
    codes = np.empty(n, dtype=np.int64)
    for_pattern = []
    # hashing each row's index tuple is O(nnz); rows of one pattern share a code
    splits = np.split(Xs.indices, Xs.indptr[1:-1]) if n else []
    for i, idx in enumerate(splits):
        key = idx.tobytes()
        code = keys.get(key)
        if code is None:
            code = len(for_pattern)
            keys[key] = code
            for_pattern.append(idx)
        codes[i] = code
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(for_pattern) + 1))
    for g, cols in enumerate(for_pattern):
        rows = order[bounds[g]:bounds[g + 1]]
        s = len(cols)
        if s == 0:
            continue
        VS = V4[:, cols][:, :, :, cols]  # (J, s, J, s)
        VS = VS.transpose(1, 0, 2, 3).reshape(s, J * J * s)
        XS = Xs[rows][:, cols].toarray()
        step = max(1, _CHUNK_ELEMENTS // max(J * J * s, 1))
        for c in range(0, len(rows), step):
            xc = XS[c:c + step]
            T = (xc @ VS).reshape(len(xc), J, J, s)
            Q[rows[c:c + step]] = np.einsum("rlmb,rb->rlm", T, xc, optimize=True)
    _ = nnz
    return Q


def probability_se(P: np.ndarray, Q: np.ndarray) -> np.ndarray:
    """Delta-method SEs of the probabilities ``P`` (r, K) given ``Q`` (r, J, J)."""
    r, K = P.shape
    # A[r, k, l] = p_k (delta_{k, l+1} - p_{l+1}) for non-baseline l
    A = -P[:, :, None] * P[:, None, 1:]
    A[:, 1:, :] += np.einsum("rk,kl->rkl", P[:, 1:], np.eye(K - 1))
    var = np.einsum("rkl,rlm,rkm->rk", A, Q, A, optimize=True)
    return np.sqrt(np.clip(var, 0.0, None))


def bands(est: np.ndarray, se: np.ndarray, z: float, interval: str):
    """Lower and upper band for probabilities ``est`` with SEs ``se``."""
    if interval == "probability" or interval == "link":
        return est - z * se, est + z * se
    with np.errstate(divide="ignore", invalid="ignore"):
        se_logit = se / (est * (1.0 - est))
        centre = logit(est)
    return expit(centre - z * se_logit), expit(centre + z * se_logit)
