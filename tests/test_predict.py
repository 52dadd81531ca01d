"""Predictions with delta-method standard errors: ``fit.predict(se=True)``.

Reference values come from ``Rscript tests/r/make_fixtures_predict.R``
(``tests/fixtures/predict_housing.json``, ``predict_beps.json``): an
independent delta-method computation in R on explicit newdata rows,
``effects::Effect`` and ``emmeans(mode = "prob")``, all at the Newton-polished
MLE with ``V = solve(nnet:::multinomHess(fit))``. R is never needed here.

Two kinds of comparison, both at 1e-6 relative (entries below 1e-3 of the
largest magnitude of an array are compared absolutely at 1e-6 of it):

* low level, *given R's coefficients and covariance* and the exact model-matrix
  rows R used (effects holds non-focal factors at their proportions, which no
  newdata row can express): :func:`multinom._predict.prediction_se`,
  :func:`~multinom._predict.row_quadratic_forms`,
  :func:`~multinom._predict.probability_jacobian` (emmeans' averages);
* end to end: our own fit and ``fit.predict(newdata, se=True)``.

Then properties that need no reference: sums, bands, NaN rows, ``vcov=``,
output layout, dates, errors, row grouping and numerical stability.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy.special import expit, logit
from scipy.stats import norm

import multinom
from multinom import _predict
from multinom.exceptions import DataError

from _fixtures import as_matrix, load_fixture, load_fixture_data

CASES = ("housing", "beps")
RTOL = 1e-6


# --------------------------------------------------------------------------- helpers
def assert_rel(actual, expected, what: str, rtol: float = RTOL, floor: float = 1e-3):
    """Relative agreement; entries below ``floor * max|expected|`` absolutely at ``rtol * max``."""
    a = np.asarray(actual, dtype=float)
    e = np.asarray(expected, dtype=float)
    assert a.shape == e.shape, f"{what}: shape {a.shape} != R's {e.shape}"
    scale = np.max(np.abs(e))
    tol = np.maximum(rtol * np.abs(e), rtol * floor * scale)
    bad = ~(np.abs(a - e) <= tol)
    if bad.any():
        idx = [tuple(i) for i in np.argwhere(bad)[:5]]
        detail = "; ".join(f"{i}: {a[i]!r} vs R {e[i]!r}" for i in idx)
        pytest.fail(f"{what}: {bad.sum()} of {bad.size} entries differ beyond rtol={rtol:g}: {detail}")


@lru_cache(maxsize=None)
def _fixture(name: str) -> dict:
    return load_fixture(f"predict_{name}")


def fixture(name: str) -> dict:
    return _fixture(name)


@lru_cache(maxsize=None)
def _fit(name: str):
    fx = fixture(name)
    return multinom.multinom(fx["formula"], load_fixture_data(fx), **fx["python"])


def frame_from_columns(fx: dict, cols: dict) -> pd.DataFrame:
    """A JSON data frame (dict of columns) with factor columns as R-ordered Categoricals."""
    df = pd.DataFrame(cols)
    for col, levs in fx["factor_levels"].items():
        if col in df.columns:
            df[col] = pd.Categorical(df[col], categories=list(levs))
    return df


def r_coef_and_vcov(fx: dict):
    return as_matrix(fx["coef"]), as_matrix(fx["vcov"])


def eta_of(X, B) -> np.ndarray:
    return np.column_stack([np.zeros(X.shape[0]), X @ B.T])


def long_to_wide(out: pd.DataFrame, value: str, n: int) -> np.ndarray:
    return out[value].to_numpy(dtype=float).reshape(n, -1)


def effects_entries(with_newdata: bool | None = None):
    out = []
    for name in CASES:
        for i, e in enumerate(fixture(name)["effects"]):
            if with_newdata is None or ("newdata" in e) == with_newdata:
                out.append(pytest.param(name, i, id=f"{name}-effect{i}"))
    return out


def emmeans_entries(averaged: bool | None = None):
    out = []
    for name in CASES:
        for i, e in enumerate(fixture(name)["emmeans"]):
            if averaged is None or e["averaged"] == averaged:
                out.append(pytest.param(name, i, id=f"{name}-emmeans{i}"))
    return out


# --------------------------------------------------------------------------- fixture self-checks
@pytest.mark.r_parity
@pytest.mark.parametrize("name", CASES)
def test_fixture_consistency(name):
    fx = fixture(name)
    B, V = r_coef_and_vcov(fx)
    K, p = len(fx["levels"]), len(fx["coef_names"])
    assert B.shape == (K - 1, p) and V.shape == ((K - 1) * p,) * 2
    assert fx["vcov_names"] == [f"{lev}:{t}" for lev in fx["levels"][1:] for t in fx["coef_names"]]
    assert fx["convergence"]["polished_newton_step_max_rel"] < 1e-11
    assert fx["z"] == pytest.approx(norm.ppf(0.975), rel=1e-14)
    np.testing.assert_allclose(as_matrix(fx["direct"]["prob"]).sum(axis=1), 1.0, atol=1e-14)


# --------------------------------------------------------------------------- low level, R's coef and vcov
@pytest.mark.r_parity
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("name", CASES)
def test_low_level_direct(name, sparse):
    fx = fixture(name)
    d = fx["direct"]
    B, V = r_coef_and_vcov(fx)
    X = as_matrix(d["model_matrix"])
    Xin = sp.csr_matrix(X) if sparse else X
    eta = eta_of(X, B)
    res = _predict.prediction_se(Xin, V, eta, type="probs", interval="logit")
    assert_rel(res["estimate"], d["prob"], "prob")
    assert_rel(res["se"], d["se"], "se")
    assert_rel(res["logit"], d["logit"], "logit(p)")
    assert_rel(res["se_logit"], d["se_logit"], "se of logit(p)")
    assert_rel(res["lower"], d["lower_logit"], "lower (logit band)")
    assert_rel(res["upper"], d["upper_logit"], "upper (logit band)")
    res = _predict.prediction_se(Xin, V, eta, type="probs", interval="probability")
    assert_rel(res["lower"], d["lower_prob"], "lower (probability band)")
    assert_rel(res["upper"], d["upper_prob"], "upper (probability band)")
    res = _predict.prediction_se(Xin, V, eta, type="link")
    assert_rel(res["estimate"], d["link"], "link")
    assert_rel(res["se"], d["link_se"], "link se")
    assert_rel(res["lower"], d["link_lower"], "link lower")
    assert_rel(res["upper"], d["link_upper"], "link upper")
    # the stored-Q route gives the same
    J = len(fx["levels"]) - 1
    Q = _predict.row_quadratic_forms(Xin, V, J)
    P = np.exp(eta) / np.exp(eta).sum(axis=1, keepdims=True)
    assert_rel(_predict.probability_se(P, Q), d["se"], "probability_se(P, Q)")
    assert_rel(_predict.logit_se(P, Q), d["se_logit"], "logit_se(P, Q)")
    assert_rel(np.sqrt(np.einsum("rll->rl", Q)), d["link_se"], "sqrt(diag Q)")


@pytest.mark.r_parity
@pytest.mark.parametrize("name,i", effects_entries())
def test_low_level_effects(name, i):
    """effects::Effect on the exact model-matrix rows it used (non-focal factors at proportions)."""
    fx = fixture(name)
    e = fx["effects"][i]
    B, V = r_coef_and_vcov(fx)
    X = as_matrix(e["model_matrix"])
    assert e["confidence_level"] == 0.95
    res = _predict.prediction_se(X, V, eta_of(X, B), level=e["confidence_level"], interval="logit")
    assert_rel(res["estimate"], e["prob"], "prob")
    assert_rel(res["se"], e["se_prob"], "se.prob")
    assert_rel(res["logit"], e["logit"], "logit")
    assert_rel(res["se_logit"], e["se_logit"], "se.logit")
    assert_rel(res["lower"], e["lower_prob"], "lower.prob")
    assert_rel(res["upper"], e["upper_prob"], "upper.prob")
    z = norm.ppf(0.975)
    assert_rel(res["logit"] - z * res["se_logit"], e["lower_logit"], "lower.logit")
    assert_rel(res["logit"] + z * res["se_logit"], e["upper_logit"], "upper.logit")


def _emmeans_by_jacobian(fx, e, B, V):
    """emmeans' estimates and SEs from the cells' model-matrix rows and its linfct."""
    X = as_matrix(e["cells_model_matrix"])
    eta = eta_of(X, B)
    P = np.exp(eta) / np.exp(eta).sum(axis=1, keepdims=True)
    G = _predict.probability_jacobian(P, X)  # (cells, K, J p)
    cell = np.asarray(e["grid_cell"]) - 1
    lev = np.array([fx["levels"].index(v) for v in e["grid_level"]])
    L = as_matrix(e["linfct"])
    LG = L @ G[cell, lev]
    return L @ P[cell, lev], np.sqrt(np.einsum("ei,ij,ej->e", LG, V, LG))


@pytest.mark.r_parity
@pytest.mark.parametrize("name,i", emmeans_entries())
def test_low_level_emmeans(name, i):
    """emmeans(mode = "prob"): averages of cell probabilities with the delta-method SE."""
    fx = fixture(name)
    e = fx["emmeans"][i]
    B, V = r_coef_and_vcov(fx)
    est, se = _emmeans_by_jacobian(fx, e, B, V)
    s = e["estimates"]
    assert_rel(est, s["prob"], "emmean prob")
    assert_rel(se, s["se"], "emmean SE")
    z = norm.ppf(0.975)
    assert_rel(est - z * se, s["lower"], "asymp.LCL")
    assert_rel(est + z * se, s["upper"], "asymp.UCL")


@pytest.mark.r_parity
@pytest.mark.parametrize("name,i", emmeans_entries(averaged=False))
def test_low_level_emmeans_cells_probability_band(name, i):
    """Without averaging emmeans' interval is the ``interval="probability"`` band."""
    fx = fixture(name)
    e = fx["emmeans"][i]
    B, V = r_coef_and_vcov(fx)
    X = as_matrix(e["cells_model_matrix"])
    res = _predict.prediction_se(X, V, eta_of(X, B), interval="probability")
    L = as_matrix(e["linfct"])
    cell = np.asarray(e["grid_cell"]) - 1
    lev = np.array([fx["levels"].index(v) for v in e["grid_level"]])
    pick = np.argmax(L, axis=1)
    s = e["estimates"]
    for key, ref in (("estimate", "prob"), ("se", "se"), ("lower", "lower"), ("upper", "upper")):
        assert_rel(res[key][cell[pick], lev[pick]], s[ref], f"emmeans {ref}")


# --------------------------------------------------------------------------- end to end vs R
@pytest.mark.r_parity
@pytest.mark.parametrize("name", CASES)
def test_fit_matches_r(name):
    fx = fixture(name)
    fit = _fit(name)
    assert [str(v) for v in fit.levels] == fx["levels"]
    assert fit.coef_names == fx["vcov_names"]
    assert_rel(fit.coef.to_numpy(), fx["coef"], "coef")
    assert_rel(fit.vcov().to_numpy(), fx["vcov"], "vcov", floor=1e-6)


@pytest.mark.r_parity
@pytest.mark.parametrize("use_r_vcov", [False, True], ids=["own-vcov", "R-vcov"])
@pytest.mark.parametrize("name", CASES)
def test_predict_se_matches_r_direct(name, use_r_vcov):
    fx = fixture(name)
    d = fx["direct"]
    fit = _fit(name)
    nd = load_fixture_data(fx, d["newdata_csv"])
    n = len(nd)
    vc = (pd.DataFrame(as_matrix(fx["vcov"]), index=fx["vcov_names"], columns=fx["vcov_names"])
          if use_r_vcov else None)
    out = fit.predict(nd, se=True, interval="logit", vcov=vc)
    for col, ref in (("prob", "prob"), ("se", "se"), ("lower", "lower_logit"), ("upper", "upper_logit")):
        assert_rel(long_to_wide(out, col, n), d[ref], f"{col} (interval='logit')")
    out = fit.predict(nd, se=True, interval="probability", vcov=vc)
    for col, ref in (("prob", "prob"), ("se", "se"), ("lower", "lower_prob"), ("upper", "upper_prob")):
        assert_rel(long_to_wide(out, col, n), d[ref], f"{col} (interval='probability')")
    out = fit.predict(nd, se=True, type="link", vcov=vc)
    for col, ref in (("link", "link"), ("se", "link_se"), ("lower", "link_lower"), ("upper", "link_upper")):
        assert_rel(long_to_wide(out, col, n), d[ref], f"{col} (type='link')")


@pytest.mark.r_parity
@pytest.mark.parametrize("name,i", effects_entries(with_newdata=True))
def test_predict_se_matches_effects(name, i):
    """Effect grids whose model-matrix rows are newdata rows (numeric covariates at their means)."""
    fx = fixture(name)
    e = fx["effects"][i]
    nd = frame_from_columns(fx, e["newdata"])
    out = _fit(name).predict(nd, se=True)
    n = len(nd)
    assert_rel(long_to_wide(out, "prob", n), e["prob"], "prob")
    assert_rel(long_to_wide(out, "se", n), e["se_prob"], "se.prob")
    assert_rel(long_to_wide(out, "lower", n), e["lower_prob"], "lower.prob")
    assert_rel(long_to_wide(out, "upper", n), e["upper_prob"], "upper.prob")


@pytest.mark.r_parity
@pytest.mark.parametrize("name,i", emmeans_entries(averaged=False))
def test_predict_se_matches_emmeans(name, i):
    fx = fixture(name)
    e = fx["emmeans"][i]
    cells = frame_from_columns(fx, e["cells"])
    out = _fit(name).predict(cells, se=True, interval="probability")
    K = len(fx["levels"])
    L = as_matrix(e["linfct"])
    g = np.argmax(L, axis=1)
    cell = np.asarray(e["grid_cell"])[g] - 1
    lev = np.array([fx["levels"].index(v) for v in e["grid_level"]])[g]
    rows = cell * K + lev
    s = e["estimates"]
    assert [str(v) for v in out["level"].to_numpy()[rows]] == s["level"]
    for col, ref in (("prob", "prob"), ("se", "se"), ("lower", "lower"), ("upper", "upper")):
        assert_rel(out[col].to_numpy()[rows], s[ref], f"emmeans {ref}")


@pytest.mark.r_parity
@pytest.mark.parametrize("name,i", emmeans_entries(averaged=True))
def test_emmeans_averages_with_own_fit(name, i):
    fx = fixture(name)
    fit = _fit(name)
    est, se = _emmeans_by_jacobian(fx, fx["emmeans"][i], fit._B, fit.vcov().to_numpy())
    assert_rel(est, fx["emmeans"][i]["estimates"]["prob"], "emmean prob")
    assert_rel(se, fx["emmeans"][i]["estimates"]["se"], "emmean SE")


# --------------------------------------------------------------------------- properties
@pytest.fixture(scope="module")
def beps():
    fx = fixture("beps")
    return _fit("beps"), load_fixture_data(fx, fx["direct"]["newdata_csv"])


def test_probabilities_sum_to_one_and_match_se_false(beps):
    fit, nd = beps
    out = fit.predict(nd, se=True)
    P = long_to_wide(out, "prob", len(nd))
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-14)
    np.testing.assert_allclose(P, fit.predict(nd).to_numpy(), rtol=1e-14, atol=0)
    link = fit.predict(nd, se=True, type="link")
    np.testing.assert_allclose(long_to_wide(link, "link", len(nd)),
                               fit.predict(nd, type="link").to_numpy(), rtol=1e-14, atol=1e-15)


def test_se_of_sum_of_probabilities_is_zero(beps):
    fit, nd = beps
    X = fit._design.spec.model_matrix(nd)
    P = fit.predict(nd).to_numpy()
    G = _predict.probability_jacobian(P, X)
    V = fit.vcov().to_numpy()
    g = G.sum(axis=1)  # gradient of sum_k p_k: 0
    assert np.abs(g).max() < 1e-15 * max(1.0, np.abs(X).max())
    var_sum = np.einsum("ri,ij,rj->r", g, V, g)
    se_each = np.sqrt(np.einsum("rki,ij,rkj->rk", G, V, G))
    assert np.all(np.sqrt(np.abs(var_sum)) < 1e-12 * se_each.max())
    # the K SEs are consistent: var(p_k) = var(sum of the others)
    k = 0
    g_others = G[:, 1:].sum(axis=1)
    np.testing.assert_allclose(np.sqrt(np.einsum("ri,ij,rj->r", g_others, V, g_others)),
                               se_each[:, k], rtol=1e-9)


def test_logit_bands_inside_unit_interval(beps):
    fit, nd = beps
    out = fit.predict(nd, se=True, interval="logit")
    assert (out["lower"] > 0).all() and (out["upper"] < 1).all()
    assert (out["lower"] < out["prob"]).all() and (out["prob"] < out["upper"]).all()
    # the symmetric band leaves [0, 1] for the small probabilities of the extrapolated row
    sym = fit.predict(nd, se=True, interval="probability")
    assert (sym["lower"] < 0).any() and (sym["upper"] > 1).any()
    np.testing.assert_allclose(sym["upper"] - sym["prob"], sym["prob"] - sym["lower"], rtol=1e-12)
    z = norm.ppf(0.975)
    np.testing.assert_allclose((sym["upper"] - sym["lower"]) / (2 * z), sym["se"], rtol=1e-12)
    # logit band: symmetric on the logit scale, half-width z * se / (p (1 - p))
    p, se = out["prob"].to_numpy(), out["se"].to_numpy()
    np.testing.assert_allclose(logit(out["upper"]) - logit(p), z * se / (p * (1 - p)), rtol=1e-9)
    np.testing.assert_allclose(logit(p) - logit(out["lower"]), z * se / (p * (1 - p)), rtol=1e-9)


def test_level_sets_band_width(beps):
    fit, nd = beps
    a = fit.predict(nd, se=True, type="link", level=0.95)
    b = fit.predict(nd, se=True, type="link", level=0.8)
    np.testing.assert_allclose((b["upper"] - b["lower"]) / (a["upper"] - a["lower"]),
                               norm.ppf(0.9) / norm.ppf(0.975), rtol=1e-12)
    np.testing.assert_allclose(a["se"], b["se"], rtol=0)


def test_nan_rows_stay_in_place(beps):
    fit, nd = beps
    nd = nd.copy()
    nd.index = [f"r{i}" for i in range(len(nd))]
    nd.loc["r2", "age"] = np.nan
    nd.loc["r5", "gender"] = np.nan
    K = len(fit.levels)
    for type_, value in (("probs", "prob"), ("link", "link")):
        out = fit.predict(nd, se=True, type=type_)
        L = K if type_ == "probs" else K - 1
        assert len(out) == len(nd) * L
        assert list(out["row"]) == list(np.repeat(nd.index.to_numpy(), L))
        miss = out["row"].isin(["r2", "r5"]).to_numpy()
        assert out.loc[miss, [value, "se", "lower", "upper"]].isna().all().all()
        assert out.loc[~miss, [value, "se", "lower", "upper"]].notna().all().all()
        ok = fit.predict(nd.drop(index=["r2", "r5"]), se=True, type=type_)
        np.testing.assert_array_equal(out.loc[~miss, [value, "se", "lower", "upper"]].to_numpy(),
                                      ok[[value, "se", "lower", "upper"]].to_numpy())
        # the missing value is carried back as missing
        assert out.loc[out["row"] == "r2", "age"].isna().all()


def test_vcov_argument_scales_se(beps):
    fit, nd = beps
    V = fit.vcov()
    base = fit.predict(nd, se=True)
    scaled = fit.predict(nd, se=True, vcov=4.0 * V)
    np.testing.assert_allclose(scaled["se"], 2.0 * base["se"], rtol=1e-12)
    np.testing.assert_array_equal(scaled["prob"], base["prob"])
    link = fit.predict(nd, se=True, type="link", vcov=(0.25 * V).to_numpy())
    link0 = fit.predict(nd, se=True, type="link")
    np.testing.assert_allclose(link["se"], 0.5 * link0["se"], rtol=1e-12)
    # a labelled DataFrame is matched by label, not position
    perm = np.random.default_rng(0).permutation(len(V))
    shuffled = V.iloc[perm, perm]
    np.testing.assert_allclose(fit.predict(nd, se=True, vcov=shuffled)["se"], base["se"], rtol=1e-13)
    # the covariance of the kept coefficients only is accepted too
    np.testing.assert_allclose(fit.predict(nd, se=True, vcov=fit._vcov_kept())["se"], base["se"], rtol=1e-13)
    with pytest.raises(DataError, match="vcov has shape"):
        fit.predict(nd, se=True, vcov=np.eye(3))
    with pytest.raises(DataError, match="vcov lacks coefficient"):
        fit.predict(nd, se=True, vcov=V.iloc[1:, 1:])


def test_output_columns_and_order():
    fx = fixture("housing")
    fit = _fit("housing")
    nd = load_fixture_data(fx, fx["direct"]["newdata_csv"]).iloc[[0, 5, 11]]
    nd = nd[["Type", "Cont", "Infl"]].assign(note=["a", "b", "c"])
    out = fit.predict(nd, se=True)
    # row, the formula's columns in newdata's order, level, prob, se, lower, upper
    assert list(out.columns) == ["row", "Type", "Cont", "Infl", "level", "prob", "se", "lower", "upper"]
    K = len(fit.levels)
    assert list(out["row"]) == list(np.repeat(nd.index.to_numpy(), K))
    assert isinstance(out["level"].dtype, pd.CategoricalDtype)
    assert list(out["level"].cat.categories) == list(fit.levels)
    assert list(out["level"]) == list(fit.levels) * len(nd)
    assert list(out["Type"]) == list(np.repeat(nd["Type"].to_numpy(), K))
    assert out["Type"].dtype == nd["Type"].dtype
    out_all = fit.predict(nd, se=True, carry="all")
    assert list(out_all.columns) == ["row", "Type", "Cont", "Infl", "note", "level", "prob", "se",
                                     "lower", "upper"]
    out_none = fit.predict(nd, se=True, carry=None)
    assert list(out_none.columns) == ["row", "level", "prob", "se", "lower", "upper"]
    link = fit.predict(nd, se=True, type="link")
    assert list(link.columns) == ["row", "Type", "Cont", "Infl", "level", "link", "se", "lower", "upper"]
    assert list(link["level"].cat.categories) == list(fit.levels[1:])
    with pytest.raises(ValueError, match="carry must be"):
        fit.predict(nd, se=True, carry="some")


def test_predict_se_on_training_rows():
    fit = _fit("housing")
    out = fit.predict(se=True)
    K = len(fit.levels)
    assert list(out.columns) == ["row", "level", "prob", "se", "lower", "upper"]
    assert len(out) == K * len(fit.fitted)
    np.testing.assert_allclose(long_to_wide(out, "prob", len(fit.fitted)), fit.fitted.to_numpy(),
                               rtol=1e-13)


def test_dates_carried_back_as_dates():
    rng = np.random.default_rng(7)
    dates = pd.date_range("2022-01-01", periods=60, freq="D")
    t = (dates - dates[0]).days.to_numpy()
    df = pd.DataFrame({"date": np.repeat(dates, 30), "site": np.tile(["a", "b", "c"], 600)})
    tt = np.repeat(t, 30)
    eta = np.column_stack([np.zeros(len(df)), -1 + 0.05 * tt, 0.5 - 0.03 * tt])
    P = np.exp(eta) / np.exp(eta).sum(axis=1, keepdims=True)
    u = rng.random(len(df))
    df["y"] = pd.Categorical(np.array(["x", "y", "z"])[(u[:, None] > P.cumsum(axis=1)).sum(axis=1)])
    fit = multinom.multinom("y ~ date + site", df)
    grid = pd.DataFrame({"site": pd.Categorical(["b", "b", "c"]),
                         "date": pd.to_datetime(["2022-01-05", "2022-03-31", "2022-06-30"])})
    out = fit.predict(grid, se=True)
    assert list(out.columns[:3]) == ["row", "site", "date"]
    assert pd.api.types.is_datetime64_any_dtype(out["date"])
    assert list(out["date"]) == list(np.repeat(grid["date"].to_numpy(), 3))
    assert np.isfinite(out[["prob", "se", "lower", "upper"]].to_numpy()).all()


@pytest.mark.parametrize("kwargs,exc,msg", [
    (dict(type="bogus"), ValueError, "type must be one of"),
    (dict(type="probs", interval="bogus"), ValueError, "interval must be one of"),
    (dict(level=1.5), ValueError, "level must be a number strictly between 0 and 1"),
    (dict(level=0), ValueError, "level must be a number strictly between 0 and 1"),
    (dict(level=True), ValueError, "level must be a number strictly between 0 and 1"),
    (dict(level="0.95"), ValueError, "level must be a number strictly between 0 and 1"),
    (dict(type="class"), ValueError, "type='class' has no standard errors"),
])
def test_errors(beps, kwargs, exc, msg):
    fit, nd = beps
    with pytest.raises(exc, match=msg):
        fit.predict(nd, se=True, **kwargs)


def test_low_level_errors():
    X = np.ones((2, 3))
    with pytest.raises(ValueError, match="V has shape"):
        _predict.row_quadratic_forms(X, np.eye(5), 2)
    eta = np.zeros((2, 3))
    with pytest.raises(ValueError, match="interval must be"):
        _predict.prediction_se(X, np.eye(6), eta, interval="wald")
    with pytest.raises(ValueError, match="type must be"):
        _predict.prediction_se(X, np.eye(6), eta, type="class")


# --------------------------------------------------------------------------- algorithms
def _random_case(rng, n, p, J, zero_share):
    X = rng.normal(size=(n, p))
    X[rng.random((n, p)) < zero_share] = 0.0
    A = rng.normal(size=(J * p, J * p))
    V = A @ A.T / (J * p)  # symmetric, but the blocks V_lm (l != m) are not
    return X, V


@pytest.mark.parametrize("n,p,J,zero_share", [
    (200, 6, 3, 0.4),     # few patterns, bit-mask keys
    (3000, 12, 2, 0.5),   # more patterns than the grouping pays for: one dense pass
    (150, 300, 2, 0.99),  # wide and very sparse: padded-index keys
    (50, 5, 4, 0.0),      # dense: one pattern
    (40, 4, 1, 0.3),      # binary
])
def test_row_quadratic_forms_against_brute_force(n, p, J, zero_share):
    rng = np.random.default_rng(n + p)
    X, V = _random_case(rng, n, p, J, zero_share)
    X[3] = 0.0  # a row without non-zeros
    Q_ref = np.einsum("ra,lamb,rb->rlm", X, V.reshape(J, p, J, p), X)
    scale = np.abs(Q_ref).max()
    for Xin in (X, sp.csr_matrix(X), sp.csc_matrix(X)):
        Q = _predict.row_quadratic_forms(Xin, V, J)
        assert np.abs(Q - Q_ref).max() <= 1e-12 * scale
    assert np.all(Q[3] == 0)


def test_row_patterns_vectorised_grouping():
    rng = np.random.default_rng(3)
    X = (rng.random((500, 9)) < 0.3) * rng.normal(size=(500, 9))
    for Xin in (X, sp.csr_matrix(X)):
        order, bounds, columns = _predict.row_patterns(Xin)
        assert sorted(order) == list(range(500))
        seen = set()
        for g, cols in enumerate(columns):
            rows = order[bounds[g]:bounds[g + 1]]
            assert len(rows) > 0 and np.all(np.diff(rows) > 0)  # stable within a pattern
            for r in rows:
                np.testing.assert_array_equal(np.flatnonzero(X[r]), cols)
            key = tuple(cols)
            assert key not in seen
            seen.add(key)
        assert len(seen) == len({tuple(np.flatnonzero(x)) for x in X})
    # padded-index keys (wide, sparse) give the same grouping
    W = sp.random(400, 5000, density=0.0008, random_state=1, format="csr")
    W.data[:] = 1.0
    order, bounds, columns = _predict.row_patterns(W)
    for g, cols in enumerate(columns):
        for r in order[bounds[g]:bounds[g + 1]]:
            np.testing.assert_array_equal(W[r].indices if W[r].nnz else [], cols)
    assert _predict.row_patterns(np.zeros((0, 3)))[0].size == 0


def test_probability_se_and_jacobian_against_brute_force():
    rng = np.random.default_rng(11)
    n, p, J = 40, 5, 4
    X, V = _random_case(rng, n, p, J, 0.2)
    B = rng.normal(size=(J, p))
    eta = eta_of(X, B)
    P = np.exp(eta) / np.exp(eta).sum(axis=1, keepdims=True)
    # Jacobian by central differences of the softmax
    G = _predict.probability_jacobian(P, X)
    h = 1e-6
    theta = B.ravel()
    for j in range(0, J * p, 3):
        e = np.zeros(J * p)
        e[j] = h
        up = eta_of(X, (theta + e).reshape(J, p))
        dn = eta_of(X, (theta - e).reshape(J, p))
        fd = (np.exp(up) / np.exp(up).sum(1, keepdims=True)
              - np.exp(dn) / np.exp(dn).sum(1, keepdims=True)) / (2 * h)
        np.testing.assert_allclose(G[:, :, j], fd, atol=1e-9)
    se_ref = np.sqrt(np.einsum("rki,ij,rkj->rk", G, V, G))
    res = _predict.prediction_se(X, V, eta)
    np.testing.assert_allclose(res["se"], se_ref, rtol=1e-10)
    np.testing.assert_allclose(res["se_logit"], se_ref / (P * (1 - P)), rtol=1e-10)
    Q = _predict.row_quadratic_forms(X, V, J)
    np.testing.assert_allclose(_predict.probability_se(P, Q), se_ref, rtol=1e-10)
    lo, hi = _predict.bands(P, se_ref, norm.ppf(0.975), "logit")
    np.testing.assert_allclose(lo, res["lower"], rtol=1e-10)
    np.testing.assert_allclose(hi, res["upper"], rtol=1e-10)


def test_extreme_probabilities_are_stable():
    """Tiny and near-1 probabilities: finite logit SEs and bands, continuous in the limit."""
    rng = np.random.default_rng(5)
    p, J = 3, 2
    X, V = _random_case(rng, 4, p, J, 0.0)
    X[:, 0] = 1.0
    B = rng.normal(size=(J, p)) * 0.3
    res = {}
    for shift in (300.0, 600.0, 900.0):  # exp(-900) underflows to 0
        Bs = B.copy()
        Bs[0, 0] -= shift  # level 1 becomes (extremely) rare
        r = _predict.prediction_se(X, V, eta_of(X, Bs))
        for key in ("se_logit", "lower", "upper", "logit"):
            assert np.isfinite(r[key]).all(), key
        assert np.all(r["lower"] <= r["estimate"]) and np.all(r["estimate"] <= r["upper"])
        res[shift] = r
    # as p_1 -> 0 its logit SE tends to a limit (no division by p)
    np.testing.assert_allclose(res[600.0]["se_logit"][:, 1], res[300.0]["se_logit"][:, 1], rtol=1e-12)
    np.testing.assert_allclose(res[900.0]["se_logit"][:, 1], res[300.0]["se_logit"][:, 1], rtol=1e-12)
    np.testing.assert_allclose(res[900.0]["logit"][:, 1] - res[600.0]["logit"][:, 1], -300.0, rtol=1e-12)
    # a level with probability 1 - 1e-13: its logit SE comes from the others, not from 1 - p
    Bs = B.copy()
    Bs[1, 0] += 30.0
    r = _predict.prediction_se(X, V, eta_of(X, Bs))
    P = r["estimate"]
    assert np.all(P[:, 2] > 1 - 1e-11)
    c = P[:, 0] + P[:, 1]  # 1 - p_2 without cancellation
    # gradient of logit(p_2) = (e_2 - p) (x) x / (1 - p_2), non-baseline levels 1, 2
    b = np.column_stack([-P[:, 1] / c, np.ones(len(c))])
    g = (b[:, :, None] * X[:, None, :]).reshape(len(c), J * p)
    np.testing.assert_allclose(r["se_logit"][:, 2], np.sqrt(np.einsum("ri,ij,rj->r", g, V, g)), rtol=1e-12)
    np.testing.assert_allclose(r["logit"][:, 2], np.log(P[:, 2]) - np.log(c), rtol=1e-12)
    assert np.all(expit(r["logit"][:, 2]) == P[:, 2])
