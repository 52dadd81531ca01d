"""vcov() is computed where the information is well conditioned.

A date used as days since 1970-01-01 makes the intercept and the date column
(and country dummies and country:date) nearly collinear: the Jacobi-scaled
information has a condition number near 1e13, and inverting it directly
loses about five digits of the standard errors. vcov() inverts in centred
coordinates and maps back, so the SEs of the date slopes do not depend on
the date origin.
"""

import warnings

import numpy as np
import pytest

import multinom as mn


@pytest.fixture(scope="module")
def lineage_fits():
    data = mn.load_dataset("lineages")
    data = data[data["country"].isin(data["country"].cat.categories[:12])].copy()
    data["country"] = data["country"].cat.remove_unused_categories()
    shifted = data.assign(date=(data["date"] - data["date"].min()).dt.days.astype(float))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = mn.multinom("lineage ~ country * date", data, weights="count")       # days since 1970
        b = mn.multinom("lineage ~ country * date", shifted, weights="count")    # days since start
    return a, b


def test_slope_standard_errors_do_not_depend_on_the_date_origin(lineage_fits):
    a, b = lineage_fits
    slopes = [lab for lab in a.coef_names if lab.endswith("date")]
    se_a = a.std_errors()[slopes].to_numpy()
    se_b = b.std_errors()[slopes].to_numpy()
    ok = np.isfinite(se_a) & np.isfinite(se_b) & (se_b < 1)  # diverging cells aside
    np.testing.assert_allclose(se_a[ok], se_b[ok], rtol=1e-8)


def test_vcov_is_the_inverse_of_the_information(lineage_fits):
    a, _ = lineage_fits
    V = a.vcov().to_numpy()
    H = a.information().to_numpy()
    d = np.sqrt(np.diag(H))
    # relative to the scale of each entry (H has a condition number ~1e13 here)
    R = (V @ H) * (1 / d)[None, :] * d[:, None]
    np.testing.assert_allclose(R, np.eye(len(V)), atol=1e-5)
    np.testing.assert_array_equal(V, V.T)


def test_arrow_inverse_equals_dense_cholesky_inverse(lineage_fits):
    from multinom._optimize import ColumnTransform
    from multinom.information import arrow_inverse, cholesky_inverse, information_matrix

    a, _ = lineage_fits
    Z, w = a._Z_kept(), a._row_weights()
    Zt = ColumnTransform(Z, w).transform_Z(Z)
    H = information_matrix(a._result.P[:, 1:], Zt, w, sparse_output=True)
    V_arrow = arrow_inverse(H)
    assert V_arrow is not None  # 12 countries: block-arrow structure found
    V_dense = cholesky_inverse(H.toarray())
    np.testing.assert_allclose(V_arrow, V_dense, rtol=1e-9, atol=1e-12 * np.abs(V_dense).max())
    np.testing.assert_array_equal(V_arrow, V_arrow.T)


def test_arrow_inverse_declines_without_structure():
    import scipy.sparse as sp

    from multinom.information import arrow_inverse

    rng = np.random.default_rng(0)
    A = rng.normal(size=(50, 50))
    dense = sp.csr_matrix(A @ A.T + 50 * np.eye(50))
    assert arrow_inverse(dense) is None  # one dense block: no arrow


def test_decay_vcov_is_inverse_of_penalised_information():
    data = mn.load_dataset("lineages")
    data = data[data["country"].isin(data["country"].cat.categories[:6])].copy()
    data["country"] = data["country"].cat.remove_unused_categories()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = mn.multinom("lineage ~ country * date", data, weights="count", decay=0.5)
    V = f.vcov().to_numpy()
    H = f.information().to_numpy()
    d = np.sqrt(np.diag(H))
    np.testing.assert_allclose((V @ H) * (1 / d)[None, :] * d[:, None], np.eye(len(V)), atol=1e-5)
