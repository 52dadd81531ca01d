"""Parity of multinom.multinom with R's nnet::multinom on the core fixtures.

The reference values are written by ``Rscript tests/r/make_fixtures_core.R``
into ``tests/fixtures/`` (schema in ``tests/fixtures/README.md``); R is not
needed to run these tests. The stored coefficients are nnet's fits polished
with Newton steps to the exact MLE (nnet's BFGS alone is only accurate to
about 1e-7..1e-6 relative; its raw result is kept as ``coef_nnet``).

Tolerances (from the project brief):

* coefficients: 1e-6 relative; entries smaller than 1e-3 of the largest |coef|
  are compared absolutely at 1e-6 * max|coef| (plus z values at 1e-5, which
  also covers coefficients of badly scaled predictors);
* deviance, log-likelihood, AIC: 1e-9 relative;
* fitted and predicted probabilities: 1e-7 absolute;
* standard errors: 1e-5 relative;
* information / vcov: 1e-6 relative, entry (i, j) relative to
  sqrt(H_ii * H_jj) (invariant to rescaling a predictor);
* ``multinom.information_matrix`` on the stored inputs: 1e-10 (same metric).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
import pytest

from _fixtures import (CORE_CASES, INFORMATION_CASES, as_matrix, load_fixture,
                       load_fixture_data, load_predict_newdata)

pytestmark = pytest.mark.r_parity

PREDICT_CASES = tuple(n for n in CORE_CASES if "predict_newdata_csv" in load_fixture(n))


# --------------------------------------------------------------------------- helpers
def _multinom():
    return pytest.importorskip("multinom")


@lru_cache(maxsize=None)
def _fit_cached(name: str):
    mn = _multinom()
    fx = load_fixture(name)
    data = load_fixture_data(fx)
    return mn.multinom(fx["python_formula"], data, **fx["python"])


def fit_case(name: str):
    """(fixture, fit) for a case; the fit is computed once per session."""
    return load_fixture(name), _fit_cached(name)


def close_rule(actual, expected, rtol: float, floor: float = 1e-3):
    """Boolean mask of entries violating the coefficient rule (see module doc)."""
    a = np.asarray(actual, dtype=float)
    e = np.asarray(expected, dtype=float)
    assert a.shape == e.shape, f"shape {a.shape} != R's {e.shape}"
    scale = np.max(np.abs(e))
    tol = np.where(np.abs(e) >= floor * scale, rtol * np.abs(e), rtol * scale)
    return ~(np.abs(a - e) <= tol)


def assert_close_rule(actual, expected, rtol: float, what: str, floor: float = 1e-3):
    bad = close_rule(actual, expected, rtol, floor)
    if bad.any():
        a = np.asarray(actual, dtype=float)
        e = np.asarray(expected, dtype=float)
        idx = np.argwhere(bad)[:5]
        detail = "; ".join(f"{tuple(i)}: {a[tuple(i)]!r} vs R {e[tuple(i)]!r}" for i in idx)
        pytest.fail(f"{what}: {bad.sum()} of {bad.size} entries differ from R beyond "
                    f"rtol={rtol:g}: {detail}")


def sym_rel_err(actual, expected) -> float:
    """max_ij |a_ij - e_ij| / sqrt(e_ii e_jj) for symmetric PD matrices."""
    a = np.asarray(actual, dtype=float)
    e = np.asarray(expected, dtype=float)
    assert a.shape == e.shape, f"shape {a.shape} != R's {e.shape}"
    d = np.sqrt(np.abs(np.diag(e)))
    return float(np.max(np.abs(a - e) / np.outer(d, d)))


def rel_err(actual, expected) -> float:
    a = np.asarray(actual, dtype=float)
    e = np.asarray(expected, dtype=float)
    assert a.shape == e.shape, f"shape {a.shape} != R's {e.shape}"
    return float(np.max(np.abs(a - e) / np.abs(e)))


def scalar_rel_err(actual, expected) -> float:
    return abs(float(actual) - float(expected)) / abs(float(expected))


def level_major(coef) -> np.ndarray:
    """fit.coef (DataFrame levels x terms, or Series) as nnet's level-major vector."""
    return np.asarray(coef, dtype=float).ravel()


def labels(index) -> list[str]:
    return [str(x) for x in index]


def candidates(fx: dict, key: str, penalised_key: str) -> dict:
    """R reference(s) a quantity may match: for a decay fit the convention
    (penalised or not) is the package's choice; nnet itself reports the
    penalised deviance and the unpenalised Hessian."""
    out = {key: fx[key]}
    if fx.get("decay", 0) > 0 and penalised_key in fx:
        out[penalised_key] = fx[penalised_key]
    return out


# --------------------------------------------------------------------------- fixture self-checks (no package needed)
def test_fixture_files_present():
    for name in CORE_CASES + INFORMATION_CASES:
        fx = load_fixture(name)
        assert fx["name"] == name
        assert fx["provenance"]["nnet"]


@pytest.mark.parametrize("name", CORE_CASES)
def test_fixture_internal_consistency(name):
    fx = load_fixture(name)
    K = len(fx["levels"])
    p = len(fx["coef_names"])
    coef = as_matrix(fx["coef"])
    assert coef.shape == ((p,) if fx["binary"] else (K - 1, p))
    H = as_matrix(fx["hessian"])
    assert H.shape == ((K - 1) * p, (K - 1) * p)
    assert np.allclose(H, H.T, rtol=0, atol=1e-12 * np.abs(H).max())
    if fx["binary"]:
        assert fx["hessian_names"] == fx["coef_names"]
    else:  # nnet's level-major order
        assert fx["hessian_names"] == [f"{lev}:{t}" for lev in fx["levels"][1:]
                                       for t in fx["coef_names"]]
    fitted = as_matrix(fx["fitted"])
    assert fitted.shape == (fx["nobs_used"], K)
    np.testing.assert_allclose(fitted.sum(axis=1), 1.0, atol=1e-12)
    assert len(fx["rows_used"]) == fx["nobs_used"]
    se = np.asarray(fx["se"])
    np.testing.assert_allclose(se, np.sqrt(np.diag(as_matrix(fx["vcov"]))), rtol=1e-12)
    np.testing.assert_allclose(fx["z"], level_major(coef) / se, rtol=1e-12)
    assert fx["loglik"] == pytest.approx(-fx["deviance"] / 2, rel=1e-14)
    assert fx["AIC"] == pytest.approx(fx["deviance"] + 2 * fx["edf"], rel=1e-14)
    # the stored coefficients are polished; nnet's own are close to them
    assert fx["convergence"]["polished_newton_step_max_rel"] < 1e-11
    assert not close_rule(as_matrix(fx["coef_nnet"]), coef, 1e-5).any()


def test_fixture_housing_equals_counts():
    a, b = load_fixture("housing"), load_fixture("housing_counts")
    assert a["coef_names"] == b["coef_names"] and a["levels"] == b["levels"]
    assert rel_err(as_matrix(b["coef"]), as_matrix(a["coef"])) < 1e-10
    assert b["deviance"] == pytest.approx(a["deviance"], rel=1e-12)
    assert b["nobs_loglik"] == a["nobs_loglik"] == 1681
    assert sym_rel_err(b["hessian"], a["hessian"]) < 1e-12


def test_fixture_weights_equal_duplication():
    a, b = load_fixture("weights_int"), load_fixture("weights_dup")
    assert rel_err(as_matrix(b["coef"]), as_matrix(a["coef"])) < 1e-10
    assert b["deviance"] == pytest.approx(a["deviance"], rel=1e-12)
    assert rel_err(b["se"], a["se"]) < 1e-10
    assert b["nobs_used"] == sum(a["weights_used"]) != a["nobs_used"]


def test_fixture_nnet_summary_se_wrong_when_badly_scaled():
    fx = load_fixture("badly_scaled")
    assert rel_err(fx["se_nnet_summary"], fx["se"]) > 0.5
    for name in ("housing", "beps", "binary"):
        f = load_fixture(name)
        assert rel_err(f["se_nnet_summary"], f["se"]) < 1e-8


@pytest.mark.parametrize("name", INFORMATION_CASES)
def test_fixture_information_inputs_match_source(name):
    fx = load_fixture(name)
    src = load_fixture(fx["source_fixture"])
    assert fx["hessian_names"] == src["hessian_names"]
    assert sym_rel_err(fx["hessian"], src["hessian"]) < 1e-12
    np.testing.assert_allclose(np.asarray(fx["row_totals"]), np.asarray(src["weights_used"]))


# --------------------------------------------------------------------------- the package vs R
@pytest.mark.parametrize("name", CORE_CASES)
def test_levels_and_coef_names(name):
    fx, fit = fit_case(name)
    assert labels(fit.levels) == fx["levels"]
    if fx["binary"]:
        assert isinstance(fit.coef, pd.Series), "binary coef should be a Series (as nnet's vector)"
        assert labels(fit.coef.index) == fx["coef_names"]
    else:
        assert isinstance(fit.coef, pd.DataFrame)
        assert labels(fit.coef.index) == fx["levels"][1:]
        assert labels(fit.coef.columns) == fx["coef_names"]


@pytest.mark.parametrize("name", CORE_CASES)
def test_coef(name):
    fx, fit = fit_case(name)
    assert_close_rule(np.asarray(fit.coef, dtype=float), as_matrix(fx["coef"]), 1e-6,
                      f"{name}: coef")


@pytest.mark.parametrize("name", CORE_CASES)
def test_deviance_loglik_aic_edf(name):
    fx, fit = fit_case(name)
    assert float(fit.edf) == fx["edf"]
    refs = candidates(fx, "deviance", "deviance_unpenalised")
    errs = {k: scalar_rel_err(fit.deviance, v) for k, v in refs.items()}
    assert min(errs.values()) < 1e-9, f"{name}: deviance {fit.deviance!r} vs R {refs} ({errs})"
    # loglik and AIC follow the same convention as the deviance
    dev_ref = refs[min(errs, key=errs.get)]
    assert scalar_rel_err(fit.loglik, -dev_ref / 2) < 1e-9
    assert scalar_rel_err(fit.aic, dev_ref + 2 * fx["edf"]) < 1e-9
    if fx["decay"] == 0:
        assert scalar_rel_err(fit.loglik, fx["loglik"]) < 1e-9
        assert scalar_rel_err(fit.aic, fx["AIC"]) < 1e-9


@pytest.mark.parametrize("name", CORE_CASES)
def test_nobs_and_dropped(name):
    fx, fit = fit_case(name)
    assert fit.fitted.shape[0] == fx["nobs_used"]
    # R's logLik(fit) nobs: sum of the weights (times the row totals of a count matrix)
    assert float(fit.nobs) == pytest.approx(fx["nobs_loglik"], rel=1e-12)
    # rows of the subset dropped for NA (R: length(fit$na.action))
    assert fit.n_dropped == fx["n_dropped_na"]


@pytest.mark.parametrize("name", CORE_CASES)
def test_fitted(name):
    fx, fit = fit_case(name)
    assert isinstance(fit.fitted, pd.DataFrame)
    assert labels(fit.fitted.columns) == fx["levels"]
    F = fit.fitted.to_numpy(dtype=float)
    R = as_matrix(fx["fitted"])
    assert F.shape == R.shape
    err = np.max(np.abs(F - R))
    assert err < 1e-7, f"{name}: fitted probabilities differ from R by {err:.3g}"


def test_na_subset_rows_used():
    fx, fit = fit_case("na_subset")
    idx = fit.fitted.index
    if not idx.equals(pd.RangeIndex(fx["nobs_used"])):
        # indexed like the data: the rows R used (0-based here)
        assert list(idx) == [r - 1 for r in fx["rows_used"]]
    assert fit.n_dropped == fx["n_dropped_na"]


@pytest.mark.parametrize("name", CORE_CASES)
def test_information(name):
    fx, fit = fit_case(name)
    info = fit.information()
    assert labels(info.index) == fx["hessian_names"]
    assert labels(info.columns) == fx["hessian_names"]
    refs = candidates(fx, "hessian", "hessian_penalised")
    errs = {k: sym_rel_err(info.to_numpy(dtype=float), v) for k, v in refs.items()}
    assert min(errs.values()) < 1e-6, f"{name}: information vs R's multinomHess: {errs}"


@pytest.mark.parametrize("name", CORE_CASES)
def test_vcov_and_se(name):
    fx, fit = fit_case(name)
    V = fit.vcov()
    assert labels(V.index) == fx["hessian_names"]
    assert labels(V.columns) == fx["hessian_names"]
    se = np.sqrt(np.diag(V.to_numpy(dtype=float)))
    refs = candidates(fx, "se", "se_penalised")
    errs = {k: rel_err(se, v) for k, v in refs.items()}
    best = min(errs, key=errs.get)
    assert errs[best] < 1e-5, f"{name}: standard errors vs R's solve(multinomHess): {errs}"
    if best == "se":
        assert sym_rel_err(V.to_numpy(dtype=float), fx["vcov"]) < 1e-5


@pytest.mark.parametrize("name", CORE_CASES)
def test_z_values(name):
    fx, fit = fit_case(name)
    se = np.sqrt(np.diag(fit.vcov().to_numpy(dtype=float)))
    z = level_major(fit.coef) / se
    if fx["decay"] > 0 and rel_err(se, fx["se_penalised"]) < rel_err(se, fx["se"]):
        expected = level_major(as_matrix(fx["coef"])) / np.asarray(fx["se_penalised"])
    else:
        expected = np.asarray(fx["z"])
    assert_close_rule(z, expected, 1e-5, f"{name}: z values")


def test_badly_scaled_se_not_ginv():
    """summary.multinom's ginv-based SEs are wrong here; ours must match solve()."""
    fx, fit = fit_case("badly_scaled")
    se = np.sqrt(np.diag(fit.vcov().to_numpy(dtype=float)))
    assert rel_err(se, fx["se"]) < 1e-5
    assert rel_err(se, fx["se_nnet_summary"]) > 0.5


@pytest.mark.parametrize("name", PREDICT_CASES)
def test_predict_probs(name):
    fx, fit = fit_case(name)
    newdata = load_predict_newdata(fx)
    P = fit.predict(newdata, type="probs")
    assert isinstance(P, pd.DataFrame)
    assert labels(P.columns) == fx["levels"]
    R = as_matrix(fx["predict_probs"])  # offset cases: correct values, offset included
    assert P.shape == R.shape
    err = np.max(np.abs(P.to_numpy(dtype=float) - R))
    assert err < 1e-7, f"{name}: predicted probabilities differ from R by {err:.3g}"


def test_equivalence_counts_vs_weights_python():
    _, a = fit_case("housing")
    _, b = fit_case("housing_counts")
    assert_close_rule(np.asarray(b.coef, float), np.asarray(a.coef, float), 1e-7,
                      "housing_counts vs housing")
    assert scalar_rel_err(b.deviance, a.deviance) < 1e-10
    assert float(b.nobs) == pytest.approx(float(a.nobs))


def test_equivalence_weights_vs_duplication_python():
    _, a = fit_case("weights_int")
    _, b = fit_case("weights_dup")
    assert_close_rule(np.asarray(b.coef, float), np.asarray(a.coef, float), 1e-7,
                      "weights_dup vs weights_int")
    assert scalar_rel_err(b.deviance, a.deviance) < 1e-10
    se_a = np.sqrt(np.diag(a.vcov().to_numpy(dtype=float)))
    se_b = np.sqrt(np.diag(b.vcov().to_numpy(dtype=float)))
    assert rel_err(se_b, se_a) < 1e-6


@pytest.mark.parametrize("name", INFORMATION_CASES)
def test_information_matrix_function(name):
    mn = _multinom()
    fx = load_fixture(name)
    Z = as_matrix(fx["Z"])
    probs = as_matrix(fx["probs"])
    row_totals = np.asarray(fx["row_totals"], dtype=float)
    H = np.asarray(mn.information_matrix(probs, Z, row_totals), dtype=float)
    err = sym_rel_err(H, fx["hessian"])
    assert err < 1e-10, f"{name}: information_matrix vs nnet:::multinomHess: {err:.3g}"
