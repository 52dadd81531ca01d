#!/usr/bin/env python3
"""Generate the synthetic SARS-CoV-2 lineage-count tables shipped in ``data/``.

Running ``python scripts/make_lineages.py`` (from the repository root)
rewrites

* ``data/lineages.csv.gz``       long form: ``date, country, lineage, count``
  (only rows with ``count > 0``),
* ``data/lineages_wide.csv.gz``  wide form: one row per ``date x country``
  (every day, including days without any sequence), then one integer column
  per lineage in level order ``L01 ... L20``,
* ``data/lineages_truth.json``   the true parameters and the generating
  process,

byte-identically (the gzip streams are written with ``mtime=0`` and no file
name; identical content is guaranteed for a given numpy version, since numpy
does not promise identical random streams across releases).

The data are **synthetic**.  Country labels are ISO 3166-1 alpha-3 codes used
as labels only: the counts bear no relation to those countries' real
sequencing.

Generating process
------------------
Days ``t = 0, ..., 89`` (``2022-01-03`` + t), countries ``c``, lineages
``k = 1..20`` with ``L01`` the baseline (dominant at the start).  The log-odds
of lineage ``k`` versus ``L01`` in country ``c`` on day ``t`` are::

    eta[c, k, t] = a[c, k] + r[k] * (t - t0),    t0 = 0 (2022-01-03)

with ``a[c, 1] = r[1] = 0``.  ``a[c, k] = mu[k] + sigma * z[c, k]`` with
``z ~ N(0, 1)``; ``r[k]`` (per-day growth advantage versus the baseline) is
common to all countries.  One rare lineage is absent from the smallest
country (``a = -inf`` there), which gives exactly one empty
``country x lineage`` cell.  Daily sequencing totals are negative binomial
(gamma-Poisson) with a country-specific mean ``m[c]`` (6 to 400 sequences per
day), a country-specific log-linear trend in effort, a weekday effect, and
dispersion ``size``.  Counts are multinomial given the daily total and the
softmax probabilities.  All parameters are rounded (6 decimals) *before* the
counts are drawn, so the JSON file holds the exact values used.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import re
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20220103
START_DATE = "2022-01-03"
N_DAYS = 90
N_LINEAGES = 20
SIGMA_COUNTRY = 0.5       # sd of the country deviations of the intercepts
NB_SIZE = 3.0             # negative-binomial dispersion of the daily totals
# mean sequences per day of the countries: log-uniform quantiles between
# EFFORT_MIN and EFFORT_MAX, randomly assigned (daily totals then range from 0
# to several hundred: weekends, a trend and negative-binomial noise)
EFFORT_MIN, EFFORT_MAX = 6.0, 400.0
# multiplicative weekday effect on sequencing effort, Monday ... Sunday
WEEKDAY_EFFECT = [1.15, 1.1, 1.1, 1.05, 1.0, 0.45, 0.35]
EMPTY_LINEAGE = "L17"     # rare, declining lineage that one small country never saw

# 114 ISO 3166-1 alpha-3 codes (labels only), sorted: this is the level order.
COUNTRIES = """
ALB ARE ARG ARM AUS AUT AZE BEL BGD BGR BHR BIH BLR BOL BRA BWA CAN CHE CHL
CHN CIV CMR COD COL CRI CUB CYP CZE DEU DNK DOM DZA ECU EGY ESP EST ETH FIN
FRA GBR GEO GHA GRC GTM HKG HND HRV HUN IDN IND IRL IRN IRQ ISL ISR ITA JAM
JOR JPN KAZ KEN KHM KOR KWT LBN LKA LTU LUX LVA MAR MDA MEX MKD MLT MMR MNG
MOZ MUS MWI MYS NGA NLD NOR NPL NZL OMN PAK PAN PER PHL POL PRT QAT ROU RUS
RWA SAU SEN SGP SRB SVK SVN SWE THA TUN TUR UGA UKR URY USA VNM ZAF ZMB ZWE
""".split()

LINEAGES = [f"L{k:02d}" for k in range(1, N_LINEAGES + 1)]

# (mean intercept mu_k at t0 vs L01, growth advantage r_k per day vs L01)
# for L02 ... L20: a few lineages rising, some flat, several declining.
LINEAGE_PARAMS = [
    (-8.0, 0.12),    # L02  rising fast: overtakes L01 late in the window
    (-6.5, 0.09),    # L03  rising
    (-5.0, 0.07),    # L04  rising
    (-3.8, 0.05),    # L05  rising
    (-3.2, 0.03),    # L06  rising slowly
    (-2.9, 0.02),    # L07
    (-2.7, 0.01),    # L08
    (-2.8, 0.0),     # L09  flat
    (-3.0, 0.0),     # L10  flat
    (-2.6, -0.005),  # L11
    (-2.4, -0.01),   # L12
    (-2.6, -0.015),  # L13
    (-2.1, -0.02),   # L14  declining
    (-2.3, -0.025),  # L15  declining
    (-1.9, -0.03),   # L16  declining
    (-2.4, -0.035),  # L17  rare, declining (absent from one small country)
    (-1.8, -0.04),   # L18  declining
    (-2.0, -0.045),  # L19  declining
    (-1.5, -0.05),   # L20  declining fast
]

PROCESS = (
    "Synthetic data. Days t = 0..89 from 2022-01-03 (t0 = 0). For country c and "
    "lineage k, log-odds vs the baseline L01: eta[c,k,t] = a[c,k] + r[k]*(t - t0), "
    "a[c,L01] = r[L01] = 0, a[c,k] = mu[k] + sigma*z[c,k], z ~ N(0,1); r[k] (per day) "
    "is common to all countries; a = -inf (lineage absent) for the single empty cell. "
    "Daily totals n[c,t] ~ NegBin(mean = m[c] * exp(trend[c]*(t - 45)) * weekday[dow(t)], "
    "size) drawn as gamma-Poisson; counts[c,t,:] ~ Multinomial(n[c,t], softmax(eta[c,:,t])). "
    "Parameters rounded to 6 decimals before drawing. numpy.random.default_rng(seed); "
    "draw order: z, effort permutation, trend, gamma, Poisson, multinomial."
)


def _round(x):
    return np.round(np.asarray(x, dtype=float), 6)


def simulate(seed: int = SEED) -> dict:
    """Draw the parameters and the counts.

    Returns
    -------
    dict
        ``counts`` (int64 array, countries x days x lineages), ``dates``
        (DatetimeIndex), and the parameter arrays.
    """
    rng = np.random.default_rng(seed)
    n_c, n_k, n_t = len(COUNTRIES), N_LINEAGES, N_DAYS
    assert n_c == 114 and len(set(COUNTRIES)) == n_c and COUNTRIES == sorted(COUNTRIES)

    mu = np.array([0.0] + [p[0] for p in LINEAGE_PARAMS])
    r = _round([0.0] + [p[1] for p in LINEAGE_PARAMS])

    # intercepts
    z = rng.standard_normal((n_c, n_k))
    a = _round(mu[None, :] + SIGMA_COUNTRY * z)
    a[:, 0] = 0.0

    # sequencing effort: log-uniform quantiles between EFFORT_MIN and
    # EFFORT_MAX in random order, plus a mild country-specific trend
    q = (np.arange(n_c) + 0.5) / n_c
    effort_sorted = np.exp(np.log(EFFORT_MIN) + q * (np.log(EFFORT_MAX) - np.log(EFFORT_MIN)))
    effort = _round(effort_sorted[rng.permutation(n_c)])
    trend = _round(rng.uniform(-0.012, 0.004, size=n_c))

    # the single empty cell: the rare lineage EMPTY_LINEAGE is absent
    # (probability 0) from the country with the lowest sequencing effort
    c_empty = int(np.argmin(effort))
    k_empty = LINEAGES.index(EMPTY_LINEAGE)
    a_use = a.copy()
    a_use[c_empty, k_empty] = -np.inf

    # daily totals: gamma-Poisson (negative binomial)
    dates = pd.date_range(START_DATE, periods=n_t, freq="D")
    t = np.arange(n_t, dtype=float)
    dow = (np.arange(n_t) + date.fromisoformat(START_DATE).weekday()) % 7   # 0 = Monday
    wd = np.asarray(WEEKDAY_EFFECT)[dow]
    mean_total = effort[:, None] * np.exp(trend[:, None] * (t[None, :] - 45.0)) * wd[None, :]
    lam = rng.standard_gamma(NB_SIZE, size=(n_c, n_t)) * (mean_total / NB_SIZE)
    totals = rng.poisson(lam)

    # multinomial counts given the totals
    eta = a_use[:, :, None] + r[None, :, None] * t[None, None, :]      # c x k x t
    eta = eta - eta.max(axis=1, keepdims=True)
    p = np.exp(eta)
    p /= p.sum(axis=1, keepdims=True)
    p = np.moveaxis(p, 1, 2)                                            # c x t x k
    counts = rng.multinomial(totals, p).astype(np.int64)                # c x t x k

    return dict(counts=counts, dates=dates, a=a, r=r, mu=mu, effort=effort,
                trend=trend, totals=totals, c_empty=c_empty, k_empty=k_empty,
                seed=seed)


def _check(sim: dict) -> None:
    """Assert the properties the shipped data promise."""
    cell = sim["counts"].sum(axis=1)                                    # c x k
    empty = np.argwhere(cell == 0)
    if empty.tolist() != [[sim["c_empty"], sim["k_empty"]]]:
        raise RuntimeError(f"expected exactly one empty cell, got {empty.tolist()}")
    if (sim["counts"].sum(axis=(0, 1)) == 0).any():
        raise RuntimeError("a lineage has no sequence at all")
    if (sim["counts"].sum(axis=(1, 2)) == 0).any():
        raise RuntimeError("a country has no sequence at all")


def _frames(sim: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    counts, dates = sim["counts"], sim["dates"]
    n_c, n_t, n_k = counts.shape
    date_str = dates.strftime("%Y-%m-%d").to_numpy()
    # wide: rows ordered by date, then country (level order)
    by_date = np.moveaxis(counts, 1, 0).reshape(n_t * n_c, n_k)        # (t, c) x k
    wide = pd.DataFrame({
        "date": np.repeat(date_str, n_c),
        "country": np.tile(np.asarray(COUNTRIES, dtype=object), n_t),
    })
    wide = pd.concat([wide, pd.DataFrame(by_date, columns=LINEAGES)], axis=1)
    # long: same order, then lineage; only count > 0
    ti, ci, ki = np.nonzero(np.moveaxis(counts, 1, 0))
    long = pd.DataFrame({
        "date": date_str[ti],
        "country": np.asarray(COUNTRIES, dtype=object)[ci],
        "lineage": np.asarray(LINEAGES, dtype=object)[ki],
        "count": np.moveaxis(counts, 1, 0)[ti, ci, ki],
    })
    return long, wide


def _truth(sim: dict) -> dict:
    a, r = sim["a"], sim["r"]
    c_empty, k_empty = sim["c_empty"], sim["k_empty"]
    intercepts = {}
    for ci, c in enumerate(COUNTRIES):
        row = [float(v) for v in a[ci]]
        if ci == c_empty:
            row[k_empty] = None       # -inf: lineage absent from this country
        intercepts[c] = row
    counts = sim["counts"]
    return {
        "description": "True parameters of the synthetic lineage-count tables "
                       "lineages.csv.gz / lineages_wide.csv.gz (made by scripts/make_lineages.py).",
        "seed": int(sim["seed"]),
        "generator": "scripts/make_lineages.py",
        "process": PROCESS,
        "start_date": START_DATE,
        "n_days": N_DAYS,
        "t0": START_DATE,
        "time_unit": "day",
        "baseline": LINEAGES[0],
        "lineages": LINEAGES,
        "countries": COUNTRIES,
        "growth_advantage_per_day": {k: float(v) for k, v in zip(LINEAGES, r)},
        "intercept_mean": {k: float(v) for k, v in zip(LINEAGES, sim["mu"])},
        "intercept_sd_country": SIGMA_COUNTRY,
        "intercepts_note": "intercepts[country][k] = log-odds of lineage k vs L01 at t0 "
                           "(lineage order as in 'lineages'); null = -inf (lineage absent).",
        "intercepts": intercepts,
        "sequencing": {
            "note": "daily total ~ NegBin(mean = mean_per_day[c] * exp(trend[c]*(t-45)) * "
                    "weekday[dow], size); t = days since t0",
            "mean_per_day": {c: float(v) for c, v in zip(COUNTRIES, sim["effort"])},
            "trend_per_day": {c: float(v) for c, v in zip(COUNTRIES, sim["trend"])},
            "weekday_effect_mon_to_sun": WEEKDAY_EFFECT,
            "nb_size": NB_SIZE,
        },
        "empty_cell": {"country": COUNTRIES[c_empty], "lineage": LINEAGES[k_empty],
                       "reason": "rare lineage absent (probability 0) from the country "
                                 "with the lowest sequencing effort"},
        "summary": {
            "total_sequences": int(counts.sum()),
            "n_long_rows": int((counts > 0).sum()),
            "n_wide_rows": int(counts.shape[0] * counts.shape[1]),
            "n_country_days_without_sequences": int((counts.sum(axis=2) == 0).sum()),
        },
    }


def _json(obj) -> str:
    """Indented JSON with lists of scalars kept on one line."""
    text = json.dumps(obj, indent=1, ensure_ascii=False, allow_nan=False)
    return re.sub(r"\[\s*([^\[\]{}]*?)\s*\]",
                  lambda m: "[" + re.sub(r",\s+", ", ", m.group(1)) + "]", text) + "\n"


def _csv_gz(df: pd.DataFrame) -> bytes:
    buf = io.StringIO()
    df.to_csv(buf, index=False, lineterminator="\n")
    # mtime=0 and no file name in the header: byte-identical reruns
    return gzip.compress(buf.getvalue().encode("utf-8"), compresslevel=9, mtime=0)


def make(outdir: str | Path = "data", seed: int = SEED) -> dict[str, Path]:
    """Write the three lineage files into ``outdir``.

    Parameters
    ----------
    outdir : str or Path
        Output folder (created if needed).
    seed : int
        Seed of :func:`numpy.random.default_rng`.

    Returns
    -------
    dict
        Maps file name to the written path.
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    sim = simulate(seed)
    _check(sim)
    long, wide = _frames(sim)
    truth = _truth(sim)
    out = {
        "lineages.csv.gz": _csv_gz(long),
        "lineages_wide.csv.gz": _csv_gz(wide),
        "lineages_truth.json": _json(truth).encode("utf-8"),
    }
    paths = {}
    for name, blob in out.items():
        path = outdir / name
        path.write_bytes(blob)
        paths[name] = path
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outdir", default=str(Path(__file__).resolve().parent.parent / "data"),
                        help="output folder (default: the repository's data/)")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    for name, path in make(args.outdir, args.seed).items():
        print(f"wrote {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
