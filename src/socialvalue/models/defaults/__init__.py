"""Default configurations (TOML) of the scoring models, read with :mod:`importlib.resources`."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from socialvalue.config import load_toml, validate_config

__all__ = ["default_dict", "load_config"]

M = TypeVar("M", bound=BaseModel)


def default_dict(file: str) -> dict[str, Any]:
    """The parsed packaged default ``file`` (e.g. ``"segments.toml"``)."""
    return tomllib.loads(resources.files(__name__).joinpath(file).read_text(encoding="utf-8"))


def load_config(path: str | Path | None, file: str, model: type[M]) -> M:
    """``model`` read from the TOML at ``path``, or from the packaged default ``file`` when ``path`` is None."""
    if path is not None:
        return load_toml(path, model)
    return validate_config(model, default_dict(file), f"<default {file}>")
