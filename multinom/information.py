"""The Fisher information of multinomial-logit coefficients, computed with BLAS-3.

For row ``i`` with weight (row total) ``w_i``, model-matrix row ``z_i`` (length
``p``) and non-baseline probabilities ``p_i`` (length ``J = K - 1``), the
negative Hessian of the log-likelihood is

.. math::

    I = \\sum_i w_i \\, (\\operatorname{diag}(p_i) - p_i p_i^T) \\otimes z_i z_i^T ,

a ``(J p) x (J p)`` matrix in nnet's level-major coefficient order (block
``(j, l)`` holds the coefficients of levels ``j`` and ``l``). For the softmax
link the observed and the expected information are the same matrix.

Two exact ways of computing it without a Python loop over rows:

*dense* (BLAS-3)
    Write ``u_i = sqrt(w_i) (p_i ⊗ z_i)``, the rows of an ``n x Jp`` matrix
    ``U``. Then ``I = blockdiag_j(Z^T diag(w p_j) Z) - U^T U``. ``U^T U`` is one
    symmetric rank-``n`` update (``dsyrk``, half the flops of a product); the
    ``J`` diagonal blocks are weighted cross-products. Rows are processed in
    chunks so that the extra memory is at most about one information matrix.

*sparse*
    Block ``(j, l)`` equals ``Z^T diag(c_jl) Z`` with
    ``c_jl = w (delta_jl p_j - p_j p_l)``. Entry ``(a, b)`` of every block is a
    sum over the rows whose ``z_ia z_ib`` is non-zero. Build the sparse
    ``S`` (pairs ``(a, b)``, ``a <= b``, of the pattern of ``Z^T Z``) x ``n`` with
    ``S[(a, b), i] = z_ia z_ib``; then ``G = S @ C`` with ``C`` the ``n x J(J+1)/2``
    matrix of the ``c_jl`` gives every block at once. The cost is
    ``sum_i nnz_i^2 / 2 * J(J+1)/2``, which for factor-heavy designs (country
    dummies, country x date) is a small fraction of the dense cost.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
from scipy.linalg import blas, lapack

__all__ = ["information_matrix", "observed_information", "information_nbytes", "cholesky_inverse",
           "arrow_inverse"]

#: Extra memory allowed for a chunk of rows, in bytes, when the information
#: matrix itself is smaller than this.
_MIN_CHUNK_BYTES = 64 * 2**20


def information_nbytes(n_coef: int) -> int:
    """Bytes needed for a dense ``n_coef x n_coef`` float64 information matrix."""
    return 8 * int(n_coef) ** 2


def _as_2d_probs(probs) -> np.ndarray:
    P = np.asarray(probs, dtype=float)
    if P.ndim == 1:
        P = P[:, None]
    if P.ndim != 2:
        raise ValueError(f"probs must be a 1-d or 2-d array, got {P.ndim} dimensions")
    return P


def information_matrix(probs, Z, row_totals, *, decay: float = 0.0, method: str = "auto",
                       chunk_rows: int | None = None, sparse_output: bool = False):
    """Fisher information ``sum_i w_i (diag(p_i) - p_i p_i^T) ⊗ z_i z_i^T``.

    Parameters
    ----------
    probs : array_like, shape (n, J)
        Fitted probabilities of the non-baseline levels (the baseline column
        dropped); for a binary model a vector or an ``(n, 1)`` array.
    Z : ndarray or scipy.sparse matrix, shape (n, p)
        The model matrix.
    row_totals : array_like, shape (n,)
        Row weights ``w_i``: frequency weights for a factor response, row
        totals of the counts for a count-matrix response.
    decay : float, default 0
        Weight decay ``lambda`` of a penalised fit: ``2 * lambda`` is added to
        the diagonal (the curvature of ``lambda * sum(beta**2)``). nnet's
        ``vcov`` ignores the penalty.
    method : {"auto", "dense", "sparse"}
        ``"auto"`` takes the sparse path when its operation count is clearly
        smaller than the dense one.
    chunk_rows : int, optional
        Rows per chunk (default: chosen so that a chunk takes at most about as
        much memory as the result, and at least 64 MiB).
    sparse_output : bool, default False
        Return a scipy.sparse CSR matrix when the sparse path is taken (used by
        the Newton solver for factor-heavy designs).

    Returns
    -------
    ndarray, shape (J p, J p)
        Symmetric, coefficients in level-major order
        (``[level 1: col 1..p, level 2: col 1..p, ...]``), as ``nnet:::multinomHess``.

    Notes
    -----
    Dense cost: ``n (J p)^2 / 2`` multiply-adds in ``dsyrk`` plus ``n J p^2`` for the
    diagonal blocks. Sparse cost: ``J (J + 1) / 2 * sum_i nnz_i (nnz_i + 1) / 2``.
    """
    P = _as_2d_probs(probs)
    w = np.asarray(row_totals, dtype=float).ravel()
    n, J = P.shape
    if Z.shape[0] != n or w.shape[0] != n:
        raise ValueError(
            f"probs has {n} rows, Z has {Z.shape[0]} and row_totals has {w.shape[0]}: they must match")
    if method not in ("auto", "dense", "sparse"):
        raise ValueError(f"method must be 'auto', 'dense' or 'sparse', got {method!r}")
    if not (np.all(np.isfinite(w)) and np.all(w >= 0)):
        raise ValueError("row_totals must be finite and non-negative")
    p = Z.shape[1]
    if p == 0 or J == 0:
        H0 = np.zeros((J * p, J * p))
        return sp.csr_matrix(H0) if sparse_output else H0
    keep = w > 0
    if not keep.all():  # rows of weight zero contribute nothing
        P, w = P[keep], w[keep]
        Z = Z[np.flatnonzero(keep)]
        n = P.shape[0]

    if method == "auto":
        method = "sparse" if _sparse_is_cheaper(Z, J) else "dense"
    if method == "sparse":
        Zs = sp.csr_matrix(Z)
        H = _information_sparse(P, Zs, w, chunk_rows, sparse_output)
    else:
        Zd = Z.toarray() if sp.issparse(Z) else np.asarray(Z, dtype=float)
        H = _information_dense(P, Zd, w, chunk_rows)
    if decay:
        if sp.issparse(H):
            H = (H + 2.0 * decay * sp.identity(H.shape[0], format="csr")).tocsr()
        else:
            H[np.diag_indices_from(H)] += 2.0 * decay
    return H


def observed_information(P: np.ndarray, Z, Y: np.ndarray, *, censored: bool = False,
                         decay: float = 0.0, sparse_output: bool = False):
    """Observed information at fitted probabilities ``P`` (n, K) for counts ``Y``.

    :func:`information_matrix` with the row totals of ``Y``; for censored
    responses (nnet's ``censored``) the weights are ``max_k Y_ik`` and the
    observed information is ``I(p) - I(q)``, ``q`` the probabilities given
    the possible set (see :func:`multinom._likelihood.objective_censored`).
    """
    from ._likelihood import censored_posterior

    w = Y.max(axis=1) if censored else Y.sum(axis=1)
    H = information_matrix(P[:, 1:], Z, w, decay=decay, sparse_output=sparse_output)
    if censored:
        _, Q = censored_posterior(np.log(np.clip(P, 1e-300, None)), Y)
        H = H - information_matrix(Q[:, 1:], Z, w, sparse_output=sparse_output)
    return H


def _sparse_is_cheaper(Z, J: int) -> bool:
    n, p = Z.shape
    if n == 0:
        return False
    if sp.issparse(Z):
        nnz_row = np.diff(sp.csr_matrix(Z).indptr).astype(float)
    else:
        # dense input: estimate the density on a sample of rows
        idx = np.linspace(0, n - 1, num=min(n, 2000)).astype(int)
        nnz_row = np.count_nonzero(np.asarray(Z)[idx], axis=1).astype(float)
        nnz_row = np.resize(nnz_row, n) if n > len(idx) else nnz_row
    sparse_cost = J * (J + 1) / 2 * float(np.sum(nnz_row * (nnz_row + 1) / 2))
    dense_cost = n * (J * p) ** 2 / 2 + n * J * p * p
    # the sparse path has a worse constant (scatter, sparse product)
    return 6.0 * sparse_cost < dense_cost


def _default_chunk(n: int, N: int, row_len: int) -> int:
    budget = max(8 * N * N, _MIN_CHUNK_BYTES)
    return int(max(1, min(n, budget // (8 * max(row_len, 1)))))


def _information_dense(P: np.ndarray, Z: np.ndarray, w: np.ndarray, chunk_rows) -> np.ndarray:
    n, J = P.shape
    p = Z.shape[1]
    N = J * p
    H = np.zeros((N, N), order="F")
    D = np.zeros((J, p, p))
    r = chunk_rows or _default_chunk(n, N, N)
    for s in range(0, n, r):
        Pc, Zc, wc = P[s:s + r], Z[s:s + r], w[s:s + r]
        sw = np.sqrt(wc)
        # U rows: sqrt(w_i) (p_i ⊗ z_i), level-major; U.T is Fortran-contiguous
        U = ((sw[:, None] * Pc)[:, :, None] * Zc[:, None, :]).reshape(len(wc), N)
        H = blas.dsyrk(-1.0, U.T, beta=1.0, c=H, trans=0, lower=0, overwrite_c=1)
        del U
        SWP = np.sqrt(wc[:, None] * Pc)  # (r, J)
        for j in range(J):  # J weighted cross-products (a loop over levels, not rows)
            A = Zc * SWP[:, j:j + 1]
            # D[j].T is Fortran-contiguous: dsyrk accumulates in place (upper triangle)
            blas.dsyrk(1.0, A.T, beta=1.0, c=D[j].T, trans=0, lower=0, overwrite_c=1)
    # H holds -U^T U in its upper triangle; mirror it in place, add the diagonal blocks
    _mirror_upper(H)
    for j in range(J):
        _mirror_upper(D[j].T)
        H[j * p:(j + 1) * p, j * p:(j + 1) * p] += D[j]
    return H.T  # symmetric: the transpose of the Fortran array is a C-contiguous view


def _mirror_upper(A: np.ndarray, block: int = 512) -> None:
    """Copy the upper triangle of square ``A`` into its lower triangle, in place.

    Works block-column by block-column so that the temporary is one block
    (a loop over blocks of columns, not over rows).
    """
    N = A.shape[0]
    for j in range(0, N, block):
        e = min(j + block, N)
        diag = A[j:e, j:e]
        iu = np.triu_indices(e - j, 1)
        diag[iu[1], iu[0]] = diag[iu]
        if e < N:
            A[e:, j:e] = A[j:e, e:].T


def _pair_pattern(Z: sp.csr_matrix):
    """Sorted keys ``a * p + b`` (a <= b) of the upper-triangle pattern of Z^T Z."""
    p = Z.shape[1]
    pattern = Z.copy()
    pattern.data = np.ones_like(pattern.data)
    G = sp.triu(pattern.T @ pattern).tocoo()
    return np.sort(G.row.astype(np.int64) * p + G.col.astype(np.int64))


def _row_pairs(Z: sp.csr_matrix):
    """For every row, all pairs of its non-zeros with column a <= column b.

    Returns (row, a, b, value) arrays, value = z_ia * z_ib.
    """
    indptr, cols, vals = Z.indptr, Z.indices, Z.data
    n = Z.shape[0]
    k = np.diff(indptr)
    row_of = np.repeat(np.arange(n), k)
    cnt = k[row_of]  # partners of each non-zero (all non-zeros of its row)
    total = int(cnt.sum())
    first = np.repeat(np.arange(len(cols)), cnt)
    starts = np.cumsum(cnt) - cnt
    within = np.arange(total) - np.repeat(starts, cnt)
    second = indptr[row_of[first]] + within
    a, b = cols[first], cols[second]
    keep = a <= b
    return row_of[first][keep], a[keep], b[keep], (vals[first] * vals[second])[keep]


def _information_sparse(P: np.ndarray, Z: sp.csr_matrix, w: np.ndarray, chunk_rows,
                        sparse_output: bool = False):
    n, J = P.shape
    p = Z.shape[1]
    Z = Z.copy()
    Z.sum_duplicates()
    Z.sort_indices()
    keys = _pair_pattern(Z)
    npos = len(keys)
    jj, ll = np.triu_indices(J)  # level pairs j <= l
    npairs = len(jj)
    G = np.zeros((npos, npairs))
    nnz_row = np.diff(Z.indptr)
    pairs_per_row = nnz_row * (nnz_row + 1) // 2
    # chunk rows so that neither the pair list nor C exceeds the budget
    budget = max(8 * (J * p) ** 2, _MIN_CHUNK_BYTES) // 8
    r = chunk_rows or max(1, int(budget // max(npairs + 4 * max(pairs_per_row.mean(), 1), 1)))
    for s in range(0, n, r):
        Zc = Z[s:s + r]
        Pc, wc = P[s:s + r], w[s:s + r]
        row, a, b, val = _row_pairs(Zc)
        pos = np.searchsorted(keys, a.astype(np.int64) * p + b)
        S = sp.csr_matrix((val, (pos, row)), shape=(npos, Zc.shape[0]))
        # C[:, (j, l)] = w (delta_jl p_j - p_j p_l)
        C = -(Pc[:, jj] * Pc[:, ll])
        diag = jj == ll
        C[:, diag] += Pc
        C *= wc[:, None]
        G += S @ C
    # scatter the blocks into the dense matrix (all four symmetric images)
    a = (keys // p).astype(np.int64)
    b = (keys % p).astype(np.int64)
    N = J * p
    ra = jj[None, :] * p + a[:, None]
    cb = ll[None, :] * p + b[:, None]
    rb = jj[None, :] * p + b[:, None]
    ca = ll[None, :] * p + a[:, None]
    if sparse_output:
        rows = np.concatenate([ra.ravel(), rb.ravel(), cb.ravel(), ca.ravel()])
        cols = np.concatenate([cb.ravel(), ca.ravel(), ra.ravel(), rb.ravel()])
        vals = np.concatenate([G.ravel()] * 4)
        # each distinct entry appears up to four times: keep one copy of each
        key = rows.astype(np.int64) * N + cols
        _, first = np.unique(key, return_index=True)
        return sp.csr_matrix((vals[first], (rows[first], cols[first])), shape=(N, N))
    H = np.zeros((N, N))
    H[ra, cb] = G
    H[rb, ca] = G
    H[cb, ra] = G
    H[ca, rb] = G
    return H


def cholesky_inverse(H: np.ndarray):
    """Exact inverse of a symmetric positive definite matrix via Cholesky.

    The matrix is first scaled to unit diagonal (Jacobi), which makes the
    factorisation insensitive to badly scaled predictors.

    Returns
    -------
    inverse : ndarray or None
        ``None`` when ``H`` is not numerically positive definite.
    """
    H = np.asarray(H, dtype=float)
    d = np.diag(H).copy()
    if H.size == 0:
        return H.copy()
    if not np.all(np.isfinite(H)) or np.any(d <= 0):
        return None
    s = 1.0 / np.sqrt(d)
    Hs = H * s[:, None]  # the only full-size copy
    Hs *= s[None, :]
    # Hs is symmetric, so its transpose (a Fortran-ordered view) is the same
    # matrix: LAPACK factorises it in place, without another copy
    Hs = Hs.T if Hs.flags.c_contiguous else np.asfortranarray(Hs)
    c, info = lapack.dpotrf(Hs, lower=0, clean=0, overwrite_a=1)
    if info != 0:
        return None
    # reject numerically singular matrices (rcond ~ machine precision)
    dc = np.abs(np.diag(c))
    if dc.min() <= math.sqrt(np.finfo(float).eps) * 1e-4 * dc.max():
        return None
    inv, info = lapack.dpotri(c, lower=0, overwrite_c=1)
    if info != 0:
        return None
    inv *= s[:, None]
    inv *= s[None, :]
    _mirror_upper(inv)  # from the upper triangle LAPACK wrote; exactly symmetric
    return inv.T if inv.flags.f_contiguous else inv


def check_memory(n_coef: int, limit_bytes: int | None = None) -> None:
    """Raise :class:`MemoryError` when an information matrix cannot fit in memory."""
    need = information_nbytes(n_coef)
    if limit_bytes is None:
        limit_bytes = _available_memory()
    if limit_bytes is not None and 3 * need > limit_bytes:
        raise MemoryError(
            f"the information matrix for {n_coef} coefficients needs {_bytes(need)} "
            f"(about 3x that while inverting) but only {_bytes(limit_bytes)} is available; "
            "use fewer coefficients (fewer levels or terms) or fit with method='lbfgs' and skip vcov()")


def _bytes(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024


def _available_memory() -> int | None:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:  # pragma: no cover - not Linux
        return None
    return None  # pragma: no cover



def arrow_inverse(H, max_global_share: float = 0.25):
    """Exact inverse of a sparse SPD matrix with block-arrow structure, or ``None``.

    Factor designs give informations of this shape: a few *global*
    coefficients (intercept, date: coupled to everything) and many small
    blocks (one per country) coupled only to themselves and the globals. With
    the blocks ``C_c``, their coupling ``B_c`` to the globals and the global
    block ``A``, block elimination (the Schur complement
    ``S = A - sum_c B_c^T C_c^{-1} B_c``) gives

    * ``V_GG = S^{-1}``,
    * ``V_cG = -E_c S^{-1}`` with ``E_c = C_c^{-1} B_c``,
    * ``V_cd = delta_cd C_c^{-1} + E_c S^{-1} E_d^T``,

    at a cost of ``sum_c b_c^3 + g N^2`` instead of ``N^3`` (``g`` globals).
    Returns ``None`` when the structure is absent (more than
    ``max_global_share`` of the rows are dense, or a single block) or a block
    is not positive definite: the caller then uses :func:`cholesky_inverse`.
    """
    from scipy.sparse.csgraph import connected_components

    if not sp.issparse(H):
        return None
    H = sp.csr_matrix(H)
    N = H.shape[0]
    d = H.diagonal()
    if np.any(d <= 0) or not np.all(np.isfinite(H.data)):
        return None
    s = 1.0 / np.sqrt(d)
    Hs = sp.csr_matrix(sp.diags(s) @ H @ sp.diags(s))
    deg = np.diff(Hs.indptr)
    glob = deg > 2.0 * np.median(deg)  # globals couple to (nearly) everything
    g = int(glob.sum())
    if g > max_global_share * N or g == N:
        return None
    rest = np.flatnonzero(~glob)
    G = np.flatnonzero(glob)
    Hr = Hs[rest][:, rest]
    ncomp, labels = connected_components(Hr, directed=False)
    if ncomp < 2:
        return None
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(ncomp + 1))
    perm_rest = rest[order]
    Hr = Hs[perm_rest][:, perm_rest].tocsr()
    Brest = Hs[perm_rest][:, G].toarray()  # (N - g, g)
    A = Hs[G][:, G].toarray()
    E = np.empty_like(Brest)
    Cinv = []
    for c in range(ncomp):
        lo, hi = bounds[c], bounds[c + 1]
        C = Hr[lo:hi, lo:hi].toarray()
        Ci = cholesky_inverse(C)
        if Ci is None:
            return None
        Cinv.append(Ci)
        E[lo:hi] = Ci @ Brest[lo:hi]
    S = A - Brest.T @ E
    Si = cholesky_inverse(S) if g else np.zeros((0, 0))
    if Si is None:
        return None
    F = E @ Si  # (N - g, g)
    full = np.concatenate([perm_rest, G])
    m = N - g
    # fill in the permuted order, then undo the permutation on both axes
    Vp = np.empty((N, N))
    Vp[:m, :m] = F @ E.T
    for c in range(ncomp):
        lo, hi = bounds[c], bounds[c + 1]
        Vp[lo:hi, lo:hi] += Cinv[c]
    Vp[:m, m:] = -F
    Vp[m:, :m] = -F.T
    Vp[m:, m:] = Si
    inv = np.empty(N, dtype=np.int64)
    inv[full] = np.arange(N)
    V = Vp[inv][:, inv]
    del Vp
    V *= s[:, None]
    V *= s[None, :]
    _mirror_upper(V)  # exactly symmetric (after the scaling, whose rounding is not)
    return V
