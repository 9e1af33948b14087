"""Ticket page data: history, notes, earlier tickets, screening and messages."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import insert

from bot.eligibility import SERVICES, screen
from bot.models import ApiToken
from bot.privacy import RASA_EVENTS, ConversationEraser
from bot.tickets import Ticket
from bot.workspace.audit import Actor
from bot.workspace.detail import (
    NO_CONSENT_REASON,
    PROGRAM_LABELS,
    PSEUDONYMISED_REASON,
    WorkspaceTicket,
    load_ticket_detail,
)
from bot.workspace.workflow import add_note, assign, change_status
from tests.test_workflow import make_staff, make_ticket

PROFILE = {
    "age": 45,
    "plan": "medi-cal",
    "unhoused": True,
    "willing_community_supports": True,
    "engaged_with_care_manager": True,
}
T0 = datetime(2026, 12, 1, 18, 0, tzinfo=timezone.utc)
CONVERSATION = [
    ("user", 1, "what is ECM?"),
    ("action", 2, None),
    ("bot", 3, "ECM is a benefit that gives you a care manager."),
    ("user", 4, "<script>alert(1)</script>"),
    ("bot", 5, ""),
]


def add_events(session_factory, conversation_id: str, events=CONVERSATION) -> None:
    """Create Rasa's events table if needed and store a conversation in it."""
    with session_factory() as session, session.begin():
        RASA_EVENTS.create(session.connection(), checkfirst=True)
        for type_name, offset, message in events:
            data = {"event": type_name, "timestamp": T0.timestamp() + offset}
            if message is not None:
                data["text"] = message
            session.execute(
                insert(RASA_EVENTS).values(
                    sender_id=conversation_id,
                    type_name=type_name,
                    timestamp=T0.timestamp() + offset,
                    data=json.dumps(data),
                )
            )


def detail(session_factory, reference):
    with session_factory() as session:
        return load_ticket_detail(session, reference)


def test_unknown_reference(session_factory):
    assert detail(session_factory, "HP-7KQ4MX") is None
    assert detail(session_factory, "not a code") is None


def test_ticket_with_workspace_fields(session_factory):
    reference = make_ticket(session_factory)

    result = detail(session_factory, reference.lower())

    ticket = result.ticket
    assert isinstance(ticket, WorkspaceTicket)
    assert isinstance(ticket, Ticket)
    assert ticket.reference == reference
    assert ticket.name == "Ana Perez"
    assert ticket.consent_share_screening is True
    assert ticket.version == 1
    assert ticket.due_at is not None
    assert ticket.status_date is not None
    assert ticket.close_reason is None
    assert ticket.pseudonymised_at is None
    assert ticket.is_overdue(ticket.due_at + timedelta(seconds=1)) is True
    assert ticket.is_overdue(ticket.due_at - timedelta(seconds=1)) is False
    assert result.assignee is None


def test_history_notes_and_assignee(session_factory):
    ana = make_staff(session_factory, "ana")
    with session_factory() as session, session.begin():
        token = ApiToken(name="care-system", token_hash="b" * 64, prefix="abcd")
        session.add(token)
        session.flush()
        api = Actor(name="token:care-system", role="api", api_token_id=token.id)
    reference = make_ticket(session_factory)

    with session_factory() as session, session.begin():
        change_status(
            session, reference, to_status="contacted", expected_version=1, actor=ana
        )
        change_status(
            session,
            reference,
            to_status="closed",
            close_reason="not_eligible",
            expected_version=2,
            actor=api,
        )
        assign(
            session, reference, assignee_id=ana.user_id, expected_version=3, actor=ana
        )
        add_note(session, reference, body="first", actor=ana, now=T0)
        add_note(
            session, reference, body="second", actor=ana, now=T0 + timedelta(hours=1)
        )

    result = detail(session_factory, reference)

    assert [(h.from_status, h.to_status) for h in result.status_history] == [
        (None, "new"),
        ("new", "contacted"),
        ("contacted", "closed"),
    ]
    assert [h.actor for h in result.status_history] == [
        "System",
        "Ana Coordinator",
        "API: care-system",
    ]
    assert result.status_history[2].close_reason == "not_eligible"
    assert [n.body for n in result.notes] == ["second", "first"]
    assert {n.author for n in result.notes} == {"Ana Coordinator"}
    assert result.assignee.id == ana.user_id
    assert result.assignee.display_name == "Ana Coordinator"


def test_earlier_tickets(session_factory):
    first = make_ticket(session_factory, member_id="M1111111")
    second = make_ticket(session_factory, phone="+16505550999", member_id="M1111111")
    make_ticket(session_factory, phone="+16505550777", member_id="M2222222")
    current = make_ticket(session_factory, member_id="M3333333")

    result = detail(session_factory, current)

    assert [t.reference for t in result.earlier_tickets] == [first]
    by_member = detail(session_factory, second)
    assert [t.reference for t in by_member.earlier_tickets] == [first]
    assert by_member.earlier_tickets[0].status == "new"


def test_screening_per_program(session_factory):
    result = screen(PROFILE)
    reference = make_ticket(
        session_factory, screening_result=result, services=["ecm", "housing_deposits"]
    )

    programs = detail(session_factory, reference).screening

    assert [p.key for p in programs] == ["ecm", *SERVICES]
    ecm = programs[0]
    assert ecm.label == PROGRAM_LABELS["ecm"]
    assert ecm.status == result["ecm"]["status"]
    assert ecm.status_label
    assert ecm.of_interest is True
    assert [r.code for r in ecm.reasons] == [
        r["code"] for r in result["ecm"]["reasons"]
    ]
    assert all(r.text for r in ecm.reasons)
    deposits = programs[1 + SERVICES.index("housing_deposits")]
    assert deposits.of_interest is True
    assert deposits.status == result["community_supports"]["housing_deposits"]["status"]
    assert programs[1 + SERVICES.index("home_modifications")].of_interest is False


def test_no_screening_result(session_factory):
    reference = make_ticket(session_factory, screening_result=None)

    assert detail(session_factory, reference).screening == []


def test_messages_with_consent(session_factory):
    reference = make_ticket(session_factory, conversation_id="conv-shared")
    add_events(session_factory, "conv-shared")
    add_events(session_factory, "conv-other", [("user", 1, "someone else")])

    result = detail(session_factory, reference)

    assert result.messages_withheld_reason is None
    assert result.messages == [
        {"sender": "member", "text": "what is ECM?", "at": T0 + timedelta(seconds=1)},
        {
            "sender": "assistant",
            "text": "ECM is a benefit that gives you a care manager.",
            "at": T0 + timedelta(seconds=3),
        },
        {
            "sender": "member",
            "text": "<script>alert(1)</script>",
            "at": T0 + timedelta(seconds=4),
        },
    ]


def test_messages_withheld_without_consent(session_factory):
    reference = make_ticket(
        session_factory, conversation_id="conv-private", consent_share_screening=False
    )
    add_events(session_factory, "conv-private")

    result = detail(session_factory, reference)

    assert result.messages == []
    assert result.messages_withheld_reason == NO_CONSENT_REASON
    assert result.screening == []


def test_messages_withheld_when_pseudonymised(session_factory):
    reference = make_ticket(session_factory, conversation_id="conv-deleted")
    add_events(session_factory, "conv-deleted")
    ConversationEraser(session_factory).request_deletion("conv-deleted")

    result = detail(session_factory, reference)

    assert result.messages == []
    assert result.messages_withheld_reason == PSEUDONYMISED_REASON
    assert result.ticket.pseudonymised_at is not None
    assert result.earlier_tickets == []


def test_pseudonymised_tickets_are_not_related(session_factory):
    first = make_ticket(session_factory, conversation_id="conv-a", phone="+16505550001")
    second = make_ticket(
        session_factory, conversation_id="conv-b", phone="+16505550002"
    )
    eraser = ConversationEraser(session_factory)
    eraser.request_deletion("conv-a")
    eraser.request_deletion("conv-b")

    assert detail(session_factory, first).earlier_tickets == []
    assert detail(session_factory, second).earlier_tickets == []


def test_no_events_table(session_factory):
    reference = make_ticket(session_factory)

    result = detail(session_factory, reference)

    assert result.messages == []
    assert result.messages_withheld_reason is None
