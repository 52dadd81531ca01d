"""Benchmark: ``fit.predict(newdata, se=True)`` on 100,000 rows with K = 20, p = 228.

Run from the repository root::

    python bench/predict.py                 # defaults below
    python bench/predict.py --rows 20000 --dense-rows 2000 --repeat 1

1. **Factor design** (the seed-scale model): ``cbind(L01, ..., L20) ~ country * date``
   on ``multinom.load_dataset("lineages_wide")`` (114 countries: p = 228
   columns, J = 19 log-odds, a 4,332 x 4,332 covariance). newdata is a grid
   of countries x dates (beyond the data's 90 days: extrapolation), 100,000
   rows, i.e. a 2,000,000-row long table. Each model-matrix row has s = 4
   non-zeros (intercept, country, date, date:country), so the rows fall into
   114 patterns and ``Q = x^T V_lm x`` costs ~J^2/2 * s^2/2 per row.
2. **Dense design**: a random dense (r x 228) model matrix with the same
   covariance, through the low-level :func:`multinom._predict.prediction_se`;
   every row has s = p non-zeros, so the cost per row is
   ``J(J+1)/2 * p(p+1)/2`` multiply-adds (~5e6 for J = 19, p = 228), a
   BLAS-3 product.

Prints the BLAS library and threads (threadpoolctl), the timings (best of
``--repeat``) and the time per 1,000 rows. This is a script, not a test.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import pandas as pd

import multinom
from multinom import _predict


def blas_report() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed (pip install threadpoolctl)"
    rows = [f"{i.get('internal_api')} {i.get('version')} ({i.get('threading_layer', '-')}), "
            f"{i.get('num_threads')} threads, {i.get('architecture', '')}"
            for i in threadpool_info() if i.get("user_api") == "blas"]
    return "; ".join(rows) or "no BLAS found by threadpoolctl"


def best_of(fn, repeat: int):
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=100_000, help="newdata rows (factor design)")
    ap.add_argument("--dense-rows", type=int, default=5_000, help="rows for the dense variant")
    ap.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    args = ap.parse_args(argv)

    import os
    print(f"python {platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}, "
          f"{os.cpu_count()} CPUs")
    print(f"BLAS: {blas_report()}")

    # ------------------------------------------------------------ the model
    wide = multinom.load_dataset("lineages_wide")
    levels = [c for c in wide.columns if c.startswith("L")]
    formula = f"cbind({', '.join(levels)}) ~ country * date"
    import warnings
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one country x lineage cell is empty (separation)
        fit = multinom.multinom(formula, wide)
    t_fit = time.perf_counter() - t
    K, p = len(fit.levels), len(fit.terms)
    J = K - 1
    t = time.perf_counter()
    V = fit._vcov_kept()
    t_vcov = time.perf_counter() - t
    print(f"\nmodel: {formula.replace(', '.join(levels), 'L01, ..., L20')} on lineages_wide "
          f"({len(wide)} rows)")
    print(f"  K = {K}, p = {p}, J*p = {J * p}; fit {t_fit:.2f} s, vcov (information + Cholesky "
          f"inverse, computed once and cached) {t_vcov:.2f} s")

    # ------------------------------------------------------------ factor design
    countries = wide["country"].cat.categories
    n_dates = -(-args.rows // len(countries))
    dates = pd.date_range(wide["date"].min(), periods=n_dates, freq="D")
    grid = pd.DataFrame({
        "country": pd.Categorical(np.repeat(countries, n_dates), categories=countries),
        "date": np.tile(dates, len(countries)),
    }).iloc[:args.rows].reset_index(drop=True)
    n = len(grid)
    print(f"\n1. factor design: newdata {n:,} rows = {len(countries)} countries x {n_dates} dates "
          f"-> {n * K:,} output rows")
    t_pred, out = best_of(lambda: fit.predict(grid, se=True), args.repeat)
    t_probs, _ = best_of(lambda: fit.predict(grid), args.repeat)
    # the parts
    X = fit._design.spec.model_matrix(grid)
    Xk = X[:, np.flatnonzero(fit._keep)]
    eta = np.column_stack([np.zeros(n), Xk @ fit._B[:, fit._keep].T])
    t_mm, _ = best_of(lambda: fit._design.spec.model_matrix(grid), args.repeat)
    t_pat, (_order, _bounds, cols) = best_of(lambda: _predict.row_patterns(Xk), args.repeat)
    t_q, _ = best_of(lambda: sum(len(r) for r, _ in _predict.iter_quadratic_forms(Xk, V, J)), args.repeat)
    t_se, _ = best_of(lambda: _predict.prediction_se(Xk, V, eta), args.repeat)
    print(f"  predict(grid, se=True)          {t_pred:7.3f} s   ({1000 * t_pred / n * 1000:6.2f} ms per 1,000 rows)")
    print(f"  predict(grid) (no SEs)          {t_probs:7.3f} s")
    print(f"    model matrix (formulaic)      {t_mm:7.3f} s   (CSR, {Xk.nnz / n:.0f} non-zeros per row)")
    print(f"    row_patterns (grouping)       {t_pat:7.3f} s   ({len(cols)} patterns, vectorised)")
    print(f"    Q = x'V_lm x, all rows        {t_q:7.3f} s")
    print(f"    prediction_se (Q + SEs/bands) {t_se:7.3f} s")
    print(f"    long table (pandas)           {max(t_pred - t_mm - t_se, 0):7.3f} s   (the rest)")
    # sanity: a few rows against sqrt(G V G') with the Jacobian G (levels with
    # p <= 0.5: for p near 1, G's p (1 - p) loses the digits that predict keeps)
    rows = np.linspace(0, n - 1, 7).astype(int)
    P = np.exp(eta[rows]) / np.exp(eta[rows]).sum(axis=1, keepdims=True)
    G = _predict.probability_jacobian(P, Xk[rows])
    se_ref = np.sqrt(np.einsum("rki,ij,rkj->rk", G, V, G))
    se = out["se"].to_numpy().reshape(n, K)[rows]
    ok = P <= 0.5
    print(f"  check: SEs of 7 rows vs sqrt(G V G'): max rel. difference "
          f"{np.max(np.abs(se - se_ref)[ok] / se_ref[ok]):.1e}")

    # ------------------------------------------------------------ dense design
    rng = np.random.default_rng(1)
    r = args.dense_rows
    Xd = rng.normal(size=(r, Xk.shape[1]))
    Bd = rng.normal(scale=0.1, size=(J, Xk.shape[1]))
    eta_d = np.column_stack([np.zeros(r), Xd @ Bd.T])
    t_d, _ = best_of(lambda: _predict.prediction_se(Xd, V, eta_d), args.repeat)
    s = Xd.shape[1]
    madds = J * (J + 1) // 2 * s * (s + 1) // 2
    print(f"\n2. dense design: {r:,} random rows x {s} columns (every entry non-zero), same V")
    print(f"  prediction_se                   {t_d:7.3f} s   ({1000 * t_d / r * 1000:6.1f} ms per 1,000 rows, "
          f"{1e6 * t_d / r:.0f} us per row)")
    print(f"  cost per row: {madds / 1e6:.1f}e6 multiply-adds (J(J+1)/2 * p(p+1)/2) -> "
          f"{2 * madds * r / t_d / 1e9:.1f} GFLOP/s; 100,000 rows would take ~{t_d / r * 1e5:.0f} s")


if __name__ == "__main__":
    main()
