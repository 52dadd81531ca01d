"""Datasets bundled with multinom.

The data files live in the repository's top-level ``data/`` folder, which is
installed as the package ``multinom.data``.  Their registry,
``data/datasets.json``, records for each dataset its file, columns (name,
type, meaning), categorical level orders, provenance, licence and a suggested
model formula.

Datasets
--------
lineages
    Synthetic SARS-CoV-2 lineage counts (20 lineages, 114 countries, 90 days),
    long form ``date, country, lineage, count`` (only ``count > 0``).
lineages_wide
    The same counts, one row per ``date x country``, one column per lineage.
housing
    Copenhagen housing satisfaction table (Madsen 1976; ``MASS::housing``).
beps
    British Election Panel Study 1997-2001 (``carData::BEPS``).

Examples
--------
>>> from multinom.datasets import load_dataset, dataset_info, load_truth
>>> housing = load_dataset("housing")
>>> dataset_info("housing")["formula"]
'Sat ~ Infl + Type + Cont'
>>> load_truth("lineages")["baseline"]
'L01'
"""

from __future__ import annotations

import copy
import functools
import importlib.resources
import io
import json
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["list_datasets", "dataset_info", "load_dataset", "load_truth"]

_REGISTRY = "datasets.json"


@functools.lru_cache(maxsize=1)
def _data_root():
    """Folder (``Path`` or importlib ``Traversable``) holding the data files.

    ``multinom.data`` when installed; in a source checkout, where that package
    is not importable, the repository's ``data/`` folder next to ``multinom/``.
    """
    try:
        root = importlib.resources.files("multinom.data")
        if root.joinpath(_REGISTRY).is_file():
            return root
    except (ImportError, TypeError, ValueError):
        pass
    fallback = Path(__file__).resolve().parent.parent / "data"
    if (fallback / _REGISTRY).is_file():
        return fallback
    raise FileNotFoundError(
        "multinom's bundled data were not found: neither the package 'multinom.data' "
        f"nor the folder {fallback} holds {_REGISTRY}"
    )


def _read_bytes(name: str) -> bytes:
    return _data_root().joinpath(name).read_bytes()


@functools.lru_cache(maxsize=1)
def _registry() -> dict[str, Any]:
    return json.loads(_read_bytes(_REGISTRY).decode("utf-8"))["datasets"]


def _entry(name: str) -> dict[str, Any]:
    registry = _registry()
    if not isinstance(name, str) or name not in registry:
        raise KeyError(
            f"unknown dataset {name!r}; available datasets: {', '.join(sorted(registry))}"
        )
    return registry[name]


def list_datasets() -> list[str]:
    """Names of the bundled datasets.

    Returns
    -------
    list of str
        Sorted dataset names, e.g. ``['beps', 'housing', 'lineages',
        'lineages_wide']``.
    """
    return sorted(_registry())


def dataset_info(name: str) -> dict[str, Any]:
    """Registry entry of a dataset.

    Parameters
    ----------
    name : str
        Dataset name, one of :func:`list_datasets`.

    Returns
    -------
    dict
        A copy of the entry: ``file``, ``title``, ``description``, ``n_rows``,
        ``columns`` (list of ``{"name", "type", "meaning"}``; types are
        ``"date"``, ``"categorical"``, ``"ordered_categorical"``,
        ``"integer"``, ``"float"``), ``levels`` (column -> level order),
        ``ordered`` (ordered categorical columns), ``response``, ``weights``,
        ``formula`` (suggested model, R/formulaic syntax), ``model_notes``,
        ``source``, ``licence`` and ``truth`` (file name of the true
        generating parameters for synthetic data, else ``None``; read it with
        :func:`load_truth`).

    Raises
    ------
    KeyError
        If `name` is not a bundled dataset; the message lists the available
        names.
    """
    return copy.deepcopy(_entry(name))


def load_truth(name: str = "lineages") -> dict[str, Any]:
    """True generating parameters of a synthetic dataset.

    Parameters
    ----------
    name : str, default "lineages"
        A synthetic dataset (``"lineages"`` or ``"lineages_wide"``, which
        share one truth file).

    Returns
    -------
    dict
        Contents of ``lineages_truth.json``: ``seed``, ``process`` (the
        generating process), ``baseline``, ``lineages``, ``countries``,
        ``growth_advantage_per_day`` (lineage -> true slope ``r_k`` per day
        versus the baseline), ``intercepts`` (country -> list of log-odds at
        ``t0`` in lineage order; ``None`` where the lineage is absent),
        ``t0``, ``sequencing`` (effort model), ``empty_cell`` (the one
        ``country x lineage`` cell without sequences) and ``summary``.

    Raises
    ------
    KeyError
        If `name` is unknown or is not a synthetic dataset with a known truth.
    """
    entry = _entry(name)
    if not entry.get("truth"):
        with_truth = sorted(k for k, v in _registry().items() if v.get("truth"))
        raise KeyError(
            f"dataset {name!r} is not synthetic and has no true parameters; "
            f"datasets with a truth: {', '.join(with_truth)}"
        )
    return json.loads(_read_bytes(entry["truth"]).decode("utf-8"))


def load_dataset(name: str) -> pd.DataFrame:
    """Load a bundled dataset as a DataFrame.

    Parameters
    ----------
    name : str
        Dataset name, one of :func:`list_datasets`: ``"lineages"``,
        ``"lineages_wide"``, ``"housing"`` or ``"beps"``.

    Returns
    -------
    pandas.DataFrame
        Columns in file order.  Categorical columns are
        :class:`pandas.Categorical` with the registry's level order (ordered
        where R has an ordered factor, e.g. ``housing.Sat``), so the first
        level is the reference/baseline category as in R; ``date`` columns are
        ``datetime64[ns]``; counts and scores are ``int64``.

    Raises
    ------
    KeyError
        If `name` is not a bundled dataset; the message lists the available
        names.

    Examples
    --------
    >>> df = load_dataset("lineages")
    >>> list(df.columns)
    ['date', 'country', 'lineage', 'count']
    >>> str(df["lineage"].cat.categories[0])
    'L01'
    """
    entry = _entry(name)
    columns = entry["columns"]
    text_cols = {c["name"]: str for c in columns
                 if c["type"] in ("date", "categorical", "ordered_categorical")}
    raw = _read_bytes(entry["file"])
    compression = "gzip" if entry["file"].endswith(".gz") else None
    df = pd.read_csv(io.BytesIO(raw), compression=compression, dtype=text_cols,
                     keep_default_na=False, na_values=[""])
    expected = [c["name"] for c in columns]
    if list(df.columns) != expected:
        raise ValueError(f"{entry['file']}: columns {list(df.columns)} != registry {expected}")
    ordered = set(entry.get("ordered", []))
    for col in columns:
        cname, ctype = col["name"], col["type"]
        if ctype == "date":
            df[cname] = pd.to_datetime(df[cname], format="%Y-%m-%d").astype("datetime64[ns]")
        elif ctype in ("categorical", "ordered_categorical"):
            levels = entry["levels"][cname]
            values = df[cname]
            cat = pd.Categorical(values, categories=levels,
                                 ordered=ctype == "ordered_categorical" or cname in ordered)
            bad = cat.isna() & values.notna().to_numpy()
            if bad.any():
                unknown = sorted(set(values[bad]))
                raise ValueError(f"{entry['file']}: column {cname!r} has values "
                                 f"{unknown[:5]} outside its registered levels")
            df[cname] = cat
        elif ctype == "integer":
            df[cname] = df[cname].astype("int64")
        elif ctype == "float":
            df[cname] = df[cname].astype("float64")
        else:
            raise ValueError(f"unknown column type {ctype!r} for {name}.{cname}")
    return df
