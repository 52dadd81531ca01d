"""From a formula and a DataFrame to the arrays the fitter needs: the :class:`Design`.

Steps, in order (as R's ``model.frame`` + ``multinom``):

1. parse the formula (:mod:`multinom._formula`); check that every column it,
   ``weights=`` and ``offset=`` name exists;
2. ``subset`` (a boolean mask or a :meth:`pandas.DataFrame.query` string);
3. missing values: rows with a missing response, predictor, weight or offset
   are dropped (``na_action="drop"``) or reported (``"raise"``);
4. the response becomes an ``(n, K)`` count matrix ``Y`` (frequency weights
   folded in); empty levels are dropped with a warning, as R does;
5. the right-hand side becomes the model matrix through formulaic (treatment
   contrasts, R's level order, stateful transforms such as ``ns()`` fitted on
   these rows); date columns become days since 1970-01-01;
6. aliased (collinear) columns are detected;
7. rows with identical covariates (and offsets) are collapsed into one row
   with summed counts: exactly the same likelihood, often far fewer rows.

The frozen :class:`NewDataSpec` replays step 5 on new data for ``predict``,
refusing factor levels that were not seen in fitting.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ._formula import ParsedFormula, parse_formula
from .exceptions import (DataError, EmptyLevelWarning, FormulaError, MissingColumnError,
                         UnseenLevelError)

__all__ = ["Design", "NewDataSpec", "build_design", "DATE_ORIGIN"]

#: Dates and datetimes in formulas are converted to days since this origin
#: (as R's ``as.numeric(<Date>)``).
DATE_ORIGIN = pd.Timestamp("1970-01-01")

#: Densify a sparse model matrix whose share of non-zeros exceeds this.
_DENSE_ABOVE = 0.3


def _formula_context() -> dict:
    context = {"np": np, "log": np.log, "exp": np.exp, "sqrt": np.sqrt}
    try:
        from .splines import FORMULA_CONTEXT
    except ImportError:  # pragma: no cover - splines module is part of the package
        FORMULA_CONTEXT = {}
    context.update(FORMULA_CONTEXT)
    return context


def r_column_name(name: str) -> str:
    """formulaic's column name in R's style: ``(Intercept)``, ``gb`` for ``g[T.b]``."""
    if name == "Intercept":
        return "(Intercept)"
    return re.sub(r"\[T\.(.*?)\]", r"\1", name)


# --------------------------------------------------------------------------- #
# The frozen replay spec
# --------------------------------------------------------------------------- #
@dataclass
class NewDataSpec:
    """Everything needed to build the model matrix (and offset) for new data."""

    rhs: str
    model_spec: object  # formulaic ModelSpec
    variables: tuple  # raw columns the right-hand side reads
    date_columns: tuple
    offset_columns: tuple | None  # column names read from newdata, original level order
    offset_is_array: bool
    original_levels: tuple  # response levels in the data's order, before baseline reordering
    level_order: tuple  # internal order (baseline first), as indices into original_levels
    binary: bool
    dense: bool

    def check_columns(self, newdata: pd.DataFrame, what: str = "newdata") -> None:
        missing = [v for v in self.variables if v not in newdata.columns]
        if missing:
            raise MissingColumnError(
                f"{what} is missing column(s) {missing} used by the formula terms '{self.rhs}'")

    def complete_rows(self, newdata: pd.DataFrame) -> np.ndarray:
        """Boolean mask of rows with every predictor (and offset) present."""
        cols = list(self.variables)
        if self.offset_columns:
            cols += list(self.offset_columns)
        if not cols:
            return np.ones(len(newdata), dtype=bool)
        return ~newdata[cols].isna().any(axis=1).to_numpy()

    def model_matrix(self, newdata: pd.DataFrame):
        """Model matrix for (complete) rows of ``newdata``; unseen levels raise."""
        frame = _convert_dates(newdata[list(self.variables)].copy(), self.date_columns)
        _check_unseen_levels(self.model_spec, frame)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            mm = self.model_spec.get_model_matrix(frame, context=_formula_context())
        for w in caught:
            msg = str(w.message)
            if "outside of the nominated levels" in msg or "not seen in original" in msg:
                raise UnseenLevelError(f"newdata has factor level(s) not seen when fitting: {msg}")
        Z = sp.csr_matrix(mm)
        return Z.toarray() if self.dense else Z

    def offset(self, newdata: pd.DataFrame, offset=None):
        """The ``(n, K)`` offset for new data in internal level order, or None."""
        if offset is None and self.offset_columns is None:
            if self.offset_is_array:
                raise DataError(
                    "the model was fitted with an offset given as an array; pass offset= to predict "
                    "(an n x K array, or a length-n vector for a binary model)")
            return None
        if offset is None:
            raw = newdata[list(self.offset_columns)].to_numpy(dtype=float)
        else:
            raw = offset
        return _offset_matrix(raw, len(newdata), len(self.original_levels), self.binary,
                              self.level_order, "offset")


def _check_unseen_levels(model_spec, frame: pd.DataFrame) -> None:
    contrasts = getattr(model_spec, "factor_contrasts", {}) or {}
    for factor, state in contrasts.items():
        name = getattr(factor, "expr", str(factor))
        levels = getattr(state, "levels", None)
        if name in frame.columns and levels is not None:
            values = frame[name]
            present = pd.unique(values.dropna())
            known = set(levels)
            unseen = [v for v in present if v not in known]
            if unseen:
                raise UnseenLevelError(
                    f"column '{name}' has level(s) {sorted(map(str, unseen))} not seen when fitting "
                    f"(known levels: {list(levels)}); predictions for them are undefined")


# --------------------------------------------------------------------------- #
# The design
# --------------------------------------------------------------------------- #
@dataclass
class Design:
    """Arrays for the fitter, plus the bookkeeping that maps them back to rows.

    Attributes
    ----------
    Z : ndarray or scipy.sparse.csr_matrix, shape (n_groups, p)
        Model matrix of the collapsed rows (all columns, aliased ones included).
    Y : ndarray (n_groups, K)
        Counts (weights folded in), internal level order (baseline first).
    offset : ndarray (n_groups, K) or None
    groups : ndarray (n_rows,)
        Collapsed row of each used data row.
    Y_rows : ndarray (n_rows, K)
        Counts of each used data row (for residuals, sandwich covariances).
    row_index : pandas.Index
        Labels of the used data rows.
    column_names : list of str
        R-style model-matrix column names.
    term_columns : dict
        Formula term -> list of column positions (for anova / drop1).
    aliased : ndarray of bool (p,)
    levels : list
        Response levels, internal order (baseline first).
    baseline
    is_count_matrix, binary : bool
    n_dropped : int
        Rows dropped for missing values.
    n_excluded : int
        Rows excluded by ``subset``.
    spec : NewDataSpec
    """

    Z: object
    Y: np.ndarray
    offset: np.ndarray | None
    groups: np.ndarray
    Y_rows: np.ndarray
    row_index: pd.Index
    column_names: list
    term_columns: dict
    aliased: np.ndarray
    levels: list
    baseline: object
    is_count_matrix: bool
    binary: bool
    n_dropped: int
    n_excluded: int
    spec: NewDataSpec
    parsed: ParsedFormula
    has_intercept: bool = field(default=True)

    @property
    def n_rows(self) -> int:
        return len(self.groups)

    @property
    def m(self) -> np.ndarray:
        """Row totals of the collapsed rows."""
        return self.Y.sum(axis=1)

    @property
    def offset_rows(self) -> np.ndarray | None:
        return None if self.offset is None else self.offset[self.groups]

    def Z_rows(self):
        """Model matrix of the used data rows (expanded from the collapsed rows)."""
        return self.Z[self.groups]


def _convert_dates(frame: pd.DataFrame, date_columns) -> pd.DataFrame:
    for col in date_columns:
        s = frame[col]
        if not pd.api.types.is_datetime64_any_dtype(s):
            s = pd.to_datetime(s)
        if getattr(s.dt, "tz", None) is not None:
            s = s.dt.tz_convert("UTC").dt.tz_localize(None)
        frame[col] = (s - DATE_ORIGIN) / pd.Timedelta(days=1)
    return frame


def _is_date_column(s: pd.Series) -> bool:
    if pd.api.types.is_datetime64_any_dtype(s):
        return True
    if s.dtype == object:
        first = s.dropna()
        if len(first):
            import datetime as _dt
            v = first.iloc[0]
            return isinstance(v, (_dt.date, _dt.datetime, pd.Timestamp))
    return False


def _offset_matrix(raw, n: int, K: int, binary: bool, level_order, what: str) -> np.ndarray:
    arr = np.asarray(raw, dtype=float)
    if binary:
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        if arr.ndim == 1:
            if arr.shape[0] != n:
                raise DataError(f"{what} has length {arr.shape[0]} but the data have {n} rows")
            arr = np.column_stack([np.zeros(n), arr])
    if arr.ndim != 2 or arr.shape != (n, K):
        expected = f"a length-{n} vector" if binary else f"an array of shape ({n}, {K}) (one column per response level)"
        raise DataError(f"{what} has shape {arr.shape}; expected {expected}")
    if not np.all(np.isfinite(arr)):
        raise DataError(f"{what} has non-finite values")
    return arr[:, list(level_order)]


def _select_rows(data: pd.DataFrame, subset) -> np.ndarray:
    n = len(data)
    if subset is None:
        return np.ones(n, dtype=bool)
    if isinstance(subset, str):
        try:
            kept = data.query(subset).index
        except Exception as exc:  # pandas raises many types here
            raise DataError(f"subset query {subset!r} failed: {exc}") from exc
        return data.index.isin(kept)
    mask = np.asarray(subset)
    if mask.dtype != bool:
        raise TypeError(f"subset must be a boolean mask or a query string, got dtype {mask.dtype}")
    if mask.shape != (n,):
        raise DataError(f"subset mask has shape {mask.shape} but the data have {n} rows")
    return mask


def _weights_vector(data: pd.DataFrame, weights) -> tuple[np.ndarray, str | None]:
    n = len(data)
    if weights is None:
        return np.ones(n), None
    if isinstance(weights, str):
        if weights not in data.columns:
            raise MissingColumnError(f"weights column '{weights}' is not in the data")
        s = data[weights]
        name = weights
    else:
        s = pd.Series(np.asarray(weights).ravel() if np.ndim(weights) else [weights], index=None)
        if len(s) != n:
            raise DataError(f"weights has length {len(s)} but the data have {n} rows")
        s.index = data.index
        name = None
    if not (pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)):
        raise TypeError(f"weights {('column ' + repr(name)) if name else ''} must be numeric, got dtype {s.dtype}")
    return s.to_numpy(dtype=float, na_value=np.nan), name


def _response_from_factor(col: pd.Series, name: str):
    if isinstance(col.dtype, pd.CategoricalDtype):
        levels = list(col.cat.categories)
        codes = col.cat.codes.to_numpy()
    else:
        values = col.to_numpy()
        if pd.api.types.is_bool_dtype(col):
            levels = [False, True]
        else:
            try:
                levels = sorted(pd.unique(col))
            except TypeError as exc:
                raise DataError(f"response '{name}' mixes types that cannot be ordered: {exc}") from exc
        lookup = {v: i for i, v in enumerate(levels)}
        codes = np.array([lookup[v] for v in values], dtype=np.int64)
    return levels, codes


def build_design(formula: str, data, *, weights=None, subset=None, na_action: str = "drop",
                 offset=None, baseline=None, collapse: bool = True) -> Design:
    """Build the :class:`Design` for ``formula`` on ``data`` (see module docstring)."""
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    if na_action not in ("drop", "raise"):
        raise ValueError(f"na_action must be 'drop' or 'raise', got {na_action!r}")
    if len(data) == 0:
        raise DataError("data has no rows")
    if not data.columns.is_unique:
        dup = data.columns[data.columns.duplicated()].tolist()
        raise DataError(f"data has duplicated column names {dup}")
    parsed = parse_formula(formula)

    # ---- which columns are read -------------------------------------------
    from formulaic import Formula
    try:
        rhs_vars = sorted(Formula(parsed.rhs).required_variables)
    except Exception as exc:
        raise FormulaError(f"cannot parse the right-hand side {parsed.rhs!r}: {exc}") from exc
    context = _formula_context()
    rhs_vars = [v for v in rhs_vars if v not in context or v in data.columns]
    missing = [v for v in list(parsed.response) + rhs_vars if v not in data.columns]
    if missing:
        raise MissingColumnError(f"column(s) {missing} named in the formula {formula!r} are not in the data")
    w_all, weights_name = _weights_vector(data, weights)

    offset_columns = None
    offset_raw = None
    if offset is not None:
        if isinstance(offset, str):
            offset_columns = (offset,)
        elif isinstance(offset, (list, tuple)) and all(isinstance(o, str) for o in offset):
            offset_columns = tuple(offset)
        if offset_columns is not None:
            bad = [c for c in offset_columns if c not in data.columns]
            if bad:
                raise MissingColumnError(f"offset column(s) {bad} are not in the data")
        else:
            offset_raw = np.asarray(offset, dtype=float)
            if offset_raw.shape[0] != len(data):
                raise DataError(f"offset has {offset_raw.shape[0]} rows but the data have {len(data)}")

    # ---- subset, then missing values --------------------------------------
    keep_subset = _select_rows(data, subset)
    n_excluded = int((~keep_subset).sum())
    used_cols = list(dict.fromkeys(list(parsed.response) + rhs_vars + list(offset_columns or ())))
    na = data[used_cols].isna().any(axis=1).to_numpy().copy() if used_cols else np.zeros(len(data), bool)
    na |= np.isnan(w_all)
    if offset_raw is not None:
        na |= ~np.isfinite(offset_raw.reshape(len(data), -1)).all(axis=1)
    na_in_subset = na & keep_subset
    if na_in_subset.any() and na_action == "raise":
        rows = data.index[na_in_subset][:5].tolist()
        cols = [c for c in used_cols if data.loc[na_in_subset, c].isna().any()]
        if weights_name is None and weights is not None and np.isnan(w_all[na_in_subset]).any():
            cols.append("weights")
        raise DataError(f"missing values in column(s) {cols} at row(s) {rows} (na_action='raise')")
    keep = keep_subset & ~na
    n_dropped = int(na_in_subset.sum())
    if not keep.any():
        raise DataError(
            f"no rows left to fit: {n_excluded} excluded by subset, {n_dropped} dropped for missing values")
    frame = data.loc[keep, used_cols].copy()
    w = w_all[keep]
    row_index = data.index[keep]
    if np.any(np.isinf(w)):
        raise DataError(f"weights are infinite at row(s) {row_index[np.isinf(w)][:5].tolist()}")
    if np.any(w < 0):
        raise DataError(f"weights are negative at row(s) {row_index[w < 0][:5].tolist()}")

    # ---- response ----------------------------------------------------------
    if parsed.is_count_matrix:
        cols = list(parsed.response)
        for c in cols:
            if not pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c]):
                raise TypeError(f"count column '{c}' must be numeric, got dtype {frame[c].dtype}")
        counts = frame[cols].to_numpy(dtype=float)
        if np.any(~np.isfinite(counts)):
            bad = np.argwhere(~np.isfinite(counts))[0]
            raise DataError(f"count column '{cols[bad[1]]}' is not finite at row {row_index[bad[0]]!r}")
        if np.any(counts < 0):
            bad = np.argwhere(counts < 0)[0]
            raise DataError(f"count column '{cols[bad[1]]}' is negative at row {row_index[bad[0]]!r}")
        original_levels = cols
        Y_orig = counts * w[:, None]
    else:
        name = parsed.response[0]
        original_levels, codes = _response_from_factor(frame[name], name)
        Y_orig = np.zeros((len(frame), len(original_levels)))
        Y_orig[np.arange(len(frame)), codes] = w
    totals = Y_orig.sum(axis=0)
    empty = [lev for lev, t in zip(original_levels, totals) if t <= 0]
    if len(original_levels) - len(empty) < 2:
        present = [lev for lev in original_levels if lev not in empty]
        raise DataError(
            f"the response {' + '.join(parsed.response)} has a single level with positive weight "
            f"({present}); a multinomial model needs at least two")
    if empty:
        warnings.warn(f"response level(s) {empty} have no observations (zero total weight) and are dropped",
                      EmptyLevelWarning, stacklevel=3)
    present_idx = [i for i, t in enumerate(totals) if t > 0]
    present_levels = [original_levels[i] for i in present_idx]
    if baseline is None:
        base_pos = 0
    else:
        matches = [i for i, lev in enumerate(present_levels) if lev == baseline or str(lev) == str(baseline)]
        if not matches:
            raise DataError(f"baseline {baseline!r} is not a response level; levels are {present_levels}")
        base_pos = matches[0]
    order_in_present = [base_pos] + [i for i in range(len(present_levels)) if i != base_pos]
    level_order = tuple(present_idx[i] for i in order_in_present)  # indices into original levels
    levels = [original_levels[i] for i in level_order]
    Y_rows = Y_orig[:, list(level_order)]
    K = len(levels)
    binary = K == 2

    # ---- offset --------------------------------------------------------------
    off_rows = None
    if offset_columns is not None or offset_raw is not None:
        raw = frame[list(offset_columns)].to_numpy(dtype=float) if offset_columns else offset_raw[keep]
        if empty and not binary and raw.ndim == 2 and raw.shape[1] == len(original_levels):
            pass  # columns still in original order; _offset_matrix picks the present ones
        full_order = level_order
        ncols_expected = len(original_levels)
        off_rows = _offset_matrix(raw, len(frame), ncols_expected, len(original_levels) == 2,
                                  full_order, "offset")

    # ---- model matrix ----------------------------------------------------------
    date_columns = tuple(v for v in rhs_vars if _is_date_column(frame[v]))
    rhs_frame = _convert_dates(frame[rhs_vars].copy(), date_columns)
    if rhs_frame.shape[1] == 0:
        rhs_frame = pd.DataFrame(index=frame.index)
    from formulaic import model_matrix
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            mm = model_matrix(parsed.rhs, rhs_frame, output="sparse", na_action="raise",
                              context=context)
    except Exception as exc:
        raise FormulaError(f"cannot build the model matrix for {parsed.rhs!r}: {exc}") from exc
    Z = sp.csr_matrix(mm, dtype=float)
    if Z.shape[0] != len(frame):
        raise FormulaError("the formula terms changed the number of rows (lag()-like terms are not supported)")
    model_spec = mm.model_spec
    raw_names = list(model_spec.column_names)
    names = [r_column_name(c) for c in raw_names]
    if len(set(names)) != len(names):
        names = raw_names
    term_columns = {str(t): list(ix) for t, ix in model_spec.term_indices.items()}
    has_intercept = "Intercept" in raw_names
    if not np.all(np.isfinite(Z.data)):
        bad_col = names[int(Z.indices[~np.isfinite(Z.data)][0])]
        raise DataError(f"model-matrix column '{bad_col}' has non-finite values (check the transforms)")
    dense = Z.shape[1] == 0 or Z.nnz > _DENSE_ABOVE * Z.shape[0] * Z.shape[1]

    # ---- collapse identical covariate rows ------------------------------------------------
    if collapse and "lag(" not in parsed.rhs.replace(" ", ""):
        groups = _group_rows(rhs_frame, off_rows)
    else:
        groups = np.arange(len(frame))
    n_groups = int(groups.max()) + 1 if len(groups) else 0
    first = np.full(n_groups, -1, dtype=np.int64)
    first[groups[::-1]] = np.arange(len(groups))[::-1]
    agg = sp.csr_matrix((np.ones(len(groups)), (groups, np.arange(len(groups)))),
                        shape=(n_groups, len(groups)))
    Yc = np.asarray(agg @ Y_rows)
    Zc = Z[first]
    offc = None if off_rows is None else off_rows[first]
    aliased = detect_aliased(Zc, Yc.sum(axis=1) > 0)
    if dense:
        Zc = Zc.toarray()

    spec = NewDataSpec(
        rhs=parsed.rhs, model_spec=model_spec, variables=tuple(rhs_vars), date_columns=date_columns,
        offset_columns=offset_columns, offset_is_array=offset_raw is not None,
        original_levels=tuple(original_levels), level_order=level_order, binary=binary, dense=dense)
    return Design(
        Z=Zc, Y=Yc, offset=offc, groups=groups, Y_rows=Y_rows, row_index=row_index,
        column_names=names, term_columns=term_columns, aliased=aliased, levels=levels,
        baseline=levels[0], is_count_matrix=parsed.is_count_matrix, binary=binary,
        n_dropped=n_dropped, n_excluded=n_excluded, spec=spec, parsed=parsed,
        has_intercept=has_intercept)


def _group_rows(rhs_frame: pd.DataFrame, off_rows) -> np.ndarray:
    """Index of the group of identical covariate (and offset) values of each row."""
    keys = rhs_frame.copy()
    if off_rows is not None:
        for k in range(off_rows.shape[1]):
            keys[f"__offset_{k}"] = off_rows[:, k]
    if keys.shape[1] == 0:
        return np.zeros(len(rhs_frame), dtype=np.int64)
    keys.columns = [f"k{i}" for i in range(keys.shape[1])]
    return keys.groupby(list(keys.columns), sort=False, dropna=False, observed=True).ngroup().to_numpy()


def detect_aliased(Z, row_used, tol: float = 1e-9) -> np.ndarray:
    """Columns of ``Z`` that are linear combinations of earlier columns.

    As R's ``lm`` (pivoting only the deficient columns to the end), a column is
    aliased when its residual after projection on the earlier non-aliased
    columns has squared norm below ``tol`` times its own (a Cholesky of the
    column-scaled cross-product ``Z^T Z`` restricted to rows with positive
    weight). Columns that are all zero are aliased.
    """
    idx = np.flatnonzero(row_used)
    Zu = Z[idx]
    G = Zu.T @ Zu
    G = G.toarray() if sp.issparse(G) else np.asarray(G)
    p = G.shape[0]
    d = np.diag(G).copy()
    aliased = d <= 0
    if p == 0:
        return aliased
    s = np.where(d > 0, 1.0 / np.sqrt(np.where(d > 0, d, 1.0)), 0.0)
    Gs = G * s[:, None] * s[None, :]
    if not aliased.any():
        try:
            L = np.linalg.cholesky(Gs)
            if np.min(np.diag(L)) ** 2 > tol:
                return aliased
        except np.linalg.LinAlgError:
            pass
    # sequential (left-looking) Cholesky, skipping columns with a tiny residual
    L = np.zeros_like(Gs)
    for j in range(p):
        if aliased[j]:
            continue
        v = Gs[j:, j] - L[j:, :j] @ L[j, :j]
        if v[0] <= tol:
            aliased[j] = True
            continue
        L[j:, j] = v / np.sqrt(v[0])
    return aliased
