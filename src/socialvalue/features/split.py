"""The time frame of a feature build: ``as_of``, the time unit, and the optional holdout period.

Conventions (one place, used by every feature)
----------------------------------------------
* All store timestamps are naive **UTC** wall-clock time. An ``as_of`` given with a time zone (a
  ``+02:00`` suffix, a tz-aware ``datetime``/``pd.Timestamp``) is converted to UTC first; a naive value is taken
  as UTC. A bare date means the **start** of that day (00:00 UTC).
* ``as_of`` is an **exclusive** end: an event counts iff ``timestamp < as_of``. An event exactly at ``as_of``
  belongs to the future (the holdout, if there is one). A window of ``w`` days is ``[as_of - w days, as_of)``.
* Relationships are active at ``as_of`` iff ``created_at < as_of`` (or unknown) and ``ended_at`` is null or
  ``>= as_of`` (the end has not happened yet at the instant before ``as_of``).
* BTYD quantities work on **day-level periods**, like ``lifetimes`` with ``freq="D"``: purchases on the same
  UTC day are one transaction, and time is measured between days. The last observed day is the day of the last
  instant before ``as_of`` (for a midnight ``as_of``, the day before). Weeks are days divided by 7
  (``lifetimes``' ``freq="D", freq_multiplier=7``), not calendar weeks: ``T`` = (last observed day - first
  purchase day) / 7. This is how Fader, Hardie & Lee (2005) measure the CDNOW calibration period
  "1997-01-01 to 1997-09-30 inclusive": ``as_of = 1997-10-01`` gives T = 272/7 = 38.86 weeks for a customer
  whose first purchase was on 1997-01-01.
* The holdout is ``[as_of, holdout_end)``; for back-testing ``calibration_end`` is the same instant as
  ``as_of`` (give either). The CDNOW holdout "to 1998-06-30 inclusive" is ``holdout_end = 1998-07-01``
  (273 days = 39 weeks).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

from socialvalue.errors import ConfigError

__all__ = ["UNIT_DAYS", "TimeFrame", "Unit", "normalize_unit", "to_utc_naive"]

Unit = Literal["D", "W"]
#: Days per time unit (weeks are exactly 7 days; there are no months).
UNIT_DAYS: dict[str, int] = {"D": 1, "W": 7}
_UNIT_ALIASES: dict[str, str] = {
    "d": "D",
    "day": "D",
    "days": "D",
    "w": "W",
    "week": "W",
    "weeks": "W",
}


def normalize_unit(unit: str) -> Unit:
    """Return ``"D"`` or ``"W"`` for ``unit`` (``"D"``, ``"days"``, ``"W"``, ``"weeks"``, any case).

    Raises
    ------
    ConfigError
        For any other value (months and years are deliberately not offered: they have no fixed length).
    """
    key = str(unit).strip().lower()
    if key not in _UNIT_ALIASES:
        raise ConfigError(f"unknown time unit {unit!r}; use 'D'/'days' or 'W'/'weeks'")
    return _UNIT_ALIASES[key]  # type: ignore[return-value]


def to_utc_naive(value: Any, name: str = "as_of") -> dt.datetime:
    """Convert a date, datetime, ``pd.Timestamp``, ``np.datetime64`` or ISO string to naive UTC.

    Raises
    ------
    ConfigError
        If ``value`` is missing or cannot be read as a point in time.
    """
    import pandas as pd

    if value is None:
        raise ConfigError(f"{name} is required (an explicit date or timestamp)")
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name}={value!r} is not a date or timestamp: {exc}") from None
    if ts is pd.NaT:
        raise ConfigError(f"{name}={value!r} is not a date or timestamp")
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.to_pydatetime()


def _sql_ts(value: dt.datetime) -> str:
    return f"TIMESTAMP '{value.strftime('%Y-%m-%d %H:%M:%S.%f')}'"


def _sql_date(value: dt.date) -> str:
    return f"DATE '{value.isoformat()}'"


@dataclass(frozen=True)
class TimeFrame:
    """A resolved ``as_of`` (naive UTC), time unit and optional holdout end.

    Build it with :meth:`resolve`, which validates the inputs.
    """

    as_of: dt.datetime
    unit: Unit = "W"
    holdout_end: dt.datetime | None = None

    @classmethod
    def resolve(
        cls,
        as_of: Any = None,
        unit: str = "W",
        calibration_end: Any = None,
        holdout_end: Any = None,
    ) -> TimeFrame:
        """Validate and normalise the time inputs of a feature build.

        Parameters
        ----------
        as_of
            Exclusive end of the observation (calibration) period.
        unit
            ``"D"``/``"days"`` or ``"W"``/``"weeks"``; the unit of the BTYD columns.
        calibration_end
            Same instant as ``as_of`` for back-testing; either may be given, if both they must agree.
        holdout_end
            Exclusive end of the holdout period ``[as_of, holdout_end)``.

        Raises
        ------
        ConfigError
            If a time is missing or unreadable, ``calibration_end`` differs from ``as_of`` or
            ``holdout_end <= as_of``.
        """
        if as_of is None and calibration_end is None:
            raise ConfigError("as_of is required (an explicit date or timestamp)")
        when = to_utc_naive(as_of if as_of is not None else calibration_end, "as_of")
        if as_of is not None and calibration_end is not None:
            cal = to_utc_naive(calibration_end, "calibration_end")
            if cal != when:
                raise ConfigError(
                    f"calibration_end ({cal}) must equal as_of ({when}): features are computed as of the end "
                    "of calibration"
                )
        end = None
        if holdout_end is not None:
            end = to_utc_naive(holdout_end, "holdout_end")
            if end <= when:
                raise ConfigError(f"holdout_end ({end}) must be after as_of ({when})")
        return cls(as_of=when, unit=normalize_unit(unit), holdout_end=end)

    # -- derived instants ---------------------------------------------------------------------------
    @property
    def period_days(self) -> int:
        """Days per unit (1 or 7)."""
        return UNIT_DAYS[self.unit]

    @property
    def last_observed_day(self) -> dt.date:
        """UTC day of the last instant before ``as_of`` (the day before, for a midnight ``as_of``)."""
        return (self.as_of - dt.timedelta(microseconds=1)).date()

    @property
    def holdout_days(self) -> float | None:
        """Length of the holdout in (fractional) days, or ``None``."""
        if self.holdout_end is None:
            return None
        return (self.holdout_end - self.as_of).total_seconds() / 86400.0

    @property
    def table_suffix(self) -> str:
        """``YYYYMMDD`` of ``as_of`` (with ``_HHMMSS`` when it is not midnight)."""
        if self.as_of.time() == dt.time(0):
            return self.as_of.strftime("%Y%m%d")
        return self.as_of.strftime("%Y%m%d_%H%M%S")

    def window_start(self, days: int) -> dt.datetime:
        """Inclusive start of the ``days``-day window ending (exclusively) at ``as_of``."""
        return self.as_of - dt.timedelta(days=days)

    def sql_params(self, window_days: tuple[int, ...]) -> dict[str, str]:
        """SQL literals substituted into the feature queries (``{as_of}``, ``{start_90d}``, ...)."""
        params = {
            "as_of": _sql_ts(self.as_of),
            "as_of_day": _sql_date(self.as_of.date()),
            "last_day": _sql_date(self.last_observed_day),
            "period_days": f"{float(self.period_days)!r}",
            "holdout_end": _sql_ts(self.holdout_end) if self.holdout_end is not None else "NULL",
            "holdout_duration": (
                f"{self.holdout_days / self.period_days!r}" if self.holdout_days is not None else "NULL"
            ),
        }
        for days in sorted(set(window_days)):
            params[f"start_{days}d"] = _sql_ts(self.window_start(days))
        return params
