"""Deleting a conversation at the member's request, and purging old conversations.

Rasa's SQL tracker store saves a turn by counting the rows stored since the
latest `session_started` event and appending the tracker's events after that
count (Rasa 3.6, `SQLTrackerStore.save`). Deleting rows of the current session
while Rasa has the tracker loaded would make that count too small, and the
next save would write the whole session back. So a deletion has two steps:

1. During the turn, `ConversationEraser.request_deletion` pseudonymises the
   conversation's unworked tickets, closes them as withdrawn by the member,
   cancels their pending SMS and stores a `ConversationDeletion` row. The
   action then returns a `SessionStarted` event, so the tracker that Rasa
   saves ends in a new, empty session.
2. After Rasa saved that turn, `ConversationEraser.erase_pending` deletes
   every event older than the new session's `session_started` row, and the
   conversation state. Those rows are outside Rasa's count, so no later save
   can write them back.

`python -m bot.privacy purge [--days N] [--dry-run]` removes conversations
whose last event is older than `RETENTION_DAYS`, and older sessions of
conversations that are still in use. Tickets are care records and are never
purged here.

Every function blocks, except the `ConversationEraser.run_*` loops, so async
callers use `bot.db.run_in_thread`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Sequence

from sqlalchemy import (
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    delete,
    exists,
    func,
    inspect,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from bot.db import run_in_thread
from bot.models import (
    TICKET_STATUS_NEW,
    ConversationDeletion,
    ConversationState,
    OutboxMessage,
    Ticket,
    utcnow,
)
from bot.outbox import FAILED, PENDING, UNKNOWN
from bot.workspace import workflow
from bot.workspace.audit import SYSTEM_ACTOR

logger = logging.getLogger(__name__)

# A valid E.164 string that no phone has, because North American area codes
# never start with 0. `bot.answers.parse_phone` rejects it too.
PSEUDONYMISED_PHONE = "+10000000000"
# Prefix of the random conversation id a pseudonymised ticket gets, because an
# SMS conversation id is a keyed hash of the member's phone number.
PSEUDONYMISED_CONVERSATION_PREFIX = "pseudonymised-"
CANCELLED_SMS_ERROR = "cancelled: member deleted the conversation"
# A pseudonymised ticket is closed with the reason staff use when the member
# declines. The note explains the close to the coordinator.
WITHDRAWN_CLOSE_REASON = "declined"
WITHDRAWN_NOTE = (
    "The member canceled this request and deleted the conversation in the "
    "assistant. Their name, contact details, member ID and screening answers "
    "were removed, so the ticket was closed without a text to the member."
)
# Outbox rows that will still be sent unless cancelled. A `sending` row is in
# flight and is left to the sender.
CANCELLABLE_SMS_STATUSES = (PENDING, UNKNOWN)

SESSION_STARTED = "session_started"
DEFAULT_SETTLE_SECONDS = 2.0
DEFAULT_IDLE_SECONDS = 120.0

# Rasa's `events` table, as `rasa.core.tracker_store.SQLTrackerStore` (Rasa
# 3.6) creates it in the same database. Rasa owns it, so it has its own
# metadata and no Alembic migration.
RASA_EVENTS = Table(
    "events",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255), nullable=False, index=True),
    Column("type_name", String(255), nullable=False),
    Column("timestamp", Float),
    Column("intent_name", String(255)),
    Column("action_name", String(255)),
    Column("data", Text),
)


@dataclass(frozen=True)
class DeletionReceipt:
    """Result of a deletion request in the ticket store.

    Attributes:
        request_id: Id of the stored `ConversationDeletion`.
        cancelled_references: Reference codes of the unworked tickets that
            were pseudonymised and closed.
        kept_references: Reference codes of the tickets staff already work
            on, which are kept unchanged.
        cancelled_sms: Outbox rows cancelled before they were sent.
    """

    request_id: int
    cancelled_references: tuple[str, ...]
    kept_references: tuple[str, ...]
    cancelled_sms: int


@dataclass(frozen=True)
class PurgeReport:
    """Counts of one purge run, without any personal data."""

    days: int
    cutoff: datetime
    dry_run: bool
    conversations: int
    conversation_events: int
    old_session_events: int
    conversation_states: int
    deletions_completed: int
    deletions_waiting: int
    deletion_requests: int

    def lines(self) -> list[str]:
        """Return the report as lines of text for the command line."""
        verb = "would be removed" if self.dry_run else "removed"
        lines = [
            f"Retention: {self.days} days (data last used before "
            f"{self.cutoff.isoformat(timespec='seconds')})",
            f"conversations {verb}: {self.conversations}",
            f"  their tracker events: {self.conversation_events}",
            f"tracker events of earlier sessions {verb}: {self.old_session_events}",
            f"conversation_state rows {verb}: {self.conversation_states}",
            f"deletion requests finished now: {self.deletions_completed}",
            f"deletion requests still waiting: {self.deletions_waiting}",
            f"finished deletion requests {verb}: {self.deletion_requests}",
        ]
        if self.dry_run:
            lines.append("Dry run: nothing was deleted.")
        return lines


def has_events_table(session: Session) -> bool:
    """Return True when Rasa's `events` table exists in the session's database."""
    return inspect(session.connection()).has_table(RASA_EVENTS.name)


class ConversationEraser:
    """Carry out members' requests to delete a conversation.

    Args:
        session_factory: A session factory from `bot.db.make_session_factory`.
        clock: Returns the current time as an aware UTC datetime.
        settle_seconds: Seconds to wait after the new session started before
            deleting, so the channel has stored the turn's conversation state.
        idle_seconds: Seconds without any event after which a request whose
            turn was never saved is carried out anyway.
    """

    def __init__(
        self,
        session_factory: Callable[[], Session],
        *,
        clock: Callable[[], datetime] = utcnow,
        settle_seconds: float = DEFAULT_SETTLE_SECONDS,
        idle_seconds: float = DEFAULT_IDLE_SECONDS,
    ):
        self._session_factory = session_factory
        self._clock = clock
        self.settle_seconds = settle_seconds
        self.idle_seconds = idle_seconds
        self._stopping = False

    def request_deletion(self, conversation_id: str) -> DeletionReceipt:
        """Pseudonymise and close the unworked tickets, and queue the erasure.

        Everything happens in one transaction. Each ticket of the
        conversation with status `new` loses the name, member ID, date of
        birth, call time, screening data, link to earlier tickets and
        conversation id. Its phone becomes `PSEUDONYMISED_PHONE`, and
        `pseudonymised_at` records when. The workflow then closes it as the
        system, with the close reason `declined` and a note saying why; no
        status SMS is queued for a pseudonymised ticket. Its SMS rows get the
        same phone, and those not yet sent are cancelled. Tickets with any
        other status are kept. A `ConversationDeletion` row queues the
        deletion of the tracker events for `erase_pending`.

        Args:
            conversation_id: Rasa's sender id of the conversation.

        Returns:
            The tickets changed and kept, and the SMS cancelled.

        Raises:
            ValueError: `conversation_id` is empty.
            sqlalchemy.exc.SQLAlchemyError: The database failed; nothing was
                changed.
            bot.workspace.workflow.WorkflowValueError: The workflow rejected
                the close, such as for a clock earlier than the ticket's
                creation day; nothing was changed.
        """
        if not conversation_id:
            raise ValueError("conversation_id is required")
        now = self._clock()

        with self._session_factory() as session, session.begin():
            tickets = session.execute(
                select(Ticket.id, Ticket.reference, Ticket.status)
                .where(Ticket.conversation_id == conversation_id)
                .order_by(Ticket.id)
            ).all()

            pseudonymised: list[int] = []
            cancelled: list[str] = []
            kept: list[str] = []
            for ticket_id, reference, status in tickets:
                unworked = status == TICKET_STATUS_NEW
                if unworked and _pseudonymise(session, ticket_id, now):
                    _close_withdrawn(session, reference, now)
                    pseudonymised.append(ticket_id)
                    cancelled.append(reference)
                else:
                    kept.append(reference)
            cancelled_sms = _cancel_sms(session, pseudonymised, now)

            request = ConversationDeletion(
                conversation_id=conversation_id, requested_at=now
            )
            session.add(request)
            session.flush()
            request_id = request.id

        logger.info(
            "Deletion request %d stored: %d tickets pseudonymised and closed, "
            "%d kept, %d SMS cancelled",
            request_id,
            len(cancelled),
            len(kept),
            cancelled_sms,
        )
        return DeletionReceipt(request_id, tuple(cancelled), tuple(kept), cancelled_sms)

    def erase_pending(self) -> tuple[int, int]:
        """Delete the tracker events and state of every request whose turn is saved.

        A request is carried out once Rasa has stored the `session_started`
        event that the deletion action returned, and `settle_seconds` have
        passed. If that event never arrives (the action's events were lost),
        it is carried out once the conversation has had no event for
        `idle_seconds`.

        Returns:
            The number of requests carried out now, and the number still
            waiting.
        """
        with self._session_factory() as session:
            pending = session.execute(
                select(
                    ConversationDeletion.id,
                    ConversationDeletion.conversation_id,
                    ConversationDeletion.requested_at,
                )
                .where(ConversationDeletion.events_deleted_at.is_(None))
                .order_by(ConversationDeletion.id)
            ).all()

        completed = 0
        for request_id, conversation_id, requested_at in pending:
            if self._erase(request_id, conversation_id, requested_at):
                completed += 1
        return completed, len(pending) - completed

    def _erase(
        self, request_id: int, conversation_id: str, requested_at: datetime
    ) -> bool:
        now = self._clock()
        with self._session_factory() as session, session.begin():
            events_deleted = 0
            if has_events_table(session):
                condition = self._erasable_events(
                    session, conversation_id, requested_at, now
                )
                if condition is None:
                    return False
                events_deleted = session.execute(
                    delete(RASA_EVENTS).where(condition)
                ).rowcount
            elif (now - requested_at).total_seconds() < self.idle_seconds:
                return False

            # NOTE: only Rasa's events and the conversation state are deleted.
            # SMS text that the SMS channel keeps in its own tables (inbound
            # messages, reply bodies in the outbox) is not deleted here.
            states_deleted = session.execute(
                delete(ConversationState).where(
                    ConversationState.conversation_id == conversation_id
                )
            ).rowcount
            session.execute(
                update(ConversationDeletion)
                .where(
                    ConversationDeletion.id == request_id,
                    ConversationDeletion.events_deleted_at.is_(None),
                )
                .values(events_deleted_at=now)
            )

        logger.info(
            "Deletion request %d carried out: %d tracker events and %d conversation "
            "state rows deleted",
            request_id,
            events_deleted,
            states_deleted,
        )
        return True

    def _erasable_events(
        self,
        session: Session,
        conversation_id: str,
        requested_at: datetime,
        now: datetime,
    ) -> ColumnElement | None:
        """Return the WHERE clause of the events to delete, or None to wait."""
        events = RASA_EVENTS.c
        of_conversation = events.sender_id == conversation_id
        now_ts = now.timestamp()

        new_session = session.execute(
            select(events.timestamp)
            .where(
                of_conversation,
                events.type_name == SESSION_STARTED,
                events.timestamp >= requested_at.timestamp(),
            )
            .order_by(events.id)
            .limit(1)
        ).scalar_one_or_none()
        if new_session is not None:
            if now_ts - new_session < self.settle_seconds:
                return None
            # Rasa counts only rows at or after the latest session start, so
            # rows before it can go while a turn is running.
            return and_(
                of_conversation,
                or_(events.timestamp < new_session, events.timestamp.is_(None)),
            )

        last_event = session.execute(
            select(func.max(events.timestamp)).where(of_conversation)
        ).scalar_one_or_none()
        quiet_since = max(requested_at.timestamp(), last_event or 0.0)
        if now_ts - quiet_since < self.idle_seconds:
            return None
        # NOTE: without the new session's row, this deletes rows that Rasa
        # counts. It waits for `idle_seconds` of quiet first, but a turn that
        # is still running after that would write its session back.
        logger.warning(
            "Deletion of conversation %s: the deletion turn was never saved, so "
            "all its events are deleted after %.0f s without activity",
            conversation_id,
            self.idle_seconds,
        )
        return of_conversation

    def pending_count(self) -> int:
        """Return the number of requests whose events are not deleted yet."""
        with self._session_factory() as session:
            return session.execute(
                select(func.count()).where(
                    ConversationDeletion.events_deleted_at.is_(None)
                )
            ).scalar_one()

    async def run_until_idle(
        self, poll_seconds: float = 0.5, max_seconds: float | None = None
    ) -> int | None:
        """Call `erase_pending` until no request waits or time runs out.

        Args:
            poll_seconds: Seconds between two passes.
            max_seconds: Time limit; default three times `idle_seconds`, long
                enough for a request whose turn was never saved.

        Returns:
            The number of requests still waiting when it returned, or None
            when its last pass failed (the error is logged).
        """
        loop = asyncio.get_running_loop()
        limit = max_seconds if max_seconds is not None else 3 * self.idle_seconds
        deadline = loop.time() + limit
        waiting: int | None = None
        while not self._stopping:
            waiting = await self._pass(poll_seconds)
            if waiting == 0:
                return 0
            if loop.time() >= deadline:
                logger.warning(
                    "Deletion requests still wait after %.0f s; the next deletion "
                    "or `python -m bot.privacy purge` carries them out",
                    limit,
                )
                break
            await asyncio.sleep(poll_seconds)
        return waiting

    async def run_forever(self, poll_seconds: float = 2.0) -> None:
        """Call `erase_pending` every `poll_seconds` until `stop()` is called."""
        logger.info("Conversation eraser started (poll %.1f s)", poll_seconds)
        while not self._stopping:
            await self._pass(poll_seconds)
            await asyncio.sleep(poll_seconds)
        logger.info("Conversation eraser stopped")

    def stop(self) -> None:
        """Make `run_forever` and `run_until_idle` return after the current pass."""
        self._stopping = True

    async def _pass(self, poll_seconds: float) -> int | None:
        """Run `erase_pending` once; return the requests waiting, or None on error."""
        try:
            _, waiting = await run_in_thread(self.erase_pending)
        except Exception:  # a background loop must survive a failed pass
            logger.exception(
                "Erasing conversations failed; trying again in %.1f s", poll_seconds
            )
            return None
        return waiting


def _pseudonymise(session: Session, ticket_id: int, now: datetime) -> bool:
    """Strip a ticket's personal data, if staff have not started on it."""
    result = session.execute(
        update(Ticket)
        .where(Ticket.id == ticket_id, Ticket.status == TICKET_STATUS_NEW)
        .values(
            name=None,
            member_id=None,
            date_of_birth=None,
            phone=PSEUDONYMISED_PHONE,
            call_time=None,
            # SQL NULL: a plain None would store the JSON value null.
            screening_profile=null(),
            screening_result=null(),
            previous_ticket_id=None,
            conversation_id=PSEUDONYMISED_CONVERSATION_PREFIX + uuid.uuid4().hex,
            pseudonymised_at=now,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _close_withdrawn(session: Session, reference: str, now: datetime) -> None:
    """Close a just-pseudonymised ticket as the system, with a note saying why.

    The row lock taken by `_pseudonymise` keeps staff from changing the
    ticket until the transaction ends, so the version read here is current.
    """
    ticket = workflow.get_ticket(session, reference)
    workflow.change_status(
        session,
        reference,
        to_status=workflow.CLOSED,
        expected_version=ticket.version,
        actor=SYSTEM_ACTOR,
        close_reason=WITHDRAWN_CLOSE_REASON,
        now=now,
    )
    workflow.add_note(
        session, reference, body=WITHDRAWN_NOTE, actor=SYSTEM_ACTOR, now=now
    )


def _cancel_sms(session: Session, ticket_ids: list[int], now: datetime) -> int:
    """Cancel the unsent SMS of these tickets and replace the number on all of them."""
    if not ticket_ids:
        return 0
    cancelled = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.ticket_id.in_(ticket_ids),
            OutboxMessage.status.in_(CANCELLABLE_SMS_STATUSES),
        )
        .values(
            status=FAILED,
            last_error=CANCELLED_SMS_ERROR,
            next_attempt_at=None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    # NOTE: a row in `sending` is being sent right now. The sender has the
    # real number in memory, so that one SMS may still go out.
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.ticket_id.in_(ticket_ids))
        .values(to_number=PSEUDONYMISED_PHONE)
        .execution_options(synchronize_session=False)
    )
    return cancelled


def purge_conversations(
    session_factory: Callable[[], Session],
    days: int,
    *,
    dry_run: bool = False,
    now: datetime | None = None,
) -> PurgeReport:
    """Delete conversation data last used more than `days` days ago.

    It removes every tracker event of a conversation whose last event is
    older than the cutoff. In other conversations it removes the events older
    than the cutoff that precede the latest `session_started` event. Rasa no
    longer loads those, so this is safe while the member is chatting. It also
    removes conversation state rows not updated since the cutoff whose
    conversation has no newer event, and finished deletion requests older
    than the cutoff. Waiting deletion requests are carried out first.
    Tickets are not touched.

    Args:
        session_factory: A session factory from `bot.db.make_session_factory`.
        days: Retention in days, at least 1.
        dry_run: Count only; delete nothing.
        now: Current time (default: now).

    Returns:
        Counts of what was (or, for a dry run, would be) removed.

    Raises:
        ValueError: `days` is below 1.
        sqlalchemy.exc.SQLAlchemyError: The database failed; the purge
            transaction was rolled back.
    """
    if days < 1:
        raise ValueError(f"days={days} is invalid; keep data at least 1 day")
    now = now or utcnow()
    cutoff = now - timedelta(days=days)

    eraser = ConversationEraser(session_factory, clock=lambda: now)
    if dry_run:
        completed, waiting = 0, eraser.pending_count()
    else:
        completed, waiting = eraser.erase_pending()

    with session_factory() as session, session.begin():
        counts = _purge(session, cutoff, dry_run)

    report = PurgeReport(
        days=days,
        cutoff=cutoff,
        dry_run=dry_run,
        deletions_completed=completed,
        deletions_waiting=waiting,
        **counts,
    )
    logger.info(
        "Purge%s: %d conversations, %d of their events, %d events of earlier "
        "sessions, %d conversation states, %d deletion requests",
        " (dry run)" if dry_run else "",
        report.conversations,
        report.conversation_events,
        report.old_session_events,
        report.conversation_states,
        report.deletion_requests,
    )
    return report


def _purge(session: Session, cutoff: datetime, dry_run: bool) -> dict[str, int]:
    cutoff_ts = cutoff.timestamp()
    counts = {
        "conversations": 0,
        "conversation_events": 0,
        "old_session_events": 0,
    }

    recent_event = None
    if has_events_table(session):
        events = RASA_EVENTS.c
        # Not correlated: inside a DELETE on `events` this must still read
        # the whole table.
        stale = (
            select(events.sender_id)
            .group_by(events.sender_id)
            .having(func.max(events.timestamp) < cutoff_ts)
            .correlate(None)
        )
        counts["conversations"] = session.execute(
            select(func.count()).select_from(stale.subquery())
        ).scalar_one()

        later = RASA_EVENTS.alias("later")
        latest_session_start = (
            select(func.max(later.c.timestamp))
            .where(
                later.c.sender_id == events.sender_id,
                later.c.type_name == SESSION_STARTED,
            )
            .scalar_subquery()
        )
        old_sessions = and_(
            events.timestamp < cutoff_ts,
            events.timestamp < latest_session_start,
            events.sender_id.not_in(stale),
        )
        counts["old_session_events"] = _remove(
            session, RASA_EVENTS, old_sessions, dry_run
        )
        counts["conversation_events"] = _remove(
            session, RASA_EVENTS, events.sender_id.in_(stale), dry_run
        )
        recent_event = exists().where(
            events.sender_id == ConversationState.conversation_id,
            events.timestamp >= cutoff_ts,
        )

    idle_state = ConversationState.updated_at < cutoff
    if recent_event is not None:
        idle_state = and_(idle_state, ~recent_event)
    counts["conversation_states"] = _remove(
        session, ConversationState.__table__, idle_state, dry_run
    )
    counts["deletion_requests"] = _remove(
        session,
        ConversationDeletion.__table__,
        and_(
            ConversationDeletion.events_deleted_at.is_not(None),
            ConversationDeletion.requested_at < cutoff,
        ),
        dry_run,
    )
    return counts


def _remove(
    session: Session, table: Table, condition: ColumnElement, dry_run: bool
) -> int:
    """Delete the rows matching `condition`, or only count them for a dry run."""
    if dry_run:
        return session.execute(
            select(func.count()).select_from(table).where(condition)
        ).scalar_one()
    return session.execute(
        delete(table).where(condition).execution_options(synchronize_session=False)
    ).rowcount


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot.privacy",
        description="Maintain the privacy of stored conversations.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    purge = commands.add_parser(
        "purge",
        help="delete conversation data older than the retention period",
        description=(
            "Delete tracker events and conversation state of conversations last "
            "used more than N days ago, finish waiting deletion requests, and "
            "print how many rows were removed. Tickets are kept."
        ),
    )
    purge.add_argument(
        "--days",
        type=int,
        default=None,
        help="retention in days (default: RETENTION_DAYS, else 365)",
    )
    purge.add_argument(
        "--dry-run",
        action="store_true",
        help="count what would be removed without deleting anything",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit status."""
    from bot.db import get_session_factory
    from bot.settings import get_settings

    args = _build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )

    days = args.days if args.days is not None else get_settings().retention_days
    if days < 1:
        print(f"error: --days {days} is invalid; use 1 or more", file=sys.stderr)
        return 2
    try:
        report = purge_conversations(get_session_factory(), days, dry_run=args.dry_run)
    except SQLAlchemyError as error:
        # The class and the driver's first line name the failure without
        # echoing the statement's parameters.
        reason = str(getattr(error, "orig", error)).splitlines()[0]
        print(
            f"error: purge failed ({type(error).__name__}: {reason}); its "
            "transaction was rolled back. Check DATABASE_URL and that the "
            "database is migrated.",
            file=sys.stderr,
        )
        return 1
    print("\n".join(report.lines()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
