"""Audit log: entries, filters, pages, and append-only on both databases."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DatabaseError

from bot.models import AuditEntry
from bot.models import Ticket as TicketRow
from bot.workspace.audit import Actor, AuditFilters, list_audit, record
from tests.test_workflow import make_ticket

ANA = Actor(name="ana", role="coordinator", user_id=7)
SAM = Actor(name="sam", role="supervisor", user_id=8)
TOKEN = Actor(name="token:care-system", role="api", api_token_id=2)
# 10:00 in Los Angeles on 1 December 2026.
START = datetime(2026, 12, 1, 18, 0, tzinfo=timezone.utc)


def ticket_row(session, reference: str) -> TicketRow:
    return session.execute(
        select(TicketRow).where(TicketRow.reference == reference)
    ).scalar_one()


@pytest.fixture
def entries(session_factory):
    """Store six entries over three Pacific days; return the two references."""
    first = make_ticket(session_factory)
    second = make_ticket(session_factory, phone="+16505550999")
    with session_factory() as session, session.begin():
        first_row = ticket_row(session, first)
        second_row = ticket_row(session, second)
        record(session, ANA, "login", now=START)
        record(
            session,
            ANA,
            "view_ticket",
            ticket=first_row,
            now=START + timedelta(minutes=1),
        )
        record(
            session,
            ANA,
            "change_status",
            ticket=first_row,
            detail={"from": "new", "to": "contacted", "close_reason": None},
            now=START + timedelta(days=1),
        )
        record(
            session,
            SAM,
            "view_ticket",
            ticket=second_row,
            now=START + timedelta(days=1, hours=1),
        )
        record(
            session, TOKEN, "api_view", ticket=second_row, now=START + timedelta(days=2)
        )
        # 23:30 in Los Angeles on 3 December is 07:30 UTC on 4 December.
        record(
            session,
            SAM,
            "view_audit",
            now=datetime(2026, 12, 4, 7, 30, tzinfo=timezone.utc),
        )
    return first, second


def actions(page) -> list[str]:
    return [entry.action for entry in page.entries]


def test_record_stores_entry(session_factory, entries):
    first, _ = entries

    with session_factory() as session:
        page = list_audit(session, AuditFilters(action="change_status"))

    [entry] = page.entries
    assert entry.actor == "ana"
    assert entry.user_id == 7
    assert entry.ticket_reference == first
    assert entry.ticket_id is not None
    assert entry.at == START + timedelta(days=1)
    assert entry.detail == {"from": "new", "to": "contacted", "close_reason": None}


def test_newest_first(session_factory, entries):
    with session_factory() as session:
        page = list_audit(session, AuditFilters())

    assert actions(page) == [
        "view_audit",
        "api_view",
        "view_ticket",
        "change_status",
        "view_ticket",
        "login",
    ]
    assert page.total == 6


@pytest.mark.parametrize(
    "filters, expected",
    [
        (AuditFilters(username="ana"), ["change_status", "view_ticket", "login"]),
        (AuditFilters(username="token:care-system"), ["api_view"]),
        (AuditFilters(username="nobody"), []),
        (AuditFilters(action="view_ticket"), ["view_ticket", "view_ticket"]),
        (
            AuditFilters(since=date(2026, 12, 2)),
            ["view_audit", "api_view", "view_ticket", "change_status"],
        ),
        (AuditFilters(until=date(2026, 12, 1)), ["view_ticket", "login"]),
        (
            AuditFilters(since=date(2026, 12, 3), until=date(2026, 12, 3)),
            ["view_audit", "api_view"],
        ),
        (AuditFilters(username="sam", action="view_ticket"), ["view_ticket"]),
    ],
)
def test_filters(session_factory, entries, filters, expected):
    with session_factory() as session:
        page = list_audit(session, filters)

    assert actions(page) == expected
    assert page.total == len(expected)


@pytest.mark.parametrize("form", ["exact", "typed"])
def test_filter_by_reference(session_factory, entries, form):
    first, _ = entries
    typed = first if form == "exact" else first.lower().replace("-", "")

    with session_factory() as session:
        page = list_audit(session, AuditFilters(reference=typed))

    assert actions(page) == ["change_status", "view_ticket"]


@pytest.mark.parametrize(
    "page_number, per_page, expected",
    [
        (1, 4, ["view_audit", "api_view", "view_ticket", "change_status"]),
        (2, 4, ["view_ticket", "login"]),
        (3, 4, []),
        (
            1,
            6,
            [
                "view_audit",
                "api_view",
                "view_ticket",
                "change_status",
                "view_ticket",
                "login",
            ],
        ),
    ],
)
def test_pages(session_factory, entries, page_number, per_page, expected):
    with session_factory() as session:
        page = list_audit(session, AuditFilters(page=page_number, per_page=per_page))

    assert actions(page) == expected
    assert page.total == 6
    assert page.pages == (2 if per_page == 4 else 1)


@pytest.mark.parametrize(
    "filters, message",
    [
        (AuditFilters(page=0), "page"),
        (AuditFilters(per_page=0), "per_page"),
        (AuditFilters(per_page=201), "per_page"),
        (AuditFilters(since=date(2026, 12, 3), until=date(2026, 12, 1)), "since"),
    ],
)
def test_invalid_filters(session_factory, filters, message):
    with session_factory() as session:
        with pytest.raises(ValueError, match=message):
            list_audit(session, filters)


@pytest.mark.parametrize("key", ["name", "phone", "text", "body", "member_id"])
def test_member_details_rejected(session_factory, key):
    with session_factory() as session, session.begin():
        with pytest.raises(ValueError, match=key):
            record(session, ANA, "view_ticket", detail={key: "Ana Perez"})


@pytest.mark.parametrize("action", ["", "x" * 41])
def test_invalid_action_rejected(session_factory, action):
    with session_factory() as session, session.begin():
        with pytest.raises(ValueError, match="audit action"):
            record(session, ANA, action)


# Append-only


@pytest.mark.parametrize(
    "statement",
    [
        update(AuditEntry).values(actor="mallory"),
        delete(AuditEntry),
        text("UPDATE audit_log SET action = 'login' WHERE action = 'view_audit'"),
        text("DELETE FROM audit_log WHERE actor = 'ana'"),
    ],
    ids=["orm-update", "orm-delete", "sql-update", "sql-delete"],
)
def test_audit_log_is_append_only(session_factory, entries, statement):
    with session_factory() as session:
        with pytest.raises(DatabaseError, match="append-only"):
            with session.begin():
                session.execute(statement)

    with session_factory() as session:
        page = list_audit(session, AuditFilters())
    assert page.total == 6
    assert {entry.actor for entry in page.entries} == {
        "ana",
        "sam",
        "token:care-system",
    }


def test_changing_an_orm_entry_fails(session_factory, entries):
    with session_factory() as session:
        with pytest.raises(DatabaseError, match="append-only"):
            with session.begin():
                entry = session.execute(
                    select(AuditEntry).where(AuditEntry.action == "login")
                ).scalar_one()
                entry.detail = {"edited": True}
