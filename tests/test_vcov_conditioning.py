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
