"""socialvalue: what each customer is worth, through purchases and through other people.

The public surface is small and flat; heavy dependencies (duckdb, fastapi, pyspark) are imported lazily, so
``import socialvalue`` is cheap and opens nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from socialvalue.errors import (
    ConfigError,
    ConvergenceError,
    ErasedCustomerError,
    NotFittedError,
    SchemaError,
    SocialValueError,
    StoreError,
)

__version__ = "0.1.0"

# name -> module that defines it; resolved on first attribute access (PEP 562).
_LAZY: dict[str, str] = {
    "Store": "socialvalue.store",
}

__all__ = [
    "ConfigError",
    "ConvergenceError",
    "ErasedCustomerError",
    "NotFittedError",
    "SchemaError",
    "SocialValueError",
    "Store",
    "StoreError",
    "__version__",
]

if TYPE_CHECKING:  # pragma: no cover
    from socialvalue.store import Store


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'socialvalue' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
