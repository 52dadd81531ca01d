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

from ._formula import ParsedFormula, parse_formula, rhs_identifiers
from .exceptions import (DataError, EmptyLevelWarning, FormulaError, MissingColumnError,
                         MultinomError, UnseenLevelError)

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
    numeric_variables: tuple = ()  # columns that were numeric (or boolean) when fitting
    observed_levels: dict = field(default_factory=dict)  # factor column -> values with positive weight

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
        """Model matrix for (complete) rows of ``newdata``.

        Raises :class:`UnseenLevelError` for a factor level not seen in
        fitting, :class:`DataError` for a column of the wrong kind (text where
        numbers were fitted, numbers where dates were fitted) or an infinite
        value.
        """
        frame = newdata[list(self.variables)].copy()
        _check_numeric_columns(frame, getattr(self, "numeric_variables", ()), self.date_columns)
        frame = _convert_dates(frame, self.date_columns, what="newdata")
        _check_unseen_levels(self.model_spec, frame, getattr(self, "observed_levels", {}))
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                mm = self.model_spec.get_model_matrix(frame, context=_formula_context())
        except (MultinomError, MemoryError):
            raise
        except Exception as exc:  # formulaic raises many types; give them context
            raise DataError(f"cannot build the model matrix of newdata for the terms '{self.rhs}': "
                            f"{type(exc).__name__}: {_plain(exc)}") from exc
        for w in caught:
            msg = str(w.message)
            if "outside of the nominated levels" in msg or "not seen in original" in msg:
                raise UnseenLevelError(
                    f"newdata has factor level(s) not seen when fitting, in the terms '{self.rhs}': {msg}")
            warnings.warn(w.message, w.category, stacklevel=3)
        Z = sp.csr_matrix(mm)
        names = [r_column_name(c) for c in self.model_spec.column_names]
        _check_finite_matrix(Z, names, frame.index, "newdata")
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
            for c in self.offset_columns:
                _check_offset_column(newdata[c], c, "newdata")
            raw = newdata[list(self.offset_columns)].to_numpy(dtype=float, na_value=np.nan)
        else:
            raw = offset
        return _offset_matrix(raw, len(newdata), self.original_levels, self.level_order, "offset",
                              index=newdata.index)


def _factor_column(expr: str, columns) -> str | None:
    """The data column behind a factor expression: ``g`` or ``C(g, ...)``."""
    if expr in columns:
        return expr
    m = re.match(r"\s*C\(\s*(?:`([^`]+)`|([A-Za-z_.][A-Za-z0-9_.]*))\s*[,)]", expr)
    if m:
        name = m.group(1) or m.group(2)
        if name in columns:
            return name
    return None


def _check_unseen_levels(model_spec, frame: pd.DataFrame, observed: dict | None = None) -> None:
    """Refuse factor levels of ``frame`` that had no observations when fitting.

    A level can be known to the model matrix (a category of a pandas
    Categorical) without observations: its column is aliased, its coefficient
    0, and a prediction for it would silently be the baseline's.
    """
    contrasts = getattr(model_spec, "factor_contrasts", {}) or {}
    for factor, state in contrasts.items():
        expr = getattr(factor, "expr", str(factor))
        name = _factor_column(expr, frame.columns)
        levels = getattr(state, "levels", None)
        if name is not None and levels is not None:
            values = frame[name]
            present = pd.unique(values.dropna())
            known = set(levels)
            unseen = [v for v in present if v not in known]
            if unseen:
                raise UnseenLevelError(
                    f"column '{name}' has level(s) {sorted(map(str, unseen))} not seen when fitting "
                    f"(known levels: {list(levels)}); predictions for them are undefined")
            seen = (observed or {}).get(name)
            if seen is not None:
                empty = [v for v in present if v not in seen]
                if empty:
                    raise UnseenLevelError(
                        f"column '{name}' has level(s) {sorted(map(str, empty))} without observations when "
                        f"fitting (their coefficients are not estimable; observed levels: "
                        f"{[lev for lev in levels if lev in seen]}); predictions for them are undefined")


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


def _plain(exc: BaseException) -> str:
    """An exception's message without terminal colour codes (formulaic highlights the culprit)."""
    return re.sub(r"\x1b\[[0-9;]*m", "", str(exc))


def _labels(index: pd.Index, positions, limit: int = 5) -> list:
    """Row labels (at most ``limit``) for error messages."""
    return index[np.asarray(positions)[:limit]].tolist()


def _convert_dates(frame: pd.DataFrame, date_columns, what: str = "data") -> pd.DataFrame:
    for col in date_columns:
        s = frame[col]
        if not pd.api.types.is_datetime64_any_dtype(s):
            if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
                raise DataError(
                    f"column '{col}' holds dates in the fitted model but {what} has numbers "
                    f"(dtype {s.dtype}) there; pass dates (for example pandas.to_datetime(...))")
            try:
                s = pd.to_datetime(s)
            except (ValueError, TypeError, OverflowError) as exc:
                raise DataError(f"column '{col}' of {what} holds dates, but some values cannot be "
                                f"read as dates: {exc}") from exc
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


def _is_numeric(s: pd.Series) -> bool:
    """Numbers or booleans (formulaic encodes both as one numeric column)."""
    return (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)) and \
        not pd.api.types.is_complex_dtype(s)


def _check_numeric_columns(frame: pd.DataFrame, numeric_variables, date_columns) -> None:
    """Columns numeric when fitting must be numeric in ``frame`` (converted in place)."""
    for col in numeric_variables:
        if col not in frame.columns or col in date_columns:
            continue
        s = frame[col]
        if _is_numeric(s):
            continue
        if pd.api.types.is_datetime64_any_dtype(s) or isinstance(s.dtype, pd.CategoricalDtype):
            raise DataError(f"column '{col}' was numeric when fitting but newdata has dtype {s.dtype}")
        conv = pd.to_numeric(s, errors="coerce")
        bad = np.flatnonzero((s.notna() & conv.isna()).to_numpy())
        if len(bad) or not pd.api.types.is_numeric_dtype(conv):
            pos = bad[0] if len(bad) else 0
            raise DataError(
                f"column '{col}' was numeric when fitting but newdata has the non-numeric value "
                f"{s.iloc[pos]!r} at row {s.index[pos]!r} (dtype {s.dtype})")
        frame[col] = conv


def _check_finite_matrix(Z, names, index: pd.Index, what: str) -> None:
    """Raise DataError naming the column and row of the first non-finite entry."""
    bad = ~np.isfinite(Z.data)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        row = int(np.searchsorted(Z.indptr, k, side="right") - 1)
        raise DataError(
            f"model-matrix column '{names[int(Z.indices[k])]}' is {Z.data[k]} at row {index[row]!r} of "
            f"{what}: an infinite value in the {what}, or a transform such as np.log(0); "
            "remove the row or fix the value")


def _align(obj, data: pd.DataFrame, what: str):
    """A pandas ``weights``/``offset``/``subset`` aligned to ``data`` by index label."""
    if not isinstance(obj, (pd.Series, pd.DataFrame)) or obj.index.equals(data.index):
        return obj
    if (data.index.is_unique and obj.index.is_unique and len(obj.index) == len(data.index)
            and obj.index.isin(data.index).all()):
        return obj.reindex(data.index)
    raise DataError(
        f"{what} is a pandas {type(obj).__name__} whose index does not match the data's index; "
        f"align it to the data (for example {what}.reindex(data.index)) or pass {what}.to_numpy() "
        "to use it by position")


def _check_offset_column(s: pd.Series, name: str, what: str) -> None:
    if not _is_numeric(s) or pd.api.types.is_bool_dtype(s):
        raise TypeError(f"offset column '{name}' of {what} must be numeric, got dtype {s.dtype}")


def _offset_matrix(raw, n: int, original_levels, level_order, what: str,
                   index: pd.Index | None = None) -> np.ndarray:
    """The offset as an ``(n, K)`` array in internal level order.

    ``raw`` has one column per response level in the data's order (empty
    levels included), or, when two levels have observations, may be a length-n
    vector: the log-odds offset of the second of them against the first.
    """
    K = len(original_levels)
    present = sorted(level_order)
    try:
        arr = np.asarray(raw, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{what} must be numeric: {exc}") from exc
    if arr.ndim == 0:
        raise DataError(f"{what} must be an array with one row per data row (or column names), got a scalar")
    if len(present) == 2:
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        if arr.ndim == 1:
            if arr.shape[0] != n:
                raise DataError(f"{what} has length {arr.shape[0]} but the data have {n} rows")
            full = np.zeros((n, K))
            full[:, present[1]] = arr
            arr = full
    if arr.ndim != 2 or arr.shape != (n, K):
        levels = [original_levels[i] for i in present]
        empty = [lev for i, lev in enumerate(original_levels) if i not in present]
        expected = (f"an array of shape ({n}, {K}): one column per response level, in the data's order "
                    f"{list(original_levels)}")
        if empty:
            expected += f" (including the empty level(s) {empty})"
        if len(present) == 2:
            expected = (f"a length-{n} vector (the log-odds offset of {levels[1]!r} against "
                        f"{levels[0]!r}) or " + expected)
        raise DataError(f"{what} has shape {arr.shape}; expected {expected}")
    bad = ~np.isfinite(arr)
    if bad.any():
        i, k = np.argwhere(bad)[0]
        row = index[i] if index is not None else i
        kind = "missing (NaN)" if np.isnan(arr[i, k]) else "infinite"
        raise DataError(f"{what} is {kind} at row {row!r}, level {original_levels[k]!r}")
    return arr[:, list(level_order)]


def _select_rows(data: pd.DataFrame, subset) -> np.ndarray:
    n = len(data)
    if subset is None:
        return np.ones(n, dtype=bool)
    if isinstance(subset, str):
        pos = "__multinom_position__"
        try:
            kept = data.assign(**{pos: np.arange(n)}).query(subset)[pos].to_numpy()
        except Exception as exc:  # pandas raises many types here
            raise DataError(f"subset query {subset!r} failed: {type(exc).__name__}: {exc}") from exc
        mask = np.zeros(n, dtype=bool)
        mask[kept] = True
        return mask
    subset = _align(subset, data, "subset")
    if isinstance(subset, pd.DataFrame):
        if subset.shape[1] != 1:
            raise DataError(f"subset is a DataFrame with {subset.shape[1]} columns; pass a boolean mask")
        subset = subset.iloc[:, 0]
    if isinstance(subset, pd.Series) and pd.api.types.is_bool_dtype(subset) and subset.isna().any():
        raise DataError(f"subset has missing values at row(s) {_labels(data.index, np.flatnonzero(subset.isna()))}; "
                        "fill them (subset.fillna(False)) to say which rows to use")
    mask = np.asarray(subset)
    if mask.dtype == object:
        isna = pd.isna(mask) if mask.ndim == 1 else None
        if isna is not None and isna.any():
            raise DataError(f"subset has missing values at row(s) {_labels(data.index, np.flatnonzero(isna))}; "
                            "fill them with False to say which rows to use")
        if mask.ndim == 1 and all(isinstance(v, (bool, np.bool_)) for v in mask):
            mask = mask.astype(bool)
    if mask.dtype != bool:
        hint = ("; for row positions use a mask such as np.isin(np.arange(len(data)), positions)"
                if mask.dtype.kind in "iu" else "")
        raise TypeError(f"subset must be a boolean mask (one value per data row) or a query string, "
                        f"got dtype {mask.dtype}{hint}")
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
        label = f"weights column '{weights}'"
    else:
        weights = _align(weights, data, "weights")
        if isinstance(weights, pd.DataFrame):
            if weights.shape[1] != 1:
                raise DataError(f"weights is a DataFrame with {weights.shape[1]} columns; pass one column")
            weights = weights.iloc[:, 0]
        if isinstance(weights, pd.Series):
            s = weights.reset_index(drop=True)
        else:
            arr = np.asarray(weights)
            if arr.ndim == 0:
                raise DataError(f"weights must be a column name or an array with one value per data row "
                                f"({n}), got the scalar {weights!r}")
            if arr.ndim == 2 and 1 in arr.shape:
                arr = arr.ravel()
            if arr.ndim != 1:
                raise DataError(f"weights must be one-dimensional (one value per data row), got shape {arr.shape}")
            s = pd.Series(arr)
        if len(s) != n:
            raise DataError(f"weights has length {len(s)} but the data have {n} rows")
        s.index = data.index
        name = None
        label = "weights"
    if s.dtype == object:  # e.g. a list holding None: numbers and missing values are fine
        conv = pd.to_numeric(s, errors="coerce")
        bad = np.flatnonzero((s.notna() & conv.isna()).to_numpy())
        if len(bad) == 0 and _is_numeric(conv) and not s.map(lambda v: isinstance(v, bool)).any():
            s = conv
    if not _is_numeric(s) or pd.api.types.is_bool_dtype(s):
        raise TypeError(f"{label} must be numeric (frequency weights), got dtype {s.dtype}")
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


def _data_type_hint(data) -> str:
    if isinstance(data, dict):
        return "; wrap it with pandas.DataFrame(...)"
    if hasattr(data, "to_pandas"):
        return "; convert it with .to_pandas()"
    if isinstance(data, pd.Series):
        return "; use series.to_frame() or a DataFrame with named columns"
    if isinstance(data, (np.ndarray, list, tuple)):
        return "; build a pandas DataFrame with named columns"
    return ""


def _match_baseline(baseline, original_levels, present_idx) -> int:
    """Position (within the present levels) of ``baseline``; informative errors."""
    if baseline is None:
        return 0
    if np.ndim(baseline) != 0:
        raise TypeError(f"baseline must be a single response level, got {baseline!r}")
    present = [original_levels[i] for i in present_idx]

    def same(a, b) -> bool:
        try:
            return bool(a == b)
        except (TypeError, ValueError):
            return False

    def as_float(v):
        if isinstance(v, (bool, np.bool_)):
            return None
        try:
            return float(v)
        except (TypeError, ValueError):
            return None

    for test in (same, lambda a, b: str(a) == str(b),
                 lambda a, b: as_float(a) is not None and as_float(a) == as_float(b)):
        matches = [i for i, lev in enumerate(present) if test(lev, baseline)]
        if matches:
            return matches[0]
    shown = [str(v) for v in present]
    empty = [str(lev) for i, lev in enumerate(original_levels) if i not in present_idx]
    if any(str(baseline) == e for e in empty):
        raise DataError(f"baseline {baseline!r} is a response level without observations (dropped as "
                        f"empty); the levels with observations are {shown}")
    raise DataError(f"baseline {baseline!r} is not a response level; levels are {shown}")


def build_design(formula: str, data, *, weights=None, subset=None, na_action: str = "drop",
                 offset=None, baseline=None, collapse: bool = True) -> Design:
    """Build the :class:`Design` for ``formula`` on ``data`` (see module docstring).

    Every problem with the inputs raises an error naming the column, level,
    row or argument at fault (see ``docs/bad-input.md``): :class:`TypeError`
    for arguments of the wrong kind, :class:`MissingColumnError` (a
    ``KeyError``) for absent columns, :class:`FormulaError` and
    :class:`DataError` (``ValueError``) for unusable formulas and values.
    """
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame, got {type(data).__name__}{_data_type_hint(data)}")
    if not isinstance(na_action, str) or na_action not in ("drop", "raise"):
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
        raise FormulaError(f"cannot parse the right-hand side {parsed.rhs!r}: {_plain(exc)}") from exc
    context = _formula_context()
    rhs_vars = [v for v in rhs_vars if v not in context or v in data.columns]
    token_vars, token_funcs = rhs_identifiers(parsed.rhs)
    unknown_funcs = [v for v in rhs_vars if v not in data.columns and v in token_funcs
                     and v not in token_vars]
    if unknown_funcs:
        raise FormulaError(
            f"unknown function(s) {unknown_funcs} in the formula {formula!r}; available are numpy "
            "functions written np.<name>, log, exp, sqrt, ns() and formulaic's transforms "
            "(C, I, poly, scale, center, bs, ...)")
    missing = [v for v in list(parsed.response) + rhs_vars if v not in data.columns]
    if missing:
        raise MissingColumnError(f"column(s) {missing} named in the formula {formula!r} are not in the data")
    # columns read by formulaic's stateful transforms (poly(x), scale(x), ...),
    # which its required_variables leaves out
    rhs_vars += [v for v in token_vars if v in data.columns and v not in rhs_vars]
    on_both = [v for v in parsed.response if v in rhs_vars]
    if on_both:
        raise FormulaError(f"response column(s) {on_both} also appear on the right-hand side of {formula!r}; "
                           "a response cannot be its own predictor")
    w_all, weights_name = _weights_vector(data, weights)

    offset_columns = None
    offset_raw = None
    offset_frame_columns = None
    if offset is not None:
        if isinstance(offset, str):
            offset_columns = (offset,)
        elif isinstance(offset, (list, tuple)) and len(offset) and all(isinstance(o, str) for o in offset):
            offset_columns = tuple(offset)
        if offset_columns is not None:
            bad = [c for c in offset_columns if c not in data.columns]
            if bad:
                raise MissingColumnError(f"offset column(s) {bad} are not in the data")
            for c in offset_columns:
                _check_offset_column(data[c], c, "data")
        else:
            offset = _align(offset, data, "offset")
            offset_frame_columns = list(offset.columns) if isinstance(offset, pd.DataFrame) else None
            try:
                offset_raw = np.asarray(offset, dtype=float)
            except (TypeError, ValueError) as exc:
                raise TypeError(f"offset must be numeric (an array, or column name(s)): {exc}") from exc
            if offset_raw.ndim == 0:
                raise DataError("offset must be column name(s) or an array with one row per data row, "
                                f"got the scalar {offset!r}")
            if offset_raw.ndim > 2:
                raise DataError(f"offset must be a vector or a matrix, got shape {offset_raw.shape}")
            if offset_raw.shape[0] != len(data):
                raise DataError(f"offset has {offset_raw.shape[0]} rows but the data have {len(data)}")

    # ---- subset, then missing values --------------------------------------
    keep_subset = _select_rows(data, subset)
    n_excluded = int((~keep_subset).sum())
    used_cols = list(dict.fromkeys(list(parsed.response) + rhs_vars + list(offset_columns or ())))
    na_cols = data[used_cols].isna().to_numpy() if used_cols else np.zeros((len(data), 0), bool)
    na = na_cols.any(axis=1)
    w_na = np.isnan(w_all)
    off_na = (np.isnan(offset_raw.reshape(len(data), -1)).any(axis=1) if offset_raw is not None
              else np.zeros(len(data), bool))
    na = na | w_na | off_na
    na_in_subset = na & keep_subset

    def _culprits(rows) -> list:
        cols = [c for j, c in enumerate(used_cols) if na_cols[rows, j].any()]
        if w_na[rows].any() and (weights_name or "weights") not in cols:
            cols.append(weights_name or "weights")
        if off_na[rows].any():
            cols.append("offset")
        return cols

    if na_in_subset.any() and na_action == "raise":
        rows = np.flatnonzero(na_in_subset)
        raise DataError(f"missing values in column(s) {_culprits(rows)} at row(s) "
                        f"{_labels(data.index, rows)} (na_action='raise')")
    keep = keep_subset & ~na
    n_dropped = int(na_in_subset.sum())
    if not keep.any():
        why = ""
        if n_dropped:
            why = f"; missing values in column(s) {_culprits(np.flatnonzero(na_in_subset))}"
        raise DataError(
            f"no rows left to fit: {n_excluded} excluded by subset, {n_dropped} dropped for missing values{why}")
    frame = data.loc[keep, used_cols].copy()
    w = w_all[keep]
    row_index = data.index[keep]
    if np.any(np.isinf(w)):
        raise DataError(f"{('weights column ' + repr(weights_name)) if weights_name else 'weights'} "
                        f"are infinite at row(s) {_labels(row_index, np.flatnonzero(np.isinf(w)))}")
    if np.any(w < 0):
        raise DataError(f"{('weights column ' + repr(weights_name)) if weights_name else 'weights'} "
                        f"are negative at row(s) {_labels(row_index, np.flatnonzero(w < 0))}; "
                        "frequency weights must be >= 0")

    # ---- response ----------------------------------------------------------
    if parsed.is_count_matrix:
        cols = list(parsed.response)
        for c in cols:
            if not _is_numeric(frame[c]) or pd.api.types.is_bool_dtype(frame[c]):
                raise TypeError(f"count column '{c}' must be numeric, got dtype {frame[c].dtype}")
        counts = frame[cols].to_numpy(dtype=float, na_value=np.nan)
        if np.any(~np.isfinite(counts)):
            bad = np.argwhere(~np.isfinite(counts))[0]
            raise DataError(f"count column '{cols[bad[1]]}' is not finite at row {row_index[bad[0]]!r}")
        if np.any(counts < 0):
            bad = np.argwhere(counts < 0)[0]
            raise DataError(f"count column '{cols[bad[1]]}' is negative ({counts[bad[0], bad[1]]:g}) at row "
                            f"{row_index[bad[0]]!r}; counts must be >= 0")
        original_levels = cols
        Y_orig = counts * w[:, None]
    else:
        name = parsed.response[0]
        original_levels, codes = _response_from_factor(frame[name], name)
        Y_orig = np.zeros((len(frame), len(original_levels)))
        Y_orig[np.arange(len(frame)), codes] = w
    totals = Y_orig.sum(axis=0)
    if not np.all(np.isfinite(totals)):
        raise DataError("the weighted counts overflow (weights or counts near the largest float); rescale them")
    if not totals.sum() > 0:
        what = ("every count is zero (after weighting)" if parsed.is_count_matrix
                else "every row has weight zero")
        raise DataError(f"nothing to fit: {what} in the {len(frame)} row(s) used")
    empty = [lev for lev, t in zip(original_levels, totals) if t <= 0]
    if len(original_levels) - len(empty) < 2:
        present = [str(lev) for lev in original_levels if lev not in empty]
        raise DataError(
            f"the response {' + '.join(parsed.response)} has a single level with positive weight "
            f"({present}) in the rows used; a multinomial model needs at least two")
    if empty:
        warnings.warn(f"response level(s) {[str(e) for e in empty]} have no observations (zero total weight) "
                      "and are dropped", EmptyLevelWarning, stacklevel=3)
    present_idx = [i for i, t in enumerate(totals) if t > 0]
    present_levels = [original_levels[i] for i in present_idx]
    base_pos = _match_baseline(baseline, original_levels, present_idx)
    order_in_present = [base_pos] + [i for i in range(len(present_levels)) if i != base_pos]
    level_order = tuple(present_idx[i] for i in order_in_present)  # indices into original levels
    levels = [original_levels[i] for i in level_order]
    Y_rows = Y_orig[:, list(level_order)]
    K = len(levels)
    binary = K == 2

    # ---- offset --------------------------------------------------------------
    if offset_raw is not None and offset_frame_columns is not None:
        names_ = [str(c) for c in offset_frame_columns]
        lev_names = [str(lev) for lev in original_levels]
        if sorted(names_) == sorted(lev_names) and names_ != lev_names:
            raise DataError(f"offset columns {names_} are the response levels in another order than the "
                            f"data's {lev_names}; reorder them (offset[{lev_names}])")
    off_rows = None
    if offset_columns is not None or offset_raw is not None:
        raw = (frame[list(offset_columns)].to_numpy(dtype=float, na_value=np.nan) if offset_columns
               else offset_raw[keep])
        off_rows = _offset_matrix(raw, len(frame), tuple(original_levels), level_order, "offset",
                                  index=row_index)

    # ---- model matrix ----------------------------------------------------------
    date_columns = tuple(v for v in rhs_vars if _is_date_column(frame[v]))
    numeric_variables = tuple(v for v in rhs_vars if v not in date_columns and _is_numeric(frame[v]))
    rhs_frame = _convert_dates(frame[rhs_vars].copy(), date_columns)
    if rhs_frame.shape[1] == 0:
        rhs_frame = pd.DataFrame(index=frame.index)
    from formulaic import model_matrix
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            mm = model_matrix(parsed.rhs, rhs_frame, output="sparse", na_action="raise",
                              context=context)
    except (MultinomError, MemoryError):
        raise
    except Exception as exc:
        name = re.search(r"NameError: name '([^']+)' is not defined", str(exc))
        if name and name.group(1) not in data.columns:  # inside a transform formulaic does not parse
            raise MissingColumnError(f"column(s) {[name.group(1)]} named in the formula {formula!r} are not "
                                     "in the data") from exc
        raise FormulaError(f"cannot build the model matrix for {parsed.rhs!r}: {_plain(exc)}") from exc
    Z = sp.csr_matrix(mm, dtype=float)
    if Z.shape[0] != len(frame):
        raise FormulaError("the formula terms changed the number of rows (lag()-like terms are not supported)")
    model_spec = mm.model_spec
    raw_names = list(model_spec.column_names)
    names = [r_column_name(c) for c in raw_names]
    if len(set(names)) != len(names):
        names = raw_names
    if Z.shape[1] == 0:
        raise FormulaError(f"the right-hand side {parsed.rhs!r} gives no model-matrix columns; a model "
                           "needs at least one coefficient (use '~ 1' for an intercept-only model)")
    term_columns = {str(t): list(ix) for t, ix in model_spec.term_indices.items()}
    has_intercept = "Intercept" in raw_names
    _check_finite_matrix(Z, names, row_index, "data")
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
    if aliased.all():
        raise DataError(f"every model-matrix column {names} is zero or collinear on the rows with positive "
                        "weight: nothing can be estimated")
    if dense:
        Zc = Zc.toarray()

    positive = Y_rows.sum(axis=1) > 0
    observed_levels = {v: set(pd.unique(frame.loc[positive, v].dropna())) for v in rhs_vars
                       if v not in numeric_variables and v not in date_columns}
    spec = NewDataSpec(
        rhs=parsed.rhs, model_spec=model_spec, variables=tuple(rhs_vars), date_columns=date_columns,
        offset_columns=offset_columns, offset_is_array=offset_raw is not None,
        original_levels=tuple(original_levels), level_order=level_order, binary=binary, dense=dense,
        numeric_variables=numeric_variables, observed_levels=observed_levels)
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
