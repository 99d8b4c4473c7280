"""The package version, in a kernel module of its own so any layer can read it without importing the root."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
