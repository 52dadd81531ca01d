"""nnet's ``censored = TRUE``: a 1 marks each class a row may belong to.

Reference: tests/r/make_fixtures_censored.R (nnet 7.3-18, polished with Newton
steps on the censored log-likelihood written out in R).
"""

import numpy as np
import pandas as pd
import pytest
from _fixtures import load_fixture

import multinom as mn
from multinom._likelihood import objective_censored
from multinom.exceptions import DataError

FX = load_fixture("censored")


@pytest.fixture(scope="module")
def data():
    d = pd.read_csv(__import__("pathlib").Path(__file__).parent / "fixtures" / "data" / FX["data_csv"])
    return d


@pytest.fixture(scope="module")
def fit(data):
    return mn.multinom(FX["formula"], data, **FX["python"])


@pytest.mark.r_parity
def test_censored_matches_r(fit):
    ref = np.asarray(FX["coef"])
    got = fit.coef.to_numpy()
    assert list(fit.coef.columns) == FX["coef_names"]
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-6 * np.abs(ref).max())
    assert fit.deviance == pytest.approx(FX["deviance"], rel=1e-9)
    assert fit.converged


@pytest.mark.r_parity
def test_censored_standard_errors_from_observed_information(fit):
    # R's Hessian is optimHess (finite differences of the analytic gradient): ~1e-7 accurate
    np.testing.assert_allclose(fit.std_errors().to_numpy(), FX["se"], rtol=1e-5)


def test_censored_gradient_matches_finite_differences(fit, data):
    d = fit._design
    B = fit._B.copy()
    f0, G, _, _ = objective_censored(B, d.Z, d.Y, None)
    h = 1e-6
    num = np.zeros_like(B)
    for j in range(B.shape[0]):
        for k in range(B.shape[1]):
            E = np.zeros_like(B)
            E[j, k] = h
            num[j, k] = (objective_censored(B + E, d.Z, d.Y, None)[0]
                         - objective_censored(B - E, d.Z, d.Y, None)[0]) / (2 * h)
    np.testing.assert_allclose(G, num, atol=1e-5)


def test_censored_with_single_classes_equals_ordinary_fit(data):
    # rows with exactly one possible class: the censored likelihood is the ordinary one
    one = data[data[["a", "b", "c"]].sum(axis=1) == 1]
    a = mn.multinom("cbind(a, b, c) ~ x + g", one, weights="w", censored=True)
    b = mn.multinom("cbind(a, b, c) ~ x + g", one, weights="w")
    np.testing.assert_allclose(a.coef.to_numpy(), b.coef.to_numpy(), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(a.std_errors().to_numpy(), b.std_errors().to_numpy(), rtol=1e-6)
    assert a.deviance == pytest.approx(b.deviance, rel=1e-10)


def test_censored_rejects_counts(data):
    bad = data.assign(a=data["a"] * 2)
    with pytest.raises(DataError, match=r"column .a. has 2 at row 2 \(counts are not allowed\)"):
        mn.multinom("cbind(a, b, c) ~ x + g", bad, censored=True)


def test_censored_needs_count_matrix():
    d = pd.DataFrame({"y": list("abcabc"), "x": np.arange(6.0)})
    with pytest.raises(DataError, match="censored=True needs a count-matrix response"):
        mn.multinom("y ~ x", d, censored=True)


def test_censored_robust_vcov_refused(fit):
    with pytest.raises(ValueError, match="not available for censored fits"):
        fit.vcov(type="sandwich")
