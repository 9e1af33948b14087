"""Audit log: entries, filters, pages, and append-only on both databases."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DatabaseError

from bot.models import AuditEntry, StaffUser
from bot.models import Ticket as TicketRow
from bot.workspace.audit import (
    Actor,
    AuditFilters,
    describe_detail,
    list_audit,
    record,
)
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


NAMES = {7: "Ana Ruiz", 8: "Sam Lee"}


@pytest.mark.parametrize(
    ("action", "detail", "expected"),
    [
        ("change_status", {"from": "new", "to": "contacted", "close_reason": None},
         "status: new → contacted"),
        ("change_status", {"from": "contacted", "to": "closed",
                           "close_reason": "unable_to_reach"},
         "status: contacted → closed, close reason: unable to reach"),
        ("assign", {"from": None, "to": 7}, "assigned to Ana Ruiz"),
        ("assign", {"from": 7, "to": 8}, "assigned to Sam Lee (was Ana Ruiz)"),
        ("assign", {"from": 8, "to": None}, "unassigned (was Sam Lee)"),
        ("assign", {"from": None, "to": 99},
         "assigned to staff user 99 (since removed)"),
        ("add_note", {"note_id": 3, "length": 42}, "note added (42 characters)"),
        ("login_failed", {"reason": "wrong_password"}, "reason: wrong password"),
        ("api_update", {"fields": ["status", "note"], "version": 4},
         "changed status, note; now version 4"),
        ("view_queue", {"filters": {"status": "open", "assignee": 7, "overdue": True,
                                    "searched": True, "language": None},
                        "page": 2},
         "filters: status open, assignee Ana Ruiz, overdue only, with a search; "
         "page: 2"),
        ("api_screening", {"rule_set": "hpsm-2022"}, "rule set: hpsm-2022"),
        ("view_ticket", None, ""),
    ],
)
def test_describe_detail(action, detail, expected):
    assert describe_detail(action, detail, NAMES) == expected


def test_entries_name_actors_and_read_plainly(session_factory):
    reference = make_ticket(session_factory)
    with session_factory() as session, session.begin():
        ana = StaffUser(
            username="ana", display_name="Ana Ruiz", role="coordinator",
            password_hash="not-a-real-hash", active=True, failed_logins=0,
            session_epoch=0,
        )
        session.add(ana)
        session.flush()
        actor = Actor(name="ana", role="coordinator", user_id=ana.id)
        record(
            session, actor, "assign", ticket=ticket_row(session, reference),
            detail={"from": None, "to": ana.id}, now=START,
        )

    with session_factory() as session:
        entry = list_audit(session, AuditFilters()).entries[0]

    assert entry.actor_label == "Ana Ruiz (ana)"
    assert entry.detail_text == "assigned to Ana Ruiz"
    assert "{" not in entry.detail_text


def test_page_limit(session_factory):
    with session_factory() as session:
        with pytest.raises(ValueError, match="page"):
            list_audit(session, AuditFilters(page=10**20))
