"""The one exception hierarchy of socialvalue.

Every error the library raises on purpose derives from :class:`SocialValueError`, so a caller (the CLI, the
REST service) can catch one type and map it once to an exit code or an HTTP status::

    SocialValueError
    ├── SchemaError          bad input data: missing columns, wrong types, broken keys (lists all problems)
    ├── ConfigError          an invalid TOML/pydantic configuration (column mapping, segment map, playbook)
    ├── NotFittedError       a model used before ``fit`` (also a ValueError and an AttributeError,
    │                        like scikit-learn's)
    ├── ConvergenceError     an optimiser that did not converge (carries the optimiser's result)
    ├── ErasedCustomerError  a load that would bring back a customer erased under privacy law
    ├── UnknownCustomerError an erasure of an id the store has no row about (also a LookupError)
    └── StoreError           the DuckDB store cannot be opened, migrated or queried as asked

and one warning category (not an error: the result is returned, flagged)::

    DegenerateFitWarning     a fit reached a degenerate or boundary solution (also a UserWarning)
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ConfigError",
    "ConvergenceError",
    "DegenerateFitWarning",
    "ErasedCustomerError",
    "NotFittedError",
    "SchemaError",
    "SocialValueError",
    "StoreError",
    "UnknownCustomerError",
]


class SocialValueError(Exception):
    """Base class of every error socialvalue raises on purpose."""


class SchemaError(SocialValueError, ValueError):
    """Input data does not fit the canonical schema.

    Parameters
    ----------
    message
        The full human-readable report (all problems, capped).
    problems
        Structured problems, one dict per offending cell/row (``source``, ``row``, ``column``, ``value``,
        ``expected``), uncapped, so programs can act on them.
    """

    def __init__(self, message: str, problems: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.problems: list[dict[str, Any]] = list(problems or [])


class ConfigError(SocialValueError, ValueError):
    """A configuration file or object is invalid (unknown key, wrong type, inconsistent values)."""


class NotFittedError(SocialValueError, ValueError, AttributeError):
    """A model was used before ``fit`` was called."""


class ConvergenceError(SocialValueError, RuntimeError):
    """An optimiser failed to converge.

    Parameters
    ----------
    message
        What failed, including the optimiser's own message.
    result
        The optimiser's result object (e.g. :class:`scipy.optimize.OptimizeResult`), for inspection.
    """

    def __init__(self, message: str, result: Any = None) -> None:
        super().__init__(message)
        self.result = result


class ErasedCustomerError(SchemaError):
    """A load contains rows of a customer who was erased; refused unless forced."""


class UnknownCustomerError(SocialValueError, LookupError):
    """An erasure names a customer id that has no row in any table of the store.

    Usually a typo; nothing is erased or recorded. Erasing with ``block_future_loads=True`` records the id's
    salted hash anyway, so that later loads of it are refused.

    Parameters
    ----------
    message
        What was not found, and where.
    customer_id
        The id asked for (for the caller only: never logged).
    erased_before
        Whether the id was erased earlier (its later loads are then already refused).
    """

    def __init__(self, message: str, customer_id: str = "", *, erased_before: bool = False) -> None:
        super().__init__(message)
        self.customer_id = customer_id
        self.erased_before = erased_before


class StoreError(SocialValueError, RuntimeError):
    """The store cannot be opened, migrated or queried as asked."""


class DegenerateFitWarning(UserWarning):
    """A fitted model sits at a degenerate or boundary solution; it is returned, flagged.

    The message names the parameter, its value and the remedy; the model's ``degenerate_`` attribute lists the
    same findings (empty for a sound fit). Raised as an error instead with ``on_degenerate="raise"``.
    """
