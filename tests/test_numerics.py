"""Numerically hard cases: a correct answer or an explicit warning, never a silent NaN.

Covered: collinear and constant columns (RankDeficientWarning), complete and
quasi-complete separation (SeparationWarning, fitted probabilities at 0 or
1), a lineage-like table with one empty country x lineage cell, extreme
scales (predictors in the millions, |eta| in the thousands, weights 1e-8 and
1e8), non-convergence (ConvergenceWarning), the memory guard of the
information matrix, and pickling.

Known bugs outside the input-validation code are marked
``xfail(strict=True)`` with the reason; they pass once fixed, and then the
marker must go.
"""

from __future__ import annotations

import importlib
import pickle
import re
import warnings

import numpy as np
import pandas as pd
import pytest

import multinom as mn
from multinom import ConvergenceWarning, RankDeficientWarning, SeparationWarning
from multinom._likelihood import objective




def _sim(n=300, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    g = rng.choice(["u", "v"], n)
    eta = np.column_stack([np.zeros(n), 0.5 + 1.0 * x, -0.3 - 0.8 * x + 0.5 * (g == "v")])
    P = np.exp(eta)
    P /= P.sum(1, keepdims=True)
    y = np.array([rng.choice(3, p=p) for p in P])
    return pd.DataFrame({"y": np.array(["a", "b", "c"])[y], "x": x, "g": g})


@pytest.fixture(scope="module")
def sim():
    return _sim()


@pytest.fixture(scope="module")
def ref(sim):
    return mn.multinom("y ~ x + g", sim)


def _fit_quiet(*args, **kwargs):
    """Fit and return (fit, list of warnings)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        f = mn.multinom(*args, **kwargs)
    return f, caught


def _categories(caught):
    return [w.category for w in caught]


# -------------------------------------------------------------- rank deficiency
@pytest.mark.parametrize("formula, extra, aliased", [
    ("y ~ x + x2 + g", {"x2": lambda d: 2.0 * d.x - 1.0}, ["x2"]),  # linear combination
    ("y ~ x + k + g", {"k": lambda d: np.full(len(d), 3.0)}, ["k"]),  # constant, with an intercept
    ("y ~ x + z0 + g", {"z0": lambda d: np.zeros(len(d))}, ["z0"]),  # all zero
    ("y ~ x + g + h", {"h": lambda d: d.g}, ["hv"]),  # a duplicated factor
])
def test_rank_deficient(sim, ref, formula, extra, aliased):
    d = sim.assign(**{k: f(sim) for k, f in extra.items()})
    with pytest.warns(RankDeficientWarning, match=re.escape(f"column(s) {aliased!r} are linear combinations")):
        f = mn.multinom(formula, d)
    assert f.aliased == aliased
    assert (f.coef[aliased].to_numpy() == 0).all()
    kept = [t for t in f.terms if t not in aliased]
    np.testing.assert_allclose(f.coef[kept].to_numpy(), ref.coef.to_numpy(), rtol=1e-7, atol=1e-9)
    assert f.loglik == pytest.approx(ref.loglik, rel=1e-10)
    assert f.edf == ref.edf
    se = f.std_errors()
    labels = [f"{lev}:{a}" for lev in f.levels[1:] for a in aliased]
    assert se[labels].isna().all()
    np.testing.assert_allclose(se.drop(labels).to_numpy(), ref.std_errors().to_numpy(), rtol=1e-6)
    V = f.vcov()
    assert V.loc[labels].isna().all().all() and V[labels].isna().all().all()
    table = f.summary().table
    assert table.loc[labels, ["std_error", "z", "p_value"]].isna().all().all()
    assert (table.loc[labels, "estimate"] == 0).all()
    # predictions, with standard errors, are those of the full-rank model
    np.testing.assert_allclose(f.predict(d.iloc[:20]).to_numpy(), ref.predict(sim.iloc[:20]).to_numpy(),
                               atol=1e-9)
    long_f = f.predict(d.iloc[:5], se=True)
    long_r = ref.predict(sim.iloc[:5], se=True)
    np.testing.assert_allclose(long_f.se.to_numpy(), long_r.se.to_numpy(), rtol=1e-6)


def test_column_living_on_zero_weight_rows_is_aliased(sim, ref):
    w = np.ones(len(sim))
    w[:5] = 0.0
    z = np.zeros(len(sim))
    z[:5] = np.arange(1.0, 6.0)
    with pytest.warns(RankDeficientWarning, match=r"\['z'\]"):
        f = mn.multinom("y ~ x + g + z", sim.assign(z=z), weights=w)
    ref2 = mn.multinom("y ~ x + g", sim.iloc[5:])
    np.testing.assert_allclose(f.coef[["(Intercept)", "x", "gv"]].to_numpy(), ref2.coef.to_numpy(), rtol=1e-7)


# ------------------------------------------------------------------- separation
COMPLETE = pd.DataFrame({"y": ["a", "a", "a", "b", "b", "b"], "x": [1.0, 2, 3, 4, 5, 6]})
QUASI = pd.DataFrame({"y": ["a", "a", "a", "b", "a", "b", "b"], "x": [1.0, 2, 3, 4, 4, 5, 6]})


def test_complete_separation_fitted_probabilities_at_0_or_1():
    f, caught = _fit_quiet("y ~ x", COMPLETE)
    np.testing.assert_allclose(f.fitted["b"].to_numpy(), [0, 0, 0, 1, 1, 1], atol=1e-8)
    assert abs(f.loglik) < 1e-6  # the infimum of the deviance is 0
    assert f.coef["x"] > 5  # large, in the separating direction
    assert not f.fitted.isna().any().any()
    assert _categories(caught)  # something is said


@pytest.mark.parametrize("data, diverging", [
    (COMPLETE, ["(Intercept)", "x"]),
    (pd.DataFrame({"y": list("aabbcc"), "x": [1.0, 2, 3, 4, 5, 6]}),
     ["b:(Intercept)", "b:x", "c:(Intercept)", "c:x"]),
])
def test_complete_separation_warns_separation(data, diverging):
    f, caught = _fit_quiet("y ~ x", data)
    assert ConvergenceWarning not in _categories(caught)
    sep = [w for w in caught if w.category is SeparationWarning]
    assert sep and all(name in str(sep[0].message) for name in diverging)
    assert f.converged and f.diverging == diverging


def test_quasi_complete_separation():
    with pytest.warns(SeparationWarning, match=r"\['\(Intercept\)', 'x'\] diverge to \+/-infinity"):
        f = mn.multinom("y ~ x", QUASI)
    assert f.converged and f.diverging == ["(Intercept)", "x"]
    np.testing.assert_allclose(f.fitted["b"].to_numpy(), [0, 0, 0, 0.5, 0.5, 1, 1], atol=1e-7)
    assert f.loglik == pytest.approx(2 * np.log(0.5), abs=1e-7)


def _lineage_table(seed=7):
    rng = np.random.default_rng(seed)
    rows = []
    for country in ["A", "B", "C"]:
        for day in range(30):
            for lin in ["L1", "L2", "L3"]:
                if country == "B" and lin == "L3":
                    continue  # the empty country x lineage cell
                rows.append((country, day, lin, int(rng.poisson(20)) + 1))
    return pd.DataFrame(rows, columns=["country", "day", "lineage", "count"])


@pytest.mark.parametrize("formula, not_estimable", [
    ("lineage ~ country + day", ["L3:countryB"]),
    # with the interaction, the L3 slope in country B is not estimable either
    ("lineage ~ country * day", ["L3:countryB", "L3:countryB:day"]),
])
def test_lineage_table_with_an_empty_cell(formula, not_estimable):
    table = _lineage_table()
    with pytest.warns(SeparationWarning, match=r"\['L3:countryB'.*\] diverge"):
        f = mn.multinom(formula, table, weights="count")
    assert f.converged and f.diverging[0] == "L3:countryB"
    assert f.coef.loc["L3", "countryB"] < -15
    inB = (table.country == "B").to_numpy()
    assert f.fitted.loc[inB, "L3"].max() < 1e-6  # at 0
    assert f.fitted.loc[~inB, "L3"].min() > 0.1
    # every finite coefficient solves its score equation sum_i (y_ij - m_i p_ij) z_ik = 0, to
    # within 1e-3 of its standard deviation (tol=1e-10 bounds the gap in log-likelihood, not this)
    d = f._design
    _, G, _ = objective(f._B[:, f._keep], d.Z[:, f._keep], d.Y, d.offset)
    score_sd = np.sqrt(np.diag(f.information().to_numpy())).reshape(G.shape)
    finite = ~np.isin(np.array(f.coef_names), not_estimable).reshape(G.shape)
    assert (np.abs(G) / score_sd)[finite].max() < 1e-3
    # the standard errors of the other coefficients are usable
    se = f.std_errors()
    assert np.isfinite(se).all()
    assert se.drop(not_estimable).max() < 1.0
    assert se[not_estimable].min() > 100.0
    # fitted shares of countries A and C match the data (score equation of their dummies)
    obs = table.assign(w=table["count"]).pivot_table(index="country", columns="lineage", values="w",
                                                     aggfunc="sum", fill_value=0)
    fit_tot = f.fitted.mul(table["count"], axis=0).groupby(table.country).sum()
    np.testing.assert_allclose(fit_tot.to_numpy(), obs[fit_tot.columns].to_numpy(), rtol=1e-5, atol=1e-5)


def test_lineage_interaction_names_every_non_estimable_coefficient():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SeparationWarning)
        f = mn.multinom("lineage ~ country * day", _lineage_table(), weights="count")
    assert f.diverging == ["L3:countryB", "L3:countryB:day"]


# ---------------------------------------------------------------- extreme scales
@pytest.mark.parametrize("scale, shift", [(1e6, 3e6), (1e-6, 0.0), (1e4, -2e7)])
def test_predictor_scale(sim, ref, scale, shift):
    f = mn.multinom("y ~ xs + g", sim.assign(xs=sim.x * scale + shift))  # RuntimeWarnings are errors
    assert f.converged and not f.diverging
    np.testing.assert_allclose(f.coef["xs"].to_numpy() * scale, ref.coef["x"].to_numpy(), rtol=1e-7)
    np.testing.assert_allclose(f.coef["gv"].to_numpy(), ref.coef["gv"].to_numpy(), rtol=1e-7)
    np.testing.assert_allclose((f.coef["(Intercept)"] + f.coef["xs"] * shift).to_numpy(),
                               ref.coef["(Intercept)"].to_numpy(), rtol=1e-6, atol=1e-7)
    assert f.loglik == pytest.approx(ref.loglik, rel=1e-11)
    np.testing.assert_allclose(f.fitted.to_numpy(), ref.fitted.to_numpy(), atol=1e-9)
    se, se_ref = f.std_errors(), ref.std_errors()
    np.testing.assert_allclose(se[["b:xs", "c:xs"]].to_numpy() * scale, se_ref[["b:x", "c:x"]].to_numpy(),
                               rtol=1e-6)
    np.testing.assert_allclose(se[["b:gv", "c:gv"]].to_numpy(), se_ref[["b:gv", "c:gv"]].to_numpy(), rtol=1e-6)


def test_offsets_in_the_thousands(sim, ref):
    n = len(sim)
    off = np.column_stack([np.zeros(n), np.full(n, 1000.0), np.full(n, -2500.0)])
    f = mn.multinom("y ~ x + g", sim, offset=off)
    expected = ref.coef.copy()
    expected["(Intercept)"] -= [1000.0, -2500.0]
    np.testing.assert_allclose(f.coef.to_numpy(), expected.to_numpy(), rtol=1e-9, atol=1e-8)
    np.testing.assert_allclose(f.fitted.to_numpy(), ref.fitted.to_numpy(), atol=1e-9)
    assert f.loglik == pytest.approx(ref.loglik, rel=1e-10)
    np.testing.assert_allclose(f.std_errors().to_numpy(), ref.std_errors().to_numpy(), rtol=1e-6)


def test_linear_predictor_in_the_thousands_at_prediction(ref, sim):
    new = sim.iloc[:4].assign(x=[1e4, -1e4, 3e3, 0.0])
    probs = ref.predict(new)
    assert np.isfinite(probs.to_numpy()).all()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    assert ((probs.to_numpy() >= 0) & (probs.to_numpy() <= 1)).all()
    link = ref.predict(new, type="link")
    np.testing.assert_allclose(link.iloc[0].to_numpy(), (ref.coef["(Intercept)"] + 1e4 * ref.coef["x"]
                                                         + ref.coef["gv"] * (new.g.iloc[0] == "v")).to_numpy())
    long = ref.predict(new, se=True, interval="probability")
    assert np.isfinite(long[["prob", "se", "lower", "upper"]].to_numpy()).all()


def test_logit_bands_at_probabilities_0_and_1(ref, sim):
    long = ref.predict(sim.iloc[:2].assign(x=[1e4, -1e4]), se=True)
    assert np.isfinite(long[["lower", "upper"]].to_numpy()).all()
    assert (long.lower <= long.prob).all() and (long.prob <= long.upper).all()


@pytest.mark.parametrize("w", [1e-8, 1e8])
def test_constant_weight_scale(sim, ref, w):
    f = mn.multinom("y ~ x + g", sim, weights=np.full(len(sim), w))
    assert f.converged
    np.testing.assert_allclose(f.coef.to_numpy(), ref.coef.to_numpy(), rtol=1e-8, atol=1e-10)
    assert f.loglik == pytest.approx(ref.loglik * w, rel=1e-10)
    assert f.nobs == pytest.approx(len(sim) * w)
    np.testing.assert_allclose(f.std_errors().to_numpy() * np.sqrt(w), ref.std_errors().to_numpy(), rtol=1e-7)


def test_mixed_tiny_and_huge_weights(sim):
    n = len(sim)
    heavy = np.arange(n) % 3 != 0
    w = np.where(heavy, 1e8, 1e-8)
    f = mn.multinom("y ~ x + g", sim, weights=w)
    ref_heavy = mn.multinom("y ~ x + g", sim[heavy])
    np.testing.assert_allclose(f.coef.to_numpy(), ref_heavy.coef.to_numpy(), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(f.std_errors().to_numpy() * 1e4, ref_heavy.std_errors().to_numpy(), rtol=1e-6)


def test_large_decay_shrinks_without_trouble(sim):
    f = mn.multinom("y ~ x + g", sim, decay=1e6)
    assert f.converged and np.abs(f.coef.to_numpy()).max() < 1e-3
    assert np.isfinite(f.std_errors()).all()


# ---------------------------------------------------------------- non-convergence
@pytest.mark.parametrize("method", ["auto", "newton", "lbfgs"])
def test_iteration_limit_warns_with_advice(sim, method):
    with pytest.warns(ConvergenceWarning, match=r"did not converge.*larger maxit"):
        f = mn.multinom("y ~ x + g", sim, maxit=1, method=method)
    assert not f.converged and not f.convergence["converged"]
    assert "WARNING: the fit did not converge" in repr(f)
    assert "NOT converged" in repr(f.summary())
    assert np.isfinite(f.coef.to_numpy()).all()


# ------------------------------------------------------------------ memory guard
def test_check_memory_raises_before_allocating(monkeypatch, sim):
    information = importlib.import_module("multinom.information")
    with pytest.raises(MemoryError, match="information matrix for 10000 coefficients"):
        information.check_memory(10_000, limit_bytes=10**6)
    information.check_memory(10, limit_bytes=10**6)  # fits: no error

    f = mn.multinom("y ~ x + g", sim)  # nothing cached yet
    monkeypatch.setattr(information, "_available_memory", lambda: 100)

    def must_not_run(*args, **kwargs):
        raise AssertionError("the information matrix was allocated despite the memory guard")

    # fit.vcov() reaches it through information.observed_information
    monkeypatch.setattr(information, "information_matrix", must_not_run)
    with pytest.raises(MemoryError, match="method='lbfgs'"):
        f.vcov()
    with pytest.raises(MemoryError):
        f.std_errors()


def test_newton_fit_checks_memory_first(monkeypatch, sim):
    information = importlib.import_module("multinom.information")
    monkeypatch.setattr(information, "_available_memory", lambda: 100)
    with pytest.raises(MemoryError):
        mn.multinom("y ~ x + g", sim, method="newton")


def test_auto_fit_falls_back_to_lbfgs_when_memory_is_short(monkeypatch, sim, ref):
    information = importlib.import_module("multinom.information")
    monkeypatch.setattr(information, "_available_memory", lambda: 100)
    f = mn.multinom("y ~ x + g", sim)
    assert f.convergence["method"] == "lbfgs"
    se = ref.std_errors().to_numpy().reshape(ref.coef.shape)
    assert np.all(np.abs(f.coef.to_numpy() - ref.coef.to_numpy()) <= 1e-3 * se)


def test_information_matrix_without_columns():
    H = mn.information_matrix(np.full((3, 2), 0.25), np.zeros((3, 0)), np.ones(3))
    assert H.shape == (0, 0)


# ---------------------------------------------------------------------- pickling
@pytest.mark.parametrize("formula, kwargs", [
    ("y ~ x + g", {}),
    ("y ~ ns(d, df=2) + g", {}),
    ("y ~ scale(x) * g", {"offset": "off"}),
])
def test_pickle_round_trip(sim, formula, kwargs):
    d = sim.assign(d=pd.date_range("2021-01-01", periods=len(sim)), off=np.linspace(-0.5, 0.5, len(sim)))
    d["y"] = np.where(d.y == "c", "b", d.y) if "offset" in kwargs else d.y  # a binary offset model
    f = mn.multinom(formula, d, **kwargs)
    f.vcov()  # fill the cache: it must not be needed after unpickling
    g = pickle.loads(pickle.dumps(f))
    new = d.iloc[::37]
    pd.testing.assert_frame_equal(g.predict(new), f.predict(new))
    pd.testing.assert_frame_equal(g.predict(new, se=True), f.predict(new, se=True))
    pd.testing.assert_frame_equal(g.vcov(), f.vcov())
    pd.testing.assert_frame_equal(g.summary().table, f.summary().table)
    assert repr(g) == repr(f)
    with pytest.raises(mn.UnseenLevelError):
        g.predict(new.assign(g="zz"))
