"""Model comparison and hypothesis tests: ``anova``, ``drop1``/``add1``, Wald tests, level contrasts.

* :func:`anova` — likelihood-ratio tests between nested fits, as R's
  ``anova.multinom``.
* :func:`drop1` / :func:`add1` — refit without / with each term and report the
  AIC and the likelihood-ratio test (R's ``drop1.multinom`` / ``add1.multinom``
  report only the AIC), respecting marginality as R's ``drop.scope`` /
  ``add.scope``. Available as ``fit.drop1()`` / ``fit.add1(scope)``.
* :func:`wald_test` — ``(R b - q)^T (R V R^T)^{-1} (R b - q) ~ chi2(rank R)`` for
  linear hypotheses given as a matrix or as text (``"B:x = C:x"``), as
  ``car::linearHypothesis``. Available as ``fit.wald_test(...)``.
* :func:`level_contrasts` — differences of one coefficient between every pair
  of response levels (the baseline's coefficient is 0), e.g. the growth
  advantage of one lineage over another. Available as ``fit.level_contrasts(term)``.

All tests accept any covariance of :mod:`multinom.covariance` (``vcov="sandwich"``,
``vcov="cluster", cluster="country"``, a matrix...), except the
likelihood-ratio tests, which are model-based by construction.
"""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
import pandas as pd
from scipy.stats import chi2 as _chi2
from scipy.stats import norm

from .exceptions import DataError

__all__ = ["anova", "drop1", "add1", "wald_test", "WaldTest", "level_contrasts",
           "parse_hypothesis", "drop_scope", "add_scope"]


# --------------------------------------------------------------------------- helpers
def _is_fit(obj) -> bool:
    from .fit import MultinomFit
    return isinstance(obj, MultinomFit)


def _chi2_sf(stat, df):
    stat = np.asarray(stat, dtype=float)
    df = np.asarray(df, dtype=float)
    with np.errstate(invalid="ignore"):
        out = np.where(df > 0, _chi2.sf(np.where(df > 0, stat, 0.0), np.where(df > 0, df, 1.0)), np.nan)
    return out


def _lhs(fit) -> str:
    from ._formula import _split_top_level
    return _split_top_level(fit.formula, "~")[0].strip()


def _rhs(fit) -> str:
    return fit._design.parsed.rhs


def _response_counts(fit) -> pd.DataFrame:
    """Per-row counts with the levels as columns (independent of the baseline)."""
    d = fit._design
    return pd.DataFrame(d.Y_rows, columns=[str(lev) for lev in fit.levels])


def _same_data_problem(ref, other) -> str | None:
    """Why ``other`` was not fitted to the same rows/responses as ``ref`` (None if it was)."""
    if tuple(ref._design.parsed.response) != tuple(other._design.parsed.response):
        return (f"different responses ({' + '.join(ref._design.parsed.response)} vs "
                f"{' + '.join(other._design.parsed.response)})")
    if sorted(map(str, ref.levels)) != sorted(map(str, other.levels)):
        return f"different response levels ({ref.levels} vs {other.levels})"
    if ref.nrows != other.nrows:
        return f"different numbers of rows used ({ref.nrows} vs {other.nrows})"
    if not math.isclose(ref.nobs, other.nobs, rel_tol=1e-12, abs_tol=0.0):
        return f"different numbers of observations (sum of weights {ref.nobs:g} vs {other.nobs:g})"
    if not ref._design.row_index.equals(other._design.row_index):
        return "different rows used (the row labels differ)"
    a = _response_counts(ref)
    b = _response_counts(other)[list(a.columns)]
    if not np.allclose(a.to_numpy(), b.to_numpy(), rtol=1e-12, atol=0.0):
        return "different response counts or weights in the rows used"
    return None


# --------------------------------------------------------------------------- anova
def anova(*fits, test: str = "Chisq") -> pd.DataFrame:
    """Likelihood-ratio tests between nested fits (R's ``anova.multinom``).

    The fits are sorted by their number of estimated coefficients (``edf``),
    as R does, and each is compared with the one before it:
    ``LR stat. = deviance(smaller) - deviance(larger)`` on
    ``Df = edf(larger) - edf(smaller)`` degrees of freedom,
    ``Pr(Chi) = P(chi2_Df > LR stat.)``. Nesting is the user's responsibility
    (as in R); the deviance is the unpenalised one.

    Parameters
    ----------
    *fits : MultinomFit
        At least two fits of the same response on the same rows with the same
        weights.
    test : {"Chisq", "none"}
        ``"none"`` leaves out the ``Pr(Chi)`` column.

    Returns
    -------
    pandas.DataFrame
        Index ``1..n``; columns ``Model`` (right-hand side of the formula),
        ``Resid. df``, ``Resid. Dev``, ``Test`` (``"1 vs 2"``), ``Df``,
        ``LR stat.``, ``Pr(Chi)``. The response is in ``.attrs["response"]``.

    Notes
    -----
    ``Resid. df`` is ``n_rows * (K - 1) - edf`` with ``n_rows`` the number of
    data rows used and ``K`` the number of response levels, R's formula
    (``nrow(residuals) * (ncol(residuals) - 1) - edf``). For a binary response
    nnet stores the residuals as a single column, so R's value becomes
    ``-edf`` (negative); here it is ``n_rows - edf``. Only differences of
    ``Resid. df`` enter the tests, which are the same.

    Raises
    ------
    TypeError
        An argument is not a :class:`MultinomFit`.
    ValueError
        Fewer than two fits, or fits with different responses, rows used,
        weights or response counts.
    """
    if test not in ("Chisq", "none"):
        raise ValueError(f"test must be 'Chisq' or 'none', got {test!r}")
    if len(fits) == 1 and isinstance(fits[0], (list, tuple)):
        fits = tuple(fits[0])
    for f in fits:
        if not _is_fit(f):
            raise TypeError(f"anova() compares MultinomFit objects, got {type(f).__name__}")
    if len(fits) < 2:
        raise ValueError("anova() needs at least two fits to compare (likelihood-ratio tests "
                         "between nested models); for per-term tests use fit.drop1()")
    ref = fits[0]
    for i, f in enumerate(fits[1:], start=2):
        why = _same_data_problem(ref, f)
        if why is not None:
            raise ValueError(f"fits 1 and {i} were not fitted to the same data: {why}. "
                             "Likelihood-ratio tests need the same rows, weights and response")
    if any(f.decay > 0 for f in fits):
        warnings.warn("some fits use weight decay: the likelihood-ratio statistic of penalised fits "
                      "is not chi-square distributed", UserWarning, stacklevel=2)
    order = sorted(range(len(fits)), key=lambda i: fits[i].edf)  # stable, as R's order()
    mlist = [fits[i] for i in order]
    K = len(ref.levels)
    resid_df = np.array([ref.nrows * (K - 1) - f.edf for f in mlist], dtype=float)
    dev = np.array([f.deviance for f in mlist], dtype=float)
    nt = len(mlist)
    df = np.concatenate([[np.nan], -np.diff(resid_df)])
    lr = np.concatenate([[np.nan], -np.diff(dev)])
    pr = np.concatenate([[np.nan], _chi2_sf(lr[1:], df[1:])])
    out = pd.DataFrame({
        "Model": [_rhs(f) for f in mlist],
        "Resid. df": resid_df,
        "Resid. Dev": dev,
        "Test": [""] + [f"{i} vs {i + 1}" for i in range(1, nt)],
        "Df": df,
        "LR stat.": lr,
        "Pr(Chi)": pr,
    }, index=pd.RangeIndex(1, nt + 1))
    if test == "none":
        out = out.drop(columns="Pr(Chi)")
    out.attrs["heading"] = "Likelihood ratio tests of Multinomial Models"
    out.attrs["response"] = " + ".join(ref._design.parsed.response)
    return out


# --------------------------------------------------------------------------- terms and scopes
def _formula_terms(rhs: str):
    """formulaic terms of a right-hand side: list of (label, frozenset of factors)."""
    from formulaic import Formula
    try:
        F = Formula(rhs)
    except Exception as exc:  # formulaic raises several types
        from .exceptions import FormulaError
        raise FormulaError(f"cannot parse the terms {rhs!r}: {exc}") from exc
    out = []
    for t in F:
        factors = frozenset(str(getattr(fa, "expr", fa)) for fa in t.factors)
        out.append((str(t), factors))
    return out


def _model_terms(fit):
    """(has_intercept, [(label, factors)]) of the fitted model, intercept excluded."""
    terms = _formula_terms(_rhs(fit))
    has_int = any(lab == "1" for lab, _ in terms)
    return has_int, [(lab, fs) for lab, fs in terms if lab != "1" and fs != frozenset({"1"})]


def drop_scope(fit) -> list:
    """Terms that can be dropped: those not contained in another term (R's ``drop.scope``)."""
    _, terms = _model_terms(fit)
    out = []
    for i, (lab, fs) in enumerate(terms):
        if not any(j != i and fs <= other for j, (_, other) in enumerate(terms)):
            out.append(lab)
    return out


def _expand_dot(scope: str, rhs: str) -> str:
    from ._formula import _split_top_level
    parts = _split_top_level(scope, "~")
    s = parts[-1].strip()
    return re.sub(r"(?<![\w.])\.(?![\w.])", f"({rhs})", s)


def add_scope(fit, scope) -> list:
    """Terms of ``scope`` that can be added (R's ``add.scope``).

    ``scope`` is a formula (``"~ . + x + g"``, ``"~ a * b"``; ``.`` is the
    current right-hand side) whose terms must include the model's; a term can
    be added when it is not in the model and no other candidate is marginal
    to it (``a:b`` only once ``a`` and ``b`` are in).
    """
    _, model = _model_terms(fit)
    upper = [(lab, fs) for lab, fs in _formula_terms(_expand_dot(scope, _rhs(fit)))
             if lab != "1" and fs != frozenset({"1"})]
    upper_sets = [fs for _, fs in upper]
    missing = [lab for lab, fs in model if fs not in upper_sets]
    if missing:
        raise ValueError(f"upper scope {scope!r} does not include the model term(s) {missing}")
    model_sets = [fs for _, fs in model]
    cand = [(lab, fs) for lab, fs in upper if fs not in model_sets]
    out = []
    for j, (lab, fs) in enumerate(cand):
        if not any(i != j and other <= fs for i, (_, other) in enumerate(cand)):
            out.append(lab)
    return out


def _build_formula(fit, terms: list, has_intercept: bool) -> str:
    rhs = " + ".join(terms) if terms else "1"
    if not has_intercept:
        rhs = "0 + " + rhs if terms else "0"
    return f"{_lhs(fit)} ~ {rhs}"


def _refit(fit, formula: str):
    """Refit ``formula`` on exactly the rows, weights and options of ``fit``."""
    from .model import multinom
    args = getattr(fit, "_refit_args", None)
    if not args:
        raise DataError("this fit does not keep a reference to its data (fit._refit_args); "
                        "refit the models yourself and use multinom.anova()")
    args = dict(args)
    data = args.pop("data")
    idx = fit._design.row_index
    if data.index.is_unique:
        args["subset"] = data.index.isin(idx)
    kw = {k: v for k, v in args.items() if k in ("weights", "subset", "na_action", "offset", "decay",
                                                  "baseline", "maxit", "tol", "method", "censored")}
    new = multinom(formula, data, **kw)
    if new.nrows != fit.nrows or not new._design.row_index.equals(idx):
        raise DataError(f"number of rows in use has changed ({fit.nrows} -> {new.nrows}) when fitting "
                        f"{formula!r}: remove the rows with missing values first")
    return new


def _term_table(fit, rows: list, test: str) -> pd.DataFrame:
    """rows: list of (label, refit or None for the model itself)."""
    recs = []
    for lab, new in rows:
        f = fit if new is None else new
        recs.append((lab, f.edf, f.deviance, f.aic))
    out = pd.DataFrame(recs, columns=["term", "edf", "Deviance", "AIC"]).set_index("term")
    out.index.name = None
    same = out["edf"].to_numpy() == fit.edf
    same[0] = False
    out.loc[same, "AIC"] = np.nan  # as nnet: no change in the model
    out.insert(0, "Df", np.abs(out["edf"].to_numpy() - fit.edf).astype(float))
    out.iloc[0, 0] = np.nan
    if test == "Chisq":
        lrt = np.abs(out["Deviance"].to_numpy() - fit.deviance)
        lrt[0] = np.nan
        lrt[same] = np.nan
        out["LRT"] = lrt
        out["Pr(>Chi)"] = _chi2_sf(lrt, out["Df"].to_numpy())
        out.loc[out.index[0], "Pr(>Chi)"] = np.nan
    return out


def _check_test(test):
    if test not in ("Chisq", "LRT", "none", None):
        raise ValueError(f"test must be 'Chisq' (or 'LRT') or 'none', got {test!r}")
    return "none" if test in ("none", None) else "Chisq"


def drop1(fit, scope=None, test: str = "Chisq", sorted: bool = False, trace: bool = False) -> pd.DataFrame:
    """Refit without each droppable term: AIC and likelihood-ratio test (R's ``drop1``).

    Parameters
    ----------
    fit : MultinomFit
    scope : list of str or str, optional
        Terms to try (default: :func:`drop_scope`, the terms not contained in
        a higher-order term, as R's ``drop.scope``). A list of term labels is
        used as given (as R does with a character scope); a formula string
        (``"~ Type + Cont"``) names the terms to try.
    test : {"Chisq", "none"}
    sorted : bool
        Sort the rows by AIC.
    trace : bool
        Print each refit.

    Returns
    -------
    pandas.DataFrame
        One row ``"<none>"`` for the model and one per term, columns ``Df``
        (coefficients removed), ``edf`` (estimated coefficients of the refit:
        nnet's ``Df`` column), ``Deviance``, ``AIC`` (NaN when the refit has
        the same ``edf``, as nnet), ``LRT`` and ``Pr(>Chi)``.

    Notes
    -----
    Every refit uses the stored formula, data, weights, offset, decay and
    baseline of ``fit``, restricted to the rows ``fit`` used (so dropping a
    term with missing values does not bring rows back). Unlike nnet's
    ``drop1``, this works from any scope (nnet re-evaluates the call in the
    caller's frame and fails when the data are not visible there).
    """
    test = _check_test(test)
    has_int, terms = _model_terms(fit)
    labels = [lab for lab, _ in terms]
    if scope is None:
        scope = drop_scope(fit)
    else:
        if isinstance(scope, str):
            scope = [lab for lab, fs in _formula_terms(_expand_dot(scope, _rhs(fit)))
                     if lab != "1"]
        scope = list(scope)
        sets = {lab: fs for lab, fs in terms}
        resolved = []
        for s in scope:
            fs = [x for lab, x in _formula_terms(s) if lab != "1"]
            match = [lab for lab, x in sets.items() if fs and x == fs[0]]
            if len(fs) != 1 or not match:
                raise ValueError(f"scope term {s!r} is not a term of the model; terms are {labels}")
            resolved.append(match[0])
        scope = resolved
    rows = [("<none>", None)]
    for t in scope:
        kept = [lab for lab in labels if lab != t]
        formula = _build_formula(fit, kept, has_int)
        if trace:
            print(f"trying - {t}: {formula}")
        rows.append((t, _refit(fit, formula)))
    out = _term_table(fit, rows, test)
    if sorted:
        out = out.sort_values("AIC", kind="stable")
    return out


def add1(fit, scope, test: str = "Chisq", sorted: bool = False, trace: bool = False) -> pd.DataFrame:
    """Refit with each addable term: AIC and likelihood-ratio test (R's ``add1``).

    Parameters
    ----------
    fit : MultinomFit
    scope : str or list of str
        A formula of the largest model (``"~ . + Type + Cont"``,
        ``"~ Infl * Type * Cont"``; ``.`` is the current right-hand side): the
        candidates are its terms not in the model whose lower-order terms are
        (R's ``add.scope``). A list of term labels is used as given.
    test : {"Chisq", "none"}
    sorted, trace : bool

    Returns
    -------
    pandas.DataFrame
        Rows ``"<none>"`` and ``"+term"``; columns as :func:`drop1` (``Df`` =
        coefficients added).
    """
    test = _check_test(test)
    has_int, terms = _model_terms(fit)
    labels = [lab for lab, _ in terms]
    model_sets = [fs for _, fs in terms]
    if isinstance(scope, str):
        cand = add_scope(fit, scope)
    else:
        cand = []
        for s in scope:
            parsed = [(lab, fs) for lab, fs in _formula_terms(s) if lab != "1"]
            if len(parsed) != 1:
                raise ValueError(f"scope entry {s!r} must be a single term")
            if parsed[0][1] in model_sets:
                raise ValueError(f"term {s!r} is already in the model")
            cand.append(parsed[0][0])
    if not cand:
        raise ValueError("no terms in scope for adding to the model")
    rows = [("<none>", None)]
    for t in cand:
        formula = _build_formula(fit, labels + [t], has_int)
        if trace:
            print(f"trying + {t}: {formula}")
        rows.append((f"+{t}", _refit(fit, formula)))
    out = _term_table(fit, rows, test)
    if sorted:
        out = out.sort_values("AIC", kind="stable")
    return out


# --------------------------------------------------------------------------- vcov resolution
def _vcov_full(fit, vcov, vcov_args) -> np.ndarray:
    """Covariance over *all* coefficients (level-major, NaN for aliased ones)."""
    J, p = len(fit.levels) - 1, len(fit.terms)
    if vcov is None or isinstance(vcov, str):
        return fit._expand(fit._vcov_kept(vcov or "model", **vcov_args))
    if vcov_args:
        raise TypeError(f"covariance options {sorted(vcov_args)} need a covariance type name, "
                        "not a matrix")
    if isinstance(vcov, pd.DataFrame):
        labels = fit.coef_names
        missing = [lab for lab in labels if lab not in vcov.index]
        if missing:
            raise DataError(f"vcov lacks coefficient(s) {missing[:5]}")
        return vcov.loc[labels, labels].to_numpy(dtype=float)
    M = np.asarray(vcov, dtype=float)
    if M.shape == (J * p, J * p):
        return M
    k = J * int(fit._keep.sum())
    if M.shape == (k, k):
        return fit._expand(M)
    raise DataError(f"vcov has shape {M.shape}; expected {(J * p, J * p)}")


# --------------------------------------------------------------------------- hypothesis parser
_NUMBER = re.compile(r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


class _Parser:
    """Recursive descent over linear expressions in coefficient labels.

    Grammar: ``system := equation ((',' | ';' | newline) equation)*``,
    ``equation := expr ['=' expr]`` (``= 0`` when omitted),
    ``expr := term (('+' | '-') term)*``, ``term := unary (('*' | '/') unary)*``,
    ``unary := ('+' | '-') unary | NUMBER | LABEL | '(' expr ')'``. Labels are
    matched against the coefficient names longest first, so they may contain
    spaces, dots, colons, parentheses or operators.
    """

    def __init__(self, text: str, labels: list):
        self.text = text
        self.labels = sorted(set(labels), key=len, reverse=True)
        self.index = {lab: i for i, lab in enumerate(labels)}
        self.n = len(labels)
        self.toks = self._tokenize()
        self.pos = 0

    def _tokenize(self):
        s, i, toks = self.text, 0, []
        while i < len(s):
            ch = s[i]
            if ch in " \t\r":
                i += 1
                continue
            lab = next((lab for lab in self.labels if s.startswith(lab, i)), None)
            if lab is not None:
                toks.append(("label", lab, i))
                i += len(lab)
                continue
            m = _NUMBER.match(s, i)
            if m:
                toks.append(("num", float(m.group()), i))
                i = m.end()
                continue
            if ch in "+-*/()=,;\n":
                toks.append(("op", "," if ch in ";\n" else ch, i))
                if ch == "=" and s.startswith("==", i):
                    i += 1
                i += 1
                continue
            raise ValueError(f"cannot read the hypothesis {s!r} at position {i} ({s[i:i + 20]!r}): "
                             f"not a coefficient label, number or operator. Labels are: "
                             f"{list(self.index)[:12]}{' ...' if self.n > 12 else ''}")
        return toks

    def _peek(self):
        return self.toks[self.pos] if self.pos < len(self.toks) else (None, None, len(self.text))

    def _take(self):
        t = self._peek()
        self.pos += 1
        return t

    def _err(self, msg):
        _, _, at = self._peek()
        raise ValueError(f"cannot parse the hypothesis {self.text!r} at position {at}: {msg}")

    def system(self):
        eqs = []
        while True:
            if self._peek()[0] is None:
                break
            if self._peek() == ("op", ",", self._peek()[2]):
                self._take()
                continue
            eqs.append(self.equation())
            kind, val, _ = self._peek()
            if kind is None:
                break
            if not (kind == "op" and val == ","):
                self._err(f"expected ',' or the end, got {val!r}")
        if not eqs:
            raise ValueError(f"the hypothesis {self.text!r} has no equation")
        return eqs

    def equation(self):
        lhs = self.expr()
        kind, val, _ = self._peek()
        if kind == "op" and val == "=":
            self._take()
            rhs = self.expr()
        else:
            rhs = (np.zeros(self.n), 0.0)
        vec = lhs[0] - rhs[0]
        if not np.any(vec):
            raise ValueError(f"an equation of the hypothesis {self.text!r} involves no coefficient")
        return vec, rhs[1] - lhs[1]

    def expr(self):
        v, c = self.term()
        while True:
            kind, val, _ = self._peek()
            if kind == "op" and val in "+-":
                self._take()
                v2, c2 = self.term()
                sgn = 1.0 if val == "+" else -1.0
                v, c = v + sgn * v2, c + sgn * c2
            else:
                return v, c

    def term(self):
        v, c = self.unary()
        while True:
            kind, val, _ = self._peek()
            if kind == "op" and val in "*/":
                self._take()
                v2, c2 = self.unary()
                if val == "*":
                    if not np.any(v):
                        v, c = c * v2, c * c2
                    elif not np.any(v2):
                        v, c = v * c2, c * c2
                    else:
                        self._err("the product of two coefficients is not linear")
                else:
                    if np.any(v2):
                        self._err("division by a coefficient is not linear")
                    if c2 == 0:
                        self._err("division by zero")
                    v, c = v / c2, c / c2
            elif kind in ("num", "label") or (kind == "op" and val == "("):
                self._err("missing operator between terms")
            else:
                return v, c

    def unary(self):
        kind, val, _ = self._peek()
        if kind == "op" and val in "+-":
            self._take()
            v, c = self.unary()
            return (v, c) if val == "+" else (-v, -c)
        if kind == "num":
            self._take()
            return np.zeros(self.n), float(val)
        if kind == "label":
            self._take()
            v = np.zeros(self.n)
            v[self.index[val]] = 1.0
            return v, 0.0
        if kind == "op" and val == "(":
            self._take()
            out = self.expr()
            k2, v2, _ = self._peek()
            if not (k2 == "op" and v2 == ")"):
                self._err("missing ')'")
            self._take()
            return out
        self._err("expected a coefficient label, a number or '('" if kind else "unexpected end")


def parse_hypothesis(hypothesis, labels) -> tuple[np.ndarray, np.ndarray]:
    """Parse linear restrictions over ``labels`` into ``(R, q)`` with ``R b = q``.

    ``hypothesis``: a string such as ``"B:x = C:x"``, ``"B:x = 0, C:x = 0"``,
    ``"2*B:x - C:x = 1"`` (equations separated by ``,``, ``;`` or newlines; an
    equation without ``=`` means ``= 0``), or a list of such strings.
    """
    labels = list(labels)
    if isinstance(hypothesis, str):
        texts = [hypothesis]
    else:
        texts = list(hypothesis)
        if not all(isinstance(t, str) for t in texts):
            raise TypeError("a hypothesis list must hold strings")
    rows, rhs = [], []
    for t in texts:
        for vec, q in _Parser(t, labels).system():
            rows.append(vec)
            rhs.append(q)
    return np.vstack(rows), np.asarray(rhs, dtype=float)


# --------------------------------------------------------------------------- Wald test
class WaldTest:
    """Result of :func:`wald_test`.

    Attributes
    ----------
    statistic : float
        ``W = (R b - q)^T (R V R^T)^{-1} (R b - q)``.
    df : int
        Number of restrictions (rank of ``R``).
    p_value : float
        ``P(chi2_df > W)``.
    R, q : ndarray
        The restrictions over ``fit.coef_names`` and their right-hand side.
    estimate, std_error : ndarray
        ``R b - q`` per restriction, and its standard error.
    restrictions : list of str
        Readable restrictions.
    vcov_type : str
    """

    def __init__(self, statistic, df, p_value, R, q, estimate, std_error, restrictions, vcov_type):
        self.statistic = float(statistic)
        self.df = int(df)
        self.p_value = float(p_value)
        self.R = R
        self.q = q
        self.estimate = estimate
        self.std_error = std_error
        self.restrictions = restrictions
        self.vcov_type = vcov_type

    def to_frame(self) -> pd.DataFrame:
        """One-row DataFrame ``chi2, df, p_value``."""
        return pd.DataFrame({"chi2": [self.statistic], "df": [self.df], "p_value": [self.p_value]})

    def __iter__(self):  # statistic, df, p_value = fit.wald_test(...)
        return iter((self.statistic, self.df, self.p_value))

    def __repr__(self) -> str:
        lines = ["Wald test of linear hypotheses", ""]
        width = max(len(r) for r in self.restrictions)
        for r, e, s in zip(self.restrictions, self.estimate, self.std_error):
            lines.append(f"  {r:<{width}}   (estimate {e:.6g}, SE {s:.4g})")
        p = "< 2.2e-16" if self.p_value < 2.2e-16 else f"= {self.p_value:.4g}"
        lines += ["", f"Chisq = {self.statistic:.6g} on {self.df} df, p {p}",
                  f"Covariance: {self.vcov_type}"]
        return "\n".join(lines)


def _format_restriction(row, qv, labels) -> str:
    parts = []
    for coef, lab in zip(row, labels):
        if coef == 0:
            continue
        sign = "-" if coef < 0 else "+"
        mag = abs(coef)
        term = lab if mag == 1 else f"{mag:g}*{lab}"
        parts.append((sign, term))
    if not parts:
        return f"0 = {qv:g}"
    s = ("-" if parts[0][0] == "-" else "") + parts[0][1]
    for sign, term in parts[1:]:
        s += f" {sign} {term}"
    return f"{s} = {qv:g}"


def wald_test(fit, hypothesis, rhs=None, vcov=None, **vcov_args) -> WaldTest:
    """Wald chi-square test of linear restrictions ``R b = q`` (``car::linearHypothesis``).

    Parameters
    ----------
    fit : MultinomFit
    hypothesis : str, list of str, or array_like
        Text restrictions over ``fit.coef_names`` (see :func:`parse_hypothesis`:
        ``"B:x = C:x"``, ``"B:x = 0, C:x = 0"``, ``"2*B:x - C:x = 1"``), or a
        matrix ``R`` (one row per restriction, one column per coefficient in
        ``fit.coef_names`` order; a vector is one restriction; a DataFrame is
        aligned on its column labels).
    rhs : array_like, optional
        ``q`` for a matrix hypothesis (default 0).
    vcov : str or array_like, optional
        Covariance type (``"model"``, ``"sandwich"``, ``"cluster"``,
        ``"dispersion"``) or a matrix labelled/ordered like ``fit.vcov()``.
    **vcov_args
        Options of the covariance type, e.g. ``cluster="country"``.

    Returns
    -------
    WaldTest
        ``statistic`` (chi-square), ``df``, ``p_value``; prints as a report,
        ``.to_frame()`` gives a one-row DataFrame.

    Raises
    ------
    ValueError
        Unparseable text, linearly dependent restrictions, or restrictions
        that involve aliased coefficients.
    """
    labels = fit.coef_names
    n = len(labels)
    if isinstance(hypothesis, str) or (isinstance(hypothesis, (list, tuple)) and hypothesis
                                       and all(isinstance(h, str) for h in hypothesis)):
        if rhs is not None:
            raise ValueError("rhs= is only used with a matrix hypothesis; write '= value' in the text")
        R, q = parse_hypothesis(hypothesis, labels)
    else:
        if isinstance(hypothesis, pd.DataFrame):
            unknown = [c for c in hypothesis.columns if c not in labels]
            if unknown:
                raise ValueError(f"hypothesis columns {unknown[:5]} are not coefficient labels")
            R = hypothesis.reindex(columns=labels, fill_value=0.0).to_numpy(dtype=float)
        else:
            R = np.atleast_2d(np.asarray(hypothesis, dtype=float))
        if R.ndim != 2 or R.shape[1] != n:
            raise ValueError(f"the hypothesis matrix has shape {R.shape}; expected (restrictions, {n}) "
                             "with columns in fit.coef_names order")
        q = np.zeros(R.shape[0]) if rhs is None else np.broadcast_to(
            np.asarray(rhs, dtype=float).ravel(), (R.shape[0],)).copy()
    if not np.all(np.isfinite(R)) or not np.all(np.isfinite(q)):
        raise ValueError("the hypothesis has non-finite values")
    keep_full = np.tile(fit._keep, len(fit.levels) - 1)
    bad = np.flatnonzero((R[:, ~keep_full] != 0).any(axis=0))
    if bad.size:
        names = [lab for lab, k in zip(labels, keep_full) if not k]
        raise ValueError(f"the hypothesis involves aliased coefficient(s) {[names[i] for i in bad]}, "
                         "which are not estimable")
    rank = np.linalg.matrix_rank(R)
    if rank < R.shape[0]:
        raise ValueError(f"the {R.shape[0]} restrictions are linearly dependent (rank {rank}); "
                         "remove redundant ones")
    V = _vcov_full(fit, vcov, vcov_args)
    Rk, Vk = R[:, keep_full], V[np.ix_(keep_full, keep_full)]
    b = fit._B.ravel()[keep_full]
    est = Rk @ b - q
    C = Rk @ Vk @ Rk.T
    try:
        stat = float(est @ np.linalg.solve(C, est))
    except np.linalg.LinAlgError as exc:
        raise ValueError("R V R^T is singular: the restrictions cannot be tested with this "
                         "covariance") from exc
    se = np.sqrt(np.clip(np.diag(C), 0, None))
    p = float(_chi2.sf(stat, rank)) if np.isfinite(stat) else np.nan
    vtype = vcov if isinstance(vcov, str) else ("model" if vcov is None else "user-supplied")
    restr = [_format_restriction(r, qq, labels) for r, qq in zip(R, q)]
    return WaldTest(stat, rank, p, R, q, est, se, restr, vtype)


# --------------------------------------------------------------------------- level contrasts
def level_contrasts(fit, term: str, level: float = 0.95, vcov=None, versus=None,
                    **vcov_args) -> pd.DataFrame:
    """Differences of one coefficient between pairs of response levels.

    For the model-matrix column ``term`` and levels ``a``, ``b`` the contrast
    is ``beta_b[term] - beta_a[term]`` (the baseline's coefficient is 0), with

    .. math::  \\operatorname{SE} = \\sqrt{V_{bb} + V_{aa} - 2 V_{ab}},
               \\quad z = \\text{estimate} / \\operatorname{SE},
               \\quad p = 2 (1 - \\Phi(|z|)),

    and the Wald interval ``estimate ± z_{(1+level)/2} SE``. For a ``date``
    column, ``beta_b - beta_a`` is the growth-rate advantage (per day) of
    lineage ``b`` over lineage ``a``.

    Parameters
    ----------
    fit : MultinomFit
    term : str
        A model-matrix column (``fit.terms``), e.g. ``"date"``.
    level : float
        Confidence level.
    vcov : str or array_like, optional
        As in :func:`wald_test`; ``**vcov_args`` are its options.
    versus : optional
        Compare every other level with this one only (``level - versus``);
        default all pairs ``(a, b)`` with ``a`` before ``b`` in ``fit.levels``.

    Returns
    -------
    pandas.DataFrame
        Columns ``level``, ``versus``, ``estimate``, ``std_error``, ``z``,
        ``p_value`` and the interval bounds (``"2.5 %"``, ``"97.5 %"``).
        No multiplicity adjustment.
    """
    from .fit import _check_level, _pct
    level = _check_level(level)
    if term not in fit.terms:
        raise KeyError(f"{term!r} is not a model-matrix column; columns are {fit.terms}")
    levels = list(fit.levels)
    J, p = len(levels) - 1, len(fit.terms)
    k = fit.terms.index(term)
    V = _vcov_full(fit, vcov, vcov_args)
    # coefficients of `term` for all K levels (baseline 0) and their K x K covariance
    idx = np.arange(J) * p + k
    beta = np.concatenate([[0.0], fit._B[:, k]])
    S = np.zeros((J + 1, J + 1))
    S[1:, 1:] = V[np.ix_(idx, idx)]
    if not fit._keep[k]:
        beta[1:] = np.nan
        S[1:, 1:] = np.nan
    if versus is None:
        ia, ib = np.triu_indices(J + 1, 1)
    else:
        matches = [i for i, lev in enumerate(levels) if lev == versus or str(lev) == str(versus)]
        if not matches:
            raise KeyError(f"versus={versus!r} is not a response level; levels are {levels}")
        a = matches[0]
        ib = np.array([i for i in range(J + 1) if i != a])
        ia = np.full(len(ib), a)
    est = beta[ib] - beta[ia]
    var = S[ib, ib] + S[ia, ia] - 2 * S[ia, ib]
    se = np.sqrt(np.clip(var, 0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = est / se
    pval = 2 * norm.sf(np.abs(z))
    zq = norm.ppf(0.5 + level / 2)
    lo_name, hi_name = _pct((1 - level) / 2), _pct(1 - (1 - level) / 2)
    out = pd.DataFrame({
        "level": [levels[i] for i in ib], "versus": [levels[i] for i in ia],
        "estimate": est, "std_error": se, "z": z, "p_value": pval,
        lo_name: est - zq * se, hi_name: est + zq * se,
    })
    out.attrs["term"] = term
    return out
