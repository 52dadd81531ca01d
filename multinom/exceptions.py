"""Exceptions and warnings raised by multinom.

Every error is also a subclass of the built-in exception a Python user would
catch (``ValueError``, ``KeyError``, ``TypeError``), so ``except ValueError``
keeps working.
"""

__all__ = [
    "MultinomError", "FormulaError", "DataError", "MissingColumnError", "UnseenLevelError",
    "ConvergenceWarning", "SeparationWarning", "RankDeficientWarning",
    "EmptyLevelWarning",
]


class MultinomError(Exception):
    """Base class of the package's errors."""


class FormulaError(MultinomError, ValueError):
    """The formula cannot be parsed or refers to something invalid."""


class DataError(MultinomError, ValueError):
    """The data (values, lengths, weights, counts) are not usable as given."""


class MissingColumnError(MultinomError, KeyError):
    """A column named by the formula or an argument is not in the data."""

    def __str__(self):  # KeyError repr-quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class UnseenLevelError(DataError):
    """New data hold a factor level that was not seen when fitting."""


class ConvergenceWarning(UserWarning):
    """The optimiser stopped before the convergence criterion was met."""


class SeparationWarning(UserWarning):
    """Some coefficients diverge: (quasi-)complete separation."""


class RankDeficientWarning(UserWarning):
    """The model matrix has aliased (collinear) columns."""


class EmptyLevelWarning(UserWarning):
    """A response level has no observations and was dropped."""
