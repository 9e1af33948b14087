"""Everything the ticket page shows, read in one call.

`load_ticket_detail` returns the ticket with its workspace fields (as a
`WorkspaceTicket`, a subclass of `bot.tickets.Ticket`), the status history,
notes, assignee, the member's earlier tickets, the screening result per
program, and the conversation's messages. It also returns the SMS queued
for the ticket and whether the member's number opted out of SMS.

The messages and the screening result are shown only when the member agreed
to share their screening with staff (`consent_share_screening`) and the
ticket is not pseudonymised. Otherwise both are empty and
`messages_withheld_reason` contains the reason. They
come from Rasa's `events` table (`rasa.core.tracker_store.SQLTrackerStore`,
Rasa 3.6) in the same database, when it exists. A member message that is a
button payload is shown as the button's title (`bot.choices.shown_user_text`).

The SMS list shows each text's body, which contains no health information, but
never the number it went to.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot.choices import shown_user_text
from bot.eligibility import SERVICES
from bot.models import (
    ApiToken,
    OutboxMessage,
    SmsOptOut,
    StaffUser,
    TicketNote,
    TicketStatusChange,
)
from bot.models import Ticket as TicketRow
from bot.opt_outs import OPTED_OUT_ERROR
from bot.privacy import CANCELLED_SMS_ERROR, RASA_EVENTS, has_events_table
from bot.reference import normalize_reference
from bot.tickets import Ticket

logger = logging.getLogger(__name__)

MAX_MESSAGES = 1000
MAX_EARLIER_TICKETS = 50
MAX_TEXTS = 200
SYSTEM_DISPLAY_NAME = "System"
NO_CONSENT_REASON = "The member did not agree to share the conversation with staff."
PSEUDONYMISED_REASON = "The member asked to delete the conversation."
# Staff-facing program names, in the order the page lists them.
PROGRAM_LABELS = {
    "ecm": "Enhanced Care Management (ECM)",
    "housing_transition_navigation": "Housing Transition Navigation Services",
    "housing_deposits": "Housing Deposits",
    "housing_tenancy_sustaining": "Housing Tenancy and Sustaining Services",
    "assisted_living_transition": "Assisted Living Facility Transitions",
    "community_transition_home": "Community Transition Services / Nursing Facility "
    "Transition to a Home",
    "home_modifications": "Environmental Accessibility Adaptations (Home "
    "Modifications)",
    "medically_tailored_meals": "Medically Tailored Meals / Medically Supportive Food",
}
STATUS_LABELS = {
    "likely": "Likely eligible",
    "needs_review": "Needs review",
    "unlikely": "Unlikely",
}
# SMS kinds (the keys of `bot/sms_templates.yml`) in plain words.
SMS_KIND_LABELS = {
    "ticket_confirmation": "Confirmation of the request, with its reference",
    "opt_out_confirmation": "Confirmation that texts stopped",
    "opt_in_confirmation": "Confirmation that texts started again",
    "help": "Help and contact details",
    "crisis": "Crisis line numbers",
    "media_not_supported": "Reply: pictures and files cannot be read",
    "empty_message": "Reply to an empty message",
    "too_long": "Reply to a message that was too long",
    "rate_limited": "Reply: too many messages at once",
    "turn_failed": "Reply: the assistant could not answer",
    "status_contact_attempted": "Status update: we tried to call",
    "status_referred_to_provider": "Status update: referred to a provider",
    "status_authorized": "Status update: services authorized",
    "status_not_authorized": "Status update: services not authorized",
    "status_services_started": "Status update: services started",
    "status_closed": "Status update: request closed",
}
SMS_STATUS_LABELS = {
    "pending": "Waiting to be sent",
    "sending": "Being sent",
    "unknown": "Sent, but Twilio has not confirmed it yet",
    "sent": "Sent",
    "failed": "Not sent",
    "not_sent": "Not sent because Twilio is not configured",
}


@dataclass(frozen=True)
class WorkspaceTicket(Ticket):
    """A ticket with the fields that only the workspace uses."""

    assignee_id: int | None = None
    due_at: datetime | None = None
    status_changed_at: datetime | None = None
    status_date: date | None = None
    close_reason: str | None = None
    version: int = 1
    pseudonymised_at: datetime | None = None

    @classmethod
    def from_row(cls, row: TicketRow) -> "WorkspaceTicket":
        """Copy the columns of an ORM row into a `WorkspaceTicket`."""
        base = Ticket.from_row(row)
        return cls(
            **{name: getattr(base, name) for name in Ticket.__dataclass_fields__},
            assignee_id=row.assignee_id,
            due_at=row.due_at,
            status_changed_at=row.status_changed_at,
            status_date=row.status_date,
            close_reason=row.close_reason,
            version=row.version,
            pseudonymised_at=row.pseudonymised_at,
        )

    def is_overdue(self, now: datetime) -> bool:
        """Return True when the due time has passed and the ticket is open."""
        return self.due_at is not None and self.due_at < now and self.status != "closed"


@dataclass(frozen=True)
class StaffRef:
    """A staff user as pages show them."""

    id: int
    display_name: str


@dataclass(frozen=True)
class StatusHistoryEntry:
    """One status change, with the display name of who made it."""

    from_status: str | None
    to_status: str
    status_date: date
    close_reason: str | None
    created_at: datetime
    actor: str


@dataclass(frozen=True)
class NoteView:
    """A note with its author's display name."""

    id: int
    body: str = field(repr=False)
    author: str
    created_at: datetime


@dataclass(frozen=True)
class SmsView:
    """One SMS queued for the ticket, as the ticket page shows it.

    Attributes:
        kind: The template name, such as `status_closed`.
        kind_label: The kind in plain words.
        status: The outbox status (`pending`, `sending`, `unknown`, `sent`,
            `failed` or `not_sent`).
        status_label: The status in plain words.
        problem: Why it was not sent or why a retry waits, in plain words,
            or None.
        delivery_status: Twilio's latest delivery status, such as
            `delivered`, or None.
        body: The text as sent; it names the reference code, not health facts.
        created_at: When it was queued.
        sent_at: When Twilio accepted it, or None.
    """

    kind: str
    kind_label: str
    status: str
    status_label: str
    problem: str | None
    delivery_status: str | None
    body: str
    created_at: datetime
    sent_at: datetime | None


@dataclass(frozen=True)
class EarlierTicket:
    """Another ticket of the same member."""

    reference: str
    status: str
    created_at: datetime


@dataclass(frozen=True)
class ScreeningReason:
    """One reason behind a screening status; `met` is None when unknown."""

    code: str
    met: bool | None
    text: str


@dataclass(frozen=True)
class ScreeningProgram:
    """The screening outcome of one program, as the ticket page shows it.

    Attributes:
        key: `ecm` or a Community Supports service key.
        label: The program's name for staff.
        status: `likely`, `needs_review` or `unlikely`.
        status_label: The status for staff, such as "Needs review".
        reasons: The engine's reasons, in its order.
        of_interest: True when the member asked for this program.
        route: For ECM, `kaiser` when the member's doctor is at Kaiser.
    """

    key: str
    label: str
    status: str
    status_label: str
    reasons: list[ScreeningReason]
    of_interest: bool
    route: str | None = None


@dataclass(frozen=True)
class TicketDetail:
    """Everything the ticket page shows.

    Attributes:
        ticket: The ticket with its workspace fields.
        assignee: The assigned staff user, if any.
        status_history: Status changes, oldest first.
        notes: Notes, newest first.
        earlier_tickets: The member's other tickets with the same phone or
            member id, newest first.
        messages: Member and assistant messages, oldest first, as
            {"sender": "member" | "assistant", "text": str, "at": datetime}.
        messages_withheld_reason: Why `messages` is empty on purpose, or None.
        screening: The screening result per program, ECM first; empty when
            the ticket has no result or the messages are withheld.
        texts: SMS queued for this ticket, oldest first.
        sms_opted_out_at: When the ticket's phone number opted out of SMS,
            if it is opted out now; None otherwise.
    """

    ticket: WorkspaceTicket
    assignee: StaffRef | None
    status_history: list[StatusHistoryEntry]
    notes: list[NoteView]
    earlier_tickets: list[EarlierTicket]
    messages: list[dict[str, Any]]
    messages_withheld_reason: str | None
    screening: list[ScreeningProgram]
    texts: list[SmsView] = field(default_factory=list)
    sms_opted_out_at: datetime | None = None


def _actor_name(user_name: str | None, token_name: str | None) -> str:
    if user_name:
        return user_name
    if token_name:
        return f"API: {token_name}"
    return SYSTEM_DISPLAY_NAME


def _status_history(session: Session, ticket_id: int) -> list[StatusHistoryEntry]:
    rows = session.execute(
        select(TicketStatusChange, StaffUser.display_name, ApiToken.name)
        .outerjoin(StaffUser, StaffUser.id == TicketStatusChange.user_id)
        .outerjoin(ApiToken, ApiToken.id == TicketStatusChange.api_token_id)
        .where(TicketStatusChange.ticket_id == ticket_id)
        .order_by(TicketStatusChange.created_at, TicketStatusChange.id)
    ).all()
    return [
        StatusHistoryEntry(
            from_status=change.from_status,
            to_status=change.to_status,
            status_date=change.status_date,
            close_reason=change.close_reason,
            created_at=change.created_at,
            actor=_actor_name(user_name, token_name),
        )
        for change, user_name, token_name in rows
    ]


def _notes(session: Session, ticket_id: int) -> list[NoteView]:
    rows = session.execute(
        select(TicketNote, StaffUser.display_name, ApiToken.name)
        .outerjoin(StaffUser, StaffUser.id == TicketNote.user_id)
        .outerjoin(ApiToken, ApiToken.id == TicketNote.api_token_id)
        .where(TicketNote.ticket_id == ticket_id)
        .order_by(TicketNote.created_at.desc(), TicketNote.id.desc())
    ).all()
    return [
        NoteView(
            id=note.id,
            body=note.body,
            author=_actor_name(user_name, token_name),
            created_at=note.created_at,
        )
        for note, user_name, token_name in rows
    ]


def _sms_problem(row: OutboxMessage) -> str | None:
    if row.status == "failed":
        if row.last_error == OPTED_OUT_ERROR:
            return "the member's number opted out of texts (STOP)"
        if row.last_error == CANCELLED_SMS_ERROR:
            # The deletion cancelled it; Twilio did not reject it.
            return "canceled because the member deleted the conversation"
        return f"Twilio did not take it ({row.last_error or 'no reason given'})"
    if row.status == "pending" and row.attempts and row.last_error:
        return f"an earlier attempt failed ({row.last_error}); it will be retried"
    if row.delivery_status in ("undelivered", "failed") and row.last_error:
        return row.last_error
    return None


def _texts(session: Session, ticket_id: int) -> list[SmsView]:
    rows = session.execute(
        select(OutboxMessage)
        .where(OutboxMessage.ticket_id == ticket_id)
        .order_by(OutboxMessage.created_at, OutboxMessage.id)
        .limit(MAX_TEXTS)
    ).scalars()
    return [
        SmsView(
            kind=row.kind,
            kind_label=SMS_KIND_LABELS.get(row.kind, row.kind.replace("_", " ")),
            status=row.status,
            status_label=SMS_STATUS_LABELS.get(row.status, row.status),
            problem=_sms_problem(row),
            delivery_status=row.delivery_status,
            body=row.body,
            created_at=row.created_at,
            sent_at=row.sent_at,
        )
        for row in rows
    ]


def _opted_out_at(session: Session, row: TicketRow) -> datetime | None:
    # A pseudonymised ticket's phone is a placeholder shared by many tickets.
    if row.pseudonymised_at is not None or not row.phone:
        return None
    opt_out = session.get(SmsOptOut, row.phone)
    if opt_out is None or opt_out.opted_in_at is not None:
        return None
    return opt_out.opted_out_at


def _earlier_tickets(session: Session, row: TicketRow) -> list[EarlierTicket]:
    matches = []
    # A pseudonymised ticket's phone is a shared placeholder, so it would
    # match every other pseudonymised ticket.
    if row.pseudonymised_at is None and row.phone:
        matches.append(TicketRow.phone == row.phone)
    if row.member_id:
        matches.append(TicketRow.member_id == row.member_id)
    if not matches:
        return []
    rows = session.execute(
        select(TicketRow.reference, TicketRow.status, TicketRow.created_at)
        .where(or_(*matches), TicketRow.id != row.id)
        .order_by(TicketRow.created_at.desc(), TicketRow.id.desc())
        .limit(MAX_EARLIER_TICKETS)
    ).all()
    return [
        EarlierTicket(reference=reference, status=status, created_at=created_at)
        for reference, status, created_at in rows
    ]


def _messages(session: Session, conversation_id: str) -> list[dict[str, Any]]:
    if not has_events_table(session):
        return []
    events = RASA_EVENTS.c
    rows = session.execute(
        select(events.type_name, events.timestamp, events.data)
        .where(
            events.sender_id == conversation_id,
            events.type_name.in_(("user", "bot")),
        )
        .order_by(events.timestamp, events.id)
        .limit(MAX_MESSAGES)
    ).all()
    messages = []
    last_buttons: list[dict] = []
    for type_name, timestamp, data in rows:
        try:
            event = json.loads(data or "{}") or {}
            text = event.get("text")
        except (ValueError, AttributeError):
            logger.warning("Skipped a tracker event whose data is not a JSON object")
            continue
        if type_name == "bot":
            buttons = (event.get("data") or {}).get("buttons") or []
            if text or buttons:
                last_buttons = buttons if isinstance(buttons, list) else []
        if not text:
            continue
        if type_name == "user":
            text = shown_user_text(str(text), last_buttons)
        messages.append(
            {
                "sender": "member" if type_name == "user" else "assistant",
                "text": str(text),
                "at": datetime.fromtimestamp(timestamp or 0, tz=timezone.utc),
            }
        )
    return messages


def _reasons(outcome: dict[str, Any]) -> list[ScreeningReason]:
    return [
        ScreeningReason(
            code=str(reason.get("code", "")),
            met=reason.get("met"),
            text=str(reason.get("text") or ""),
        )
        for reason in outcome.get("reasons") or []
        if isinstance(reason, dict)
    ]


def screening_programs(
    result: dict[str, Any] | None, services: list[str]
) -> list[ScreeningProgram]:
    """Turn a screening result into one entry per program, ECM first.

    Args:
        result: The engine's result (see the README's screening contract),
            or None.
        services: The services the member asked for, which are marked
            `of_interest`.

    Returns:
        The programs present in `result`; an empty list for no result.
    """
    if not isinstance(result, dict):
        return []
    outcomes: list[tuple[str, dict[str, Any]]] = []
    if isinstance(result.get("ecm"), dict):
        outcomes.append(("ecm", result["ecm"]))
    community = result.get("community_supports") or {}
    for service in SERVICES:
        if isinstance(community.get(service), dict):
            outcomes.append((service, community[service]))

    programs = []
    for key, outcome in outcomes:
        status = str(outcome.get("status") or "")
        programs.append(
            ScreeningProgram(
                key=key,
                label=PROGRAM_LABELS.get(key, key),
                status=status,
                status_label=STATUS_LABELS.get(status, status),
                reasons=_reasons(outcome),
                of_interest=key in services,
                route=outcome.get("route") if key == "ecm" else None,
            )
        )
    return programs


def load_ticket_detail(session: Session, reference: str) -> TicketDetail | None:
    """Read everything the ticket page shows.

    Args:
        session: An open session; this function only reads.
        reference: The reference code as typed.

    Returns:
        The detail, or None when the code is invalid or unknown.
    """
    normalized = normalize_reference(reference or "")
    if normalized is None:
        return None
    row = session.execute(
        select(TicketRow).where(TicketRow.reference == normalized)
    ).scalar_one_or_none()
    if row is None:
        return None

    assignee = None
    if row.assignee_id is not None:
        user = session.get(StaffUser, row.assignee_id)
        if user is not None:
            assignee = StaffRef(id=user.id, display_name=user.display_name)

    screening: list[ScreeningProgram] = []
    if row.pseudonymised_at is not None:
        messages, withheld = [], PSEUDONYMISED_REASON
    elif not row.consent_share_screening:
        messages, withheld = [], NO_CONSENT_REASON
    else:
        messages, withheld = _messages(session, row.conversation_id), None
        screening = screening_programs(row.screening_result, list(row.services or []))

    return TicketDetail(
        ticket=WorkspaceTicket.from_row(row),
        assignee=assignee,
        status_history=_status_history(session, row.id),
        notes=_notes(session, row.id),
        earlier_tickets=_earlier_tickets(session, row),
        messages=messages,
        messages_withheld_reason=withheld,
        screening=screening,
        texts=_texts(session, row.id),
        sms_opted_out_at=_opted_out_at(session, row),
    )
