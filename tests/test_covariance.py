"""Robust covariances (multinom.covariance): parity with sandwich::sandwich / vcovCL, invariants.

Reference values: ``tests/r/make_fixtures_inference.R`` → ``tests/fixtures/inference_sandwich.json``
(sandwich 3.0.2 with estfun/bread methods for multinom at the Newton-polished MLE; frequency
weights checked against the data expanded to one row per unit). Covariances are compared
entrywise relative to ``sqrt(V_ii V_jj)`` at 1e-6.
"""

from __future__ import annotations

import warnings
from functools import lru_cache

import numpy as np
import pandas as pd
import pytest

import multinom
from multinom.covariance import cluster_codes, meat_kept, pearson_dispersion, vcov_kept
from multinom.exceptions import DataError

from _fixtures import load_fixture, load_fixture_data


# --------------------------------------------------------------------------- helpers
def _data(block: dict) -> pd.DataFrame:
    return load_fixture_data({"data_csv": block["csv"], "factor_levels": block.get("factor_levels", {})})


@lru_cache(maxsize=None)
def _housing():
    fx = load_fixture("inference_sandwich")["housing"]
    data = _data(fx)
    return fx, data, multinom.multinom(fx["formula"], data, weights=fx["weights"])


@lru_cache(maxsize=None)
def _dm():
    fx = load_fixture("inference_sandwich")["dm"]
    data = _data(fx)
    return fx, data, multinom.multinom(fx["formula"], data)


def assert_vcov_close(ours: pd.DataFrame, ref: dict, rtol: float = 1e-6):
    names = ref["names"]
    R = np.asarray(ref["value"], dtype=float)
    A = ours.loc[names, names].to_numpy()
    scale = np.sqrt(np.outer(np.diag(R), np.diag(R)))
    err = np.abs(A - R) / scale
    assert err.max() < rtol, f"max scaled difference {err.max():.3g}"


# --------------------------------------------------------------------------- R parity
@pytest.mark.r_parity
class TestSandwichParity:
    def test_coefficients_and_model_vcov(self):
        fx, _, fit = _housing()
        b = pd.Series(fit._B.ravel(), index=fit.coef_names)
        np.testing.assert_allclose(b[fx["vcov_model"]["names"]], fx["coef"], rtol=1e-7, atol=1e-9)
        assert_vcov_close(fit.vcov(), fx["vcov_model"])

    def test_sandwich_frequency_weights_equal_expanded_units(self):
        # sandwich::sandwich on the 1681 unit rows == our weighted 72-row fit
        fx, _, fit = _housing()
        assert_vcov_close(fit.vcov("sandwich"), fx["sandwich"])

    def test_sandwich_hc1_is_vcovCL_per_unit(self):
        fx, _, fit = _housing()
        # vcovCL(type = "HC1") with each unit a cluster: G/(G-1) * (n-1)/(n-k) with G = n
        n = fit.nobs
        V = fit.vcov("sandwich", hc="HC1") * n / (n - 1)
        assert_vcov_close(V, fx["units_hc1"])

    def test_cluster_by_data_row(self):
        fx, _, fit = _housing()
        assert_vcov_close(fit.vcov("cluster"), fx["cluster_cell"])  # cluster = None: data rows
        assert_vcov_close(fit.vcov("cluster", cluster="cell"), fx["cluster_cell"])

    def test_cluster_column(self):
        fx, data, fit = _housing()
        assert_vcov_close(fit.vcov("cluster", cluster="clus"), fx["cluster_clus"])
        assert_vcov_close(fit.vcov("cluster", cluster=data["clus"].to_numpy()), fx["cluster_clus"])
        assert_vcov_close(fit.vcov("cluster", cluster="clus", hc="HC1"), fx["cluster_clus_hc1"])
        assert_vcov_close(fit.vcov("cluster", cluster="clus", cadjust=False), fx["cluster_clus_noadj"])

    def test_count_matrix_rows_and_sites(self):
        fx, _, fit = _dm()
        assert_vcov_close(fit.vcov("cluster", cadjust=False), fx["rows_sandwich"])
        assert_vcov_close(fit.vcov("cluster"), fx["rows_vcovCL"])
        assert_vcov_close(fit.vcov("cluster"), fx["rows_vcovCL_units"])  # same on the unit data
        assert_vcov_close(fit.vcov("cluster", cluster="site"), fx["site"])

    def test_count_matrix_units(self):
        # per-unit sandwich of a count matrix == sandwich on one row per count
        fx, _, fit = _dm()
        assert_vcov_close(fit.vcov("sandwich"), fx["units_sandwich"])

    def test_count_matrix_cluster_hc1_counts_units(self):
        # R's HC1 on the count fit uses n = rows (80); ours uses n = nobs (units): rescale
        fx, _, fit = _dm()
        n_rows, n_units, k = fx["nrows"], fit.nobs, fit.edf
        ours = fit.vcov("cluster", cluster="site", hc="HC1")
        ratio = ((n_rows - 1) / (n_rows - k)) / ((n_units - 1) / (n_units - k))
        assert_vcov_close(ours * ratio, fx["site_hc1"])

    def test_pearson_dispersion(self):
        fx, _, fit = _dm()
        d = pearson_dispersion(fit)
        assert d.df == fx["pearson_df"]
        assert d.chi2 == pytest.approx(fx["pearson_chi2"], rel=1e-8)
        assert fit.dispersion() == pytest.approx(fx["dispersion"], rel=1e-8)
        fx0 = load_fixture("inference_sandwich")["mn"]
        fit0 = multinom.multinom(fx0["formula"], _data({"csv": fx0["csv"], "factor_levels": fx["factor_levels"]}))
        assert fit0.dispersion() == pytest.approx(fx0["dispersion"], rel=1e-8)
        assert_vcov_close(fit.vcov("dispersion"), {"names": fx["vcov_model"]["names"],
                                                   "value": np.asarray(fx["vcov_model"]["value"]) * fx["dispersion"]})


# --------------------------------------------------------------------------- invariants
def _brute_meats(fit, cluster=None):
    """Loops over data rows (the definitions), for checking the vectorised code."""
    d = fit._design
    Z = d.Z.toarray() if hasattr(d.Z, "toarray") else np.asarray(d.Z)
    Z = Z[:, fit._keep]
    P = fit._result.P
    N = (len(fit.levels) - 1) * Z.shape[1]
    Mu = np.zeros((N, N))
    S = {}
    cl = np.arange(d.n_rows) if cluster is None else np.asarray(cluster)
    for i in range(d.n_rows):
        g = d.groups[i]
        z, p = Z[g], P[g, 1:]
        y = d.Y_rows[i, 1:]
        m = d.Y_rows[i].sum()
        Mi = np.diag(y) - np.outer(y, p) - np.outer(p, y) + m * np.outer(p, p)
        Mu += np.kron(Mi, np.outer(z, z))
        S[cl[i]] = S.get(cl[i], 0) + np.kron(y - m * p, z)
    Mc = sum(np.outer(s, s) for s in S.values())
    return Mu, Mc


class TestMeat:
    def test_vectorised_meats_match_loops_dense_and_sparse(self):
        _, data, fit = _housing()
        Mu, Mc = _brute_meats(fit)
        _, Mcl = _brute_meats(fit, data["clus"].to_numpy())
        scale = np.abs(Mu).max()
        assert np.abs(meat_kept(fit, "sandwich") - Mu).max() < 1e-12 * scale
        assert np.abs(meat_kept(fit, "cluster") - Mc).max() < 1e-12 * scale
        assert np.abs(meat_kept(fit, "cluster", cluster="clus") - Mcl).max() < 1e-12 * scale

    def test_sparse_design_path(self):
        rng = np.random.default_rng(3)
        n = 600
        df = pd.DataFrame({"g": rng.choice([f"g{i:02d}" for i in range(12)], n),
                           "x": rng.normal(size=n), "y": rng.choice(list("abc"), n),
                           "w": rng.integers(1, 4, n), "cl": rng.integers(0, 25, n)})
        fit = multinom.multinom("y ~ x + g", df, weights="w")
        import scipy.sparse as sp
        assert sp.issparse(fit._design.Z)
        Mu, Mc = _brute_meats(fit)
        _, Mcl = _brute_meats(fit, df["cl"].to_numpy())
        scale = np.abs(Mu).max()
        assert np.abs(meat_kept(fit, "sandwich") - Mu).max() < 1e-10 * scale
        assert np.abs(meat_kept(fit, "cluster") - Mc).max() < 1e-10 * scale
        assert np.abs(meat_kept(fit, "cluster", cluster="cl") - Mcl).max() < 1e-10 * scale

    def test_weights_equal_duplicated_rows(self):
        # a row of weight w == w identical rows, for every covariance type
        _, data, fit = _housing()
        expanded = data.loc[data.index.repeat(data["Freq"])].reset_index(drop=True)
        fit_x = multinom.multinom("Sat ~ Infl + Type + Cont", expanded)
        np.testing.assert_allclose(fit_x.vcov("sandwich").to_numpy(), fit.vcov("sandwich").to_numpy(),
                                   rtol=1e-7, atol=1e-12)
        np.testing.assert_allclose(fit_x.vcov("cluster", cluster="clus").to_numpy(),
                                   fit.vcov("cluster", cluster="clus").to_numpy(), rtol=1e-7, atol=1e-12)

    def test_sandwich_equals_model_in_expectation(self):
        # well-specified multinomial data: diag(sandwich) / diag(model) ~ 1 on average
        rng = np.random.default_rng(11)
        n = 4000
        x = rng.normal(size=n)
        g = rng.choice(["u", "v"], n)
        eta = np.column_stack([np.zeros(n), 0.5 + x, -0.3 - 0.6 * x + (g == "v")])
        P = np.exp(eta) / np.exp(eta).sum(1, keepdims=True)
        y = (P.cumsum(1) > rng.random(n)[:, None]).argmax(1)
        df = pd.DataFrame({"x": x, "g": g, "y": np.array(list("abc"))[y]})
        fit = multinom.multinom("y ~ x + g", df)
        ratio = np.diag(fit.vcov("sandwich")) / np.diag(fit.vcov())
        assert abs(ratio.mean() - 1) < 0.1
        assert np.all(np.abs(ratio - 1) < 0.3)
        # and a row-clustered one too (individual data: rows are units)
        np.testing.assert_allclose(fit.vcov("cluster", cadjust=False).to_numpy(),
                                   fit.vcov("sandwich").to_numpy(), rtol=1e-9, atol=1e-14)


def _simulate_counts(rng, n, overdispersed: bool, m_range=(30, 60)):
    x = rng.normal(size=n)
    eta = np.column_stack([np.zeros(n), 0.2 + 0.7 * x, -0.5 - 0.4 * x, 0.3 * x])
    P = np.exp(eta) / np.exp(eta).sum(1, keepdims=True)
    m = rng.integers(*m_range, size=n)
    if overdispersed:
        P = np.vstack([rng.dirichlet(5.0 * p) for p in P])  # rho = 1/6
    counts = np.vstack([rng.multinomial(mi, p) for mi, p in zip(m, P)])
    return pd.DataFrame({"x": x, "a": counts[:, 0], "b": counts[:, 1], "c": counts[:, 2], "d": counts[:, 3],
                         "site": rng.integers(0, 20, n)})


class TestDispersion:
    def test_multinomial_counts_have_dispersion_near_one(self):
        rng = np.random.default_rng(5)
        fit = multinom.multinom("cbind(a, b, c, d) ~ x", _simulate_counts(rng, 300, False))
        assert 0.85 < fit.dispersion() < 1.15

    def test_dirichlet_multinomial_counts_are_overdispersed_and_bands_widen(self):
        rng = np.random.default_rng(6)
        data = _simulate_counts(rng, 300, True)
        fit = multinom.multinom("cbind(a, b, c, d) ~ x", data)
        phi = fit.dispersion()
        assert phi > 3  # 1 + (m - 1) rho ~ 1 + 44/6
        se0 = fit.std_errors()
        np.testing.assert_allclose(fit.std_errors("dispersion"), se0 * np.sqrt(phi), rtol=1e-12)
        np.testing.assert_allclose(fit.std_errors("model", dispersion=phi), se0 * np.sqrt(phi), rtol=1e-12)
        # the per-unit sandwich does not see the overdispersion; row clusters do
        assert np.all(np.abs(fit.std_errors("sandwich") / se0 - 1) < 0.35)
        assert np.median(fit.std_errors("cluster") / se0) > 1.6
        nd = pd.DataFrame({"x": [0.0, 1.0]})
        band = lambda **kw: fit.predict(nd, se=True, **kw).eval("upper - lower").to_numpy()  # noqa: E731
        assert np.all(band(vcov="cluster") > band())
        assert np.all(band(vcov="dispersion") > band())

    def test_factor_response_uses_covariate_patterns(self):
        _, _, fit = _housing()
        d = pearson_dispersion(fit)
        assert d.n_rows == 24 and d.df == 24 * 2 - fit.edf
        E = fit._design.m[:, None] * fit._result.P
        assert d.chi2 == pytest.approx(float(((fit._design.Y - E) ** 2 / E).sum()), rel=1e-12)

    def test_no_residual_df(self):
        df = pd.DataFrame({"a": [3, 4], "b": [5, 1], "x": [0.0, 1.0]})
        fit = multinom.multinom("cbind(a, b) ~ x", df)
        with pytest.raises(ValueError, match="positive residual degrees of freedom"):
            fit.dispersion()


# --------------------------------------------------------------------------- plumbing and errors
class TestPlumbing:
    def test_every_path_passes_cluster(self):
        _, _, fit = _housing()
        V = fit.vcov("cluster", cluster="clus")
        se = np.sqrt(np.diag(V))
        np.testing.assert_allclose(fit.std_errors("cluster", cluster="clus"), se)
        ci = fit.confint(type="cluster", cluster="clus")
        np.testing.assert_allclose(ci.iloc[:, 1] - ci.iloc[:, 0], 2 * 1.959963984540054 * se, rtol=1e-9)
        s = fit.summary(type="cluster", cluster="clus")
        np.testing.assert_allclose(s.table["std_error"], se)
        assert "Standard errors: cluster" in repr(s)
        nd = _housing()[1].iloc[:3]
        a = fit.predict(nd, se=True, vcov="cluster", cluster="clus")
        b = fit.predict(nd, se=True, vcov=V)
        np.testing.assert_allclose(a["se"], b["se"], rtol=1e-12)
        assert not np.allclose(a["se"], fit.predict(nd, se=True)["se"])
        with pytest.raises(TypeError, match="only used with se=True"):
            fit.predict(nd, vcov="cluster", cluster="clus")
        with pytest.raises(TypeError, match="type name"):
            fit.predict(nd, se=True, vcov=V, cluster="clus")

    def test_errors(self):
        _, data, fit = _housing()
        with pytest.raises(ValueError, match="vcov type must be one of"):
            fit.vcov("HC3")
        with pytest.raises(ValueError, match="only used with type='cluster'"):
            fit.vcov("sandwich", cluster="clus")
        with pytest.raises(DataError, match="not in the data"):
            fit.vcov("cluster", cluster="nope")
        with pytest.raises(DataError, match="expected one per row used"):
            fit.vcov("cluster", cluster=np.arange(5))
        with pytest.raises(DataError, match="missing values"):
            fit.vcov("cluster", cluster=np.where(np.arange(72) < 3, np.nan, 1.0))
        with pytest.raises(ValueError, match="at least two clusters"):
            fit.vcov("cluster", cluster=np.ones(72))
        with pytest.raises(ValueError, match="hc must be one of"):
            fit.vcov("sandwich", hc="HC3")
        with pytest.raises(ValueError, match="positive finite"):
            fit.vcov("model", dispersion=-1.0)
        with pytest.raises(ValueError, match="scales the model covariance"):
            fit.vcov("sandwich", dispersion=2.0)

    def test_cluster_aligns_with_rows_used(self):
        # rows dropped by subset / missing values: a column or a full-length array is aligned
        _, data, _ = _housing()
        d = data.copy()
        d.loc[[3, 10], "Cont"] = np.nan
        fit = multinom.multinom("Sat ~ Infl + Type + Cont", d, weights="Freq", subset=np.arange(72) % 7 != 0)
        codes_col, G1 = cluster_codes(fit, "clus")
        codes_arr, G2 = cluster_codes(fit, d["clus"].to_numpy())
        used = d.loc[fit._design.row_index, "clus"].to_numpy()
        codes_used, G3 = cluster_codes(fit, used)
        assert G1 == G2 == G3 == 12
        assert fit.nrows == 72 - 11 - 2
        np.testing.assert_array_equal(codes_col, codes_arr)
        np.testing.assert_array_equal(codes_col, codes_used)

    def test_aliased_and_decay(self):
        _, data, _ = _housing()
        d = data.assign(Cont2=data["Cont"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = multinom.multinom("Sat ~ Infl + Cont + Cont2", d, weights="Freq")
        V = fit.vcov("sandwich")
        assert np.isnan(V.loc["Medium:Cont2High", "Medium:Cont2High"])
        assert np.all(np.isfinite(V.loc["Medium:InflHigh"].drop(["Medium:Cont2High", "High:Cont2High"])))
        fitd = multinom.multinom("Sat ~ Infl + Cont", data, weights="Freq", decay=0.5)
        Vk = vcov_kept(fitd, "sandwich")
        bread = fitd._vcov_model_kept()
        np.testing.assert_allclose(Vk, bread @ meat_kept(fitd, "sandwich") @ bread, rtol=1e-12)
