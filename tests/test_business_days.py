"""Business calendar: due times across weekends, holidays, hours and DST."""

from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest
import yaml

from bot.business_days import (
    CalendarConfigError,
    calendar_from_config,
    due_at_for,
    load_calendar,
)
from bot.models import TICKET_STATUSES

PACIFIC = ZoneInfo("America/Los_Angeles")


def pacific(*parts: int) -> datetime:
    """An aware datetime at a Pacific wall-clock time."""
    return datetime(*parts, tzinfo=PACIFIC)


@pytest.fixture
def calendar():
    return load_calendar()


@pytest.mark.parametrize(
    "start, days, expected",
    [
        # Thursday 10:00 plus 2 skips the weekend to Monday 10:00.
        (pacific(2026, 12, 3, 10, 0), 2, pacific(2026, 12, 7, 10, 0)),
        # Tuesday plus 2 within one week.
        (pacific(2026, 12, 1, 9, 30), 2, pacific(2026, 12, 3, 9, 30)),
        # Friday plus 1 lands on Monday.
        (pacific(2026, 12, 4, 16, 59), 1, pacific(2026, 12, 7, 16, 59)),
        # Zero days keeps a start within business hours.
        (pacific(2026, 12, 2, 11, 0), 0, pacific(2026, 12, 2, 11, 0)),
        # Before opening counts from that day's 08:00.
        (pacific(2026, 12, 2, 6, 15), 2, pacific(2026, 12, 4, 8, 0)),
        # At closing or later counts from the next business day's 08:00.
        (pacific(2026, 12, 2, 17, 0), 2, pacific(2026, 12, 7, 8, 0)),
        (pacific(2026, 12, 2, 23, 30), 0, pacific(2026, 12, 3, 8, 0)),
        # Saturday and Sunday count from Monday's opening.
        (pacific(2026, 12, 5, 12, 0), 2, pacific(2026, 12, 9, 8, 0)),
        (pacific(2026, 12, 6, 12, 0), 0, pacific(2026, 12, 7, 8, 0)),
        # Christmas (Friday) and the weekend are skipped.
        (pacific(2026, 12, 24, 10, 0), 1, pacific(2026, 12, 28, 10, 0)),
        # Thanksgiving and the day after, then the weekend.
        (pacific(2026, 11, 25, 10, 0), 1, pacific(2026, 11, 30, 10, 0)),
        # A start on a holiday counts from the next business day.
        (pacific(2026, 11, 26, 10, 0), 0, pacific(2026, 11, 30, 8, 0)),
        # New Year's Day 2027 (Friday) and 2028's observed on 2027-12-31.
        (pacific(2026, 12, 31, 10, 0), 1, pacific(2027, 1, 4, 10, 0)),
        (pacific(2027, 12, 30, 10, 0), 1, pacific(2028, 1, 3, 10, 0)),
        # Independence Day 2026 is observed on Friday 3 July.
        (pacific(2026, 7, 2, 10, 0), 1, pacific(2026, 7, 6, 10, 0)),
        # Ten business days over the Thanksgiving week.
        (pacific(2026, 11, 20, 10, 0), 10, pacific(2026, 12, 8, 10, 0)),
    ],
)
def test_add_business_days(calendar, start, days, expected):
    due = calendar.add_business_days(start, days)

    assert due == expected
    assert due.tzinfo == timezone.utc


@pytest.mark.parametrize(
    "start, expected_local, expected_utc",
    [
        # Spring forward on Sunday 8 March 2026: PST (-8) to PDT (-7).
        (
            pacific(2026, 3, 6, 10, 0),
            pacific(2026, 3, 10, 10, 0),
            datetime(2026, 3, 10, 17, 0, tzinfo=timezone.utc),
        ),
        # Fall back on Sunday 1 November 2026: PDT (-7) to PST (-8).
        (
            pacific(2026, 10, 30, 10, 0),
            pacific(2026, 11, 3, 10, 0),
            datetime(2026, 11, 3, 18, 0, tzinfo=timezone.utc),
        ),
    ],
)
def test_due_keeps_local_time_across_dst(calendar, start, expected_local, expected_utc):
    due = calendar.add_business_days(start, 2)

    assert due == expected_local
    assert due == expected_utc
    assert due.astimezone(PACIFIC).hour == 10


def test_utc_start_counts_in_pacific_time(calendar):
    # 01:30 UTC on Wednesday is 17:30 Pacific on Tuesday, after closing.
    start = datetime(2026, 12, 2, 1, 30, tzinfo=timezone.utc)

    assert calendar.add_business_days(start, 0) == pacific(2026, 12, 2, 8, 0)


@pytest.mark.parametrize(
    "day, expected",
    [
        (date(2026, 12, 4), True),
        (date(2026, 12, 5), False),
        (date(2026, 12, 6), False),
        (date(2026, 12, 25), False),
        (date(2027, 1, 18), False),
        (date(2028, 11, 10), False),
        (date(2028, 11, 13), True),
    ],
)
def test_is_business_day(calendar, day, expected):
    assert calendar.is_business_day(day) is expected


def test_every_year_has_holidays(calendar):
    years = {day.year for day in calendar.holidays}

    assert {2026, 2027, 2028} <= years
    for year in (2026, 2027, 2028):
        count = sum(1 for day in calendar.holidays if day.year == year)
        assert count >= 10, year
    assert all(calendar.is_business_day(day) is False for day in calendar.holidays)
    assert all(day.weekday() < 5 for day in calendar.holidays)


@pytest.mark.parametrize(
    "status, days",
    [
        ("new", 2),
        ("contact_attempted", 2),
        ("contacted", 5),
        ("referred_to_provider", 10),
        ("authorized", 10),
        ("not_authorized", 5),
    ],
)
def test_due_at_for_statuses(calendar, status, days):
    start = pacific(2026, 12, 1, 10, 0)

    assert due_at_for(status, start) == calendar.add_business_days(start, days)


@pytest.mark.parametrize("status", ["services_started", "closed"])
def test_due_at_for_statuses_without_due(status):
    assert due_at_for(status, pacific(2026, 12, 1, 10, 0)) is None


def test_every_status_is_configured(calendar):
    assert set(calendar.due_business_days) == set(TICKET_STATUSES)


def test_due_at_for_unknown_status():
    with pytest.raises(ValueError, match="nonsense"):
        due_at_for("nonsense", pacific(2026, 12, 1, 10, 0))


def test_naive_start_rejected(calendar):
    with pytest.raises(ValueError, match="naive"):
        calendar.add_business_days(datetime(2026, 12, 1, 10, 0), 1)


def test_negative_days_rejected(calendar):
    with pytest.raises(ValueError, match="days"):
        calendar.add_business_days(pacific(2026, 12, 1, 10, 0), -1)


def test_config_file_from_environment(tmp_path, monkeypatch):
    path = tmp_path / "workspace.yml"
    path.write_text(
        yaml.safe_dump(
            {
                "timezone": "America/New_York",
                "business_hours": {"start": "09:00", "end": "18:00"},
                "due_business_days": {"new": 1, "closed": None},
                "holidays": [{"date": date(2026, 12, 2), "name": "Test day"}],
            }
        )
    )
    monkeypatch.setenv("WORKSPACE_CONFIG", str(path))

    calendar = load_calendar()
    start = datetime(2026, 12, 1, 8, 0, tzinfo=ZoneInfo("America/New_York"))

    assert calendar.timezone.key == "America/New_York"
    assert calendar.holidays == {date(2026, 12, 2): "Test day"}
    assert due_at_for("new", start, calendar) == datetime(
        2026, 12, 3, 9, 0, tzinfo=ZoneInfo("America/New_York")
    )
    assert load_calendar() is calendar
    monkeypatch.delenv("WORKSPACE_CONFIG")
    assert load_calendar().timezone.key == "America/Los_Angeles"


@pytest.mark.parametrize(
    "config, field",
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        (
            {"timezone": "UTC", "business_hours": {"start": "18:00", "end": "08:00"}},
            "business_hours",
        ),
        ({"timezone": "UTC", "business_hours": {"start": "8am"}}, "business_hours"),
        ({"timezone": "UTC", "holidays": [{"date": "soon"}]}, "holiday"),
        ({"timezone": "UTC", "due_business_days": {"new": -1}}, "due_business_days"),
        ({"timezone": "UTC", "due_business_days": {"new": "two"}}, "due_business_days"),
    ],
)
def test_invalid_config_rejected(config, field):
    with pytest.raises(CalendarConfigError, match=field):
        calendar_from_config(config)
