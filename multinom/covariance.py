"""Covariance matrices of the coefficients: model-based, sandwich, clustered, overdispersed.

Every function here works on the *kept* (non-aliased) coefficients, in the
package's level-major order; :meth:`MultinomFit.vcov` expands the result to all
coefficients (NaN for aliased ones). Reach them through the fit::

    fit.vcov("model")                      # inverse Fisher information
    fit.vcov("sandwich")                   # Huber-White, the counted units independent
    fit.vcov("cluster", cluster="country") # clustered (sandwich::vcovCL's default)
    fit.vcov("cluster")                    # each data row one cluster
    fit.vcov("dispersion")                 # model vcov x Pearson dispersion
    fit.std_errors("cluster", cluster="country"); fit.summary(type="sandwich")
    fit.predict(newdata, se=True, vcov="cluster", cluster="country")

Notation
--------
For data row ``i`` with counts ``Y_i`` (length ``K``; for a factor response
``Y_i = w_i e_{y_i}``, the frequency weight in the observed level), total
``m_i = sum_k Y_ik``, model-matrix row ``z_i`` and fitted probabilities ``p_i``,
write ``r_i = Y_i - m_i p_i`` and drop the baseline entry (first level) of
``Y_i``, ``p_i``, ``r_i``. The score of row ``i`` is ``r_i ⊗ z_i``
(level-major). ``H`` is the information (``fit.information()``, plus
``2 * decay`` on the diagonal for a penalised fit) and ``n`` is ``fit.nobs``
(the number of counted units: sum of frequency weights, or of the counts).

``"model"``
    ``V = H^{-1}``.

``"sandwich"`` (Huber-White, HC0)
    ``V = H^{-1} M H^{-1}`` with the meat summed over the *counted units*,
    each treated as an independent observation: a row of weight ``w`` counts
    as ``w`` identical rows, a count-matrix row as ``m_i`` single
    observations (``Y_ik`` of them in level ``k``). A unit in level ``k`` has
    score ``(e_k - p_i) ⊗ z_i``, so

    .. math::  M = \\sum_i \\left(\\operatorname{diag}(Y_i) - Y_i p_i^T - p_i Y_i^T
               + m_i p_i p_i^T\\right) \\otimes z_i z_i^T .

    This is R's ``sandwich::sandwich`` on the data expanded to one row per
    unit. It is linear in the counts, so it depends only on the collapsed
    covariate patterns (rows with identical covariates merged), and it is
    computed as ``M = I(Y / m) + sum_g (r_g r_g^T / m_g) ⊗ z_g z_g^T`` (the first
    term is :func:`multinom.information_matrix` at the observed proportions):
    BLAS-3 or sparse products, no loop over rows. Its expectation under the
    multinomial model is ``H`` whatever the overdispersion between rows: it
    protects against a wrong *mean* model, **not** against overdispersed counts.

``"cluster"``
    ``V = c H^{-1} (sum_g S_g S_g^T) H^{-1}`` with ``S_g = sum_{i in g} r_i ⊗ z_i``
    the score of cluster ``g`` (every unit of a data row belongs to that row's
    cluster). ``cluster=`` is a column name of the data the model was fitted
    to, or an array with one value per data row (of the data, or of the rows
    used); ``None`` makes every data row its own cluster. The adjustment
    ``c`` mirrors ``sandwich::vcovCL``'s default for non-``lm`` models
    (``type = "HC0"``, ``cadjust = TRUE``): ``c = G / (G - 1)`` with ``G`` the
    number of clusters among the rows used; ``hc="HC1"`` multiplies by
    ``(n - 1) / (n - k)`` as well (``k`` = number of estimated coefficients),
    ``cadjust=False`` drops ``G / (G - 1)``. Clustering by data row (or by a
    coarser unit such as a country) is what widens the covariance for
    overdispersed counts.

``"dispersion"``
    ``V = phi H^{-1}`` (quasi-multinomial), ``phi`` estimated by
    :func:`dispersion` (or given as ``dispersion=``). ``type="model"`` with a
    number ``dispersion=phi`` is the same.

Rows of weight zero contribute nothing (they still count as clusters).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.linalg import blas

from .exceptions import DataError
from .information import information_matrix

__all__ = ["VCOV_TYPES", "vcov_kept", "meat_kept", "dispersion", "pearson_dispersion",
           "PearsonDispersion", "cluster_codes"]

VCOV_TYPES = ("model", "sandwich", "cluster", "dispersion")
_HC_TYPES = ("HC0", "HC1")

#: Largest temporary (bytes) for a chunk of dense score rows.
_CHUNK_BYTES = 64 * 2**20


# --------------------------------------------------------------------------- helpers
def _kept_Z(fit):
    d = fit._design
    if sp.issparse(d.Z):
        return d.Z[:, np.flatnonzero(fit._keep)].tocsr()
    return np.asarray(d.Z)[:, fit._keep]


def _mirror_upper(A: np.ndarray) -> np.ndarray:
    iu = np.triu_indices(A.shape[0], 1)
    A[iu[1], iu[0]] = A[iu]
    return A


def _dense_crossprod_chunks(chunks, N: int) -> np.ndarray:
    """``sum S^T S`` over an iterable of dense ``(r, N)`` blocks (BLAS ``dsyrk``)."""
    C = np.zeros((N, N), order="F")
    for S in chunks:
        if S.shape[0] == 0:
            continue
        C = blas.dsyrk(1.0, np.asfortranarray(S.T), beta=1.0, c=C, trans=0, lower=0, overwrite_c=1)
    return _mirror_upper(np.ascontiguousarray(C))


def _kron_rows_sparse(R: np.ndarray, Z: sp.csr_matrix) -> sp.csr_matrix:
    """Sparse ``S`` with rows ``r_i ⊗ z_i`` (level-major), from sparse ``Z``."""
    n, J = R.shape
    p = Z.shape[1]
    coo = Z.tocoo()
    rows = np.tile(coo.row, J)
    cols = (np.repeat(np.arange(J), coo.nnz) * p + np.tile(coo.col, J))
    vals = (R[coo.row, :] * coo.data[:, None]).T.ravel()
    S = sp.csr_matrix((vals, (rows, cols)), shape=(n, J * p))
    S.eliminate_zeros()
    return S


def _score_crossprod(Z, R: np.ndarray, clusters: np.ndarray | None = None,
                     n_clusters: int | None = None) -> np.ndarray:
    """``sum_g S_g S_g^T`` with ``S_g = sum_{i in g} r_i ⊗ z_i``.

    ``Z`` (n, p) dense or CSR, ``R`` (n, J); ``clusters`` (n,) integer codes in
    ``0..G-1`` (``None``: every row its own cluster). Vectorised: the cluster
    scores are formed with a sparse aggregation and their cross-product with
    ``dsyrk`` (dense, in chunks) or a sparse product (when the scores are sparse).
    """
    n, J = R.shape
    p = Z.shape[1]
    N = J * p
    if n == 0 or N == 0:
        return np.zeros((N, N))
    if sp.issparse(Z):
        S = _kron_rows_sparse(R, sp.csr_matrix(Z))
        if clusters is not None:
            A = sp.csr_matrix((np.ones(n), (clusters, np.arange(n))), shape=(n_clusters, n))
            S = (A @ S).tocsr()
        G = S.shape[0]
        density = S.nnz / max(G * N, 1)
        if density < 0.05:
            return np.asarray((S.T @ S).toarray())
        step = max(1, _CHUNK_BYTES // (8 * N))
        return _dense_crossprod_chunks((S[s:s + step].toarray() for s in range(0, G, step)), N)
    Z = np.asarray(Z, dtype=float)
    if clusters is None:
        step = max(1, _CHUNK_BYTES // (8 * N))
        return _dense_crossprod_chunks(
            ((R[s:s + step, :, None] * Z[s:s + step, None, :]).reshape(-1, N)
             for s in range(0, n, step)), N)
    # sort rows by cluster, cut into chunks at cluster boundaries, aggregate each chunk
    order = np.argsort(clusters, kind="stable")
    cl_sorted = clusters[order]
    bounds = np.flatnonzero(np.diff(cl_sorted)) + 1
    starts = np.concatenate([[0], bounds])
    ends = np.concatenate([bounds, [n]])
    step = max(1, _CHUNK_BYTES // (8 * N))

    def chunks():
        c = 0
        while c < len(starts):
            s = starts[c]
            e_idx = c
            while e_idx + 1 < len(starts) and ends[e_idx + 1] - s <= step:
                e_idx += 1
            e = ends[e_idx]
            rows = order[s:e]
            local = cl_sorted[s:e]
            codes = np.searchsorted(np.unique(local), local)
            Sc = (R[rows, :, None] * Z[rows, None, :]).reshape(-1, N)
            A = sp.csr_matrix((np.ones(len(rows)), (codes, np.arange(len(rows)))),
                              shape=(int(codes.max()) + 1, len(rows)))
            yield np.asarray(A @ Sc)
            c = e_idx + 1

    return _dense_crossprod_chunks(chunks(), N)


def _collapsed_residuals(fit):
    d = fit._design
    P = fit._result.P
    Y = d.Y
    m = Y.sum(axis=1)
    return Y, m, P, Y[:, 1:] - m[:, None] * P[:, 1:]


def cluster_codes(fit, cluster) -> tuple[np.ndarray, int]:
    """Integer cluster codes (``0..G-1``) of the data rows used, and ``G``.

    ``cluster``: ``None`` (each row used its own cluster), a column name of the
    data the model was fitted to, or an array with one value per row of that
    data or per row used.
    """
    d = fit._design
    n_used = d.n_rows
    if cluster is None:
        return np.arange(n_used), n_used
    args = getattr(fit, "_refit_args", None) or {}
    data = args.get("data")
    if isinstance(cluster, str):
        if data is None:
            raise DataError(f"cluster={cluster!r} names a column, but this fit does not keep a reference "
                            "to its data; pass the cluster values as an array")
        if cluster not in data.columns:
            raise DataError(f"cluster column {cluster!r} is not in the data the model was fitted to")
        values = data[cluster]
        values = _rows_used(fit, data, values.to_numpy(), f"cluster column {cluster!r}")
    else:
        arr = cluster.to_numpy() if isinstance(cluster, (pd.Series, pd.Index)) else np.asarray(cluster)
        if arr.ndim != 1:
            raise DataError(f"cluster must be one-dimensional, got shape {arr.shape}")
        if len(arr) == n_used:
            values = arr
        elif data is not None and len(arr) == len(data):
            values = _rows_used(fit, data, arr, "cluster")
        else:
            size = f" or the {len(data)} rows of the data" if data is not None else ""
            raise DataError(f"cluster has {len(arr)} values; expected one per row used ({n_used}){size}")
    values = pd.Series(values)
    if values.isna().any():
        raise DataError("cluster has missing values in rows used by the fit")
    codes, uniques = pd.factorize(values, sort=False)
    return codes.astype(np.int64), len(uniques)


def _rows_used(fit, data: pd.DataFrame, values: np.ndarray, what: str) -> np.ndarray:
    idx = fit._design.row_index
    if len(idx) == len(data) and idx.equals(data.index):
        return values
    if not data.index.is_unique:
        raise DataError(f"cannot align {what} with the rows used: the data index has duplicate "
                        "labels; pass one cluster value per row used instead")
    pos = data.index.get_indexer(idx)
    if (pos < 0).any():
        raise DataError(f"cannot align {what} with the rows used: the data's index changed since the fit")
    return values[pos]


# --------------------------------------------------------------------------- meat
def meat_kept(fit, type: str = "sandwich", cluster=None) -> np.ndarray:
    """The meat ``M`` of the sandwich over the kept coefficients (no adjustment).

    ``type="sandwich"``: the counted units independent; ``type="cluster"``:
    ``sum_g S_g S_g^T`` over the clusters (see the module docstring).
    """
    Zk = _kept_Z(fit)
    d = fit._design
    if type == "sandwich":
        Y, m, P, R = _collapsed_residuals(fit)
        pos = m > 0
        msafe = np.where(pos, m, 1.0)
        Q = np.where(pos[:, None], Y[:, 1:] / msafe[:, None], 0.0)
        M = information_matrix(Q, Zk, m)
        M += _score_crossprod(Zk, R / np.sqrt(msafe)[:, None])
        return M
    if type == "cluster":
        codes, G = cluster_codes(fit, cluster)
        P = fit._result.P
        Yr = d.Y_rows
        mr = Yr.sum(axis=1)
        Rr = Yr[:, 1:] - mr[:, None] * P[d.groups, 1:]
        # merge rows of the same (cluster, covariate pattern): same z and p
        cell_key = codes * (int(d.groups.max()) + 1 if len(d.groups) else 1) + d.groups
        cells, inv = np.unique(cell_key, return_inverse=True)
        inv = inv.ravel()
        Rc = np.zeros((len(cells), Rr.shape[1]))
        np.add.at(Rc, inv, Rr)
        first = np.full(len(cells), -1, dtype=np.int64)
        first[inv[::-1]] = np.arange(len(inv))[::-1]
        cell_group = d.groups[first]
        cell_cluster = codes[first]
        Zc = Zk[cell_group]
        if len(cells) == G:  # every cluster a single cell: no aggregation needed
            return _score_crossprod(Zc, Rc)
        return _score_crossprod(Zc, Rc, cell_cluster, G)
    raise ValueError(f"meat type must be 'sandwich' or 'cluster', got {type!r}")


# --------------------------------------------------------------------------- dispersion
@dataclass(frozen=True)
class PearsonDispersion:
    """Pearson dispersion estimate: ``phi = chi2 / df``.

    Attributes
    ----------
    phi : float
    chi2 : float
        Pearson ``X^2 = sum_i sum_k (Y_ik - m_i p_ik)^2 / (m_i p_ik)``.
    df : int
        ``n_rows * (K - 1) - edf``.
    n_rows : int
        Rows (count matrix: data rows; factor response: covariate patterns)
        with ``m_i > 0`` that enter ``X^2``.
    """

    phi: float
    chi2: float
    df: int
    n_rows: int

    def __float__(self) -> float:
        return float(self.phi)


def pearson_dispersion(fit) -> PearsonDispersion:
    """Pearson chi-square dispersion of a fit (quasi-multinomial ``phi``).

    .. math::  \\hat\\phi = \\frac{1}{n_+ (K - 1) - \\mathrm{edf}}
               \\sum_{i: m_i > 0} \\sum_k \\frac{(Y_{ik} - m_i p_{ik})^2}{m_i p_{ik}}

    For a count-matrix response the sum runs over the data rows (each row a
    multinomial draw of ``m_i`` units; rows with identical covariates are *not*
    merged, so overdispersion between them counts); for a factor response,
    over the covariate patterns (identical covariate rows merged: the grouped
    data). ``phi`` is about 1 for multinomial counts and larger for
    overdispersed ones (Dirichlet-multinomial: ``1 + (m - 1) rho`` for rows of
    ``m`` units with intra-row correlation ``rho``). With individual-level data
    (most ``m_i = 1``) it carries little information.

    Raises
    ------
    ValueError
        When the residual degrees of freedom are not positive.
    """
    d = fit._design
    P = fit._result.P
    if d.is_count_matrix:
        Y = d.Y_rows
        Pr = P[d.groups]
    else:
        Y = d.Y
        Pr = P
    m = Y.sum(axis=1)
    pos = m > 0
    Y, Pr, m = Y[pos], Pr[pos], m[pos]
    E = m[:, None] * Pr
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(E > 0, (Y - E) ** 2 / np.where(E > 0, E, 1.0), np.where(Y > 0, np.inf, 0.0))
    chi2 = float(terms.sum())
    K = len(fit.levels)
    df = int(pos.sum()) * (K - 1) - int(fit.edf)
    if df <= 0:
        raise ValueError(
            f"the Pearson dispersion needs positive residual degrees of freedom; here "
            f"{int(pos.sum())} rows x {K - 1} - {fit.edf} coefficients = {df}")
    return PearsonDispersion(phi=chi2 / df, chi2=chi2, df=df, n_rows=int(pos.sum()))


def dispersion(fit) -> float:
    """The Pearson dispersion ``phi`` (see :func:`pearson_dispersion`)."""
    return pearson_dispersion(fit).phi


# --------------------------------------------------------------------------- vcov
def vcov_kept(fit, type: str = "model", cluster=None, dispersion=None, hc: str = "HC0",
              cadjust: bool = True) -> np.ndarray:
    """Covariance over the kept (non-aliased) coefficients, level-major.

    Parameters
    ----------
    fit : MultinomFit
    type : {"model", "sandwich", "cluster", "dispersion"}
        See the module docstring.
    cluster : str or array_like, optional
        For ``type="cluster"``: a column name of the data, or one value per
        data row (of the data or of the rows used). ``None``: each data row is
        a cluster.
    dispersion : float, optional
        For ``type="model"`` or ``"dispersion"``: multiply the model covariance
        by this ``phi`` (``"dispersion"`` without it estimates ``phi``).
    hc : {"HC0", "HC1"}
        ``"HC1"`` multiplies a sandwich by ``(n - 1) / (n - k)``, ``n`` =
        ``fit.nobs``, ``k`` = ``fit.edf``.
    cadjust : bool, default True
        For ``type="cluster"``: multiply by ``G / (G - 1)``.

    Returns
    -------
    ndarray (k, k)
    """
    if type not in VCOV_TYPES:
        raise ValueError(f"vcov type must be one of {VCOV_TYPES}, got {type!r}")
    if hc not in _HC_TYPES:
        raise ValueError(f"hc must be one of {_HC_TYPES}, got {hc!r}")
    if cluster is not None and type != "cluster":
        raise ValueError(f"cluster= is only used with type='cluster' (got type={type!r})")
    if dispersion is not None and type not in ("model", "dispersion"):
        raise ValueError(f"dispersion= scales the model covariance: use it with type='model' or "
                         f"'dispersion', not {type!r}")
    if hc != "HC0" and type not in ("sandwich", "cluster"):
        raise ValueError("hc= applies to type='sandwich' or 'cluster'")
    V = fit._vcov_model_kept()
    if type in ("model", "dispersion"):
        if dispersion is None:
            if type == "model":
                return V
            dispersion = pearson_dispersion(fit).phi
        if isinstance(dispersion, bool) or not np.isfinite(dispersion) or dispersion <= 0:
            raise ValueError(f"dispersion must be a positive finite number, got {dispersion!r}")
        return V * float(dispersion)
    key = None
    if cluster is None or isinstance(cluster, str):  # cache what is named (not arrays)
        key = ("vcov", type, cluster, hc, bool(cadjust))
        cache = getattr(fit, "_cache", None)
        if cache is not None and key in cache:
            return cache[key].copy()
    M = meat_kept(fit, type, cluster=cluster)
    scale = 1.0
    if type == "cluster" and cadjust:
        _, G = cluster_codes(fit, cluster)
        if G < 2:
            raise ValueError("a clustered covariance needs at least two clusters")
        scale *= G / (G - 1)
    if hc == "HC1":
        n, k = fit.nobs, fit.edf
        if n <= k:
            raise ValueError(f"HC1 needs nobs > number of coefficients ({n} <= {k})")
        scale *= (n - 1) / (n - k)
    out = V @ M @ V
    out = 0.5 * (out + out.T)
    out *= scale
    if key is not None and getattr(fit, "_cache", None) is not None:
        fit._cache[key] = out.copy()
    return out
