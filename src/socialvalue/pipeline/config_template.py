"""A commented TOML template of a configuration model: every key, its default, its type and what it means.

The template is generated from the pydantic models themselves (field names, defaults, the allowed values and
bounds of each annotation, each field's ``description``), so a key added to
:class:`~socialvalue.pipeline.config.RunConfig` appears in ``socialvalue config init`` without further work.

Keys whose default is ``None`` (unset) are written commented out, with an example value taken from the
field's ``examples`` when it has any. The template loads back as the defaults::

    >>> import tomllib
    >>> from socialvalue.pipeline.config import RunConfig
    >>> RunConfig.model_validate(tomllib.loads(render_config_template(RunConfig))) == RunConfig()
    True
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import re
import textwrap
import types
import typing
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any, Literal, Union

import annotated_types as at
from pydantic import BaseModel
from pydantic.fields import FieldInfo

__all__ = ["render_config_template", "toml_value"]

#: Width the comments are wrapped to.
WIDTH = 100

#: Example values of optional keys (by key name) for fields that declare no ``examples``.
_EXAMPLES: dict[str, Any] = {
    "playbook": "playbook.toml",
    "campaign": "campaign.csv",
    "budget": 50000,
    "currency": "EUR",
    "exchange_rates": "rates.csv",
    "horizon_periods": 52,
    "costs": "channel_costs.csv",
    "category_spend": "category_spend.csv",
    "share_window_days": 365,
    "min_detectable_effect": 0.03,
    "baseline_rate": 0.05,
}

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(name: str) -> str:
    return name if _BARE_KEY.match(name) else json.dumps(name)


def toml_value(value: Any) -> str:
    """``value`` as a TOML literal (strings, numbers, booleans, dates, lists, tables, models, enums, paths).

    Raises
    ------
    TypeError
        For ``None`` (TOML has no null: leave the key out) and types TOML cannot hold.

    Examples
    --------
    >>> toml_value(("W", 0.1, 200000, True, {"EUR": 1.0}))
    '["W", 0.1, 200_000, true, { EUR = 1.0 }]'
    """
    if value is None:
        raise TypeError("TOML has no null value: leave the key out instead")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        return toml_value(value.value)
    if isinstance(value, int):
        return f"{value:_}" if abs(value) >= 10_000 else str(value)
    if isinstance(value, float):
        if value != value:
            return "nan"
        if value in (float("inf"), float("-inf")):
            return "inf" if value > 0 else "-inf"
        text = repr(value)
        return text if any(c in text for c in ".en") else text + ".0"
    if isinstance(value, str | PurePath):
        return json.dumps(str(value))  # a TOML basic string: JSON's escapes are valid TOML escapes
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, BaseModel):
        return toml_value(value.model_dump(mode="python", exclude_none=True))
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{_key(str(k))} = {toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list | tuple | set | frozenset):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write a {type(value).__name__} as TOML")


def _args(annotation: Any) -> tuple[Any, ...]:
    return typing.get_args(annotation)


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (Union, types.UnionType)


def _strip_optional(annotation: Any) -> tuple[Any, bool]:
    """The annotation without ``None``, and whether ``None`` was allowed."""
    if _is_union(annotation):
        rest = [a for a in _args(annotation) if a is not type(None)]
        optional = len(rest) < len(_args(annotation))
        if len(rest) == 1:
            return rest[0], optional
        return Union[tuple(rest)], optional  # noqa: UP007 (a runtime-built union)
    return annotation, False


def _model_class(annotation: Any) -> type[BaseModel] | None:
    inner, _ = _strip_optional(annotation)
    if isinstance(inner, type) and issubclass(inner, BaseModel):
        return inner
    return None


_TYPE_NAMES = {bool: "true or false", int: "integer", float: "number", str: "text", dt.date: "date"}


def describe_type(annotation: Any) -> str:
    """A short reader's description of a field's type (``one of "W", "D"``, ``list of number``)."""
    annotation, optional = _strip_optional(annotation)
    origin = typing.get_origin(annotation)
    if origin is Literal:
        text = "one of " + ", ".join(toml_value(a) for a in _args(annotation))
    elif isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        text = "one of " + ", ".join(toml_value(m.value) for m in annotation)
    elif origin in (list, tuple, set, frozenset):
        items = [a for a in _args(annotation) if a is not Ellipsis]
        if len(set(items)) == 1 and typing.get_origin(items[0]) is Literal:
            text = "list of " + ", ".join(toml_value(a) for a in _args(items[0]))
        else:
            text = "list of " + (describe_type(items[0]) if len(set(items)) == 1 else "values")
    elif origin in (dict, Mapping) or annotation in (dict, Mapping):
        kv = _args(annotation)
        text = f"table of {describe_type(kv[1])}" if len(kv) == 2 else "table"
    elif _is_union(annotation):
        text = " or ".join(describe_type(a) for a in _args(annotation))
    elif isinstance(annotation, type) and issubclass(annotation, PurePath):
        text = "path"
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        text = "table"
    else:
        text = _TYPE_NAMES.get(annotation, getattr(annotation, "__name__", str(annotation)))
    return text + (", optional" if optional else "")


def describe_bounds(field: FieldInfo) -> str:
    """The field's constraints in words (``> 0 and < 1``, ``at least 1 item``, ``matching ^[A-Z]{3}$``)."""
    parts: list[str] = []
    for meta in field.metadata:
        for attr, sign in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
            bound = getattr(meta, attr, None)
            if bound is not None and isinstance(meta, at.Gt | at.Ge | at.Lt | at.Le | at.Interval):
                parts.append(f"{sign} {toml_value(bound)}")
        if isinstance(meta, at.MinLen) and meta.min_length:
            parts.append(f"at least {meta.min_length} item{'s' if meta.min_length > 1 else ''}")
        if isinstance(meta, at.MaxLen):
            parts.append(f"at most {meta.max_length} items")
        pattern = getattr(meta, "pattern", None)
        if isinstance(pattern, str):
            parts.append(f"matching {pattern}")
    return " and ".join(parts)


def _comment(text: str, indent: str = "") -> list[str]:
    lines: list[str] = []
    for para in text.strip().replace("``", "`").split("\n\n"):
        para = " ".join(para.split())
        lines += textwrap.wrap(
            para, WIDTH - len(indent) - 2, break_long_words=False, break_on_hyphens=False
        ) or [""]
    return [f"{indent}# {line}".rstrip() for line in lines]


def _example(name: str, field: FieldInfo) -> Any:
    if field.examples:
        return field.examples[0]
    if name in _EXAMPLES:
        return _EXAMPLES[name]
    inner, _ = _strip_optional(field.annotation)
    origin = typing.get_origin(inner)
    if origin is Literal:
        return _args(inner)[0]
    if origin in (list, tuple, set, frozenset):
        return []
    if origin in (dict, Mapping):
        return {}
    lower = next(
        (getattr(m, a) for m in field.metadata for a in ("gt", "ge") if getattr(m, a, None) is not None), None
    )
    if inner is bool:
        return True
    if inner is int:
        return int(lower) + 1 if lower is not None else 1
    if inner is float:
        return float(lower) + 1.0 if lower is not None else 1.0
    return "..."


def _doc(model: type[BaseModel]) -> str:
    doc = (model.__doc__ or "").strip()
    return doc.split("\n\n")[0] if doc else ""


def _render_model(
    model: type[BaseModel], path: tuple[str, ...], lines: list[str], *, commented: bool = False
) -> None:
    """Append ``model``'s keys (then its sub-tables) under the table ``path``."""
    mark = "# " if commented else ""
    scalars = [(n, f) for n, f in model.model_fields.items() if _model_class(f.annotation) is None]
    tables = [(n, f) for n, f in model.model_fields.items() if _model_class(f.annotation) is not None]
    if path:
        doc = _doc(model)
        lines.append("")
        lines += _comment(doc) if doc else []
        lines.append(f"{mark}[{'.'.join(_key(p) for p in path)}]")
    for name, field in scalars:
        key = _key(field.alias or name)
        what = describe_type(field.annotation)
        bounds = describe_bounds(field)
        about = (field.description or "").strip()
        if about and about[-1] not in ".!?:":
            about += "."
        about = f"{about} [{what}{'; ' + bounds if bounds else ''}]".strip()
        lines += _comment(about)
        if field.is_required():
            lines.append(f"# {key} = {toml_value(_example(name, field))}  # required")
            continue
        default = field.get_default(call_default_factory=True)
        if default is None:
            lines.append(f"# {key} = {toml_value(_example(name, field))}")
        else:
            lines.append(f"{mark}{key} = {toml_value(default)}")
    for name, field in tables:
        sub = _model_class(field.annotation)
        assert sub is not None
        unset = not field.is_required() and field.get_default(call_default_factory=True) is None
        _render_model(sub, (*path, field.alias or name), lines, commented=commented or unset)


def render_config_template(model: type[BaseModel], *, header: str = "") -> str:
    """Write every key of ``model`` (and of its nested sections) as commented TOML with its default.

    Parameters
    ----------
    model
        A pydantic model class, e.g. :class:`~socialvalue.pipeline.config.RunConfig`; fields whose type is
        a model become ``[sections]`` (nested ones ``[a.b]``).
    header
        Text written first, as comment lines.

    Returns
    -------
    str
        The TOML text. Loaded and validated, it equals ``model()`` (the defaults).
    """
    lines: list[str] = _comment(header) if header else []
    doc = _doc(model)
    if doc:
        lines += [*([""] if lines else []), *_comment(doc)]
    _render_model(model, (), lines)
    return "\n".join(lines).lstrip("\n") + "\n"
