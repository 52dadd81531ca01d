"""Load the R reference fixtures written by ``tests/r/make_fixtures_core.R``.

Tests import this as ``from _fixtures import ...`` (``tests/`` has no
``__init__.py``, so pytest puts it on ``sys.path``). R is never needed: the
fixtures and their datasets are plain JSON and CSV files under
``tests/fixtures/``; see ``tests/fixtures/README.md`` for the schema.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

FIXTURE_DIR = Path(__file__).resolve().parent / "fixtures"
DATA_DIR = FIXTURE_DIR / "data"

#: Model fixtures written by make_fixtures_core.R (one fit each).
CORE_CASES = (
    "housing",
    "housing_counts",
    "beps",
    "binary",
    "numeric_response",
    "weights_sim",
    "weights_int",
    "weights_dup",
    "decay",
    "offset",
    "offset_binary",
    "na_subset",
    "badly_scaled",
)

#: Inputs/outputs of nnet:::multinomHess (for multinom.information_matrix).
INFORMATION_CASES = (
    "information_only_weights",
    "information_only_counts",
    "information_only_binary",
)


@lru_cache(maxsize=None)
def _read_json(path: str) -> str:
    return Path(path).read_text(encoding="utf-8")


def load_fixture(name: str) -> dict:
    """The fixture ``tests/fixtures/<name>.json`` as a dict (a fresh copy)."""
    path = FIXTURE_DIR / f"{name}.json"
    if not path.exists():
        raise FileNotFoundError(
            f"{path} not found; regenerate with `Rscript tests/r/make_fixtures_core.R`")
    return json.loads(_read_json(str(path)))


def load_fixture_data(fx: dict, csv: str | None = None, *, ordered: bool = False) -> pd.DataFrame:
    """Read a fixture's CSV as R saw it.

    ``csv`` defaults to ``fx["data_csv"]`` (pass ``fx["predict_newdata_csv"]``
    for the prediction rows). Columns listed in ``fx["factor_levels"]`` become
    pandas Categoricals with R's level order (also when a level does not occur
    in this file, e.g. in newdata). With ``ordered=True`` the columns in
    ``fx["ordered_factors"]`` become ordered Categoricals; by default all
    factors are unordered (in these fixtures only responses are ordered in R,
    which does not matter for multinom). ``"NA"`` and empty cells are missing.
    """
    path = DATA_DIR / (csv if csv is not None else fx["data_csv"])
    df = pd.read_csv(path)
    levels = fx.get("factor_levels") or {}
    ordered_cols = set(fx.get("ordered_factors") or []) if ordered else set()
    for col, levs in levels.items():
        if col not in df.columns:
            continue
        raw = df[col]
        cat = pd.Categorical(raw.astype(object).where(raw.notna(), None),
                             categories=list(levs), ordered=col in ordered_cols)
        unknown = raw.notna().to_numpy() & pd.isna(cat)
        if unknown.any():
            bad = sorted(set(raw[unknown].astype(str)))
            raise ValueError(f"{path.name}: column {col!r} has values {bad} not in {list(levs)}")
        df[col] = cat
    return df


def load_predict_newdata(fx: dict) -> pd.DataFrame:
    """The newdata rows of a fixture (``fx["predict_newdata_csv"]``)."""
    return load_fixture_data(fx, fx["predict_newdata_csv"])


def as_matrix(x) -> np.ndarray:
    """A JSON matrix (list of rows) or vector as a float ndarray."""
    return np.asarray(x, dtype=float)
