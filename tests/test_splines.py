"""Tests of multinom.splines.ns against R's splines::ns().

Reference values come from tests/fixtures/splines_ns.json, written by
``Rscript tests/r/make_fixtures_splines.R`` (R is not needed to run the tests).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import pathlib
import sys

import numpy as np
import pandas as pd
import pytest

import formulaic

try:
    from multinom.splines import FORMULA_CONTEXT, NaturalSplineBasis, ns, ns_basis
except Exception:  # pragma: no cover - the package __init__ may be mid-construction
    _path = pathlib.Path(__file__).resolve().parents[1] / "multinom" / "splines.py"
    _spec = importlib.util.spec_from_file_location("_multinom_splines_standalone", _path)
    _mod = importlib.util.module_from_spec(_spec)
    sys.modules[_spec.name] = _mod
    _spec.loader.exec_module(_mod)
    FORMULA_CONTEXT, NaturalSplineBasis, ns, ns_basis = (
        _mod.FORMULA_CONTEXT, _mod.NaturalSplineBasis, _mod.ns, _mod.ns_basis)

FIXTURE = pathlib.Path(__file__).resolve().parent / "fixtures" / "splines_ns.json"
with FIXTURE.open(encoding="utf-8") as fh:
    FIX = json.load(fh)
CASES = {c["id"]: c for c in FIX["cases"]}
ERROR_CASES = {c["id"]: c for c in FIX["error_cases"]}
TOL = dict(rtol=1e-10, atol=1e-10)


def _vec(values):
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _mat(rows):
    return np.array([[np.nan if v is None else v for v in row] for row in rows], dtype=float)


def _assert_same(actual, expected):
    actual = np.asarray(actual, dtype=float)
    assert actual.shape == expected.shape
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected))
    np.testing.assert_allclose(actual, expected, **TOL)


def _df_arg(case):
    """df as given to R; for R's 'df was too small' case use the df R actually used."""
    if case.get("r_warning"):
        return case["ncol"]
    return case["df"]


def _columns(fv):
    return np.column_stack([fv[k] for k in sorted(fv)])


# --------------------------------------------------------------------------
# numerical equivalence with R
# --------------------------------------------------------------------------
def test_fixture_provenance():
    prov = FIX["provenance"]
    assert prov["r_version"].startswith("R version")
    assert prov["generator"] == "tests/r/make_fixtures_splines.R"
    assert len(CASES) >= 30


@pytest.mark.r_parity
@pytest.mark.parametrize("case_id", sorted(CASES))
def test_ns_basis_matches_r(case_id):
    case = CASES[case_id]
    mat, basis = ns_basis(
        _vec(case["x"]),
        df=_df_arg(case),
        knots=case["knots_arg"],
        intercept=case["intercept"],
        boundary_knots=case["boundary_knots_arg"],
    )
    _assert_same(mat, _mat(case["basis"]))
    np.testing.assert_allclose(basis.knots, sorted(case["knots"]), rtol=1e-13, atol=0)
    np.testing.assert_allclose(basis.boundary_knots, case["boundary_knots"], rtol=1e-13, atol=0)
    assert basis.df == case["ncol"]
    # predict(<ns>, newx): includes points outside the boundary knots and NA
    _assert_same(basis(_vec(case["newx"])), _mat(case["predict"]))


@pytest.mark.r_parity
@pytest.mark.parametrize("case_id", sorted(CASES))
def test_ns_transform_matches_r(case_id):
    case = CASES[case_id]
    state = {}
    fv = ns(_vec(case["x"]), df=_df_arg(case), knots=case["knots_arg"],
            intercept=case["intercept"], boundary_knots=case["boundary_knots_arg"], _state=state)
    assert sorted(fv) == list(range(1, case["ncol"] + 1))
    _assert_same(_columns(fv), _mat(case["basis"]))
    assert set(state) == {"knots", "boundary_knots", "intercept"}
    # replaying the state on new points is R's predict(); df/knots args are ignored
    new = ns(_vec(case["newx"]), df=_df_arg(case), knots=case["knots_arg"],
             intercept=case["intercept"], _state=state)
    _assert_same(_columns(new), _mat(case["predict"]))


@pytest.mark.r_parity
def test_df_too_small_for_intercept_raises_where_r_warns():
    case = CASES["uniform_intercept_df1"]
    assert "too small" in case["r_warning"]
    with pytest.raises(ValueError, match="df must be at least 2"):
        ns_basis(_vec(case["x"]), df=1, intercept=True)
    # R silently used df = 2: same as uniform_intercept_df2
    _assert_same(ns_basis(_vec(case["x"]), df=2, intercept=True)[0], _mat(case["basis"]))


def test_default_is_linear_single_column():
    x = _vec(CASES["uniform_default"]["x"])
    mat, basis = ns_basis(x)
    assert mat.shape == (x.size, 1) and basis.knots == ()
    # with no interior knot and no intercept the natural spline is linear in x
    lo, hi = basis.boundary_knots
    np.testing.assert_allclose(mat[:, 0], (x - lo) / (hi - lo) * mat[np.argmax(x), 0], **TOL)


# --------------------------------------------------------------------------
# mathematical properties
# --------------------------------------------------------------------------
def test_linear_beyond_boundary_and_natural_constraint():
    x = _vec(CASES["skewed_df5"]["x"])
    _, basis = ns_basis(x, df=5)
    lo, hi = basis.boundary_knots
    for pts in (np.array([lo - 3, lo - 2, lo - 1]), np.array([hi + 1, hi + 2, hi + 3])):
        vals = basis(pts)
        np.testing.assert_allclose(vals[0] - 2 * vals[1] + vals[2], 0, atol=1e-12)
    # second derivative vanishes at the boundary knots (exact, from the B-spline derivatives)
    splines_mod = sys.modules[ns.__module__]
    d2 = splines_mod._bspline_design(basis._t, np.array([lo, hi]), deriv=2)[:, basis._first:] @ basis._proj
    np.testing.assert_allclose(d2, 0, atol=1e-12)
    # ... but not inside (the basis is genuinely cubic between the knots)
    inner = splines_mod._bspline_design(basis._t, np.array([1.0]), deriv=2)[:, basis._first:] @ basis._proj
    assert np.abs(inner).max() > 1e-3
    # continuity at the boundary knots
    for a in (lo, hi):
        np.testing.assert_allclose(basis(np.array([a - 1e-9])), basis(np.array([a + 1e-9])), atol=1e-8)


def test_intercept_basis_spans_constant():
    x = _vec(CASES["ties_df5"]["x"])
    mat, _ = ns_basis(x, df=4, intercept=True)
    coef, *_ = np.linalg.lstsq(mat, np.ones(x.size), rcond=None)
    np.testing.assert_allclose(mat @ coef, 1.0, atol=1e-10)


# --------------------------------------------------------------------------
# formulaic integration and statefulness
# --------------------------------------------------------------------------
FORMULA_CASES = [
    ("uniform_df3", "ns(x, df=3)"),
    ("uniform_df5", "ns(x, df=5)"),
    ("uniform_knots", "ns(x, knots=[2, 5, 7.5])"),
    ("uniform_intercept_df3", "ns(x, df=3, intercept=True)"),
    ("uniform_boundary_narrow", "ns(x, df=4, boundary_knots=[2, 8])"),
    ("skewed_df8", "ns(x, df=8)"),
    ("ties_df5", "ns(x, df=5)"),
    ("na_df3", "ns(x, df=3)"),
]


@pytest.mark.r_parity
@pytest.mark.parametrize("case_id,term", FORMULA_CASES)
def test_formula_model_spec_replay_reuses_training_knots(case_id, term):
    case = CASES[case_id]
    train = pd.DataFrame({"x": _vec(case["x"])})
    mm = formulaic.model_matrix(f"~ {term}", train, context=FORMULA_CONTEXT, na_action="ignore")
    cols = [f"{term}[{j}]" for j in range(1, case["ncol"] + 1)]
    assert list(mm.columns) == ["Intercept", *cols]
    _assert_same(mm[cols].to_numpy(), _mat(case["basis"]))

    state = mm.model_spec.transform_state[term]
    np.testing.assert_allclose(state["knots"], sorted(case["knots"]), rtol=1e-13)
    np.testing.assert_allclose(state["boundary_knots"], case["boundary_knots"], rtol=1e-13)

    new = pd.DataFrame({"x": _vec(case["newx"])})
    replay = mm.model_spec.get_model_matrix(new, context=FORMULA_CONTEXT)
    assert list(replay.columns) == ["Intercept", *cols]
    _assert_same(replay[cols].to_numpy(), _mat(case["predict"]))


def test_formula_with_response_and_formula_object():
    case = CASES["uniform_df3"]
    x = _vec(case["x"])
    data = pd.DataFrame({"y": np.arange(x.size) % 3, "x": x})
    mms = formulaic.model_matrix("y ~ ns(x, df=3)", data, context=FORMULA_CONTEXT)
    _assert_same(mms.rhs[[f"ns(x, df=3)[{j}]" for j in (1, 2, 3)]].to_numpy(), _mat(case["basis"]))
    via_formula = formulaic.Formula("y ~ ns(x, df=3)").get_model_matrix(data, context=FORMULA_CONTEXT)
    pd.testing.assert_frame_equal(via_formula.rhs, mms.rhs)
    # the training subset must not change knots when replayed on a different sample
    sub = data.iloc[:7]
    replay = mms.rhs.model_spec.get_model_matrix(sub, context=FORMULA_CONTEXT)
    _assert_same(replay.iloc[:, 1:].to_numpy(), _mat(case["basis"])[:7])


def test_replay_without_context_fails_clearly():
    data = pd.DataFrame({"x": np.linspace(0, 1, 20)})
    mm = formulaic.model_matrix("ns(x, df=2)", data, context=FORMULA_CONTEXT)
    with pytest.raises(Exception, match="ns"):
        mm.model_spec.get_model_matrix(data)


def test_formula_with_dates_and_replay():
    case = CASES["dates_df3"]
    train = pd.DataFrame({"d": pd.to_datetime(case["x_dates"])})
    mm = formulaic.model_matrix("ns(d, df=3)", train, context=FORMULA_CONTEXT)
    _assert_same(mm.iloc[:, 1:].to_numpy(), _mat(case["basis"]))
    new = pd.DataFrame({"d": pd.to_datetime(case["newx_dates"])})
    replay = mm.model_spec.get_model_matrix(new, context=FORMULA_CONTEXT)
    _assert_same(replay.iloc[:, 1:].to_numpy(), _mat(case["predict"]))


# --------------------------------------------------------------------------
# input types
# --------------------------------------------------------------------------
DATE_CASE = CASES["dates_df5"]


def _date_inputs():
    strings = DATE_CASE["x_dates"]
    ts = pd.to_datetime(strings)
    return {
        "numpy_datetime64_D": np.array(strings, dtype="datetime64[D]"),
        "numpy_datetime64_ns": np.array(strings, dtype="datetime64[ns]"),
        "pandas_series": pd.Series(ts),
        "pandas_index": pd.DatetimeIndex(ts),
        "pandas_tz_utc": pd.Series(ts.tz_localize("UTC")),
        "date_objects": [dt.date.fromisoformat(s) for s in strings],
        "date_object_series": pd.Series([dt.date.fromisoformat(s) for s in strings], dtype=object),
        "numeric_days": np.array(DATE_CASE["x"]),
    }


@pytest.mark.r_parity
@pytest.mark.parametrize("kind", sorted(_date_inputs()))
def test_datetime_input_is_days_since_epoch(kind):
    x = _date_inputs()[kind]
    mat, basis = ns_basis(x, df=5)
    _assert_same(mat, _mat(DATE_CASE["basis"]))
    new = np.array(DATE_CASE["newx_dates"], dtype="datetime64[D]")
    _assert_same(basis(new), _mat(DATE_CASE["predict"]))


def test_nat_gives_nan_rows():
    x = pd.Series(pd.to_datetime(["2020-01-01", None, "2020-06-01", "2020-09-01", "2021-01-01"]))
    mat, basis = ns_basis(x, df=2)
    assert np.isnan(mat[1]).all() and not np.isnan(np.delete(mat, 1, axis=0)).any()
    assert basis.boundary_knots == (18262.0, 18628.0)


def test_nan_rows_and_knots_ignore_missing():
    case = CASES["na_df3"]
    x = _vec(case["x"])
    mat, basis = ns_basis(x, df=3)
    nan_rows = np.isnan(x)
    assert np.isnan(mat[nan_rows]).all() and not np.isnan(mat[~nan_rows]).any()
    mat_clean, basis_clean = ns_basis(x[~nan_rows], df=3)
    assert basis.knots == basis_clean.knots and basis.boundary_knots == basis_clean.boundary_knots
    np.testing.assert_allclose(mat[~nan_rows], mat_clean, **TOL)
    # pandas nullable dtype with pd.NA
    _assert_same(ns_basis(pd.Series(x).astype("Float64"), df=3)[0], _mat(case["basis"]))
    # non-finite values give NaN rows too (R would produce Inf/NaN mixtures)
    out = basis(np.array([np.inf, -np.inf, 1.0]))
    assert np.isnan(out[:2]).all() and np.isfinite(out[2]).all()


@pytest.mark.r_parity
@pytest.mark.parametrize(
    "x",
    [np.arange(1, 26), np.arange(1, 26, dtype=np.int32), list(range(1, 26)),
     pd.Series(np.arange(1, 26)), pd.Series(np.arange(1, 26), dtype="Int64"),
     np.arange(1, 26).reshape(-1, 1)],
    ids=["int64", "int32", "list", "series", "nullable_Int64", "column_vector"],
)
def test_integer_inputs(x):
    case = CASES["integer_df4"]
    mat, basis = ns_basis(x, df=4)
    _assert_same(mat, _mat(case["basis"]))
    _assert_same(basis(np.array(case["newx"], dtype=int)), _mat(case["predict"]))


def test_plain_call_returns_fresh_state_each_time():
    a = ns(np.linspace(0, 1, 11), df=3)
    b = ns(np.linspace(0, 10, 11), df=3)
    # same relative position -> same basis values (knots not carried over between calls)
    np.testing.assert_allclose(_columns(a), _columns(b), **TOL)


def test_natural_spline_basis_object():
    basis = NaturalSplineBasis(knots=(5.0, 2.0), boundary_knots=(10.0, 0.0))
    assert basis.knots == (2.0, 5.0) and basis.boundary_knots == (0.0, 10.0)
    assert basis.df == 3
    assert basis(np.array([0.0, 5.0, 10.0])).shape == (3, 3)


# --------------------------------------------------------------------------
# bad arguments
# --------------------------------------------------------------------------
X10 = np.arange(1.0, 11.0)


@pytest.mark.parametrize("df", [0, -1])
def test_df_below_one_raises(df):
    with pytest.raises(ValueError, match=r"df must be at least 1"):
        ns_basis(X10, df=df)


def test_non_integer_df_raises():
    with pytest.raises(ValueError, match="whole number"):
        ns_basis(X10, df=2.5)
    assert ns_basis(X10, df=3.0)[0].shape == (10, 3)


@pytest.mark.parametrize("case_id", ["knot_above_boundary", "knot_below_boundary", "knot_at_upper_boundary"])
def test_knots_outside_boundary_raise(case_id):
    case = ERROR_CASES[case_id]
    with pytest.raises(ValueError, match="interior knots must lie inside the boundary knots"):
        ns_basis(_vec(case["x"]), knots=case["knots_arg"])


def test_knots_outside_explicit_boundary_raise():
    with pytest.raises(ValueError, match="offending knots: \\[9.5\\]"):
        ns_basis(X10, knots=[3, 9.5], boundary_knots=[2, 9])


def test_ties_at_max_raise_where_r_fails():
    case = ERROR_CASES["ties_at_max"]
    assert "NA/NaN/Inf" in case["r_error"]
    with pytest.raises(ValueError, match="tied at max"):
        ns_basis(_vec(case["x"]), df=case["df"])


def test_constant_x_raises():
    case = ERROR_CASES["constant_x"]
    with pytest.raises(ValueError, match="boundary knots must differ"):
        ns_basis(_vec(case["x"]), df=case["df"])
    with pytest.raises(ValueError, match="boundary knots must differ"):
        ns_basis(np.array([0.0]), df=2)  # R: Boundary.knots = 0 * c(7, 9)/8


@pytest.mark.parametrize(
    "kwargs,exc,msg",
    [
        (dict(boundary_knots=[1, 2, 3]), ValueError, "exactly two values"),
        (dict(boundary_knots=[1, np.inf]), ValueError, "must be finite"),
        (dict(intercept="yes"), ValueError, "intercept must be True or False"),
    ],
)
def test_bad_arguments(kwargs, exc, msg):
    with pytest.raises(exc, match=msg):
        ns_basis(X10, df=3, **kwargs)


def test_bad_x():
    with pytest.raises(TypeError, match="numeric or date"):
        ns_basis(np.array(["a", "b", "c"]), df=2)
    with pytest.raises(TypeError, match="categorical"):
        ns_basis(pd.Series(["a", "b"], dtype="category"), df=2)
    with pytest.raises(ValueError, match="no non-missing values"):
        ns_basis(np.array([np.nan, np.nan]), df=2)
    with pytest.raises(ValueError, match="one-dimensional"):
        ns_basis(np.ones((3, 3)), df=2)
    with pytest.raises(ValueError, match="no values of x lie inside"):
        ns_basis(X10, df=3, boundary_knots=[20, 30])


def test_error_in_formula_is_reported():
    data = pd.DataFrame({"x": X10})
    with pytest.raises(Exception, match="df must be at least 1"):
        formulaic.model_matrix("ns(x, df=0)", data, context=FORMULA_CONTEXT)


def test_local_and_full_bspline_evaluations_agree():
    splines_mod = sys.modules[ns.__module__]
    for knots in [(), (0.0,), (0.0, 0.3, 0.3, 0.7), (0.2, 0.2, 0.2, 0.2, 0.5)]:
        t = np.array([0.0] * 4 + list(knots) + [1.0] * 4)
        x = np.concatenate([np.linspace(0, 1, 101), np.array(knots)])
        full = splines_mod._bspline_design(t, x)
        vals, mu = splines_mod._bspline_local(t, x)
        local = np.zeros_like(full)
        for r in range(4):
            local[np.arange(x.size), mu - 3 + r] = vals[:, r]
        np.testing.assert_allclose(local, full, atol=1e-14)
        np.testing.assert_allclose(full.sum(axis=1), 1.0, atol=1e-14)  # partition of unity
