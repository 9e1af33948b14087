"""Inbound SMS: stored before Twilio gets its answer, processed afterwards.

A row moves through these statuses:

- `pending`: stored by the webhook, waiting for its turn.
- `processing`: claimed by a worker, which committed the claim (and
  `attempts + 1`) before running the dialogue turn. A row whose worker died
  is claimed again after the lease.
- `done`: handled; `outcome` says how, and the replies are outbox rows with
  `inbound_message_id` set, written in the same transaction.
- `failed`: the turn failed on every attempt.

Rows of one conversation are claimed strictly in id order, and only when no
earlier row of that conversation is unfinished, so a member's messages are
answered in the order they arrived.

Every method blocks; async callers use `bot.db.run_in_thread`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.models import InboundMessage, utcnow
from bot.outbox import enqueue_sms

logger = logging.getLogger(__name__)

PENDING = "pending"
PROCESSING = "processing"
DONE = "done"
FAILED = "failed"
UNFINISHED = (PENDING, PROCESSING)

RATE_LIMIT_NOTICE_OUTCOME = "rate_limit_notice"
GAVE_UP_OUTCOME = "gave_up"


@dataclass(frozen=True)
class InboundSms:
    """One SMS as Twilio's webhook delivered it, after validation.

    The phone number is left out of `repr`, so logging the object by
    mistake logs no number.
    """

    message_sid: str
    phone: str
    body: str
    num_media: int = 0
    truncated: bool = False

    def __repr__(self) -> str:
        return (
            f"InboundSms(message_sid={self.message_sid!r}, "
            f"chars={len(self.body)}, num_media={self.num_media})"
        )


@dataclass(frozen=True)
class ClaimedInbound:
    """An inbound row that a worker claimed, copied out of the session."""

    id: int
    message_sid: str
    conversation_id: str
    phone: str
    body: str
    num_media: int
    truncated: bool
    received_at: datetime
    attempts: int

    def __repr__(self) -> str:
        return f"ClaimedInbound(id={self.id}, attempts={self.attempts})"


@dataclass(frozen=True)
class Reply:
    """An SMS to send in answer to an inbound row."""

    body: str
    language: str
    kind: str


# Runs inside the transaction that finishes a row and returns the replies to
# queue in that same transaction, such as after recording an opt-out.
FinishStep = Callable[[Session], list[Reply]]


@dataclass(frozen=True)
class InboundBacklog:
    """Unfinished inbound rows and the age of the oldest, in seconds."""

    count: int
    oldest_age_seconds: float


class InboundStore:
    """Database steps of the SMS channel, each in its own transaction.

    Args:
        session_factory: A session factory from `bot.db.make_session_factory`.
    """

    def __init__(self, session_factory: Callable[[], Session]):
        self._session_factory = session_factory

    def store(
        self, inbound: InboundSms, conversation_id: str, now: datetime | None = None
    ) -> tuple[int, bool]:
        """Insert an inbound SMS unless its MessageSid is stored already.

        Args:
            inbound: The validated webhook delivery.
            conversation_id: The pseudonym of the sender's number.
            now: Receipt time (default: now).

        Returns:
            The row id and whether this call created the row.
        """
        now = now or utcnow()
        try:
            with self._session_factory() as session, session.begin():
                row = InboundMessage(
                    message_sid=inbound.message_sid,
                    conversation_id=conversation_id,
                    phone=inbound.phone,
                    body=inbound.body,
                    truncated=inbound.truncated,
                    num_media=inbound.num_media,
                    received_at=now,
                    status=PENDING,
                    attempts=0,
                    updated_at=now,
                )
                session.add(row)
                session.flush()
                return row.id, True
        except IntegrityError:
            # A concurrent or repeated delivery of the same MessageSid.
            with self._session_factory() as session:
                row_id = session.execute(
                    select(InboundMessage.id).where(
                        InboundMessage.message_sid == inbound.message_sid
                    )
                ).scalar_one_or_none()
            if row_id is None:
                raise
            return row_id, False

    def claim_next(
        self,
        conversation_id: str,
        now: datetime,
        lease: timedelta,
        max_attempts: int,
    ) -> ClaimedInbound | None:
        """Claim the oldest unfinished row of a conversation, if it is free.

        The row is free when it is `pending`, or `processing` with a lease
        older than `lease`. A row already claimed `max_attempts` times is
        marked `failed` and the next one is tried. PostgreSQL locks the row,
        so two processes never claim rows of one conversation at once.

        Returns:
            The claimed row, or None when the conversation has no free row.
        """
        while True:
            with self._session_factory() as session, session.begin():
                statement = (
                    select(InboundMessage)
                    .where(
                        InboundMessage.conversation_id == conversation_id,
                        InboundMessage.status.in_(UNFINISHED),
                    )
                    .order_by(InboundMessage.id)
                    .limit(1)
                )
                if session.get_bind().dialect.name == "postgresql":
                    statement = statement.with_for_update()
                row = session.execute(statement).scalar_one_or_none()
                if row is None:
                    return None
                if row.status == PROCESSING and row.updated_at >= now - lease:
                    return None
                if row.attempts >= max_attempts:
                    row.status = FAILED
                    row.outcome = GAVE_UP_OUTCOME
                    row.updated_at = now
                    logger.error(
                        "Inbound SMS %d failed after %d attempts; it is not answered",
                        row.id,
                        row.attempts,
                    )
                    continue

                row.status = PROCESSING
                row.attempts += 1
                row.updated_at = now
                session.flush()
                return ClaimedInbound(
                    id=row.id,
                    message_sid=row.message_sid,
                    conversation_id=row.conversation_id,
                    phone=row.phone,
                    body=row.body,
                    num_media=row.num_media,
                    truncated=row.truncated,
                    received_at=row.received_at,
                    attempts=row.attempts,
                )

    def finish(
        self,
        claim: ClaimedInbound,
        *,
        outcome: str,
        step: FinishStep | None = None,
        replies: list[Reply] | None = None,
        status: str = DONE,
        last_error: str | None = None,
        now: datetime | None = None,
    ) -> list[int] | None:
        """Mark a claimed row finished and queue its replies in one transaction.

        Args:
            claim: The row this worker claimed.
            outcome: How the row was handled, such as `turn` or `opt_out`.
            step: Runs in the transaction (such as recording an opt-out) and
                returns more replies to queue after `replies`.
            replies: SMS to queue, in sending order.
            status: `done` or `failed`.
            last_error: Error type for a failed row.
            now: Finish time (default: now).

        Returns:
            The ids of the queued outbox rows, or None when the claim was
            lost to another worker after the lease ran out (nothing is
            written then).
        """
        now = now or utcnow()
        with self._session_factory() as session, session.begin():
            result = session.execute(
                update(InboundMessage)
                .where(
                    InboundMessage.id == claim.id,
                    InboundMessage.status == PROCESSING,
                    InboundMessage.attempts == claim.attempts,
                )
                .values(
                    status=status,
                    outcome=outcome,
                    last_error=last_error,
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:
                return None

            queued = list(replies or [])
            if step is not None:
                queued += step(session)
            ids = []
            for reply in queued:
                row = enqueue_sms(
                    session,
                    to_number=claim.phone,
                    body=reply.body,
                    language=reply.language,
                    kind=reply.kind,
                    now=now,
                )
                row.inbound_message_id = claim.id
                ids.append(row.id)
            session.flush()
            return ids

    def release(
        self,
        claim: ClaimedInbound,
        last_error: str | None = None,
        now: datetime | None = None,
    ) -> bool:
        """Put a claimed row back to `pending`, such as at shutdown or to retry."""
        now = now or utcnow()
        with self._session_factory() as session, session.begin():
            result = session.execute(
                update(InboundMessage)
                .where(
                    InboundMessage.id == claim.id,
                    InboundMessage.status == PROCESSING,
                    InboundMessage.attempts == claim.attempts,
                )
                .values(status=PENDING, last_error=last_error, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            return result.rowcount == 1

    def due_conversations(
        self, now: datetime, lease: timedelta, limit: int = 200
    ) -> list[str]:
        """Return conversations with a pending row or a row whose lease ran out."""
        with self._session_factory() as session:
            rows = session.execute(
                select(InboundMessage.conversation_id)
                .where(
                    or_(
                        InboundMessage.status == PENDING,
                        and_(
                            InboundMessage.status == PROCESSING,
                            InboundMessage.updated_at < now - lease,
                        ),
                    )
                )
                .group_by(InboundMessage.conversation_id)
                .order_by(func.min(InboundMessage.id))
                .limit(limit)
            ).scalars()
            return list(rows)

    def count_before(self, claim: ClaimedInbound, window: timedelta) -> int:
        """Count the number's messages received in `window` before this one."""
        with self._session_factory() as session:
            return session.execute(
                select(func.count())
                .select_from(InboundMessage)
                .where(
                    InboundMessage.phone == claim.phone,
                    InboundMessage.id < claim.id,
                    InboundMessage.received_at > claim.received_at - window,
                )
            ).scalar_one()

    def notice_sent_within(self, claim: ClaimedInbound, window: timedelta) -> bool:
        """Return True if the number got a rate limit notice in `window` before this."""
        with self._session_factory() as session:
            found = session.execute(
                select(InboundMessage.id)
                .where(
                    InboundMessage.phone == claim.phone,
                    InboundMessage.outcome == RATE_LIMIT_NOTICE_OUTCOME,
                    InboundMessage.received_at > claim.received_at - window,
                )
                .limit(1)
            ).first()
            return found is not None

    def backlog(self, now: datetime | None = None) -> InboundBacklog:
        """Count unfinished rows and measure the age of the oldest."""
        now = now or utcnow()
        with self._session_factory() as session:
            count, oldest = session.execute(
                select(func.count(), func.min(InboundMessage.received_at)).where(
                    InboundMessage.status.in_(UNFINISHED)
                )
            ).one()
        if oldest is not None and oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=now.tzinfo)
        age = (now - oldest).total_seconds() if oldest is not None else 0.0
        return InboundBacklog(count=count, oldest_age_seconds=max(age, 0.0))

    def counts_by_outcome(self) -> dict[tuple[str, str], int]:
        """Count rows by (status, outcome)."""
        with self._session_factory() as session:
            rows = session.execute(
                select(InboundMessage.status, InboundMessage.outcome, func.count())
                .group_by(InboundMessage.status, InboundMessage.outcome)
            ).all()
        return {(status, outcome or ""): count for status, outcome, count in rows}
