"""Signed notices of new tickets to HPSM's systems (`WEBHOOK_URL`).

`enqueue_ticket_created` adds a `webhook_deliveries` row in the transaction
that creates the ticket, so a notice exists if and only if the ticket does.
`WebhookSender` posts due rows afterwards and retries with exponential
backoff. A row is `pending` until it is `delivered` (a 2xx response) or
`failed` (another 4xx response, a redirect, or retries used up).

The body names the ticket but carries no personal details: no name, phone
number, member id, date of birth or screening answers. The receiver reads
those through the API with its own token, following `links.api`.

Every request is signed. `X-HPSM-Timestamp` holds Unix seconds, and
`X-HPSM-Signature` holds `sha256=` and the hex HMAC-SHA256, keyed with
`WEBHOOK_SECRET`, of the timestamp, a dot and the raw body. Receivers check
it with `verify_signature`, which also rejects timestamps more than five
minutes away, so a captured request cannot be replayed later. The header
`X-HPSM-Delivery` carries the row id, which stays the same on every retry,
so a receiver can drop a notice it already processed.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

import aiohttp
from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from bot.db import run_in_thread, skip_locked
from bot.models import Ticket, WebhookDelivery, utcnow
from bot.polling import PollingSender
from bot.settings import Settings

logger = logging.getLogger(__name__)

TICKET_CREATED = "ticket.created"
PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"

TIMESTAMP_HEADER = "X-HPSM-Timestamp"
SIGNATURE_HEADER = "X-HPSM-Signature"
DELIVERY_HEADER = "X-HPSM-Delivery"
EVENT_HEADER = "X-HPSM-Event"
SIGNATURE_SCHEME = "sha256="
DEFAULT_TOLERANCE_SECONDS = 300


def enqueue_ticket_created(session: Session, ticket_id: int) -> None:
    """Add a pending `ticket.created` notice in the caller's transaction.

    The row is flushed, never committed, so the notice is sent if and only
    if the caller's transaction commits.

    Args:
        session: The open session that is creating the ticket.
        ticket_id: The new ticket's id.
    """
    now = utcnow()
    session.add(
        WebhookDelivery(
            ticket_id=ticket_id,
            event=TICKET_CREATED,
            status=PENDING,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )
    session.flush()


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Return the `X-HPSM-Signature` value for `body` sent at `timestamp`."""
    message = timestamp.encode("ascii") + b"." + body
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return SIGNATURE_SCHEME + digest


def verify_signature(
    secret: str,
    timestamp: str,
    body: bytes | str,
    signature: str,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """Check a webhook request's signature, for the receiving system.

    Pass the raw body as received, before any JSON decoding, because a
    re-encoded body differs byte for byte.

    Args:
        secret: The shared `WEBHOOK_SECRET`.
        timestamp: The `X-HPSM-Timestamp` header (Unix seconds).
        body: The raw request body; a `str` is encoded as UTF-8.
        signature: The `X-HPSM-Signature` header (`sha256=<hex>`).
        tolerance_seconds: Largest accepted difference between the timestamp
            and `now`, either way.
        now: The receiver's Unix time (default: `time.time()`).

    Returns:
        True when the signature matches and the timestamp is recent.
    """
    if not secret or not timestamp or not signature:
        return False
    try:
        sent_at = int(timestamp)
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance_seconds:
        return False
    if isinstance(body, str):
        body = body.encode("utf-8")
    expected = sign(secret, timestamp, body)
    return hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8"))


def ticket_api_url(base_url: str, reference: str) -> str:
    """Return the API address of one ticket under `base_url`."""
    return f"{base_url.rstrip('/')}/api/v1/tickets/{reference}"


@dataclass(frozen=True)
class _Claim:
    """A delivery that this sender claimed, with what its body needs."""

    id: int
    event: str
    attempts: int
    reference: str
    created_at: datetime
    channel: str
    services: list[str]
    preferred_language: str | None


class _DeliveryStore:
    """Blocking database steps of the sender, each in its own transaction.

    A claim pushes `next_attempt_at` forward by the lease and adds one to
    `attempts`. The row stays `pending`, so a sender that dies mid-request
    leaves a row that is due again once the lease ends. Writing the outcome
    repeats the attempt count of the claim, so a sender that lost its claim
    to another one writes nothing.
    """

    def __init__(self, session_factory: Callable[[], Session]):
        self._session_factory = session_factory

    def claim(
        self, limit: int, now: datetime, lease: timedelta, max_attempts: int
    ) -> list[_Claim]:
        with self._session_factory() as session, session.begin():
            self._fail_exhausted(session, now, max_attempts)
            candidates = (
                select(WebhookDelivery.id, WebhookDelivery.attempts)
                .where(
                    WebhookDelivery.status == PENDING,
                    WebhookDelivery.attempts < max_attempts,
                    or_(
                        WebhookDelivery.next_attempt_at.is_(None),
                        WebhookDelivery.next_attempt_at <= now,
                    ),
                )
                .order_by(WebhookDelivery.id)
                .limit(limit)
            )
            # Same claim as `bot.outbox`: PostgreSQL skips rows that another
            # replica has locked, and the guarded UPDATE below covers SQLite.
            candidates = skip_locked(candidates, session)

            claimed: dict[int, int] = {}
            for row_id, attempts in session.execute(candidates).all():
                result = session.execute(
                    update(WebhookDelivery)
                    .where(
                        WebhookDelivery.id == row_id,
                        WebhookDelivery.status == PENDING,
                        WebhookDelivery.attempts == attempts,
                    )
                    .values(attempts=attempts + 1, next_attempt_at=now + lease)
                    .execution_options(synchronize_session=False)
                )
                if result.rowcount == 1:
                    claimed[row_id] = attempts + 1
            if not claimed:
                return []

            rows = session.execute(
                select(
                    WebhookDelivery.id,
                    WebhookDelivery.event,
                    Ticket.reference,
                    Ticket.created_at,
                    Ticket.channel,
                    Ticket.services,
                    Ticket.preferred_language,
                )
                .join(Ticket, Ticket.id == WebhookDelivery.ticket_id)
                .where(WebhookDelivery.id.in_(claimed))
                .order_by(WebhookDelivery.id)
            ).all()
            return [
                _Claim(
                    id=row.id,
                    event=row.event,
                    attempts=claimed[row.id],
                    reference=row.reference,
                    created_at=row.created_at,
                    channel=row.channel,
                    services=list(row.services or []),
                    preferred_language=row.preferred_language,
                )
                for row in rows
            ]

    @staticmethod
    def _fail_exhausted(session: Session, now: datetime, max_attempts: int) -> None:
        """Fail rows whose last attempt ended without an outcome (a dead sender)."""
        result = session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.status == PENDING,
                WebhookDelivery.attempts >= max_attempts,
                WebhookDelivery.next_attempt_at <= now,
            )
            .values(
                status=FAILED,
                next_attempt_at=None,
                last_error=f"no outcome recorded after {max_attempts} attempts",
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount:
            logger.warning(
                "%d webhook deliveries failed: the sender stopped during their "
                "last attempt",
                result.rowcount,
            )

    def finish(self, claim: _Claim, **values: Any) -> bool:
        with self._session_factory() as session, session.begin():
            result = session.execute(
                update(WebhookDelivery)
                .where(
                    and_(
                        WebhookDelivery.id == claim.id,
                        WebhookDelivery.status == PENDING,
                        WebhookDelivery.attempts == claim.attempts,
                    )
                )
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            return result.rowcount == 1


class WebhookSender(PollingSender):
    """Post due webhook deliveries to `WEBHOOK_URL`, signed and with retries.

    Network errors, timeouts, 429 and 5xx responses are retried after
    `backoff_base` seconds, doubling each time up to `backoff_max`. After
    `max_attempts` attempts the row is `failed`. Any other
    response outside 2xx fails the row at once, because sending the same body
    again would get the same response. Redirects are not followed.

    Args:
        session_factory: A session factory from `bot.db.make_session_factory`.
        settings: Settings with `webhook_url` and `webhook_secret` set.
        api_base_url: Base of `links.api` in the body (default: the web
            server's own address, `http://WEB_INTERFACE:WEB_PORT`).
        request_timeout: Seconds for one request, response included.
        backoff_base: Seconds before the first retry.
        backoff_max: Upper bound of the retry delay in seconds.
        max_attempts: Attempts before a retryable row is `failed`.
        lease_seconds: Seconds a claimed row stays with this sender before
            another sender may take it over.
        clock: Returns the current aware UTC time (tests pass a fake clock).

    Raises:
        ValueError: `webhook_url` or `webhook_secret` is not set, or the
            lease is not longer than the request timeout.
    """

    label = "Webhook sender"
    default_poll_seconds = 5.0

    def __init__(
        self,
        session_factory: Callable[[], Session],
        settings: Settings,
        *,
        api_base_url: str | None = None,
        request_timeout: float = 10.0,
        backoff_base: float = 30.0,
        backoff_max: float = 3600.0,
        max_attempts: int = 8,
        lease_seconds: float = 120.0,
        clock: Callable[[], datetime] = utcnow,
    ):
        if not settings.webhook_url or not settings.webhook_secret:
            raise ValueError("WebhookSender needs WEBHOOK_URL and WEBHOOK_SECRET")
        if lease_seconds <= request_timeout * 3:
            raise ValueError(
                f"lease_seconds={lease_seconds} must exceed 3 x request_timeout "
                f"({request_timeout}), or a live request could be taken over"
            )
        self._store = _DeliveryStore(session_factory)
        self._url = settings.webhook_url
        self._secret = settings.webhook_secret
        # Without WEB_PUBLIC_URL the link names the bind address, which other
        # hosts reach only when it is a public interface.
        self._api_base_url = (
            api_base_url
            or settings.web_public_url
            or f"http://{settings.web_interface}:{settings.web_port}"
        )
        self._timeout = aiohttp.ClientTimeout(total=request_timeout)
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._max_attempts = max_attempts
        self._lease = timedelta(seconds=lease_seconds)
        self._clock = clock

        super().__init__()

    def backoff(self, attempts: int) -> timedelta:
        """Return the delay before the retry that follows attempt `attempts`."""
        seconds = self._backoff_base * 2 ** max(attempts - 1, 0)
        return timedelta(seconds=min(seconds, self._backoff_max))

    def body(self, claim: _Claim) -> bytes:
        """Encode the JSON body of one delivery, with no personal details."""
        payload = {
            "event": claim.event,
            "reference": claim.reference,
            "created_at": claim.created_at.isoformat(),
            "channel": claim.channel,
            "services": claim.services,
            "preferred_language": claim.preferred_language,
            "links": {"api": ticket_api_url(self._api_base_url, claim.reference)},
        }
        return json.dumps(payload, separators=(",", ":")).encode("utf-8")

    async def send_due(self, limit: int = 20) -> int:
        """Post up to `limit` due deliveries and record each outcome.

        Returns:
            How many deliveries this call attempted, whatever their outcome.
        """
        claims = await run_in_thread(
            self._store.claim, limit, self._clock(), self._lease, self._max_attempts
        )
        if not claims:
            return 0
        async with aiohttp.ClientSession(timeout=self._timeout) as client:
            for claim in claims:
                try:
                    await self._deliver(client, claim)
                except Exception:
                    # The claim stays until its lease ends, then it is retried.
                    logger.exception(
                        "Webhook delivery %d (ticket %s): unexpected error; "
                        "retried after the lease",
                        claim.id,
                        claim.reference,
                    )
        return len(claims)

    async def _deliver(self, client: aiohttp.ClientSession, claim: _Claim) -> None:
        body = self.body(claim)
        timestamp = str(int(self._clock().timestamp()))
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(self._secret, timestamp, body),
            DELIVERY_HEADER: str(claim.id),
            EVENT_HEADER: claim.event,
        }
        try:
            async with client.post(
                self._url, data=body, headers=headers, allow_redirects=False
            ) as response:
                status = response.status
                await response.read()
        except (asyncio.TimeoutError, aiohttp.ClientError) as error:
            await self._retry(claim, type(error).__name__)
            return

        if 200 <= status < 300:
            await self._finish(
                claim,
                status=DELIVERED,
                delivered_at=self._clock(),
                next_attempt_at=None,
                last_error=None,
            )
            logger.info(
                "Webhook delivery %d (%s, ticket %s) delivered on attempt %d",
                claim.id,
                claim.event,
                claim.reference,
                claim.attempts,
            )
        elif status == 429 or status >= 500:
            await self._retry(claim, f"HTTP {status}")
        else:
            await self._finish(
                claim, status=FAILED, next_attempt_at=None, last_error=f"HTTP {status}"
            )
            logger.warning(
                "Webhook delivery %d (ticket %s) failed: the receiver responded "
                "with HTTP %d, which is not retried",
                claim.id,
                claim.reference,
                status,
            )

    async def _retry(self, claim: _Claim, reason: str) -> None:
        if claim.attempts >= self._max_attempts:
            await self._finish(
                claim,
                status=FAILED,
                next_attempt_at=None,
                last_error=f"gave up after {claim.attempts} attempts: {reason}",
            )
            logger.warning(
                "Webhook delivery %d (ticket %s) failed after %d attempts: %s",
                claim.id,
                claim.reference,
                claim.attempts,
                reason,
            )
            return

        delay = self.backoff(claim.attempts)
        await self._finish(
            claim, next_attempt_at=self._clock() + delay, last_error=reason
        )
        logger.warning(
            "Webhook delivery %d (ticket %s): attempt %d failed (%s); retrying in "
            "%d s",
            claim.id,
            claim.reference,
            claim.attempts,
            reason,
            delay.total_seconds(),
        )

    async def _finish(self, claim: _Claim, **values: Any) -> None:
        still_held = await run_in_thread(self._store.finish, claim, **values)
        if not still_held:
            logger.warning(
                "Webhook delivery %d: claim lost before its outcome was written, "
                "because another sender took the row after the lease ran out",
                claim.id,
            )
