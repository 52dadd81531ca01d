"""The coefficient table and its R-like printout: :class:`Summary`."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm

__all__ = ["Summary", "significance_stars"]


def significance_stars(p) -> np.ndarray:
    """R's codes: ``***`` < 0.001 < ``**`` < 0.01 < ``*`` < 0.05 < ``.`` < 0.1."""
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, "", dtype=object)
    for cut, mark in ((0.1, "."), (0.05, "*"), (0.01, "**"), (0.001, "***")):
        out[p < cut] = mark
    return out


class Summary:
    """Wald inference for every coefficient of a fit.

    Attributes
    ----------
    table : pandas.DataFrame
        Indexed like ``fit.vcov()`` (``"level:term"``) with columns
        ``estimate``, ``std_error``, ``z`` (= estimate / std_error),
        ``p_value`` (two-sided, standard normal: ``2 * (1 - Phi(|z|))``, as
        Stata and broom::tidy report) and the confidence bounds (named as in
        ``confint``, e.g. ``"2.5 %"``, ``"97.5 %"``).
    deviance, aic, edf, nobs, converged, vcov_type
    """

    def __init__(self, fit, table: pd.DataFrame, vcov_type: str):
        self.fit = fit
        self.table = table
        self.vcov_type = vcov_type
        self.deviance = fit.deviance
        self.aic = fit.aic
        self.edf = fit.edf
        self.nobs = fit.nobs
        self.converged = fit.converged

    @classmethod
    def from_fit(cls, fit, level: float = 0.95, type: str = "model", **kwargs) -> "Summary":
        se = fit.std_errors(type, **kwargs).to_numpy()
        est = fit._B.ravel()
        with np.errstate(divide="ignore", invalid="ignore"):
            z = est / se
        p = 2.0 * norm.sf(np.abs(z))
        ci = fit.confint(level, type, **kwargs)
        table = pd.DataFrame({"estimate": est, "std_error": se, "z": z, "p_value": p},
                             index=fit.coef_names)
        table = pd.concat([table, ci], axis=1)
        return cls(fit, table, type)

    def __repr__(self) -> str:
        fit = self.fit
        out = [f"multinom: {fit.call}", ""]
        if fit.n_dropped:
            out.append(f"({fit.n_dropped} observations deleted due to missingness)")
        t = self.table
        stars = significance_stars(t["p_value"].to_numpy())
        show = pd.DataFrame({
            "Estimate": t["estimate"].map(lambda v: f"{v:.6g}"),
            "Std. Error": t["std_error"].map(lambda v: f"{v:.4g}"),
            "z value": t["z"].map(lambda v: f"{v:.3f}"),
            "Pr(>|z|)": t["p_value"].map(_format_p),
            "": stars,
        }, index=t.index)
        if fit.binary:
            blocks = [(f"{fit.levels[1]} vs {fit.baseline}", show)]
        else:
            blocks = []
            for lev in fit.levels[1:]:
                part = show.loc[[f"{lev}:{term}" for term in fit.terms]]
                part.index = fit.terms
                blocks.append((f"{lev} vs {fit.baseline}", part))
        with pd.option_context("display.width", 120, "display.max_rows", 10_000):
            for title, part in blocks:
                out += [f"Level {title}:", part.to_string(), ""]
        out.append("---\nSignif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1")
        if self.vcov_type != "model":
            out.append(f"Standard errors: {self.vcov_type}")
        out.append("")
        out.append(f"Residual Deviance: {fit.deviance:.4f} on {fit.edf} estimated coefficients")
        out.append(f"AIC: {fit.aic:.4f}")
        conv = fit.convergence
        state = "converged" if fit.converged else "NOT converged"
        out.append(f"Optimisation: {state} ({conv['method']}, {fit.n_iter} iterations, "
                   f"relative gap estimate {conv['criterion']:.1e})")
        if fit.aliased:
            out.append(f"Aliased columns (coefficients fixed at 0): {', '.join(fit.aliased)}")
        if fit.diverging:
            out.append(f"Diverging coefficients (separation): {', '.join(fit.diverging)}")
        return "\n".join(out)

    def _repr_html_(self) -> str:  # pragma: no cover - notebooks
        return self.table._repr_html_()


def _format_p(p: float) -> str:
    if np.isnan(p):
        return "NaN"
    if p < 2e-16:
        return "<2e-16"
    return f"{p:.3g}"
