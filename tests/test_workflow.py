"""Ticket workflow: transitions, close reasons, versions, assignment, notes, SMS."""

from __future__ import annotations

import threading
import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

import bot.tickets as tickets_module

from bot.business_days import due_at_for, load_calendar
from bot.contacts import load_contacts
from bot.models import (
    CLOSE_REASONS,
    TICKET_STATUSES,
    ApiToken,
    AuditEntry,
    OutboxMessage,
    StaffUser,
    TicketNote,
    TicketService,
    TicketStatusChange,
    WebhookDelivery,
    utcnow,
)
from bot.models import Ticket as TicketRow
from bot.opt_outs import OPTED_OUT_ERROR, record_opt_out
from bot.outbox import OutboxSender
from bot.privacy import ConversationEraser
from bot.sms import render_sms
from bot.tickets import TicketRepository
from bot.workspace.audit import Actor
from bot.workspace.tokens import create_token
from bot.workspace.workflow import (
    ALLOWED_TRANSITIONS,
    SMS_STATUSES,
    CloseReasonRequiredError,
    InvalidStatusDateError,
    InvalidTransitionError,
    StaleTicketError,
    TicketNotFoundError,
    WorkflowValueError,
    add_note,
    assign,
    change_status,
)
from tests.outbox_support import FakeClock, make_settings
from tests.test_sms_templates import health_terms_in
from tests.test_tickets import make_handoff

# Wednesday 2 December 2026, 10:00 in Los Angeles.
NOW = datetime(2026, 12, 2, 18, 0, tzinfo=timezone.utc)
SYSTEM = Actor(name="system", role="system")

# A path through the workflow that reaches each status, from `new`.
PATH_TO = {
    "new": [],
    "contact_attempted": ["contact_attempted"],
    "contacted": ["contacted"],
    "referred_to_provider": ["contacted", "referred_to_provider"],
    "authorized": ["contacted", "referred_to_provider", "authorized"],
    "not_authorized": ["contacted", "referred_to_provider", "not_authorized"],
    "services_started": [
        "contacted",
        "referred_to_provider",
        "authorized",
        "services_started",
    ],
    "closed": ["closed"],
}


# Tickets are created well before NOW, so that status dates before NOW are
# not before the ticket's creation.
CREATED_AT = datetime(2026, 11, 20, 18, 0, tzinfo=timezone.utc)


def make_ticket(session_factory, created_at=CREATED_AT, **changes) -> str:
    """Create a ticket through the repository; return its reference code."""
    changes.setdefault("handoff_id", uuid.uuid4().hex)
    ticket, _ = TicketRepository(session_factory).create_from_handoff(
        make_handoff(**changes)
    )
    with session_factory() as session, session.begin():
        session.execute(
            update(TicketRow)
            .where(TicketRow.reference == ticket.reference)
            .values(created_at=created_at)
        )
    return ticket.reference


def make_staff(
    session_factory, username="ana", role="coordinator", active=True
) -> Actor:
    """Add a staff user; return an actor for them."""
    with session_factory() as session, session.begin():
        user = StaffUser(
            username=username,
            display_name=username.title() + " Coordinator",
            role=role,
            password_hash="not-a-real-hash",
            active=active,
            failed_logins=0,
            session_epoch=0,
        )
        session.add(user)
        session.flush()
        return Actor(name=username, role=role, user_id=user.id)


def load(session_factory, reference: str) -> TicketRow:
    with session_factory() as session:
        return session.execute(
            select(TicketRow).where(TicketRow.reference == reference)
        ).scalar_one()


def move(session_factory, reference, to_status, actor=SYSTEM, **options) -> TicketRow:
    """Change the status in its own transaction, at the version stored now."""
    version = load(session_factory, reference).version
    if to_status == "closed":
        options.setdefault("close_reason", "declined")
    options.setdefault("now", NOW)
    with session_factory() as session, session.begin():
        return change_status(
            session,
            reference,
            to_status=to_status,
            expected_version=version,
            actor=actor,
            **options,
        )


def walk_to(session_factory, reference, status) -> None:
    for step in PATH_TO[status]:
        move(session_factory, reference, step)


def status_sms(session_factory, reference) -> list[OutboxMessage]:
    ticket_id = load(session_factory, reference).id
    with session_factory() as session:
        return list(
            session.execute(
                select(OutboxMessage)
                .where(
                    OutboxMessage.ticket_id == ticket_id,
                    OutboxMessage.kind.like("status_%"),
                )
                .order_by(OutboxMessage.id)
            ).scalars()
        )


# Transitions

ALLOWED = [
    (source, target)
    for source, targets in ALLOWED_TRANSITIONS.items()
    for target in targets
]
REFUSED = [
    ("new", "authorized"),
    ("new", "services_started"),
    ("new", "new"),
    ("contacted", "contacted"),
    ("contacted", "authorized"),
    ("referred_to_provider", "services_started"),
    ("authorized", "not_authorized"),
    ("not_authorized", "services_started"),
    ("services_started", "authorized"),
    ("closed", "contacted"),
    ("closed", "closed"),
]


def test_transition_table_covers_every_status():
    assert set(ALLOWED_TRANSITIONS) == set(TICKET_STATUSES)
    for targets in ALLOWED_TRANSITIONS.values():
        assert set(targets) <= set(TICKET_STATUSES)


@pytest.mark.parametrize("source, target", ALLOWED)
def test_allowed_transition(session_factory, source, target):
    reference = make_ticket(session_factory)
    walk_to(session_factory, reference, source)
    before = load(session_factory, reference)

    after = move(session_factory, reference, target, status_date=date(2026, 12, 1))

    assert after.status == target
    assert after.version == before.version + 1
    assert after.status_changed_at == NOW
    assert after.status_date == date(2026, 12, 1)
    assert after.due_at == due_at_for(target, NOW)
    assert after.close_reason == ("declined" if target == "closed" else None)


@pytest.mark.parametrize("source, target", REFUSED)
def test_refused_transition(session_factory, source, target):
    reference = make_ticket(session_factory)
    walk_to(session_factory, reference, source)
    before = load(session_factory, reference)

    with pytest.raises(InvalidTransitionError, match=target.replace("_", " ")):
        move(session_factory, reference, target)

    after = load(session_factory, reference)
    assert after.status == source
    assert after.version == before.version


def test_unknown_status_refused(session_factory):
    reference = make_ticket(session_factory)

    with pytest.raises(InvalidTransitionError, match="does not exist"):
        move(session_factory, reference, "finished")


# Close reasons


@pytest.mark.parametrize("reason", CLOSE_REASONS)
def test_close_with_each_reason(session_factory, reason):
    reference = make_ticket(session_factory)

    ticket = move(session_factory, reference, "closed", close_reason=reason)

    assert ticket.close_reason == reason
    assert ticket.due_at is None


@pytest.mark.parametrize("reason", [None, "", "bored"])
def test_close_without_valid_reason(session_factory, reason):
    reference = make_ticket(session_factory)

    with pytest.raises(CloseReasonRequiredError):
        move(session_factory, reference, "closed", close_reason=reason)

    assert load(session_factory, reference).status == "new"


def test_reason_refused_unless_closing(session_factory):
    reference = make_ticket(session_factory)

    with pytest.raises(CloseReasonRequiredError, match="only for closing"):
        move(session_factory, reference, "contacted", close_reason="declined")


def test_reopen_clears_reason_and_sets_due(session_factory):
    reference = make_ticket(session_factory)
    move(session_factory, reference, "closed", close_reason="unable_to_reach")

    ticket = move(session_factory, reference, "new")

    assert ticket.status == "new"
    assert ticket.close_reason is None
    assert ticket.due_at == due_at_for("new", NOW)


# History, audit and dates


def test_change_records_history_and_audit(session_factory):
    actor = make_staff(session_factory)
    reference = make_ticket(session_factory)

    move(session_factory, reference, "closed", actor=actor, close_reason="duplicate")

    ticket = load(session_factory, reference)
    with session_factory() as session:
        changes = (
            session.execute(
                select(TicketStatusChange)
                .where(TicketStatusChange.ticket_id == ticket.id)
                .order_by(TicketStatusChange.id)
            )
            .scalars()
            .all()
        )
        entries = (
            session.execute(
                select(AuditEntry).where(AuditEntry.action == "change_status")
            )
            .scalars()
            .all()
        )

    assert [(c.from_status, c.to_status) for c in changes] == [
        (None, "new"),
        ("new", "closed"),
    ]
    assert changes[1].user_id == actor.user_id
    assert changes[1].close_reason == "duplicate"
    assert changes[1].status_date == date(2026, 12, 2)
    assert len(entries) == 1
    assert entries[0].actor == "ana"
    assert entries[0].user_id == actor.user_id
    assert entries[0].ticket_reference == reference
    assert entries[0].detail == {
        "from": "new",
        "to": "closed",
        "close_reason": "duplicate",
    }


def test_api_token_recorded_as_actor(session_factory):
    with session_factory() as session, session.begin():
        token = ApiToken(name="care-system", token_hash="a" * 64, prefix="abcd")
        session.add(token)
        session.flush()
        actor = Actor(name="token:care-system", role="api", api_token_id=token.id)
    reference = make_ticket(session_factory)

    move(session_factory, reference, "contacted", actor=actor)

    with session_factory() as session:
        change = session.execute(
            select(TicketStatusChange).where(
                TicketStatusChange.to_status == "contacted"
            )
        ).scalar_one()
    assert change.api_token_id == actor.api_token_id
    assert change.user_id is None


def test_status_date_defaults_to_pacific_today(session_factory):
    reference = make_ticket(session_factory)
    # 04:00 UTC on 3 December is still 2 December in Los Angeles.
    late = datetime(2026, 12, 3, 4, 0, tzinfo=timezone.utc)

    ticket = move(session_factory, reference, "contacted", now=late)

    assert ticket.status_date == date(2026, 12, 2)


def test_future_status_date_refused(session_factory):
    reference = make_ticket(session_factory)

    with pytest.raises(ValueError, match="future"):
        move(session_factory, reference, "contacted", status_date=date(2026, 12, 3))


@pytest.mark.parametrize("day", [date(1900, 1, 1), date(2026, 11, 19)])
def test_status_date_before_creation_refused(session_factory, day):
    # CREATED_AT is 2026-11-20 10:00 in Los Angeles.
    reference = make_ticket(session_factory)

    with pytest.raises(InvalidStatusDateError, match="before the ticket was created"):
        move(session_factory, reference, "contacted", status_date=day)

    assert load(session_factory, reference).status == "new"


def test_status_date_on_creation_day_accepted(session_factory):
    reference = make_ticket(session_factory)

    ticket = move(session_factory, reference, "contacted", status_date=date(2026, 11, 20))

    assert ticket.status_date == date(2026, 11, 20)


def test_creation_day_uses_workspace_time_zone(session_factory):
    # 2026-11-21 05:00 UTC is still 2026-11-20 in Los Angeles.
    created = datetime(2026, 11, 21, 5, 0, tzinfo=timezone.utc)
    reference = make_ticket(session_factory, created_at=created)

    ticket = move(session_factory, reference, "contacted", status_date=date(2026, 11, 20))

    assert ticket.status_date == date(2026, 11, 20)


@pytest.mark.parametrize(
    "source, target, reason, expected",
    [
        ("new", "closed", None, "Choose a close reason to close the ticket"),
        ("new", "closed", "bored", "The close reason 'bored' does not exist"),
        ("new", "authorized", None, "cannot move to authorized"),
    ],
)
def test_workflow_messages_read_plainly(session_factory, source, target, reason, expected):
    reference = make_ticket(session_factory)
    version = load(session_factory, reference).version

    with session_factory() as session, session.begin():
        with pytest.raises(WorkflowValueError) as raised:
            change_status(
                session,
                reference,
                to_status=target,
                expected_version=version,
                actor=SYSTEM,
                close_reason=reason,
                now=NOW,
            )

    message = str(raised.value)
    assert expected in message
    assert "None" not in message
    assert "(" not in message.split(":")[0]
    assert "'declined'" not in message


def test_new_ticket_starts_workflow(session_factory):
    before = utcnow()
    reference = make_ticket(session_factory, services=["ecm", "housing_deposits"])

    ticket = load(session_factory, reference)

    assert ticket.status == "new"
    assert ticket.version == 1
    assert ticket.status_changed_at >= before
    assert ticket.status_date == load_calendar().local_date(ticket.status_changed_at)
    assert ticket.due_at == due_at_for("new", ticket.status_changed_at)


def test_unknown_reference(session_factory):
    with session_factory() as session, session.begin():
        with pytest.raises(TicketNotFoundError):
            change_status(
                session,
                "HP-7KQ4MX",
                to_status="contacted",
                expected_version=1,
                actor=SYSTEM,
            )
        with pytest.raises(TicketNotFoundError):
            add_note(session, "not a code", body="hello", actor=SYSTEM)


# Versions and races


def test_stale_version_refused(session_factory):
    reference = make_ticket(session_factory)
    move(session_factory, reference, "contacted")

    with session_factory() as session, session.begin():
        with pytest.raises(StaleTicketError) as caught:
            change_status(
                session,
                reference,
                to_status="closed",
                close_reason="other",
                expected_version=1,
                actor=SYSTEM,
                now=NOW,
            )

    assert caught.value.current_version == 2
    assert load(session_factory, reference).status == "contacted"


def test_interleaved_sessions_one_wins(session_factory):
    reference = make_ticket(session_factory)
    first = session_factory()
    second = session_factory()
    try:
        first.begin()
        second.begin()
        change_status(
            first, reference, to_status="contacted", expected_version=1, actor=SYSTEM
        )
        # The second session read version 1 before the first one committed.
        assert (
            second.execute(
                select(TicketRow.version).where(TicketRow.reference == reference)
            ).scalar_one()
            == 1
        )
        first.commit()

        with pytest.raises(StaleTicketError) as caught:
            change_status(
                second,
                reference,
                to_status="closed",
                close_reason="other",
                expected_version=1,
                actor=SYSTEM,
            )
        second.rollback()
    finally:
        first.close()
        second.close()

    assert caught.value.current_version == 2
    assert load(session_factory, reference).status == "contacted"


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_concurrent_threads_one_wins(session_factory):
    reference = make_ticket(session_factory)
    barrier = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def worker(target: str, reason: str | None) -> None:
        with session_factory() as session:
            try:
                with session.begin():
                    ticket = session.execute(
                        select(TicketRow).where(TicketRow.reference == reference)
                    ).scalar_one()
                    barrier.wait(timeout=10)
                    change_status(
                        session,
                        reference,
                        to_status=target,
                        close_reason=reason,
                        expected_version=ticket.version,
                        actor=SYSTEM,
                    )
                outcomes[target] = "won"
            except StaleTicketError as error:
                outcomes[target] = error

    threads = [
        threading.Thread(target=worker, args=("contacted", None)),
        threading.Thread(target=worker, args=("closed", "declined")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    winners = [target for target, outcome in outcomes.items() if outcome == "won"]
    losers = [o for o in outcomes.values() if isinstance(o, StaleTicketError)]
    assert len(winners) == 1
    assert len(losers) == 1
    assert losers[0].current_version == 2
    ticket = load(session_factory, reference)
    assert ticket.status == winners[0]
    assert ticket.version == 2
    with session_factory() as session:
        changes = (
            session.execute(
                select(TicketStatusChange).where(
                    TicketStatusChange.ticket_id == ticket.id
                )
            )
            .scalars()
            .all()
        )
    assert len(changes) == 2


# Assignment


def test_assign_and_unassign(session_factory):
    actor = make_staff(session_factory, "sam", "supervisor")
    coordinator = make_staff(session_factory, "ana")
    reference = make_ticket(session_factory)

    with session_factory() as session, session.begin():
        ticket = assign(
            session,
            reference,
            assignee_id=coordinator.user_id,
            expected_version=1,
            actor=actor,
            now=NOW,
        )
        assert ticket.assignee_id == coordinator.user_id
        assert ticket.version == 2
    with session_factory() as session, session.begin():
        ticket = assign(
            session, reference, assignee_id=None, expected_version=2, actor=actor
        )
        assert ticket.assignee_id is None

    with session_factory() as session:
        details = (
            session.execute(
                select(AuditEntry.detail)
                .where(AuditEntry.action == "assign")
                .order_by(AuditEntry.id)
            )
            .scalars()
            .all()
        )
    assert details == [
        {"from": None, "to": coordinator.user_id},
        {"from": coordinator.user_id, "to": None},
    ]


@pytest.mark.parametrize("assignee", ["inactive", "missing"])
def test_assign_rejects_unusable_user(session_factory, assignee):
    inactive = make_staff(session_factory, "old", active=False)
    user_id = inactive.user_id if assignee == "inactive" else 9999
    reference = make_ticket(session_factory)

    with session_factory() as session, session.begin():
        with pytest.raises(ValueError, match="not an active staff user"):
            assign(
                session,
                reference,
                assignee_id=user_id,
                expected_version=1,
                actor=SYSTEM,
            )

    assert load(session_factory, reference).assignee_id is None


def test_assign_stale_version(session_factory):
    coordinator = make_staff(session_factory)
    reference = make_ticket(session_factory)
    move(session_factory, reference, "contacted")

    with session_factory() as session, session.begin():
        with pytest.raises(StaleTicketError):
            assign(
                session,
                reference,
                assignee_id=coordinator.user_id,
                expected_version=1,
                actor=SYSTEM,
            )


# Notes


def test_add_note_strips_and_audits_without_text(session_factory):
    actor = make_staff(session_factory)
    reference = make_ticket(session_factory)

    with session_factory() as session, session.begin():
        note = add_note(
            session, reference, body="  Called, left voicemail.  ", actor=actor
        )
        note_id = note.id

    with session_factory() as session:
        stored = session.get(TicketNote, note_id)
        entry = session.execute(
            select(AuditEntry).where(AuditEntry.action == "add_note")
        ).scalar_one()
    assert stored.body == "Called, left voicemail."
    assert stored.user_id == actor.user_id
    assert entry.detail == {
        "note_id": note_id,
        "length": len("Called, left voicemail."),
    }
    assert "voicemail" not in str(entry.detail)
    assert load(session_factory, reference).version == 1


@pytest.mark.parametrize("body", ["", "   \n ", "x" * 5001])
def test_add_note_rejects_bad_length(session_factory, body):
    reference = make_ticket(session_factory)

    with session_factory() as session, session.begin():
        with pytest.raises(ValueError, match="1 to 5000"):
            add_note(session, reference, body=body, actor=SYSTEM)


def test_add_note_strips_control_and_bidi(session_factory):
    reference = make_ticket(session_factory)
    typed = (
        "Call\x00 back\x07 at 3\u202epm\u202c\r\n"
        "\tsecond line\u2066x\u2069\x85\x1b[31m"
    )

    with session_factory() as session, session.begin():
        add_note(session, reference, body=typed, actor=SYSTEM, now=NOW)

    with session_factory() as session:
        stored = session.execute(select(TicketNote.body)).scalar_one()
    assert stored == "Call back at 3pm\n\tsecond linex[31m"


def test_add_note_of_only_controls_refused(session_factory):
    reference = make_ticket(session_factory)

    with session_factory() as session, session.begin():
        with pytest.raises(ValueError, match="1 to 5000"):
            add_note(session, reference, body="\x00\u202e\x1b", actor=SYSTEM)


def test_add_note_records_api_token(session_factory):
    reference = make_ticket(session_factory)
    with session_factory() as session, session.begin():
        token, _ = create_token(session, "case-management")
        token_id = token.id
    actor = Actor(name="token:case-management", role="api", api_token_id=token_id)

    with session_factory() as session, session.begin():
        add_note(session, reference, body="Called the member", actor=actor, now=NOW)

    with session_factory() as session:
        note = session.execute(select(TicketNote)).scalar_one()
    assert note.api_token_id == token_id
    assert note.user_id is None


def test_add_note_accepts_maximum(session_factory):
    reference = make_ticket(session_factory)

    with session_factory() as session, session.begin():
        note = add_note(session, reference, body="x" * 5000, actor=SYSTEM)

    assert len(note.body) == 5000


# Status SMS

SMS_CASES = [(status, language) for status in SMS_STATUSES for language in ("en", "es")]


@pytest.mark.parametrize("status, language", SMS_CASES)
def test_status_sms_in_member_language(session_factory, status, language):
    reference = make_ticket(session_factory, preferred_language=language)
    walk_to(session_factory, reference, status)

    messages = status_sms(session_factory, reference)

    assert messages[-1].kind == f"status_{status}"
    assert messages[-1].language == language
    assert messages[-1].to_number == load(session_factory, reference).phone
    assert messages[-1].body == render_sms(
        f"status_{status}", language, reference=reference
    )
    assert reference in messages[-1].body
    assert health_terms_in(messages[-1].body) == []


@pytest.mark.parametrize("status", ["contacted", "new"])
def test_no_sms_for_quiet_statuses(session_factory, status):
    reference = make_ticket(session_factory)
    if status == "new":
        move(session_factory, reference, "closed", close_reason="declined")
    before = len(status_sms(session_factory, reference))

    move(session_factory, reference, status)

    assert len(status_sms(session_factory, reference)) == before


def test_no_closing_sms_for_duplicate(session_factory):
    reference = make_ticket(session_factory)

    move(session_factory, reference, "closed", close_reason="duplicate")

    assert status_sms(session_factory, reference) == []


def test_repeated_attempts_text_once_a_day(session_factory):
    reference = make_ticket(session_factory)

    move(session_factory, reference, "contact_attempted", now=NOW)
    move(session_factory, reference, "contact_attempted", now=NOW + timedelta(hours=2))
    move(session_factory, reference, "contact_attempted", now=NOW + timedelta(days=1))

    assert len(status_sms(session_factory, reference)) == 2


def test_not_authorized_sms_content():
    contacts = load_contacts()
    for language, word in (("en", "appeal"), ("es", "apelar")):
        body = render_sms("status_not_authorized", language, reference="HP-7KQ4MX")
        assert word in body
        assert contacts["member_services"] in body
        assert contacts["tty"] in body


def test_no_sms_for_pseudonymised_ticket(session_factory):
    reference = make_ticket(session_factory, conversation_id="conv-gone")
    receipt = ConversationEraser(session_factory).request_deletion("conv-gone")
    assert receipt.cancelled_references == (reference,)
    # The deletion closed it without the closing text.
    assert load(session_factory, reference).status == "closed"
    assert status_sms(session_factory, reference) == []

    move(session_factory, reference, "new")
    move(session_factory, reference, "contact_attempted")

    assert load(session_factory, reference).status == "contact_attempted"
    assert status_sms(session_factory, reference) == []


async def test_opted_out_number_gets_no_status_sms(
    session_factory, tmp_path, twilio_fake
):
    reference = make_ticket(session_factory)
    phone = load(session_factory, reference).phone
    with session_factory() as session, session.begin():
        record_opt_out(session, phone, source="keyword", language="en")
    move(session_factory, reference, "contact_attempted")
    sender = OutboxSender(
        session_factory,
        make_settings(tmp_path, twilio_fake),
        request_timeout=0.5,
        clock=FakeClock(),
    )

    await sender.send_due()

    [message] = status_sms(session_factory, reference)
    assert message.status == "failed"
    assert message.last_error == OPTED_OUT_ERROR
    assert twilio_fake.messages == []


# Creation hook


def test_creation_stores_services_and_history(session_factory):
    reference = make_ticket(
        session_factory, services=["ecm", "housing_deposits", "ecm"]
    )
    ticket = load(session_factory, reference)

    with session_factory() as session:
        services = (
            session.execute(
                select(TicketService.service)
                .where(TicketService.ticket_id == ticket.id)
                .order_by(TicketService.service)
            )
            .scalars()
            .all()
        )
        [change] = (
            session.execute(
                select(TicketStatusChange).where(
                    TicketStatusChange.ticket_id == ticket.id
                )
            )
            .scalars()
            .all()
        )

    assert services == ["ecm", "housing_deposits"]
    assert change.from_status is None
    assert change.to_status == "new"
    assert change.status_date == ticket.status_date
    assert change.user_id is None


@pytest.mark.parametrize("webhook_url", [None, "https://cm.example.org/hook"])
def test_creation_queues_webhook_when_configured(
    session_factory, monkeypatch, tmp_path, webhook_url
):
    overrides = {"WEBHOOK_URL": webhook_url} if webhook_url else {}
    settings = make_settings(tmp_path, **overrides)
    monkeypatch.setattr(tickets_module, "get_settings", lambda: settings)

    reference = make_ticket(session_factory)

    ticket = load(session_factory, reference)
    with session_factory() as session:
        deliveries = (
            session.execute(
                select(WebhookDelivery).where(WebhookDelivery.ticket_id == ticket.id)
            )
            .scalars()
            .all()
        )
    assert len(deliveries) == (1 if webhook_url else 0)
