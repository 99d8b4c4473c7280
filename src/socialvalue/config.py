"""Validated configuration: the pydantic base every config section uses, and TOML loading.

Every configurable thing (column mappings, vocabularies, segment maps, tiers, lifecycle rules, playbooks) is a
pydantic model deriving from :class:`ConfigModel`, which forbids unknown keys so a typo in a TOML file fails
loudly. :func:`load_toml` reads a file into such a model and turns validation errors into one
:class:`~socialvalue.errors.ConfigError` naming the file and each offending field.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from socialvalue.errors import ConfigError
from socialvalue.schema import (
    CONTENT_KINDS,
    INTERACTION_KINDS,
    ORDER_STATUSES,
    REFUND_STATUSES,
    RELATIONSHIP_KINDS,
)

__all__ = ["ConfigModel", "Vocabulary", "format_validation_error", "load_toml", "validate_config"]

M = TypeVar("M", bound=BaseModel)


class ConfigModel(BaseModel):
    """Base of every configuration model: unknown keys are errors, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Vocabulary(ConfigModel):
    """The allowed values of the categorical columns of the canonical tables."""

    interaction_kinds: tuple[str, ...] = Field(default=INTERACTION_KINDS, min_length=1)
    relationship_kinds: tuple[str, ...] = Field(default=RELATIONSHIP_KINDS, min_length=1)
    content_kinds: tuple[str, ...] = Field(default=CONTENT_KINDS, min_length=1)
    order_statuses: tuple[str, ...] = Field(default=ORDER_STATUSES, min_length=1)
    refund_statuses: tuple[str, ...] = Field(default=REFUND_STATUSES)


def format_validation_error(exc: ValidationError, source: str) -> str:
    """One readable paragraph listing every field error of ``exc``, prefixed by ``source``."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(root)"
        value = err.get("input")
        shown = "" if isinstance(value, dict) else f" (got {value!r})"
        parts.append(f"{loc}: {err['msg']}{shown}")
    return f"invalid configuration in {source}: " + "; ".join(parts)


def validate_config(model: type[M], data: dict[str, Any], source: str = "<dict>") -> M:
    """Validate ``data`` as ``model``; raise :class:`ConfigError` naming ``source`` and each bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source)) from None


def load_toml(path: str | Path, model: type[M], *, section: str | None = None) -> M:
    """Read a TOML file (optionally one ``[section]`` of it) into a validated ``model``.

    Raises
    ------
    ConfigError
        If the file is missing, is not valid TOML, or does not validate.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"configuration file {str(path)!r} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    if section is not None:
        data = data.get(section, {})
        source = f"{path} [{section}]"
    else:
        source = str(path)
    return validate_config(model, data, source)
