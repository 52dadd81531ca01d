"""Bad input: every mistake gives a clear error of the right type, naming what is at fault.

The table of behaviours is ``docs/bad-input.md``; each row there has a test
here. Conventions checked:

* arguments of the wrong kind raise :class:`TypeError`;
* absent columns raise :class:`~multinom.MissingColumnError` (a ``KeyError``);
* unusable formulas raise :class:`~multinom.FormulaError` and unusable values
  :class:`~multinom.DataError` (both ``ValueError``); out-of-range scalar
  arguments raise ``ValueError``;
* messages name the column, level, row or argument at fault;
* nothing is silently wrong: where an input is accepted (NaN weights dropped,
  non-integer counts, zero-count rows, empty levels...) the result is checked
  against an equivalent, well-formed fit.
"""

from __future__ import annotations

import pickle
import re
import warnings

import numpy as np
import pandas as pd
import pytest

import multinom as mn
from multinom import (DataError, EmptyLevelWarning, FormulaError, MissingColumnError,
                      UnseenLevelError)




N = 60


def _data(seed: int = 0, n: int = N) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    g = rng.choice(["u", "v"], n)
    eta = np.column_stack([np.zeros(n), 0.3 + 0.8 * x, -0.2 - 0.6 * x + 0.7 * (g == "v")])
    P = np.exp(eta)
    P /= P.sum(1, keepdims=True)
    y = np.array([rng.choice(3, p=p) for p in P])
    return pd.DataFrame({"y": np.array(["a", "b", "c"])[y], "x": x, "g": g,
                         "w": rng.integers(1, 4, n).astype(float),
                         "d": pd.date_range("2021-01-01", periods=n)})


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    return _data()


@pytest.fixture(scope="module")
def fit(df):
    return mn.multinom("y ~ x + g", df)


def _coef(f):
    return np.asarray(f.coef, dtype=float)


def assert_same_fit(a, b, rtol=1e-7):
    np.testing.assert_allclose(_coef(a), _coef(b), rtol=rtol, atol=rtol)
    assert a.loglik == pytest.approx(b.loglik, rel=1e-9)


# --------------------------------------------------------------------------- data
@pytest.mark.parametrize("data, hint", [
    ({"y": ["a", "b"], "x": [1.0, 2.0]}, "dict; wrap it with pandas.DataFrame"),
    (np.zeros((3, 2)), "ndarray; build a pandas DataFrame"),
    ([[1, 2]], "list"),
    (None, "NoneType"),
    (pd.Series([1.0, 2.0]), "Series"),
])
def test_data_must_be_a_dataframe(data, hint):
    with pytest.raises(TypeError, match=re.escape(f"data must be a pandas DataFrame, got {hint}")):
        mn.multinom("y ~ x", data)


def test_empty_data(df):
    with pytest.raises(DataError, match="data has no rows"):
        mn.multinom("y ~ x", df.iloc[:0])


def test_duplicated_column_names(df):
    bad = pd.concat([df[["y", "x"]], df[["x"]]], axis=1)
    with pytest.raises(DataError, match=r"duplicated column names \['x'\]"):
        mn.multinom("y ~ x", bad)


# ------------------------------------------------------------------------ formula
@pytest.mark.parametrize("formula, pattern", [
    (None, "formula must be a string"),
    (b"y ~ x", "formula must be a string"),
    ("y x", "exactly one '~'"),
    ("y ~ x ~ g", "exactly one '~'"),
    ("~ x", "no response"),
    ("y ~ ", "no terms on the right"),
    ("y ~ x +", r"cannot parse the right-hand side 'x \+'"),
    ("y ~ (x", r"cannot parse the right-hand side '\(x'"),
    ("y ~ .", r"'\.' \(all other columns\)"),
    ("factor(y) ~ x", r"response 'factor\(y\)' .* must be a column name"),
    ("cbind(a) ~ x", "at least two columns"),
    ("cbind(a, a) ~ x", "names a column twice"),
    ("y ~ x + offset(w)", r"offset\(\.\.\.\) terms are not supported"),
    ("y ~ foo(x)", r"unknown function\(s\) \['foo'\]"),
    ("y ~ x + y", r"response column\(s\) \['y'\] also appear on the right-hand side"),
    ("y ~ 0", "gives no model-matrix columns"),
    ("y ~ ns(x, df=-1)", r"cannot build the model matrix for 'ns\(x, df=-1\)'.*df must be at least 1"),
])
def test_bad_formula(df, formula, pattern):
    with pytest.raises(FormulaError, match=pattern) as info:
        mn.multinom(formula, df.assign(a=1.0))
    assert "\x1b" not in str(info.value)  # no terminal colour codes from formulaic


def test_count_matrix_response_on_right_hand_side():
    d = pd.DataFrame({"a": [1.0, 2, 3, 4], "b": [2.0, 1, 2, 1]})
    with pytest.raises(FormulaError, match=r"\['a'\] also appear on the right-hand side"):
        mn.multinom("cbind(a, b) ~ a", d)


@pytest.mark.parametrize("formula, missing", [
    ("y ~ x + zz", "zz"), ("yy ~ x", "yy"), ("cbind(y1, y2) ~ x", "y1"), ("y ~ np.log(q)", "q"),
    ("y ~ poly(q, 2)", "q"),
])
def test_missing_formula_column(df, formula, missing):
    with pytest.raises(MissingColumnError, match=rf"column\(s\) \[.*'{missing}'.*\] named in the formula"):
        mn.multinom(formula, df)
    with pytest.raises(KeyError):  # a KeyError too
        mn.multinom(formula, df)


def test_missing_column_error_is_readable(df):
    with pytest.raises(MissingColumnError) as info:
        mn.multinom("y ~ zz", df)
    assert str(info.value).startswith("column(s) ['zz']")  # not the repr-quoted KeyError text


def test_stateful_transform_columns_are_read(df):
    """formulaic leaves poly()/scale() arguments out of required_variables; we read them anyway."""
    f = mn.multinom("y ~ scale(x) + g", df)
    assert f._design.spec.variables == ("g", "x")
    np.testing.assert_allclose(f.predict(df.iloc[:5]).to_numpy(), f.fitted.iloc[:5].to_numpy(), atol=1e-12)
    ref = mn.multinom("y ~ x + g", df)
    assert f.loglik == pytest.approx(ref.loglik, rel=1e-10)


def test_transform_giving_nan(df):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # np.log of negatives
        with pytest.raises(FormulaError, match=r"np\.log\(x\)"):
            mn.multinom("y ~ np.log(x)", df)


def test_transform_giving_inf(df):
    d = df.assign(x=np.abs(df.x))
    d.loc[7, "x"] = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # np.log(0)
        with pytest.raises(DataError, match=r"model-matrix column 'np\.log\(x\)' is -inf at row 7"):
            mn.multinom("y ~ np.log(x)", d)


def test_infinite_predictor(df):
    d = df.copy()
    d.loc[4, "x"] = np.inf
    with pytest.raises(DataError, match="model-matrix column 'x' is inf at row 4 of data"):
        mn.multinom("y ~ x + g", d)


# ------------------------------------------------------------------------ weights
def test_weights_missing_column(df):
    with pytest.raises(MissingColumnError, match="weights column 'ww' is not in the data"):
        mn.multinom("y ~ x", df, weights="ww")


@pytest.mark.parametrize("weights, pattern", [
    (np.ones(5), "weights has length 5 but the data have 60 rows"),
    (np.ones((N, 2)), r"weights must be one-dimensional .* got shape \(60, 2\)"),
    (2.0, "weights must be a column name or an array .* got the scalar 2.0"),
])
def test_weights_wrong_shape(df, weights, pattern):
    with pytest.raises(DataError, match=pattern):
        mn.multinom("y ~ x", df, weights=weights)


@pytest.mark.parametrize("weights, pattern", [
    ("g", "weights column 'g' must be numeric"),
    (np.ones(N, dtype=bool), "weights must be numeric .* got dtype bool"),
    (["1"] * N, "weights must be numeric"),
    (np.ones(N) * 1j, "weights must be numeric"),
])
def test_weights_not_numeric(df, weights, pattern):
    with pytest.raises(TypeError, match=pattern):
        mn.multinom("y ~ x", df, weights=weights)


def test_weights_negative(df):
    d = df.copy()
    d.loc[[3, 9], "w"] = -1.0
    with pytest.raises(DataError, match=r"weights column 'w' are negative at row\(s\) \[3, 9\]"):
        mn.multinom("y ~ x", d, weights="w")
    with pytest.raises(DataError, match=r"weights are negative at row\(s\) \[3, 9\]"):
        mn.multinom("y ~ x", d, weights=d.w.to_numpy())


@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_weights_infinite(df, value):
    d = df.copy()
    d.loc[5, "w"] = value
    with pytest.raises(DataError, match=r"weights column 'w' are (infinite|negative) at row\(s\) \[5\]"):
        mn.multinom("y ~ x", d, weights="w")


def test_weights_nan_dropped_or_raise(df):
    d = df.copy()
    d.loc[3, "w"] = np.nan
    f = mn.multinom("y ~ x + g", d, weights="w")
    assert f.n_dropped == 1 and f.nrows == N - 1
    assert_same_fit(f, mn.multinom("y ~ x + g", d.drop(index=3), weights="w"))
    with pytest.raises(DataError, match=r"missing values in column\(s\) \['w'\] at row\(s\) \[3\]"):
        mn.multinom("y ~ x + g", d, weights="w", na_action="raise")
    with pytest.raises(DataError, match=r"missing values in column\(s\) \['weights'\] at row\(s\) \[3\]"):
        mn.multinom("y ~ x + g", d, weights=d.w.to_numpy(), na_action="raise")


def test_weights_nullable_na_dropped(df):
    w = pd.array([1] * (N - 1) + [None], dtype="Int64")
    f = mn.multinom("y ~ x", df.assign(w=w), weights="w")
    assert f.n_dropped == 1


def test_weights_list_with_none_dropped(df):
    f = mn.multinom("y ~ x", df, weights=[1.0] * (N - 1) + [None])
    assert f.n_dropped == 1
    with pytest.raises(TypeError, match="weights must be numeric"):
        mn.multinom("y ~ x", df, weights=[1.0] * (N - 1) + ["heavy"])


def test_weights_all_zero(df):
    with pytest.raises(DataError, match="nothing to fit: every row has weight zero"):
        mn.multinom("y ~ x", df, weights=np.zeros(N))


def test_zero_weight_rows_equal_dropping_them(df):
    w = np.ones(N)
    w[:10] = 0.0
    assert_same_fit(mn.multinom("y ~ x + g", df, weights=w), mn.multinom("y ~ x + g", df.iloc[10:]))


def test_weights_series_aligned_by_label(df):
    """A pandas Series is aligned on the data's index (as pandas does), not used by position."""
    shuffled = df.w.sample(frac=1.0, random_state=1)
    assert_same_fit(mn.multinom("y ~ x + g", df, weights=shuffled), mn.multinom("y ~ x + g", df, weights="w"))
    foreign = pd.Series(df.w.to_numpy(), index=np.arange(100, 100 + N))
    with pytest.raises(DataError, match="weights is a pandas Series whose index does not match"):
        mn.multinom("y ~ x", df, weights=foreign)
    # by position when asked to
    assert_same_fit(mn.multinom("y ~ x + g", df, weights=foreign.to_numpy()),
                    mn.multinom("y ~ x + g", df, weights="w"))


# ------------------------------------------------------------------------- offset
@pytest.mark.parametrize("offset, exc, pattern", [
    ("oo", MissingColumnError, r"offset column\(s\) \['oo'\] are not in the data"),
    (["x", "oo", "w"], MissingColumnError, r"\['oo'\]"),
    (["x", "g", "w"], TypeError, "offset column 'g' of data must be numeric"),
    (0.0, DataError, "offset must be column name.* got the scalar 0.0"),
    (np.zeros((5, 3)), DataError, "offset has 5 rows but the data have 60"),
    (np.zeros((N, 2)), DataError, r"offset has shape \(60, 2\); expected an array of shape \(60, 3\).*\['a', 'b', 'c'\]"),
    (np.zeros(N), DataError, r"offset has shape \(60,\); expected an array of shape \(60, 3\)"),
    (np.zeros((N, 3, 1)), DataError, "offset must be a vector or a matrix"),
    (np.full((N, 3), "z"), TypeError, "offset must be numeric"),
])
def test_bad_offset(df, offset, exc, pattern):
    with pytest.raises(exc, match=pattern):
        mn.multinom("y ~ x", df, offset=offset)


def test_offset_frame_with_levels_in_another_order(df):
    off = pd.DataFrame({"c": np.zeros(N), "a": np.zeros(N), "b": np.ones(N)})
    with pytest.raises(DataError, match=r"offset columns \['c', 'a', 'b'\] are the response levels in another "
                                        r"order than the data's \['a', 'b', 'c'\]"):
        mn.multinom("y ~ x", df, offset=off)
    f = mn.multinom("y ~ x", df, offset=off[["a", "b", "c"]])
    ref = mn.multinom("y ~ x", df)
    np.testing.assert_allclose(f.coef["(Intercept)"].to_numpy(), ref.coef["(Intercept)"].to_numpy() - [1.0, 0.0],
                               rtol=1e-6, atol=1e-8)


def test_offset_nan_dropped_or_raise(df):
    off = np.zeros((N, 3))
    off[6, 1] = np.nan
    f = mn.multinom("y ~ x", df, offset=off)
    assert f.n_dropped == 1
    with pytest.raises(DataError, match=r"missing values in column\(s\) \['offset'\] at row\(s\) \[6\]"):
        mn.multinom("y ~ x", df, offset=off, na_action="raise")


def test_offset_infinite(df):
    off = np.zeros((N, 3))
    off[6, 2] = -np.inf
    with pytest.raises(DataError, match="offset is infinite at row 6, level 'c'"):
        mn.multinom("y ~ x", df, offset=off)


def test_offset_with_empty_level_needs_its_column(df):
    d = df.assign(y=pd.Categorical(df.y, categories=["a", "b", "c", "d"]))
    with pytest.warns(EmptyLevelWarning), pytest.raises(
            DataError, match=r"shape \(60, 4\).*including the empty level\(s\) \['d'\]"):
        mn.multinom("y ~ x", d, offset=np.zeros((N, 3)))


def test_binary_after_empty_level_accepts_vector_offset(df):
    d = df.assign(y=pd.Categorical(np.where(df.x > 0, "a", "c"), categories=["a", "b", "c"]))
    v = np.linspace(-1, 1, N)
    with pytest.warns(EmptyLevelWarning):
        f1 = mn.multinom("y ~ g", d, offset=v)
    full = np.zeros((N, 3))
    full[:, 2] = v
    with pytest.warns(EmptyLevelWarning):
        f2 = mn.multinom("y ~ g", d, offset=full)
    assert_same_fit(f1, f2)


# ------------------------------------------------------------------------- subset
@pytest.mark.parametrize("subset, exc, pattern", [
    (np.ones(5, dtype=bool), DataError, r"subset mask has shape \(5,\) but the data have 60 rows"),
    (np.arange(10), TypeError, "subset must be a boolean mask .* got dtype int64; for row positions"),
    ("zz > 1", DataError, "subset query 'zz > 1' failed: .*zz"),
    ("x >", DataError, "subset query 'x >' failed"),
    (np.zeros(N, dtype=bool), DataError, "no rows left to fit: 60 excluded by subset"),
    (pd.array([True] * (N - 1) + [None], dtype="boolean"), DataError,
     r"subset has missing values at row\(s\) \[59\]"),
    (np.array([True] * (N - 1) + [None], dtype=object), DataError, r"subset has missing values at row\(s\) \[59\]"),
])
def test_bad_subset(df, subset, exc, pattern):
    with pytest.raises(exc, match=pattern):
        mn.multinom("y ~ x", df, subset=subset)


def test_subset_series_alignment(df):
    mask = df.x > 0
    ref = mn.multinom("y ~ x + g", df[mask])
    assert_same_fit(mn.multinom("y ~ x + g", df, subset=mask.sample(frac=1.0, random_state=2)), ref)
    assert_same_fit(mn.multinom("y ~ x + g", df, subset=list(mask)), ref)
    with pytest.raises(DataError, match="subset is a pandas Series whose index does not match"):
        mn.multinom("y ~ x", df, subset=mask.reset_index(drop=True).iloc[:-1])


def test_subset_query_with_duplicated_index(df):
    """A query string selects rows by position, whatever the index (regression: labels were used)."""
    d = df.copy()
    d.index = np.zeros(N, dtype=int)  # every row labelled 0
    f = mn.multinom("y ~ x + g", d, subset="x > 0")
    assert f.nrows == int((df.x > 0).sum())
    assert_same_fit(f, mn.multinom("y ~ x + g", df[df.x > 0]))


# ------------------------------------------------------------------ missing values
def test_all_rows_dropped_for_missing_values(df):
    with pytest.raises(DataError, match=r"no rows left to fit: 0 excluded by subset, 60 dropped for missing "
                                        r"values; missing values in column\(s\) \['x'\]"):
        mn.multinom("y ~ x", df.assign(x=np.nan))


def test_all_rows_dropped_by_subset_and_missing_values(df):
    d = df.copy()
    d.loc[d.x > 0, "g"] = None
    with pytest.raises(DataError, match=r"no rows left to fit: \d+ excluded by subset, \d+ dropped .*\['g'\]"):
        mn.multinom("y ~ x + g", d, subset=d.x > 0)


def test_missing_response_dropped_or_raise(df):
    d = df.copy()
    d.loc[[2, 11], "y"] = None
    f = mn.multinom("y ~ x + g", d)
    assert f.n_dropped == 2
    assert list(f.fitted.index) == [i for i in df.index if i not in (2, 11)]
    assert_same_fit(f, mn.multinom("y ~ x + g", df.drop(index=[2, 11])))
    with pytest.raises(DataError, match=r"missing values in column\(s\) \['y'\] at row\(s\) \[2, 11\] "
                                        r"\(na_action='raise'\)"):
        mn.multinom("y ~ x + g", d, na_action="raise")


def test_missing_values_only_in_excluded_rows_are_ignored(df):
    d = df.copy()
    d.loc[d.x < 0, "g"] = None
    f = mn.multinom("y ~ x + g", d, subset="x >= 0", na_action="raise")
    assert f.n_dropped == 0 and f.nrows == int((df.x >= 0).sum())


# ----------------------------------------------------------------------- response
def test_single_level_response(df):
    with pytest.raises(DataError, match=r"single level with positive weight \(\['a'\]\)"):
        mn.multinom("y ~ x", df.assign(y="a"))
    with pytest.raises(DataError, match=r"single level with positive weight \(\['b'\]\)"):
        mn.multinom("y ~ x", df, subset=df.y == "b")


def test_single_level_after_zero_weights(df):
    w = (df.y == "c").astype(float)
    with pytest.raises(DataError, match=r"single level with positive weight \(\['c'\]\)"):
        mn.multinom("y ~ x", df, weights=w.to_numpy())


def test_empty_level_dropped_with_warning(df):
    d = df.assign(y=pd.Categorical(df.y, categories=["a", "b", "zz", "c"]))
    with pytest.warns(EmptyLevelWarning, match=r"response level\(s\) \['zz'\] have no observations"):
        f = mn.multinom("y ~ x + g", d)
    assert f.levels == ["a", "b", "c"]
    assert_same_fit(f, mn.multinom("y ~ x + g", df))


def test_response_mixing_types(df):
    with pytest.raises(DataError, match="response 'ym' mixes types that cannot be ordered"):
        mn.multinom("ym ~ x", df.assign(ym=["a", 1] * (N // 2)))


def _counts(seed=3, n=40):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"a": rng.integers(0, 6, n).astype(float), "b": rng.integers(0, 6, n).astype(float),
                         "c": rng.integers(1, 6, n).astype(float), "x": rng.normal(size=n)})


@pytest.mark.parametrize("value, exc, pattern", [
    (-1.0, DataError, r"count column 'b' is negative \(-1\) at row 4"),
    (np.inf, DataError, "count column 'b' is not finite at row 4"),
])
def test_bad_counts(value, exc, pattern):
    cm = _counts()
    cm.loc[4, "b"] = value
    with pytest.raises(exc, match=pattern):
        mn.multinom("cbind(a, b, c) ~ x", cm)


def test_count_column_not_numeric():
    with pytest.raises(TypeError, match="count column 'b' must be numeric"):
        mn.multinom("cbind(a, b, c) ~ x", _counts().assign(b="1"))
    with pytest.raises(TypeError, match="count column 'b' must be numeric"):
        mn.multinom("a + b + c ~ x", _counts().assign(b=True))


def test_count_nan_dropped_or_raise():
    cm = _counts()
    cm.loc[4, "b"] = np.nan
    f = mn.multinom("cbind(a, b, c) ~ x", cm)
    assert f.n_dropped == 1
    assert_same_fit(f, mn.multinom("cbind(a, b, c) ~ x", cm.drop(index=4)))
    with pytest.raises(DataError, match=r"missing values in column\(s\) \['b'\] at row\(s\) \[4\]"):
        mn.multinom("cbind(a, b, c) ~ x", cm, na_action="raise")


def test_count_rows_all_zero_contribute_nothing():
    cm = _counts()
    cm.loc[[1, 2], ["a", "b", "c"]] = 0.0
    f = mn.multinom("cbind(a, b, c) ~ x", cm)
    ref = mn.multinom("cbind(a, b, c) ~ x", cm.drop(index=[1, 2]))
    assert_same_fit(f, ref)
    assert f.nobs == ref.nobs
    assert f.residuals.loc[[1, 2]].isna().all().all()  # no observed proportions there
    np.testing.assert_allclose(f.fitted.loc[[1, 2]].sum(axis=1), 1.0)


def test_counts_all_zero():
    cm = _counts().assign(a=0.0, b=0.0, c=0.0)
    with pytest.raises(DataError, match=r"nothing to fit: every count is zero \(after weighting\)"):
        mn.multinom("cbind(a, b, c) ~ x", cm)


def test_non_integer_counts_are_proportions_times_weights():
    """nnet's semantics: the likelihood is sum(w * counts * log p) for any non-negative counts."""
    cm = _counts()
    tot = cm[["a", "b", "c"]].sum(axis=1)
    props = cm[["a", "b", "c"]].div(tot, axis=0).assign(x=cm.x, tot=tot)
    f_counts = mn.multinom("cbind(a, b, c) ~ x", cm)
    f_props = mn.multinom("cbind(a, b, c) ~ x", props, weights="tot")
    assert_same_fit(f_props, f_counts)
    np.testing.assert_allclose(f_props.std_errors(), f_counts.std_errors(), rtol=1e-7)
    # counts scaled by a constant: same coefficients, log-likelihood and information scaled
    f_third = mn.multinom("cbind(a, b, c) ~ x", cm.assign(a=cm.a / 3, b=cm.b / 3, c=cm.c / 3))
    np.testing.assert_allclose(_coef(f_third), _coef(f_counts), rtol=1e-7, atol=1e-9)
    assert f_third.loglik == pytest.approx(f_counts.loglik / 3, rel=1e-9)
    np.testing.assert_allclose(f_third.std_errors(), f_counts.std_errors() * np.sqrt(3), rtol=1e-7)


def test_count_column_all_zero_is_an_empty_level():
    cm = _counts().assign(b=0.0)
    with pytest.warns(EmptyLevelWarning, match=r"\['b'\]"):
        f = mn.multinom("cbind(a, b, c) ~ x", cm)
    assert f.levels == ["a", "c"]


# ---------------------------------------------------------------------- arguments
@pytest.mark.parametrize("kwargs, pattern", [
    (dict(decay=-1.0), "decay must be a finite number >= 0, got -1.0"),
    (dict(decay=np.nan), "decay must be a finite number >= 0, got nan"),
    (dict(decay=np.inf), "decay must be a finite number >= 0"),
    (dict(decay="1"), "decay must be a finite number >= 0, got '1'"),
    (dict(decay=True), "decay must be a finite number >= 0, got True"),
    (dict(maxit=0), "maxit must be a positive integer, got 0"),
    (dict(maxit=-5), "maxit must be a positive integer"),
    (dict(maxit=2.5), "maxit must be a positive integer, got 2.5"),
    (dict(maxit="100"), "maxit must be a positive integer"),
    (dict(tol=0), r"tol must be a number in \(0, 1\), got 0"),
    (dict(tol=1.0), r"tol must be a number in \(0, 1\)"),
    (dict(tol=True), r"tol must be a number in \(0, 1\)"),
    (dict(method="bfgs"), "method must be 'auto', 'newton' or 'lbfgs', got 'bfgs'"),
    (dict(na_action="omit"), "na_action must be 'drop' or 'raise', got 'omit'"),
    (dict(na_action=None), "na_action must be 'drop' or 'raise', got None"),
])
def test_argument_out_of_range(df, kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        mn.multinom("y ~ x", df, **kwargs)


def test_numpy_and_r_style_numbers_accepted(df):
    ref = mn.multinom("y ~ x", df, decay=1.0, maxit=10000)
    f = mn.multinom("y ~ x", df, decay=np.int64(1), maxit=1e4)  # R users write maxit = 1e4
    assert_same_fit(f, ref)


def test_baseline_not_a_level(df):
    with pytest.raises(DataError, match=r"baseline 'z' is not a response level; levels are \['a', 'b', 'c'\]"):
        mn.multinom("y ~ x", df, baseline="z")
    with pytest.raises(DataError, match="baseline 1 is not a response level"):
        mn.multinom("y ~ x", df, baseline=1)
    with pytest.raises(TypeError, match="baseline must be a single response level"):
        mn.multinom("y ~ x", df, baseline=["a", "b"])


def test_baseline_is_an_empty_level(df):
    d = df.assign(y=pd.Categorical(df.y, categories=["z", "a", "b", "c"]))
    with pytest.warns(EmptyLevelWarning), pytest.raises(
            DataError, match=r"baseline 'z' is a response level without observations \(dropped as empty\)"):
        mn.multinom("y ~ x", d, baseline="z")


def test_numeric_baseline_given_as_text(df):
    d = df.assign(yi=df.y.map({"a": 1.0, "b": 2.0, "c": 3.0}))
    f = mn.multinom("yi ~ x", d, baseline="2")
    assert f.levels[0] == 2.0
    assert mn.multinom("yi ~ x", d, baseline=2).levels == f.levels


@pytest.mark.parametrize("start, exc, pattern", [
    ([1.0, 2.0], DataError, "start has 2 values; the model has 4 coefficients"),
    (np.full(4, np.nan), DataError, "start has missing or infinite values"),
    (["a"] * 4, TypeError, "start must be numeric"),
    (pd.DataFrame([[0.0, 0.0]], index=["q"], columns=["(Intercept)", "x"]), DataError,
     r"start lacks level\(s\) \['b', 'c'\]"),
    (pd.Series([0.0, 0.0], index=["(Intercept)", "x"]), DataError, "start is a Series but the model has 2"),
])
def test_bad_start(df, start, exc, pattern):
    with pytest.raises(exc, match=pattern):
        mn.multinom("y ~ x", df, start=start)


def test_start_like_coef_accepted(df, fit):
    f = mn.multinom("y ~ x + g", df, start=fit.coef)
    assert_same_fit(f, fit)


# ------------------------------------------------------------------------ predict
def test_newdata_not_a_dataframe(fit, df):
    with pytest.raises(TypeError, match="newdata must be a pandas DataFrame, got Series"):
        fit.predict(df.iloc[0])


def test_newdata_missing_column(fit, df):
    with pytest.raises(MissingColumnError, match=r"newdata is missing column\(s\) \['g'\] used by the formula"):
        fit.predict(df.drop(columns="g"))


@pytest.mark.parametrize("formula", ["y ~ x + g", "y ~ x * g", "y ~ x:g", "y ~ C(g) + x"])
def test_newdata_unseen_level(df, formula):
    f = mn.multinom(formula, df)
    new = df.iloc[:4].assign(g=["u", "w", "v", "w"])
    with pytest.raises(UnseenLevelError, match=r"column 'g' has level\(s\) \['w'\] not seen when fitting "
                                               r"\(known levels: \['u', 'v'\]\)"):
        f.predict(new)
    with pytest.raises(UnseenLevelError):
        f.predict(new, se=True)


def test_newdata_level_without_observations(df):
    """A category known to the model matrix but never observed: its coefficient is not estimable."""
    d = df.assign(g=pd.Categorical(df.g, categories=["u", "v", "w"]))
    with pytest.warns(mn.RankDeficientWarning, match=r"\['gw'\]"):
        f = mn.multinom("y ~ x + g", d)
    with pytest.raises(UnseenLevelError, match=r"column 'g' has level\(s\) \['w'\] without observations when "
                                               r"fitting"):
        f.predict(d.iloc[:3].assign(g="w"))
    np.testing.assert_allclose(f.predict(d.iloc[:3]).to_numpy(), f.fitted.iloc[:3].to_numpy(), atol=1e-12)
    # the same for a level observed only in rows of weight zero
    w = np.where(df.g == "v", 0.0, 1.0)
    with pytest.warns(mn.RankDeficientWarning, match=r"\['gv'\]"):
        f0 = mn.multinom("y ~ x + g", df, weights=w)
    with pytest.raises(UnseenLevelError, match=r"\['v'\] without observations"):
        f0.predict(df.iloc[:3].assign(g="v"))


def test_newdata_missing_values_give_nan_rows_in_place(fit, df):
    new = df.iloc[:6].copy()
    new.loc[1, "x"] = np.nan
    new.loc[4, "g"] = None
    full = fit.predict(df.iloc[:6])
    probs = fit.predict(new)
    assert list(probs.index) == list(new.index)
    assert probs.loc[[1, 4]].isna().all().all()
    keep = [0, 2, 3, 5]
    np.testing.assert_allclose(probs.loc[keep].to_numpy(), full.loc[keep].to_numpy(), atol=1e-14)
    assert fit.predict(new, type="link").loc[[1, 4]].isna().all().all()
    cls = fit.predict(new, type="class")
    assert cls.isna().tolist() == [False, True, False, False, True, False]
    long = fit.predict(new, se=True)
    assert len(long) == 6 * 3
    bad = long[long.row.isin([1, 4])]
    assert bad[["prob", "se", "lower", "upper"]].isna().all().all()
    assert long[~long.row.isin([1, 4])][["prob", "se"]].notna().all().all()


def test_newdata_all_missing_and_empty(fit, df):
    allnan = fit.predict(df.iloc[:3].assign(x=np.nan))
    assert allnan.shape == (3, 3) and allnan.isna().all().all()
    empty = fit.predict(df.iloc[:0])
    assert empty.shape == (0, 3) and list(empty.columns) == ["a", "b", "c"]


def test_newdata_infinite_value(fit, df):
    new = df.iloc[:4].copy()
    new.loc[2, "x"] = -np.inf
    with pytest.raises(DataError, match="model-matrix column 'x' is -inf at row 2 of newdata"):
        fit.predict(new)


def test_newdata_text_in_numeric_column(fit, df):
    new = df.iloc[:4].assign(x=["0.5", "1", "oops", "2"])
    with pytest.raises(DataError, match=r"column 'x' was numeric when fitting but newdata has the non-numeric "
                                        r"value 'oops' at row 2"):
        fit.predict(new)
    as_text = df.iloc[:4].assign(x=df.x.iloc[:4].map(repr))
    np.testing.assert_allclose(fit.predict(as_text).to_numpy(), fit.predict(df.iloc[:4]).to_numpy(), atol=1e-12)
    with pytest.raises(DataError, match="column 'x' was numeric when fitting but newdata has dtype datetime64"):
        fit.predict(df.iloc[:4].assign(x=df.d.iloc[:4]))


def test_newdata_bad_dates(df):
    f = mn.multinom("y ~ d", df)
    with pytest.raises(DataError, match="column 'd' of newdata holds dates, but some values cannot be read"):
        f.predict(df.iloc[:2].assign(d=["2021-02-01", "not a date"]))
    with pytest.raises(DataError, match="column 'd' holds dates in the fitted model but newdata has numbers"):
        f.predict(df.iloc[:2].assign(d=[18700.0, 18701.0]))
    as_text = f.predict(df.iloc[:2].assign(d=["2021-01-01", "2021-01-02"]))
    np.testing.assert_allclose(as_text.to_numpy(), f.fitted.iloc[:2].to_numpy(), atol=1e-12)


def test_data_bad_dates(df):
    d = df.assign(d=df.d.astype(object))
    d.loc[3, "d"] = "x"
    with pytest.raises(DataError, match="column 'd' of data holds dates, but some values cannot be read"):
        mn.multinom("y ~ d", d)


@pytest.mark.parametrize("kwargs, pattern", [
    (dict(type="response"), "type must be one of"),
    (dict(interval="wald"), "interval must be one of"),
    (dict(se=True, level=1.5), "level must be a number strictly between 0 and 1, got 1.5"),
    (dict(se=True, level=0), "level must be a number strictly between 0 and 1"),
    (dict(se=True, type="class"), "type='class' has no standard errors"),
])
def test_predict_bad_arguments(fit, df, kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        fit.predict(df.iloc[:3], **kwargs)


@pytest.mark.parametrize("level", [0, 1, 95, -0.5, "0.95", True])
def test_confint_level_out_of_range(fit, level):
    with pytest.raises(ValueError, match="level must be a number strictly between 0 and 1"):
        fit.confint(level=level)
    with pytest.raises(ValueError, match="level must be a number strictly between 0 and 1"):
        fit.summary(level=level)


def test_unknown_vcov_type(fit):
    with pytest.raises(ValueError, match="bogus"):
        fit.vcov(type="bogus")


def test_predict_offset_errors(df):
    f = mn.multinom("y ~ x", df, offset=np.zeros((N, 3)))
    with pytest.raises(DataError, match="fitted with an offset given as an array; pass offset= to predict"):
        f.predict(df.iloc[:3])
    with pytest.raises(DataError, match=r"offset has shape \(3, 2\); expected an array of shape \(3, 3\)"):
        f.predict(df.iloc[:3], offset=np.zeros((3, 2)))
    off = np.zeros((3, 3))
    off[1, 0] = np.nan
    with pytest.raises(DataError, match=r"offset is missing \(NaN\) at row 1, level 'a'"):
        f.predict(df.iloc[:3], offset=off)
    with pytest.raises(ValueError, match="offset= is only used with newdata"):
        f.predict(offset=np.zeros((N, 3)))


def test_predict_missing_offset_columns(df):
    d = df.assign(o1=0.0, o2=0.0, o3=0.0)
    f = mn.multinom("y ~ x", d, offset=["o1", "o2", "o3"])
    with pytest.raises(DataError, match=r"newdata is missing offset column\(s\) \['o1', 'o2', 'o3'\]"):
        f.predict(df.iloc[:3])
    with pytest.raises(TypeError, match="offset column 'o2' of newdata must be numeric"):
        f.predict(d.iloc[:3].assign(o2="z"))


# -------------------------------------------------------------------- exceptions
def test_exception_hierarchy():
    assert issubclass(FormulaError, ValueError) and issubclass(DataError, ValueError)
    assert issubclass(MissingColumnError, KeyError) and issubclass(UnseenLevelError, DataError)
    for cls in (FormulaError, DataError, MissingColumnError, UnseenLevelError):
        assert issubclass(cls, mn.MultinomError)
        err = pickle.loads(pickle.dumps(cls("message")))
        assert type(err) is cls and str(err) == "message"
