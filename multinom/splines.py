r"""Natural cubic regression splines, equivalent to R's ``splines::ns()``.

``ns`` is a formulaic *stateful transform*: when a model matrix built on
training data is replayed on new data, the knots chosen on the training data
(interior and boundary) are reused, exactly like R's ``predict()`` /
``makepredictcall()`` machinery does for ``ns()`` terms.

Use in a formula::

    import formulaic
    from multinom.splines import FORMULA_CONTEXT

    mm = formulaic.model_matrix("y ~ ns(x, df=3)", data, context=FORMULA_CONTEXT)
    # replay on new data (training knots reused); the context must be passed again
    mm_new = mm.rhs.model_spec.get_model_matrix(newdata, context=FORMULA_CONTEXT)

Outside formulas, :func:`ns_basis` returns the basis matrix together with its
knots and can evaluate the same basis on new points.
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np
import pandas as pd
from formulaic.materializers.types import FactorValues
from formulaic.transforms import stateful_transform

__all__ = ["ns", "ns_basis", "NaturalSplineBasis", "FORMULA_CONTEXT"]

_ORDER = 4  # cubic splines (order = degree + 1)
# LINPACK dqrdc2 tolerance used by R's qr() for its rank decision.
_QR_TOL = 1e-7


# --------------------------------------------------------------------------
# input handling
# --------------------------------------------------------------------------
def _is_missing(v: Any) -> bool:
    return v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v))


def _to_float_array(x: Any, what: str = "x") -> np.ndarray:
    """Convert ``x`` to a 1-d float array.

    Datetime-like input becomes days since 1970-01-01 (R's
    ``as.numeric(<Date>)``); missing values (NaN, None, NaT, pd.NA) become NaN.
    """
    if isinstance(x, (pd.Series, pd.Index)):
        if isinstance(x.dtype, pd.DatetimeTZDtype):
            x = x if isinstance(x, pd.Index) else pd.DatetimeIndex(x)
            x = x.tz_convert("UTC").tz_localize(None)
        if isinstance(x.dtype, pd.CategoricalDtype):
            raise TypeError(f"ns() needs a numeric or date {what}, got a categorical")
        if pd.api.types.is_bool_dtype(x.dtype) or pd.api.types.is_numeric_dtype(x.dtype):
            return np.asarray(x.to_numpy(dtype=float, na_value=np.nan), dtype=float).ravel()
        arr = x.to_numpy()
    elif np.isscalar(x) or isinstance(x, (_dt.date, np.datetime64)):
        arr = np.asarray([x])
    else:
        arr = np.asarray(x)

    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.ravel()
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"ns() needs a one-dimensional {what}, got an array of shape {arr.shape}")

    if arr.dtype.kind == "O":
        present = [v for v in arr if not _is_missing(v)]
        if present and all(isinstance(v, (_dt.date, np.datetime64)) for v in present):
            tz_aware = any(getattr(v, "tzinfo", None) is not None for v in present)
            return _to_float_array(pd.Series(pd.to_datetime(pd.Series(arr), utc=tz_aware)), what)
        if any(isinstance(v, (str, bytes)) for v in present):
            raise TypeError(f"ns() needs a numeric or date {what}, got strings")
        try:
            return np.array([np.nan if _is_missing(v) else float(v) for v in arr], dtype=float)
        except (TypeError, ValueError):
            raise TypeError(f"ns() needs a numeric or date {what}; could not convert its values") from None
    if arr.dtype.kind == "M":  # datetime64, any unit; NaT -> NaN
        days = (arr - np.datetime64("1970-01-01", "D")) / np.timedelta64(1, "D")
        return np.asarray(days, dtype=float)
    if arr.dtype.kind in "biuf":
        return arr.astype(float)
    raise TypeError(f"ns() needs a numeric or date {what}, got dtype {arr.dtype}")


def _quantile_type7(x: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """R's ``quantile(x, probs, type = 7)`` for a non-empty, NaN-free ``x``."""
    xs = np.sort(x)
    n = xs.shape[0]
    index = 1.0 + max(n - 1, 0) * probs  # 1-based position, as in R
    lo = np.floor(index).astype(int)
    hi = np.ceil(index).astype(int)
    qs = xs[lo - 1].copy()
    upper = xs[hi - 1]
    interp = (index > lo) & (upper != qs)
    h = (index - lo)[interp]
    qs[interp] = (1.0 - h) * qs[interp] + h * upper[interp]
    return qs


# --------------------------------------------------------------------------
# B-splines
# --------------------------------------------------------------------------
def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` with 0 wherever ``den == 0`` (the 0/0 := 0 convention)."""
    out = np.zeros(np.broadcast_shapes(num.shape, den.shape))
    nz = np.broadcast_to(den != 0, out.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = num / den
    out[nz] = np.broadcast_to(q, out.shape)[nz]
    return out


def _bspline_design(t: np.ndarray, x: np.ndarray, deriv: int = 0) -> np.ndarray:
    """Cubic B-spline design matrix (or its ``deriv``-th derivative).

    ``t`` is the full (sorted) knot sequence, whose first and last four knots
    are the boundary knots ``a`` and ``b``; ``x`` must lie in ``[a, b]``.
    Intervals are closed on the left (``t[mu] <= x < t[mu+1]``) except at the
    right boundary knot, which is evaluated as the limit from the left -- the
    convention of R's ``splineDesign``.
    """
    nk = t.shape[0]
    ncoef = nk - _ORDER
    # interval index mu with t[mu] <= x < t[mu + 1]; x == b uses [t[ncoef-1], b]
    mu = np.searchsorted(t, x, side="right") - 1
    mu = np.clip(mu, _ORDER - 1, ncoef - 1)
    xc = x[:, None]
    # order-1 B-splines: indicators of the interval
    vals = (np.arange(nk - 1)[None, :] == mu[:, None]).astype(float)
    # Cox-de Boor recursion up to order (4 - deriv)
    for k in range(2, _ORDER - deriv + 1):
        m = nk - k
        i = np.arange(m)
        left = _safe_div(xc - t[i], t[i + k - 1] - t[i])
        right = _safe_div(t[i + k] - xc, t[i + k] - t[i + 1])
        vals = left * vals[:, :m] + right * vals[:, 1 : m + 1]
    # differentiate: D N_{i,k} = (k-1) [N_{i,k-1}/(t_{i+k-1}-t_i) - N_{i+1,k-1}/(t_{i+k}-t_{i+1})]
    for k in range(_ORDER - deriv + 1, _ORDER + 1):
        m = nk - k
        i = np.arange(m)
        vals = (k - 1) * (
            _safe_div(vals[:, :m], (t[i + k - 1] - t[i])[None, :])
            - _safe_div(vals[:, 1 : m + 1], (t[i + k] - t[i + 1])[None, :])
        )
    return vals


def _bspline_local(t: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The four non-zero cubic B-splines at each ``x`` (de Boor's BSPLVB).

    Returns ``(vals, mu)``: ``vals[:, r]`` is ``B_{mu-3+r}(x)``, where
    ``t[mu] <= x < t[mu+1]`` (``x`` equal to the upper boundary knot uses the
    last interval). Requires every interval used to be non-empty, which holds
    when all interior knots are below the upper boundary knot.
    """
    ncoef = t.shape[0] - _ORDER
    mu = np.searchsorted(t, x, side="right") - 1
    mu = np.clip(mu, _ORDER - 1, ncoef - 1)
    left = [None] + [x - t[mu + 1 - j] for j in range(1, _ORDER)]
    right = [None] + [t[mu + j] - x for j in range(1, _ORDER)]
    b = [np.ones_like(x)]
    for j in range(1, _ORDER):
        saved = np.zeros_like(x)
        nxt = []
        for r in range(j):
            term = b[r] / (right[r + 1] + left[j - r])
            nxt.append(saved + right[r + 1] * term)
            saved = left[j - r] * term
        nxt.append(saved)
        b = nxt
    return np.column_stack(b), mu


# --------------------------------------------------------------------------
# QR projection (LINPACK dqrdc2 / dqrsl conventions, as used by R's qr())
# --------------------------------------------------------------------------
def _natural_projection(const: np.ndarray) -> np.ndarray:
    """Columns 3..m of the orthogonal factor Q of ``qr(const)``.

    ``const`` is the ``m x 2`` matrix whose columns are the second derivatives
    of the B-splines at the two boundary knots. With Householder reflections
    ``H_l = I - u_l u_l' / u_l[l]`` (LINPACK's scaling: ``u_l`` is the column
    divided by its norm carrying the sign of its leading element, plus one in
    the leading element), ``Q = H_1 H_2`` and ``Q' const = [R; 0]``. The
    returned ``Q[:, 2:]`` spans the null space of ``const'``: the functions
    ``B(x) @ Q[:, 2:]`` have zero second derivative at both boundary knots.
    """
    a = np.array(const, dtype=float, copy=True)
    m, p = a.shape
    orig_norm = np.sqrt((a * a).sum(axis=0))
    orig_norm[orig_norm == 0] = 1.0
    reflections = []
    for col in range(min(m - 1, p)):
        v = a[col:, col]
        nrm = math.sqrt(float(v @ v))
        if col > 0 and nrm < orig_norm[col] * _QR_TOL:
            # rank deficient: R's qr.qty() only applies the first `rank` reflections
            break
        if nrm == 0.0:
            continue
        if v[0] != 0.0:
            nrm = math.copysign(nrm, v[0])
        u = v / nrm
        u[0] += 1.0
        # apply to the remaining columns
        for j in range(col + 1, p):
            a[col:, j] -= (u @ a[col:, j]) / u[0] * u
        reflections.append((col, u))
    q = np.eye(m)
    # Q = H_1 H_2 ...: build by applying reflections to I from the last one
    for col, u in reversed(reflections):
        q[col:, :] -= np.outer(u, (u @ q[col:, :]) / u[0])
    return q[:, 2:]


# --------------------------------------------------------------------------
# the basis object
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class NaturalSplineBasis:
    """A natural cubic spline basis with fixed knots.

    Attributes
    ----------
    knots : tuple of float
        Interior knots (sorted).
    boundary_knots : tuple of float
        ``(lower, upper)`` boundary knots.
    intercept : bool
        Whether the basis includes the intercept (``intercept=TRUE`` in R).
    """

    knots: tuple
    boundary_knots: tuple
    intercept: bool = False

    def __post_init__(self) -> None:
        if len(self.boundary_knots) != 2:
            raise ValueError(f"ns(): boundary_knots must have exactly two values, got {len(self.boundary_knots)}")
        lo, hi = sorted(float(v) for v in self.boundary_knots)
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise ValueError(f"ns(): boundary knots must be finite, got {list(self.boundary_knots)}")
        if not lo < hi:
            raise ValueError(
                f"ns(): the two boundary knots must differ (got {lo!r} and {hi!r}); "
                "x is constant or the given boundary_knots coincide"
            )
        kn = tuple(sorted(float(k) for k in self.knots))
        bad = [k for k in kn if not (math.isfinite(k) and lo <= k < hi)]
        if bad:
            raise ValueError(
                f"ns(): interior knots must lie inside the boundary knots [{lo!r}, {hi!r}) "
                f"(a knot may equal the lower but not the upper boundary knot); offending knots: {bad}. "
                "With df=, this means too many values of x are tied at max(x): lower df or give knots= explicitly"
            )
        object.__setattr__(self, "knots", kn)
        object.__setattr__(self, "boundary_knots", (lo, hi))
        object.__setattr__(self, "intercept", bool(self.intercept))
        t = np.array([lo] * _ORDER + list(kn) + [hi] * _ORDER, dtype=float)
        const = _bspline_design(t, np.array([lo, hi]), deriv=2)
        first = 0 if self.intercept else 1
        object.__setattr__(self, "_t", t)
        object.__setattr__(self, "_first", first)
        object.__setattr__(self, "_proj", _natural_projection(const[:, first:].T))

    @property
    def df(self) -> int:
        """Number of basis columns: ``len(knots) + 1 + intercept``."""
        return len(self.knots) + 1 + int(self.intercept)

    def __call__(self, x: Any) -> np.ndarray:
        """Evaluate the basis at ``x`` (an ``n x df`` array; NaN rows for missing x).

        Points outside the boundary knots are extrapolated linearly, using the
        value and first derivative of each basis function at the nearest
        boundary knot (which is exact for a natural spline).
        """
        xf = _to_float_array(x)
        t, first = self._t, self._first
        lo, hi = self.boundary_knots
        n = xf.shape[0]
        ncoef = t.shape[0] - _ORDER
        # projection with a zero row for the dropped first B-spline (intercept=False)
        proj = np.zeros((ncoef, self._proj.shape[1]))
        proj[first:] = self._proj
        out = np.full((n, proj.shape[1]), np.nan)
        finite = np.isfinite(xf)
        inside = finite & (xf >= lo) & (xf <= hi)
        if inside.any():
            xi = xf[inside]
            vals, mu = _bspline_local(t, xi)
            acc = np.zeros((xi.shape[0], proj.shape[1]))
            for r in range(_ORDER):
                acc += vals[:, r, None] * proj[mu - (_ORDER - 1) + r]
            out[inside] = acc
        for side, pivot in ((finite & (xf < lo), lo), (finite & (xf > hi), hi)):
            if side.any():
                piv = np.array([pivot])
                val = _bspline_design(t, piv)[0]
                slope = _bspline_design(t, piv, deriv=1)[0]
                out[side] = (val @ proj)[None, :] + (xf[side] - pivot)[:, None] * (slope @ proj)[None, :]
        return out


def ns_basis(
    x: Any,
    df: Optional[int] = None,
    knots: Optional[Sequence[float]] = None,
    intercept: bool = False,
    boundary_knots: Optional[Sequence[float]] = None,
) -> tuple[np.ndarray, NaturalSplineBasis]:
    """Compute R's ``splines::ns(x, df, knots, intercept, Boundary.knots)``.

    Same arguments as :func:`ns`. Returns ``(matrix, basis)`` where ``matrix``
    is the ``n x df`` basis evaluated at ``x`` and ``basis`` is a
    :class:`NaturalSplineBasis` holding the knots; ``basis(newx)`` is R's
    ``predict(ns(x, ...), newx)``.
    """
    xf = _to_float_array(x)
    intercept = _check_intercept(intercept)
    if df is not None and not isinstance(df, (int, np.integer)):
        if isinstance(df, (float, np.floating)) and float(df).is_integer():
            df = int(df)
        else:
            raise ValueError(f"ns(): df must be a whole number, got {df!r}")
    xs = xf[~np.isnan(xf)]
    if xs.shape[0] == 0 and (boundary_knots is None or (df is not None and knots is None)):
        raise ValueError("ns(): x has no non-missing values to place the knots")

    if boundary_knots is not None:
        bk = [float(v) for v in np.asarray(boundary_knots, dtype=float).ravel()]
        if len(bk) != 2:
            raise ValueError(f"ns(): boundary_knots must have exactly two values, got {len(bk)}")
        lo, hi = sorted(bk)
        outside = (xs < lo) | (xs > hi)
    else:
        if not np.all(np.isfinite(xs)):
            raise ValueError("ns(): x has infinite values; give boundary_knots= explicitly")
        if xs.shape[0] == 1:  # R: Boundary.knots <- x * c(7, 9)/8
            lo, hi = sorted((xs[0] * 7 / 8, xs[0] * 9 / 8))
        else:
            lo, hi = float(xs.min()), float(xs.max())
        outside = np.zeros(xs.shape[0], dtype=bool)

    if knots is not None:
        kn = [float(v) for v in np.asarray(knots, dtype=float).ravel()]
    elif df is not None:
        n_interior = df - 1 - int(intercept)
        if df < 1 or n_interior < 0:
            raise ValueError(
                f"ns(): df must be at least {1 + int(intercept)} "
                f"(1 + intercept), got df={df}. R would warn and use df={1 + int(intercept)}"
            )
        if n_interior > 0:
            inner = xs[~outside]
            if inner.shape[0] == 0:
                raise ValueError(
                    f"ns(): no values of x lie inside boundary_knots [{lo!r}, {hi!r}] to place the interior knots"
                )
            probs = np.linspace(0.0, 1.0, n_interior + 2)[1:-1]
            kn = _quantile_type7(inner, probs).tolist()
        else:
            kn = []
    else:
        kn = []
    basis = NaturalSplineBasis(tuple(kn), (lo, hi), intercept)
    return basis(xf), basis


def _check_intercept(intercept: Any) -> bool:
    if isinstance(intercept, (bool, np.bool_)):
        return bool(intercept)
    if isinstance(intercept, (int, np.integer)) and intercept in (0, 1):
        return bool(intercept)
    raise ValueError(f"ns(): intercept must be True or False, got {intercept!r}")


@stateful_transform
def ns(  # pylint: disable=dangerous-default-value  # _state is always supplied by formulaic
    x: Any,
    df: Optional[int] = None,
    knots: Optional[Sequence[float]] = None,
    intercept: bool = False,
    boundary_knots: Optional[Sequence[float]] = None,
    _state: dict = {},
) -> FactorValues:
    r"""Natural cubic spline basis, the equivalent of R's ``splines::ns()``.

    Parameters
    ----------
    x : array-like, pandas Series, or datetime-like
        The predictor. Integers, floats and booleans are used as is;
        ``datetime64`` values (numpy or pandas, including timezone-aware
        pandas data, converted to UTC) and ``datetime.date`` objects become
        days since 1970-01-01 as floats, matching R's ``as.numeric(<Date>)``.
        Missing values (NaN, NaT, None, ``pd.NA``) give rows of NaN and are
        ignored when choosing knots.
    df : int, optional
        Degrees of freedom = number of columns. When ``knots`` is not given,
        ``df - 1 - intercept`` interior knots are placed at the quantiles
        ``1/(K+1), ..., K/(K+1)`` (R's ``quantile`` type 7) of the non-missing
        ``x`` lying inside the boundary knots. Must be at least
        ``1 + intercept`` (R warns and raises it; here it is an error).
    knots : sequence of float, optional
        Interior knots; overrides ``df``. Each must satisfy
        ``lower <= knot < upper``.
    intercept : bool, default False
        If True the basis spans the constant function (``df`` columns
        including it); otherwise the basis is orthogonal-complemented so that
        it does not contain the constant, as in R.
    boundary_knots : sequence of two floats, optional
        R's ``Boundary.knots``; default ``(min(x), max(x))`` over non-missing
        values (for a single value ``v``: ``(7v/8, 9v/8)``, as R does).

    Returns
    -------
    FactorValues of dict
        ``{1: column_1, ..., df: column_df}`` (numpy arrays). formulaic names
        the columns ``ns(x, df=3)[1]``, ``ns(x, df=3)[2]``, ... ; these
        correspond to R's ``ns(x, df = 3)1``, ... Outside a formula use
        ``numpy.column_stack(list(ns(x, df=3).values()))`` or
        :func:`ns_basis`.

    Raises
    ------
    ValueError
        For ``df < 1 + intercept``, knots outside ``[lower, upper)``, equal
        boundary knots (constant ``x``), or no usable ``x`` values.
    TypeError
        For non-numeric, non-date ``x``.

    Notes
    -----
    **B-spline basis.** With boundary knots :math:`a < b` and sorted interior
    knots :math:`\kappa_1 \le \dots \le \kappa_K`, let
    :math:`t = (a, a, a, a, \kappa_1, \dots, \kappa_K, b, b, b, b)` and
    :math:`B_1, \dots, B_{K+4}` the cubic (order 4) B-splines on ``t``,
    from the Cox-de Boor recursion

    .. math::

        B_{i,1}(x) = [t_i \le x < t_{i+1}], \qquad
        B_{i,k}(x) = \frac{x - t_i}{t_{i+k-1} - t_i} B_{i,k-1}(x)
                   + \frac{t_{i+k} - x}{t_{i+k} - t_{i+1}} B_{i+1,k-1}(x)

    (terms with a zero denominator are zero; at :math:`x = b` the last
    non-empty interval is used). Derivatives follow from
    :math:`B'_{i,k} = (k-1)\{B_{i,k-1}/(t_{i+k-1}-t_i) - B_{i+1,k-1}/(t_{i+k}-t_{i+1})\}`.
    If ``intercept`` is False, :math:`B_1` is dropped, leaving :math:`m`
    functions :math:`B(x) \in \mathbb{R}^m` (:math:`m = K + 3 + \text{intercept}`).

    **Natural constraint.** A cubic spline :math:`f = B(x)^\top \beta` is
    *natural* if :math:`f''(a) = f''(b) = 0`, i.e. :math:`C^\top \beta = 0`
    with the :math:`m \times 2` matrix :math:`C = [B''(a), B''(b)]`. Then
    :math:`f` is linear beyond the boundary knots.

    **QR projection.** Write the Householder QR decomposition
    :math:`C = Q \begin{bmatrix} R \\ 0 \end{bmatrix}` with :math:`Q`
    orthogonal :math:`m \times m`. The last :math:`m - 2` columns
    :math:`Q_2` of :math:`Q` are an orthonormal basis of the null space of
    :math:`C^\top`, and the natural spline basis is
    :math:`N(x) = B(x)^\top Q_2` (``df = m - 2 = K + 1 + intercept``
    columns). :math:`Q` is built with LINPACK's reflection convention (the one
    of R's ``qr()``), which makes the columns identical to R's, not merely a
    basis of the same space.

    **Extrapolation.** For :math:`x < a`,
    :math:`N(x) = N(a) + (x - a) N'(a)`, likewise beyond :math:`b`; since
    :math:`N'' = 0` there, this is the natural spline itself.

    **Statefulness.** In a formulaic formula the interior and boundary knots
    computed on the training data are stored in the model spec
    (``_state["knots"]``, ``_state["boundary_knots"]``) and reused when the
    spec is applied to new data, as R's ``predict(<ns>, newx)`` does.

    Formula usage (formulaic 1.2): pass :data:`FORMULA_CONTEXT` as
    ``context``, both when building and when replaying::

        mm = formulaic.model_matrix("y ~ ns(x, df=3)", data, context=FORMULA_CONTEXT)
        new = mm.rhs.model_spec.get_model_matrix(newdata, context=FORMULA_CONTEXT)

    or ``formulaic.Formula("y ~ ns(x, df=3)").get_model_matrix(data,
    context=FORMULA_CONTEXT)``.
    """
    if "knots" in _state:
        basis = NaturalSplineBasis(
            tuple(_state["knots"]), tuple(_state["boundary_knots"]), bool(_state.get("intercept", intercept))
        )
        values = basis(x)
    else:
        values, basis = ns_basis(x, df=df, knots=knots, intercept=intercept, boundary_knots=boundary_knots)
        _state["knots"] = list(basis.knots)
        _state["boundary_knots"] = list(basis.boundary_knots)
        _state["intercept"] = basis.intercept
    return FactorValues(
        {j + 1: values[:, j] for j in range(values.shape[1])},
        kind="numerical",
        spans_intercept=False,  # R's model.matrix never drops an ns() column
        format="{name}[{field}]",
        encoded=False,
    )


FORMULA_CONTEXT = {"ns": ns}
"""Evaluation context making ``ns`` available in formulaic formulas."""
