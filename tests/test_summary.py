"""summary(), confint() and vcov() labels: Wald z and p as broom/Stata compute them.

References: the R fixtures of tests/r/make_fixtures_core.R store
``z = coef / sqrt(diag(solve(multinomHess)))`` and ``p = 2 * pnorm(-|z|)``.
"""

import numpy as np
import pandas as pd
import pytest
from _fixtures import load_fixture, load_fixture_data
from scipy.stats import norm

import multinom as mn
from multinom.summary import significance_stars


def _fit(name):
    fx = load_fixture(name)
    data = load_fixture_data(fx)
    return fx, mn.multinom(fx["python_formula"], data, **fx["python"])


@pytest.fixture(scope="module")
def beps():
    return _fit("beps")


@pytest.fixture(scope="module")
def binary():
    return _fit("binary")


@pytest.mark.r_parity
@pytest.mark.parametrize("name", ["beps", "binary", "housing", "weights_sim"])
def test_summary_table_matches_r_wald(name):
    fx, fit = _fit(name)
    t = fit.summary().table
    np.testing.assert_allclose(t["z"].to_numpy(), np.ravel(fx["z"]), rtol=1e-5, atol=1e-8)
    p_ref = np.ravel(fx["p_value"])
    np.testing.assert_allclose(t["p_value"].to_numpy(), p_ref, rtol=1e-4, atol=1e-12)
    np.testing.assert_allclose(t["std_error"].to_numpy(), np.ravel(fx["se"]), rtol=1e-5)


def test_summary_table_layout(beps):
    fx, fit = beps
    t = fit.summary().table
    assert list(t.columns) == ["estimate", "std_error", "z", "p_value", "2.5 %", "97.5 %"]
    assert list(t.index) == fit.coef_names == list(fit.vcov().index)
    assert t.index[0] == f"{fit.levels[1]}:(Intercept)"
    # p = 2 * (1 - Phi(|z|)), exactly
    np.testing.assert_allclose(t["p_value"], 2 * norm.sf(np.abs(t["z"])), rtol=1e-12)


def test_binary_labels_are_plain_terms(binary):
    fx, fit = binary
    assert isinstance(fit.coef, pd.Series)
    assert list(fit.vcov().index) == list(fit.terms) == fx["coef_names"]


@pytest.mark.parametrize("level, cols", [(0.95, ["2.5 %", "97.5 %"]), (0.9, ["5 %", "95 %"]),
                                         (0.99, ["0.5 %", "99.5 %"])])
def test_confint_columns_and_values(beps, level, cols):
    _, fit = beps
    ci = fit.confint(level=level)
    assert list(ci.columns) == cols
    z = norm.ppf(0.5 + level / 2)
    est = fit.summary().table["estimate"].to_numpy()
    se = fit.std_errors().to_numpy()
    np.testing.assert_allclose(ci[cols[0]].to_numpy(), est - z * se, rtol=1e-12)
    np.testing.assert_allclose(ci[cols[1]].to_numpy(), est + z * se, rtol=1e-12)


def test_summary_print_has_one_block_per_level_and_stars(beps):
    _, fit = beps
    text = repr(fit.summary())
    for lev in fit.levels[1:]:
        assert f"Level {lev} vs {fit.baseline}:" in text
    assert "Signif. codes" in text and "Residual Deviance" in text and "AIC" in text
    assert "converged" in text
    # the age effect on Labour vs Conservative is strongly significant in BEPS
    assert "***" in text


def test_significance_stars_cutoffs():
    stars = significance_stars([0.0005, 0.005, 0.02, 0.07, 0.5])
    assert list(stars) == ["***", "**", "*", ".", ""]


def test_vcov_is_symmetric_inverse_of_information(beps):
    _, fit = beps
    V = fit.vcov().to_numpy()
    H = fit.information().to_numpy()
    np.testing.assert_allclose(V, V.T, atol=0)
    np.testing.assert_allclose(V @ H, np.eye(len(V)), atol=1e-8)
