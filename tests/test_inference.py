"""Model comparison and hypothesis tests (multinom.inference).

Reference values: ``tests/r/make_fixtures_inference.R`` → ``tests/fixtures/inference_{anova,
drop1,wald}.json`` (nnet::anova.multinom, nnet::drop1/add1.multinom called inside a function,
car::linearHypothesis with the exact solve()-based covariance). Tolerances: deviances, AIC and
LR statistics 1e-8 relative (nnet's BFGS optimum; deviances are second-order accurate),
p-values 1e-6 relative, Wald statistics and contrasts 1e-6 relative (polished MLE on both sides).
"""

from __future__ import annotations

import warnings
from functools import lru_cache

import numpy as np
import pandas as pd
import pytest

import multinom
from multinom.exceptions import DataError
from multinom.inference import add_scope, drop_scope, parse_hypothesis

from _fixtures import load_fixture, load_fixture_data


def _data(csv: str, levels: dict) -> pd.DataFrame:
    return load_fixture_data({"data_csv": csv, "factor_levels": levels})


@lru_cache(maxsize=None)
def _housing_data():
    fx = load_fixture("inference_drop1")
    return _data(fx["data"]["csv"], fx["data"]["factor_levels"])


@lru_cache(maxsize=None)
def _hfit(formula: str):
    return multinom.multinom(formula, _housing_data(), weights="Freq")


def _nan_close(a, b, rtol, atol=0.0):
    a = np.asarray(a, dtype=float)
    b = np.array([np.nan if v is None else v for v in b], dtype=float)
    assert np.array_equal(np.isnan(a), np.isnan(b)), (a, b)
    ok = ~np.isnan(b)
    np.testing.assert_allclose(a[ok], b[ok], rtol=rtol, atol=atol)


# --------------------------------------------------------------------------- anova
@pytest.mark.r_parity
class TestAnovaParity:
    @pytest.mark.parametrize("case", range(4))
    def test_table(self, case):
        fx = load_fixture("inference_anova")
        c = fx["cases"][case]
        block = fx["data"][c["data"]]
        data = _data(block["csv"], block["factor_levels"])
        kw = {"weights": c["weights"]} if c.get("weights") else {}
        fits = [multinom.multinom(f, data, **kw) for f in c["formulas"]]
        tab = multinom.anova(*fits)
        t = c["table"]
        assert list(tab.columns) == ["Model", "Resid. df", "Resid. Dev", "Test", "Df", "LR stat.", "Pr(Chi)"]
        assert [m.replace(" ", "") for m in tab["Model"]] == [m.replace(" ", "") for m in t["Model"]]
        assert list(tab["Test"]) == t["Test"]
        _nan_close(tab["Resid. Dev"], t["resid_dev"], 1e-9)
        _nan_close(tab["Df"], t["Df"], 0)
        _nan_close(tab["LR stat."], t["LR"], 1e-7)
        # R computes 1 - pchisq(): absolute accuracy ~1e-16, so tiny p-values differ relatively
        _nan_close(tab["Pr(Chi)"], t["p"], 1e-6, atol=1e-14)
        if c["data"] == "binary":
            # R reports -edf (nnet's one-column residuals); ours n_rows - edf
            np.testing.assert_array_equal(tab["Resid. df"], c["nrows"] + np.asarray(t["resid_df"]))
        else:
            np.testing.assert_array_equal(tab["Resid. df"], t["resid_df"])


class TestAnova:
    def test_sorted_by_edf_and_test_none(self):
        f1, f2 = _hfit("Sat ~ Infl"), _hfit("Sat ~ Infl + Type + Cont")
        a = multinom.anova(f2, f1)
        b = multinom.anova([f1, f2], test="none")
        assert list(a["Model"]) == ["Infl", "Infl + Type + Cont"]
        assert "Pr(Chi)" not in b.columns
        pd.testing.assert_frame_equal(a.drop(columns="Pr(Chi)"), b)
        assert a.attrs["response"] == "Sat"

    def test_errors(self):
        f1, f2 = _hfit("Sat ~ Infl"), _hfit("Sat ~ Infl + Type + Cont")
        data = _housing_data()
        with pytest.raises(ValueError, match="at least two fits"):
            multinom.anova(f1)
        with pytest.raises(TypeError, match="compares MultinomFit"):
            multinom.anova(f1, "x")
        other_w = multinom.multinom("Sat ~ Infl", data, weights=data["Freq"] + 1)
        with pytest.raises(ValueError, match="not fitted to the same data: different numbers of observations"):
            multinom.anova(f2, other_w)
        sub = multinom.multinom("Sat ~ Infl", data, weights="Freq", subset=np.arange(72) > 0)
        with pytest.raises(ValueError, match="different numbers of rows used"):
            multinom.anova(f2, sub)
        perm = data.assign(Freq=data["Freq"].to_numpy()[np.r_[2, 1, 0, 3:72]])
        moved = multinom.multinom("Sat ~ Infl", perm, weights="Freq")
        with pytest.raises(ValueError, match="different response counts or weights"):
            multinom.anova(f2, moved)
        resp = multinom.multinom("Infl ~ Type", data, weights="Freq")
        with pytest.raises(ValueError, match="different responses"):
            multinom.anova(f2, resp)
        with pytest.raises(ValueError, match="test must be"):
            multinom.anova(f1, f2, test="F")

    def test_same_data_different_baseline_is_fine(self):
        data = _housing_data()
        f1 = multinom.multinom("Sat ~ Infl", data, weights="Freq", baseline="High")
        tab = multinom.anova(f1, _hfit("Sat ~ Infl + Type + Cont"))
        assert tab["LR stat."].iloc[1] == pytest.approx(72.4223902207, rel=1e-8)

    def test_decay_warns(self):
        data = _housing_data()
        f1 = multinom.multinom("Sat ~ Infl", data, weights="Freq", decay=0.1)
        with pytest.warns(UserWarning, match="weight decay"):
            multinom.anova(f1, _hfit("Sat ~ Infl + Type + Cont"))


# --------------------------------------------------------------------------- drop1 / add1
@pytest.mark.r_parity
class TestDropAddParity:
    @pytest.mark.parametrize("case", ["drop1_main", "drop1_interaction", "add1_pairs", "add1_marginal"])
    def test_table(self, case):
        c = load_fixture("inference_drop1")["cases"][case]
        fit = _hfit(c["formula"])
        tab = fit.drop1() if case.startswith("drop1") else fit.add1(c["scope"])
        assert list(tab.index) == c["rows"]
        np.testing.assert_array_equal(tab["edf"], c["edf"])  # nnet's "Df"
        np.testing.assert_allclose(tab["AIC"], c["AIC"], rtol=1e-9)
        np.testing.assert_allclose(tab["Deviance"], c["deviance"], rtol=1e-9)
        dev = np.asarray(c["deviance"])
        lrt = np.abs(dev[1:] - dev[0])
        df = np.abs(np.asarray(c["edf"][1:]) - c["model_edf"])
        from scipy.stats import chi2
        np.testing.assert_allclose(tab["LRT"].to_numpy()[1:], lrt, rtol=1e-7)
        np.testing.assert_array_equal(tab["Df"].to_numpy()[1:], df)
        np.testing.assert_allclose(tab["Pr(>Chi)"].to_numpy()[1:], chi2.sf(lrt, df), rtol=1e-6)
        assert np.isnan(tab["LRT"].iloc[0]) and np.isnan(tab["Df"].iloc[0])


class TestDropAdd:
    def test_scopes_respect_marginality(self):
        f3 = _hfit("Sat ~ Infl * Type + Cont")
        assert drop_scope(f3) == ["Cont", "Infl:Type"]
        f1 = _hfit("Sat ~ Infl")
        assert add_scope(f1, "~ Infl * Type * Cont") == ["Type", "Cont"]
        assert add_scope(_hfit("Sat ~ Infl + Type + Cont"), "~ .^2") == ["Infl:Type", "Infl:Cont", "Type:Cont"]
        with pytest.raises(ValueError, match="does not include the model term"):
            add_scope(f3, "~ Cont")

    def test_explicit_scope_and_errors(self):
        f2 = _hfit("Sat ~ Infl + Type + Cont")
        t = f2.drop1(scope=["Cont"], test="none")
        assert list(t.index) == ["<none>", "Cont"] and "LRT" not in t.columns
        t2 = f2.drop1(scope="~ Cont + Type", sorted=True)
        assert list(t2.index) == ["<none>", "Cont", "Type"]
        with pytest.raises(ValueError, match="not a term of the model"):
            f2.drop1(scope=["Infl:Type"])
        with pytest.raises(ValueError, match="already in the model"):
            f2.add1(["Cont"])
        with pytest.raises(ValueError, match="no terms in scope"):
            f2.add1("~ .")
        with pytest.raises(ValueError, match="test must be"):
            f2.drop1(test="F")
        a = f2.add1(["Infl:Cont"])
        assert list(a.index) == ["<none>", "+Infl:Cont"]

    def test_refits_keep_rows_subset_offset_and_no_intercept(self):
        rng = np.random.default_rng(1)
        n = 300
        df = pd.DataFrame({"x": rng.normal(size=n), "z": rng.normal(size=n),
                           "g": rng.choice(["p", "q"], n), "y": rng.choice(list("abc"), n)})
        df.loc[[5, 9], "z"] = np.nan  # rows dropped in the full fit: drop1(z) must not bring them back
        fit = multinom.multinom("y ~ 0 + x + z + g", df, subset="x > -2")
        tab = fit.drop1()
        assert list(tab.index) == ["<none>", "x", "z", "g"]
        ref = multinom.multinom("y ~ 0 + x + g", df.loc[fit._design.row_index])
        assert tab.loc["z", "Deviance"] == pytest.approx(ref.deviance, rel=1e-10)
        # add1 with a term whose variable has missing values in the rows used: R's error
        df2 = df.assign(w=np.where(np.arange(n) == 20, np.nan, rng.normal(size=n)))
        fit2 = multinom.multinom("y ~ x", df2)
        with pytest.raises(DataError, match="number of rows in use has changed"):
            fit2.add1(["w"])

    def test_without_refit_args(self):
        fit = _hfit("Sat ~ Infl + Type + Cont")
        saved = fit._refit_args
        try:
            fit._refit_args = None
            with pytest.raises(DataError, match="does not keep a reference"):
                fit.drop1()
        finally:
            fit._refit_args = saved


# --------------------------------------------------------------------------- Wald tests
@pytest.mark.r_parity
class TestWaldParity:
    @pytest.mark.parametrize("i", range(7))
    def test_linear_hypothesis(self, i):
        fx = load_fixture("inference_wald")
        t = fx["tests"][i]
        fit = _hfit(fx["formula"])
        vc = {"model": {}, "sandwich": {"vcov": "sandwich"},
              "cluster:clus": {"vcov": "cluster", "cluster": "clus"}}[t["vcov"]]
        res = t["res"]
        R_ref = np.asarray(res["R"], dtype=float).reshape(-1, len(fx["coef_names"]))
        # R's matrix in R's coefficient order -> ours
        order = [fx["coef_names"].index(lab) for lab in fit.coef_names]
        R_ours = R_ref[:, order]
        if "text" in t:
            R, q = parse_hypothesis(t["text"], fit.coef_names)
            np.testing.assert_allclose(R, R_ours, atol=1e-14)
            np.testing.assert_allclose(q, res["q"], atol=1e-14)
            w = fit.wald_test(t["text"], **vc)
        else:
            w = fit.wald_test(R_ours, rhs=res["q"], **vc)
        assert w.df == res["df"]
        assert w.statistic == pytest.approx(res["chisq"], rel=1e-6)
        assert w.p_value == pytest.approx(res["p"], rel=1e-5)

    @pytest.mark.parametrize("term,vc", [("ContHigh", {}), ("TypeApartment", {}),
                                         ("ContHigh_sandwich", {"vcov": "sandwich"})])
    def test_level_contrasts(self, term, vc):
        fx = load_fixture("inference_wald")
        ref = pd.DataFrame(fx["contrasts"][term])
        fit = _hfit(fx["formula"])
        tab = fit.level_contrasts(term.replace("_sandwich", ""), **vc)
        assert list(tab["level"]) == list(ref["level"]) and list(tab["versus"]) == list(ref["versus"])
        for ours, theirs in [("estimate", "estimate"), ("std_error", "se"), ("z", "z"), ("p_value", "p"),
                             ("2.5 %", "lower"), ("97.5 %", "upper")]:
            np.testing.assert_allclose(tab[ours], ref[theirs], rtol=1e-6, err_msg=ours)


class TestWald:
    def test_parser(self):
        labels = ["B:(Intercept)", "B:x", "C:(Intercept)", "C:x", "Liberal Democrat:age.1",
                  "B:ns(date, df=2)[1]", "B:x:gb"]
        R, q = parse_hypothesis("2*B:x - C:x = 1, B:x:gb; C:(Intercept) = -(B:x - 0.5)/2", labels)
        np.testing.assert_allclose(R, [[0, 2, 0, -1, 0, 0, 0], [0, 0, 0, 0, 0, 0, 1],
                                       [0, 0.5, 1, 0, 0, 0, 0]])
        np.testing.assert_allclose(q, [1, 0, 0.25])
        R, q = parse_hypothesis(["Liberal Democrat:age.1 = B:ns(date, df=2)[1]", "B:x/4 == 1e-1"], labels)
        np.testing.assert_allclose(R, [[0, 0, 0, 0, 1, -1, 0], [0, 0.25, 0, 0, 0, 0, 0]])
        np.testing.assert_allclose(q, [0, 0.1])
        for bad, msg in [("B:z = 0", "not a coefficient label"), ("B:x * C:x = 0", "not linear"),
                         ("B:x C:x", "missing operator"), ("1 = 2", "involves no coefficient"),
                         ("(B:x = 0", "missing '\\)'"), ("", "no equation"), ("B:x / 0", "division by zero"),
                         ("B:x / C:x", "division by a coefficient"), ("B:x = ", "unexpected end")]:
            with pytest.raises(ValueError, match=msg):
                parse_hypothesis(bad, labels)

    def test_matrix_forms_and_result_object(self):
        fit = _hfit("Sat ~ Infl + Type + Cont")
        labels = fit.coef_names
        text = fit.wald_test("Medium:ContHigh = 0, High:ContHigh = 0")
        R = pd.DataFrame([[1.0, 0.0], [0.0, 1.0]], columns=["Medium:ContHigh", "High:ContHigh"])
        frame = fit.wald_test(R)  # a DataFrame is aligned on its column labels
        assert frame.statistic == pytest.approx(text.statistic, rel=1e-12)
        vec = np.zeros(len(labels))
        vec[labels.index("Medium:ContHigh")] = 1
        one = fit.wald_test(vec, rhs=0.1)
        assert one.df == 1 and one.q.tolist() == [0.1]
        stat, df, p = text
        assert (stat, df, p) == (text.statistic, text.df, text.p_value)
        assert list(text.to_frame().columns) == ["chi2", "df", "p_value"]
        r = repr(text)
        assert "Medium:ContHigh = 0" in r and "on 2 df" in r
        V = fit.vcov("sandwich")
        assert fit.wald_test("Medium:ContHigh = 0", vcov=V).statistic == pytest.approx(
            fit.wald_test("Medium:ContHigh = 0", vcov="sandwich").statistic, rel=1e-12)
        with pytest.raises(ValueError, match="linearly dependent"):
            fit.wald_test("Medium:ContHigh = 0, 2*Medium:ContHigh = 0")
        with pytest.raises(ValueError, match="shape"):
            fit.wald_test(np.ones(3))
        with pytest.raises(ValueError, match="rhs= is only used"):
            fit.wald_test("Medium:ContHigh = 0", rhs=1)
        with pytest.raises(TypeError, match="type name"):
            fit.wald_test("Medium:ContHigh = 0", vcov=V, cluster="clus")

    def test_aliased_coefficients_refused(self):
        data = _housing_data().assign(Cont2=lambda d: d["Cont"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = multinom.multinom("Sat ~ Infl + Cont + Cont2", data, weights="Freq")
        with pytest.raises(ValueError, match="aliased"):
            fit.wald_test("Medium:Cont2High = 0")
        assert np.isfinite(fit.wald_test("Medium:ContHigh = 0").statistic)
        tab = fit.level_contrasts("Cont2High")
        assert tab["estimate"].isna().all()

    def test_binary_labels(self):
        fx = load_fixture("inference_anova")
        b = fx["data"]["binary"]
        fit = multinom.multinom("y ~ x + g", _data(b["csv"], b["factor_levels"]))
        w = fit.wald_test("gb = gc")
        assert w.df == 1
        tab = fit.level_contrasts("x")
        assert len(tab) == 1 and tab["estimate"].iloc[0] == pytest.approx(fit.coef["x"])


class TestLevelContrasts:
    def test_lineage_growth_advantages(self):
        data = multinom.load_dataset("lineages")
        keep = data["country"].isin(["GBR", "USA", "DEU", "FRA"]) & data["lineage"].isin(
            ["L01", "L02", "L03", "L04"])
        d = data[keep].copy()
        d["lineage"] = d["lineage"].cat.remove_unused_categories()
        d["country"] = d["country"].cat.remove_unused_categories()
        d["t"] = (d["date"] - pd.Timestamp("2022-01-03")).dt.days
        fit = multinom.multinom("lineage ~ t + country", d, weights="count")
        tab = fit.level_contrasts("t")
        assert len(tab) == 6
        row = tab[(tab["level"] == "L03") & (tab["versus"] == "L02")].iloc[0]
        assert row["estimate"] == pytest.approx(fit.coef.loc["L03", "t"] - fit.coef.loc["L02", "t"], rel=1e-12)
        V = fit.vcov()
        se = np.sqrt(V.loc["L03:t", "L03:t"] + V.loc["L02:t", "L02:t"] - 2 * V.loc["L03:t", "L02:t"])
        assert row["std_error"] == pytest.approx(se, rel=1e-12)
        # truth: L02 0.12, L03 0.09 per day -> advantage of L03 over L02 about -0.03
        assert abs(row["estimate"] + 0.03) < 5 * row["std_error"] + 0.005
        vs = fit.level_contrasts("t", versus="L03", level=0.9)
        assert list(vs["versus"].unique()) == ["L03"] and len(vs) == 3
        assert "5 %" in vs.columns and "95 %" in vs.columns
        with pytest.raises(KeyError, match="not a model-matrix column"):
            fit.level_contrasts("date")
        with pytest.raises(KeyError, match="not a response level"):
            fit.level_contrasts("t", versus="L99")


# --------------------------------------------------------------------------- summ
class TestSumm:
    """multinom always collapses identical covariate rows exactly: duplicating or
    expanding rows changes nothing (R's ``summ`` option is accepted and has no effect)."""

    @pytest.mark.parametrize("seed", [0, 1, 2])
    def test_expanded_equals_weighted_equals_collapsed(self, seed):
        rng = np.random.default_rng(seed)
        n = 40
        df = pd.DataFrame({"g": rng.choice(["a", "b", "c"], n), "x": rng.integers(0, 3, n).astype(float),
                           "y": rng.choice(["u", "v", "w"], n), "w": rng.integers(1, 5, n)})
        weighted = multinom.multinom("y ~ g + x", df, weights="w")
        expanded = df.loc[df.index.repeat(df["w"])].sample(frac=1, random_state=seed).reset_index(drop=True)
        fit_x = multinom.multinom("y ~ g + x", expanded, summ=1)
        collapsed = df.groupby(["g", "x", "y"], as_index=False, observed=True)["w"].sum()
        fit_c = multinom.multinom("y ~ g + x", collapsed, weights="w", summ=2)
        se = weighted.std_errors().to_numpy().reshape(weighted.coef.shape)
        for other in (fit_x, fit_c):
            # identical optimisation problems: equal up to the optimiser's tolerance (1e-6 SE)
            assert np.abs(other.coef.to_numpy() - weighted.coef.to_numpy()).max() < 1e-6 * se.min()
            assert other.deviance == pytest.approx(weighted.deviance, rel=1e-12)
            assert other.edf == weighted.edf and other.nobs == weighted.nobs
            np.testing.assert_allclose(other.vcov().to_numpy(), weighted.vcov().to_numpy(), rtol=1e-7)
            np.testing.assert_allclose(other.vcov("sandwich").to_numpy(),
                                       weighted.vcov("sandwich").to_numpy(), rtol=1e-6, atol=1e-12)
            assert other._design.Z.shape[0] == weighted._design.Z.shape[0]  # same collapsed patterns
