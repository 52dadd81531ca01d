"""The fitted model: :class:`MultinomFit`.

Attributes hold what the fit stores (``coef``, ``loglik``, ``fitted``...);
methods compute what takes options (``vcov()``, ``confint(level=)``,
``predict()``, ``summary()``). Everything about inference derives from one
place, :meth:`MultinomFit.vcov`, which derives from :meth:`information`.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.stats import norm

from . import _predict
from ._likelihood import linear_predictor, log_softmax, loglik
from .design import Design
from .exceptions import DataError
from .information import _mirror_upper, arrow_inverse, check_memory, cholesky_inverse, observed_information

__all__ = ["MultinomFit"]

_PREDICT_TYPES = ("probs", "class", "link")
_INTERVALS = ("logit", "probability")


def _check_level(level: float) -> float:
    if isinstance(level, bool) or not isinstance(level, (int, float, np.floating)) or not 0 < level < 1:
        raise ValueError(f"level must be a number strictly between 0 and 1, got {level!r}")
    return float(level)


def _pct(x: float) -> str:
    """R's percentage labels: 0.025 -> "2.5 %"."""
    return np.format_float_positional(round(100 * x, 10), trim="-") + " %"


class MultinomFit:
    """A fitted multinomial logit model (what :func:`multinom.multinom` returns).

    Attributes
    ----------
    formula : str
    levels : list
        Response levels, baseline first.
    baseline
        The reference level (log-odds are against it).
    coef : pandas.DataFrame or pandas.Series
        ``(K - 1) x p`` coefficients, rows = non-baseline levels, columns =
        model-matrix columns (R-style names); a Series for a binary response
        (the coefficients of the second level, as nnet). Aliased columns hold 0.
    loglik, deviance : float
        Log-likelihood ``sum_i sum_k Y_ik log p_ik`` and ``-2 loglik``, as nnet
        (for a count matrix there is no saturated-model term). With ``decay``,
        ``loglik`` is the unpenalised log-likelihood at the penalised optimum.
    penalty : float
        ``decay * sum(beta**2)`` at the optimum (0 without decay). nnet's
        ``deviance`` (and so its AIC) includes ``2 * penalty``; ours does not.
    edf : int
        Number of estimated (non-aliased) coefficients.
    aic, bic : float
        ``deviance + 2 edf`` and ``deviance + log(nobs) edf``.
    nobs : float
        Sum of the weights (row totals for a count matrix), as R's ``logLik``.
    fitted : pandas.DataFrame
        ``n x K`` fitted probabilities of the rows used, indexed like the data.
    residuals : pandas.DataFrame
        Observed proportions minus fitted probabilities (R's
        ``residuals.multinom``).
    n_dropped, n_excluded : int
        Rows dropped for missing values, rows excluded by ``subset``.
    converged : bool
    n_iter : int
    convergence : dict
        Method used, iterations, the scale-free criterion
        (estimated relative gap ``decrement / 2 / |f|``) and the tolerance.
    aliased : list of str
        Model-matrix columns that were collinear with earlier ones (coefficients
        fixed at 0, NaN in ``vcov``).
    diverging : list of str
        Coefficient labels that diverge to +-infinity (separation).
    decay : float
    """

    def __init__(self, design: Design, result, *, decay: float, formula: str, call: str, tol: float,
                 censored: bool = False):
        self._design = design
        self._result = result
        self.formula = formula
        self.call = call
        self.decay = float(decay)
        self.levels = list(design.levels)
        self.baseline = design.baseline
        self.binary = design.binary
        self.is_count_matrix = design.is_count_matrix
        self.terms = list(design.column_names)
        keep = ~design.aliased
        self._keep = keep
        J, p = len(self.levels) - 1, len(self.terms)
        B = np.zeros((J, p))
        B[:, keep] = result.B
        self._B = B
        if self.binary:
            self.coef = pd.Series(B[0], index=self.terms, name=self.levels[1])
        else:
            self.coef = pd.DataFrame(B, index=pd.Index(self.levels[1:], name="level"),
                                     columns=self.terms)
        Yr = design.Y_rows
        P_rows = result.P[design.groups]
        logp = log_softmax(linear_predictor(design.Z[:, keep] if not sp.issparse(design.Z)
                                            else design.Z[:, np.flatnonzero(keep)], result.B,
                                            design.offset))
        self.censored = bool(censored)
        self.loglik = loglik(logp, design.Y, self.censored)
        # censored rows count once (their weight), not once per possible class
        self.nobs = float(Yr.max(axis=1).sum() if self.censored else Yr.sum())
        self.deviance = -2.0 * self.loglik
        self.penalty = self.decay * float(np.sum(B * B))
        self.edf = int(J * keep.sum())
        self.aic = self.deviance + 2.0 * self.edf
        self.bic = self.deviance + math.log(self.nobs) * self.edf if self.nobs > 0 else math.nan
        cols = pd.Index(self.levels, name="level")
        self.fitted = pd.DataFrame(P_rows, index=design.row_index, columns=cols)
        m = Yr.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            props = np.where(m[:, None] > 0, Yr / np.where(m > 0, m, 1.0)[:, None], np.nan)
        self.residuals = pd.DataFrame(props - P_rows, index=design.row_index, columns=cols)
        self.n_dropped = design.n_dropped
        self.n_excluded = design.n_excluded
        self.converged = bool(result.converged)
        self.n_iter = int(result.n_iter)
        self.convergence = {
            "method": result.method, "converged": self.converged, "n_lbfgs": result.n_lbfgs,
            "n_newton": result.n_newton, "criterion": float(result.criterion), "tol": tol,
            "seconds": result.seconds, "message": result.message,
        }
        self.aliased = [t for t, a in zip(self.terms, design.aliased) if a]
        labels = self._labels()
        div_full = np.zeros((J, p), dtype=bool)
        div_full[:, keep] = result.diverging
        self.diverging = [lab for lab, d in zip(labels, div_full.ravel()) if d]
        self._cache = {}

    # ------------------------------------------------------------------ labels
    def _labels(self):
        if self.binary:
            return list(self.terms)
        return [f"{lev}:{t}" for lev in self.levels[1:] for t in self.terms]

    @property
    def coef_names(self) -> list:
        """Coefficient labels in nnet's level-major order (``"level:term"``)."""
        return self._labels()

    @property
    def nrows(self) -> int:
        """Number of data rows used in the fit."""
        return self._design.n_rows

    # ----------------------------------------------------------- information
    def _Z_kept(self):
        d = self._design
        return d.Z[:, self._keep] if not sp.issparse(d.Z) else d.Z[:, np.flatnonzero(self._keep)]

    def _row_weights(self) -> np.ndarray:
        d = self._design
        return d.Y.max(axis=1) if self.censored else d.m

    def _unpenalised_information(self, Z, sparse_output: bool = False):
        """Information of the coefficients of model matrix ``Z`` at the fitted probabilities."""
        return observed_information(self._result.P, Z, self._design.Y, censored=self.censored,
                                    sparse_output=sparse_output)

    def _information_kept(self) -> np.ndarray:
        if "H" not in self._cache:
            Zk = self._Z_kept()
            check_memory(Zk.shape[1] * (len(self.levels) - 1))
            H = self._unpenalised_information(Zk)
            if self.decay:
                H[np.diag_indices_from(H)] += 2.0 * self.decay
            self._cache["H"] = H
        return self._cache["H"]

    def _expand(self, M_kept: np.ndarray, fill=np.nan) -> np.ndarray:
        """Embed a matrix over the kept coefficients into all coefficients.

        Without aliased columns this is ``M_kept`` itself, uncopied: it may be
        the cached matrix, so the public accessors wrap it with ``copy=True``.
        """
        J, p = len(self.levels) - 1, len(self.terms)
        if self._keep.all():
            return M_kept
        idx = np.flatnonzero(np.tile(self._keep, J))
        out = np.full((J * p, J * p), fill)
        out[np.ix_(idx, idx)] = M_kept
        return out

    def information(self) -> pd.DataFrame:
        """Observed (= expected) Fisher information of the coefficients.

        ``sum_i w_i (diag(p_i) - p_i p_i^T) ⊗ z_i z_i^T`` (see
        :func:`multinom.information_matrix`), plus ``2 * decay`` on the diagonal
        for a penalised fit. For a censored fit, the observed information
        ``I(p) - I(q)`` (see :func:`multinom._likelihood.objective_censored`). Labelled ``"level:term"`` in nnet's order; rows and
        columns of aliased coefficients are 0.
        """
        labels = self._labels()
        return pd.DataFrame(self._expand(self._information_kept(), fill=0.0), index=labels, columns=labels,
                            copy=True)

    def _vcov_model_kept(self) -> np.ndarray:
        """Inverse information, computed where it is well conditioned.

        The information is formed and inverted in the coordinates of
        :class:`multinom._optimize.ColumnTransform` (``Z' = Z T``: columns
        centred within their parent indicator and scaled), where an uncentred
        date (days since 1970) no longer makes it nearly singular, and mapped
        back exactly: with ``T_b = I_J ⊗ T``, ``H' = T_b^T H T_b`` and
        ``V = T_b H'^{-1} T_b^T``.
        """
        if "V" not in self._cache:
            from ._optimize import ColumnTransform
            Zk = self._Z_kept()
            J = len(self.levels) - 1
            check_memory(Zk.shape[1] * J)
            ct = ColumnTransform(Zk, self._row_weights()) if Zk.shape[1] else None
            if ct is None or ct.identity:
                V = cholesky_inverse(self._information_kept())
            else:
                # sparse when the design is (factor designs): then the block-arrow
                # structure (globals + one block per country) is inverted by block
                # elimination, falling back on the dense Cholesky inverse
                Ht = self._unpenalised_information(ct.transform_Z(Zk), sparse_output=True)
                if self.decay:  # 2 decay I in the original coordinates
                    TtT = (ct.T.T @ ct.T) * (2.0 * self.decay)
                    Ht = Ht + sp.kron(sp.identity(J), TtT, format="csr")
                Vt = arrow_inverse(Ht) if sp.issparse(Ht) else None
                if Vt is None:
                    Vt = cholesky_inverse(Ht.toarray() if sp.issparse(Ht) else np.asarray(Ht))
                del Ht
                V = None
                if Vt is not None:
                    # T_b Vt T_b^T block by block: T (p x p) applied to both sides of every
                    # p x p block, as two dense products (N^2 p flops; T is small)
                    Td = ct.T.toarray()
                    p = Td.shape[0]
                    N = J * p
                    V = np.matmul(Td, Vt.reshape(J, p, N)).reshape(N, N)  # T_b Vt
                    del Vt
                    V = (V.reshape(N * J, p) @ Td.T).reshape(N, N)  # (T_b Vt) T_b^T
                    _mirror_upper(V)  # exactly symmetric
            if V is None:
                warnings.warn(
                    "the information matrix is numerically singular (diverging coefficients or "
                    "a level with almost no observations?); vcov() is NaN", RuntimeWarning, stacklevel=3)
                n = Zk.shape[1] * J
                V = np.full((n, n), np.nan)
            self._cache["V"] = V
        return self._cache["V"]

    def _vcov_kept(self, type="model", **kwargs) -> np.ndarray:
        if type == "model" and not kwargs:
            return self._vcov_model_kept()
        if self.censored:
            raise ValueError(f"vcov type {type!r} is not available for censored fits; use type='model'")
        from .covariance import vcov_kept  # robust covariances live apart
        return vcov_kept(self, type=type, **kwargs)

    def vcov(self, type: str = "model", **kwargs) -> pd.DataFrame:
        """Variance–covariance matrix of the coefficients.

        Parameters
        ----------
        type : str, default "model"
            ``"model"``: the exact inverse of :meth:`information` (Cholesky,
            not nnet's truncated pseudo-inverse; with ``decay`` the penalty's
            curvature is included, nnet ignores it). Other types are described
            in :mod:`multinom.covariance`.

        Returns
        -------
        pandas.DataFrame
            Labelled ``"level:term"`` (plain terms for binary); aliased
            coefficients are NaN.
        """
        labels = self._labels()
        return pd.DataFrame(self._expand(self._vcov_kept(type, **kwargs)), index=labels, columns=labels,
                            copy=True)

    def std_errors(self, type: str = "model", **kwargs) -> pd.Series:
        """Standard errors ``sqrt(diag(vcov()))`` as a Series labelled like vcov."""
        V = self.vcov(type, **kwargs)
        return pd.Series(np.sqrt(np.diag(V.to_numpy())), index=V.index, name="std_error")

    def confint(self, level: float = 0.95, type: str = "model", **kwargs) -> pd.DataFrame:
        """Wald confidence intervals ``estimate ± z_{(1+level)/2} SE``.

        Returns a DataFrame indexed like :meth:`vcov` with columns named from
        ``level`` (``"2.5 %"`` and ``"97.5 %"`` for 0.95), as R's ``confint``.
        """
        level = _check_level(level)
        se = self.std_errors(type, **kwargs).to_numpy()
        est = self._B.ravel()
        z = norm.ppf(0.5 + level / 2)
        a = (1 - level) / 2
        cols = [_pct(a), _pct(1 - a)]
        return pd.DataFrame({cols[0]: est - z * se, cols[1]: est + z * se}, index=self._labels())

    def summary(self, level: float = 0.95, type: str = "model", **kwargs):
        """Coefficient table with SEs, Wald z, two-sided p-values and CIs.

        Returns a :class:`multinom.summary.Summary`; ``print`` it for an R-like
        report (one block per response level).
        """
        from .summary import Summary
        return Summary.from_fit(self, level=_check_level(level), type=type, **kwargs)

    # --------------------------------------------------------------- predict
    def _newdata_arrays(self, newdata, offset):
        d = self._design
        if not isinstance(newdata, pd.DataFrame):
            raise TypeError(f"newdata must be a pandas DataFrame, got {type(newdata).__name__}")
        spec = d.spec
        spec.check_columns(newdata)
        if spec.offset_columns and offset is None:
            missing = [c for c in spec.offset_columns if c not in newdata.columns]
            if missing:
                raise DataError(f"newdata is missing offset column(s) {missing}; the model was fitted with them")
        complete = spec.complete_rows(newdata)
        sub = newdata.loc[complete] if not complete.all() else newdata
        X = spec.model_matrix(sub) if len(sub) else None
        off = None
        if spec.offset_columns is not None or spec.offset_is_array or offset is not None:
            if offset is not None:
                offset = np.asarray(offset, dtype=float)
                off_full = spec.offset(newdata, offset)
                off = off_full[complete]
            else:
                off = spec.offset(sub)
        return complete, X, off

    def _link_and_probs(self, X, off):
        keep = np.flatnonzero(self._keep)
        Xk = X[:, keep]
        eta = linear_predictor(Xk, self._B[:, keep], off)
        return eta, np.exp(log_softmax(eta)), Xk

    def predict(self, newdata=None, type: str = "probs", se: bool = False, level: float = 0.95,
                interval: str = "logit", vcov=None, offset=None, carry="formula", **vcov_args):
        """Predictions for ``newdata`` (default: the rows used in fitting).

        Parameters
        ----------
        newdata : pandas.DataFrame, optional
            Must hold every column the formula's right-hand side reads (and the
            offset columns, when the fit used ``offset=`` column names). Rows
            with a missing predictor give NaN rows in place. A factor level not
            seen in fitting raises :class:`~multinom.exceptions.UnseenLevelError`.
        type : {"probs", "class", "link"}
            Probabilities of every level, the most probable level, or the
            log-odds against the baseline (``K - 1`` columns).
        se : bool, default False
            ``False``: a wide DataFrame (one column per level, rows like
            ``newdata``). ``True``: a long (tidy) DataFrame with one row per
            (newdata row, level) and columns ``row`` (newdata's index label),
            ``level``, ``prob`` (or ``link``), ``se``, ``lower``, ``upper``;
            see :mod:`multinom._predict` for the delta method.
        level : float, default 0.95
            Confidence level of the bands.
        interval : {"logit", "probability"}
            Band construction for probabilities: on the logit scale (inside
            (0, 1), as R's effects package) or symmetric on the probability
            scale (as emmeans' ``mode = "prob"``). Link predictions always get
            symmetric bands.
        vcov : array_like or str, optional
            Coefficient covariance to use: a ``vcov(type=...)`` name such as
            ``"sandwich"``, or a matrix labelled/ordered like :meth:`vcov`.
            Options of a named type go in ``**vcov_args`` (e.g.
            ``vcov="cluster", cluster="country"``).
        offset : array_like, optional
            Offset for ``newdata`` when the fit used an array offset (n x K, or
            length n for binary). Unlike nnet, offsets are always applied.
        carry : "formula", "all" or None
            With ``se=True``, which newdata columns to repeat in the long
            table: the ones the formula reads (default; dates come back as
            dates), all of them, or none.
        """
        if type not in _PREDICT_TYPES:
            raise ValueError(f"type must be one of {_PREDICT_TYPES}, got {type!r}")
        if interval not in _INTERVALS:
            raise ValueError(f"interval must be one of {_INTERVALS}, got {interval!r}")
        if vcov_args and not se:
            raise TypeError(f"unexpected argument(s) {sorted(vcov_args)} (covariance options such as "
                            "cluster= are only used with se=True)")
        if se:
            level = _check_level(level)
            if type == "class":
                raise ValueError("type='class' has no standard errors; use se=False")
        d = self._design
        if newdata is None:
            index = d.row_index
            complete = np.ones(len(index), dtype=bool)
            X = d.Z[d.groups]
            off = d.offset_rows if offset is None else None
            if offset is not None:
                raise ValueError("offset= is only used with newdata")
            frame = None
        else:
            complete, X, off = self._newdata_arrays(newdata, offset)
            index = newdata.index
            frame = newdata
        n = len(index)
        K = len(self.levels)
        eta_full = np.full((n, K), np.nan)
        P_full = np.full((n, K), np.nan)
        Xk = None
        if X is not None and X.shape[0]:
            eta, P, Xk = self._link_and_probs(X, off)
            eta_full[complete] = eta
            P_full[complete] = P
        lev_index = pd.Index(self.levels, name="level")
        if not se:
            if type == "probs":
                return pd.DataFrame(P_full, index=index, columns=lev_index)
            if type == "link":
                return pd.DataFrame(eta_full[:, 1:] - eta_full[:, :1], index=index,
                                    columns=pd.Index(self.levels[1:], name="level"))
            cls = np.where(complete, np.nanargmax(np.where(np.isnan(P_full), -1, P_full), axis=1), -1)
            cat = pd.Categorical.from_codes(cls, categories=self.levels)
            return pd.Series(cat, index=index, name="class")
        # ------------------------------------------------ with standard errors
        V = self._resolve_vcov(vcov, **vcov_args)
        if type == "probs":
            value_name, levs = "prob", self.levels
        else:
            value_name, levs = "link", self.levels[1:]
        L = len(levs)
        est = np.full((n, L), np.nan)
        se_arr, lo, hi = est.copy(), est.copy(), est.copy()
        if Xk is not None and Xk.shape[0]:
            res = _predict.prediction_se(Xk, V, eta_full[complete], type=type, level=level,
                                         interval=interval)
            for arr, key in ((est, "estimate"), (se_arr, "se"), (lo, "lower"), (hi, "upper")):
                arr[complete] = res[key]
        columns = {"row": index.repeat(L).to_numpy()}
        if frame is not None and carry:
            if carry == "formula":
                used = set(d.spec.variables)
                cols = [c for c in frame.columns if c in used]  # newdata's column order
            elif carry == "all":
                cols = list(frame.columns)
            else:
                raise ValueError(f"carry must be 'formula', 'all' or None, got {carry!r}")
            reserved = {"row", "level", value_name, "se", "lower", "upper"}
            rep = np.repeat(np.arange(n), L)
            for c in cols:
                if c not in reserved:  # dtypes kept: dates stay dates, factors stay factors
                    columns[c] = frame[c].iloc[rep].reset_index(drop=True)
        columns["level"] = pd.Categorical.from_codes(np.tile(np.arange(L), n), categories=levs)
        columns.update({value_name: est.ravel(), "se": se_arr.ravel(), "lower": lo.ravel(),
                        "upper": hi.ravel()})
        return pd.DataFrame(columns)

    def _resolve_vcov(self, vcov, **vcov_args):
        if vcov is None or isinstance(vcov, str):
            return self._vcov_kept(vcov or "model", **vcov_args)
        if vcov_args:
            raise TypeError(f"unexpected argument(s) {sorted(vcov_args)}: covariance options need "
                            "vcov= to be a type name such as 'cluster'")
        if isinstance(vcov, pd.DataFrame):
            labels = self._labels()
            missing = [lab for lab in labels if lab not in vcov.index]
            if missing:
                raise DataError(f"vcov lacks coefficient(s) {missing[:5]}")
            M = vcov.loc[labels, labels].to_numpy(dtype=float)
        else:
            M = np.asarray(vcov, dtype=float)
        J, p = len(self.levels) - 1, len(self.terms)
        if M.shape == (J * p, J * p):
            idx = np.flatnonzero(np.tile(self._keep, J))
            return M[np.ix_(idx, idx)]
        k = J * int(self._keep.sum())
        if M.shape == (k, k):
            return M
        raise DataError(f"vcov has shape {M.shape}; expected {(J * p, J * p)}")

    # ------------------------------------------------------ inference (multinom.inference)
    def drop1(self, scope=None, test: str = "Chisq", sorted: bool = False, trace: bool = False):
        """Refit without each droppable term: AIC and LR tests (see :func:`multinom.inference.drop1`)."""
        from .inference import drop1
        return drop1(self, scope=scope, test=test, sorted=sorted, trace=trace)

    def add1(self, scope, test: str = "Chisq", sorted: bool = False, trace: bool = False):
        """Refit with each addable term of ``scope``: AIC and LR tests (see :func:`multinom.inference.add1`)."""
        from .inference import add1
        return add1(self, scope, test=test, sorted=sorted, trace=trace)

    def wald_test(self, hypothesis, rhs=None, vcov=None, **vcov_args):
        """Wald chi-square test of ``R b = q`` (see :func:`multinom.inference.wald_test`)."""
        from .inference import wald_test
        return wald_test(self, hypothesis, rhs=rhs, vcov=vcov, **vcov_args)

    def level_contrasts(self, term: str, level: float = 0.95, vcov=None, versus=None, **vcov_args):
        """Pairwise differences of a coefficient between levels (see :func:`multinom.inference.level_contrasts`)."""
        from .inference import level_contrasts
        return level_contrasts(self, term, level=level, vcov=vcov, versus=versus, **vcov_args)

    def dispersion(self) -> float:
        """Pearson dispersion ``phi`` (see :func:`multinom.covariance.pearson_dispersion`)."""
        from .covariance import dispersion
        return dispersion(self)

    # ------------------------------------------------------------------ repr
    def __repr__(self) -> str:
        lines = [f"multinom: {self.call}", "", "Coefficients:"]
        with pd.option_context("display.width", 120, "display.max_columns", 12):
            lines.append(self.coef.to_string())
        lines += ["", f"Residual Deviance: {self.deviance:.4f}", f"AIC: {self.aic:.4f}"]
        if not self.converged:
            lines.append("WARNING: the fit did not converge (see fit.convergence)")
        if self.aliased:
            lines.append(f"Aliased (collinear) columns, coefficients fixed at 0: {self.aliased}")
        if self.diverging:
            lines.append(f"Diverging coefficients (separation): {self.diverging}")
        if self.n_dropped:
            lines.append(f"({self.n_dropped} rows dropped for missing values)")
        return "\n".join(lines)

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_cache"] = {}
        return state
