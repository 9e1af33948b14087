"""CSV export: columns, times, and neutralised spreadsheet formulas."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timezone

import pytest

from bot.workspace.export import HEADER, safe_cell, write_csv
from bot.workspace.queue import QueueFilters, QueueRow, iter_queue
from tests.test_workflow import make_staff, make_ticket
from bot.workspace.workflow import assign

CREATED = datetime(2026, 12, 2, 18, 5, tzinfo=timezone.utc)
DUE = datetime(2026, 12, 4, 18, 5, tzinfo=timezone.utc)


def queue_row(**changes) -> QueueRow:
    values = dict(
        reference="HP-7KQ4MX",
        status="new",
        name="Ana Perez",
        preferred_language="es",
        channel="sms",
        services=["ecm", "housing_deposits"],
        assignee_id=3,
        assignee_name="Sam Lee",
        due_at=DUE,
        created_at=CREATED,
        overdue=True,
    )
    values.update(changes)
    return QueueRow(**values)


def parse(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


@pytest.mark.parametrize(
    "value, expected",
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ('  =HYPERLINK("http://x")', '\'  =HYPERLINK("http://x")'),
        ("\n+1", "'\n+1"),
        ("\uff1d1+1", "'\uff1d1+1"),
        ("Ana = Perez", "Ana = Perez"),
        ("O'Brien", "O'Brien"),
        ("HP-7KQ4MX", "HP-7KQ4MX"),
        ("", ""),
        (None, ""),
        (42, "42"),
        (-3, "'-3"),
    ],
)
def test_safe_cell(value, expected):
    assert safe_cell(value) == expected


def test_write_csv_columns_and_times():
    out = io.StringIO()

    count = write_csv(
        [queue_row(), queue_row(due_at=None, assignee_name=None, overdue=False)], out
    )

    rows = parse(out.getvalue())
    assert count == 2
    assert rows[0] == list(HEADER)
    assert rows[1] == [
        "HP-7KQ4MX",
        "new",
        "2026-12-02T10:05-08:00",
        "2026-12-04T10:05-08:00",
        "yes",
        "Ana Perez",
        "es",
        "sms",
        "ecm housing_deposits",
        "Sam Lee",
    ]
    assert rows[2][3] == ""
    assert rows[2][4] == "no"
    assert rows[2][9] == ""


def test_write_csv_neutralises_member_text():
    out = io.StringIO()

    write_csv([queue_row(name="=cmd|' /C calc'!A0", assignee_name="@admin")], out)

    row = parse(out.getvalue())[1]
    assert row[5] == "'=cmd|' /C calc'!A0"
    assert row[9] == "'@admin"


def test_write_csv_empty():
    out = io.StringIO()

    assert write_csv([], out) == 0
    assert parse(out.getvalue()) == [list(HEADER)]


def test_export_leaves_out_contact_details(session_factory):
    reference = make_ticket(session_factory, name="+Eve", member_id="M7654321")

    out = io.StringIO()
    with session_factory() as session:
        count = write_csv(iter_queue(session, QueueFilters()), out)

    text = out.getvalue()
    assert count == 1
    assert reference in text
    assert "'+Eve" in text
    assert "+16505550123" not in text
    assert "M7654321" not in text
    assert "1980" not in text


def test_export_streams_filtered_queue(session_factory):
    actor = make_staff(session_factory)
    first = make_ticket(session_factory, phone="+16505550001")
    make_ticket(session_factory, phone="+16505550002")
    with session_factory() as session, session.begin():
        assign(
            session, first, assignee_id=actor.user_id, expected_version=1, actor=actor
        )

    out = io.StringIO()
    with session_factory() as session:
        count = write_csv(
            iter_queue(session, QueueFilters(assignee=actor.user_id), batch=1), out
        )

    rows = parse(out.getvalue())
    assert count == 1
    assert rows[1][0] == first
    assert rows[1][9] == "Ana Coordinator"
