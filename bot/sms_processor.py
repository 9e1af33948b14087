"""Background processing of inbound SMS, one worker per conversation.

The Twilio webhook stores each message (`bot.sms_inbound`) and answers
Twilio at once. `SmsProcessor` then handles the stored rows on the same
event loop: one worker task per conversation claims that conversation's rows
in arrival order, while different members are served in parallel. Every
reply becomes an outbox row in the transaction that marks the inbound row
done, and the processor's own `OutboxSender` is woken to send it.

What a message gets, checked in this order:

1. An opt-out keyword or request: the opt-out is recorded and confirmed once.
2. From an opted-out number: START, UNSTOP or YES opts in again (and is
   confirmed); a crisis message gets the crisis SMS; anything else is
   stored and not answered.
3. HELP, INFO or AYUDA: the help SMS.
4. No text: a notice that only text is read (pictures) or that it was empty.
5. Over `MAX_SMS_CHARS` characters: the crisis SMS if the kept part reads as
   a crisis, else a request for a shorter message.
6. Over the per-number rate limit: one notice per window, then silence.
   Crisis messages are never rate limited.
7. Anything else: a dialogue turn, whose messages are rendered as SMS.

At start and every `sweep_seconds` the processor also picks up stored rows
that no worker holds: rows left `pending` by a restart, and `processing` rows
whose worker died (after `lease_seconds`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Awaitable, Callable

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from bot.db import run_in_thread
from bot.metrics import Counter, Metric, render
from bot.models import InboundMessage, OutboxMessage, utcnow
from bot.opt_outs import (
    OPT_OUT_CONFIRMATION_KIND,
    is_opted_out,
    opted_out_phones,
    record_opt_in,
    record_opt_out,
)
from bot.outbox import FAILED as OUTBOX_FAILED
from bot.outbox import (
    NOT_SENT,
    SENT,
    OutboxSender,
    outbox_backlog,
    outbox_counts,
    record_delivery_status,
)
from bot.sessions import sms_conversation_id
from bot.settings import Settings
from bot.safety import detect_crisis
from bot.sms import render_sms, sms_language
from bot.sms_format import render_turn
from bot.sms_inbound import (
    FAILED,
    RATE_LIMIT_NOTICE_OUTCOME,
    ClaimedInbound,
    FinishStep,
    InboundSms,
    InboundStore,
    Reply,
)
from bot.sms_keywords import HELP, OPT_IN, OPT_OUT, KeywordMatch, classify_keyword

logger = logging.getLogger(__name__)

REPLY_KIND = "reply"
TURN_FAILED_KIND = "turn_failed"
# Seconds between two backlog warnings while the backlog stays over a limit.
BACKLOG_WARNING_INTERVAL = 300.0

# (conversation id, phone number, text) -> the bot's messages of the turn.
RunTurn = Callable[[str, str, str], Awaitable[list[dict]]]
# conversation id -> the member's `language` slot value, if known.
LanguageLookup = Callable[[str], Awaitable[str | None]]


@dataclass
class SmsMetrics:
    """Process-local counters of the SMS channel."""

    webhook_requests: Counter = field(
        default_factory=lambda: Counter(
            "hpsm_sms_webhook_requests_total",
            "Twilio webhook requests by result (accepted, duplicate, forbidden, "
            "invalid).",
            ("result",),
        )
    )
    handled: Counter = field(
        default_factory=lambda: Counter(
            "hpsm_sms_inbound_handled_total",
            "Inbound SMS handled by this process, by outcome.",
            ("outcome",),
        )
    )
    turns: Counter = field(
        default_factory=lambda: Counter(
            "hpsm_sms_turns_total",
            "Dialogue turns run for inbound SMS by this process, by result.",
            ("result",),
        )
    )

    def counters(self) -> list[Counter]:
        """Return every counter, in rendering order."""
        return [self.webhook_requests, self.handled, self.turns]


@dataclass(frozen=True)
class _Decision:
    """The handling of one inbound row: its outcome and the replies to queue."""

    outcome: str
    replies: list[Reply] = field(default_factory=list)
    step: FinishStep | None = None


def _template(kind: str, language: str | None, outbox_kind: str | None = None) -> Reply:
    language = sms_language(language)
    return Reply(render_sms(kind, language), language, outbox_kind or kind)


class SmsProcessor:
    """Store inbound SMS, answer them in the background and send the replies.

    Args:
        session_factory: A session factory from `bot.db.make_session_factory`.
        settings: Settings (app secret, rate limit, backlog limits, Twilio).
        run_turn: Runs one dialogue turn and returns the bot's messages.
        member_language: Returns the member's `language` slot, if known.
        sender: The outbox sender to run and wake (default: a new one on
            `session_factory`).
        metrics: Counters to increment (default: new ones).
        lease_seconds: Seconds after which a `processing` row counts as
            abandoned by a dead worker and is claimed again.
        sweep_seconds: Seconds between passes that pick up unclaimed rows
            and check the outbox backlog.
        max_attempts: Attempts at one message before it is answered with an
            apology and marked `failed`.
        retry_seconds: Delay before the second attempt; later ones grow
            linearly.
        clock: Returns the current aware UTC time.
    """

    def __init__(
        self,
        session_factory: Callable[[], Session],
        settings: Settings,
        run_turn: RunTurn,
        member_language: LanguageLookup,
        *,
        sender: OutboxSender | None = None,
        metrics: SmsMetrics | None = None,
        lease_seconds: float = 300.0,
        sweep_seconds: float = 5.0,
        max_attempts: int = 3,
        retry_seconds: float = 2.0,
        clock: Callable = utcnow,
    ):
        self._session_factory = session_factory
        self._settings = settings
        self._store = InboundStore(session_factory)
        self._run_turn = run_turn
        self._member_language = member_language
        self._sender = sender or OutboxSender(session_factory, settings)
        self.metrics = metrics or SmsMetrics()
        self._lease = timedelta(seconds=lease_seconds)
        self._sweep_seconds = sweep_seconds
        self._max_attempts = max_attempts
        self._retry_seconds = retry_seconds
        self._clock = clock

        self._workers: dict[str, asyncio.Task] = {}
        self._signalled: set[str] = set()
        self._background: list[asyncio.Task] = []
        self._started = False
        self._stopping = False
        self._backlog_warned_at: float | None = None

    @property
    def running(self) -> bool:
        """Whether `start()` ran and `stop()` has not."""
        return self._started and not self._stopping

    # Intake

    async def accept(self, inbound: InboundSms) -> tuple[int, bool]:
        """Store an inbound SMS and schedule its conversation's worker.

        Returns:
            The inbound row id and whether this delivery created it (False
            for a repeated MessageSid).
        """
        conversation_id = sms_conversation_id(self._settings.app_secret, inbound.phone)
        row_id, created = await run_in_thread(
            self._store.store, inbound, conversation_id, self._clock()
        )
        self.schedule(conversation_id)
        return row_id, created

    def schedule(self, conversation_id: str) -> None:
        """Make sure a worker handles the conversation's unfinished rows."""
        if self._stopping:
            # The row stays pending; the next start picks it up.
            return
        self._signalled.add(conversation_id)
        if conversation_id not in self._workers:
            self._workers[conversation_id] = asyncio.create_task(
                self._work(conversation_id), name=f"sms-worker-{conversation_id}"
            )

    # Lifecycle

    async def start(self) -> None:
        """Start the outbox sender and the sweep, then pick up stored rows."""
        if self._started:
            return
        self._started = True
        self._background = [
            asyncio.create_task(
                self._sender.run_forever(poll_seconds=self._sweep_seconds),
                name="sms-outbox-sender",
            ),
            asyncio.create_task(self._sweep_forever(), name="sms-sweep"),
        ]
        logger.info("SMS processor started (sweep every %.1f s)", self._sweep_seconds)

    async def stop(self, grace_seconds: float = 10.0) -> None:
        """Stop taking rows, let running turns finish, then stop the sender.

        Turns still running after `grace_seconds` are cancelled and their
        rows put back to `pending`, so the next start answers them.
        """
        if self._stopping:
            return
        self._stopping = True
        workers = list(self._workers.values())
        if workers:
            _, still_running = await asyncio.wait(workers, timeout=grace_seconds)
            for task in still_running:
                task.cancel()
            await asyncio.gather(*still_running, return_exceptions=True)
        if not self._started:
            return

        self._sender.stop()
        for task in self._background:
            if task.get_name() == "sms-sweep":
                task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        logger.info("SMS processor stopped")

    async def recover(self) -> int:
        """Schedule every conversation with an unclaimed row; return how many."""
        conversations = await run_in_thread(
            self._store.due_conversations, self._clock(), self._lease
        )
        for conversation_id in conversations:
            self.schedule(conversation_id)
        return len(conversations)

    async def _sweep_forever(self) -> None:
        while not self._stopping:
            try:
                recovered = await self.recover()
                if recovered:
                    logger.debug("Sweep scheduled %d conversations", recovered)
                await self.check_backlog()
            except Exception:
                logger.exception(
                    "SMS sweep failed; trying again in %.1f s", self._sweep_seconds
                )
            await asyncio.sleep(self._sweep_seconds)

    # Workers

    async def _work(self, conversation_id: str) -> None:
        try:
            while not self._stopping:
                self._signalled.discard(conversation_id)
                claim = await run_in_thread(
                    self._store.claim_next,
                    conversation_id,
                    self._clock(),
                    self._lease,
                    self._max_attempts,
                )
                if claim is None:
                    # A row stored while the claim ran sets the signal again.
                    if conversation_id in self._signalled:
                        continue
                    return
                try:
                    await self._process(claim)
                except asyncio.CancelledError:
                    await run_in_thread(self._store.release, claim, "cancelled")
                    raise
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception(
                "SMS worker for %s stopped; the sweep schedules it again",
                conversation_id,
            )
        finally:
            if self._workers.get(conversation_id) is asyncio.current_task():
                del self._workers[conversation_id]

    async def _process(self, claim: ClaimedInbound) -> None:
        # NOTE: the dialogue turn and the commit of its replies are two steps.
        # A crash between them leaves the row `processing`, so the turn runs
        # again after the lease: one answer, but the tracker has it twice.
        try:
            decision = await self._decide(claim)
            queued = await run_in_thread(
                self._store.finish,
                claim,
                outcome=decision.outcome,
                replies=decision.replies,
                step=decision.step,
                now=self._clock(),
            )
        except Exception as error:
            await self._fail(claim, error)
            return

        if queued is None:
            logger.warning(
                "Inbound SMS %d: claim lost after the lease ran out; its replies "
                "were dropped",
                claim.id,
            )
            return
        self.metrics.handled.inc(outcome=decision.outcome)
        logger.info(
            "Inbound SMS %d handled: %s, outbox rows %s",
            claim.id,
            decision.outcome,
            queued or "none",
        )
        if queued:
            self._sender.notify()

    async def _fail(self, claim: ClaimedInbound, error: Exception) -> None:
        reason = type(error).__name__
        if claim.attempts < self._max_attempts:
            delay = self._retry_seconds * claim.attempts
            logger.warning(
                "Inbound SMS %d: attempt %d failed (%s); retrying in %.0f s",
                claim.id,
                claim.attempts,
                reason,
                delay,
                exc_info=error,
            )
            await run_in_thread(self._store.release, claim, reason)
            # The worker sleeps, so later messages of the member wait in order.
            await asyncio.sleep(delay)
            return

        logger.error(
            "Inbound SMS %d failed after %d attempts (%s); the member gets an "
            "apology",
            claim.id,
            claim.attempts,
            reason,
            exc_info=error,
        )
        language = await self._language(claim.conversation_id)
        apology = _template("turn_failed", language, TURN_FAILED_KIND)
        queued = await run_in_thread(
            self._store.finish,
            claim,
            outcome="turn_failed",
            replies=[apology],
            status=FAILED,
            last_error=reason,
            now=self._clock(),
        )
        self.metrics.handled.inc(outcome="turn_failed")
        if queued:
            self._sender.notify()

    # Decisions

    async def _language(self, conversation_id: str) -> str:
        try:
            return sms_language(await self._member_language(conversation_id))
        except Exception:
            logger.warning(
                "Language of %s unknown; using English", conversation_id, exc_info=True
            )
            return sms_language(None)

    def _opted_out(self, phone: str) -> bool:
        with self._session_factory() as session:
            return is_opted_out(session, phone)

    async def _decide(self, claim: ClaimedInbound) -> _Decision:
        message = claim.body
        keyword = classify_keyword(message) if message else None
        crisis = detect_crisis(message) if message else None
        opted_out = await run_in_thread(self._opted_out, claim.phone)
        language = await self._language(claim.conversation_id)
        keyword_language = (keyword.language if keyword else None) or language

        if keyword is not None and keyword.command == OPT_OUT:
            return self._opt_out(claim, keyword, keyword_language)
        if opted_out:
            # NOTE: HELP from an opted-out number is not answered either.
            if keyword is not None and keyword.command == OPT_IN:
                return self._opt_in(claim, keyword_language)
            if crisis is not None:
                return _Decision("crisis", [_template("crisis", crisis.language)])
            return _Decision("ignored_opted_out")
        if keyword is not None and keyword.command == HELP:
            return _Decision("help", [_template("help", keyword_language)])
        if not message:
            if claim.num_media:
                return _Decision(
                    "media_only", [_template("media_not_supported", language)]
                )
            return _Decision("empty", [_template("empty_message", language)])
        if claim.truncated:
            if crisis is not None:
                return _Decision("crisis", [_template("crisis", crisis.language)])
            return _Decision("too_long", [_template("too_long", language)])
        if crisis is None:
            limited = await self._rate_limited(claim, language)
            if limited is not None:
                return limited
        return await self._turn(claim, message)

    def _opt_out(
        self, claim: ClaimedInbound, keyword: KeywordMatch, language: str
    ) -> _Decision:
        now = self._clock()

        def step(session: Session) -> list[Reply]:
            created = record_opt_out(
                session,
                claim.phone,
                source=keyword.source,
                language=sms_language(language),
                now=now,
            )
            if not created:
                return []
            confirmation = _template(
                "opt_out_confirmation", language, OPT_OUT_CONFIRMATION_KIND
            )
            return [confirmation]

        return _Decision("opt_out", step=step)

    def _opt_in(self, claim: ClaimedInbound, language: str) -> _Decision:
        now = self._clock()

        def step(session: Session) -> list[Reply]:
            if not record_opt_in(session, claim.phone, now=now):
                return []
            return [_template("opt_in_confirmation", language)]

        return _Decision("opt_in", step=step)

    async def _rate_limited(
        self, claim: ClaimedInbound, language: str
    ) -> _Decision | None:
        window = timedelta(seconds=self._settings.sms_rate_limit_window_seconds)
        earlier = await run_in_thread(self._store.count_before, claim, window)
        if earlier < self._settings.sms_rate_limit_messages:
            return None
        notified = await run_in_thread(self._store.notice_sent_within, claim, window)
        if notified:
            return _Decision("rate_limited")
        logger.warning(
            "Inbound SMS %d: %s over %d messages in %d s; notice sent, later ones "
            "in the window are not answered",
            claim.id,
            claim.conversation_id,
            self._settings.sms_rate_limit_messages,
            self._settings.sms_rate_limit_window_seconds,
        )
        notice = _template("rate_limited", language)
        return _Decision(RATE_LIMIT_NOTICE_OUTCOME, [notice])

    async def _turn(self, claim: ClaimedInbound, message: str) -> _Decision:
        try:
            messages = await self._run_turn(
                claim.conversation_id, claim.phone, message
            )
        except Exception:
            self.metrics.turns.inc(result="error")
            raise
        self.metrics.turns.inc(result="ok")
        # The turn may have switched the language slot.
        language = await self._language(claim.conversation_id)
        replies = [Reply(body, language, REPLY_KIND) for body in render_turn(messages)]
        return _Decision("turn", replies)

    # Operations

    async def check_backlog(self) -> bool:
        """Log a warning while the outbox backlog is over its configured limits.

        The warning repeats every `BACKLOG_WARNING_INTERVAL` seconds while the
        backlog stays over a limit.

        Returns:
            Whether the backlog is over a limit.
        """
        backlog = await run_in_thread(self._outbox_backlog)
        rows_limit = self._settings.outbox_backlog_warn_rows
        age_limit = self._settings.outbox_backlog_warn_seconds
        over = backlog.count > rows_limit or backlog.oldest_age_seconds > age_limit
        now = time.monotonic()
        if over:
            due = (
                self._backlog_warned_at is None
                or now - self._backlog_warned_at >= BACKLOG_WARNING_INTERVAL
            )
            if due:
                logger.warning(
                    "SMS outbox backlog over its limit: %d rows waiting (limit %d), "
                    "oldest %.0f s (limit %d s). Check Twilio and the outbox sender",
                    backlog.count,
                    rows_limit,
                    backlog.oldest_age_seconds,
                    age_limit,
                )
                self._backlog_warned_at = now
        elif self._backlog_warned_at is not None:
            logger.info("SMS outbox backlog is back under its limits")
            self._backlog_warned_at = None
        return over

    def _outbox_backlog(self):
        with self._session_factory() as session:
            return outbox_backlog(session, self._clock())

    def record_delivery(
        self, provider_sid: str, delivery_status: str, error_code: str | None
    ) -> int | None:
        """Store a status callback on its outbox row; return the row id (blocks)."""
        with self._session_factory() as session, session.begin():
            return record_delivery_status(
                session, provider_sid, delivery_status, error_code, self._clock()
            )

    def database_ok(self) -> bool:
        """Run `SELECT 1`; return False (and log) when the database fails."""
        try:
            with self._session_factory() as session:
                session.execute(text("SELECT 1"))
            return True
        except Exception:
            logger.exception("Health check: database query failed")
            return False

    def metrics_text(self) -> str:
        """Render the channel's metrics in the Prometheus text format (blocks)."""
        now = self._clock()
        with self._session_factory() as session:
            outbox = outbox_counts(session)
            backlog = outbox_backlog(session, now)
            inbound_total = session.execute(
                select(func.count()).select_from(InboundMessage)
            ).scalar_one()
            opted_out = session.execute(
                select(func.count()).select_from(opted_out_phones().subquery())
            ).scalar_one()
            deliveries = session.execute(
                select(OutboxMessage.delivery_status, func.count())
                .where(OutboxMessage.delivery_status.is_not(None))
                .group_by(OutboxMessage.delivery_status)
            ).all()
        inbound_backlog = self._store.backlog(now)

        sends = Metric(
            "hpsm_sms_sends_total",
            "counter",
            "SMS outbox rows that reached a final status, by outcome and kind, "
            "counted from the outbox table (drops when old rows are purged).",
        )
        for (status, kind), count in outbox.items():
            if status in (SENT, OUTBOX_FAILED, NOT_SENT):
                sends.samples[(("kind", kind), ("outcome", status))] = count
        metrics = [counter.metric() for counter in self.metrics.counters()]
        metrics += [
            Metric(
                "hpsm_sms_inbound_messages_total",
                "counter",
                "Inbound SMS stored, counted from the inbound table.",
                {(): inbound_total},
            ),
            sends,
            Metric(
                "hpsm_sms_deliveries",
                "gauge",
                "Outbox rows by Twilio's latest delivery status callback.",
                {(("status", status),): count for status, count in deliveries},
            ),
            Metric(
                "hpsm_sms_outbox_backlog",
                "gauge",
                "SMS outbox rows waiting to be sent (pending, sending, unknown).",
                {(): backlog.count},
            ),
            Metric(
                "hpsm_sms_outbox_oldest_age_seconds",
                "gauge",
                "Seconds the oldest waiting outbox row has waited.",
                {(): round(backlog.oldest_age_seconds, 3)},
            ),
            Metric(
                "hpsm_sms_inbound_backlog",
                "gauge",
                "Inbound SMS not yet handled (pending, processing).",
                {(): inbound_backlog.count},
            ),
            Metric(
                "hpsm_sms_inbound_oldest_age_seconds",
                "gauge",
                "Seconds the oldest unhandled inbound SMS has waited.",
                {(): round(inbound_backlog.oldest_age_seconds, 3)},
            ),
            Metric(
                "hpsm_sms_opted_out_numbers",
                "gauge",
                "Phone numbers opted out of SMS now.",
                {(): opted_out},
            ),
        ]
        return render(metrics)
