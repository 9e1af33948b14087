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
# The closed-loop referral statuses of the coordinator workspace, in workflow
# order (see `bot.workspace.workflow`).
TICKET_STATUSES = (
    "new",
    "contact_attempted",
    "contacted",
    "referred_to_provider",
    "authorized",
    "not_authorized",
    "services_started",
    "closed",
)
CLOSE_REASONS = ("declined", "unable_to_reach", "not_eligible", "duplicate", "other")
STAFF_ROLES = ("coordinator", "supervisor", "admin")
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
    status = Column(String(32), nullable=False, default=TICKET_STATUS_NEW)
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
    # Coordinator workspace (see `bot.workspace`).
    assignee_id = Column(
        Integer, ForeignKey("staff_users.id", ondelete="SET NULL"), nullable=True
    )
    # When the next step is due, counted in business days; None once closed.
    due_at = Column(UTCDateTime, nullable=True)
    # When the current status was entered, and the date it took effect (such
    # as the day a provider authorized the service).
    status_changed_at = Column(UTCDateTime, nullable=True)
    status_date = Column(Date, nullable=True)
    close_reason = Column(String(32), nullable=True)
    # Bumped on every workspace change; an update names the version it read,
    # so two coordinators saving at once cannot silently overwrite each other.
    version = Column(Integer, nullable=False, default=1, server_default="1")

    __table_args__ = (
        Index("ix_tickets_phone", "phone"),
        Index("ix_tickets_member_id", "member_id"),
        Index("ix_tickets_status", "status"),
        Index("ix_tickets_created_at", "created_at"),
        Index("ix_tickets_conversation_id", "conversation_id"),
        Index("ix_tickets_status_due_at", "status", "due_at"),
        Index("ix_tickets_due_at", "due_at"),
        Index("ix_tickets_assignee_id_due_at", "assignee_id", "due_at"),
        Index("ix_tickets_preferred_language", "preferred_language"),
        CheckConstraint(
            "close_reason IS NULL OR close_reason IN "
            "('declined', 'unable_to_reach', 'not_eligible', 'duplicate', 'other')",
            name="close_reason",
        ),
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


# Coordinator workspace: staff, API tokens, the ticket's history, notes, the
# audit log and webhook deliveries (see `bot.workspace`).


class StaffUser(Base):
    """A care coordinator, supervisor or administrator who signs in to the workspace."""

    __tablename__ = "staff_users"

    id = Column(Integer, primary_key=True)
    username = Column(String(64), nullable=False, unique=True)
    display_name = Column(String(200), nullable=False)
    role = Column(String(16), nullable=False)
    # An argon2id hash; never the password.
    password_hash = Column(String(255), nullable=False)
    active = Column(Boolean, nullable=False, default=True)
    failed_logins = Column(Integer, nullable=False, default=0)
    locked_until = Column(UTCDateTime, nullable=True)
    # Bumped when the password changes or the account is disabled, so cookies
    # issued before stop working.
    session_epoch = Column(Integer, nullable=False, default=0)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    last_login_at = Column(UTCDateTime, nullable=True)

    __table_args__ = (
        CheckConstraint("role IN ('coordinator', 'supervisor', 'admin')", name="role"),
    )


class ApiToken(Base):
    """A bearer token for HPSM's case management systems.

    Only the SHA-256 of the token is stored; the token is shown once, when it
    is created.
    """

    __tablename__ = "api_tokens"

    id = Column(Integer, primary_key=True)
    name = Column(String(100), nullable=False)
    token_hash = Column(String(64), nullable=False, unique=True)
    # The first characters of the token, so staff can tell tokens apart.
    prefix = Column(String(12), nullable=False)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    revoked_at = Column(UTCDateTime, nullable=True)
    last_used_at = Column(UTCDateTime, nullable=True)


class TicketStatusChange(Base):
    """One step of a ticket's closed-loop status history."""

    __tablename__ = "ticket_status_changes"

    id = Column(Integer, primary_key=True)
    ticket_id = Column(
        Integer, ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False
    )
    from_status = Column(String(32), nullable=True)
    to_status = Column(String(32), nullable=False)
    status_date = Column(Date, nullable=False)
    close_reason = Column(String(32), nullable=True)
    # Who made the change: a staff user, or an API token, or neither for the
    # system itself.
    user_id = Column(
        Integer, ForeignKey("staff_users.id", ondelete="SET NULL"), nullable=True
    )
    api_token_id = Column(
        Integer, ForeignKey("api_tokens.id", ondelete="SET NULL"), nullable=True
    )
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)

    __table_args__ = (
        Index("ix_ticket_status_changes_ticket_id", "ticket_id"),
    )


class TicketNote(Base):
    """A coordinator's note on a ticket."""

    __tablename__ = "ticket_notes"

    id = Column(Integer, primary_key=True)
    ticket_id = Column(
        Integer, ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False
    )
    # Who wrote the note: a staff user, or an API token, or neither for the
    # system itself.
    user_id = Column(
        Integer, ForeignKey("staff_users.id", ondelete="SET NULL"), nullable=True
    )
    api_token_id = Column(
        Integer, ForeignKey("api_tokens.id", ondelete="SET NULL"), nullable=True
    )
    body = Column(Text, nullable=False)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)

    __table_args__ = (Index("ix_ticket_notes_ticket_id", "ticket_id"),)


class TicketService(Base):
    """A service of interest on a ticket, one row each, for the queue's filter."""

    __tablename__ = "ticket_services"

    ticket_id = Column(
        Integer,
        ForeignKey("tickets.id", ondelete="CASCADE"),
        primary_key=True,
    )
    service = Column(String(40), primary_key=True)

    __table_args__ = (Index("ix_ticket_services_service", "service"),)


class AuditEntry(Base):
    """One append-only record of a view or change in the workspace or the API.

    Database triggers refuse UPDATE and DELETE on this table. There is no
    foreign key to the ticket, so the record outlives a purged ticket.
    """

    __tablename__ = "audit_log"

    id = Column(Integer, primary_key=True)
    at = Column(UTCDateTime, nullable=False, default=utcnow)
    user_id = Column(Integer, nullable=True)
    # The username or `token:<name>` as it was at the time.
    actor = Column(String(120), nullable=False)
    action = Column(String(40), nullable=False)
    ticket_id = Column(Integer, nullable=True)
    ticket_reference = Column(String(16), nullable=True)
    # What changed, such as {"status": ["new", "contacted"]}; no member details.
    detail = Column(JSON, nullable=True)

    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_ticket_id", "ticket_id"),
        Index("ix_audit_log_user_id", "user_id"),
    )


WEBHOOK_STATUSES = ("pending", "delivered", "failed")


class WebhookDelivery(Base):
    """A signed notice of a new ticket to HPSM's configured webhook URL."""

    __tablename__ = "webhook_deliveries"

    id = Column(Integer, primary_key=True)
    ticket_id = Column(
        Integer, ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False
    )
    event = Column(String(40), nullable=False)
    status = Column(String(16), nullable=False, default="pending")
    attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(UTCDateTime, nullable=True)
    # HTTP status or exception type only.
    last_error = Column(String(200), nullable=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    delivered_at = Column(UTCDateTime, nullable=True)

    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'delivered', 'failed')", name="status"
        ),
        Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_ticket_id", "ticket_id"),
    )
