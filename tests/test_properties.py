"""Property-based tests (hypothesis): invariants that must hold on any small problem.

* the analytic gradient of :func:`multinom._likelihood.objective` equals a
  finite-difference gradient;
* :func:`multinom.information_matrix` (dense and sparse paths) equals a
  finite-difference Hessian of the penalised negative log-likelihood;
* duplicating rows equals doubling their weights; permuting rows changes
  nothing; the long format with count weights equals the count-matrix format;
* changing the baseline leaves fitted probabilities unchanged and maps the
  coefficients exactly (``beta_k - beta_b``);
* predicted probabilities lie in [0, 1] and sum to 1, however far out the
  new data are.

Examples are drawn deterministically (``derandomize=True``) so that the shared
suite is reproducible; each test stays within a few seconds.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import multinom as mn  # noqa: E402
from multinom._likelihood import objective  # noqa: E402




FAST = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
FITS = settings(max_examples=15, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

LEVELS = ["L0", "L1", "L2", "L3"]


# --------------------------------------------------------------------------- problems
@st.composite
def arrays(draw):
    """Raw (B, Z, Y, offset, decay) for the likelihood: a random design, counts with zero rows."""
    seed = draw(st.integers(0, 2**32 - 1))
    n = draw(st.integers(3, 25))
    K = draw(st.integers(2, 4))
    p = draw(st.integers(1, 5))
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, p)) * rng.choice([0.1, 1.0, 5.0], size=p)
    Z[rng.random((n, p)) < 0.3] = 0.0  # some sparsity, for the sparse information path
    Y = rng.poisson(2.0, size=(n, K)).astype(float) * rng.choice([0.5, 1.0, 3.0], size=(n, 1))
    Y[0] = 0.0  # a row without observations
    B = rng.normal(size=(K - 1, p))
    offset = rng.normal(size=(n, K)) if draw(st.booleans()) else None
    decay = draw(st.sampled_from([0.0, 0.0, 0.1, 2.0]))
    return B, Z, Y, offset, decay


@st.composite
def datasets(draw, max_levels=4):
    """A data frame ``y ~ x + g`` with every (level, g) cell observed (no separation)."""
    seed = draw(st.integers(0, 2**32 - 1))
    n = draw(st.integers(40, 120))
    K = draw(st.integers(2, max_levels))
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    g = rng.choice(["u", "v"], n)
    beta = rng.uniform(-1, 1, size=(K - 1, 3))
    eta = np.column_stack([np.zeros(n)] + [b[0] + b[1] * x + b[2] * (g == "v") for b in beta])
    P = np.exp(eta - eta.max(1, keepdims=True))
    P /= P.sum(1, keepdims=True)
    y = np.array([rng.choice(K, p=p) for p in P])
    # one extra row in each (level, g) cell: no level is absent from a group
    cells = [(k, gg) for k in range(K) for gg in ("u", "v")]
    y = np.concatenate([y, [k for k, _ in cells]])
    g = np.concatenate([g, [gg for _, gg in cells]])
    x = np.concatenate([x, rng.normal(size=len(cells))])
    w = rng.integers(1, 4, size=len(y)).astype(float)
    df = pd.DataFrame({"y": np.array(LEVELS)[y], "x": x, "g": g, "w": w})
    return df, rng


def _fit(formula, data, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error", mn.ConvergenceWarning)
        return mn.multinom(formula, data, **kwargs)


def _ok(fit):
    return fit.converged and not fit.diverging


def _close(a, b, rtol=1e-6, atol=1e-8):
    np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=rtol, atol=atol)


def _same_coef(fit_a, fit_b):
    """Coefficients equal to 1e-6 relative or 1e-5 standard errors.

    Both fits stop at an estimated relative gap of tol = 1e-10 in the
    log-likelihood, which bounds coefficient differences in standard-error
    units, not relative to the coefficient (a coefficient near 0 can differ
    by 1e-8 between two equally converged fits).
    """
    a, b = np.asarray(fit_a._B), np.asarray(fit_b._B)
    se = fit_b.std_errors().to_numpy().reshape(b.shape)
    assert np.all(np.abs(a - b) <= 1e-6 * np.abs(b) + 1e-5 * se), (a, b, se)


# ---------------------------------------------------------------- derivatives
def _fd_gradient(fun, B, h=1e-6):
    G = np.zeros_like(B)
    for idx in np.ndindex(B.shape):
        step = h * max(1.0, abs(B[idx]))
        E = np.zeros_like(B)
        E[idx] = step
        G[idx] = (fun(B + E) - fun(B - E)) / (2 * step)
    return G


@FAST
@given(arrays())
def test_gradient_equals_finite_differences(problem):
    B, Z, Y, offset, decay = problem
    f, G, P = objective(B, Z, Y, offset, decay)
    assert np.isfinite(f) and np.all(np.isfinite(G))
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    G_fd = _fd_gradient(lambda b: objective(b, Z, Y, offset, decay)[0], B)
    scale = max(1.0, np.abs(G).max())
    np.testing.assert_allclose(G, G_fd, rtol=1e-5, atol=1e-6 * scale)
    # the sparse model matrix gives the same objective and gradient
    f_s, G_s, _ = objective(B, sp.csr_matrix(Z), Y, offset, decay)
    assert f_s == pytest.approx(f, rel=1e-12, abs=1e-12)
    np.testing.assert_allclose(G_s, G, rtol=1e-10, atol=1e-12 * scale)


@FAST
@given(arrays(), st.sampled_from(["dense", "sparse", "auto"]), st.booleans())
def test_information_equals_finite_difference_hessian(problem, method, sparse_input):
    B, Z, Y, offset, decay = problem
    J, p = B.shape
    _, _, P = objective(B, Z, Y, offset, decay)
    Zin = sp.csr_matrix(Z) if sparse_input else Z
    H = mn.information_matrix(P[:, 1:], Zin, Y.sum(axis=1), decay=decay, method=method)
    H = H.toarray() if sp.issparse(H) else np.asarray(H)
    assert H.shape == (J * p, J * p)
    np.testing.assert_allclose(H, H.T, atol=1e-12 * max(1.0, np.abs(H).max()))

    def grad(theta):
        return objective(theta.reshape(J, p), Z, Y, offset, decay)[1].ravel()

    theta = B.ravel()
    H_fd = np.zeros_like(H)
    for i in range(J * p):
        step = 1e-6 * max(1.0, abs(theta[i]))
        e = np.zeros_like(theta)
        e[i] = step
        H_fd[:, i] = (grad(theta + e) - grad(theta - e)) / (2 * step)
    scale = max(1.0, np.abs(H).max())
    np.testing.assert_allclose(H, H_fd, rtol=1e-5, atol=1e-6 * scale)
    # positive semi-definite (positive definite with a penalty)
    assert np.linalg.eigvalsh(H).min() >= -1e-9 * scale + (2 * decay * 0.999 if decay else 0.0)


# ------------------------------------------------------------------ invariances
@FITS
@given(datasets())
def test_duplicating_rows_equals_doubling_weights(problem):
    df, rng = problem
    dup = rng.random(len(df)) < 0.3
    doubled = _fit("y ~ x + g", df, weights=df.w * np.where(dup, 2.0, 1.0))
    assume(_ok(doubled))
    duplicated = _fit("y ~ x + g", pd.concat([df, df[dup]], ignore_index=True), weights="w")
    _same_coef(duplicated, doubled)
    _close(duplicated.std_errors(), doubled.std_errors())
    assert duplicated.loglik == pytest.approx(doubled.loglik, rel=1e-9)
    assert duplicated.nobs == pytest.approx(doubled.nobs)
    assert duplicated.edf == doubled.edf


@FITS
@given(datasets())
def test_permuting_rows_changes_nothing(problem):
    df, rng = problem
    fit = _fit("y ~ x + g", df, weights="w")
    assume(_ok(fit))
    perm = df.iloc[rng.permutation(len(df))]
    fit_p = _fit("y ~ x + g", perm, weights="w")
    _same_coef(fit_p, fit)
    _close(fit_p.std_errors(), fit.std_errors())
    assert fit_p.loglik == pytest.approx(fit.loglik, rel=1e-10)
    _close(fit_p.fitted.loc[df.index], fit.fitted, atol=1e-9)
    assert list(fit_p.fitted.index) == list(perm.index)


@FITS
@given(st.integers(0, 2**32 - 1), st.integers(2, 4), st.integers(6, 20))
def test_long_format_with_count_weights_equals_count_matrix(seed, K, n_patterns):
    rng = np.random.default_rng(seed)
    levels = LEVELS[:K]
    wide = pd.DataFrame({"x": rng.normal(size=n_patterns), "g": np.resize(["u", "v"], n_patterns)})
    counts = rng.poisson(3.0, size=(n_patterns, K)).astype(float)
    counts[0] += 1.0  # every level observed
    counts[rng.integers(n_patterns)] = 0.0  # a pattern without observations
    for k, lev in enumerate(levels):
        wide[lev] = counts[:, k]
    long = wide.melt(id_vars=["x", "g"], value_vars=levels, var_name="y", value_name="count")
    long = long[long["count"] > 0]
    fit_cm = _fit(f"cbind({', '.join(levels)}) ~ x + g", wide)
    assume(_ok(fit_cm))
    fit_long = _fit("y ~ x + g", long, weights="count")
    assert fit_long.levels == fit_cm.levels == levels
    _same_coef(fit_long, fit_cm)
    _close(fit_long.std_errors(), fit_cm.std_errors())
    assert fit_long.loglik == pytest.approx(fit_cm.loglik, rel=1e-9)
    assert fit_long.nobs == pytest.approx(fit_cm.nobs)
    assert fit_long.aic == pytest.approx(fit_cm.aic, rel=1e-9)


@FITS
@given(datasets(), st.integers(1, 3))
def test_changing_the_baseline(problem, which):
    df, _ = problem
    fit = _fit("y ~ x + g", df, weights="w")
    assume(_ok(fit))
    b = fit.levels[which % len(fit.levels)]
    fit_b = _fit("y ~ x + g", df, weights="w", baseline=b)
    assert fit_b.levels[0] == b and sorted(fit_b.levels) == sorted(fit.levels)
    _close(fit_b.fitted[fit.levels], fit.fitted, atol=1e-8)
    assert fit_b.loglik == pytest.approx(fit.loglik, rel=1e-10)
    # beta'_k = beta_k - beta_b, with the old baseline's coefficients 0
    full = pd.DataFrame(fit._B, index=fit.levels[1:], columns=fit.terms)
    full.loc[fit.levels[0]] = 0.0
    expected = full.loc[fit_b.levels[1:]] - full.loc[b]
    coef_b = pd.DataFrame(fit_b._B, index=fit_b.levels[1:], columns=fit_b.terms)
    se_b = fit_b.std_errors().to_numpy().reshape(coef_b.shape)
    diff = np.abs(coef_b.to_numpy() - expected.to_numpy())
    assert np.all(diff <= 1e-6 * np.abs(expected.to_numpy()) + 1e-5 * se_b), (coef_b, expected)
    # and the covariance maps with the same linear map: SE of a contrast is unchanged
    new = df.iloc[:5]
    _close(fit_b.predict(new, se=True).set_index(["row", "level"]).loc[
        fit.predict(new, se=True).set_index(["row", "level"]).index, "se"],
        fit.predict(new, se=True)["se"], rtol=1e-5, atol=1e-9)


@FITS
@given(datasets(), st.floats(-1e3, 1e3, allow_nan=False), st.sampled_from(["logit", "probability"]))
def test_predictions_are_probabilities(problem, x_far, interval):
    df, rng = problem
    fit = _fit("y ~ x + g", df, weights="w")
    assume(_ok(fit))
    new = pd.DataFrame({"x": np.concatenate([rng.normal(size=5), [x_far, -x_far, 0.0]]),
                        "g": rng.choice(["u", "v"], 8)})
    P = fit.predict(new).to_numpy()
    assert np.isfinite(P).all()
    assert ((P >= 0) & (P <= 1)).all()
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-12)
    link = fit.predict(new, type="link").to_numpy()
    assert np.isfinite(link).all()
    moderate = np.abs(link).max(axis=1) < 30
    np.testing.assert_allclose(np.log(P[moderate, 1:] / P[moderate, :1]), link[moderate], atol=1e-9)
    cls = fit.predict(new, type="class")
    assert list(cls.astype(str)) == [fit.levels[i] for i in P.argmax(axis=1)]
    long = fit.predict(new.iloc[:5], se=True, interval=interval)
    assert (long.se >= 0).all()
    assert ((long.lower <= long.prob + 1e-12) & (long.prob <= long.upper + 1e-12)).all()
    if interval == "logit":
        assert ((long.lower >= 0) & (long.upper <= 1)).all()
