"""Plots of predicted level frequencies: lines with bands, and Muller plots.

Both functions take the long (tidy) table that
``fit.predict(newdata, se=True)`` returns: one row per (newdata row, level)
with the newdata's formula columns (``date``, ``country``...), ``level``,
``prob``, ``se``, ``lower`` and ``upper``.

* :func:`plot_frequencies`: one line per level over ``x`` with its
  confidence band as a shaded ribbon, optionally one panel per value of a
  factor (``facet="country"``: small multiples with shared axes), optionally
  with the observed frequencies as points whose area grows with the number
  of observations behind them;
* :func:`plot_muller`: the predicted frequencies stacked to 1 (a "Muller
  plot"), one panel per facet value.

matplotlib is an optional dependency (``pip install multinom[plot]``); it is
imported when a function is called. The functions draw through
``matplotlib.pyplot`` (so ``plt.show()`` works) and return the
:class:`matplotlib.figure.Figure`; save it with ``fig.savefig("plot.png")``
and release it with ``plt.close(fig)`` when making many figures.

Examples
--------
>>> import pandas as pd, multinom
>>> from multinom.plotting import plot_frequencies, plot_muller
>>> df = multinom.load_dataset("lineages")
>>> df = df[df["country"].isin(["USA", "GBR"])]
>>> df["country"] = df["country"].cat.remove_unused_categories()
>>> fit = multinom.multinom("lineage ~ date + country", df, weights="count")
>>> grid = pd.MultiIndex.from_product([pd.date_range("2022-01-03", "2022-04-02"),
...                                    ["GBR", "USA"]], names=["date", "country"]).to_frame(index=False)
>>> pred = fit.predict(grid, se=True)
>>> fig = plot_frequencies(pred, x="date", facet="country", observed=df)   # doctest: +SKIP
>>> fig.savefig("frequencies.png")                                           # doctest: +SKIP
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = ["plot_frequencies", "plot_muller", "level_colors"]

_INSTALL_HINT = "plotting needs matplotlib: pip install multinom[plot]  (or: pip install matplotlib)"


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - exercised only without matplotlib
        raise ImportError(_INSTALL_HINT) from exc
    return plt


# --------------------------------------------------------------------------- #
# helpers
# --------------------------------------------------------------------------- #
def _levels_and_facets(data: pd.DataFrame, level_col: str, levels, colors, facet):
    """The levels to draw (checked against ``pred``), their colours and the facet values."""
    all_levels = _ordered_unique(data[level_col])
    levels = all_levels if levels is None else list(levels)
    unknown = [lev for lev in levels if lev not in all_levels]
    if unknown:
        raise ValueError(f"level(s) {unknown} are not in pred (levels: {all_levels})")
    cmap = _colors_for(levels, all_levels, colors)
    facet_values = _ordered_unique(data[facet]) if facet is not None else [None]
    if not facet_values:
        raise ValueError("pred has no rows to plot")
    return levels, cmap, facet_values


def _ordered_unique(s: pd.Series) -> list:
    """Values of ``s`` present: categorical order, sorted numbers/dates, else first appearance."""
    s = s.dropna()
    if isinstance(s.dtype, pd.CategoricalDtype):
        present = set(s.unique().tolist())
        return [c for c in s.cat.categories if c in present]
    values = pd.unique(s).tolist()
    if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_datetime64_any_dtype(s):
        return sorted(values)
    return values


def level_colors(levels, colors=None) -> dict:
    """A colour per level: ``tab10`` up to 10 levels, ``tab20`` up to 20, else ``turbo``.

    With 11 to 20 levels the first ten get ``tab20``'s strong colours (those of
    ``tab10``) and the others their light variants.

    Parameters
    ----------
    levels : sequence
    colors : dict, sequence or str, optional
        A mapping level -> colour, a list of colours (used in order), or the
        name of a matplotlib colormap.

    Returns
    -------
    dict
        level -> RGBA tuple (or the colour given).
    """
    from matplotlib import colormaps
    levels = list(levels)
    n = len(levels)
    if isinstance(colors, dict):
        missing = [lev for lev in levels if lev not in colors]
        if missing:
            raise ValueError(f"colors has no entry for level(s) {missing[:5]}")
        return {lev: colors[lev] for lev in levels}
    if colors is not None and not isinstance(colors, str):
        colors = list(colors)
        if len(colors) < n:
            raise ValueError(f"colors has {len(colors)} entries for {n} levels")
        return dict(zip(levels, colors))
    if isinstance(colors, str):
        cmap = colormaps[colors]
    elif n <= 10:
        cmap = colormaps["tab10"]
    elif n <= 20:
        cmap = colormaps["tab20"]
    else:
        cmap = colormaps["turbo"]
    if getattr(cmap, "N", 256) >= 256:  # continuous map: spread the levels over it
        return {lev: cmap(i / max(n - 1, 1)) for i, lev in enumerate(levels)}
    if colors is None and n > 10:  # tab20: strong colours first, then the light ones
        order = list(range(0, 20, 2)) + list(range(1, 20, 2))
        return {lev: cmap(order[i]) for i, lev in enumerate(levels)}
    return {lev: cmap(i % cmap.N) for i, lev in enumerate(levels)}


def _colors_for(levels, all_levels, colors):
    """Colours of ``levels`` as assigned over ``all_levels``: a level keeps its colour in every plot."""
    if colors is None or isinstance(colors, str):
        full = level_colors(all_levels, colors)
        return {lev: full[lev] for lev in levels}
    return level_colors(levels, colors)


def _value_column(pred: pd.DataFrame, value):
    if value is not None:
        if value not in pred.columns:
            raise ValueError(f"pred has no column {value!r}")
        return value
    for name in ("prob", "link"):
        if name in pred.columns:
            return name
    raise ValueError("pred must be the long output of fit.predict(newdata, se=True): "
                     "it has neither a 'prob' nor a 'link' column")


def _check_pred(pred, x, facet, level_col, value, need_bands):
    if not isinstance(pred, pd.DataFrame):
        raise TypeError(f"pred must be a pandas DataFrame (fit.predict(newdata, se=True)), got {type(pred).__name__}")
    value = _value_column(pred, value)
    need = [x, level_col, value] + ([facet] if facet is not None else [])
    if need_bands:
        need += ["lower", "upper"]
    missing = [c for c in need if c not in pred.columns]
    if missing:
        hint = ""
        if x in missing or (facet is not None and facet in missing):
            hint = (" (predict copies the newdata columns the formula reads; for other columns "
                    "use fit.predict(newdata, se=True, carry='all'))")
        raise ValueError(f"pred is missing column(s) {missing}{hint}")
    keys = [k for k in (facet, x, level_col) if k is not None]
    data = pred.dropna(subset=[x, value] + ([facet] if facet is not None else []))
    dup = data.duplicated(subset=keys)
    if dup.any():
        raise ValueError(
            f"pred has several rows per ({', '.join(map(str, keys))}): other predictors vary too. "
            "Filter pred to one value of each other predictor, or facet by it")
    return data, value


def _x_kind(s: pd.Series) -> str:
    if pd.api.types.is_datetime64_any_dtype(s):
        return "date"
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        return "numeric"
    return "categorical"


def _panels(n: int, ncols, panel_size, figsize, extra_width: float):
    if ncols is None:
        ncols = n if n <= 3 else math.ceil(math.sqrt(n))
    ncols = max(1, min(int(ncols), n))
    nrows = math.ceil(n / ncols)
    if figsize is None:
        figsize = (panel_size[0] * ncols + extra_width, panel_size[1] * nrows + 0.6)
    return nrows, ncols, figsize


def _make_figure(n_panels, ncols, panel_size, figsize, legend_width, sharey=True):
    plt = _pyplot()
    nrows, ncols, figsize = _panels(n_panels, ncols, panel_size, figsize, legend_width)
    fig, axes = plt.subplots(nrows, ncols, figsize=figsize, sharex=True, sharey=sharey,
                             squeeze=False)
    flat = axes.ravel().tolist()
    for ax in flat[n_panels:]:
        fig.delaxes(ax)
    used = flat[:n_panels]
    # x tick labels on the bottom panel of each column (deleted axes leave gaps)
    for i, ax in enumerate(used):
        below = i + ncols
        if below < n_panels:
            ax.tick_params(labelbottom=False)
        else:
            ax.tick_params(labelbottom=True)
    return fig, used, nrows, ncols


def _format_date_axis(ax):
    import matplotlib.dates as mdates
    locator = mdates.AutoDateLocator(minticks=3, maxticks=6)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def _finish(fig, axes, facet_values, facet, xlabel, ylabel, title, handles, labels, legend,
            legend_title, nrows, ncols, facet_title="{value}"):
    for i, ax in enumerate(axes):
        if facet is not None:
            ax.set_title(facet_title.format(facet=facet, value=facet_values[i]), fontsize="medium")
        if i % ncols == 0:
            ax.set_ylabel(ylabel)
        if i + ncols >= len(axes):
            ax.set_xlabel(xlabel)
    if title:
        fig.suptitle(title)
    if legend and handles:
        fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5),
                   title=legend_title, frameon=False, fontsize="small")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- #
# observed frequencies
# --------------------------------------------------------------------------- #
def _observed_frequencies(observed, x, facet, levels, observed_level, observed_count):
    """Long table facet, x, level, freq, n from long or wide counts."""
    if not isinstance(observed, pd.DataFrame):
        raise TypeError(f"observed must be a pandas DataFrame of counts, got {type(observed).__name__}")
    keys = [x] + ([facet] if facet is not None else [])
    missing = [k for k in keys if k not in observed.columns]
    if missing:
        raise ValueError(f"observed is missing column(s) {missing}")
    level_names = [str(lev) for lev in levels]
    if observed_level is None:
        candidates = [c for c in observed.columns
                      if c not in keys and c != observed_count
                      and not pd.api.types.is_numeric_dtype(observed[c])]
        if "level" in candidates:
            candidates = ["level"]
        else:
            candidates = [c for c in candidates
                          if set(map(str, observed[c].dropna().unique())) & set(level_names)]
        wide = [lev for lev in levels if lev in observed.columns]
        if len(candidates) == 1:
            observed_level = candidates[0]
        elif not candidates and wide:
            observed_level = None  # wide counts
        else:
            raise ValueError(
                "cannot tell which column of observed holds the response levels "
                f"(candidates: {candidates}); pass observed_level=")
    if observed_level is None:
        wide = [lev for lev in levels if lev in observed.columns]
        long = observed.melt(id_vars=keys, value_vars=wide, var_name="__level", value_name="__n")
    else:
        if observed_level not in observed.columns:
            raise ValueError(f"observed has no column {observed_level!r}")
        cols = keys + [observed_level]
        long = observed[cols].rename(columns={observed_level: "__level"})
        if observed_count is not None and observed_count in observed.columns:
            long["__n"] = pd.to_numeric(observed[observed_count], errors="raise").to_numpy(dtype=float)
        elif observed_count is not None and observed_count != "count":
            raise ValueError(f"observed has no column {observed_count!r}")
        else:
            long["__n"] = 1.0  # one observation per row
    long = long.dropna(subset=keys + ["__level", "__n"])
    long["__level"] = long["__level"].astype(str)
    for k in keys:  # plain values, so grouping does not expand categorical products
        if isinstance(long[k].dtype, pd.CategoricalDtype):
            long[k] = long[k].astype(object)
    totals = long.groupby(keys, sort=False)["__n"].sum().rename("__total")
    by_level = long.groupby(keys + ["__level"], sort=False)["__n"].sum().rename("__count").reset_index()
    by_level = by_level.join(totals, on=keys)
    by_level = by_level[by_level["__total"] > 0]
    by_level["__freq"] = by_level["__count"] / by_level["__total"]
    # zero counts are observed frequencies too: complete every (key, level)
    frames = by_level[keys + ["__total"]].drop_duplicates(subset=keys)
    full = frames.merge(pd.DataFrame({"__level": level_names}), how="cross")
    full = full.merge(by_level[keys + ["__level", "__freq"]], on=keys + ["__level"], how="left")
    full["__freq"] = full["__freq"].fillna(0.0)
    return full


def _size_scale(total_max, sizes):
    smin, smax = sizes

    def scale(n):
        return smin + (smax - smin) * np.sqrt(np.asarray(n, dtype=float) / total_max)
    return scale


def _nice_counts(total_max):
    """Up to three round counts <= total_max for the size legend."""
    if not total_max or total_max <= 0:
        return []
    top = 10 ** math.floor(math.log10(total_max))
    vals = [v for v in (top // 100, top // 10, top) if v >= 1]
    return sorted(set(int(v) for v in vals))


# --------------------------------------------------------------------------- #
# public functions
# --------------------------------------------------------------------------- #
def plot_frequencies(pred: pd.DataFrame, x: str = "date", facet: str | None = None, observed=None, *,
                     levels=None, value: str | None = None, level_col: str = "level",
                     bands: bool = True, observed_level: str | None = None,
                     observed_count: str | None = "count", yscale: str = "linear",
                     colors=None, ncols: int | None = None, panel_size=(4.0, 3.0), figsize=None,
                     band_alpha: float = 0.2, point_sizes=(2.0, 40.0), point_alpha: float = 0.6,
                     legend: bool = True, legend_title: str | None = None, title: str | None = None,
                     facet_title: str = "{value}"):
    """Predicted frequency of each level over ``x``, with confidence bands.

    Parameters
    ----------
    pred : pandas.DataFrame
        The long table of ``fit.predict(newdata, se=True)`` (columns ``x``,
        ``facet``, ``level``, ``prob`` or ``link``, ``lower``, ``upper``).
        It must have one row per (facet value, x value, level): filter other
        predictors to a single value first.
    x : str, default "date"
        Column on the horizontal axis: dates, numbers (lines and ribbons) or a
        factor (points with error bars, dodged by level).
    facet : str, optional
        Column whose values get a panel each (small multiples sharing both
        axes), e.g. ``"country"``.
    observed : pandas.DataFrame, optional
        Observed counts to overlay as points: either long, one row per
        (x[, facet], level) with a count column (``observed_count``; without
        it every row counts once, as individual-level data), or wide, one
        column of counts per level. The observed frequency of a level at an
        ``x`` value is its count divided by the total count there; the area of
        a point grows with the square root of that total.
    levels : sequence, optional
        Levels to draw (default: all, in the order of ``pred[level_col]``).
        Observed frequencies are still computed over all levels.
    value : {"prob", "link"}, optional
        Column to plot; default ``"prob"`` when present, else ``"link"``.
    level_col : str, default "level"
    bands : bool, default True
        Draw the ``lower``-``upper`` band.
    observed_level : str, optional
        Column of ``observed`` that holds the levels; default ``"level"`` or
        the only non-numeric column whose values are levels (e.g.
        ``"lineage"``). Without one, wide counts are assumed.
    observed_count : str or None, default "count"
        Column of ``observed`` holding the counts (frequency weights).
    yscale : {"linear", "logit", "log"}
        ``"logit"`` shows the log-odds scale on which a ``date`` slope is a
        straight line.
    colors : dict, list or colormap name, optional
        See :func:`level_colors`. By default (or with a colormap name) the
        colours are assigned over all levels of ``pred``, so a level has the
        same colour whichever ``levels`` are drawn.
    ncols : int, optional
        Panels per row (default about ``sqrt(n_panels)``).
    panel_size : (float, float)
        Width and height of a panel in inches (when ``figsize`` is None).
    figsize : (float, float), optional
    band_alpha, point_alpha : float
        Opacity of the bands and of the observed points.
    point_sizes : (float, float)
        Smallest and largest marker area (points^2) of the observed points.
    legend : bool, default True
        A figure legend (levels, and point sizes) to the right of the panels.
    legend_title : str, optional
        Title of the legend (e.g. the response's name).
    title : str, optional
        Figure title.
    facet_title : str, default "{value}"
        Panel title, formatted with ``facet`` (the column name) and ``value``,
        e.g. ``"{facet} = {value}"``.

    Returns
    -------
    matplotlib.figure.Figure
        One axes per facet value (``fig.axes`` in facet order); in each, one
        line per level (``ax.lines``), one band per level and one set of
        observed points per level (``ax.collections``).

    Raises
    ------
    ImportError
        matplotlib is not installed (``pip install multinom[plot]``).
    ValueError
        A needed column is missing, or ``pred`` has several rows per
        (facet, x, level).
    """
    _pyplot()  # fail early, with the install hint, when matplotlib is missing
    data, value = _check_pred(pred, x, facet, level_col, value, bands)
    if yscale not in ("linear", "logit", "log"):
        raise ValueError(f"yscale must be 'linear', 'logit' or 'log', got {yscale!r}")
    levels, cmap, facet_values = _levels_and_facets(data, level_col, levels, colors, facet)
    kind = _x_kind(data[x])
    xcats = _ordered_unique(data[x]) if kind == "categorical" else None

    obs = None
    if observed is not None:
        obs_levels = _ordered_unique(data[level_col])  # observed shares use every level
        obs = _observed_frequencies(observed, x, facet, obs_levels, observed_level, observed_count)
        if kind == "date":
            obs[x] = pd.to_datetime(obs[x])
        obs_max = float(obs["__total"].max()) if len(obs) else 0.0
        scale = _size_scale(obs_max, point_sizes) if obs_max > 0 else None

    fig, axes, nrows, ncols = _make_figure(len(facet_values), ncols, panel_size, figsize,
                                           legend_width=1.6 if legend else 0.0)
    n_lev = len(levels)
    for ax, fv in zip(axes, facet_values):
        part = data if facet is None else data[data[facet] == fv]
        for j, lev in enumerate(levels):
            d = part[part[level_col] == lev]
            color = cmap[lev]
            if kind == "categorical":
                pos = {c: i for i, c in enumerate(xcats)}
                span = 0.5  # the dodged points of one x value spread over this width
                offset = (j - (n_lev - 1) / 2) * span / max(n_lev - 1, 1)
                xp = d[x].map(pos).to_numpy(dtype=float) + offset
                y = d[value].to_numpy(dtype=float)
                yerr = None
                if bands:
                    yerr = np.vstack([y - d["lower"].to_numpy(dtype=float),
                                      d["upper"].to_numpy(dtype=float) - y])
                ax.errorbar(xp, y, yerr=yerr, fmt="o", color=color, ms=4, capsize=2, lw=1,
                            label=str(lev))
            else:
                d = d.sort_values(x)
                xv = d[x].to_numpy()
                if bands:
                    ax.fill_between(xv, d["lower"].to_numpy(dtype=float), d["upper"].to_numpy(dtype=float),
                                    color=color, alpha=band_alpha, linewidth=0)
                ax.plot(xv, d[value].to_numpy(dtype=float), color=color, lw=1.5, label=str(lev))
            if obs is not None and scale is not None:
                o = obs[obs["__level"] == str(lev)]
                if facet is not None:
                    o = o[o[facet] == fv]
                if kind == "categorical":
                    ox = o[x].map({c: i for i, c in enumerate(xcats)}).to_numpy(dtype=float) + offset
                else:
                    ox = o[x].to_numpy()
                oy = o["__freq"].to_numpy(dtype=float)
                ok = np.ones(len(oy), dtype=bool)
                if yscale == "logit":  # 0 and 1 are at -inf / +inf on this scale
                    ok = (oy > 0) & (oy < 1)
                elif yscale == "log":
                    ok = oy > 0
                ax.scatter(ox[ok], oy[ok], s=scale(o["__total"].to_numpy()[ok]),
                           color=color, alpha=point_alpha, edgecolors="none", zorder=1)
        if kind == "date":
            _format_date_axis(ax)
        elif kind == "categorical":
            ax.set_xticks(range(len(xcats)))
            ax.set_xticklabels([str(c) for c in xcats])
        if yscale != "linear":
            ax.set_yscale(yscale)
            if yscale == "logit":
                from matplotlib.ticker import LogitFormatter
                ax.yaxis.set_major_formatter(LogitFormatter(use_overline=False))
                ax.yaxis.set_minor_formatter(LogitFormatter(minor=True, use_overline=False))
        elif value == "prob":
            ax.set_ylim(-0.02, 1.02)
        ax.grid(True, alpha=0.3, lw=0.5)

    handles, labels = [], []
    if legend:
        from matplotlib.lines import Line2D
        for lev in levels:
            handles.append(Line2D([], [], color=cmap[lev], lw=2))
            labels.append(str(lev))
        if obs is not None and scale is not None:
            for n in _nice_counts(obs_max):
                handles.append(Line2D([], [], ls="", marker="o", color="0.4", alpha=point_alpha,
                                      markersize=math.sqrt(float(scale(n))), markeredgewidth=0))
                labels.append(f"n = {n:,}")
    ylabel = {"prob": "predicted frequency", "link": "log-odds vs baseline"}.get(value, value)
    if legend_title is None and level_col != "level":
        legend_title = level_col
    return _finish(fig, axes, facet_values, facet, x, ylabel, title, handles, labels, legend,
                   legend_title, nrows, ncols, facet_title)


def plot_muller(pred: pd.DataFrame, x: str = "date", facet: str | None = None, *, levels=None,
                value: str | None = None, level_col: str = "level", colors=None,
                ncols: int | None = None, panel_size=(4.0, 3.0), figsize=None,
                legend: bool = True, legend_title: str | None = None, title: str | None = None,
                facet_title: str = "{value}"):
    """Muller plot: the predicted frequencies of the levels stacked to 1 over ``x``.

    Parameters
    ----------
    pred : pandas.DataFrame
        The long table of ``fit.predict(newdata, se=True)`` (``se=False``
        output reshaped long works too): columns ``x``, ``facet``,
        ``level`` and ``prob``, one row per (facet value, x value, level).
    x : str, default "date"
        Dates or numbers (stacked areas) or a factor (stacked bars).
    facet : str, optional
        Column whose values get a panel each.
    levels : sequence, optional
        Levels in stacking order, bottom first (default: the order of
        ``pred[level_col]``, baseline at the bottom). Levels left out leave a
        gap at the top, so the stack reaches 1 only with every level.
    value : str, optional
        Column to stack, default ``"prob"``.
    level_col, colors, ncols, panel_size, figsize, legend, legend_title, title, facet_title
        As in :func:`plot_frequencies`.

    Returns
    -------
    matplotlib.figure.Figure
        One axes per facet value; each holds one filled area per level
        (``ax.collections``; bars in ``ax.patches`` for a factor ``x``).
    """
    _pyplot()
    value = value or "prob"
    data, value = _check_pred(pred, x, facet, level_col, value, need_bands=False)
    levels, cmap, facet_values = _levels_and_facets(data, level_col, levels, colors, facet)
    kind = _x_kind(data[x])
    fig, axes, nrows, ncols = _make_figure(len(facet_values), ncols, panel_size, figsize,
                                           legend_width=1.6 if legend else 0.0)
    for ax, fv in zip(axes, facet_values):
        part = data if facet is None else data[data[facet] == fv]
        part = part[part[level_col].isin(levels)]
        lev_key = part[level_col].astype(object) if isinstance(part[level_col].dtype, pd.CategoricalDtype) \
            else part[level_col]
        xkey = part[x].astype(object) if isinstance(part[x].dtype, pd.CategoricalDtype) else part[x]
        wide = pd.DataFrame({"x": xkey.to_numpy(), "lev": lev_key.to_numpy(),
                             "v": part[value].to_numpy(dtype=float)})
        wide = wide.pivot(index="x", columns="lev", values="v").reindex(columns=levels).fillna(0.0)
        if kind == "categorical":
            xcats = [c for c in _ordered_unique(data[x]) if c in wide.index]
            wide = wide.reindex(xcats)
            bottom = np.zeros(len(wide))
            pos = np.arange(len(wide))
            for lev in levels:
                vals = wide[lev].to_numpy()
                ax.bar(pos, vals, bottom=bottom, color=cmap[lev], width=0.8, label=str(lev),
                       linewidth=0)
                bottom += vals
            ax.set_xticks(pos)
            ax.set_xticklabels([str(c) for c in xcats])
        else:
            wide = wide.sort_index()
            xv = wide.index.to_numpy()
            if kind == "date":
                xv = pd.to_datetime(wide.index).to_numpy()
            ax.stackplot(xv, *[wide[lev].to_numpy() for lev in levels],
                         colors=[cmap[lev] for lev in levels], labels=[str(lev) for lev in levels],
                         linewidth=0)
            ax.set_xlim(xv.min(), xv.max())
            if kind == "date":
                _format_date_axis(ax)
        ax.set_ylim(0, 1)
    handles, labels = [], []
    if legend:
        from matplotlib.patches import Patch
        for lev in reversed(levels):  # top of the stack first
            handles.append(Patch(color=cmap[lev]))
            labels.append(str(lev))
    if legend_title is None and level_col != "level":
        legend_title = level_col
    ylabel = "predicted frequency (stacked)"
    return _finish(fig, axes, facet_values, facet, x, ylabel, title, handles, labels, legend,
                   legend_title, nrows, ncols, facet_title)
