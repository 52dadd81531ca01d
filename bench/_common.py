"""Shared helpers for the benchmark scripts in ``bench/``.

The scripts are run as ``python bench/information.py`` / ``python bench/fit.py``
from the repository root (they put the checkout first on ``sys.path``). What is
here:

* the seed problem: ``K = 20`` lineages, 114 countries,
  ``cbind(L01, ..., L20) ~ country * date`` on ``load_dataset("lineages_wide")``
  (:func:`seed_fit`, :func:`seed_information_inputs`) and a random dense design
  of the same size (:func:`dense_problem`);
* timing: :func:`timeit` runs a callable ``repeat`` times and keeps every
  time; we report the median (the machine is shared and noisy);
* BLAS threads: :func:`blas_threads` (a :mod:`threadpoolctl` limit) and
  :func:`blas_description` (what is actually in effect, printed by every script);
* memory: :func:`traced_peak` (``tracemalloc``: every numpy allocation is
  traced) and :func:`subprocess_peak_rss` (peak RSS of a fresh interpreter,
  which also sees memory that numpy does not allocate, e.g. BLAS buffers);
* printing: :func:`print_environment`, :func:`markdown_table`, :func:`fmt_s`,
  :func:`fmt_bytes`.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import functools
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import textwrap
import time
import tracemalloc
import warnings
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # use the checkout, not an installed copy
    sys.path.insert(0, str(REPO))

import numpy as np
import scipy
import scipy.sparse as sp
from threadpoolctl import threadpool_info, threadpool_limits

import multinom

LINEAGES = [f"L{i:02d}" for i in range(1, 21)]
#: The seed problem in its two natural input forms.
SEED_FORMULA_WIDE = "cbind(" + ", ".join(LINEAGES) + ") ~ country * date"
SEED_FORMULA_LONG = "lineage ~ country * date"


# --------------------------------------------------------------------------- #
# command line, environment
# --------------------------------------------------------------------------- #
def argument_parser(description: str) -> argparse.ArgumentParser:
    """Options shared by the scripts: ``--threads``, ``--repeat``, ``--quick``."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                    help="BLAS threads (threadpoolctl limit; default: all cores, %(default)s)")
    ap.add_argument("--repeat", type=int, default=3,
                    help="timings per measurement; the median is reported (default %(default)s)")
    ap.add_argument("--quick", action="store_true",
                    help="fewer repeats and smaller comparison runs (for a smoke test)")
    return ap


def blas_threads(n: int):
    """Context manager limiting every BLAS library (OpenBLAS, MKL...) to ``n`` threads."""
    return threadpool_limits(limits=int(n), user_api="blas")


def blas_description() -> str:
    """The BLAS libraries loaded right now and their thread counts."""
    out = []
    for lib in threadpool_info():
        if lib.get("user_api") != "blas":
            continue
        out.append(f"{lib.get('internal_api')} {lib.get('version')} "
                   f"({lib.get('architecture', '?')}, {lib.get('threading_layer', '?')}): "
                   f"{lib.get('num_threads')} thread(s)")
    return "; ".join(out) or "no BLAS found by threadpoolctl"


def print_environment(title: str) -> None:
    """Header: what ran where, with which BLAS threads (call inside :func:`blas_threads`)."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    print(f"# {title}")
    print(f"date        {_dt.datetime.now().isoformat(timespec='seconds')}")
    print(f"machine     {platform.machine()}, {os.cpu_count()} cores, load average {load} "
          "(shared machine: timings are medians)")
    print(f"python      {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
          f"multinom {multinom.__version__}")
    print(f"BLAS        {blas_description()}")
    print()


# --------------------------------------------------------------------------- #
# timing and memory
# --------------------------------------------------------------------------- #
@dataclass
class Timing:
    """All the times of one measurement (seconds) and the last result."""

    times: list = field(default_factory=list)
    result: object = None

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def min(self) -> float:
        return min(self.times)

    def __str__(self) -> str:
        spread = f" (min {fmt_s(self.min)}, max {fmt_s(max(self.times))}, n={len(self.times)})" \
            if len(self.times) > 1 else ""
        return f"{fmt_s(self.median)}{spread}"


def timeit(fn, repeat: int = 3, warmup: int = 0, setup=None) -> Timing:
    """Time ``fn()`` ``repeat`` times (after ``warmup`` untimed calls).

    ``setup()``, if given, runs before every call and is not timed (e.g. to
    clear a cache). Garbage is collected before each call.
    """
    t = Timing()
    for _ in range(warmup):
        if setup is not None:
            setup()
        fn()
    for _ in range(max(1, repeat)):
        if setup is not None:
            setup()
        gc.collect()
        t0 = time.perf_counter()
        t.result = fn()
        t.times.append(time.perf_counter() - t0)
    return t


def traced_peak(fn):
    """Run ``fn()`` under :mod:`tracemalloc`.

    Returns ``(result, peak, kept)``: the peak of traced memory above what was
    allocated before the call, and what is still allocated afterwards (the
    result, if ``fn`` returns a new array). numpy registers its data buffers
    with tracemalloc, so this counts every array temporary; it does not see
    BLAS's internal buffers (see :func:`subprocess_peak_rss`).
    """
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base, _ = tracemalloc.get_traced_memory()
        res = fn()
        cur, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return res, peak - base, cur - base


def subprocess_peak_rss(setup: str, call: str, timeout: float = 600) -> dict:
    """Peak resident memory that ``call`` adds, measured in a fresh interpreter.

    ``setup`` runs first (imports, loading inputs, a warm-up). Then the peak
    RSS is reset to the current RSS (``echo 5 > /proc/self/clear_refs``), the
    current RSS is read, ``call`` runs, and the peak (``VmHWM`` in
    ``/proc/self/status``) is read: ``rise = peak_after - rss_before`` is the
    extra memory of the call, BLAS buffers and all. (``getrusage``'s
    ``ru_maxrss`` would not do: it is inherited from the parent across
    fork + exec.) ``valid`` is False when the peak could not be reset and
    setup left a higher earlier peak (then ``rise`` is an upper bound).
    Linux only.
    """
    code = textwrap.dedent(f"""
        import gc, json, os, sys
        sys.path.insert(0, {str(REPO)!r})
        def _status(key):
            with open("/proc/self/status") as fh:
                for line in fh:
                    if line.startswith(key + ":"):
                        return int(line.split()[1]) * 1024
        """) + textwrap.dedent(setup) + textwrap.dedent("""
        gc.collect()
        try:
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")  # reset the peak RSS (VmHWM) to the current RSS
            reset = True
        except OSError:
            reset = False
        rss0 = _status("VmRSS")
        hwm0 = _status("VmHWM")
        """) + textwrap.dedent(call) + textwrap.dedent("""
        hwm1 = _status("VmHWM")
        print("@@" + json.dumps({"rss_before": rss0, "peak_before": hwm0, "peak_after": hwm1,
                                 "reset": reset}))
        """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=timeout, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"memory subprocess failed:\n{proc.stderr[-2000:]}")
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("@@")][-1]
    out = json.loads(line[2:])
    out["rise"] = out["peak_after"] - out["rss_before"]
    out["valid"] = out["reset"] or out["peak_before"] <= out["rss_before"] + 4 * 2**20
    return out


# --------------------------------------------------------------------------- #
# the seed problem
# --------------------------------------------------------------------------- #
@functools.lru_cache(maxsize=1)
def seed_data_wide():
    return multinom.load_dataset("lineages_wide")


@functools.lru_cache(maxsize=1)
def seed_data_long():
    return multinom.load_dataset("lineages")


@functools.lru_cache(maxsize=1)
def seed_fit():
    """The seed fit (wide count table, ``method="auto"``), warnings silenced.

    The bundled data have one empty country x lineage cell (``BGD x L17``),
    so the fit warns that ``L17:countryBGD`` diverges.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return multinom.multinom(SEED_FORMULA_WIDE, seed_data_wide())


def seed_information_inputs(fit=None):
    """``(P, Z, w)`` for :func:`multinom.information_matrix` at the seed fit.

    ``P`` are the fitted non-baseline probabilities of the collapsed rows,
    ``Z`` the (CSR) model matrix over the non-aliased columns, ``w`` the row totals.
    """
    fit = fit or seed_fit()
    d = fit._design
    keep = np.flatnonzero(fit._keep)
    Z = d.Z[:, keep] if not sp.issparse(d.Z) else d.Z.tocsr()[:, keep]
    return np.ascontiguousarray(fit._result.P[:, 1:]), Z, np.asarray(d.m, dtype=float)


def dense_problem(n: int, p: int, J: int, seed: int = 1):
    """A random dense problem of the same size: ``(P, Z, w)``.

    ``Z`` is ``n x p`` standard normal with a constant first column, ``P`` the
    softmax of ``Z B^T`` (``B`` small and random, baseline column dropped),
    ``w`` integer weights in ``[1, 200)``.
    """
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n, p))
    Z[:, 0] = 1.0
    B = rng.standard_normal((J, p)) * (0.5 / np.sqrt(p))
    eta = np.zeros((n, J + 1))
    eta[:, 1:] = Z @ B.T
    eta -= eta.max(axis=1, keepdims=True)
    Pfull = np.exp(eta)
    Pfull /= Pfull.sum(axis=1, keepdims=True)
    w = rng.integers(1, 200, size=n).astype(float)
    return np.ascontiguousarray(Pfull[:, 1:]), Z, w


# --------------------------------------------------------------------------- #
# formatting
# --------------------------------------------------------------------------- #
def fmt_s(seconds: float) -> str:
    """Seconds with a unit that keeps 3 significant digits."""
    if seconds is None or not np.isfinite(seconds):
        return "n/a"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.3g} us"
    if seconds < 1.0:
        return f"{seconds * 1e3:.3g} ms"
    if seconds < 600:
        return f"{seconds:.3g} s"
    if seconds < 3 * 3600:
        return f"{seconds / 60:.3g} min"
    return f"{seconds / 3600:.3g} h"


def fmt_bytes(nbytes: float) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(nbytes) >= scale:
            return f"{nbytes / scale:.3g} {unit}"
    return f"{nbytes:.0f} B"


def verdict(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


def markdown_table(headers, rows) -> str:
    """A GitHub-flavoured Markdown table (so the output can be pasted into docs)."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(r):
        return "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"

    out = [line(cells[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in cells[1:]]
    return "\n".join(out)


@contextlib.contextmanager
def quiet():
    """Silence warnings (the seed fit warns about its diverging coefficient)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
