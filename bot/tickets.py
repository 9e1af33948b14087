"""Ticket repository: a member's hand-off to HPSM Care Coordination.

Each hand-off (a conversation id plus a hand-off id) creates at most one
ticket, even when the member confirms twice or two requests race. The ticket
and its confirmation SMS outbox row are committed in one transaction, so a
ticket never exists without its SMS and an SMS never without its ticket.

All methods block; async callers use `bot.db.run_in_thread`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Callable

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.business_days import due_at_for, load_calendar
from bot.models import (
    TICKET_STATUS_NEW,
    OutboxMessage,
    TicketService,
    TicketStatusChange,
)
from bot.models import Ticket as TicketRow
from bot.models import utcnow
from bot.outbox import enqueue_sms
from bot.reference import new_reference, normalize_reference
from bot.settings import get_settings
from bot.sms import render_sms, sms_language

logger = logging.getLogger(__name__)

# Usual channel names; any name up to 16 characters is accepted.
CHANNELS = ("sms", "rest", "webchat")
CHANNEL_MAX_LENGTH = 16
CONFIRMATION_KIND = "ticket_confirmation"
MAX_REFERENCE_ATTEMPTS = 5
# Confirmation texts one phone number can receive in 24 hours.
MAX_CONFIRMATIONS_PER_DAY = 3

E164 = re.compile(r"\+[1-9][0-9]{7,14}")


class InvalidHandoffError(ValueError):
    """A hand-off request is missing a required value or has an invalid one."""


class TicketCreationError(RuntimeError):
    """A ticket could not be stored, such as after repeated reference collisions."""


@dataclass
class HandoffRequest:
    """The details that the hand-off form collected and the member confirmed.

    Personal fields are left out of `repr`, so logging a request by mistake
    does not log the member's details.
    """

    conversation_id: str
    handoff_id: str
    channel: str
    name: str | None = field(default=None, repr=False)
    phone: str = field(default="", repr=False)
    member_id: str | None = field(default=None, repr=False)
    date_of_birth: date | str | None = field(default=None, repr=False)
    preferred_language: str | None = None
    call_time: str | None = None
    consent_contact: bool = False
    consent_share_screening: bool = False
    services: list[str] = field(default_factory=list)
    screening_profile: dict[str, Any] | None = field(default=None, repr=False)
    screening_result: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def handoff_key(self) -> str:
        """SHA-256 hex digest of (conversation id, hand-off id)."""
        # JSON keeps the two parts apart even when an id contains a separator.
        payload = json.dumps([self.conversation_id, self.handoff_id])
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Ticket:
    """A stored ticket, detached from any database session."""

    id: int
    reference: str
    conversation_id: str
    channel: str
    status: str
    name: str | None = field(repr=False)
    phone: str = field(repr=False)
    member_id: str | None = field(repr=False)
    date_of_birth: date | None = field(repr=False)
    preferred_language: str | None
    call_time: str | None
    consent_contact: bool
    consent_share_screening: bool
    consent_at: datetime
    services: list[str]
    screening_profile: dict[str, Any] | None = field(repr=False)
    screening_result: dict[str, Any] | None = field(repr=False)
    previous_ticket_id: int | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: TicketRow) -> "Ticket":
        """Copy the columns of an ORM row into a `Ticket`."""
        return cls(
            id=row.id,
            reference=row.reference,
            conversation_id=row.conversation_id,
            channel=row.channel,
            status=row.status,
            name=row.name,
            phone=row.phone,
            member_id=row.member_id,
            date_of_birth=row.date_of_birth,
            preferred_language=row.preferred_language,
            call_time=row.call_time,
            consent_contact=row.consent_contact,
            consent_share_screening=row.consent_share_screening,
            consent_at=row.consent_at,
            services=list(row.services or []),
            screening_profile=row.screening_profile,
            screening_result=row.screening_result,
            previous_ticket_id=row.previous_ticket_id,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


def validate_handoff(handoff: HandoffRequest) -> date | None:
    """Check a hand-off request before it is stored.

    Returns:
        The date of birth as a `date`, or None when none was given.

    Raises:
        InvalidHandoffError: A required value is missing or invalid. The
            message names the field but never repeats its value.
    """
    if not handoff.conversation_id or not handoff.handoff_id:
        raise InvalidHandoffError("conversation_id and handoff_id are required")
    if E164.fullmatch(handoff.conversation_id.strip()):
        raise InvalidHandoffError(
            "conversation_id looks like a phone number; pass the channel's "
            "pseudonymous conversation id"
        )
    if not handoff.channel or len(handoff.channel) > CHANNEL_MAX_LENGTH:
        raise InvalidHandoffError(
            f"channel {handoff.channel!r} is invalid; use a name such as {CHANNELS}"
        )
    if not E164.fullmatch(handoff.phone or ""):
        raise InvalidHandoffError(
            "phone must be in E.164 form: a plus sign and 8 to 15 digits"
        )
    if not handoff.consent_contact:
        raise InvalidHandoffError(
            "consent_contact is false; a ticket needs the member's consent to be called"
        )
    if not isinstance(handoff.services, list):
        raise InvalidHandoffError("services must be a list of service names")

    birth = handoff.date_of_birth
    if birth is None or birth == "":
        return None
    if isinstance(birth, datetime):
        return birth.date()
    if isinstance(birth, date):
        return birth
    try:
        return date.fromisoformat(str(birth))
    except ValueError:
        raise InvalidHandoffError(
            "date_of_birth must be a date or an ISO date string (YYYY-MM-DD)"
        ) from None


def _start_workflow(session: Session, row: TicketRow, now: datetime) -> None:
    """Give a new ticket its workspace state in the creating transaction.

    The services go into `ticket_services` for the queue's filter, the first
    contact is due per `bot.business_days.due_at_for`, the history starts
    with `new`, and a webhook delivery is queued when `WEBHOOK_URL` is set.
    """
    calendar = load_calendar()
    for service in dict.fromkeys(row.services or []):
        session.add(TicketService(ticket_id=row.id, service=str(service)[:40]))
    row.due_at = due_at_for(TICKET_STATUS_NEW, now, calendar)
    row.status_changed_at = now
    row.status_date = calendar.local_date(now)
    session.add(
        TicketStatusChange(
            ticket_id=row.id,
            from_status=None,
            to_status=TICKET_STATUS_NEW,
            status_date=row.status_date,
            created_at=now,
        )
    )
    session.flush()

    if get_settings().webhook_url:
        # Imported here because the webhook module is only needed when a URL
        # is configured.
        from bot.workspace.webhook import enqueue_ticket_created

        enqueue_ticket_created(session, row.id)


class TicketRepository:
    """Create and read tickets.

    Args:
        session_factory: A session factory from `bot.db.make_session_factory`.
    """

    def __init__(self, session_factory: Callable[[], Session]):
        self._session_factory = session_factory

    def create_from_handoff(self, handoff: HandoffRequest) -> tuple[Ticket, bool]:
        """Create the ticket for a confirmed hand-off, once.

        A repeated call for the same (conversation id, hand-off id) returns the
        ticket that exists. A concurrent duplicate fails on the unique
        `handoff_key` and then reads the ticket that the other request stored.
        A new hand-off by the same member (same phone, member id or
        conversation id) gets a new ticket, and its `previous_ticket_id` is the
        member's most recent ticket. The confirmation SMS is queued in the
        outbox in the same transaction.

        Args:
            handoff: The confirmed hand-off.

        Returns:
            The ticket, and True when this call created it.

        Raises:
            InvalidHandoffError: The request is invalid (see
                `validate_handoff`).
            TicketCreationError: No unused reference code was found in
                `MAX_REFERENCE_ATTEMPTS` tries.
        """
        birth = validate_handoff(handoff)
        key = handoff.handoff_key

        existing = self._get_by_handoff_key(key)
        if existing is not None:
            logger.info(
                "Ticket %s already exists for this hand-off", existing.reference
            )
            return existing, False

        for attempt in range(1, MAX_REFERENCE_ATTEMPTS + 1):
            try:
                ticket = self._insert(handoff, key, birth)
            except IntegrityError:
                # Either another request stored this hand-off first, or the
                # reference code is taken. Reading the hand-off key again
                # distinguishes the two.
                existing = self._get_by_handoff_key(key)
                if existing is not None:
                    logger.info(
                        "Ticket %s was created by a concurrent request for this "
                        "hand-off",
                        existing.reference,
                    )
                    return existing, False
                logger.warning(
                    "Reference code collision on attempt %d of %d; retrying",
                    attempt,
                    MAX_REFERENCE_ATTEMPTS,
                )
                continue
            logger.info(
                "Created ticket %s (id %d, channel %s, previous ticket %s)",
                ticket.reference,
                ticket.id,
                ticket.channel,
                ticket.previous_ticket_id,
            )
            return ticket, True

        raise TicketCreationError(
            f"No unused reference code after {MAX_REFERENCE_ATTEMPTS} attempts"
        )

    def _insert(self, handoff: HandoffRequest, key: str, birth: date | None) -> Ticket:
        now = utcnow()
        reference = new_reference()
        with self._session_factory() as session, session.begin():
            previous = self._latest_for_member(session, handoff)
            row = TicketRow(
                reference=reference,
                handoff_key=key,
                conversation_id=handoff.conversation_id,
                channel=handoff.channel,
                name=handoff.name,
                phone=handoff.phone,
                member_id=handoff.member_id or None,
                date_of_birth=birth,
                preferred_language=handoff.preferred_language,
                call_time=handoff.call_time,
                consent_contact=bool(handoff.consent_contact),
                consent_share_screening=bool(handoff.consent_share_screening),
                consent_at=now,
                services=list(handoff.services),
                screening_profile=handoff.screening_profile,
                screening_result=handoff.screening_result,
                previous_ticket_id=previous,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            session.flush()
            _start_workflow(session, row, now)

            language = sms_language(handoff.preferred_language)
            if self._confirmations_today(session, handoff.phone, now) >= (
                MAX_CONFIRMATIONS_PER_DAY
            ):
                # Anyone can type any number into a web chat, so a number gets
                # a bounded count of texts; the ticket itself is still created.
                logger.warning(
                    "Confirmation SMS skipped for ticket %s: daily limit for "
                    "this number reached",
                    reference,
                )
            else:
                enqueue_sms(
                    session,
                    to_number=handoff.phone,
                    body=render_sms(CONFIRMATION_KIND, language, reference=reference),
                    language=language,
                    kind=CONFIRMATION_KIND,
                    ticket_id=row.id,
                )
            session.flush()
            return Ticket.from_row(row)

    @staticmethod
    def _confirmations_today(session: Session, phone: str, now: datetime) -> int:
        """Count confirmation texts queued to `phone` in the last 24 hours."""
        return session.execute(
            select(func.count(OutboxMessage.id)).where(
                OutboxMessage.to_number == phone,
                OutboxMessage.kind == CONFIRMATION_KIND,
                OutboxMessage.created_at >= now - timedelta(days=1),
            )
        ).scalar_one()

    @staticmethod
    def _latest_for_member(session: Session, handoff: HandoffRequest) -> int | None:
        matches = [
            TicketRow.phone == handoff.phone,
            TicketRow.conversation_id == handoff.conversation_id,
        ]
        if handoff.member_id:
            matches.append(TicketRow.member_id == handoff.member_id)
        statement = (
            select(TicketRow.id)
            .where(or_(*matches))
            .order_by(TicketRow.created_at.desc(), TicketRow.id.desc())
            .limit(1)
        )
        return session.execute(statement).scalar_one_or_none()

    def _get_by_handoff_key(self, key: str) -> Ticket | None:
        with self._session_factory() as session:
            row = session.execute(
                select(TicketRow).where(TicketRow.handoff_key == key)
            ).scalar_one_or_none()
            return Ticket.from_row(row) if row is not None else None

    def get_by_reference(self, reference: str) -> Ticket | None:
        """Find a ticket by its reference code as a member or staff typed it.

        Args:
            reference: The code; case, spaces, dashes and the `HP` prefix are
                optional (see `bot.reference.normalize_reference`).

        Returns:
            The ticket, or None when the code is invalid or unknown.
        """
        normalized = normalize_reference(reference)
        if normalized is None:
            return None
        with self._session_factory() as session:
            row = session.execute(
                select(TicketRow).where(TicketRow.reference == normalized)
            ).scalar_one_or_none()
            return Ticket.from_row(row) if row is not None else None

    def get(self, ticket_id: int) -> Ticket | None:
        """Return the ticket with id `ticket_id`, or None."""
        with self._session_factory() as session:
            row = session.get(TicketRow, ticket_id)
            return Ticket.from_row(row) if row is not None else None

    def list_for_member(
        self, phone: str | None = None, member_id: str | None = None
    ) -> list[Ticket]:
        """List a member's tickets, newest first.

        Args:
            phone: E.164 phone number.
            member_id: HPSM member id.

        Returns:
            Tickets that match the phone or the member id.

        Raises:
            ValueError: Neither `phone` nor `member_id` was given.
        """
        matches = []
        if phone:
            matches.append(TicketRow.phone == phone)
        if member_id:
            matches.append(TicketRow.member_id == member_id)
        if not matches:
            raise ValueError("list_for_member needs a phone or a member_id")

        statement = (
            select(TicketRow)
            .where(or_(*matches))
            .order_by(TicketRow.created_at.desc(), TicketRow.id.desc())
        )
        with self._session_factory() as session:
            rows = session.execute(statement).scalars().all()
            return [Ticket.from_row(row) for row in rows]
