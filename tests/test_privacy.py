"""Deleting a conversation at the member's request, and the retention purge.

The tracker events are written and read by Rasa's own `SQLTrackerStore`, on
SQLite and on PostgreSQL, so the tests see the rows Rasa really stores and
the way its next save behaves after a deletion. The last tests start the
real assistant and delete a conversation over the REST channel.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import date, datetime, timedelta, timezone

import pytest
import yaml
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import create_engine, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

import actions.privacy
from actions.privacy import ActionDeleteConversation
from bot import privacy
from bot.contacts import contact_slots
from bot.db import make_engine, make_session_factory
from bot.models import (
    AuditEntry,
    ConversationDeletion,
    ConversationState,
    OutboxMessage,
    Ticket,
    TicketNote,
    TicketStatusChange,
)
from bot.models import utcnow
from bot.privacy import (
    CANCELLED_SMS_ERROR,
    PSEUDONYMISED_PHONE,
    RASA_EVENTS,
    WITHDRAWN_CLOSE_REASON,
    WITHDRAWN_NOTE,
    ConversationEraser,
    purge_conversations,
)
from bot.workspace import workflow
from bot.settings import PROJECT_ROOT
from bot.tickets import HandoffRequest, TicketRepository
from tests.assistant import REFERENCE_PATTERN, start_assistant, stop_assistant
from tests.test_workflow import make_staff
from tests.services import REDIS_TEST_DB, create_postgres_database, require_redis

DOMAIN = Domain.load(str(PROJECT_ROOT / "domain.yml"))
CONVERSATION = "c0ffee11d2e84a7b9d6c5e4f3a2b1c0d"
OTHER_CONVERSATION = "5e1d0c0b0a09080706050403020100ff"
# Details distinctive enough that finding them anywhere is a real leak.
NAME = "Zebulon Quarrington"
PHONE = "+16505550187"
MEMBER_ID = "ZQ48213977"
DETAILS = (NAME, "5550187", MEMBER_ID)


# ------------------------------------------------------------------ helpers


def rasa_store(db_url: str) -> SQLTrackerStore:
    """Rasa's SQL tracker store on the test database, configured as the runner does."""
    url = make_url(db_url)
    dialect = url.get_backend_name()
    if dialect == "sqlite":
        return SQLTrackerStore(DOMAIN, dialect="sqlite", db=url.database)
    return SQLTrackerStore(
        DOMAIN,
        dialect=dialect,
        host=url.host,
        port=url.port,
        db=url.database,
        username=url.username,
        password=url.password,
        query=dict(url.query),
    )


@pytest.fixture
def store(db_url, session_factory):
    tracker_store = rasa_store(db_url)
    yield tracker_store
    tracker_store.engine.dispose()


async def load(store: SQLTrackerStore, sender: str) -> DialogueStateTracker:
    tracker = await store.retrieve(sender)
    if tracker is None:
        tracker = DialogueStateTracker.from_events(sender, [], DOMAIN.slots)
    return tracker


async def save_turn(store: SQLTrackerStore, sender: str, events: list) -> None:
    """Append events with their own timestamps and save, as one Rasa turn."""
    tracker = await load(store, sender)
    for event in events:
        tracker.update(event, DOMAIN)
    await store.save(tracker)


def user(text: str, intent: str, timestamp: float | None = None) -> UserUttered:
    return UserUttered(
        text, intent={"name": intent, "confidence": 1.0}, timestamp=timestamp
    )


def handoff_turns(timestamp: float | None = None) -> list:
    """A session in which the member gave personal details."""
    return [
        ActionExecuted("action_session_start", timestamp=timestamp),
        SessionStarted(timestamp=timestamp),
        ActionExecuted("action_listen", timestamp=timestamp),
        user(f"my name is {NAME}", "inform", timestamp),
        SlotSet("handoff_name", NAME, timestamp=timestamp),
        user("650 555 0187", "inform", timestamp),
        SlotSet("handoff_phone", PHONE, timestamp=timestamp),
        user(MEMBER_ID, "inform", timestamp),
        SlotSet("handoff_member_id", f"id:{MEMBER_ID}", timestamp=timestamp),
        BotUttered(f"Thanks, {NAME}.", timestamp=timestamp),
        ActionExecuted("action_listen", timestamp=timestamp),
    ]


async def deletion_turn(store: SQLTrackerStore, sender: str) -> None:
    """Save the turn that answers a deletion, with the events Rasa 3.6 logs.

    Rasa logs the action's `ActionExecuted` first, then the events the action
    returned with fresh timestamps (`update_with_events`), then the follow-up
    `action_listen` that a `SessionStarted` schedules.
    """
    tracker = await load(store, sender)
    tracker.update(user("yes", "affirm"), DOMAIN)
    tracker.update(ActionExecuted("action_delete_conversation"), DOMAIN)
    tracker.update_with_events(
        [
            BotUttered("Done. I deleted this chat."),
            SessionStarted(),
            SlotSet("language", "en"),
        ],
        DOMAIN,
    )
    tracker.update(ActionExecuted("action_listen"), DOMAIN)
    await store.save(tracker)


def event_rows(session_factory, sender: str) -> list[str]:
    with session_factory() as session:
        return list(
            session.execute(
                select(RASA_EVENTS.c.data)
                .where(RASA_EVENTS.c.sender_id == sender)
                .order_by(RASA_EVENTS.c.id)
            ).scalars()
        )


def leaked(rows: list[str]) -> list[str]:
    return [detail for detail in DETAILS if any(detail in row for row in rows)]


def make_ticket(
    session_factory, conversation_id: str, handoff_id: str, status: str = "new"
) -> int:
    request = HandoffRequest(
        conversation_id=conversation_id,
        handoff_id=handoff_id,
        channel="sms",
        name=NAME,
        phone=PHONE,
        member_id=MEMBER_ID,
        date_of_birth=date(1961, 3, 14),
        preferred_language="en",
        call_time="after the farmers market",
        consent_contact=True,
        consent_share_screening=True,
        services=["ecm"],
        screening_profile={"age": 63, "unhoused": True},
        screening_result={"ecm": {"status": "likely"}},
    )
    ticket, _ = TicketRepository(session_factory).create_from_handoff(request)
    if status != "new":
        with session_factory.begin() as session:
            session.execute(
                update(Ticket).where(Ticket.id == ticket.id).values(status=status)
            )
    return ticket.id


def set_sms_status(session_factory, ticket_id: int, status: str) -> None:
    with session_factory.begin() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.ticket_id == ticket_id)
            .values(status=status)
        )


def eraser(session_factory, **kwargs) -> ConversationEraser:
    kwargs.setdefault("settle_seconds", 0.0)
    return ConversationEraser(session_factory, **kwargs)


# ------------------------------------------------- request_deletion: tickets


def test_new_ticket_is_pseudonymised(session_factory):
    ticket_id = make_ticket(session_factory, CONVERSATION, "h1")

    receipt = eraser(session_factory).request_deletion(CONVERSATION)

    with session_factory() as session:
        ticket = session.get(Ticket, ticket_id)
        raw = session.execute(
            select(Ticket.screening_profile, Ticket.screening_result).where(
                Ticket.id == ticket_id
            )
        ).one()
    assert receipt.cancelled_references == (ticket.reference,)
    assert receipt.kept_references == ()
    assert ticket.name is None
    assert ticket.member_id is None
    assert ticket.date_of_birth is None
    assert ticket.call_time is None
    assert ticket.phone == PSEUDONYMISED_PHONE
    assert raw == (None, None)
    assert ticket.previous_ticket_id is None
    assert ticket.conversation_id != CONVERSATION
    assert ticket.conversation_id.startswith("pseudonymised-")
    assert ticket.pseudonymised_at is not None
    assert ticket.status == "closed"
    assert ticket.close_reason == WITHDRAWN_CLOSE_REASON
    assert ticket.due_at is None
    # What staff need to see what was asked for stays.
    assert ticket.services == ["ecm"]
    assert ticket.consent_contact is True


def test_pseudonymised_ticket_closed_by_system(session_factory):
    ticket_id = make_ticket(session_factory, CONVERSATION, "h1")

    eraser(session_factory).request_deletion(CONVERSATION)

    with session_factory() as session:
        ticket = session.get(Ticket, ticket_id)
        changes = session.execute(
            select(TicketStatusChange).where(TicketStatusChange.ticket_id == ticket_id)
        ).scalars().all()
        notes = session.execute(
            select(TicketNote).where(TicketNote.ticket_id == ticket_id)
        ).scalars().all()
        audit = session.execute(
            select(AuditEntry.action, AuditEntry.actor).where(
                AuditEntry.ticket_reference == ticket.reference
            )
        ).all()
        kinds = session.execute(
            select(OutboxMessage.kind).where(OutboxMessage.ticket_id == ticket_id)
        ).scalars().all()
    assert ticket.status == "closed"
    assert ticket.version == 2
    assert [(c.from_status, c.to_status) for c in changes] == [
        (None, "new"),
        ("new", "closed"),
    ]
    assert changes[-1].close_reason == "declined"
    assert changes[-1].user_id is None
    assert changes[-1].api_token_id is None
    assert [note.body for note in notes] == [WITHDRAWN_NOTE]
    assert notes[0].user_id is None
    assert sorted(audit) == [("add_note", "system"), ("change_status", "system")]
    # Only the hand-off's confirmation, cancelled; no closing text.
    assert kinds == ["ticket_confirmation"]


def test_assigned_new_ticket_still_closed(session_factory):
    ticket_id = make_ticket(session_factory, CONVERSATION, "h1")
    coordinator = make_staff(session_factory, "ana")
    with session_factory() as session, session.begin():
        ticket = session.get(Ticket, ticket_id)
        # An assignment moves the version on but leaves the ticket `new`.
        workflow.assign(
            session,
            ticket.reference,
            assignee_id=coordinator.user_id,
            expected_version=1,
            actor=coordinator,
        )

    receipt = eraser(session_factory).request_deletion(CONVERSATION)

    with session_factory() as session:
        ticket = session.get(Ticket, ticket_id)
    assert receipt.cancelled_references == (ticket.reference,)
    assert ticket.status == "closed"
    assert ticket.version == 3


def test_failed_close_changes_nothing(session_factory, monkeypatch):
    ticket_id = make_ticket(session_factory, CONVERSATION, "h1")

    def reject(*args, **kwargs):
        raise workflow.InvalidStatusDateError("rejected by the test")

    monkeypatch.setattr(workflow, "change_status", reject)

    with pytest.raises(workflow.InvalidStatusDateError):
        eraser(session_factory).request_deletion(CONVERSATION)

    with session_factory() as session:
        ticket = session.get(Ticket, ticket_id)
        requests = session.execute(select(ConversationDeletion)).scalars().all()
        sms = session.execute(
            select(OutboxMessage).where(OutboxMessage.ticket_id == ticket_id)
        ).scalar_one()
    assert ticket.status == "new"
    assert ticket.name == NAME
    assert ticket.pseudonymised_at is None
    assert requests == []
    assert sms.status == "pending"


def test_placeholder_phone_fits_ticket_rules():
    from bot.answers import parse_phone
    from bot.tickets import E164

    assert E164.fullmatch(PSEUDONYMISED_PHONE)
    assert len(PSEUDONYMISED_PHONE) <= Ticket.__table__.c.phone.type.length
    assert parse_phone(PSEUDONYMISED_PHONE) is None


@pytest.mark.parametrize("status", ["in_progress", "contacted", "closed"])
def test_worked_ticket_is_kept(session_factory, status):
    ticket_id = make_ticket(session_factory, CONVERSATION, "h1", status=status)
    with session_factory() as session:
        before = session.get(Ticket, ticket_id)

    receipt = eraser(session_factory).request_deletion(CONVERSATION)

    with session_factory() as session:
        after = session.get(Ticket, ticket_id)
        sms = session.execute(
            select(OutboxMessage).where(OutboxMessage.ticket_id == ticket_id)
        ).scalar_one()
    assert receipt.kept_references == (before.reference,)
    assert receipt.cancelled_references == ()
    assert after.name == NAME
    assert after.phone == PHONE
    assert after.member_id == MEMBER_ID
    assert after.conversation_id == CONVERSATION
    assert after.pseudonymised_at is None
    assert after.updated_at == before.updated_at
    assert sms.to_number == PHONE
    assert sms.status == "pending"


def test_mixed_tickets_split(session_factory):
    kept_id = make_ticket(session_factory, CONVERSATION, "h1", status="in_progress")
    new_id = make_ticket(session_factory, CONVERSATION, "h2")
    other_id = make_ticket(session_factory, OTHER_CONVERSATION, "h3")

    receipt = eraser(session_factory).request_deletion(CONVERSATION)

    with session_factory() as session:
        kept = session.get(Ticket, kept_id)
        new = session.get(Ticket, new_id)
        other = session.get(Ticket, other_id)
    assert receipt.kept_references == (kept.reference,)
    assert receipt.cancelled_references == (new.reference,)
    assert new.pseudonymised_at is not None
    assert kept.pseudonymised_at is None
    assert other.pseudonymised_at is None
    assert other.name == NAME


@pytest.mark.parametrize(
    ("status", "expected_status", "expected_error"),
    [
        ("pending", "failed", CANCELLED_SMS_ERROR),
        ("unknown", "failed", CANCELLED_SMS_ERROR),
        ("sending", "sending", None),
        ("sent", "sent", None),
        ("not_sent", "not_sent", None),
    ],
)
def test_sms_of_pseudonymised_ticket(
    session_factory, status, expected_status, expected_error
):
    ticket_id = make_ticket(session_factory, CONVERSATION, "h1")
    set_sms_status(session_factory, ticket_id, status)

    receipt = eraser(session_factory).request_deletion(CONVERSATION)

    with session_factory() as session:
        sms = session.execute(
            select(OutboxMessage).where(OutboxMessage.ticket_id == ticket_id)
        ).scalar_one()
    assert sms.status == expected_status
    assert sms.last_error == expected_error
    assert sms.to_number == PSEUDONYMISED_PHONE
    assert receipt.cancelled_sms == (1 if expected_error else 0)


def test_cancelled_sms_not_claimed(session_factory):
    from bot.outbox import _OutboxStore

    make_ticket(session_factory, CONVERSATION, "h1")
    eraser(session_factory).request_deletion(CONVERSATION)

    claims = _OutboxStore(session_factory).claim(
        limit=10, now=utcnow(), lease=timedelta(minutes=5)
    )
    assert claims == []


def test_request_without_tickets(session_factory):
    receipt = eraser(session_factory).request_deletion(CONVERSATION)

    with session_factory() as session:
        request = session.get(ConversationDeletion, receipt.request_id)
    assert receipt.cancelled_references == ()
    assert receipt.kept_references == ()
    assert request.conversation_id == CONVERSATION
    assert request.events_deleted_at is None


def test_request_needs_conversation_id(session_factory):
    with pytest.raises(ValueError, match="conversation_id"):
        eraser(session_factory).request_deletion("")


# ------------------------------------------------ erase_pending: Rasa events


async def test_erase_deletes_old_session(store, session_factory):
    await save_turn(store, CONVERSATION, handoff_turns())
    await save_turn(store, OTHER_CONVERSATION, handoff_turns())
    assert leaked(event_rows(session_factory, CONVERSATION)) == list(DETAILS)
    worker = eraser(session_factory)
    worker.request_deletion(CONVERSATION)
    await deletion_turn(store, CONVERSATION)

    assert worker.erase_pending() == (1, 0)

    rows = event_rows(session_factory, CONVERSATION)
    assert leaked(rows) == []
    assert [json.loads(row)["event"] for row in rows][:1] == ["session_started"]
    assert leaked(event_rows(session_factory, OTHER_CONVERSATION)) == list(DETAILS)


async def test_erase_sticks_after_rasa_save(store, session_factory):
    """A turn that loaded the tracker before the erasure saves without the details."""
    await save_turn(store, CONVERSATION, handoff_turns())
    worker = eraser(session_factory)
    worker.request_deletion(CONVERSATION)
    await deletion_turn(store, CONVERSATION)
    in_flight = await load(store, CONVERSATION)

    worker.erase_pending()
    in_flight.update(user("hello", "greet"), DOMAIN)
    in_flight.update(ActionExecuted("utter_greet"), DOMAIN)
    await store.save(in_flight)

    assert leaked(event_rows(session_factory, CONVERSATION)) == []
    fresh = await store.retrieve(CONVERSATION)
    assert fresh.get_slot("handoff_name") is None
    assert fresh.get_slot("language") == "en"
    assert [e.text for e in fresh.events if isinstance(e, UserUttered)] == ["hello"]


async def test_naive_delete_is_written_back(store, session_factory):
    """Why the erasure waits for the new session: Rasa rewrites a deleted session."""
    await save_turn(store, CONVERSATION, handoff_turns())
    in_flight = await load(store, CONVERSATION)

    with session_factory.begin() as session:
        session.execute(
            RASA_EVENTS.delete().where(RASA_EVENTS.c.sender_id == CONVERSATION)
        )
    in_flight.update(user("hello", "greet"), DOMAIN)
    await store.save(in_flight)

    assert leaked(event_rows(session_factory, CONVERSATION)) == list(DETAILS)


async def test_erase_waits_for_saved_turn(store, session_factory):
    await save_turn(store, CONVERSATION, handoff_turns())
    worker = eraser(session_factory)
    worker.request_deletion(CONVERSATION)

    assert worker.erase_pending() == (0, 1)
    assert leaked(event_rows(session_factory, CONVERSATION)) == list(DETAILS)

    await deletion_turn(store, CONVERSATION)
    assert worker.erase_pending() == (1, 0)
    assert leaked(event_rows(session_factory, CONVERSATION)) == []
    assert worker.pending_count() == 0


async def test_erase_waits_settle_time(store, session_factory):
    await save_turn(store, CONVERSATION, handoff_turns())
    worker = eraser(session_factory, settle_seconds=3600)
    worker.request_deletion(CONVERSATION)
    await deletion_turn(store, CONVERSATION)

    assert worker.erase_pending() == (0, 1)
    assert leaked(event_rows(session_factory, CONVERSATION)) == list(DETAILS)


async def test_erase_deletes_conversation_state(store, session_factory):
    await save_turn(store, CONVERSATION, handoff_turns())
    with session_factory.begin() as session:
        session.add(ConversationState(conversation_id=CONVERSATION, phone=PHONE))
        session.add(ConversationState(conversation_id=OTHER_CONVERSATION, phone=PHONE))
    worker = eraser(session_factory)
    worker.request_deletion(CONVERSATION)
    await deletion_turn(store, CONVERSATION)

    worker.erase_pending()

    with session_factory() as session:
        assert session.get(ConversationState, CONVERSATION) is None
        assert session.get(ConversationState, OTHER_CONVERSATION) is not None


async def test_erase_unsaved_turn_after_idle(store, session_factory):
    """If the action's events were lost, everything goes once the chat is quiet."""
    start = time.time() - 600
    await save_turn(store, CONVERSATION, handoff_turns(start))
    requested = datetime.fromtimestamp(start + 1, timezone.utc)
    worker = eraser(session_factory, idle_seconds=60, clock=lambda: requested)
    worker.request_deletion(CONVERSATION)

    assert worker.erase_pending() == (0, 1)

    later = eraser(session_factory, idle_seconds=60)
    assert later.erase_pending() == (1, 0)
    assert event_rows(session_factory, CONVERSATION) == []


async def test_run_until_idle_finishes(store, session_factory):
    await save_turn(store, CONVERSATION, handoff_turns())
    worker = eraser(session_factory)
    worker.request_deletion(CONVERSATION)

    async def answer_later() -> None:
        await asyncio.sleep(0.3)
        await deletion_turn(store, CONVERSATION)

    waiting, _ = await asyncio.gather(
        worker.run_until_idle(poll_seconds=0.05, max_seconds=10), answer_later()
    )

    assert waiting == 0
    assert leaked(event_rows(session_factory, CONVERSATION)) == []


async def test_run_until_idle_gives_up(session_factory):
    worker = eraser(session_factory, idle_seconds=3600)
    worker.request_deletion(CONVERSATION)

    waiting = await worker.run_until_idle(poll_seconds=0.05, max_seconds=0.2)

    assert waiting == 1


async def test_run_forever_stops(store, session_factory):
    await save_turn(store, CONVERSATION, handoff_turns())
    worker = eraser(session_factory)
    worker.request_deletion(CONVERSATION)
    await deletion_turn(store, CONVERSATION)

    task = asyncio.create_task(worker.run_forever(poll_seconds=0.05))
    for _ in range(100):
        if worker.pending_count() == 0:
            break
        await asyncio.sleep(0.05)
    worker.stop()
    await asyncio.wait_for(task, timeout=5)

    assert worker.pending_count() == 0


def test_erase_without_events_table(session_factory):
    worker = eraser(session_factory, idle_seconds=0)
    worker.request_deletion(CONVERSATION)

    assert worker.erase_pending() == (1, 0)


# ----------------------------------------------------------------- purge

DAY = 86_400.0


async def saved_history(store, session_factory, now: datetime) -> None:
    """Three conversations: stale, long-running with an old session, recent."""
    now_ts = now.timestamp()
    await save_turn(store, "stale", handoff_turns(now_ts - 400 * DAY))
    await save_turn(store, "long-running", handoff_turns(now_ts - 500 * DAY))
    await save_turn(store, "long-running", handoff_turns(now_ts - 2 * DAY))
    await save_turn(store, "recent", handoff_turns(now_ts - 3 * DAY))
    old = now - timedelta(days=400)
    with session_factory.begin() as session:
        session.add_all(
            [
                ConversationState(
                    conversation_id=conversation_id, created_at=old, updated_at=old
                )
                for conversation_id in ("stale", "orphan", "long-running")
            ]
            + [ConversationState(conversation_id="recent")]
        )


def sender_counts(session_factory) -> dict[str, int]:
    with session_factory() as session:
        rows = session.execute(select(RASA_EVENTS.c.sender_id)).scalars().all()
    return {sender: rows.count(sender) for sender in sorted(set(rows))}


def state_ids(session_factory) -> set[str]:
    with session_factory() as session:
        return set(session.execute(select(ConversationState.conversation_id)).scalars())


async def test_purge_removes_old_data(store, session_factory):
    now = utcnow()
    await saved_history(store, session_factory, now)
    per_session = len(handoff_turns())

    report = purge_conversations(session_factory, 365, now=now)

    assert sender_counts(session_factory) == {
        "long-running": per_session,
        "recent": per_session,
    }
    assert state_ids(session_factory) == {"recent", "long-running"}
    assert report.conversations == 1
    assert report.conversation_events == per_session
    assert report.old_session_events == per_session
    assert report.conversation_states == 2


async def test_purge_keeps_latest_session_loadable(store, session_factory):
    now = utcnow()
    await saved_history(store, session_factory, now)
    in_flight = await load(store, "long-running")

    purge_conversations(session_factory, 365, now=now)
    in_flight.update(user("hello", "greet"), DOMAIN)
    await store.save(in_flight)

    counts = sender_counts(session_factory)
    assert counts["long-running"] == len(handoff_turns()) + 1


async def test_purge_dry_run_counts_only(store, session_factory):
    now = utcnow()
    await saved_history(store, session_factory, now)
    before = sender_counts(session_factory)

    dry = purge_conversations(session_factory, 365, now=now, dry_run=True)
    assert sender_counts(session_factory) == before
    assert len(state_ids(session_factory)) == 4

    real = purge_conversations(session_factory, 365, now=now)
    assert (
        dry.conversations,
        dry.conversation_events,
        dry.old_session_events,
        dry.conversation_states,
    ) == (
        real.conversations,
        real.conversation_events,
        real.old_session_events,
        real.conversation_states,
    )


@pytest.mark.parametrize(
    ("days", "expected_senders"),
    [
        (1, set()),
        (4, {"long-running", "recent"}),
        (450, {"stale", "long-running", "recent"}),
        (600, {"stale", "long-running", "recent"}),
    ],
)
async def test_purge_by_days(store, session_factory, days, expected_senders):
    now = utcnow()
    await saved_history(store, session_factory, now)

    purge_conversations(session_factory, days, now=now)

    assert set(sender_counts(session_factory)) == expected_senders


async def test_purge_finishes_and_drops_requests(store, session_factory):
    now = utcnow()
    await save_turn(store, CONVERSATION, handoff_turns())
    worker = eraser(session_factory)
    worker.request_deletion(CONVERSATION)
    await deletion_turn(store, CONVERSATION)
    old = now - timedelta(days=400)
    with session_factory.begin() as session:
        session.add(
            ConversationDeletion(
                conversation_id="gone", requested_at=old, events_deleted_at=old
            )
        )

    report = purge_conversations(session_factory, 365, now=now + timedelta(seconds=5))

    assert report.deletions_completed == 1
    assert report.deletions_waiting == 0
    assert report.deletion_requests == 1
    assert leaked(event_rows(session_factory, CONVERSATION)) == []


def test_purge_without_events_table(session_factory):
    old = utcnow() - timedelta(days=400)
    with session_factory.begin() as session:
        session.add(
            ConversationState(conversation_id="idle", created_at=old, updated_at=old)
        )

    report = purge_conversations(session_factory, 365)

    assert report.conversation_states == 1
    assert report.conversations == 0


def test_purge_rejects_zero_days(session_factory):
    with pytest.raises(ValueError, match="days=0"):
        purge_conversations(session_factory, 0)


async def test_purge_command_prints_counts(
    store, session_factory, monkeypatch, capsys
):
    now = utcnow()
    await saved_history(store, session_factory, now)
    monkeypatch.setattr("bot.db.get_session_factory", lambda: session_factory)

    status = privacy.main(["purge", "--days", "365", "--dry-run"])

    output = capsys.readouterr().out
    assert status == 0
    assert "conversations would be removed: 1" in output
    assert "Dry run: nothing was deleted." in output
    for secret in (*DETAILS, "stale", "long-running", "orphan", CONVERSATION):
        assert secret not in output
    assert len(sender_counts(session_factory)) == 3


@pytest.mark.parametrize("days", ["0", "-3"])
def test_purge_command_rejects_days(days, capsys):
    assert privacy.main(["purge", "--days", days]) == 2
    assert "invalid" in capsys.readouterr().err


def test_purge_command_reports_database_error(tmp_path, monkeypatch, capsys):
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    monkeypatch.setattr(
        "bot.db.get_session_factory", lambda: make_session_factory(engine)
    )

    status = privacy.main(["purge", "--days", "30"])

    assert status == 1
    assert "purge failed" in capsys.readouterr().err
    engine.dispose()


# ------------------------------------------------------------------ action


def sdk_tracker(language: str = "en") -> Tracker:
    slots = {**contact_slots(language), "language": language, "handoff_name": NAME}
    return Tracker(
        CONVERSATION,
        slots,
        {"text": "yes", "intent": {"name": "affirm", "confidence": 1.0}},
        [],
        False,
        None,
        {},
        "utter_delete_confirm",
    )


@pytest.fixture
async def action_eraser(session_factory, monkeypatch):
    """The action's eraser on the test database; its background task is awaited."""
    worker = eraser(session_factory, idle_seconds=0)
    monkeypatch.setattr(actions.privacy, "_eraser", lambda: worker)
    monkeypatch.setattr(actions.privacy, "_erasure_task", None)
    yield worker
    task = actions.privacy._erasure_task
    if task is not None:
        worker.stop()
        await asyncio.wait_for(task, timeout=10)


@pytest.mark.parametrize("language", ["en", "es"])
async def test_action_replies_and_new_session(session_factory, action_eraser, language):
    kept_id = make_ticket(session_factory, CONVERSATION, "h1", status="in_progress")
    new_id = make_ticket(session_factory, CONVERSATION, "h2")
    with session_factory() as session:
        kept = session.get(Ticket, kept_id).reference
        new = session.get(Ticket, new_id).reference
    dispatcher = CollectingDispatcher()

    events = await ActionDeleteConversation().run(
        dispatcher, sdk_tracker(language), DOMAIN.as_dict()
    )

    assert [m["response"] for m in dispatcher.messages] == [
        "utter_delete_done",
        "utter_delete_done_cancelled",
        "utter_delete_done_kept",
    ]
    assert dispatcher.messages[1]["cancelled_references"] == new
    assert dispatcher.messages[2]["kept_references"] == kept
    assert events[0]["event"] == "session_started"
    slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    assert slots["language"] == language
    assert slots["phone_member_services"] == contact_slots(language)[
        "phone_member_services"
    ]
    assert "handoff_name" not in slots
    assert action_eraser.pending_count() == 1


async def test_action_without_tickets(session_factory, action_eraser):
    dispatcher = CollectingDispatcher()

    await ActionDeleteConversation().run(dispatcher, sdk_tracker(), DOMAIN.as_dict())

    assert [m["response"] for m in dispatcher.messages] == ["utter_delete_done"]


async def test_action_starts_erasure(session_factory, action_eraser):
    await ActionDeleteConversation().run(
        CollectingDispatcher(), sdk_tracker(), DOMAIN.as_dict()
    )

    task = actions.privacy._erasure_task
    assert task is not None
    assert await asyncio.wait_for(task, timeout=10) == 0
    assert action_eraser.pending_count() == 0


async def test_action_database_failure(tmp_path, monkeypatch):
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    broken = ConversationEraser(make_session_factory(engine))
    monkeypatch.setattr(actions.privacy, "_eraser", lambda: broken)
    monkeypatch.setattr(actions.privacy, "_erasure_task", None)
    dispatcher = CollectingDispatcher()

    events = await ActionDeleteConversation().run(
        dispatcher, sdk_tracker(), DOMAIN.as_dict()
    )

    assert [m["response"] for m in dispatcher.messages] == ["utter_delete_failed"]
    assert events == []
    assert actions.privacy._erasure_task is None
    engine.dispose()


def test_domain_has_delete_responses():
    responses = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text())["responses"]
    spanish = [{"type": "slot", "name": "language", "value": "es"}]
    for name in (
        "utter_delete_confirm",
        "utter_delete_done",
        "utter_delete_done_cancelled",
        "utter_delete_done_kept",
        "utter_delete_cancelled",
        "utter_delete_failed",
    ):
        conditions = [variation.get("condition") for variation in responses[name]]
        assert None in conditions, f"{name} has no English text"
        assert spanish in conditions, f"{name} has no Spanish text"
    assert "{kept_references}" in responses["utter_delete_done_kept"][0]["text"]
    assert "{phone_member_services}" in responses["utter_delete_done_kept"][0]["text"]
    assert (
        "{cancelled_references}"
        in responses["utter_delete_done_cancelled"][0]["text"]
    )


# ------------------------------------------------------ the real assistant

KEPT_DETAILS = {
    "handoff_name": "Ottoline Vashchenko",
    "handoff_phone": "650 555 0143",
    "handoff_member_id": "OV55120384",
    "handoff_language": "English",
    "handoff_call_time": "tuesday mornings",
    "handoff_consent": "yes",
    "handoff_confirm": "yes",
}
DELETED_DETAILS = {
    "handoff_name": NAME,
    "handoff_phone": "650 555 0187",
    "handoff_member_id": MEMBER_ID,
    "handoff_language": "English",
    "handoff_call_time": "friday afternoons",
    "handoff_consent": "yes",
    "handoff_confirm": "yes",
}
# Strings from both hand-offs that must leave Rasa's events.
CONVERSATION_DETAILS = (
    "Ottoline",
    "Vashchenko",
    "5550143",
    "OV55120384",
    "tuesday mornings",
    "Zebulon",
    "Quarrington",
    "5550187",
    MEMBER_ID,
    "friday afternoons",
)


@pytest.fixture(
    scope="module",
    params=[
        "embedded",
        pytest.param("postgres_redis", marks=[pytest.mark.postgres, pytest.mark.redis]),
    ],
)
def assistant(request, tmp_path_factory):
    """The assistant on SQLite, then on PostgreSQL and Redis; SMS is not sent."""
    env = {"TWILIO_ACCOUNT_SID": "", "TWILIO_AUTH_TOKEN": "", "TWILIO_FROM_NUMBER": ""}
    database = None
    if request.param == "postgres_redis":
        require_redis()
        database = create_postgres_database()
        env["DATABASE_URL"] = database.url
        env["REDIS_URL"] = f"redis://127.0.0.1:6379/{REDIS_TEST_DB}"
    running = start_assistant(tmp_path_factory.mktemp("privacy"), env)
    yield running
    code = stop_assistant(running)
    if database is not None:
        database.drop()
    assert code == 0, running.log_text()[-3000:]


def _hand_off(assistant, session: str, answers: dict) -> str:
    """Ask for a call, answer the hand-off form, and return the reference code."""
    conversation_id = session.split(".")[0]
    replies = assistant.rest(session, "can someone call me")
    asked = []
    for _ in range(20):
        tracker = assistant.tracker(conversation_id)
        if (tracker.get("active_loop") or {}).get("name") != "handoff_form":
            break
        slot = tracker["slots"]["requested_slot"]
        asked.append(slot)
        replies = assistant.rest(session, answers[slot])
    else:
        raise AssertionError(f"hand-off form did not finish; asked {asked}")
    references = REFERENCE_PATTERN.findall(_texts(replies))
    assert len(references) == 1, replies
    return references[0]


def _texts(replies: list[dict]) -> str:
    return " ".join(reply.get("text", "") for reply in replies)


@pytest.mark.slow
def test_member_deletes_conversation(assistant):
    engine = create_engine(assistant.env["DATABASE_URL"], future=True)
    session_id = assistant.new_rest_session()
    conversation_id = session_id.split(".")[0]

    def rows() -> list[str]:
        with Session(engine) as db:
            return list(
                db.execute(
                    select(RASA_EVENTS.c.data).where(
                        RASA_EVENTS.c.sender_id == conversation_id
                    )
                ).scalars()
            )

    def found(details=CONVERSATION_DETAILS) -> list[str]:
        current = rows()
        return [detail for detail in details if any(detail in row for row in current)]

    try:
        assistant.rest(session_id, "hi")
        kept = _hand_off(assistant, session_id, KEPT_DETAILS)
        with Session(engine) as db, db.begin():
            db.execute(
                update(Ticket)
                .where(Ticket.reference == kept)
                .values(status="in_progress")
            )
        cancelled = _hand_off(assistant, session_id, DELETED_DETAILS)
        assert found() == list(CONVERSATION_DETAILS)

        confirm = assistant.rest(session_id, "delete my conversation")
        buttons = [b for reply in confirm for b in reply.get("buttons") or []]
        yes = next(b for b in buttons if b["title"].lower().startswith("yes"))
        done = _texts(
            assistant.post_json(
                "/webhooks/rest/webhook", {"sender": session_id, "choice": yes["id"]}
            )[1]
        )
        assert cancelled in done
        assert kept in done
        assert contact_slots()["phone_member_services"] in done

        deadline = time.monotonic() + 30
        while found() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert found() == []

        with Session(engine) as db:
            assert db.get(ConversationState, conversation_id) is None
            request = db.execute(select(ConversationDeletion)).scalars().all()
            gone = db.execute(
                select(Ticket).where(Ticket.reference == cancelled)
            ).scalar_one()
            stays = db.execute(
                select(Ticket).where(Ticket.reference == kept)
            ).scalar_one()
            sms = db.execute(
                select(OutboxMessage).where(OutboxMessage.ticket_id == gone.id)
            ).scalar_one()
        assert [r.events_deleted_at is not None for r in request] == [True]
        assert gone.name is None
        assert gone.member_id is None
        assert gone.call_time is None
        assert gone.phone == PSEUDONYMISED_PHONE
        assert gone.pseudonymised_at is not None
        assert gone.status == "closed"
        assert gone.close_reason == WITHDRAWN_CLOSE_REASON
        assert sms.to_number == PSEUDONYMISED_PHONE
        assert stays.status == "in_progress"
        assert stays.name == KEPT_DETAILS["handoff_name"]
        assert stays.phone == "+16505550143"
        assert stays.pseudonymised_at is None

        greeting = assistant.rest(session_id, "hello")
        assert greeting, "no reply after the deletion"
        tracker = assistant.tracker(conversation_id)
        member_texts = [e["text"] for e in tracker["events"] if e["event"] == "user"]
        assert member_texts == ["hello"]
        assert tracker["slots"]["handoff_name"] is None
        assert tracker["slots"]["ticket_reference"] is None
        assert tracker["slots"]["language"] == "en"

        # Rasa saved another turn since the erasure; nothing came back.
        time.sleep(3)
        assert found() == []
        assert cancelled not in " ".join(rows())
    finally:
        engine.dispose()
