"""The action playbook: which actions exist, who is eligible, what they cost and what they are expected to do.

A playbook is validated data (pydantic, loadable from TOML), never an ``if/elif`` chain. Each action has

* eligibility **conditions** over score columns (``column op value``; all must hold),
* a **cost** per customer contacted (currency),
* an expected **effect**: incremental value = ``uplift`` × product of the ``base`` columns (e.g. ``["clv"]`` or
  ``["clv", "churn_risk"]``), plus an optional constant; the uplift is an assumption unless it was estimated
  from campaign data (:mod:`socialvalue.decisions.uplift`),
* caps: a per-action **capacity** and the **channel** whose capacity it shares,
* whether it is a **marketing** action (then it needs ``consent_marketing``),
* the **drivers** named in its reason.
"""

from __future__ import annotations

import importlib.resources
import tomllib
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, ValidationError, field_validator, model_validator

from socialvalue.config import ConfigModel
from socialvalue.errors import ConfigError

__all__ = [
    "Action",
    "Condition",
    "Driver",
    "Playbook",
    "default_playbook",
    "load_playbook",
    "validate_playbook",
]

Op = Literal["==", "!=", "<", "<=", ">", ">=", "in", "not_in", "is_true", "is_false"]


class Condition(ConfigModel):
    """One eligibility test ``column op value`` evaluated on every customer at once."""

    column: str
    op: Op
    value: Any = None

    @model_validator(mode="after")
    def _value_fits_op(self) -> Condition:
        if self.op in ("in", "not_in") and not isinstance(self.value, (list, tuple)):
            raise ValueError(f"op {self.op!r} needs a list value, got {self.value!r}")
        if self.op in ("<", "<=", ">", ">=") and not isinstance(self.value, (int, float)):
            raise ValueError(f"op {self.op!r} needs a number, got {self.value!r}")
        return self

    def evaluate(self, frame: pd.DataFrame) -> np.ndarray:
        """Boolean mask of the rows of ``frame`` that satisfy the condition (missing values never do)."""
        col = frame[self.column]
        if self.op == "is_true":
            return col.fillna(False).astype(bool).to_numpy()
        if self.op == "is_false":
            return (~col.fillna(True).astype(bool)).to_numpy()
        if self.op == "in":
            return col.isin(list(self.value)).to_numpy()
        if self.op == "not_in":
            return (~col.isin(list(self.value)) & col.notna()).to_numpy()
        values = col.to_numpy()
        with np.errstate(invalid="ignore"):
            ops = {
                "==": lambda a: a == self.value,
                "!=": lambda a: a != self.value,
                "<": lambda a: a < self.value,
                "<=": lambda a: a <= self.value,
                ">": lambda a: a > self.value,
                ">=": lambda a: a >= self.value,
            }
            mask = ops[self.op](values)
        return np.asarray(mask, dtype=bool) & col.notna().to_numpy()


class Driver(ConfigModel):
    """A phrase in a decision's reason, shown when its condition holds.

    ``text`` is a ``str.format`` template over the customer's score columns, e.g.
    ``"purchases slowing (P(alive) {p_alive:.2f})"``; ``{top_pct}`` is ``100 − csv_percentile`` (at least 1).
    """

    text: str
    when: list[Condition] = Field(default_factory=list)


class Action(ConfigModel):
    """One action of the playbook."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str
    channel: str = "email"
    marketing: bool = True
    cost: float = Field(ge=0)
    uplift: float = Field(
        ge=0, description="Expected relative effect on the base value (assumption by default)."
    )
    base: list[str] = Field(
        default_factory=list, description="Columns multiplied to give the value at stake."
    )
    constant_value: float = 0.0
    capacity: int | None = Field(default=None, ge=0)
    conditions: list[Condition] = Field(default_factory=list)
    drivers: list[Driver] = Field(default_factory=list)


class Playbook(ConfigModel):
    """A set of actions, a total budget and per-channel capacities."""

    currency: str | None = Field(
        default=None,
        pattern=r"^[A-Z]{3}$",
        description="Currency of the costs and budget; unset: the run's currency (a run in another currency "
        "is refused).",
    )
    budget: float | None = Field(default=None, ge=0, description="Total spend allowed; None = unlimited.")
    channel_capacity: dict[str, int] = Field(default_factory=dict)
    fallback: str = "do_nothing"
    actions: list[Action] = Field(min_length=1)

    @field_validator("actions")
    @classmethod
    def _unique_names(cls, actions: list[Action]) -> list[Action]:
        names = [a.name for a in actions]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"action names must be unique, repeated: {', '.join(dupes)}")
        return actions

    @model_validator(mode="after")
    def _fallback_exists(self) -> Playbook:
        names = {a.name for a in self.actions}
        if self.fallback not in names:
            raise ValueError(
                f"fallback action {self.fallback!r} is not among the actions ({', '.join(sorted(names))})"
            )
        fb = self.action(self.fallback)
        if fb.marketing or fb.cost != 0:
            raise ValueError(f"fallback action {self.fallback!r} must be free and not a marketing action")
        return self

    def action(self, name: str) -> Action:
        """The action called ``name``."""
        for a in self.actions:
            if a.name == name:
                return a
        raise KeyError(name)

    def check_columns(self, frame: pd.DataFrame) -> None:
        """Raise :class:`ConfigError` naming the action and field of every column the frame lacks."""
        missing = []
        for a in self.actions:
            for field, cols in (
                ("conditions", [c.column for c in a.conditions]),
                ("base", a.base),
                ("drivers", [c.column for d in a.drivers for c in d.when]),
            ):
                for col in cols:
                    if col not in frame.columns:
                        missing.append(f"action {a.name!r} field {field!r}: unknown column {col!r}")
        if missing:
            raise ConfigError("playbook does not fit the scores: " + "; ".join(missing))


def validate_playbook(data: dict[str, Any], source: str = "<playbook>") -> Playbook:
    """Validate a playbook mapping; every error names the action (by name) and the field.

    Raises
    ------
    ConfigError
        One message listing every problem, e.g.
        ``action 'win_back' field 'cost': Input should be greater than or equal to 0 (got -1)``.
    """
    try:
        return Playbook.model_validate(data)
    except ValidationError as exc:
        actions = data.get("actions") if isinstance(data, dict) else None
        parts = []
        for err in exc.errors():
            loc = list(err["loc"])
            where = ".".join(str(p) for p in loc) or "(root)"
            if len(loc) >= 2 and loc[0] == "actions" and isinstance(loc[1], int):
                raw = actions[loc[1]] if isinstance(actions, list) and loc[1] < len(actions) else {}
                name = raw.get("name", f"#{loc[1] + 1}") if isinstance(raw, dict) else f"#{loc[1] + 1}"
                field = ".".join(str(p) for p in loc[2:]) or "(action)"
                where = f"action {name!r} field {field!r}"
            value = err.get("input")
            shown = "" if isinstance(value, dict) else f" (got {value!r})"
            parts.append(f"{where}: {err['msg']}{shown}")
        raise ConfigError(f"invalid playbook in {source}: " + "; ".join(parts)) from None


def load_playbook(path: str | Path) -> Playbook:
    """Read and validate a playbook TOML file (errors name the action and field)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"playbook file {str(path)!r} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return validate_playbook(data, str(path))


def default_playbook() -> Playbook:
    """The built-in playbook covering every lifecycle stage (``decisions/defaults/playbook.toml``)."""
    ref = importlib.resources.files("socialvalue.decisions") / "defaults" / "playbook.toml"
    with importlib.resources.as_file(ref) as path:
        return load_playbook(path)
