"""Predicted probabilities and log-odds with delta-method standard errors.

Notation: ``K`` levels (level 0 the baseline), ``J = K - 1``, a model-matrix
row ``x`` (length ``p``), coefficients ``beta_l`` of non-baseline level ``l``,
linear predictors ``eta_0 = 0`` (plus offset) and ``eta_l = x^T beta_l``,
probabilities ``p_k = exp(eta_k) / sum_j exp(eta_j)`` and ``V`` the ``Jp x Jp``
covariance of the coefficients (level-major, the order of ``fit.vcov()``) with
``p x p`` blocks ``V_{lm}``.

Gradient
--------
``d p_k / d eta_l = p_k (delta_kl - p_l)`` and ``d eta_l / d beta_m =
delta_lm x``, so for the non-baseline levels ``l = 1..J``

.. math::  \\partial p_k / \\partial \\beta_l = p_k (\\delta_{kl} - p_l) \\, x .

With ``d_k = e_k - p`` (over ``l = 1..J``; ``e_0 = 0``) the gradient is
``p_k (d_k \\otimes x)`` and the delta method gives

.. math::  \\operatorname{Var}(\\hat p_k) \\approx p_k^2 \\, d_k^T Q \\, d_k,
           \\qquad Q_{lm} = x^T V_{lm} x ,

``Q`` the ``J x J`` covariance of the linear predictors ``eta_1..eta_J``
(whose diagonal gives the SEs of the log-odds ``type="link"``). Expanding,
``d_k^T Q d_k = Q_kk - 2 (Q p)_k + p^T Q p`` (only ``p^T Q p`` for the
baseline), which costs ``O(J^2)`` per row for all ``K`` levels together. For
the level with the largest probability (the only one that can be close to 1,
where the expansion cancels) the quadratic form is evaluated directly with
``1 - p_k`` computed as the sum of the other probabilities. Since
``sum_k p_k = 1`` the gradients sum to 0: the SE of the sum is 0.

The logit of ``p_k`` (not the log-odds against the baseline) has gradient
``(d_k \\otimes x) / (1 - p_k)``, so ``se_logit = sqrt(d_k^T Q d_k) / (1 - p_k)``
``= se / (p_k (1 - p_k))``, computed without dividing by ``p_k`` (so that it
stays finite when ``p_k`` underflows) and ``logit(p_k) = log p_k - log(1 - p_k)``
from the log-probabilities.

Bands
-----
``interval="logit"`` (the effects package's construction):
``plogis(logit(p) ± z se_logit)``, always inside (0, 1) and asymmetric near the
edges. ``interval="probability"`` (emmeans' ``mode = "prob"``): ``p ± z se``,
symmetric, may leave [0, 1] for probabilities near the edges. Link predictions
(log-odds) get ``eta ± z se``.

Computation
-----------
``Q`` costs ``J(J+1)/2 * s(s+1)/2`` multiply-adds per row, ``s`` the number of
non-zeros of ``x``: with ``u`` the products ``x_a x_b`` (``a <= b``) of a row
and ``W`` the matching entries ``V_{lm}[a, b] + V_{lm}[b, a]`` (``l <= m``; halved
for ``a = b``) ``Q`` is the matrix product ``u W^T`` (BLAS-3). Rows are
grouped by their pattern of non-zeros (vectorised: a packed bit mask or the
padded column indices of each row, deduplicated with :func:`numpy.unique`; a
factor design has a handful of patterns: one per country, say), each group uses
only its ``s`` columns, and rows are processed in chunks so that memory stays
bounded and ``Q`` for all rows is never stored by :func:`prediction_se`.
"""

from __future__ import annotations

import contextlib

import numpy as np
import scipy.sparse as sp
from scipy.special import expit

__all__ = ["row_quadratic_forms", "iter_quadratic_forms", "probability_se", "logit_se",
           "prediction_se", "probability_jacobian", "bands", "row_patterns"]

#: doubles in the largest row-chunk temporary: at least this (64 MB), or as
#: many as ``V`` holds (which is in memory anyway); bigger chunks keep BLAS busy
_CHUNK_ELEMENTS = 8_000_000
#: doubles in the gathered covariance entries kept per pattern (128 MB)
_GATHER_ELEMENTS = 16_000_000
#: with more distinct patterns than this (and small groups) rows are not grouped
_MAX_PATTERNS = 256
#: matrix products smaller than this (multiply-adds) run on one BLAS thread
_SMALL_PRODUCT = 20_000_000


_controller = None


def _one_blas_thread(size: int):
    """Context limiting BLAS to one thread for a small product (threadpoolctl, if installed).

    A multi-threaded BLAS spends longer waking and synchronising its threads
    than computing a product of a few million multiply-adds (much longer when
    the cores are busy with other work); the per-pattern products of a factor
    design are that small.
    """
    global _controller
    if size >= _SMALL_PRODUCT:
        return contextlib.nullcontext()
    if _controller is None:
        try:
            from threadpoolctl import ThreadpoolController
            _controller = ThreadpoolController()
        except Exception:  # not installed (optional): leave BLAS as it is
            _controller = False
    if _controller is False:
        return contextlib.nullcontext()
    return _controller.limit(limits=1, user_api="blas")


# --------------------------------------------------------------------------- #
# grouping rows by their pattern of non-zeros
# --------------------------------------------------------------------------- #
def _unique_rows(keys: np.ndarray):
    """``(first, inverse)`` of the distinct rows of a 2-D array (sorted by bytes)."""
    keys = np.ascontiguousarray(keys)
    void = keys.view(np.dtype((np.void, keys.dtype.itemsize * keys.shape[1]))).ravel()
    _, first, inverse = np.unique(void, return_index=True, return_inverse=True)
    return first, inverse.ravel()


def row_patterns(X):
    """Group the rows of ``X`` by their pattern of non-zeros, without a loop over rows.

    Parameters
    ----------
    X : ndarray or scipy.sparse.csr_matrix (r, p)
        A CSR matrix must have sorted indices and no duplicates.

    Returns
    -------
    order : ndarray of int
        Row numbers sorted by pattern (stable within a pattern).
    bounds : ndarray of int
        ``order[bounds[g]:bounds[g + 1]]`` are the rows of pattern ``g``.
    columns : list of ndarray
        The non-zero columns of each pattern (sorted).

    Notes
    -----
    The key of a row is its non-zero mask packed into bits (``ceil(p / 8)``
    bytes) or, when shorter, its column indices padded with -1 to the longest
    row (4 bytes each); :func:`numpy.unique` on the keys viewed as opaque
    byte strings gives the pattern of every row.
    """
    n, p = X.shape
    if n == 0:
        return np.zeros(0, dtype=np.intp), np.zeros(1, dtype=np.intp), []
    if sp.issparse(X):
        nnz = np.diff(X.indptr)
        width = int(nnz.max())
        row_of = np.repeat(np.arange(n), nnz)
        if (p + 7) // 8 <= 4 * width:
            mask = np.zeros((n, p), dtype=bool)
            mask[row_of, X.indices] = True
            keys = np.packbits(mask, axis=1)
        else:
            keys = np.full((n, max(width, 1)), -1, dtype=np.int32)
            keys[row_of, np.arange(X.indices.size) - np.repeat(X.indptr[:-1], nnz)] = X.indices
        first, inverse = _unique_rows(keys)
        columns = [X.indices[X.indptr[i]:X.indptr[i + 1]].astype(np.intp) for i in first]
    else:
        mask = np.asarray(X) != 0
        first, inverse = _unique_rows(np.packbits(mask, axis=1) if p else np.zeros((n, 1), np.uint8))
        columns = [np.flatnonzero(mask[i]) for i in first]
    order = np.argsort(inverse, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(inverse, minlength=len(first)))])
    return order, bounds, columns


def _rows_values(X, rows: np.ndarray, cols: np.ndarray, shared: bool = True) -> np.ndarray:
    """Dense ``X[rows][:, cols]``; ``shared``: the CSR rows have exactly the non-zeros ``cols``."""
    if sp.issparse(X):
        if not shared:
            return X[rows][:, cols].toarray()
        if len(cols) == 0:
            return np.zeros((len(rows), 0))
        return X.data[X.indptr[rows][:, None] + np.arange(len(cols))]
    return np.asarray(X)[np.ix_(rows, cols)]


def _as_csr(X):
    if not sp.issparse(X):
        return np.asarray(X, dtype=float)
    Xs = sp.csr_matrix(X, dtype=float)
    Xs.sum_duplicates()  # also sorts the indices
    Xs.eliminate_zeros()
    return Xs


# --------------------------------------------------------------------------- #
# Q = x^T V_lm x for every row
# --------------------------------------------------------------------------- #
def iter_quadratic_forms(X, V: np.ndarray, J: int):
    """Yield ``(rows, Q_chunk)`` with ``Q_chunk[i, l, m] = x_{rows[i]}^T V_{lm} x_{rows[i]}``.

    Every row of ``X`` is yielded exactly once (in pattern order, not in row
    order); see the module docstring for the algorithm.

    Parameters
    ----------
    X : ndarray or scipy.sparse (r, p)
    V : ndarray (J p, J p), level-major
    J : int
    """
    X = _as_csr(X)
    n, p = X.shape
    V = np.asarray(V, dtype=float)
    if V.shape != (J * p, J * p):
        raise ValueError(f"V has shape {V.shape}; expected {(J * p, J * p)} for J={J}, p={p}")
    if n == 0:
        return
    V4 = V.reshape(J, p, J, p)
    budget = max(_CHUNK_ELEMENTS, V.size)
    pl, pm = np.triu_indices(J)
    order, bounds, columns = row_patterns(X)
    groups = [(order[bounds[g]:bounds[g + 1]], cols, True) for g, cols in enumerate(columns)]
    if len(groups) > _MAX_PATTERNS and n < 16 * len(groups):
        # many small groups: all rows at once over the columns any row uses
        used = np.unique(np.concatenate(columns)) if columns else np.zeros(0, np.intp)
        groups = [(np.arange(n), used, False)]
    for rows, cols, shared in groups:
        s = len(cols)
        if s == 0:
            yield rows, np.zeros((len(rows), J, J))
            continue
        ia, ib = np.triu_indices(s)
        nfeat = len(ia)
        ca, cb = cols[ia], cols[ib]
        half = np.where(ia == ib, 0.5, 1.0)
        pair_step = max(1, _GATHER_ELEMENTS // nfeat)
        pair_blocks = [np.arange(a, min(a + pair_step, len(pl))) for a in range(0, len(pl), pair_step)]

        def gather(block, ca=ca, cb=cb, half=half):
            # W[pair, feature] = V_{lm}[a, b] + V_{lm}[b, a] for a < b, V_{lm}[a, a] for a = b
            lb, mb = pl[block, None], pm[block, None]
            return (V4[lb, ca[None, :], mb, cb[None, :]] + V4[lb, cb[None, :], mb, ca[None, :]]) * half

        cached = [gather(b) for b in pair_blocks] if len(pair_blocks) == 1 else None
        step = max(1, budget // max(nfeat, len(pl)))
        starts = np.concatenate([[0], np.cumsum(np.arange(s, 0, -1))])  # U columns of a
        for c in range(0, len(rows), step):
            rc = rows[c:c + step]
            xc = _rows_values(X, rc, cols, shared)
            U = np.empty((len(rc), nfeat))  # U[:, (a, b)] = x_a x_b, a <= b (triu order)
            for a in range(s):
                np.multiply(xc[:, a:a + 1], xc[:, a:], out=U[:, starts[a]:starts[a + 1]])
            F = np.empty((len(rc), len(pl)))
            for bi, block in enumerate(pair_blocks):
                W = cached[bi] if cached is not None else gather(block)
                with _one_blas_thread(len(rc) * nfeat * len(block)):
                    F[:, block] = U @ W.T
            Qc = np.empty((len(rc), J, J))
            Qc[:, pl, pm] = F
            Qc[:, pm, pl] = F
            yield rc, Qc


def row_quadratic_forms(X, V: np.ndarray, J: int) -> np.ndarray:
    """``Q[r, l, m] = x_r^T V_{lm} x_r`` for every row of ``X``.

    The ``J x J`` covariance of the linear predictors ``eta_1..eta_J`` of each
    row. Stores all of ``Q`` (``r J^2`` doubles); :func:`prediction_se` does
    not.

    Parameters
    ----------
    X : ndarray or scipy.sparse (r, p)
    V : ndarray (J p, J p), level-major
    J : int

    Returns
    -------
    ndarray (r, J, J)
    """
    Q = np.empty((X.shape[0], J, J))
    for rows, Qc in iter_quadratic_forms(X, V, J):
        Q[rows] = Qc
    return Q


# --------------------------------------------------------------------------- #
# from Q to standard errors
# --------------------------------------------------------------------------- #
def _complement(P: np.ndarray):
    """``(1 - P, log(1 - P), argmax)`` with ``1 - p`` of the largest probability
    of a row computed as the sum of the others (no cancellation near 1)."""
    r, K = P.shape
    top = np.argmax(np.where(np.isnan(P), -np.inf, P), axis=1)
    ar = np.arange(r)
    C = 1.0 - P
    others = P.copy()
    others[ar, top] = 0.0
    C[ar, top] = others.sum(axis=1)
    with np.errstate(divide="ignore"):
        logC = np.log1p(-P)
        logC[ar, top] = np.log(C[ar, top])
    return C, logC, top


def _brackets(P: np.ndarray, Q: np.ndarray, C: np.ndarray, top: np.ndarray) -> np.ndarray:
    """``d_k^T Q d_k`` (r, K) with ``d_k = e_k - p`` over the non-baseline levels."""
    r, K = P.shape
    p1 = P[:, 1:]
    u = np.einsum("rlm,rm->rl", Q, p1)
    w = np.einsum("rl,rl->r", p1, u)
    out = np.empty((r, K))
    out[:, 0] = w
    out[:, 1:] = np.einsum("rll->rl", Q) - 2.0 * u + w[:, None]
    # the most probable level directly (d has 1 - p_k, from C, at its own place)
    ar = np.arange(r)
    d = -p1.copy()
    hit = top > 0
    d[ar[hit], top[hit] - 1] = C[ar[hit], top[hit]]
    out[ar, top] = np.einsum("rl,rlm,rm->r", d, Q, d)
    return np.clip(out, 0.0, None)


def probability_se(P: np.ndarray, Q: np.ndarray) -> np.ndarray:
    """Delta-method SEs of the probabilities ``P`` (r, K) given ``Q`` (r, J, J).

    ``se_k = p_k sqrt(d_k^T Q d_k)`` with ``d_k = e_k - p`` (see module docstring).
    """
    C, _, top = _complement(P)
    return P * np.sqrt(_brackets(P, Q, C, top))


def logit_se(P: np.ndarray, Q: np.ndarray) -> np.ndarray:
    """Delta-method SEs of ``logit(p_k)`` (r, K): ``sqrt(d_k^T Q d_k) / (1 - p_k)``.

    Equal to ``probability_se / (p (1 - p))`` (the effects package's
    ``se.logit``) but finite when ``p_k`` underflows to 0.
    """
    C, _, top = _complement(P)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sqrt(_brackets(P, Q, C, top)) / C


def _log_softmax(eta: np.ndarray) -> np.ndarray:
    shift = eta.max(axis=1, keepdims=True)
    z = eta - shift
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def prediction_se(X, V: np.ndarray, eta: np.ndarray, *, type: str = "probs", level: float = 0.95,
                  interval: str = "logit") -> dict:
    """Predictions with delta-method SEs and bands, chunk by chunk.

    Parameters
    ----------
    X : ndarray or scipy.sparse (r, p)
        Model-matrix rows (the non-aliased columns, matching ``V``).
    V : ndarray (J p, J p)
        Level-major covariance of the coefficients.
    eta : ndarray (r, K)
        Linear predictors, baseline column first (offsets included).
    type : {"probs", "link"}
    level : float
    interval : {"logit", "probability"}
        Band construction for probabilities (ignored for ``"link"``).

    Returns
    -------
    dict of ndarrays
        ``estimate``, ``se``, ``lower``, ``upper`` of shape (r, K) for
        probabilities, (r, J) for the log-odds ``eta_l - eta_0``; for
        probabilities also ``logit`` and ``se_logit``.
    """
    from scipy.stats import norm

    eta = np.asarray(eta, dtype=float)
    r, K = eta.shape
    J = K - 1
    z = float(norm.ppf(0.5 + level / 2))
    if type == "link":
        est = eta[:, 1:] - eta[:, :1]
        var = np.empty((r, J))
        for rows, Qc in iter_quadratic_forms(X, V, J):
            var[rows] = np.einsum("rll->rl", Qc)
        se = np.sqrt(np.clip(var, 0.0, None))
        return {"estimate": est, "se": se, "lower": est - z * se, "upper": est + z * se}
    if type != "probs":
        raise ValueError(f"type must be 'probs' or 'link', got {type!r}")
    logP = _log_softmax(eta)
    P = np.exp(logP)
    C, logC, top = _complement(P)
    # logit(p) = log p - log(1 - p); for the top level log(1 - p) from the others
    logit = logP - logC
    S = np.empty((r, K))  # sqrt(d_k^T Q d_k)
    for rows, Qc in iter_quadratic_forms(X, V, J):
        S[rows] = np.sqrt(_brackets(P[rows], Qc, C[rows], top[rows]))
    se = P * S
    with np.errstate(divide="ignore", invalid="ignore"):
        se_logit = S / C
    out = {"estimate": P, "se": se, "logit": logit, "se_logit": se_logit}
    if interval == "logit":
        with np.errstate(invalid="ignore"):
            out["lower"] = expit(logit - z * se_logit)
            out["upper"] = expit(logit + z * se_logit)
        # a probability that is exactly 1 in floating point (its complement
        # underflowed): logit = +inf and the band collapses onto 1
        at_one = (C <= 0) & np.isfinite(eta).all(axis=1)[:, None]
        out["lower"][at_one] = 1.0
        out["upper"][at_one] = 1.0
    elif interval == "probability":
        out["lower"], out["upper"] = P - z * se, P + z * se
    else:
        raise ValueError(f"interval must be 'logit' or 'probability', got {interval!r}")
    return out


def probability_jacobian(P: np.ndarray, X) -> np.ndarray:
    """Jacobian of the probabilities with respect to the coefficients.

    ``G[r, k, l p + a] = p_rk (delta_{k, l+1} - p_{r, l+1}) x_ra`` (level-major
    columns, like ``V``). Dense ``(r, K, J p)``: meant for small grids, e.g. the
    SE of an average of predicted probabilities ``w^T p_k`` is
    ``sqrt(g^T V g)`` with ``g = sum_r w_r G[r, k]``.
    """
    X = X.toarray() if sp.issparse(X) else np.asarray(X, dtype=float)
    r, K = P.shape
    J = K - 1
    A = -P[:, :, None] * P[:, None, 1:]
    A[:, 1:, :] += P[:, 1:, None] * np.eye(J)
    return (A[:, :, :, None] * X[:, None, None, :]).reshape(r, K, J * X.shape[1])


def bands(est: np.ndarray, se: np.ndarray, z: float, interval: str):
    """Lower and upper band for probabilities ``est`` with SEs ``se``.

    ``"logit"``: ``plogis(logit(p) ± z se / (p (1 - p)))``; ``"probability"``
    or ``"link"``: ``est ± z se``. (:func:`prediction_se` computes the logit
    bands without dividing by ``p``.)
    """
    if interval == "probability" or interval == "link":
        return est - z * se, est + z * se
    with np.errstate(divide="ignore", invalid="ignore"):
        se_logit = se / (est * (1.0 - est))
        centre = np.log(est) - np.log1p(-est)
        return expit(centre - z * se_logit), expit(centre + z * se_logit)
