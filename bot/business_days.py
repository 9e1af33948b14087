"""Business days for the coordinator workspace: due times with holidays.

The calendar, its business hours, its holidays and the business days each
ticket status allows come from `config/workspace.yml`, or from the file that
the `WORKSPACE_CONFIG` environment variable names.

Days are counted in the configured time zone, so a due time keeps its local
clock time across a daylight saving change. Every public function takes and
returns timezone-aware datetimes and returns them in UTC.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from bot.settings import PROJECT_ROOT

logger = logging.getLogger(__name__)

WORKSPACE_CONFIG_FILE = PROJECT_ROOT / "config" / "workspace.yml"
WORKSPACE_CONFIG_ENV = "WORKSPACE_CONFIG"
# Saturday and Sunday, as `date.weekday()` numbers them.
WEEKEND = (5, 6)


class CalendarConfigError(ValueError):
    """The workspace configuration file is missing a value or has an invalid one."""


@dataclass(frozen=True)
class BusinessCalendar:
    """Business days and hours in one time zone, with named holidays.

    Attributes:
        timezone: The zone in which days and hours are counted.
        opening: Local time at which a business day starts.
        closing: Local time at which it ends; a start at `closing` or later
            counts from the next business day.
        holidays: Holiday dates mapped to their names.
        due_business_days: Business days allowed per ticket status; None means
            that the status has no due time.
    """

    timezone: ZoneInfo
    opening: time = time(8, 0)
    closing: time = time(17, 0)
    holidays: Mapping[date, str] = field(default_factory=dict)
    due_business_days: Mapping[str, int | None] = field(default_factory=dict)

    def is_business_day(self, day: date) -> bool:
        """Return True unless `day` is a Saturday, a Sunday or a holiday."""
        return day.weekday() not in WEEKEND and day not in self.holidays

    def next_business_day(self, day: date) -> date:
        """Return the first business day after `day`."""
        day += timedelta(days=1)
        while not self.is_business_day(day):
            day += timedelta(days=1)
        return day

    def local_date(self, moment: datetime) -> date:
        """Return the calendar date of an aware `moment` in the calendar's zone."""
        return _require_aware(moment).astimezone(self.timezone).date()

    def add_business_days(self, start: datetime, days: int) -> datetime:
        """Add `days` business days to `start`.

        A start within business hours on a business day keeps its local clock
        time on the day it lands on. A start before opening counts from that
        day's opening, and a start after closing, on a weekend or on a
        holiday counts from the next business day's opening.

        Args:
            start: An aware datetime in any zone.
            days: Business days to add; 0 returns the effective start.

        Returns:
            The due time as an aware UTC datetime.

        Raises:
            ValueError: `start` is naive or `days` is negative.
        """
        if days < 0:
            raise ValueError(f"days must be 0 or more, got {days}")
        local = _require_aware(start).astimezone(self.timezone)
        day, clock = local.date(), local.time().replace(tzinfo=None)

        if not self.is_business_day(day) or clock >= self.closing:
            day, clock = self.next_business_day(day), self.opening
        elif clock < self.opening:
            clock = self.opening

        for _ in range(days):
            day = self.next_business_day(day)
        self._warn_if_beyond_holidays(day)

        # Business hours never fall in a daylight saving gap or overlap
        # (those happen at 2 a.m.), so the local time is unambiguous.
        due = datetime.combine(day, clock, tzinfo=self.timezone)
        return due.astimezone(timezone.utc)

    def _warn_if_beyond_holidays(self, day: date) -> None:
        if self.holidays and day > max(self.holidays):
            _warn_once(
                f"Due date falls after the last holiday listed in the workspace "
                f"configuration ({max(self.holidays).isoformat()}); add the next "
                f"year's holidays"
            )


@lru_cache(maxsize=8)
def _warn_once(message: str) -> None:
    logger.warning(message)


def _require_aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("naive datetime given; pass a timezone-aware datetime")
    return moment


def _parse_time(value: Any, key: str) -> time:
    try:
        return time.fromisoformat(str(value))
    except ValueError:
        raise CalendarConfigError(
            f"business_hours.{key} must be a time such as 08:00, got {value!r}"
        ) from None


def _parse_holidays(entries: Any) -> dict[date, str]:
    if entries is None:
        return {}
    if not isinstance(entries, list):
        raise CalendarConfigError("holidays must be a list of {date, name} entries")
    holidays = {}
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("date"), date):
            raise CalendarConfigError(
                f"holiday entry {entry!r} needs a date in YYYY-MM-DD form and a name"
            )
        holidays[entry["date"]] = str(entry.get("name") or "")
    return holidays


def _parse_due_days(values: Any) -> dict[str, int | None]:
    if not isinstance(values, dict):
        raise CalendarConfigError("due_business_days must map each status to a number")
    parsed: dict[str, int | None] = {}
    for status, days in values.items():
        if days is not None and (not isinstance(days, int) or days < 0):
            raise CalendarConfigError(
                f"due_business_days.{status} must be a whole number of 0 or more "
                f"or empty, got {days!r}"
            )
        parsed[str(status)] = days
    return parsed


def calendar_from_config(config: Mapping[str, Any]) -> BusinessCalendar:
    """Build a calendar from the parsed contents of a workspace configuration file.

    Raises:
        CalendarConfigError: A value is missing or invalid; the message names it.
    """
    zone_name = config.get("timezone")
    try:
        zone = ZoneInfo(str(zone_name))
    except (ZoneInfoNotFoundError, ValueError):
        raise CalendarConfigError(
            f"timezone must be an IANA zone name such as America/Los_Angeles, "
            f"got {zone_name!r}"
        ) from None

    hours = config.get("business_hours") or {}
    opening = _parse_time(hours.get("start", "08:00"), "start")
    closing = _parse_time(hours.get("end", "17:00"), "end")
    if opening >= closing:
        raise CalendarConfigError(
            f"business_hours.start ({opening}) must be before end ({closing})"
        )

    return BusinessCalendar(
        timezone=zone,
        opening=opening,
        closing=closing,
        holidays=_parse_holidays(config.get("holidays")),
        due_business_days=_parse_due_days(config.get("due_business_days") or {}),
    )


def _default_path() -> Path:
    return Path(os.environ.get(WORKSPACE_CONFIG_ENV) or WORKSPACE_CONFIG_FILE)


@lru_cache(maxsize=8)
def _load(path: Path) -> BusinessCalendar:
    with open(path, encoding="utf-8") as handle:
        config = yaml.safe_load(handle) or {}
    calendar = calendar_from_config(config)
    logger.info(
        "Loaded business calendar from %s: %s, %d holidays",
        path,
        calendar.timezone.key,
        len(calendar.holidays),
    )
    return calendar


def load_calendar(path: Path | None = None) -> BusinessCalendar:
    """Load the business calendar, once per file.

    Args:
        path: A workspace configuration file (default: `WORKSPACE_CONFIG`,
            else `config/workspace.yml`).

    Raises:
        CalendarConfigError: The file has a missing or invalid value.
        OSError: The file cannot be read.
    """
    return _load(Path(path) if path is not None else _default_path())


def due_at_for(
    status: str, start: datetime, calendar: BusinessCalendar | None = None
) -> datetime | None:
    """Compute when the next step is due for a ticket that entered `status` at `start`.

    Args:
        status: A ticket status (see `bot.models.TICKET_STATUSES`).
        start: When the ticket entered the status, an aware datetime.
        calendar: The calendar (default: `load_calendar()`).

    Returns:
        The due time in UTC, or None when the status has no due time.

    Raises:
        ValueError: `status` is not in the configuration's
            `due_business_days`.
    """
    calendar = calendar or load_calendar()
    if status not in calendar.due_business_days:
        raise ValueError(
            f"No due_business_days entry for status {status!r}; add it to the "
            f"workspace configuration (an empty value means no due time)"
        )
    days = calendar.due_business_days[status]
    if days is None:
        return None
    return calendar.add_business_days(start, days)
