"""Validated load configuration: how source columns become canonical ones, and the validation rules.

A :class:`ColumnMapping` is usually written in TOML next to the data it describes::

    kind = "orders"                 # optional: refuse to apply this mapping to another table
    timezone = "Europe/Berlin"      # naive source timestamps are local time there; stored as UTC
    date_format = "%d.%m.%Y %H:%M"  # strptime format of the timestamp columns (or a table per column)
    decimal_comma = true            # "1.234,50" means 1234.50
    currency_symbols = true         # amounts such as "€ 12,50" or "12.50 EUR": the symbol is dropped
    default_currency = "EUR"        # used when the source has no currency column
    delimiter = ";"                 # CSV only; sniffed when absent
    encoding = "latin-1"            # CSV only: utf-8 (default), utf-16 or latin-1

    [columns]                       # canonical name = source column name
    order_id = "Bestellnummer"
    customer_id = "Kunde"
    ordered_at = "Datum"
    amount = "Betrag"

    [constants]                     # canonical columns filled with one value for every row
    status = "completed"

    [values.status]                 # the data's words -> the canonical vocabulary (keys ignore case)
    versandt = "completed"
    storniert = "cancelled"

:class:`IngestRules` holds the data-quality rules a load is checked against (plausible time range,
vocabularies, how many problems an error message lists).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from socialvalue.config import ConfigModel, Vocabulary, load_toml
from socialvalue.schema import KINDS

__all__ = ["ColumnMapping", "IngestRules"]

_TRUE = ("true", "t", "yes", "y", "1", "on")
_FALSE = ("false", "f", "no", "n", "0", "off")


class ColumnMapping(ConfigModel):
    """How the columns of one source map onto a canonical table.

    Attributes
    ----------
    kind
        If set, the canonical table this mapping is written for; applying it to another table is an error.
    columns
        Canonical column name → source column name. Canonical columns not listed are taken from a source
        column of the same name (matched case-insensitively), if there is one.
    constants
        Canonical column name → one value used for every row (e.g. ``status = "completed"``).
    values
        Canonical column name → {word in the data → canonical word}: recodes the values of a text column,
        e.g. ``[values.kind] visit = "view"``. Keys are matched ignoring case and surrounding blanks. For a
        vocabulary column (``kind``, ``status``) every target must be in the vocabulary; unmapped values of a
        vocabulary column are matched against it ignoring case.
    date_format
        ``strptime`` format of text timestamps: one format for every timestamp column, or a table
        ``{column = format}``. Without it, ISO-8601 text is parsed (an offset such as ``+02:00`` is honoured).
    timezone
        IANA zone in which naive source timestamps are expressed; they are converted to UTC.
    decimal_comma
        Text numbers use a decimal comma and optional dots as thousands separators (``1.234,5``).
    currency_symbols
        Text amounts may carry a currency symbol or code (``€ 12,50``, ``12.50 EUR``); everything but digits,
        signs and separators is dropped before conversion. Set ``default_currency`` to record the currency.
    default_currency
        ISO-4217 code stored when the source has no currency column (the table default otherwise).
    true_values, false_values
        Text spellings of booleans (compared case-insensitively after trimming).
    delimiter
        CSV field separator; sniffed when absent.
    header
        The CSV's first line names the columns. Without a header, columns are called ``column0``,
        ``column1``, ... and mapped by those names.
    encoding
        CSV character encoding.
    keep_extra
        Keep source columns that map to no canonical column in the ``extra`` JSON column.
    """

    kind: str | None = None
    columns: dict[str, str] = Field(default_factory=dict)
    constants: dict[str, str | int | float | bool] = Field(default_factory=dict)
    values: dict[str, dict[str, str]] = Field(default_factory=dict)
    date_format: str | dict[str, str] | None = None
    timezone: str = "UTC"
    decimal_comma: bool = False
    currency_symbols: bool = False
    default_currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    true_values: tuple[str, ...] = _TRUE
    false_values: tuple[str, ...] = _FALSE
    delimiter: str | None = Field(default=None, min_length=1, max_length=1)
    header: bool = True
    encoding: Literal["utf-8", "utf-16", "latin-1"] = "utf-8"
    keep_extra: bool = True

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str | None) -> str | None:
        if value is not None and value not in KINDS:
            raise ValueError(f"unknown table kind {value!r}; expected one of {', '.join(KINDS)}")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name such as 'Europe/Berlin')"
            ) from None
        return value

    @field_validator("date_format")
    @classmethod
    def _strptime_like(cls, value: str | dict[str, str] | None) -> str | dict[str, str] | None:
        formats = [value] if isinstance(value, str) else list((value or {}).values())
        for fmt in formats:
            if "%" not in fmt:
                raise ValueError(f"date format {fmt!r} has no strptime directive such as %Y")
        return value

    @field_validator("values")
    @classmethod
    def _fold_keys(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {}
        for column, words in value.items():
            folded: dict[str, str] = {}
            for word, target in words.items():
                key = word.strip().lower()
                if key in folded and folded[key] != target:
                    raise ValueError(
                        f"[values.{column}] maps {key!r} twice (keys ignore case) to different values"
                    )
                folded[key] = target
            out[column] = folded
        return out

    @field_validator("true_values", "false_values")
    @classmethod
    def _lower(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(v.strip().lower() for v in value)

    @model_validator(mode="after")
    def _consistent(self) -> ColumnMapping:
        both = sorted(set(self.columns) & set(self.constants))
        if both:
            raise ValueError(f"columns {both} are given both a source column and a constant")
        clash = sorted(set(self.true_values) & set(self.false_values))
        if clash:
            raise ValueError(f"values {clash} are listed as both true and false")
        return self

    @classmethod
    def from_toml(cls, path: str | Path) -> ColumnMapping:
        """Read and validate a mapping from a TOML file.

        Raises
        ------
        ConfigError
            If the file is missing, not TOML, or names an unknown key or an invalid value.
        """
        return load_toml(path, cls)

    def date_format_for(self, column: str) -> str | None:
        """The ``strptime`` format of ``column`` (``None``: parse ISO-8601)."""
        if isinstance(self.date_format, dict):
            return self.date_format.get(column)
        return self.date_format

    def fingerprint(self) -> dict[str, Any]:
        """A JSON-able form of the mapping, part of a load's content hash."""
        return self.model_dump(mode="json")


class IngestRules(ConfigModel):
    """Data-quality rules every load is checked against.

    Attributes
    ----------
    min_timestamp
        Earliest plausible timestamp (UTC, naive).
    max_future
        How far past "now" a timestamp may lie (clock skew, time zones).
    vocabulary
        Allowed values of the categorical columns.
    max_listed
        How many problems an error message lists (the collected ones are in ``SchemaError.problems``).
    max_problems
        How many problems per check are collected into ``SchemaError.problems`` (the total is always
        counted).
    """

    min_timestamp: dt.datetime = dt.datetime(1970, 1, 1)
    max_future: dt.timedelta = dt.timedelta(days=1)
    vocabulary: Vocabulary = Field(default_factory=Vocabulary)
    max_listed: int = Field(default=20, ge=1)
    max_problems: int = Field(default=10_000, ge=1)

    @field_validator("min_timestamp")
    @classmethod
    def _naive_utc(cls, value: dt.datetime) -> dt.datetime:
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value

    def max_timestamp(self) -> dt.datetime:
        """Latest plausible timestamp, as naive UTC: now + ``max_future``."""
        return dt.datetime.now(dt.UTC).replace(tzinfo=None) + self.max_future
