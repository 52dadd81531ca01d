"""Tests of the bundled datasets (multinom.datasets) and their generator."""

from __future__ import annotations

import gzip
import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from multinom.datasets import dataset_info, list_datasets, load_dataset, load_truth

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
NAMES = ["beps", "housing", "lineages", "lineages_wide"]
LINEAGES = [f"L{k:02d}" for k in range(1, 21)]


@pytest.fixture(scope="module")
def lineages():
    return load_dataset("lineages")


@pytest.fixture(scope="module")
def lineages_wide():
    return load_dataset("lineages_wide")


@pytest.fixture(scope="module")
def truth():
    return load_truth("lineages")


def test_list_datasets():
    assert list_datasets() == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_load_matches_registry(name):
    info = dataset_info(name)
    df = load_dataset(name)
    assert isinstance(df, pd.DataFrame)
    assert df.shape == (info["n_rows"], len(info["columns"]))
    assert list(df.columns) == [c["name"] for c in info["columns"]]
    for col in info["columns"]:
        s = df[col["name"]]
        if col["type"] == "date":
            assert s.dtype == np.dtype("datetime64[ns]")
        elif col["type"] in ("categorical", "ordered_categorical"):
            assert isinstance(s.dtype, pd.CategoricalDtype)
            assert list(s.cat.categories) == info["levels"][col["name"]]
            assert s.cat.ordered == (col["type"] == "ordered_categorical")
            assert not s.isna().any()
            # every level is used
            assert s.nunique() == len(info["levels"][col["name"]])
        elif col["type"] == "integer":
            assert s.dtype == np.int64
        else:  # pragma: no cover - no such column yet
            pytest.fail(f"unexpected type {col['type']}")
    for key in ("file", "description", "source", "licence", "formula", "response"):
        assert info[key]
    assert (DATA / info["file"]).is_file()


def test_housing():
    df = load_dataset("housing")
    assert df.shape == (72, 5)
    assert list(df["Sat"].cat.categories) == ["Low", "Medium", "High"]
    assert df["Sat"].cat.ordered
    assert list(df["Infl"].cat.categories) == ["Low", "Medium", "High"]
    assert list(df["Type"].cat.categories) == ["Tower", "Apartment", "Atrium", "Terrace"]
    assert list(df["Cont"].cat.categories) == ["Low", "High"]
    assert df["Freq"].sum() == 1681
    # a full 3 x 3 x 4 x 2 table, first rows as in R
    assert not df.duplicated(["Sat", "Infl", "Type", "Cont"]).any()
    assert df["Freq"].head(3).tolist() == [21, 21, 28]
    info = dataset_info("housing")
    assert info["formula"] == "Sat ~ Infl + Type + Cont"
    assert info["weights"] == "Freq"


def test_beps():
    df = load_dataset("beps")
    assert df.shape == (1525, 10)
    assert not any("." in c for c in df.columns)
    assert list(df["vote"].cat.categories) == ["Conservative", "Labour", "Liberal Democrat"]
    assert df["vote"].value_counts().loc[["Conservative", "Labour", "Liberal Democrat"]].tolist() \
        == [462, 720, 343]
    assert list(df["gender"].cat.categories) == ["female", "male"]
    assert df["economic_cond_national"].between(1, 5).all()
    assert df["Europe"].between(1, 11).all()
    assert df["political_knowledge"].between(0, 3).all()
    assert df.iloc[0][["age", "economic_cond_national", "Europe"]].tolist() == [43, 3, 2]
    assert dataset_info("beps")["formula"] == "vote ~ age + economic_cond_national + gender + Europe"


def test_lineages_shape(lineages):
    assert list(lineages.columns) == ["date", "country", "lineage", "count"]
    assert list(lineages["lineage"].cat.categories) == LINEAGES
    assert lineages["lineage"].nunique() == 20
    assert lineages["country"].nunique() == 114
    assert len(lineages["country"].cat.categories) == 114
    dates = np.sort(lineages["date"].unique())
    assert len(dates) == 90
    assert pd.Timestamp(dates[0]) == pd.Timestamp("2022-01-03")
    assert (np.diff(dates) == np.timedelta64(1, "D")).all()
    assert (lineages["count"] > 0).all()
    assert not lineages.duplicated(["date", "country", "lineage"]).any()


def test_lineages_exactly_one_empty_cell(lineages, truth):
    cell = lineages.pivot_table(index="country", columns="lineage", values="count",
                                aggfunc="sum", fill_value=0, observed=False)
    assert cell.shape == (114, 20)
    empty = [(c, k) for c, k in zip(*np.nonzero(cell.to_numpy() == 0))]
    assert len(empty) == 1
    c, k = empty[0]
    assert (cell.index[c], cell.columns[k]) == (truth["empty_cell"]["country"],
                                                truth["empty_cell"]["lineage"])
    assert truth["intercepts"][cell.index[c]][k] is None


def test_lineages_baseline_dominant_at_start(lineages):
    first_week = lineages[lineages["date"] < pd.Timestamp("2022-01-10")]
    totals = first_week.groupby("lineage", observed=False)["count"].sum()
    assert totals.idxmax() == "L01"


def test_lineages_wide(lineages_wide):
    assert list(lineages_wide.columns) == ["date", "country"] + LINEAGES
    assert lineages_wide.shape == (90 * 114, 22)
    assert not lineages_wide.duplicated(["date", "country"]).any()
    assert lineages_wide["date"].nunique() == 90
    assert lineages_wide["country"].nunique() == 114
    assert (lineages_wide[LINEAGES] >= 0).all().all()
    # some country-days have no sequence at all
    assert (lineages_wide[LINEAGES].sum(axis=1) == 0).any()
    assert dataset_info("lineages_wide")["formula"] == \
        "cbind(" + ", ".join(LINEAGES) + ") ~ date + country"


def test_long_and_wide_agree(lineages, lineages_wide):
    from_long = (lineages.pivot_table(index=["date", "country"], columns="lineage",
                                      values="count", aggfunc="sum", fill_value=0,
                                      observed=False)
                 .reindex(columns=LINEAGES))
    wide = lineages_wide.set_index(["date", "country"])[LINEAGES]
    from_long = from_long.reindex(wide.index, fill_value=0)
    assert from_long.index.equals(wide.index)
    np.testing.assert_array_equal(from_long.to_numpy(), wide.to_numpy())
    assert lineages["count"].sum() == wide.to_numpy().sum()


def test_truth(truth):
    assert truth["baseline"] == "L01"
    assert truth["lineages"] == LINEAGES
    assert truth["countries"] == dataset_info("lineages")["levels"]["country"]
    assert truth["countries"] == dataset_info("lineages_wide")["levels"]["country"]
    r = truth["growth_advantage_per_day"]
    assert r["L01"] == 0
    assert all(-0.05 <= v <= 0.12 for v in r.values())
    assert sum(v > 0 for v in r.values()) >= 3 and sum(v < 0 for v in r.values()) >= 3
    assert len(truth["intercepts"]) == 114
    assert all(len(v) == 20 and v[0] == 0 for v in truth["intercepts"].values())
    assert load_truth("lineages_wide") == truth
    assert isinstance(truth["seed"], int)


def test_unknown_name_raises():
    for func in (load_dataset, dataset_info, load_truth):
        with pytest.raises(KeyError) as exc:
            func("no_such_dataset")
        msg = str(exc.value)
        assert "no_such_dataset" in msg
        for name in NAMES:
            assert name in msg


def test_load_truth_of_real_dataset_raises():
    with pytest.raises(KeyError, match="lineages"):
        load_truth("housing")


def test_dataset_info_is_a_copy():
    info = dataset_info("housing")
    info["levels"]["Sat"].reverse()
    assert dataset_info("housing")["levels"]["Sat"] == ["Low", "Medium", "High"]


def _load_generator():
    spec = importlib.util.spec_from_file_location("make_lineages", ROOT / "scripts" / "make_lineages.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generator_is_deterministic(tmp_path):
    gen = _load_generator()
    paths = gen.make(tmp_path)
    assert sorted(paths) == ["lineages.csv.gz", "lineages_truth.json", "lineages_wide.csv.gz"]
    for name in ("lineages.csv.gz", "lineages_wide.csv.gz"):
        new = gzip.decompress((tmp_path / name).read_bytes())
        shipped = gzip.decompress((DATA / name).read_bytes())
        assert new == shipped, f"{name} differs from the shipped file"
    assert (tmp_path / "lineages_truth.json").read_bytes() == \
        (DATA / "lineages_truth.json").read_bytes()
    assert json.loads((tmp_path / "lineages_truth.json").read_text())["seed"] == gen.SEED
