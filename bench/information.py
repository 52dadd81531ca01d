"""Benchmark: the Fisher information matrix and the covariance at the seed's scale.

Run from the repository root::

    python bench/information.py              # about 2-3 minutes on 2 cores
    python bench/information.py --quick      # one repeat, fewer rows: a smoke test
    python bench/information.py --threads 1  # single-threaded BLAS

The seed problem is ``cbind(L01, ..., L20) ~ country * date`` on
``multinom.load_dataset("lineages_wide")``: K = 20 levels (J = 19), 114
countries, n = 10,260 collapsed rows, p = 228 columns, J p = 4,332
coefficients, an information matrix of 150 MB. Next to it, a random *dense*
design with the same n and p. Everything printed is measured in this run.

What is timed (medians of ``--repeat`` runs):

* ``multinom.information_matrix``: the sparse path on the factor design (what
  ``method="auto"`` picks for it), the dense path on the same design, the
  dense path on the dense design;
* the BLAS floor: ``U.T @ U`` and ``scipy.linalg.blas.dsyrk`` for a random
  ``n x J p`` matrix ``U`` (the rank-n update the dense path cannot avoid);
* the per-row Kronecker loop of the original RcppArmadillo answer,
  ``H += w_i * kron(diag(p_i) - p_i p_i^T, z_i z_i^T)``, in numpy on a few rows,
  scaled to n;
* statsmodels ``MNLogit(...).hessian(params)`` (no weights: timed on a subset
  of the collapsed rows and scaled linearly, to the n weighted rows and to
  the 866,275 individual rows statsmodels would need);
* ``cholesky_inverse`` (what ``vcov()`` uses), and ``fit.vcov()`` from a cold
  cache (information + inverse + labels);
* peak extra memory (``tracemalloc``, and the peak RSS of a subprocess).

and two sanity checks: ``information_matrix`` against the Kronecker sum on a few
rows (both designs, both paths), and against statsmodels' Hessian.
"""

from __future__ import annotations

import subprocess
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from _common import (
    Timing,
    argument_parser,
    blas_threads,
    dense_problem,
    fmt_bytes,
    fmt_s,
    markdown_table,
    print_environment,
    quiet,
    seed_fit,
    seed_information_inputs,
    subprocess_peak_rss,
    timeit,
    traced_peak,
    verdict,
)
from scipy.linalg import blas, lapack

import multinom
from multinom.information import cholesky_inverse

TARGETS = {
    "dense_vs_floor": 1.5,      # dense path within 1.5x of the BLAS floor
    "floor_vs_factor": 5.0,     # factor design at least 5x faster than that floor
    "extra_memory": 3.0,        # peak extra memory < 3x the information matrix
    "info_plus_vcov": 2.0,      # information + vcov < 2 s
}


def blas_floor(n, N, repeat):
    """Time ``U.T @ U`` (numpy) and ``dsyrk`` (scipy) for a random ``n x N`` matrix ``U``."""
    U = np.random.default_rng(2).standard_normal((n, N))
    t_mm = timeit(lambda: U.T @ U, repeat=repeat)
    # U.T is Fortran-contiguous: dsyrk(trans=0) computes (U.T)(U.T)^T = U^T U without a copy
    t_syrk = timeit(lambda: blas.dsyrk(1.0, U.T, trans=0, lower=0), repeat=repeat)
    t_mm.result = t_syrk.result = None
    return t_mm, t_syrk


def kron_loop(P, Z, w, rows):
    """The per-row Kronecker sum of the RcppArmadillo answer, over ``rows``.

    Returns ``(H, seconds_per_row)``.
    """
    J = P.shape[1]
    p = Z.shape[1]
    H = np.zeros((J * p, J * p))
    per_row = []
    for i in rows:
        t0 = time.perf_counter()
        pi = P[i]
        zi = Z[i].toarray().ravel() if sp.issparse(Z) else np.asarray(Z[i], dtype=float)
        H += w[i] * np.kron(np.diag(pi) - np.outer(pi, pi), np.outer(zi, zi))
        per_row.append(time.perf_counter() - t0)
    return H, per_row


def rel_diff(A, B) -> float:
    A = A.toarray() if sp.issparse(A) else np.asarray(A)
    B = B.toarray() if sp.issparse(B) else np.asarray(B)
    return float(np.max(np.abs(A - B)) / max(np.max(np.abs(B)), 1e-300))


def scaled_rcond(H) -> float:
    """LAPACK's estimate of 1/cond_1 of the Jacobi-scaled ``H`` (as cholesky_inverse scales it)."""
    d = 1.0 / np.sqrt(np.diag(H))
    Hs = H * d[:, None] * d[None, :]
    anorm = float(np.max(np.sum(np.abs(Hs), axis=0)))
    c, info = lapack.dpotrf(Hs, lower=0, clean=0)
    if info != 0:
        return 0.0
    rcond, info = lapack.dpocon(c, anorm)
    return float(rcond)


def vcov_accuracy(P, Z, w, V):
    """Compare ``V = cholesky_inverse(H)`` with an inverse computed in centred coordinates.

    The fitter's exact reparametrisation ``Z' = Z T``
    (:class:`multinom._optimize.ColumnTransform`: numeric columns centred
    within their parent indicator) gives ``H' = (I_J ⊗ T)^T H (I_J ⊗ T)``, far
    better conditioned when the date is in days since 1970;
    ``V = (I_J ⊗ T) H'^{-1} (I_J ⊗ T)^T`` maps back exactly. Returns the
    largest relative SE difference and the two reciprocal condition numbers.
    """
    from multinom._optimize import ColumnTransform
    J = P.shape[1]
    ct = ColumnTransform(Z, w)
    Zt = ct.transform_Z(Z)
    with quiet():
        Ht = multinom.information_matrix(P, Zt, w)
    Vt = cholesky_inverse(Ht)
    TT = sp.kron(sp.identity(J), sp.csr_matrix(ct.T)).tocsr()
    Vref = TT @ (TT @ Vt).T
    se, se_ref = np.sqrt(np.diag(V)), np.sqrt(np.diag(Vref))
    with quiet():
        H = multinom.information_matrix(P, Z, w)
    return {"se_err": float(np.max(np.abs(se - se_ref) / se_ref)),
            "rcond": scaled_rcond(H), "rcond_centred": scaled_rcond(Ht)}


def statsmodels_hessian(fit, P, Z, w, n_rows, repeat, check_rows=40):
    """Time statsmodels' MNLogit.hessian on ``n_rows`` collapsed rows; sanity-check it."""
    try:
        import statsmodels
        from statsmodels.discrete.discrete_model import MNLogit
    except ImportError:
        return None
    K = P.shape[1] + 1
    pos = np.flatnonzero(w > 0)
    rows = pos[np.linspace(0, len(pos) - 1, min(n_rows, len(pos))).astype(int)]
    Zd = Z[rows].toarray() if sp.issparse(Z) else np.asarray(Z[rows])
    endog = np.arange(len(rows)) % K  # every level present; the Hessian ignores y
    params = fit._B[:, fit._keep].T  # statsmodels: (p, J), level-major when raveled "F"
    with quiet():
        model = MNLogit(endog, Zd)
        t = timeit(lambda: model.hessian(params), repeat=repeat)
        # sanity: statsmodels' Hessian = -information with unit weights
        small = MNLogit(np.arange(check_rows) % K, Zd[:check_rows])
        Hsm = small.hessian(params)
        Psm = small.cdf(Zd[:check_rows] @ params)[:, 1:]
        Hours = multinom.information_matrix(Psm, Zd[:check_rows], np.ones(check_rows))
    return {"version": statsmodels.__version__, "timing": t, "rows": len(rows),
            "check": rel_diff(-Hsm, Hours), "check_rows": check_rows}


def main(argv=None):
    ap = argument_parser(__doc__.splitlines()[0])
    ap.add_argument("--kron-rows", type=int, default=5,
                    help="rows per design timed in the Kronecker loop (default %(default)s)")
    args = ap.parse_args(argv)
    repeat = 1 if args.quick else args.repeat
    kron_rows = 3 if args.quick else max(1, args.kron_rows)
    with blas_threads(args.threads):
        print_environment("bench/information.py: Fisher information and vcov at the seed's scale")
        run(repeat, kron_rows, args.threads, args.quick)


def run(repeat, kron_rows, threads, quick):
    t0 = time.perf_counter()
    fit = seed_fit()
    t_fit = time.perf_counter() - t0
    P, Z, w = seed_information_inputs(fit)
    n, J = P.shape
    p = Z.shape[1]
    N = J * p
    n_pos = int(np.sum(w > 0))
    info_bytes = 8 * N * N
    nnz = Z.nnz if sp.issparse(Z) else int(np.count_nonzero(Z))
    print("## Problem")
    print(f"seed fit    {multinom.__name__}.multinom({fit.formula!r}) on lineages_wide: "
          f"{fmt_s(t_fit)} (first call), converged={fit.converged}, deviance {fit.deviance:.10g}, "
          f"diverging {fit.diverging}")
    print(f"design      n = {n} collapsed rows ({n_pos} with positive total), p = {p}, "
          f"K = {J + 1} (J = {J}), J p = {N} coefficients; Z is "
          f"{'CSR' if sp.issparse(Z) else 'dense'} with {nnz} non-zeros ({nnz / n:.2f} per row); "
          f"individual observations (sum of counts) = {w.sum():,.0f}")
    print(f"information {N} x {N} float64 = {fmt_bytes(info_bytes)}")
    print(f"dense twin  random dense Z ({n} x {p}), random probabilities, weights in [1, 200)")
    print()

    rows_out = []   # (what, time, note)
    # ------------------------------------------------------------- ours, factor design
    with quiet():
        t_factor = timeit(lambda: multinom.information_matrix(P, Z, w), repeat=repeat, warmup=1)
        H = t_factor.result
        t_factor_dense = timeit(lambda: multinom.information_matrix(P, Z, w, method="dense"),
                                repeat=repeat)
    same = rel_diff(t_factor_dense.result, H)
    del t_factor_dense.result
    rows_out.append(("ours, factor design, method='auto' (sparse path)", t_factor, ""))
    rows_out.append(("ours, factor design, method='dense'", t_factor_dense,
                     f"max rel. diff vs sparse {same:.1e}"))

    # ------------------------------------------------------------- ours, dense design
    Pd, Zd, wd = dense_problem(n, p, J)
    t_dense = timeit(lambda: multinom.information_matrix(Pd, Zd, wd), repeat=repeat, warmup=0)
    del t_dense.result
    rows_out.append(("ours, dense design (dense path, chunked dsyrk)", t_dense, ""))

    # ------------------------------------------------------------- BLAS floor
    t_mm, t_syrk = blas_floor(n, N, repeat)
    floor = min(t_mm.median, t_syrk.median)
    flops = n * N * N  # syrk: n N^2 / 2 multiply-adds = n N^2 flops
    rows_out.append((f"BLAS floor: U.T @ U, U {n} x {N} (numpy)", t_mm,
                     f"{flops / t_mm.median / 1e9:.0f} GFLOP/s"))
    rows_out.append(("BLAS floor: scipy.linalg.blas.dsyrk(U.T)", t_syrk,
                     f"{flops / t_syrk.median / 1e9:.0f} GFLOP/s"))

    # ------------------------------------------------------------- Kronecker loop
    pos = np.flatnonzero(w > 0)
    krows = pos[np.linspace(0, len(pos) - 1, kron_rows).astype(int)]
    _, _ = kron_loop(P, Z, w, krows[:1])  # warm-up
    Hk, per_f = kron_loop(P, Z, w, krows)
    Hk_dense, per_d = kron_loop(Pd, Zd, wd, krows)
    per_row = float(np.median(per_f + per_d))
    t_kron = Timing(times=[per_row * n_pos])
    with quiet():
        checks = {
            "factor rows, sparse path": rel_diff(multinom.information_matrix(
                P[krows], Z[krows], w[krows], method="sparse"), Hk),
            "factor rows, dense path": rel_diff(multinom.information_matrix(
                P[krows], Z[krows], w[krows], method="dense"), Hk),
            "dense rows, dense path": rel_diff(multinom.information_matrix(
                Pd[krows], Zd[krows], wd[krows], method="dense"), Hk_dense),
            "dense rows, sparse path": rel_diff(multinom.information_matrix(
                Pd[krows], Zd[krows], wd[krows], method="sparse"), Hk_dense),
        }
    del Hk, Hk_dense
    rows_out.append((f"per-row Kronecker loop (numpy), {len(per_f) + len(per_d)} rows timed, x {n_pos}",
                     t_kron, f"{fmt_s(per_row)} per row, extrapolated"))

    # ------------------------------------------------------------- statsmodels
    sm_rows = n // 8 if quick else n
    sm = statsmodels_hessian(fit, P, Z, w, sm_rows, 1 if quick else min(repeat, 2))
    if sm is not None:
        per = sm["timing"].median / sm["rows"]
        rows_out.append((f"statsmodels {sm['version']} MNLogit.hessian on {sm['rows']} collapsed rows",
                         sm["timing"], "measured; unweighted (same cost as weighted)"))
        if sm["rows"] != n_pos:
            rows_out.append((f"  ... scaled to the {n_pos} weighted rows (if it took weights)",
                             Timing(times=[per * n_pos]), "extrapolated"))
        rows_out.append((f"  ... scaled to the {w.sum():,.0f} individual rows it needs",
                         Timing(times=[per * w.sum()]), "extrapolated"))

    # ------------------------------------------------------------- vcov
    with quiet():
        t_chol = timeit(lambda: cholesky_inverse(H), repeat=repeat)
        V = t_chol.result
        chol_ok = V is not None and np.all(np.isfinite(V))
        del t_chol.result
        try:
            acc = vcov_accuracy(P, Z, w, V) if chol_ok else None
        except (ImportError, AttributeError, TypeError, ValueError) as exc:  # internal API
            acc = f"skipped ({type(exc).__name__}: {exc})"
        del V
        cache = getattr(fit, "_cache", None)
        t_vcov = timeit(lambda: fit.vcov(), repeat=repeat,
                        setup=(cache.clear if cache is not None else None))
        del t_vcov.result
        try:  # what fit.vcov() returns (it inverts in centred coordinates)
            acc_fit = vcov_accuracy(P, Z, w, fit._vcov_model_kept()) if chol_ok else None
        except (ImportError, AttributeError, TypeError, ValueError) as exc:  # internal API
            acc_fit = f"skipped ({type(exc).__name__}: {exc})"
    rows_out.append(("cholesky_inverse(H) (a direct inverse, for comparison)", t_chol,
                     "finite" if chol_ok else "singular (None/NaN)"))
    rows_out.append(("fit.vcov() from a cold cache (information + inverse + labels)", t_vcov,
                     "" if cache is not None else "cache not cleared"))

    # ------------------------------------------------------------- memory
    with quiet():
        _, peak_f, kept_f = traced_peak(lambda: multinom.information_matrix(P, Z, w))
        _, peak_d, kept_d = traced_peak(lambda: multinom.information_matrix(Pd, Zd, wd))
        _, peak_c, kept_c = traced_peak(lambda: cholesky_inverse(H))
    rss = {}
    with tempfile.TemporaryDirectory() as tmp:
        np.savez(Path(tmp) / "dense.npz", P=Pd, Z=Zd, w=wd)
        np.savez(Path(tmp) / "factor.npz", P=P, w=w)
        sp.save_npz(Path(tmp) / "factorZ.npz", sp.csr_matrix(Z))
        setup_common = textwrap.dedent(f"""
            import numpy as np, scipy.sparse as sp
            from threadpoolctl import threadpool_limits
            threadpool_limits({threads}, user_api="blas")
            import multinom
            multinom.information_matrix(np.full((3, 2), 0.2), np.eye(3), np.ones(3))  # warm-up
            """)
        load_dense = f"d = np.load({str(Path(tmp) / 'dense.npz')!r}); P, Z, w = d['P'], d['Z'], d['w']\n"
        load_factor = (f"d = np.load({str(Path(tmp) / 'factor.npz')!r}); P, w = d['P'], d['w']\n"
                       f"Z = sp.load_npz({str(Path(tmp) / 'factorZ.npz')!r}).tocsr()\n")
        call = "H = multinom.information_matrix(P, Z, w)\n"
        try:
            rss["dense"] = subprocess_peak_rss(setup_common + load_dense, call)
            rss["factor"] = subprocess_peak_rss(setup_common + load_factor, call)
        except (RuntimeError, OSError, ValueError, subprocess.TimeoutExpired) as exc:
            print(f"(subprocess memory measurement failed: {exc})")

    # ------------------------------------------------------------- report
    print("## Timings (median of runs in this process)")
    print()
    table = [(what, str(t), f"{t.median / floor:.3g}x", note) for what, t, note in rows_out]
    print(markdown_table(["what", "time", "vs BLAS floor", "note"], table))
    print()
    print(f"BLAS floor = the faster of U.T @ U and dsyrk = {fmt_s(floor)} "
          f"({n} x {N} rank-n update, {flops / 1e9:.0f} GFLOP)")
    print()

    print("## Memory (extra = peak - the returned matrix; ratios to one information matrix "
          f"= {fmt_bytes(info_bytes)})")
    print()
    mem_rows = [
        ("information, factor design (sparse path), tracemalloc", peak_f, kept_f),
        ("information, dense design (dense path), tracemalloc", peak_d, kept_d),
        ("cholesky_inverse(H), tracemalloc", peak_c, kept_c),
    ]
    mt = [(what, fmt_bytes(peak), fmt_bytes(kept), fmt_bytes(peak - kept),
           f"{(peak - kept) / info_bytes:.2f}x") for what, peak, kept in mem_rows]
    for key, label in (("factor", "factor design"), ("dense", "dense design")):
        if key in rss:
            r = rss[key]
            mt.append((f"information, {label}: peak RSS rise in a subprocess"
                       + ("" if r["valid"] else " (peak not reset: upper bound)"),
                       fmt_bytes(r["rise"]), fmt_bytes(info_bytes),
                       fmt_bytes(r["rise"] - info_bytes), f"{(r['rise'] - info_bytes) / info_bytes:.2f}x"))
    print(markdown_table(["what", "peak", "returned", "extra", "extra / information"], mt))
    print()

    print("## Sanity checks")
    print()
    for what, d in checks.items():
        print(f"information_matrix vs Kronecker sum on {len(krows)} {what}: max rel. diff {d:.1e} "
              f"[{'ok' if d < 1e-10 else 'MISMATCH'}]")
    if sm is not None:
        print(f"-statsmodels MNLogit.hessian vs information_matrix (unit weights, {sm['check_rows']} rows): "
              f"max rel. diff {sm['check']:.1e} [{'ok' if sm['check'] < 1e-10 else 'MISMATCH'}]")
    print(f"sparse path vs dense path on the factor design: max rel. diff {same:.1e} "
          f"[{'ok' if same < 1e-10 else 'MISMATCH'}]")
    if isinstance(acc_fit, dict):
        print(f"vcov accuracy: SEs of fit.vcov() vs an inverse in centred coordinates mapped back: "
              f"max rel. diff {acc_fit['se_err']:.1e} [{'ok' if acc_fit['se_err'] < 1e-8 else 'INACCURATE'}]")
    elif acc_fit is not None:
        print(f"vcov accuracy check {acc_fit}")
    if isinstance(acc, dict):
        print(f"  (a direct cholesky_inverse(H) would differ by {acc['se_err']:.1e}: 1/cond_1 of the "
              f"Jacobi-scaled information {acc['rcond']:.1e} with the date in days since 1970, "
              f"{acc['rcond_centred']:.1e} centred -- why fit.vcov() inverts in centred coordinates)")
    elif acc is not None:
        print(f"vcov accuracy check {acc}")
    print()

    print("## Targets")
    print()
    r_dense = t_dense.median / floor
    r_factor = floor / t_factor.median
    extra = max([(peak - kept) / info_bytes for _, peak, kept in mem_rows[:2]]
                + [(r["rise"] - info_bytes) / info_bytes for r in rss.values() if r["valid"]])
    info_vcov = t_vcov.median
    parts = t_factor.median + t_chol.median
    tg = [
        ("dense design: information / BLAS floor", f"{r_dense:.2f}x",
         f"<= {TARGETS['dense_vs_floor']}x", verdict(r_dense <= TARGETS["dense_vs_floor"])),
        ("factor design: BLAS floor / information", f"{r_factor:.1f}x",
         f">= {TARGETS['floor_vs_factor']}x", verdict(r_factor >= TARGETS["floor_vs_factor"])),
        ("peak extra memory of information_matrix / information (worst path and measure)",
         f"{extra:.2f}x", f"< {TARGETS['extra_memory']}x", verdict(extra < TARGETS["extra_memory"])),
        ("information + vcov: fit.vcov() from a cold cache", fmt_s(info_vcov),
         f"< {TARGETS['info_plus_vcov']} s", verdict(info_vcov < TARGETS["info_plus_vcov"])),
        ("  (information_matrix + cholesky_inverse, sum of medians)", fmt_s(parts),
         f"< {TARGETS['info_plus_vcov']} s", verdict(parts < TARGETS["info_plus_vcov"])),
    ]
    print(markdown_table(["target", "measured", "goal", "status"], tg))


if __name__ == "__main__":
    main()
