"""The ``multinom`` command line.

Two commands::

    multinom fit DATA.csv --formula "y ~ x + g" [--weights COL] [--baseline LEVEL]
                 [--decay X] [--levels COL=a,b,c] [--predict-grid VAR=SPEC ...]
                 [--newdata GRID.csv] [--out-csv bands.csv] [--out-png plot.png]
    multinom demo [--out DIR] [--countries N] [--spline-df DF]

``fit`` fits a formula on a CSV file, prints the summary and, on request,
writes predictions with confidence bands over a grid (CSV) and a plot of them
(PNG). ``demo`` runs the lineage-frequency workflow on the bundled synthetic
data: fit, growth advantages against the known truth, predictions with bands,
plots. ``python -m multinom ...`` is the same program.

Prediction grids
----------------
By default the grid crosses, for every variable the formula reads: the
values seen in the data for a factor (and for a number with at most 12
distinct values), 50 evenly spaced values over the range of any other number,
and every day over the range of a date (at most 400 dates, evenly spaced,
beyond that). ``--predict-grid VAR=SPEC`` replaces one variable's values;
SPEC is ``a,b,c`` (a list), ``start:stop`` (numbers: 50 points; dates: every
day) or ``start:stop:step`` (step in days for dates).
"""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["main", "build_parser", "read_csv", "prediction_grid", "print_summary",
           "growth_advantages"]

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
_MAX_FACTOR_PANELS = 16


class CLIError(Exception):
    """A usage problem reported as ``multinom: error: ...`` with exit status 2."""


# --------------------------------------------------------------------------- #
# progress
# --------------------------------------------------------------------------- #
class Progress:
    """One line per step on ``stream``: elapsed time since start, then the step's duration."""

    def __init__(self, stream=None, quiet: bool = False):
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        self.t0 = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def note(self, message: str) -> None:
        if not self.quiet:
            print(f"[{self.elapsed():6.1f}s] {message}", file=self.stream, flush=True)

    @contextlib.contextmanager
    def step(self, message: str):
        start = time.perf_counter()
        if not self.quiet:
            print(f"[{self.elapsed():6.1f}s] {message} ...", end="", file=self.stream, flush=True)
        try:
            yield
        except BaseException:
            if not self.quiet:
                print(" failed", file=self.stream, flush=True)
            raise
        if not self.quiet:
            print(f" done ({time.perf_counter() - start:.1f} s)", file=self.stream, flush=True)


# --------------------------------------------------------------------------- #
# reading data
# --------------------------------------------------------------------------- #
def _parse_level_orders(items) -> dict:
    orders = {}
    for item in items or []:
        if "=" not in item:
            raise CLIError(f"--levels expects COL=level1,level2,...; got {item!r}")
        col, vals = item.split("=", 1)
        orders[col.strip()] = [v.strip() for v in vals.split(",") if v.strip()]
    return orders


def read_csv(path, sep: str = ",", level_orders: dict | None = None) -> pd.DataFrame:
    """Read a CSV file for fitting or as new data.

    Text columns whose values all look like ISO dates (``YYYY-MM-DD``,
    optionally with a time) become datetimes; ``level_orders`` (column ->
    list of levels) turns columns into ordered-level categoricals, the first
    level being the baseline/reference, as R's ``factor(x, levels=)``.
    """
    path = Path(path)
    if not path.is_file():
        raise CLIError(f"no such file: {path}")
    df = pd.read_csv(path, sep=sep)
    for col in df.columns:
        s = df[col]
        if pd.api.types.is_string_dtype(s) or s.dtype == object:
            vals = s.dropna()
            if len(vals) and vals.map(lambda v: isinstance(v, str) and bool(_DATE_RE.match(v))).all():
                df[col] = pd.to_datetime(s)
    for col, levels in (level_orders or {}).items():
        if col not in df.columns:
            raise CLIError(f"--levels names column {col!r}, which is not in {path.name}")
        values = df[col]
        if pd.api.types.is_numeric_dtype(values):
            levels = [_convert_like(v, values) for v in levels]
        else:
            values = values.astype(str).where(values.notna())
        unknown = sorted(set(values.dropna().unique()) - set(levels), key=str)
        if unknown:
            raise CLIError(f"--levels for {col!r} lacks value(s) {unknown[:5]} present in the data")
        df[col] = pd.Categorical(values, categories=levels)
    return df


def _convert_like(value: str, like: pd.Series):
    """Convert a command-line string to the type of the column ``like``."""
    if pd.api.types.is_datetime64_any_dtype(like):
        return pd.Timestamp(value)
    if isinstance(like.dtype, pd.CategoricalDtype):
        cats = like.cat.categories
        if len(cats) and not isinstance(cats[0], str):
            return _convert_like(value, pd.Series(cats))
        return value
    if pd.api.types.is_bool_dtype(like):
        if value.lower() in ("true", "1"):
            return True
        if value.lower() in ("false", "0"):
            return False
        raise CLIError(f"{value!r} is not a boolean")
    if pd.api.types.is_integer_dtype(like):
        try:
            return int(value)
        except ValueError:
            return float(value)
    if pd.api.types.is_float_dtype(like):
        return float(value)
    return value


# --------------------------------------------------------------------------- #
# prediction grid
# --------------------------------------------------------------------------- #
def _is_date(s: pd.Series) -> bool:
    return pd.api.types.is_datetime64_any_dtype(s)


def _is_number(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s) \
        and not isinstance(s.dtype, pd.CategoricalDtype)


def _values_in_order(s: pd.Series) -> list:
    s = s.dropna()
    if isinstance(s.dtype, pd.CategoricalDtype):
        present = set(s.unique().tolist())
        return [c for c in s.cat.categories if c in present]
    try:
        return sorted(pd.unique(s).tolist())
    except TypeError:
        return list(pd.unique(s))


def _default_values(s: pd.Series, max_dates: int = 400, n_numeric: int = 50):
    s = s.dropna()
    if not len(s):
        raise CLIError(f"column {s.name!r} has no values to build a grid from")
    if _is_date(s):
        lo, hi = s.min().normalize(), s.max().normalize()
        days = int((hi - lo) / pd.Timedelta(days=1)) + 1
        if days <= max_dates:
            return pd.date_range(lo, hi, freq="D")
        return pd.DatetimeIndex(pd.to_datetime(np.linspace(lo.value, hi.value, max_dates))).normalize().unique()
    if _is_number(s):
        uniq = np.unique(s.to_numpy())
        if len(uniq) <= 12:
            return uniq
        return np.linspace(float(uniq[0]), float(uniq[-1]), n_numeric)
    return _values_in_order(s)


def _parse_spec(var: str, spec: str, like: pd.Series):
    spec = spec.strip()
    if ":" in spec and (_is_date(like) or _is_number(like)):
        parts = spec.split(":")
        if len(parts) not in (2, 3):
            raise CLIError(f"--predict-grid {var}={spec}: expected start:stop or start:stop:step")
        if _is_date(like):
            lo, hi = pd.Timestamp(parts[0]), pd.Timestamp(parts[1])
            step = int(parts[2]) if len(parts) == 3 else 1
            if step < 1 or hi < lo:
                raise CLIError(f"--predict-grid {var}={spec}: need start <= stop and a step >= 1 day")
            return pd.date_range(lo, hi, freq=f"{step}D")
        lo, hi = float(parts[0]), float(parts[1])
        if hi < lo:
            raise CLIError(f"--predict-grid {var}={spec}: need start <= stop")
        if len(parts) == 3:
            step = float(parts[2])
            if step <= 0:
                raise CLIError(f"--predict-grid {var}={spec}: the step must be positive")
            return np.arange(lo, hi + step * 1e-9, step)
        return np.linspace(lo, hi, 50)
    try:
        return [_convert_like(v.strip(), like) for v in spec.split(",") if v.strip()]
    except ValueError as exc:
        raise CLIError(f"--predict-grid {var}={spec}: {exc}") from exc


def _formula_variables(fit) -> list:
    """The right-hand side's variables in the order they appear in the formula."""
    rhs = fit._design.spec.rhs
    variables = list(fit._design.spec.variables)

    def first(v):
        m = re.search(r"(?<![A-Za-z0-9_.])" + re.escape(v) + r"(?![A-Za-z0-9_.])", rhs)
        return m.start() if m else len(rhs)
    return sorted(variables, key=first)


def prediction_grid(fit, data: pd.DataFrame, specs=None, max_rows: int = 100_000) -> pd.DataFrame:
    """All combinations of values of the formula's variables (see the module docstring).

    Parameters
    ----------
    fit : MultinomFit
    data : pandas.DataFrame
        The data the model was fitted on (value ranges and factor levels).
    specs : list of str, optional
        ``"VAR=SPEC"`` items overriding a variable's values.
    max_rows : int
        Refuse grids larger than this (use ``specs`` to narrow them).

    Returns
    -------
    pandas.DataFrame
        Factors first, then numbers and dates (the last variable varies
        fastest); categorical columns keep the data's categories.
    """
    spec = fit._design.spec
    if spec.offset_columns or spec.offset_is_array:
        raise CLIError("the model has an offset: give the prediction rows (with offsets) via --newdata")
    variables = _formula_variables(fit)
    overrides = {}
    for item in specs or []:
        if "=" not in item:
            raise CLIError(f"--predict-grid expects VAR=SPEC, got {item!r}")
        var, val = item.split("=", 1)
        var = var.strip()
        if var not in variables:
            raise CLIError(f"--predict-grid names {var!r}, which the formula does not use "
                           f"(variables: {', '.join(variables)})")
        overrides[var] = _parse_spec(var, val, data[var])
    values = {}
    for var in variables:
        values[var] = overrides[var] if var in overrides else _default_values(data[var])
    continuous = [v for v in variables if _is_date(data[v]) or
                  (_is_number(data[v]) and len(values[v]) > 12)]
    order = [v for v in variables if v not in continuous] + continuous
    n = int(np.prod([len(values[v]) for v in order])) if order else 1
    if n > max_rows:
        sizes = ", ".join(f"{v}: {len(values[v])}" for v in order)
        raise CLIError(f"the prediction grid would have {n:,} rows ({sizes}); narrow it with "
                       "--predict-grid VAR=SPEC or give --newdata")
    if not order:
        return pd.DataFrame(index=range(1))
    grid = pd.MultiIndex.from_product([list(values[v]) for v in order], names=order).to_frame(index=False)
    for v in order:
        col = data[v]
        if isinstance(col.dtype, pd.CategoricalDtype):
            grid[v] = pd.Categorical(grid[v], categories=col.cat.categories, ordered=col.cat.ordered)
        elif _is_date(col):
            grid[v] = pd.to_datetime(grid[v])
    return grid


# --------------------------------------------------------------------------- #
# printing
# --------------------------------------------------------------------------- #
def _fmt_p(p: float) -> str:
    if np.isnan(p):
        return "NaN"
    return "<2e-16" if p < 2e-16 else f"{p:.3g}"


def print_summary(fit, full: bool = False, max_rows: int = 200, big_term: int = 10,
                  terms=None, file=None) -> None:
    """Print ``fit.summary()``, abridged when the coefficient table is long.

    The abridged form shows one table per model term with at most
    ``big_term`` columns (rows = non-baseline levels) and names the terms
    left out; ``terms`` picks the terms to show instead.
    """
    file = file if file is not None else sys.stdout
    s = fit.summary()
    if full or (terms is None and len(s.table) <= max_rows):
        print(s, file=file)
        return
    term_cols = fit._design.term_columns
    if terms is None:
        terms = [t for t, cols in term_cols.items() if len(cols) <= big_term]
    hidden = [t for t in term_cols if t not in terms]
    t = s.table
    print(f"multinom: {fit.call}", file=file)
    print(f"{len(fit.levels)} levels (baseline {fit.baseline}), {len(fit.terms)} model-matrix columns, "
          f"{len(t)} coefficients; abridged:", file=file)
    from .summary import significance_stars
    for term in terms:
        for j in term_cols[term]:
            col = fit.terms[j]
            rows = [f"{lev}:{col}" for lev in fit.levels[1:]] if not fit.binary else [col]
            part = t.loc[rows]
            show = pd.DataFrame({
                "Estimate": part["estimate"].map(lambda v: f"{v:.6g}"),
                "Std. Error": part["std_error"].map(lambda v: f"{v:.4g}"),
                "z value": part["z"].map(lambda v: f"{v:.3f}"),
                "Pr(>|z|)": part["p_value"].map(_fmt_p),
                "": significance_stars(part["p_value"].to_numpy()),
            })
            show.index = fit.levels[1:] if not fit.binary else [fit.levels[1]]
            print(f"\nCoefficient of {col} (log-odds vs {fit.baseline}), by level:", file=file)
            with pd.option_context("display.width", 120, "display.max_rows", 10_000):
                print(show.to_string(), file=file)
    if hidden:
        parts = [("(Intercept)" if h == "1" else h) + f" ({len(term_cols[h])} column"
                 + ("s" if len(term_cols[h]) > 1 else "") + ")" for h in hidden]
        print(f"\nNot shown: {', '.join(parts)} x {len(fit.levels) - 1} levels "
              "(--full-summary prints everything).", file=file)
    print("---\nSignif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1", file=file)
    _print_fit_stats(fit, file)


def _print_fit_stats(fit, file) -> None:
    conv = fit.convergence
    state = "converged" if fit.converged else "NOT converged"
    print(f"\nResidual Deviance: {fit.deviance:.4f} on {fit.edf} estimated coefficients", file=file)
    print(f"AIC: {fit.aic:.4f}", file=file)
    print(f"Optimisation: {state} ({conv['method']}, {fit.n_iter} iterations, "
          f"relative gap estimate {conv['criterion']:.1e})", file=file)
    if fit.aliased:
        print(f"Aliased columns (coefficients fixed at 0): {', '.join(fit.aliased)}", file=file)
    if fit.diverging:
        print(f"Diverging coefficients (separation): {', '.join(fit.diverging)}", file=file)


def growth_advantages(fit, term: str = "date", level: float = 0.95) -> pd.DataFrame:
    """The ``term`` coefficient of every level with its SE and Wald CI.

    In ``lineage ~ date + country`` the ``date`` coefficient of lineage ``k``
    is its growth advantage per day over the baseline lineage:
    ``d/dt log(p_k / p_baseline)``.

    Returns
    -------
    pandas.DataFrame
        Indexed by level (non-baseline), columns ``estimate``, ``std_error``,
        ``lower``, ``upper``.
    """
    from scipy.stats import norm
    if term not in fit.terms:
        raise CLIError(f"the model has no column {term!r} (columns: {fit.terms[:8]}...)")
    labels = [f"{lev}:{term}" for lev in fit.levels[1:]] if not fit.binary else [term]
    est = fit._B[:, fit.terms.index(term)]
    se = fit.std_errors().loc[labels].to_numpy()
    z = norm.ppf(0.5 + level / 2)
    return pd.DataFrame({"estimate": est, "std_error": se, "lower": est - z * se, "upper": est + z * se},
                        index=pd.Index(fit.levels[1:], name="level"))


# --------------------------------------------------------------------------- #
# fitting with warnings reported, not raised
# --------------------------------------------------------------------------- #
def _fit(formula, data, progress, label=None, **kwargs):
    from .model import multinom
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with progress.step(f"fitting {label or formula}"):
            fit = multinom(formula, data, **kwargs)
    messages = [f"{w.category.__name__}: {w.message}" for w in caught
                if not issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning))]
    return fit, messages


def _write_csv(df: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    date_cols = [c for c in df.columns if _is_date(df[c])]
    date_format = None
    if date_cols and all((df[c].dropna() == df[c].dropna().dt.normalize()).all() for c in date_cols):
        date_format = "%Y-%m-%d"
    df.to_csv(path, index=False, date_format=date_format, float_format="%.10g")


def _use_agg():
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError("writing a PNG needs matplotlib: pip install multinom[plot]") from exc
    matplotlib.use("Agg")


def _save(fig, path: Path, dpi: int = 110) -> None:
    import matplotlib.pyplot as plt
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    plt.close(fig)


# --------------------------------------------------------------------------- #
# multinom fit
# --------------------------------------------------------------------------- #
def _convert_baseline(baseline, data, formula):
    if baseline is None:
        return None
    from ._formula import parse_formula
    parsed = parse_formula(formula)
    if parsed.is_count_matrix or parsed.response[0] not in data.columns:
        return baseline
    return _convert_like(baseline, data[parsed.response[0]])


def _observed_for_plot(fit, data, x, facet, weights):
    """Long observed counts (x, [facet], level, count) when the plot shows every variable."""
    from ._formula import parse_formula
    parsed = parse_formula(fit.formula)
    keys = [x] + ([facet] if facet else [])
    if any(k not in data.columns for k in keys):
        return None
    w = data[weights].to_numpy(dtype=float) if isinstance(weights, str) else np.ones(len(data))
    if parsed.is_count_matrix:
        cols = list(parsed.response)
        long = data[keys + cols].copy()
        long[cols] = long[cols].to_numpy(dtype=float) * w[:, None]
        long = long.melt(id_vars=keys, value_vars=cols, var_name="level", value_name="count")
    else:
        long = data[keys].copy()
        long["level"] = data[parsed.response[0]].astype(object).map(lambda v: v if pd.isna(v) else str(v))
        long["count"] = w
    return long


def _plot_choice(fit, data, grid, plot_x, facet):
    variables = _formula_variables(fit)
    if not variables:
        return None, None, {}
    if plot_x is None:
        dates = [v for v in variables if _is_date(grid[v])]
        numbers = [v for v in variables if _is_number(grid[v]) and grid[v].nunique() > 2]
        factors = [v for v in variables if v not in dates and v not in numbers]
        plot_x = (dates or numbers or factors or variables)[0]
    elif plot_x not in variables:
        raise CLIError(f"--plot-x {plot_x!r} is not a variable of the formula ({', '.join(variables)})")
    others = [v for v in variables if v != plot_x]
    if facet is None:
        candidates = [v for v in others if not _is_date(grid[v]) and
                      grid[v].nunique() <= _MAX_FACTOR_PANELS and
                      (not _is_number(grid[v]) or grid[v].nunique() <= 12)]
        facet = candidates[0] if candidates else None
    elif facet not in variables or facet == plot_x:
        raise CLIError(f"--facet {facet!r} must be another variable of the formula ({', '.join(variables)})")
    held = {}
    for v in others:
        if v == facet:
            continue
        values = _values_in_order(grid[v])
        if _is_number(grid[v]) and v in data.columns:  # a number: the grid value nearest the median
            med = float(np.nanmedian(data[v].to_numpy(dtype=float)))
            held[v] = min(values, key=lambda val: abs(float(val) - med))
        else:  # a factor: its first (reference) level; a date: its first day
            held[v] = values[0]
    return plot_x, facet, held


def cmd_fit(args) -> int:
    progress = Progress(quiet=args.quiet)
    orders = _parse_level_orders(args.levels)
    with progress.step(f"reading {args.data}"):
        data = read_csv(args.data, sep=args.sep, level_orders=orders)
    baseline = _convert_baseline(args.baseline, data, args.formula)
    fit, messages = _fit(args.formula, data, progress, weights=args.weights, baseline=baseline,
                         decay=args.decay, subset=args.subset, maxit=args.maxit)
    for m in messages:
        print(f"warning: {m}", file=sys.stderr)
    with progress.step("computing standard errors"):
        fit.std_errors()
    print_summary(fit, full=args.full_summary)
    if not (args.out_csv or args.out_png):
        return 0
    if args.newdata:
        grid = read_csv(args.newdata, sep=args.sep, level_orders=orders)
    else:
        used = data.loc[fit._design.row_index]
        grid = prediction_grid(fit, used, args.predict_grid, max_rows=args.max_grid)
    with progress.step(f"predicting {len(grid):,} rows x {len(fit.levels)} levels with "
                       f"{args.level:g} bands"):
        pred = fit.predict(grid, se=True, level=args.level, interval=args.interval)
        pred = pred.drop(columns="row")
    if args.out_csv:
        _write_csv(pred, Path(args.out_csv))
        print(f"\nwrote {args.out_csv}: {len(pred):,} rows "
              f"({', '.join(map(str, pred.columns))})")
    if args.out_png:
        _use_agg()
        from ._formula import parse_formula
        from .plotting import plot_frequencies
        x, facet, held = _plot_choice(fit, data, grid, args.plot_x, args.facet)
        if x is None:
            raise CLIError("the formula has no variables to plot against")
        sub = pred
        for v, val in held.items():
            sub = sub[sub[v] == val]
        observed = None
        if not held and not args.newdata:
            observed = _observed_for_plot(fit, data.loc[fit._design.row_index], x, facet, args.weights)
        title = fit.formula
        if held:
            title += "  (" + ", ".join(f"{k} = {v}" for k, v in held.items()) + ")"
        with progress.step("plotting"):
            fig = plot_frequencies(sub, x=x, facet=facet, observed=observed, title=title,
                                   observed_level="level" if observed is not None else None,
                                   facet_title="{facet} = {value}",
                                   legend_title=" + ".join(parse_formula(fit.formula).response))
            _save(fig, Path(args.out_png))
        print(f"wrote {args.out_png}")
    return 0


# --------------------------------------------------------------------------- #
# multinom demo
# --------------------------------------------------------------------------- #
def _table(df: pd.DataFrame, formats: dict) -> str:
    shown = df.copy()
    for col, fmt in formats.items():
        shown[col] = shown[col].map(lambda v, f=fmt: f.format(v) if not pd.isna(v) else "NA")
    with pd.option_context("display.width", 120, "display.max_rows", 10_000):
        return shown.to_string()


def cmd_demo(args) -> int:
    from .datasets import load_dataset, load_truth
    progress = Progress(quiet=args.quiet)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print("multinom demo: lineage frequencies on the bundled synthetic data")
    print("=" * 66)
    with progress.step("loading the bundled lineage counts"):
        df = load_dataset("lineages")
        truth = load_truth("lineages")
    totals = df.groupby("country", observed=True)["count"].sum().sort_values(ascending=False, kind="stable")
    if args.countries is not None:
        if args.countries < 1:
            raise CLIError("--countries must be at least 1")
        keep = list(totals.index[:args.countries])
        df = df[df["country"].isin(keep)].copy()
        df["country"] = df["country"].cat.remove_unused_categories()
        totals = totals.loc[keep]
    n_countries = df["country"].nunique()
    lineages_present = df["lineage"].cat.remove_unused_categories().cat.categories
    print(f"\nData: {len(df):,} rows (date, country, lineage, count), {int(df['count'].sum()):,} "
          f"sequences of {len(lineages_present)} lineages in {n_countries} countries, "
          f"{df['date'].min():%Y-%m-%d} to {df['date'].max():%Y-%m-%d}"
          + ("" if args.countries is None else f" (the {n_countries} countries with most sequences)")
          + ".")
    formula = "lineage ~ date + country" if n_countries > 1 else "lineage ~ date"
    print(f"Model: multinom({formula!r}, weights='count'): log-odds of each lineage vs "
          f"{truth['baseline']} linear in time with a country-specific intercept.\n")
    fit, messages = _fit(formula, df, progress, weights="count")
    for m in messages:
        if "SeparationWarning" in m and fit.diverging:
            print(f"note: {', '.join(fit.diverging)} diverge(s) to -infinity: that lineage has no "
                  "sequence at all in that country (the data's one empty cell), so its MLE is not "
                  "finite. The other coefficients are unaffected.\n")
        else:
            print(f"warning: {m}\n")
    n_coef = len(fit.coef_names)
    with progress.step(f"computing the covariance matrix ({n_coef:,} x {n_coef:,})"):
        fit.std_errors()
    terms = [t for t in fit._design.term_columns if t != "1" and len(fit._design.term_columns[t]) <= 10]
    print_summary(fit, full=args.full_summary, terms=None if args.full_summary else terms)
    if not args.full_summary:
        print("(The intercepts are the log-odds on the date origin 1970-01-01, a long extrapolation; "
              "the date slopes do not depend on the origin.)")

    # ---- growth advantages vs the truth ----------------------------------
    ga = growth_advantages(fit, "date", level=args.level)
    true = pd.Series(truth["growth_advantage_per_day"]).reindex(ga.index)
    ga["truth"] = true
    ga["covered"] = (ga["lower"] <= ga["truth"]) & (ga["truth"] <= ga["upper"])
    pct = f"{100 * args.level:g}%"
    print(f"\nGrowth advantage per day vs {fit.baseline} (the date coefficients, {pct} Wald CIs) "
          "against the true values:")
    print(_table(ga.rename(columns={"lower": f"{pct} lower", "upper": f"{pct} upper"}),
                 {"estimate": "{:+.5f}", "std_error": "{:.5f}", f"{pct} lower": "{:+.5f}",
                  f"{pct} upper": "{:+.5f}", "truth": "{:+.4f}"}))
    n_cov = int(ga["covered"].sum())
    err = (ga["estimate"] - ga["truth"]).abs()
    print(f"{n_cov} of {len(ga)} true values lie inside their {pct} intervals "
          f"(expected about {args.level * len(ga):.0f}); largest error {err.max():.5f} per day.")
    ga_path = out / "growth_advantages.csv"
    _write_csv(ga.reset_index(), ga_path)

    # ---- optional spline model ------------------------------------------
    if args.spline_df:
        from scipy.stats import chi2
        sformula = formula.replace("date", f"ns(date, df={args.spline_df})", 1)
        sfit, smessages = _fit(sformula, df, progress, weights="count")
        ddev = fit.deviance - sfit.deviance
        ddf = sfit.edf - fit.edf
        p = chi2.sf(ddev, ddf) if ddf > 0 else float("nan")
        print(f"\nIs the log-odds trend linear? {sformula} vs {formula}: likelihood-ratio "
              f"statistic {ddev:.2f} on {ddf} df, p = {p:.3g}; AIC {sfit.aic:.1f} vs {fit.aic:.1f}.")

    # ---- predictions with bands ------------------------------------------
    if args.plot_countries:
        shown = [c.strip() for c in args.plot_countries.split(",") if c.strip()]
        unknown = [c for c in shown if c not in set(df["country"].cat.categories)]
        if unknown:
            raise CLIError(f"--plot-countries: {unknown} not among the fitted countries")
    else:
        shown = list(totals.index[:min(4, n_countries)])
    dates = pd.date_range(df["date"].min(), df["date"].max(), freq="D")
    grid = pd.MultiIndex.from_product([shown, dates], names=["country", "date"]).to_frame(index=False)
    grid["country"] = pd.Categorical(grid["country"], categories=df["country"].cat.categories)
    with progress.step(f"predicting {len(grid)} (country, date) rows with {pct} bands"):
        pred = fit.predict(grid, se=True, level=args.level).drop(columns="row")
    pred_path = out / "lineage_predictions.csv"
    _write_csv(pred, pred_path)
    last = pred[pred["date"] == dates[-1]].sort_values(["country", "prob"], ascending=[True, False])
    top = last.groupby("country", observed=True).head(3)
    print(f"\nPredicted frequencies on {dates[-1]:%Y-%m-%d}, top 3 lineages per country:")
    print(_table(top[["country", "level", "prob", "lower", "upper"]].set_index(["country", "level"]),
                 {"prob": "{:.3f}", "lower": "{:.3f}", "upper": "{:.3f}"}))

    # ---- plots -----------------------------------------------------------
    written = [ga_path, pred_path]
    if not args.no_plots:
        try:
            _use_agg()
        except ImportError as exc:
            print(f"\nskipping the plots: {exc}")
        else:
            from .plotting import plot_frequencies, plot_muller
            obs = df[df["country"].isin(shown)]
            # the lines of 20 lineages overlap near 0: draw those that reach 10% somewhere
            peak = pred.groupby("level", observed=True)["prob"].max()
            major = [lev for lev in peak.index if peak[lev] >= 0.1]
            with progress.step("plotting frequencies with bands and observed points"):
                fig = plot_frequencies(pred, x="date", facet="country", observed=obs,
                                       observed_level="lineage", levels=major, legend_title="lineage",
                                       title=f"{formula}: lineages reaching 10%, {pct} bands")
                png1 = out / "lineage_frequencies.png"
                _save(fig, png1)
            with progress.step("plotting the Muller plot"):
                fig = plot_muller(pred, x="date", facet="country", legend_title="lineage",
                                  title="Predicted lineage composition (Muller plot)")
                png2 = out / "lineage_muller.png"
                _save(fig, png2)
            written += [png1, png2]
    print("\nWrote:")
    for path in written:
        print(f"  {path}")
    progress.note(f"finished in {progress.elapsed():.1f} s")
    return 0


# --------------------------------------------------------------------------- #
# parser
# --------------------------------------------------------------------------- #
def _level(value: str) -> float:
    try:
        v = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not 0 < v < 1:
        raise argparse.ArgumentTypeError(f"must be strictly between 0 and 1, got {v}")
    return v


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    parser = argparse.ArgumentParser(
        prog="multinom",
        description="Multinomial logit models (R's nnet::multinom) with fast, exact inference.",
        epilog="Run 'multinom demo' for the lineage-frequency example; "
               "'multinom fit --help' for fitting your own CSV.")
    parser.add_argument("--version", action="version", version=f"multinom {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="{fit,demo}")

    p = sub.add_parser("fit", help="fit a formula on a CSV file",
                       description="Fit a multinomial logit on a CSV file, print the summary and "
                                   "optionally write predictions with confidence bands (CSV) and a plot (PNG).",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="grid: by default every combination of the formula's variables "
                              "(factor levels seen; 50 values over a numeric range; every day over a date range).\n"
                              "--predict-grid VAR=SPEC overrides one variable: 'a,b,c', 'start:stop' or "
                              "'start:stop:step' (days for dates).\n"
                              "example: multinom fit counts.csv --formula 'lineage ~ date + country' "
                              "--weights count --out-csv bands.csv --out-png bands.png")
    p.add_argument("data", help="CSV file (columns of ISO dates are read as dates)")
    p.add_argument("--formula", "-f", required=True, help="R-style formula, e.g. 'y ~ x + g'")
    p.add_argument("--weights", "-w", help="column of frequency weights (counts)")
    p.add_argument("--baseline", help="reference level of the response (default: the first)")
    p.add_argument("--decay", type=float, default=0.0, help="nnet's weight decay (ridge penalty)")
    p.add_argument("--subset", help="pandas query selecting the rows to fit, e.g. 'age > 30'")
    p.add_argument("--levels", action="append", metavar="COL=a,b,c",
                   help="level order of a column (first = reference); repeatable")
    p.add_argument("--maxit", type=int, default=10000, help="iteration limit (default 10000)")
    p.add_argument("--sep", default=",", help="field separator of the CSV files (default ',')")
    p.add_argument("--full-summary", action="store_true",
                   help="print every coefficient even for large models")
    p.add_argument("--predict-grid", action="append", metavar="VAR=SPEC",
                   help="values of a variable in the prediction grid; repeatable")
    p.add_argument("--newdata", metavar="GRID.csv", help="predict on these rows instead of a grid")
    p.add_argument("--max-grid", type=int, default=100_000, help="largest grid allowed (rows)")
    p.add_argument("--level", type=_level, default=0.95, help="confidence level of the bands (0.95)")
    p.add_argument("--interval", choices=("logit", "probability"), default="logit",
                   help="bands built on the logit scale (default) or symmetric on the probability scale")
    p.add_argument("--out-csv", metavar="FILE", help="write predictions with bands (long format)")
    p.add_argument("--out-png", metavar="FILE", help="write a plot of the predictions (needs matplotlib)")
    p.add_argument("--plot-x", metavar="VAR", help="horizontal axis of the plot (default: a date, "
                   "else a number, else a factor)")
    p.add_argument("--facet", metavar="VAR", help="one panel per value of this variable "
                   "(default: the first factor other than the x variable)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress lines")
    p.set_defaults(func=cmd_fit)

    d = sub.add_parser("demo", help="the lineage-frequency workflow on the bundled data",
                       description="Fit lineage ~ date + country (weights = count) on the bundled synthetic "
                                   "lineage counts, compare the growth advantages with the truth, write "
                                   "predictions with bands (CSV) and plots (PNG).")
    d.add_argument("--out", default=".", metavar="DIR", help="output folder (default: the current one)")
    d.add_argument("--countries", type=int, metavar="N",
                   help="use only the N countries with the most sequences (faster)")
    d.add_argument("--plot-countries", metavar="A,B,...",
                   help="countries to predict and plot (default: the 4 with the most sequences)")
    d.add_argument("--spline-df", type=int, default=0, metavar="DF",
                   help="also fit ns(date, df=DF) and test it against the linear trend")
    d.add_argument("--level", type=_level, default=0.95, help="confidence level (0.95)")
    d.add_argument("--full-summary", action="store_true", help="print every coefficient")
    d.add_argument("--no-plots", action="store_true", help="skip the PNG files")
    d.add_argument("--quiet", "-q", action="store_true", help="no progress lines")
    d.set_defaults(func=cmd_demo)
    return parser


def main(argv=None) -> int:
    """Run the command line; returns the exit status (0 success, 1 model/data error, 2 usage)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    from .exceptions import MultinomError
    try:
        return int(args.func(args) or 0)
    except CLIError as exc:
        print(f"multinom {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except (MultinomError, ValueError, KeyError, TypeError, ImportError, OSError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"multinom {args.command}: error: {type(exc).__name__}: {msg}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
