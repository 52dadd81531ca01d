"""The command line (multinom.cli): run main() in-process on small data in a tmp folder."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import multinom
from multinom import cli

REPO = Path(__file__).resolve().parent.parent
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def assert_png(path):
    data = Path(path).read_bytes()
    assert data[:8] == PNG_MAGIC and data[12:16] == b"IHDR" and len(data) > 2000


@pytest.fixture(autouse=True)
def _agg_and_close():
    mpl = pytest.importorskip("matplotlib")
    mpl.use("Agg")
    yield
    import matplotlib.pyplot as plt
    plt.close("all")


@pytest.fixture
def housing_csv(tmp_path):
    path = tmp_path / "housing.csv"
    multinom.load_dataset("housing").to_csv(path, index=False)
    return path


@pytest.fixture
def lineage_csv(tmp_path):
    df = multinom.load_dataset("lineages")
    df = df[df["country"].isin(["USA", "GBR", "ZAF"]) & df["lineage"].isin(["L01", "L02", "L03", "L04"])
            & (df["date"] < "2022-03-01")]
    path = tmp_path / "lineages_small.csv"
    df.to_csv(path, index=False)
    return path, df


HOUSING_LEVELS = ["--levels", "Sat=Low,Medium,High", "--levels", "Infl=Low,Medium,High",
                  "--levels", "Type=Tower,Apartment,Atrium,Terrace", "--levels", "Cont=Low,High"]


def test_fit_housing_csv_png(housing_csv, tmp_path, capsys):
    out_csv, out_png = tmp_path / "bands.csv", tmp_path / "bands.png"
    rc = cli.main(["fit", str(housing_csv), "--formula", "Sat ~ Infl + Type + Cont", "--weights", "Freq",
                   *HOUSING_LEVELS, "--out-csv", str(out_csv), "--out-png", str(out_png)])
    assert rc == 0
    out, err = capsys.readouterr()
    assert "Level Medium vs Low:" in out and "Level High vs Low:" in out
    assert "InflHigh         1.61263     0.1671   9.649" in out  # nnet/MASS reference value
    assert "fitting Sat ~ Infl + Type + Cont ... done" in err  # progress on stderr
    pred = pd.read_csv(out_csv)
    # grid: every combination of the seen levels (3 x 4 x 2), one row per level
    assert list(pred.columns) == ["Infl", "Type", "Cont", "level", "prob", "se", "lower", "upper"]
    assert len(pred) == 3 * 4 * 2 * 3
    assert (pred["lower"] <= pred["prob"]).all() and (pred["prob"] <= pred["upper"]).all()
    np.testing.assert_allclose(pred.groupby(["Infl", "Type", "Cont"])["prob"].sum(), 1.0, atol=1e-9)
    # identical to the library on the same grid
    h = multinom.load_dataset("housing")
    fit = multinom.multinom("Sat ~ Infl + Type + Cont", h, weights="Freq")
    row = pred[(pred.Infl == "High") & (pred.Type == "Atrium") & (pred.Cont == "High")]
    nd = pd.DataFrame({"Infl": ["High"], "Type": ["Atrium"], "Cont": ["High"]})
    want = fit.predict(nd, se=True)
    np.testing.assert_allclose(row["prob"], want["prob"], rtol=1e-8)
    np.testing.assert_allclose(row["se"], want["se"], rtol=1e-6)
    assert_png(out_png)


def test_fit_dates_default_grid_is_daily(lineage_csv, tmp_path, capsys):
    path, df = lineage_csv
    out_csv = tmp_path / "b.csv"
    rc = cli.main(["fit", str(path), "-f", "lineage ~ date + country", "-w", "count", "--baseline", "L01",
                   "--out-csv", str(out_csv), "-q"])
    assert rc == 0
    out, err = capsys.readouterr()
    assert err == ""  # --quiet
    assert "Level L04 vs L01:" in out and "date " in out
    pred = pd.read_csv(out_csv, parse_dates=["date"])
    assert list(pred.columns) == ["country", "date", "level", "prob", "se", "lower", "upper"]
    days = pd.date_range(df["date"].min(), df["date"].max())
    assert len(pred) == 3 * len(days) * 4
    assert pred["date"].min() == days[0] and pred["date"].max() == days[-1]
    assert pred["date"].nunique() == len(days)
    fit = multinom.multinom("lineage ~ date + country", df.assign(
        country=df["country"].cat.remove_unused_categories(),
        lineage=df["lineage"].cat.remove_unused_categories()), weights="count")
    nd = pd.DataFrame({"country": ["ZAF"], "date": [days[10]]})
    want = fit.predict(nd, se=True)
    got = pred[(pred.country == "ZAF") & (pred.date == days[10])]
    np.testing.assert_allclose(got["prob"], want["prob"], rtol=1e-7)
    np.testing.assert_allclose(got["upper"], want["upper"], rtol=1e-6)


def test_fit_predict_grid_spec_and_newdata(lineage_csv, tmp_path, capsys):
    path, _ = lineage_csv
    out_csv, out_png = tmp_path / "g.csv", tmp_path / "g.png"
    rc = cli.main(["fit", str(path), "-f", "lineage ~ ns(date, df=2) + country", "-w", "count", "-q",
                   "--predict-grid", "date=2022-01-10:2022-02-07:7", "--predict-grid", "country=USA,ZAF",
                   "--level", "0.9", "--out-csv", str(out_csv), "--out-png", str(out_png)])
    assert rc == 0
    pred = pd.read_csv(out_csv)
    assert sorted(pred["date"].unique()) == ["2022-01-10", "2022-01-17", "2022-01-24", "2022-01-31",
                                             "2022-02-07"]
    assert sorted(pred["country"].unique()) == ["USA", "ZAF"]
    assert len(pred) == 2 * 5 * 4
    assert_png(out_png)
    nd = tmp_path / "nd.csv"
    pd.DataFrame({"date": ["2022-02-28", "2022-03-15"], "country": ["GBR", "GBR"]}).to_csv(nd, index=False)
    rc = cli.main(["fit", str(path), "-f", "lineage ~ date + country", "-w", "count", "-q",
                   "--newdata", str(nd), "--out-csv", str(out_csv)])
    assert rc == 0
    pred = pd.read_csv(out_csv)
    assert len(pred) == 2 * 4 and list(pred["date"].unique()) == ["2022-02-28", "2022-03-15"]


def test_fit_errors(lineage_csv, tmp_path, capsys):
    path, _ = lineage_csv
    assert cli.main(["fit", str(tmp_path / "nope.csv"), "-f", "y ~ x"]) == 2
    assert "no such file" in capsys.readouterr().err
    assert cli.main(["fit", str(path), "-f", "lineage ~ foo", "-q"]) == 1
    assert "MissingColumnError: column(s) ['foo']" in capsys.readouterr().err
    assert cli.main(["fit", str(path), "-f", "lineage ~ date", "-w", "count", "-q",
                     "--predict-grid", "country=USA", "--out-csv", str(tmp_path / "x.csv")]) == 2
    assert "--predict-grid names 'country', which the formula does not use" in capsys.readouterr().err
    assert cli.main(["fit", str(path), "-f", "lineage ~ date + country", "-w", "count", "-q",
                     "--max-grid", "10", "--out-csv", str(tmp_path / "x.csv")]) == 2
    assert "narrow it with --predict-grid" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        cli.main(["fit", str(path), "-f", "lineage ~ date", "--level", "95"])
    assert exc.value.code == 2


def test_demo_small(tmp_path, capsys):
    out = tmp_path / "demo"
    rc = cli.main(["demo", "--countries", "5", "--out", str(out)])
    assert rc == 0
    stdout, err = capsys.readouterr()
    assert "lineage ~ date + country" in stdout
    assert "Coefficient of date (log-odds vs L01), by level:" in stdout
    assert "Growth advantage per day vs L01" in stdout
    assert "computing the covariance matrix" in err and "finished in" in err
    ga = pd.read_csv(out / "growth_advantages.csv")
    truth = multinom.datasets.load_truth("lineages")["growth_advantage_per_day"]
    assert list(ga["level"]) == [f"L{i:02d}" for i in range(2, 21)]
    np.testing.assert_allclose(ga["truth"], [truth[k] for k in ga["level"]])
    z = (ga["estimate"] - ga["truth"]) / ga["std_error"]
    assert np.abs(z).max() < 4  # the estimates recover the generating slopes
    assert ga["covered"].sum() >= 15
    assert (ga["lower"] < ga["estimate"]).all() and (ga["estimate"] < ga["upper"]).all()
    pred = pd.read_csv(out / "lineage_predictions.csv")
    assert list(pred.columns) == ["country", "date", "level", "prob", "se", "lower", "upper"]
    assert pred["country"].nunique() == 4 and pred["date"].nunique() == 90 and pred["level"].nunique() == 20
    np.testing.assert_allclose(pred.groupby(["country", "date"])["prob"].sum(), 1.0, atol=1e-9)
    assert (pred["se"] > 0).all()
    for png in ("lineage_frequencies.png", "lineage_muller.png"):
        assert_png(out / png)


def test_demo_writes_to_current_directory(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    rc = cli.main(["demo", "--countries", "2", "--no-plots", "--quiet", "--spline-df", "2"])
    assert rc == 0
    stdout, err = capsys.readouterr()
    assert err == ""
    assert "likelihood-ratio statistic" in stdout
    assert (tmp_path / "growth_advantages.csv").is_file()
    assert (tmp_path / "lineage_predictions.csv").is_file()
    assert not (tmp_path / "lineage_frequencies.png").exists()


def test_prediction_grid_defaults():
    h = multinom.load_dataset("housing").assign(x=lambda d: np.arange(len(d)) / 7.0)
    fit = multinom.multinom("Sat ~ Infl + x", h, weights="Freq")
    grid = cli.prediction_grid(fit, h)
    assert list(grid.columns) == ["Infl", "x"]  # factors first, in formula order
    assert len(grid) == 3 * 50
    assert list(grid["Infl"].cat.categories) == ["Low", "Medium", "High"]
    np.testing.assert_allclose([grid["x"].min(), grid["x"].max()], [0, 71 / 7])
    grid = cli.prediction_grid(fit, h, ["x=1:2:0.5", "Infl=High"])
    assert grid["x"].tolist() == [1.0, 1.5, 2.0] and grid["Infl"].astype(str).unique().tolist() == ["High"]


def test_version_and_help(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"multinom {multinom.__version__}"
    assert cli.main([]) == 2
    assert "{fit,demo}" in capsys.readouterr().out


def test_python_dash_m():
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    res = subprocess.run([sys.executable, "-m", "multinom", "--version"], capture_output=True, text=True,
                         env=env, cwd=REPO, timeout=120)
    assert res.returncode == 0
    assert res.stdout.strip() == f"multinom {multinom.__version__}"
