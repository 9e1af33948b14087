"""Ticket workflow: status changes, assignment and notes, each audited.

The statuses follow the closed-loop referral tracking that Medi-Cal managed
care plans keep for Enhanced Care Management and Community Supports
referrals. A referral is tracked from receipt, through contact with the
member and the referral to a provider, to the provider's authorization
decision and the start of services, and is closed with a reason. The
allowed moves are:

==================== ==================================================
from                 to
==================== ==================================================
new                  contact_attempted, contacted, closed
contact_attempted    contact_attempted (another attempt), contacted,
                     closed
contacted            referred_to_provider, closed
referred_to_provider authorized, not_authorized, closed
authorized           services_started, closed
not_authorized       referred_to_provider (a re-referral), closed
services_started     closed
closed               new (reopen)
==================== ==================================================

Closing needs a reason from `bot.models.CLOSE_REASONS`, and no other status
takes one. Only supervisors and admins may reopen a ticket: the web layer
checks the role and the API rejects reopening for every token, but this
module does not check it.

Every change names the ticket version it read. The UPDATE repeats that
version in its WHERE clause, so when two people save at once exactly one
change wins and the other gets `StaleTicketError`.

Rejected values raise a `WorkflowValueError` subclass whose message is a
plain sentence for the coordinator and whose `field` names the form or API
field at fault.

Functions work in the caller's session and transaction and commit nothing.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.business_days import BusinessCalendar, due_at_for, load_calendar
from bot.models import (
    CLOSE_REASONS,
    TICKET_STATUSES,
    OutboxMessage,
    StaffUser,
    Ticket,
    TicketNote,
    TicketStatusChange,
    utcnow,
)
from bot.outbox import enqueue_sms
from bot.reference import normalize_reference
from bot.sms import render_sms, sms_language
from bot.workspace import audit
from bot.workspace.audit import Actor
from bot.workspace.text import clean_text

logger = logging.getLogger(__name__)

CLOSED = "closed"
ALLOWED_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "new": ("contact_attempted", "contacted", CLOSED),
    "contact_attempted": ("contact_attempted", "contacted", CLOSED),
    "contacted": ("referred_to_provider", CLOSED),
    "referred_to_provider": ("authorized", "not_authorized", CLOSED),
    "authorized": ("services_started", CLOSED),
    "not_authorized": ("referred_to_provider", CLOSED),
    "services_started": (CLOSED,),
    CLOSED: ("new",),
}
# Statuses that text the member; the SMS kind is `status_<status>`.
SMS_STATUSES = (
    "contact_attempted",
    "referred_to_provider",
    "authorized",
    "not_authorized",
    "services_started",
    CLOSED,
)
# A duplicate ticket is closed in favour of another open one, so a closing
# text would tell the member that their request ended when it did not.
SILENT_CLOSE_REASONS = ("duplicate",)
# One text of a kind per ticket in this window, so that several call
# attempts on one day send a single "we tried to call you".
SMS_REPEAT_WINDOW = timedelta(hours=20)
NOTE_MAX_LENGTH = 5000


class TicketNotFoundError(LookupError):
    """No ticket has the given reference code."""


class StaleTicketError(RuntimeError):
    """The ticket changed since the caller read it.

    Attributes:
        current_version: The ticket's version now; reload and try again.
    """

    def __init__(self, reference: str, expected_version: int, current_version: int):
        super().__init__(
            f"Ticket {reference} is at version {current_version}, not "
            f"{expected_version}: someone else changed it; reload it and try again"
        )
        self.reference = reference
        self.expected_version = expected_version
        self.current_version = current_version


class WorkflowValueError(ValueError):
    """A value that the workflow rejects, with the form or API field at fault.

    Attributes:
        field: The field to name, such as `status` or `status_date`.
    """

    field = "status"


class InvalidTransitionError(WorkflowValueError):
    """The workflow does not allow the requested status after the current one."""

    field = "status"


class CloseReasonRequiredError(WorkflowValueError):
    """A close reason is missing or invalid when closing, or set for another status."""

    field = "close_reason"


class InvalidStatusDateError(WorkflowValueError):
    """The status date is in the future or before the ticket was created."""

    field = "status_date"


class InvalidNoteError(WorkflowValueError):
    """A note is empty or too long once cleaned."""

    field = "note"


class InvalidAssigneeError(WorkflowValueError):
    """The assignee is not an active staff user."""

    field = "assignee"


def _words(value: str) -> str:
    return value.replace("_", " ")


def _word_list(values: tuple[str, ...] | list[str]) -> str:
    words = [_words(value) for value in values]
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " or " + words[-1]


def get_ticket(session: Session, reference: str) -> Ticket:
    """Load a ticket by its reference code as typed.

    Raises:
        TicketNotFoundError: The code is invalid or unknown.
    """
    normalized = normalize_reference(reference or "")
    row = None
    if normalized is not None:
        row = session.execute(
            select(Ticket).where(Ticket.reference == normalized)
        ).scalar_one_or_none()
    if row is None:
        raise TicketNotFoundError(f"No ticket with reference {reference!r}")
    return row


def _check_version(ticket: Ticket, expected_version: int) -> None:
    if ticket.version != expected_version:
        raise StaleTicketError(ticket.reference, expected_version, ticket.version)


def _versioned_update(
    session: Session, ticket: Ticket, expected_version: int, values: dict[str, Any]
) -> None:
    """Apply `values` only if the row is still at `expected_version`, then reload it."""
    result = session.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id, Ticket.version == expected_version)
        .values(version=Ticket.version + 1, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        current = session.execute(
            select(Ticket.version).where(Ticket.id == ticket.id)
        ).scalar_one()
        raise StaleTicketError(ticket.reference, expected_version, current)
    session.refresh(ticket)


def check_transition(
    from_status: str, to_status: str, close_reason: str | None
) -> None:
    """Check a status change against the workflow and the close reason rules.

    Raises:
        InvalidTransitionError: `to_status` is unknown or not allowed after
            `from_status`.
        CloseReasonRequiredError: Closing without a valid reason, or a reason
            given for another status.
    """
    if to_status not in TICKET_STATUSES:
        raise InvalidTransitionError(
            f"The status {to_status!r} does not exist. Choose one of: "
            f"{_word_list(TICKET_STATUSES)}."
        )
    allowed = ALLOWED_TRANSITIONS.get(from_status, ())
    if to_status not in allowed:
        raise InvalidTransitionError(
            f"A ticket that is {_words(from_status)} cannot move to "
            f"{_words(to_status)}. Choose one of: {_word_list(allowed)}."
        )
    if to_status == CLOSED:
        if not close_reason:
            raise CloseReasonRequiredError(
                "Choose a close reason to close the ticket: "
                f"{_word_list(CLOSE_REASONS)}."
            )
        if close_reason not in CLOSE_REASONS:
            raise CloseReasonRequiredError(
                f"The close reason {close_reason!r} does not exist. Choose one "
                f"of: {_word_list(CLOSE_REASONS)}."
            )
    elif close_reason is not None:
        raise CloseReasonRequiredError(
            "A close reason is only for closing a ticket. Leave it empty to "
            f"move the ticket to {_words(to_status)}."
        )


def change_status(
    session: Session,
    reference: str,
    *,
    to_status: str,
    expected_version: int,
    actor: Actor,
    status_date: date | None = None,
    close_reason: str | None = None,
    now: datetime | None = None,
) -> Ticket:
    """Move a ticket to another status, record who did it, and text the member.

    The ticket's due time is recomputed for the new status (see
    `bot.business_days.due_at_for`). The change is stored in
    `ticket_status_changes` and in the audit log. For the statuses in
    `SMS_STATUSES`, one SMS is queued in the member's language. No SMS is
    queued when the ticket was pseudonymised, has no phone, is closed as a
    duplicate, or got the same text in the last 20 hours. The outbox sender
    skips numbers that opted out when it sends.

    Args:
        session: The caller's open session; nothing is committed here.
        reference: The ticket's reference code as typed.
        to_status: The new status.
        expected_version: The ticket version the caller read.
        actor: Who makes the change.
        status_date: The day the status took effect (default: today in the
            workspace time zone). It cannot be in the future, nor before the
            day the ticket was created.
        close_reason: Required when `to_status` is `closed`, else None.
        now: Time of the change (default: now).

    Returns:
        The updated ticket row.

    Raises:
        TicketNotFoundError: No ticket has this reference code.
        StaleTicketError: The ticket is no longer at `expected_version`.
        InvalidTransitionError: The workflow does not allow the move.
        CloseReasonRequiredError: The close reason breaks the rules above.
        InvalidStatusDateError: `status_date` is in the future, or before the
            day the ticket was created in the workspace time zone.
    """
    now = now or utcnow()
    calendar = load_calendar()
    ticket = get_ticket(session, reference)
    _check_version(ticket, expected_version)
    check_transition(ticket.status, to_status, close_reason)

    today = calendar.local_date(now)
    status_date = status_date or today
    if status_date > today:
        raise InvalidStatusDateError(
            f"The status date {status_date.isoformat()} is in the future. Enter "
            f"today ({today.isoformat()}) or an earlier day."
        )
    created = calendar.local_date(ticket.created_at)
    if status_date < created:
        raise InvalidStatusDateError(
            f"The status date {status_date.isoformat()} is before the ticket was "
            f"created on {created.isoformat()}. Enter that day or a later one."
        )

    from_status = ticket.status
    _versioned_update(
        session,
        ticket,
        expected_version,
        {
            "status": to_status,
            "status_changed_at": now,
            "status_date": status_date,
            "close_reason": close_reason,
            "due_at": due_at_for(to_status, now, calendar),
            "updated_at": now,
        },
    )
    session.add(
        TicketStatusChange(
            ticket_id=ticket.id,
            from_status=from_status,
            to_status=to_status,
            status_date=status_date,
            close_reason=close_reason,
            user_id=actor.user_id,
            api_token_id=actor.api_token_id,
            created_at=now,
        )
    )
    audit.record(
        session,
        actor,
        "change_status",
        ticket=ticket,
        detail={"from": from_status, "to": to_status, "close_reason": close_reason},
        now=now,
    )
    _queue_status_sms(session, ticket, now)
    session.flush()
    logger.info(
        "Ticket %s moved from %s to %s by %s (version %d)",
        ticket.reference,
        from_status,
        to_status,
        actor.name,
        ticket.version,
    )
    return ticket


def status_sms_kind(ticket: Ticket) -> str | None:
    """Return the SMS kind to send for the ticket's current status, or None."""
    if ticket.status not in SMS_STATUSES:
        return None
    if ticket.status == CLOSED and ticket.close_reason in SILENT_CLOSE_REASONS:
        return None
    return f"status_{ticket.status}"


def _queue_status_sms(session: Session, ticket: Ticket, now: datetime) -> None:
    kind = status_sms_kind(ticket)
    if kind is None:
        return
    if ticket.pseudonymised_at is not None or not ticket.phone:
        logger.info(
            "No %s SMS for ticket %s: no phone number to text", kind, ticket.reference
        )
        return
    recent = session.execute(
        select(func.count(OutboxMessage.id)).where(
            OutboxMessage.ticket_id == ticket.id,
            OutboxMessage.kind == kind,
            OutboxMessage.created_at >= now - SMS_REPEAT_WINDOW,
        )
    ).scalar_one()
    if recent:
        logger.info(
            "No %s SMS for ticket %s: one was queued in the last %s",
            kind,
            ticket.reference,
            SMS_REPEAT_WINDOW,
        )
        return

    language = sms_language(ticket.preferred_language)
    enqueue_sms(
        session,
        to_number=ticket.phone,
        body=render_sms(kind, language, reference=ticket.reference),
        language=language,
        kind=kind,
        ticket_id=ticket.id,
        now=now,
    )


def assign(
    session: Session,
    reference: str,
    *,
    assignee_id: int | None,
    expected_version: int,
    actor: Actor,
    now: datetime | None = None,
) -> Ticket:
    """Assign a ticket to a staff user, or unassign it with None.

    Args:
        session: The caller's open session; nothing is committed here.
        reference: The ticket's reference code as typed.
        assignee_id: The `StaffUser` id, or None to unassign.
        expected_version: The ticket version the caller read.
        actor: Who makes the change.
        now: Time of the change (default: now).

    Returns:
        The updated ticket row.

    Raises:
        TicketNotFoundError: No ticket has this reference code.
        StaleTicketError: The ticket is no longer at `expected_version`.
        InvalidAssigneeError: `assignee_id` is not an active staff user.
    """
    now = now or utcnow()
    ticket = get_ticket(session, reference)
    _check_version(ticket, expected_version)
    if assignee_id is not None:
        user = session.get(StaffUser, assignee_id)
        if user is None or not user.active:
            raise InvalidAssigneeError(
                f"Staff user {assignee_id} is not an active staff user. Choose "
                "another person."
            )

    previous = ticket.assignee_id
    _versioned_update(
        session,
        ticket,
        expected_version,
        {"assignee_id": assignee_id, "updated_at": now},
    )
    audit.record(
        session,
        actor,
        "assign",
        ticket=ticket,
        detail={"from": previous, "to": assignee_id},
        now=now,
    )
    logger.info(
        "Ticket %s assigned from %s to %s by %s",
        ticket.reference,
        previous,
        assignee_id,
        actor.name,
    )
    return ticket


def add_note(
    session: Session,
    reference: str,
    *,
    body: str,
    actor: Actor,
    now: datetime | None = None,
) -> TicketNote:
    """Add a note to a ticket; the audit entry records the note id, not its text.

    Notes do not change the ticket's version, so a note never makes another
    person's pending status change stale.

    Args:
        session: The caller's open session; nothing is committed here.
        reference: The ticket's reference code as typed.
        body: The note text. Control characters other than newline and tab,
            bidi overrides and surrounding whitespace are removed.
        actor: Who writes the note.
        now: Time of the note (default: now).

    Returns:
        The new note row, with its id.

    Raises:
        TicketNotFoundError: No ticket has this reference code.
        InvalidNoteError: The cleaned text is empty or longer than 5000
            characters.
    """
    now = now or utcnow()
    text = clean_text(body or "").strip()
    if not 1 <= len(text) <= NOTE_MAX_LENGTH:
        raise InvalidNoteError(
            f"A note must have 1 to {NOTE_MAX_LENGTH} characters; this one has "
            f"{len(text)}. Write or shorten the note and save it again."
        )
    ticket = get_ticket(session, reference)
    note = TicketNote(
        ticket_id=ticket.id,
        user_id=actor.user_id,
        api_token_id=actor.api_token_id,
        body=text,
        created_at=now,
    )
    session.add(note)
    session.flush()
    audit.record(
        session,
        actor,
        "add_note",
        ticket=ticket,
        detail={"note_id": note.id, "length": len(text)},
        now=now,
    )
    return note
