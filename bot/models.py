"""ORM models: tickets for Care Coordination and the outbox of SMS messages.

The one Alembic migration in `migrations/versions/` creates exactly these
tables; `tests/test_migrations.py` fails when the two drift apart.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
)
from sqlalchemy.orm import declarative_base
from sqlalchemy.types import TypeDecorator

# Named constraints keep the migration and the models comparable and let a
# later migration drop a constraint by name.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Base = declarative_base(metadata=MetaData(naming_convention=NAMING_CONVENTION))

TICKET_STATUS_NEW = "new"
OUTBOX_STATUSES = ("pending", "sending", "unknown", "sent", "failed", "not_sent")


def utcnow() -> datetime:
    """Return the current time as a timezone-aware UTC datetime."""
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """A timestamp that is always timezone-aware UTC in Python.

    PostgreSQL stores `timestamp with time zone`. SQLite has no time zone
    type, so the value is stored as naive UTC and marked UTC again on load.
    A naive datetime passed in is rejected, because its zone is a guess.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC column; add tzinfo")
        value = value.astimezone(timezone.utc)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Ticket(Base):
    """A member's request to be contacted by HPSM Care Coordination."""

    __tablename__ = "tickets"

    id = Column(Integer, primary_key=True)
    reference = Column(String(16), nullable=False, unique=True)
    # SHA-256 of (conversation id, hand-off id): one ticket per hand-off.
    handoff_key = Column(String(64), nullable=False, unique=True)
    # Pseudonymous conversation id issued by the channel, never the phone.
    conversation_id = Column(String(255), nullable=False)
    channel = Column(String(16), nullable=False)
    status = Column(String(16), nullable=False, default=TICKET_STATUS_NEW)
    name = Column(String(200))
    phone = Column(String(16), nullable=False)
    member_id = Column(String(32))
    date_of_birth = Column(Date)
    preferred_language = Column(String(16))
    call_time = Column(String(200))
    consent_contact = Column(Boolean, nullable=False)
    consent_share_screening = Column(Boolean, nullable=False)
    consent_at = Column(UTCDateTime, nullable=False)
    services = Column(JSON, nullable=False)
    screening_profile = Column(JSON)
    screening_result = Column(JSON)
    previous_ticket_id = Column(
        Integer, ForeignKey("tickets.id", ondelete="SET NULL"), nullable=True
    )
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        Index("ix_tickets_phone", "phone"),
        Index("ix_tickets_member_id", "member_id"),
        Index("ix_tickets_status", "status"),
        Index("ix_tickets_created_at", "created_at"),
        Index("ix_tickets_conversation_id", "conversation_id"),
    )


class OutboxMessage(Base):
    """An SMS queued for sending, with its attempts and outcome.

    Rows are written in the same transaction as the change that causes them
    and sent later by `bot.outbox.OutboxSender`.
    """

    __tablename__ = "outbox_messages"

    id = Column(Integer, primary_key=True)
    ticket_id = Column(
        Integer, ForeignKey("tickets.id", ondelete="CASCADE"), nullable=True
    )
    to_number = Column(String(16), nullable=False)
    body = Column(Text, nullable=False)
    language = Column(String(8), nullable=False)
    kind = Column(String(40), nullable=False)
    status = Column(String(16), nullable=False, default="pending")
    attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(UTCDateTime)
    provider_sid = Column(String(64))
    # Error code and type only: provider messages can contain the number.
    last_error = Column(String(500))
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)
    sent_at = Column(UTCDateTime)
    # The inbound SMS this row answers. Rows that answer inbound SMS are sent
    # to a number in id order. There is no foreign key, so purging old
    # inbound rows leaves the outbox alone.
    inbound_message_id = Column(Integer)
    # Twilio's latest delivery status from a status callback, such as
    # `delivered` or `undelivered`.
    delivery_status = Column(String(16))

    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'sending', 'unknown', 'sent', 'failed', 'not_sent')",
            name="status",
        ),
        Index("ix_outbox_messages_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_outbox_messages_ticket_id", "ticket_id"),
        Index("ix_outbox_messages_inbound_message_id", "inbound_message_id"),
        Index("ix_outbox_messages_to_number_status", "to_number", "status"),
        Index("ix_outbox_messages_provider_sid", "provider_sid"),
    )


class ConversationState(Base):
    """What a channel keeps about a conversation outside Rasa's tracker.

    `offered_choices` holds the buttons of the assistant's last turn, so a
    reply can select one; `phone` holds an SMS member's number, so the
    hand-off can offer it without the number entering a slot or an event.
    """

    __tablename__ = "conversation_state"

    conversation_id = Column(String(64), primary_key=True)
    channel = Column(String(16), nullable=True)
    phone = Column(String(20), nullable=True)
    offered_choices = Column(JSON, nullable=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)


# Privacy: deletion at a member's request (see `bot.privacy`).

# When a ticket was pseudonymised because its member deleted the conversation.
# It is declared here to keep the privacy change in one block. Declarative
# mapping adds the column to `tickets` as if it were in the class body.
Ticket.pseudonymised_at = Column(UTCDateTime, nullable=True)


class ConversationDeletion(Base):
    """A member's request to delete a conversation, and when it was carried out.

    The tickets are pseudonymised when the request is stored. The tracker
    events and the conversation state are deleted later, by
    `bot.privacy.ConversationEraser`, once Rasa has saved the turn that
    answered the request (`events_deleted_at` is then set).
    """

    __tablename__ = "conversation_deletions"

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(255), nullable=False)
    requested_at = Column(UTCDateTime, nullable=False, default=utcnow)
    events_deleted_at = Column(UTCDateTime, nullable=True)

    __table_args__ = (
        Index("ix_conversation_deletions_events_deleted_at", "events_deleted_at"),
    )


# SMS channel: inbound messages and opt-outs (see `bot.sms_inbound`).

INBOUND_STATUSES = ("pending", "processing", "done", "failed")


class InboundMessage(Base):
    """An SMS that Twilio delivered to the webhook, stored before it is answered.

    The unique `message_sid` makes a repeated delivery of one message a
    no-op. Rows of one conversation are processed one at a time, in id
    order, which is the order in which they arrived.
    """

    __tablename__ = "inbound_messages"

    id = Column(Integer, primary_key=True)
    message_sid = Column(String(64), nullable=False, unique=True)
    # Keyed pseudonym of the sender's number, the Rasa conversation id.
    conversation_id = Column(String(64), nullable=False)
    phone = Column(String(20), nullable=False)
    # At most `bot.sms_format.MAX_SMS_CHARS` characters; `truncated` records a cut.
    # NOTE: kept with the phone number until deleted; no purge covers it yet.
    body = Column(Text, nullable=False)
    truncated = Column(Boolean, nullable=False, default=False)
    num_media = Column(Integer, nullable=False, default=0)
    received_at = Column(UTCDateTime, nullable=False, default=utcnow)
    status = Column(String(16), nullable=False, default="pending")
    attempts = Column(Integer, nullable=False, default=0)
    # How the message was handled, such as `turn`, `opt_out` or `rate_limited`.
    outcome = Column(String(32))
    # Exception type only: an error message could contain the member's text.
    last_error = Column(String(500))
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'processing', 'done', 'failed')", name="status"
        ),
        Index(
            "ix_inbound_messages_conversation_id_status", "conversation_id", "status"
        ),
        Index("ix_inbound_messages_status", "status"),
        Index("ix_inbound_messages_phone_received_at", "phone", "received_at"),
    )


class SmsOptOut(Base):
    """A phone number that opted out of SMS, and when it opted in again.

    The number is opted out while `opted_in_at` is empty. A later opt-out
    sets `opted_out_at` again and clears `opted_in_at`.
    """

    __tablename__ = "sms_opt_outs"

    phone = Column(String(20), primary_key=True)
    # `keyword` for STOP and its kin, `request` for a sentence such as
    # "please stop texting me".
    source = Column(String(16), nullable=False)
    language = Column(String(8), nullable=False)
    opted_out_at = Column(UTCDateTime, nullable=False, default=utcnow)
    opted_in_at = Column(UTCDateTime)
