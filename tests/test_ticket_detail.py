"""Ticket page data: history, notes, earlier tickets, screening and messages."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import insert, select

from bot.choices import NEUTRAL_SLASH, shown_user_text
from bot.eligibility import SERVICES, screen
from bot.models import ApiToken, OutboxMessage
from bot.models import Ticket as TicketRow
from bot.opt_outs import OPTED_OUT_ERROR, record_opt_in, record_opt_out
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
from bot.workspace.tokens import create_token
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


# Button payloads in the conversation


def add_raw_events(session_factory, conversation_id: str, events: list[dict]) -> None:
    """Store tracker events given as Rasa's event dicts, one second apart."""
    with session_factory() as session, session.begin():
        RASA_EVENTS.create(session.connection(), checkfirst=True)
        for offset, data in enumerate(events, start=1):
            session.execute(
                insert(RASA_EVENTS).values(
                    sender_id=conversation_id,
                    type_name=data["event"],
                    timestamp=T0.timestamp() + offset,
                    data=json.dumps(data),
                )
            )


def test_button_payloads_show_titles(session_factory):
    reference = make_ticket(session_factory, conversation_id="conv-buttons")
    buttons = [
        {"title": "Yes, please", "payload": "/affirm"},
        {"title": "Talk to a person", "payload": "/request_handoff"},
    ]
    add_raw_events(
        session_factory,
        "conv-buttons",
        [
            {"event": "bot", "text": "Shall I go on?", "data": {"buttons": buttons}},
            {"event": "user", "text": "/affirm"},
            {"event": "bot", "text": "", "data": {"buttons": buttons}},
            {"event": "user", "text": "/request_handoff"},
            {"event": "bot", "text": "Anything else?"},
            {"event": "user", "text": "/affirm"},
            {"event": "user", "text": NEUTRAL_SLASH + "help me"},
        ],
    )

    texts = [
        message["text"]
        for message in detail(session_factory, reference).messages
        if message["sender"] == "member"
    ]

    assert texts == ["Yes, please", "Talk to a person", "/affirm", "/help me"]


@pytest.mark.parametrize(
    ("text", "buttons", "shown"),
    [
        ("/affirm", [{"title": "Yes", "payload": "/affirm"}], "Yes"),
        ("/affirm", [{"title": "No", "payload": "/deny"}], "/affirm"),
        ("/affirm", [], "/affirm"),
        (NEUTRAL_SLASH + "stop", [{"title": "Yes", "payload": "/stop"}], "/stop"),
        ("plain text", [{"title": "Yes", "payload": "plain text"}], "plain text"),
        ("/x", ["not a dict"], "/x"),
    ],
)
def test_shown_user_text(text, buttons, shown):
    assert shown_user_text(text, buttons) == shown


# Texts sent to the member


def add_outbox(session_factory, reference: str, **values) -> None:
    with session_factory() as session, session.begin():
        ticket_id = session.execute(
            select(TicketRow.id).where(TicketRow.reference == reference)
        ).scalar_one()
        row = {
            "ticket_id": ticket_id,
            "to_number": "+16505550100",
            "body": f"HPSM: update on {reference}",
            "language": "en",
            "kind": "status_contact_attempted",
            "status": "pending",
            "attempts": 0,
            "created_at": T0,
            "updated_at": T0,
            **values,
        }
        session.add(OutboxMessage(**row))


def test_texts_in_plain_words(session_factory):
    reference = make_ticket(session_factory)
    add_outbox(
        session_factory,
        reference,
        kind="ticket_confirmation",
        status="sent",
        sent_at=T0,
        delivery_status="delivered",
    )
    add_outbox(
        session_factory,
        reference,
        status="failed",
        last_error=OPTED_OUT_ERROR,
        created_at=T0 + timedelta(hours=1),
    )
    add_outbox(
        session_factory,
        reference,
        kind="status_closed",
        status="not_sent",
        last_error="Twilio credentials are not configured",
        created_at=T0 + timedelta(hours=2),
    )
    add_outbox(
        session_factory,
        reference,
        kind="status_authorized",
        created_at=T0 + timedelta(hours=3),
    )

    # The hand-off queued its own confirmation after these, at the real time.
    texts = detail(session_factory, reference).texts[:4]

    assert [(text.kind, text.status_label) for text in texts] == [
        ("ticket_confirmation", "Sent"),
        ("status_contact_attempted", "Not sent"),
        ("status_closed", "Not sent because Twilio is not configured"),
        ("status_authorized", "Waiting to be sent"),
    ]
    assert texts[0].delivery_status == "delivered"
    assert texts[0].sent_at == T0
    assert texts[1].problem == "the member's number opted out of texts (STOP)"
    assert texts[3].kind_label == "Status update: services authorized"
    assert all(reference in text.body for text in texts)
    assert "+16505550100" not in repr(texts)


def test_cancelled_text_names_deletion(session_factory):
    reference = make_ticket(session_factory, conversation_id="conv-deleted")

    ConversationEraser(session_factory).request_deletion("conv-deleted")

    texts = detail(session_factory, reference).texts
    assert [(text.kind, text.status) for text in texts] == [
        ("ticket_confirmation", "failed")
    ]
    assert texts[0].status_label == "Not sent"
    assert texts[0].problem == "canceled because the member deleted the conversation"
    assert "Twilio" not in texts[0].problem


def test_deleted_ticket_closed_with_note(session_factory):
    reference = make_ticket(session_factory, conversation_id="conv-deleted")

    ConversationEraser(session_factory).request_deletion("conv-deleted")

    result = detail(session_factory, reference)
    assert result.ticket.status == "closed"
    assert result.ticket.close_reason == "declined"
    assert result.status_history[-1].actor == "System"
    assert result.notes[0].author == "System"
    assert "canceled this request and deleted the conversation" in result.notes[0].body


def test_opt_out_shown_until_opt_in(session_factory):
    reference = make_ticket(session_factory, phone="+16505550123")
    assert detail(session_factory, reference).sms_opted_out_at is None

    with session_factory() as session, session.begin():
        record_opt_out(session, "+16505550123", source="keyword", language="en", now=T0)
    assert detail(session_factory, reference).sms_opted_out_at == T0

    with session_factory() as session, session.begin():
        record_opt_in(session, "+16505550123")
    assert detail(session_factory, reference).sms_opted_out_at is None


def test_note_by_token_names_token(session_factory):
    reference = make_ticket(session_factory)
    with session_factory() as session, session.begin():
        token, _ = create_token(session, "case-management")
        actor = Actor(name="token:case-management", role="api", api_token_id=token.id)
        add_note(session, reference, body="From the case system", actor=actor)

    notes = detail(session_factory, reference).notes

    assert [note.author for note in notes] == ["API: case-management"]
