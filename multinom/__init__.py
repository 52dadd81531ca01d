"""multinom: multinomial (softmax) regression with R-compatible, fast inference.

>>> import multinom
>>> fit = multinom.multinom("Sat ~ Infl + Type + Cont", multinom.load_dataset("housing"), weights="Freq")
>>> fit.summary()          # doctest: +SKIP

Main entry points: :func:`multinom` (fit), :class:`MultinomFit` (results),
:func:`information_matrix` (the BLAS-3 Fisher information).
"""

from .exceptions import (ConvergenceWarning, DataError, EmptyLevelWarning, FormulaError,
                         MissingColumnError, MultinomError, RankDeficientWarning,
                         SeparationWarning, UnseenLevelError)
from .fit import MultinomFit
from .information import information_matrix
from .model import multinom
from .inference import anova, level_contrasts, wald_test
from . import covariance, inference  # noqa: F401  (submodules: robust vcov, tests)

__version__ = "0.1.0"

__all__ = [
    "anova", "wald_test", "level_contrasts",
    "multinom", "MultinomFit", "information_matrix", "load_dataset",
    "MultinomError", "FormulaError", "DataError", "MissingColumnError", "UnseenLevelError",
    "ConvergenceWarning", "SeparationWarning", "RankDeficientWarning", "EmptyLevelWarning",
]


def load_dataset(name: str):
    """Load a bundled dataset as a DataFrame (see :mod:`multinom.datasets`)."""
    from .datasets import load_dataset as _load
    return _load(name)
