"""The entry point: ``multinom(formula, data, ...)`` → :class:`~multinom.fit.MultinomFit`.

Data flow: formula + data → :func:`multinom.design.build_design` →
:func:`multinom._optimize.fit_coefficients` → :class:`multinom.fit.MultinomFit`.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ._optimize import fit_coefficients
from .design import build_design
from .exceptions import ConvergenceWarning, DataError, RankDeficientWarning, SeparationWarning
from .fit import MultinomFit

__all__ = ["multinom"]


def _format_call(formula, kwargs) -> str:
    parts = [f"formula = {formula!r}"]
    for k, v in kwargs.items():
        if v is None or (k == "decay" and not v):
            continue
        if isinstance(v, (str, int, float, bool, list, tuple)) and len(repr(v)) < 60:
            parts.append(f"{k} = {v!r}")
        else:
            parts.append(f"{k} = <{type(v).__name__}>")
    return "multinom(" + ", ".join(parts) + ")"


def _start_matrix(start, J: int, p: int, terms, levels) -> np.ndarray:
    if isinstance(start, pd.DataFrame):
        rows = [lev for lev in levels[1:] if lev not in start.index]
        cols = [t for t in terms if t not in start.columns]
        if rows or cols:
            raise DataError(f"start lacks level(s) {rows} / column(s) {cols}; label it like fit.coef "
                            f"(rows {list(levels[1:])}, columns {list(terms)})")
        arr = start.loc[list(levels[1:]), list(terms)].to_numpy(dtype=float)
    elif isinstance(start, pd.Series):
        if J != 1:
            raise DataError(f"start is a Series but the model has {J} non-baseline levels; pass a DataFrame "
                            "labelled like fit.coef")
        cols = [t for t in terms if t not in start.index]
        if cols:
            raise DataError(f"start lacks column(s) {cols}; label it like fit.coef ({list(terms)})")
        arr = start.loc[list(terms)].to_numpy(dtype=float)[None, :]
    else:
        try:
            arr = np.asarray(start, dtype=float)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"start must be numeric, shaped like fit.coef: {exc}") from exc
        if arr.size != J * p:
            raise DataError(f"start has {arr.size} values; the model has {J * p} coefficients ({J} levels x {p} columns)")
    if not np.all(np.isfinite(arr)):
        raise DataError("start has missing or infinite values")
    return arr.reshape(J, p)


def _check_censored(design, data: pd.DataFrame) -> None:
    """``censored=True`` needs a count matrix of 0/1 indicators."""
    if not design.is_count_matrix:
        raise DataError("censored=True needs a count-matrix response, e.g. cbind(a, b, c) ~ x, "
                        "whose 1s mark the possible classes of each row")
    for col in design.parsed.response:
        values = data[col].to_numpy(dtype=float, na_value=np.nan)
        bad = ~(np.isnan(values) | (values == 0) | (values == 1))
        if bad.any():
            row = data.index[np.flatnonzero(bad)[0]]
            raise DataError(f"censored=True needs 0/1 entries in the response columns; column "
                            f"'{col}' has {values[bad][0]:g} at row {row!r} (counts are not allowed)")


def multinom(formula: str, data: pd.DataFrame, weights=None, subset=None, na_action: str = "drop",
             offset=None, decay: float = 0.0, baseline=None, start=None, maxit: int = 10000,
             tol: float = 1e-10, trace: bool = False, method: str = "auto", summ=None,
             censored: bool = False) -> MultinomFit:
    """Fit a multinomial logit (softmax) model, as R's ``nnet::multinom``.

    The model: for row ``i`` with model-matrix row ``z_i``, level ``k`` has
    probability ``p_ik = exp(eta_ik) / sum_l exp(eta_il)`` with
    ``eta_ik = z_i^T beta_k + offset_ik`` and ``beta_baseline = 0``. The
    coefficients maximise ``sum_i sum_k Y_ik log p_ik - decay * sum(beta**2)``.

    Parameters
    ----------
    formula : str
        R-style formula. Response: a column (factor, strings, booleans or
        integers: its levels are the categories; pandas Categorical order is
        kept, otherwise sorted as R's ``factor()``), or a count matrix written
        ``cbind(a, b, c) ~ ...`` or ``a + b + c ~ ...``. Right-hand side:
        formulaic syntax with treatment contrasts (``x + g``, ``g:x``,
        ``g * x``, ``C(g)``, ``np.log(x)``, ``ns(date, df=2)``...). Date
        columns are used as days since 1970-01-01.
    data : pandas.DataFrame
    weights : str or array_like, optional
        Frequency weights (a column name or a length-n array): a row of weight
        2 fits exactly like two identical rows. For a count matrix they
        multiply the counts (nnet's semantics).
    subset : array of bool or str, optional
        Rows to use: a boolean mask or a :meth:`pandas.DataFrame.query` string.
    na_action : {"drop", "raise"}
        Rows with a missing response, predictor, weight or offset are dropped
        (and counted in ``fit.n_dropped``) or raise :class:`DataError`.
    offset : str, list of str or array_like, optional
        Known part of the linear predictor: ``n x K`` (one column per level,
        the data's level order) for ``K >= 3``, length ``n`` for a binary
        response, given as column name(s) (then read from ``newdata`` in
        ``predict``) or an array. Unlike nnet, ``predict`` applies it.
    decay : float, default 0
        nnet's weight decay: the penalty ``decay * sum(beta**2)`` over all
        coefficients, intercepts included.
    baseline : optional
        The reference level; default the first level.
    start : array_like, optional
        Starting coefficients, shaped like ``fit.coef`` (or flat, nnet order).
    maxit : int, default 10000
        Iteration limit of the optimiser. nnet's default of 100 stops long
        before the optimum without saying so; we warn when the limit is hit.
    tol : float, default 1e-10
        Convergence tolerance on the estimated relative gap to the optimum
        (Newton decrement / 2 / |log-likelihood|).
    trace : bool
        Print optimiser progress.
    method : {"auto", "newton", "lbfgs"}
        ``"lbfgs"``: preconditioned L-BFGS only (no information matrix; for
        huge models). ``"newton"``: Newton steps with the exact information.
        ``"auto"``: Newton for small models, L-BFGS followed by Newton polish
        otherwise, L-BFGS alone when the information would not fit in memory.
    summ : ignored
        Accepted for nnet compatibility: rows with identical covariates are
        always collapsed, exactly (nnet's ``summ = 1`` can merge distinct rows).
    censored : bool, default False
        nnet's ``censored``: with a count-matrix response whose entries are 0
        or 1, a 1 marks each class the observation *may* belong to, and the
        log-likelihood is ``sum_i w_i log sum_{k possible} p_ik``. Rows are
        not collapsed; ``vcov()`` is the inverse of the observed information.

    Returns
    -------
    MultinomFit

    Warns
    -----
    ConvergenceWarning
        The iteration limit was reached first.
    SeparationWarning
        Some coefficients diverge (a level never observed for some covariate
        pattern); they are named.
    RankDeficientWarning
        Collinear model-matrix columns; their coefficients are fixed at 0.
    """
    if isinstance(decay, bool) or not isinstance(decay, (int, float, np.integer, np.floating)) or not np.isfinite(decay) or decay < 0:
        raise ValueError(f"decay must be a finite number >= 0, got {decay!r}")
    if isinstance(maxit, (float, np.floating)) and np.isfinite(maxit) and float(maxit).is_integer():
        maxit = int(maxit)  # R users write maxit = 1e4
    if isinstance(maxit, bool) or not isinstance(maxit, (int, np.integer)) or maxit < 1:
        raise ValueError(f"maxit must be a positive integer, got {maxit!r}")
    if isinstance(tol, bool) or not isinstance(tol, (int, float, np.floating)) or not (0 < tol < 1):
        raise ValueError(f"tol must be a number in (0, 1), got {tol!r}")
    if method not in ("auto", "newton", "lbfgs"):
        raise ValueError(f"method must be 'auto', 'newton' or 'lbfgs', got {method!r}")
    design = build_design(formula, data, weights=weights, subset=subset, na_action=na_action,
                          offset=offset, baseline=baseline, collapse=not censored)
    if censored:
        _check_censored(design, data)
    if design.aliased.any():
        names = [n for n, a in zip(design.column_names, design.aliased) if a]
        warnings.warn(
            f"the model matrix is rank deficient: column(s) {names} are linear combinations of "
            "earlier columns (aliased); their coefficients are fixed at 0 and their standard errors are NaN",
            RankDeficientWarning, stacklevel=2)
    keep = np.flatnonzero(~design.aliased)
    Zk = design.Z[:, keep]
    J, p = len(design.levels) - 1, len(design.column_names)
    B0 = None
    if start is not None:
        B0 = _start_matrix(start, J, p, design.column_names, design.levels)[:, keep]
    result = fit_coefficients(Zk, design.Y, design.offset, decay=decay, start=B0, method=method,
                              maxit=maxit, tol=tol, trace=trace, censored=censored)
    call = _format_call(formula, {"weights": weights if isinstance(weights, str) else
                                  (None if weights is None else np.asarray(weights)),
                                  "subset": subset if isinstance(subset, str) else
                                  (None if subset is None else np.asarray(subset)),
                                  "offset": offset if isinstance(offset, (str, list, tuple)) or offset is None
                                  else np.asarray(offset),
                                  "decay": decay, "baseline": baseline})
    fit = MultinomFit(design, result, decay=decay, formula=formula, call=call, tol=tol,
                      censored=censored)
    # what drop1/add1 and cluster= column names need to refit / read the data (a reference, no copy)
    fit._refit_args = dict(data=data, weights=weights, subset=subset, na_action=na_action, offset=offset,
                           decay=decay, baseline=baseline, maxit=maxit, tol=tol, method=method,
                           censored=censored)
    if not fit.converged:
        warnings.warn(
            f"the fit did not converge after {fit.n_iter} iterations ({result.method}; estimated "
            f"relative gap {result.criterion:.2e} > tol {tol:g}). Try method='newton', a larger "
            "maxit, rescaling predictors, or check for separation (fit.diverging)",
            ConvergenceWarning, stacklevel=2)
    if fit.diverging:
        shown = fit.diverging[:10]
        more = f" and {len(fit.diverging) - 10} more" if len(fit.diverging) > 10 else ""
        warnings.warn(
            f"coefficient(s) {shown}{more} diverge to +/-infinity: (quasi-)complete separation, some "
            "response level is (almost) never or always observed for these terms. The deviance is "
            "at its infimum, but these estimates and their standard errors are not meaningful",
            SeparationWarning, stacklevel=2)
    return fit
