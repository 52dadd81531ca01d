"""Parsing an R-style model formula into its response part and its right-hand side.

The right-hand side is handed to formulaic unchanged. The left-hand side is
ours, because R's multinom accepts three response forms that formulaic does not
model:

``y ~ ...``
    one column: a factor (or strings, booleans, integers) whose levels are the
    response categories;
``cbind(a, b, c) ~ ...``
    a count matrix written as in R;
``a + b + c ~ ...``
    the same count matrix, written with several numeric columns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .exceptions import FormulaError

__all__ = ["ParsedFormula", "parse_formula", "rhs_identifiers"]

_NAME = r"(?:`[^`]+`|[A-Za-z_.][A-Za-z0-9_.]*)"


@dataclass(frozen=True)
class ParsedFormula:
    """A formula split into response columns and the right-hand side.

    Attributes
    ----------
    formula : str
        The formula as given.
    response : tuple of str
        One column (factor response) or several (count matrix).
    is_count_matrix : bool
    rhs : str
        The right-hand side, for formulaic.
    """

    formula: str
    response: tuple
    is_count_matrix: bool
    rhs: str


def _strip_name(token: str) -> str:
    token = token.strip()
    if token.startswith("`") and token.endswith("`"):
        return token[1:-1]
    return token


def _split_top_level(text: str, sep: str) -> list[str]:
    parts, depth, current = [], 0, []
    for ch in text:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def parse_formula(formula: str) -> ParsedFormula:
    """Split ``formula`` into its response and right-hand side.

    Raises
    ------
    FormulaError
        If there is no single ``~``, no response, or a response that is not a
        column name, ``cbind(...)`` of column names or a sum of column names.
    """
    if not isinstance(formula, str):
        raise FormulaError(f"formula must be a string such as 'y ~ x', got {type(formula).__name__}")
    sides = _split_top_level(formula, "~")
    if len(sides) != 2:
        raise FormulaError(f"formula {formula!r} must contain exactly one '~' (response ~ terms)")
    lhs, rhs = sides[0].strip(), sides[1].strip()
    if not lhs:
        raise FormulaError(f"formula {formula!r} has no response on the left of '~'")
    if not rhs:
        raise FormulaError(f"formula {formula!r} has no terms on the right of '~' (use '~ 1' for intercept only)")
    m = re.fullmatch(r"cbind\s*\((.*)\)", lhs, flags=re.S)
    if m:
        names = [_strip_name(t) for t in _split_top_level(m.group(1), ",")]
        count_matrix = True
    elif len(_split_top_level(lhs, "+")) > 1:
        names = [_strip_name(t) for t in _split_top_level(lhs, "+")]
        count_matrix = True
    else:
        names = [_strip_name(lhs)]
        count_matrix = False
    for name in names:
        if not name or not re.fullmatch(_NAME, name if not name.startswith("`") else "`x`") and not _is_plain(name):
            raise FormulaError(
                f"response {lhs!r} in formula {formula!r} must be a column name, "
                "cbind(col1, col2, ...) or col1 + col2 + ...; transform the response in the data first")
    if count_matrix and len(names) < 2:
        raise FormulaError(f"a count-matrix response needs at least two columns, got {names}")
    if count_matrix and len(set(names)) != len(names):
        raise FormulaError(f"count-matrix response {lhs!r} names a column twice")
    if re.search(r"(?<![\w.`])\.(?![\w.`])", _STRING.sub('""', rhs)):
        raise FormulaError(f"'.' (all other columns) in formula {formula!r} is not supported; "
                           "list the predictors, e.g. ' + '.join(columns)")
    if re.search(r"(^|[^A-Za-z0-9_.])offset\s*\(", rhs):
        raise FormulaError("offset(...) terms are not supported in the formula; pass offset= instead")
    return ParsedFormula(formula=formula, response=tuple(names), is_count_matrix=count_matrix, rhs=rhs)


def _is_plain(name: str) -> bool:
    # any name without operators or parentheses (backticked names may hold spaces)
    return not re.search(r"[()~+*/^:,]", name)


_STRING = re.compile(r"""(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')""")
_TOKEN = re.compile(r"`([^`]+)`|([A-Za-z_.][A-Za-z0-9_.]*)")


def rhs_identifiers(rhs: str) -> tuple[list, list]:
    """Names used as variables and as functions in a right-hand side.

    A light tokeniser, used to report unknown functions and to find the columns
    read by formulaic's stateful transforms (``poly(x, 2)``, ``scale(x)``),
    which formulaic's ``required_variables`` leaves out. String literals and
    keyword-argument names (``df=`` in ``ns(x, df=3)``) are skipped.

    Returns
    -------
    variables : list of str
        Names not followed by ``(`` (candidates for data columns).
    functions : list of str
        Names followed by ``(``.
    """
    text = _STRING.sub('""', rhs)
    variables, functions = [], []
    for m in _TOKEN.finditer(text):
        name = m.group(1) if m.group(1) is not None else m.group(2)
        if m.group(2) is not None and re.fullmatch(r"\.?[0-9].*", name):
            continue  # a number such as 2 or .5
        rest = text[m.end():].lstrip()
        if m.group(2) is not None and rest.startswith("("):
            functions.append(name)
        elif m.group(2) is not None and rest.startswith("=") and not rest.startswith("=="):
            continue  # keyword argument
        else:
            variables.append(name)
    return list(dict.fromkeys(variables)), list(dict.fromkeys(functions))
