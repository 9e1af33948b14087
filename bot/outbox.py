"""The SMS outbox: rows written with a ticket, sent afterwards through Twilio.

A row moves through these statuses:

- `pending`: waiting for its `next_attempt_at`.
- `sending`: claimed by one sender, which committed the claim (and
  `attempts + 1`) before calling Twilio.
- `sent`: Twilio accepted it; `provider_sid` is Twilio's message sid.
- `unknown`: the request may have reached Twilio but no response arrived
  (timeout, connection reset). Before any new attempt the sender lists the
  messages Twilio holds for the number and marks the row `sent` if one has
  the same body, so a member never gets the same message twice.
- `failed`: Twilio rejected it for good (invalid or unsubscribed number),
  retries ran out, or the number opted out of SMS (`bot.opt_outs`; crisis
  SMS and the opt-out confirmation are still sent).
- `not_sent`: Twilio credentials are not configured.

A `sending` row whose sender died is claimed again after `lease_seconds` and
treated like an `unknown` one.

Rows that answer an inbound SMS (`inbound_message_id` set) go to a number in
id order: such a row waits while an earlier one to the same number is still
`pending`, `sending` or `unknown`. A sender therefore claims at most one of
them per number in a batch. Other rows, such as ticket confirmations, are
neither held back nor hold replies back.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable
from urllib.parse import urlsplit

import aiohttp
from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from bot.db import run_in_thread, skip_locked
from bot.models import OutboxMessage, Ticket, utcnow
from bot.opt_outs import OPT_OUT_EXEMPT_KINDS, OPTED_OUT_ERROR, opted_out_phones
from bot.polling import PollingSender
from bot.settings import DEFAULT_TWILIO_API_BASE_URL, Settings

logger = logging.getLogger(__name__)

PENDING = "pending"
SENDING = "sending"
UNKNOWN = "unknown"
SENT = "sent"
FAILED = "failed"
NOT_SENT = "not_sent"

NOT_CONFIGURED_ERROR = "Twilio credentials are not configured"
UNFINISHED_STATUSES = (PENDING, SENDING, UNKNOWN)
# Twilio's delivery statuses, as status callbacks report them.
DELIVERY_STATUSES = (
    "accepted", "scheduled", "queued", "sending", "sent", "delivered",
    "undelivered", "failed", "read", "canceled", "receiving", "received",
)
STATUS_CALLBACK_PATH = "/webhooks/twilio/status"

# Besides 429 and 5xx, these HTTP statuses are retried because they mean the
# account settings are wrong, which an operator can fix without losing the SMS.
CONFIGURATION_STATUSES = (401, 403, 404)


def enqueue_sms(
    session: Session,
    *,
    to_number: str,
    body: str,
    language: str,
    kind: str,
    ticket_id: int | None = None,
    now: datetime | None = None,
) -> OutboxMessage:
    """Add a pending SMS to the outbox in the caller's transaction.

    The row is only flushed, never committed, so it is sent if and only if
    the caller's transaction commits.

    Args:
        session: The open session of the caller's transaction.
        to_number: E.164 number of the member.
        body: Message text without health information (see `bot.sms`).
        language: `en` or `es`.
        kind: Template name, such as `ticket_confirmation`.
        ticket_id: The ticket that caused the message, if any.
        now: Creation time (default: now).

    Returns:
        The new row, with its id.
    """
    now = now or utcnow()
    row = OutboxMessage(
        ticket_id=ticket_id,
        to_number=to_number,
        body=body,
        language=language,
        kind=kind,
        status=PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    return row


def rewrite_twilio_url(url: str, api_base_url: str) -> str:
    """Point a Twilio REST URL at `api_base_url`, keeping path and query.

    Only the scheme and host of URLs on `twilio.com` change. The library
    builds every Messages URL on `https://api.twilio.com` (twilio 8.2.2,
    `twilio/rest/api/ApiBase.py`).
    """
    base = api_base_url.rstrip("/")
    if base == DEFAULT_TWILIO_API_BASE_URL:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    if host != "twilio.com" and not host.endswith(".twilio.com"):
        return url
    rest = parts.path + (f"?{parts.query}" if parts.query else "")
    return base + rest


class BaseUrlAsyncHttpClient(AsyncTwilioHttpClient):
    """The twilio async HTTP client, sending to a configurable API base URL.

    It also applies `timeout` to every request (the library's client passes
    no timeout to aiohttp unless each call sets one) and logs requests at
    DEBUG without query parameters, which can contain phone numbers.

    Args:
        api_base_url: `TWILIO_API_BASE_URL`, such as a fake on 127.0.0.1.
        timeout: Total seconds for one request, including the response.
    """

    def __init__(self, api_base_url: str, timeout: float):
        super().__init__(pool_connections=True, timeout=timeout, logger=logger)
        self.api_base_url = api_base_url.rstrip("/")

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Any:
        """Send the request to the configured base URL with a timeout."""
        return await super().request(
            method,
            rewrite_twilio_url(url, self.api_base_url),
            params=params,
            data=data,
            headers=headers,
            auth=auth,
            timeout=timeout if timeout is not None else self.timeout,
            allow_redirects=allow_redirects,
        )

    def log_request(self, kwargs: dict[str, Any]) -> None:
        logger.debug(
            "Twilio request: %s %s", kwargs["method"], urlsplit(kwargs["url"]).path
        )

    def log_response(self, status_code: int, response: Any) -> None:
        logger.debug("Twilio response: HTTP %s", status_code)


@dataclass(frozen=True)
class _Claim:
    """An outbox row that this sender claimed, copied out of the session."""

    id: int
    to_number: str
    body: str
    kind: str
    attempts: int
    previous_status: str
    created_at: datetime
    reference: str | None


class _OutboxStore:
    """Blocking database steps of the sender, each in its own transaction."""

    def __init__(self, session_factory: Callable[[], Session]):
        self._session_factory = session_factory

    @staticmethod
    def _due(now: datetime, lease: timedelta) -> Any:
        return or_(
            and_(
                OutboxMessage.status.in_((PENDING, UNKNOWN)),
                or_(
                    OutboxMessage.next_attempt_at.is_(None),
                    OutboxMessage.next_attempt_at <= now,
                ),
            ),
            and_(
                OutboxMessage.status == SENDING,
                OutboxMessage.updated_at < now - lease,
            ),
        )

    @staticmethod
    def _in_order() -> Any:
        """Build the condition that no earlier reply to the number is unfinished."""
        # NOTE: a reply waiting for a retry (up to `backoff_max`) holds back
        # every later reply to that number until it is sent or fails.
        earlier = aliased(OutboxMessage)
        waiting = exists().where(
            earlier.to_number == OutboxMessage.to_number,
            earlier.id < OutboxMessage.id,
            earlier.inbound_message_id.is_not(None),
            earlier.status.in_(UNFINISHED_STATUSES),
        )
        return or_(OutboxMessage.inbound_message_id.is_(None), ~waiting)

    @staticmethod
    def _fail_opted_out(session: Session, now: datetime) -> list[int]:
        """Mark pending rows to opted-out numbers `failed`; return their ids."""
        ids = list(
            session.execute(
                select(OutboxMessage.id).where(
                    OutboxMessage.status == PENDING,
                    OutboxMessage.kind.not_in(OPT_OUT_EXEMPT_KINDS),
                    OutboxMessage.to_number.in_(opted_out_phones()),
                )
            ).scalars()
        )
        if not ids:
            return []
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), OutboxMessage.status == PENDING)
            .values(
                status=FAILED,
                last_error=OPTED_OUT_ERROR,
                next_attempt_at=None,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        logger.info(
            "Outbox rows %s not sent: their number opted out of SMS",
            ", ".join(str(row_id) for row_id in ids),
        )
        return ids

    def claim(self, limit: int, now: datetime, lease: timedelta) -> list[_Claim]:
        """Claim up to `limit` due rows for this sender and commit the claim.

        Pending rows to opted-out numbers are marked `failed` first. PostgreSQL
        skips rows that another sender has locked. On every database the
        UPDATE repeats the status and attempt count it read, so a row that
        another sender claimed in between updates no row here.
        """
        with self._session_factory() as session, session.begin():
            self._fail_opted_out(session, now)
            candidates = (
                select(OutboxMessage.id, OutboxMessage.status, OutboxMessage.attempts)
                .where(self._due(now, lease), self._in_order())
                .order_by(OutboxMessage.id)
                .limit(limit)
            )
            candidates = skip_locked(candidates, session)

            claimed: dict[int, tuple[str, int]] = {}
            for row_id, status, attempts in session.execute(candidates).all():
                result = session.execute(
                    update(OutboxMessage)
                    .where(
                        OutboxMessage.id == row_id,
                        OutboxMessage.status == status,
                        OutboxMessage.attempts == attempts,
                    )
                    .values(status=SENDING, attempts=attempts + 1, updated_at=now)
                    .execution_options(synchronize_session=False)
                )
                if result.rowcount == 1:
                    claimed[row_id] = (status, attempts + 1)
            if not claimed:
                return []

            rows = session.execute(
                select(OutboxMessage, Ticket.reference)
                .outerjoin(Ticket, Ticket.id == OutboxMessage.ticket_id)
                .where(OutboxMessage.id.in_(claimed))
                .order_by(OutboxMessage.id)
            ).all()
            return [
                _Claim(
                    id=message.id,
                    to_number=message.to_number,
                    body=message.body,
                    kind=message.kind,
                    attempts=claimed[message.id][1],
                    previous_status=claimed[message.id][0],
                    created_at=message.created_at,
                    reference=reference,
                )
                for message, reference in rows
            ]

    def finish(self, claim: _Claim, **values: Any) -> bool:
        """Write the outcome of a claimed row, unless another sender took it over."""
        with self._session_factory() as session, session.begin():
            result = session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id == claim.id,
                    OutboxMessage.status == SENDING,
                    OutboxMessage.attempts == claim.attempts,
                )
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            return result.rowcount == 1

    def mark_not_configured(
        self, limit: int, now: datetime
    ) -> list[tuple[int, str | None]]:
        """Set due pending rows to `not_sent` and return their ids and references.

        Rows to opted-out numbers are marked `failed` instead, as when sending.
        """
        with self._session_factory() as session, session.begin():
            self._fail_opted_out(session, now)
            candidates = (
                select(OutboxMessage.id, Ticket.reference)
                .outerjoin(Ticket, Ticket.id == OutboxMessage.ticket_id)
                .where(
                    OutboxMessage.status == PENDING,
                    or_(
                        OutboxMessage.next_attempt_at.is_(None),
                        OutboxMessage.next_attempt_at <= now,
                    ),
                )
                .order_by(OutboxMessage.id)
                .limit(limit)
            )
            candidates = skip_locked(candidates, session, of=OutboxMessage)

            skipped = []
            for row_id, reference in session.execute(candidates).all():
                result = session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == row_id, OutboxMessage.status == PENDING)
                    .values(
                        status=NOT_SENT, last_error=NOT_CONFIGURED_ERROR, updated_at=now
                    )
                    .execution_options(synchronize_session=False)
                )
                if result.rowcount == 1:
                    skipped.append((row_id, reference))
            return skipped

    def recorded_sids(self, sids: list[str]) -> set[str]:
        """Return which of `sids` are already stored on some outbox row."""
        if not sids:
            return set()
        with self._session_factory() as session:
            found = session.execute(
                select(OutboxMessage.provider_sid).where(
                    OutboxMessage.provider_sid.in_(sids)
                )
            ).scalars()
            return set(found)


class OutboxSender(PollingSender):
    """Send due outbox rows through Twilio's async client.

    Args:
        session_factory: A session factory from `bot.db.make_session_factory`.
        settings: Settings with the Twilio credentials, sender number and
            `twilio_api_base_url`.
        request_timeout: Seconds for one Twilio request, response included.
        backoff_base: Seconds before the first retry; each retry doubles it
            (default: `OUTBOX_RETRY_BASE_SECONDS`).
        backoff_max: Upper bound of the retry delay in seconds.
        max_attempts: Attempts (claims) before a retryable row is `failed`.
            A row of unknown outcome whose reconciliation keeps failing stays
            `unknown` and is reconciled again every `backoff_max` seconds.
        lease_seconds: Seconds after which a `sending` row counts as
            abandoned by a dead sender and is reconciled.
        reconcile_limit: Most recent Twilio messages to the number that a
            reconciliation reads.
        reconcile_skew_seconds: Clock difference allowed between this host
            and Twilio when matching a message to a row's creation time.
        status_callback_url: URL for Twilio's delivery status callbacks
            (default: `PUBLIC_BASE_URL` plus `/webhooks/twilio/status` when
            `PUBLIC_BASE_URL` is set, else none).
        clock: Returns the current aware UTC time (tests pass a fake clock).
    """

    label = "Outbox sender"
    default_poll_seconds = 2.0

    def __init__(
        self,
        session_factory: Callable[[], Session],
        settings: Settings,
        *,
        request_timeout: float = 10.0,
        backoff_base: float | None = None,
        backoff_max: float = 3600.0,
        max_attempts: int = 8,
        lease_seconds: float = 600.0,
        reconcile_limit: int = 200,
        reconcile_skew_seconds: float = 600.0,
        status_callback_url: str | None = None,
        clock: Callable[[], datetime] = utcnow,
    ):
        if lease_seconds <= request_timeout * 3:
            raise ValueError(
                f"lease_seconds={lease_seconds} must exceed 3 x request_timeout "
                f"({request_timeout}), or a live request could be reclaimed"
            )
        self._store = _OutboxStore(session_factory)
        self._settings = settings
        self._request_timeout = request_timeout
        if backoff_base is None:
            backoff_base = float(settings.outbox_retry_base_seconds)
        if status_callback_url is None and settings.public_base_url:
            status_callback_url = settings.public_base_url + STATUS_CALLBACK_PATH
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._max_attempts = max_attempts
        self._lease = timedelta(seconds=lease_seconds)
        self._reconcile_limit = reconcile_limit
        self._reconcile_skew = timedelta(seconds=reconcile_skew_seconds)
        self._status_callback_url = status_callback_url
        self._clock = clock

        super().__init__()

    def backoff(self, attempts: int) -> timedelta:
        """Return the delay before the retry that follows attempt `attempts`."""
        seconds = self._backoff_base * 2 ** max(attempts - 1, 0)
        return timedelta(seconds=min(seconds, self._backoff_max))

    async def send_due(self, limit: int = 20) -> int:
        """Send, reconcile or skip up to `limit` due outbox rows.

        Args:
            limit: Maximum rows to claim in this call.

        Returns:
            How many rows this call handled, whatever their outcome.
        """
        now = self._clock()
        if not self._settings.twilio_configured:
            return await self._skip_unconfigured(limit, now)

        claims = await run_in_thread(self._store.claim, limit, now, self._lease)
        if not claims:
            return 0

        http_client = BaseUrlAsyncHttpClient(
            self._settings.twilio_api_base_url, timeout=self._request_timeout
        )
        async with http_client:
            client = Client(
                self._settings.twilio_account_sid,
                self._settings.twilio_auth_token,
                http_client=http_client,
            )
            for claim in claims:
                try:
                    if claim.previous_status == PENDING:
                        await self._send(client, claim)
                    else:
                        await self._reconcile(client, claim)
                except Exception:
                    # The row stays `sending`, so after the lease it is
                    # reconciled instead of sent again.
                    logger.exception(
                        "Outbox %d (ticket %s): unexpected error; the row is "
                        "reconciled after the lease",
                        claim.id,
                        claim.reference,
                    )
        return len(claims)

    async def _skip_unconfigured(self, limit: int, now: datetime) -> int:
        skipped = await run_in_thread(self._store.mark_not_configured, limit, now)
        for row_id, reference in skipped:
            logger.warning(
                "SMS not sent for outbox %d (ticket %s): %s. Set "
                "TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM_NUMBER",
                row_id,
                reference,
                NOT_CONFIGURED_ERROR,
            )
        return len(skipped)

    async def _send(self, client: Client, claim: _Claim) -> None:
        options: dict[str, Any] = {}
        if self._status_callback_url:
            options["status_callback"] = self._status_callback_url
        try:
            message = await client.messages.create_async(
                to=claim.to_number,
                from_=self._settings.twilio_from_number,
                body=claim.body,
                **options,
            )
        except TwilioRestException as error:
            await self._handle_rest_error(claim, error)
            return
        except aiohttp.ClientConnectorError as error:
            # The connection was never opened, so Twilio got nothing.
            await self._retry(claim, f"connection failed: {type(error).__name__}")
            return
        except (asyncio.TimeoutError, aiohttp.ClientError, TwilioException) as error:
            await self._mark_unknown(claim, type(error).__name__)
            return

        if not message.sid:
            await self._mark_unknown(claim, "response without a message sid")
            return
        await self._mark_sent(claim, message.sid, via="send")

    async def _handle_rest_error(
        self, claim: _Claim, error: TwilioRestException
    ) -> None:
        # The provider's message text can contain the number, so only the
        # status and the Twilio error code are stored and logged.
        description = f"HTTP {error.status}, Twilio error {error.code}"
        if error.status == 429 or error.status >= 500:
            await self._retry(claim, description)
        elif error.status in CONFIGURATION_STATUSES:
            logger.error(
                "Twilio rejected the account settings for outbox %d (%s). Check "
                "TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_API_BASE_URL",
                claim.id,
                description,
            )
            await self._retry(claim, description)
        else:
            await self._finish(
                claim, FAILED, last_error=description, next_attempt_at=None
            )
            logger.warning(
                "Outbox %d (ticket %s) failed for good: %s",
                claim.id,
                claim.reference,
                description,
            )

    async def _reconcile(self, client: Client, claim: _Claim) -> None:
        """Look for the message at Twilio before a row of unknown outcome is retried."""
        try:
            sid = await self._find_sent_sid(client, claim)
        except (
            asyncio.TimeoutError,
            aiohttp.ClientError,
            TwilioException,
        ) as error:
            await self._mark_unknown(
                claim, f"reconciliation failed: {type(error).__name__}"
            )
            return

        if sid is not None:
            await self._mark_sent(claim, sid, via="reconciliation")
            return

        if claim.attempts >= self._max_attempts:
            await self._finish(
                claim,
                FAILED,
                last_error=f"not found at Twilio after {claim.attempts} attempts",
                next_attempt_at=None,
            )
            logger.warning(
                "Outbox %d (ticket %s) failed: not found at Twilio after %d attempts",
                claim.id,
                claim.reference,
                claim.attempts,
            )
            return

        await self._finish(claim, PENDING, next_attempt_at=self._clock())
        logger.info(
            "Outbox %d (ticket %s): message not found at Twilio, queued to send again",
            claim.id,
            claim.reference,
        )

    async def _find_sent_sid(self, client: Client, claim: _Claim) -> str | None:
        # NOTE: no DateSent filter, because Twilio leaves date_sent empty
        # while a message is queued and such a message must still match.
        # The list is bounded by `reconcile_limit` instead, newest first.
        not_before = claim.created_at - self._reconcile_skew
        stream = await client.messages.stream_async(
            to=claim.to_number,
            from_=self._settings.twilio_from_number,
            limit=self._reconcile_limit,
            page_size=min(self._reconcile_limit, 50),
        )
        matches: list[str] = []
        async for message in stream:
            created = message.date_created
            if created is not None and created < not_before:
                continue
            if message.sid and _same_body(message.body, claim.body):
                matches.append(message.sid)

        # NOTE: two rows with the same body to the same number can match one
        # Twilio message. Skipping sids already stored on another row keeps
        # the number of sends at or below the number of rows.
        taken = await run_in_thread(self._store.recorded_sids, matches)
        unclaimed = [sid for sid in matches if sid not in taken]
        # Twilio lists newest first; the oldest match is this row's first try.
        return unclaimed[-1] if unclaimed else None

    async def _mark_sent(self, claim: _Claim, sid: str, via: str) -> None:
        now = self._clock()
        await self._finish(
            claim,
            SENT,
            provider_sid=sid,
            sent_at=now,
            last_error=None,
            next_attempt_at=None,
        )
        logger.info(
            "Outbox %d (%s, ticket %s) sent as %s (by %s, attempt %d)",
            claim.id,
            claim.kind,
            claim.reference,
            sid,
            via,
            claim.attempts,
        )

    async def _mark_unknown(self, claim: _Claim, reason: str) -> None:
        delay = self.backoff(claim.attempts)
        await self._finish(
            claim,
            UNKNOWN,
            last_error=reason,
            next_attempt_at=self._clock() + delay,
        )
        logger.warning(
            "Outbox %d (ticket %s): outcome unknown (%s); reconciling in %d s",
            claim.id,
            claim.reference,
            reason,
            delay.total_seconds(),
        )

    async def _retry(self, claim: _Claim, reason: str) -> None:
        if claim.attempts >= self._max_attempts:
            await self._finish(
                claim,
                FAILED,
                last_error=f"gave up after {claim.attempts} attempts: {reason}",
                next_attempt_at=None,
            )
            logger.warning(
                "Outbox %d (ticket %s) failed after %d attempts: %s",
                claim.id,
                claim.reference,
                claim.attempts,
                reason,
            )
            return

        delay = self.backoff(claim.attempts)
        await self._finish(
            claim, PENDING, last_error=reason, next_attempt_at=self._clock() + delay
        )
        logger.warning(
            "Outbox %d (ticket %s): attempt %d failed (%s); retrying in %d s",
            claim.id,
            claim.reference,
            claim.attempts,
            reason,
            delay.total_seconds(),
        )

    async def _finish(self, claim: _Claim, status: str, **values: Any) -> None:
        values = {"status": status, "updated_at": self._clock(), **values}
        still_held = await run_in_thread(self._store.finish, claim, **values)
        if not still_held:
            logger.warning(
                "Outbox %d: claim lost before writing %s, because another sender "
                "took the row after the lease ran out",
                claim.id,
                status,
            )

    def start_detail(self) -> str:
        """Return whether Twilio is configured, for the start-up log line."""
        if self._settings.twilio_configured:
            return ", Twilio configured"
        return ", Twilio not configured"


def _same_body(listed: str | None, ours: str) -> bool:
    # Twilio trial accounts prefix each body with a notice, so a suffix match
    # counts too.
    if listed is None:
        return False
    return listed == ours or listed.endswith(ours)


@dataclass(frozen=True)
class OutboxBacklog:
    """Rows still to be sent (`pending`, `sending`, `unknown`) and the oldest's age."""

    count: int
    oldest_age_seconds: float


def outbox_backlog(session: Session, now: datetime | None = None) -> OutboxBacklog:
    """Count the rows still to be sent and measure how long the oldest has waited."""
    now = now or utcnow()
    count, oldest = session.execute(
        select(func.count(), func.min(OutboxMessage.created_at)).where(
            OutboxMessage.status.in_(UNFINISHED_STATUSES)
        )
    ).one()
    age = (now - oldest).total_seconds() if oldest is not None else 0.0
    return OutboxBacklog(count=count, oldest_age_seconds=max(age, 0.0))


def outbox_counts(session: Session) -> dict[tuple[str, str], int]:
    """Count outbox rows by (status, kind)."""
    rows = session.execute(
        select(OutboxMessage.status, OutboxMessage.kind, func.count()).group_by(
            OutboxMessage.status, OutboxMessage.kind
        )
    ).all()
    return {(status, kind): count for status, kind, count in rows}


def record_delivery_status(
    session: Session,
    provider_sid: str,
    delivery_status: str,
    error_code: str | None = None,
    now: datetime | None = None,
) -> int | None:
    """Store Twilio's delivery status on the row sent as `provider_sid`.

    An `undelivered` or `failed` status also stores the Twilio error code in
    `last_error`. The row's own status stays `sent`, because Twilio accepted
    the message.

    Args:
        session: The caller's open session.
        provider_sid: Twilio's message sid.
        delivery_status: One of `DELIVERY_STATUSES`.
        error_code: Twilio's `ErrorCode`, if any.
        now: Update time (default: now).

    Returns:
        The outbox row id, or None when no row has that sid.

    Raises:
        ValueError: `delivery_status` is not one of Twilio's statuses.
    """
    if delivery_status not in DELIVERY_STATUSES:
        raise ValueError(
            f"delivery status {delivery_status!r} is invalid; "
            f"expected one of {DELIVERY_STATUSES}"
        )
    row = session.execute(
        select(OutboxMessage).where(OutboxMessage.provider_sid == provider_sid)
    ).scalar_one_or_none()
    if row is None:
        return None
    row.delivery_status = delivery_status
    if delivery_status in ("undelivered", "failed"):
        row.last_error = f"delivery {delivery_status}, Twilio error {error_code or '-'}"
    row.updated_at = now or utcnow()
    session.flush()
    return row.id
