"""Plots of predicted frequencies (multinom.plotting), rendered with Agg into PNG files."""

import struct
import warnings

import numpy as np
import pandas as pd
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import multinom  # noqa: E402
from multinom.plotting import level_colors, plot_frequencies, plot_muller  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def assert_png(path, min_bytes=2000):
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width > 100 and height > 100
    assert len(data) > min_bytes
    assert data[-8:-4] == b"IEND"
    return width, height


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def lineage_small():
    """Three countries, six lineages, 50 days: a fast fit with dates and a factor."""
    df = multinom.load_dataset("lineages")
    keep = ["USA", "GBR", "ZAF"]
    lins = ["L01", "L02", "L03", "L04", "L05", "L06"]
    df = df[df["country"].isin(keep) & df["lineage"].isin(lins) & (df["date"] < "2022-02-22")].copy()
    df["country"] = df["country"].cat.remove_unused_categories()
    df["lineage"] = df["lineage"].cat.remove_unused_categories()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no empty cell: every coefficient is finite
        fit = multinom.multinom("lineage ~ date + country", df, weights="count")
    dates = pd.date_range("2022-01-03", "2022-02-21")
    grid = pd.MultiIndex.from_product([keep, dates], names=["country", "date"]).to_frame(index=False)
    grid["country"] = pd.Categorical(grid["country"], categories=df["country"].cat.categories)
    pred = fit.predict(grid, se=True)
    return df, fit, grid, pred


def test_frequencies_faceted_with_observed(lineage_small, tmp_path):
    df, fit, grid, pred = lineage_small
    fig = plot_frequencies(pred, x="date", facet="country", observed=df)
    assert isinstance(fig, matplotlib.figure.Figure)
    # one panel per country, facet order = categorical order of pred
    assert len(fig.axes) == 3
    assert [ax.get_title() for ax in fig.axes] == ["GBR", "USA", "ZAF"]
    for ax in fig.axes:
        assert len(ax.lines) == 6                      # one line per lineage
        assert len(ax.collections) == 6 + 6            # a band and a set of points per lineage
    # the line of GBR / L02 is the prediction itself
    ax = fig.axes[0]
    line = ax.lines[1]
    want = pred[(pred["country"] == "GBR") & (pred["level"] == "L02")].sort_values("date")
    np.testing.assert_allclose(line.get_ydata(), want["prob"].to_numpy())
    # observed frequencies: count / daily total, zero counts included
    pts = ax.collections[3]  # band L01, points L01, band L02, points L02
    day = df[(df["country"] == "GBR")]
    totals = day.groupby("date")["count"].sum()
    l02 = day[day["lineage"] == "L02"].groupby("date")["count"].sum().reindex(totals.index, fill_value=0)
    freq = (l02 / totals).to_numpy()
    got = np.sort(pts.get_offsets()[:, 1])
    np.testing.assert_allclose(got, np.sort(freq))
    # bigger totals -> bigger markers
    sizes = pts.get_sizes()
    order = np.argsort(totals.to_numpy())
    assert sizes[np.argmax(totals.to_numpy())] == sizes.max()
    assert sizes[order[0]] == sizes.min()
    out = tmp_path / "freq.png"
    fig.savefig(out, dpi=60)
    assert_png(out)


def test_frequencies_bands_contain_lines(lineage_small):
    _, _, _, pred = lineage_small
    fig = plot_frequencies(pred[pred["country"] == "USA"], x="date", legend=False)
    assert len(fig.axes) == 1
    ax = fig.axes[0]
    assert len(ax.lines) == 6 and len(ax.collections) == 6
    for band, line in zip(ax.collections, ax.lines):
        verts = band.get_paths()[0].vertices
        y = line.get_ydata()
        assert verts[:, 1].min() <= y.min() and verts[:, 1].max() >= y.max()
    assert fig.legends == []


def test_frequencies_levels_subset_logit_and_wide_observed(lineage_small, tmp_path):
    df, _, _, pred = lineage_small
    wide = (df.pivot_table(index=["date", "country"], columns="lineage", values="count",
                           aggfunc="sum", fill_value=0, observed=True).reset_index())
    wide.columns = [str(c) for c in wide.columns]
    fig = plot_frequencies(pred, facet="country", observed=wide, levels=["L01", "L02"],
                           yscale="logit", ncols=3, title="two lineages")
    assert len(fig.axes) == 3
    assert all(len(ax.lines) == 2 for ax in fig.axes)
    assert all(ax.get_yscale() == "logit" for ax in fig.axes)
    assert fig._suptitle.get_text() == "two lineages"
    # logit scale: frequencies of 0 or 1 are left out, all others shown
    offsets = fig.axes[0].collections[1].get_offsets()[:, 1]
    assert ((offsets > 0) & (offsets < 1)).all()
    out = tmp_path / "logit.png"
    fig.savefig(out, dpi=50)
    assert_png(out)


def test_frequencies_categorical_x_housing(tmp_path):
    h = multinom.load_dataset("housing")
    fit = multinom.multinom("Sat ~ Infl + Type + Cont", h, weights="Freq")
    grid = h[["Infl", "Type", "Cont"]].drop_duplicates()
    grid = grid[grid["Cont"] == "Low"]
    pred = fit.predict(grid, se=True)
    fig = plot_frequencies(pred, x="Infl", facet="Type", observed=h[h["Cont"] == "Low"],
                           observed_level="Sat", observed_count="Freq")
    assert len(fig.axes) == 4
    fig.canvas.draw()
    ax = fig.axes[2]  # bottom row: shows its tick labels
    assert [t.get_text() for t in ax.get_xticklabels()] == ["Low", "Medium", "High"]
    assert len(ax.containers) == 3  # one errorbar container per satisfaction level
    out = tmp_path / "housing.png"
    fig.savefig(out, dpi=50)
    assert_png(out)


def test_muller_stacks_to_one(lineage_small, tmp_path):
    _, _, _, pred = lineage_small
    fig = plot_muller(pred, x="date", facet="country")
    assert len(fig.axes) == 3
    for ax in fig.axes:
        assert len(ax.collections) == 6  # one stacked area per lineage
        top = ax.collections[-1].get_paths()[0].vertices[:, 1]
        np.testing.assert_allclose(top.max(), 1.0, atol=1e-12)
        assert ax.get_ylim() == (0.0, 1.0)
    out = tmp_path / "muller.png"
    fig.savefig(out, dpi=60)
    assert_png(out)


def test_muller_categorical_x_bars():
    h = multinom.load_dataset("housing")
    fit = multinom.multinom("Sat ~ Infl", h, weights="Freq")
    grid = pd.DataFrame({"Infl": h["Infl"].cat.categories})
    grid["Infl"] = pd.Categorical(grid["Infl"], categories=h["Infl"].cat.categories)
    pred = fit.predict(grid, se=True)
    fig = plot_muller(pred, x="Infl")
    ax = fig.axes[0]
    assert len(ax.patches) == 3 * 3
    heights = np.array([p.get_height() for p in ax.patches]).reshape(3, 3)  # level x Infl
    np.testing.assert_allclose(heights.sum(axis=0), 1.0)


def test_errors(lineage_small):
    _, _, grid, pred = lineage_small
    with pytest.raises(ValueError, match=r"missing column\(s\) \['region'\]"):
        plot_frequencies(pred, facet="region")
    with pytest.raises(ValueError, match="several rows per"):
        plot_frequencies(pred, x="date")  # three countries per date, not faceted
    with pytest.raises(ValueError, match="not in pred"):
        plot_frequencies(pred, facet="country", levels=["L99"])
    with pytest.raises(TypeError, match="pandas DataFrame"):
        plot_muller(pred.to_numpy(), facet="country")
    with pytest.raises(ValueError, match="yscale"):
        plot_frequencies(pred, facet="country", yscale="sqrt")
    with pytest.raises(ValueError, match="pass observed_level"):
        obs = pd.DataFrame({"date": grid["date"], "country": grid["country"], "a": "L01", "b": "L02"})
        plot_frequencies(pred, facet="country", observed=obs)


def test_level_colors():
    assert len(set(level_colors(list("abc")).values())) == 3
    c20 = level_colors([f"L{i}" for i in range(20)])
    assert len(set(c20.values())) == 20
    c30 = level_colors([f"L{i}" for i in range(30)])
    assert len(set(c30.values())) == 30
    assert level_colors(["a", "b"], {"a": "red", "b": "blue"}) == {"a": "red", "b": "blue"}
    with pytest.raises(ValueError, match="no entry"):
        level_colors(["a", "b"], {"a": "red"})


def test_missing_matplotlib_message(monkeypatch, lineage_small):
    import builtins
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=r"pip install multinom\[plot\]"):
        plot_frequencies(lineage_small[3], facet="country")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ImportError, match=r"multinom\[plot\]"):
            plot_muller(lineage_small[3], facet="country")
