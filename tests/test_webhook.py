"""Webhook notices of new tickets: signing, retries, claims, and the receiver's check.

A real aiohttp receiver on 127.0.0.1 responds with statuses the test chooses
and records every request as it arrived.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from sqlalchemy import select

from bot.models import WebhookDelivery
from bot.tickets import HandoffRequest, TicketRepository
from bot.web import create_app
from bot.workspace.webhook import (
    WebhookSender,
    enqueue_ticket_created,
    sign,
    verify_signature,
)
from tests.outbox_support import FakeClock, make_settings

SECRET = "webhook-test-secret"
NAME = "Ana Webhook-Perez"
PHONE = "+16505550142"
MEMBER_ID = "M7654321"
BIRTH = "1979-05-06"
PERSONAL_VALUES = (NAME, PHONE, MEMBER_ID, BIRTH, "5550142", "chronic_condition")


@dataclass
class Receiver:
    """A webhook receiver on loopback that responds with queued statuses."""

    statuses: list[int] = field(default_factory=list)
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    hang_seconds: float = 0.0
    url: str = ""
    runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests.append((dict(request.headers), body))
        if self.hang_seconds:
            await asyncio.sleep(self.hang_seconds)
        status = self.statuses.pop(0) if self.statuses else 200
        return web.json_response({"received": True}, status=status)

    async def start(self) -> "Receiver":
        app = web.Application()
        app.router.add_post("/hooks/hpsm", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/hooks/hpsm"
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


@pytest.fixture
async def receiver():
    receiver = await Receiver().start()
    yield receiver
    await receiver.stop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def settings_for(tmp_path, url: str | None, secret: str | None = SECRET):
    overrides = {}
    if url:
        overrides["WEBHOOK_URL"] = url
    if secret:
        overrides["WEBHOOK_SECRET"] = secret
    return make_settings(tmp_path, **overrides)


def make_sender(session_factory, tmp_path, receiver, clock, **options) -> WebhookSender:
    options.setdefault("backoff_base", 30.0)
    return WebhookSender(
        session_factory,
        settings_for(tmp_path, receiver.url),
        api_base_url="https://workspace.example.org",
        clock=clock,
        **options,
    )


def create_ticket(session_factory, handoff_id: str = "h1") -> tuple[int, str]:
    """Create a ticket with personal details and queue its notice."""
    repository = TicketRepository(session_factory)
    ticket, _ = repository.create_from_handoff(
        HandoffRequest(
            conversation_id=f"conv-{handoff_id}",
            handoff_id=handoff_id,
            channel="sms",
            name=NAME,
            phone=PHONE,
            member_id=MEMBER_ID,
            date_of_birth=BIRTH,
            preferred_language="es",
            consent_contact=True,
            consent_share_screening=True,
            services=["ecm", "housing_deposits"],
            screening_profile={"plan": "medi-cal", "chronic_condition": True},
            screening_result={"ecm": {"status": "likely", "reasons": []}},
        )
    )
    with session_factory() as session, session.begin():
        queued = session.execute(
            select(WebhookDelivery).where(WebhookDelivery.ticket_id == ticket.id)
        ).scalars().all()
        # The ticket repository queues the notice itself when WEBHOOK_URL is
        # set in the environment; without it, the test queues it here.
        if not queued:
            enqueue_ticket_created(session, ticket.id)
    return ticket.id, ticket.reference


def delivery(session_factory, ticket_id: int) -> WebhookDelivery:
    with session_factory() as session:
        return session.execute(
            select(WebhookDelivery).where(WebhookDelivery.ticket_id == ticket_id)
        ).scalar_one()


async def test_delivered_signed_without_personal_details(
    session_factory, tmp_path, receiver, clock
):
    ticket_id, reference = create_ticket(session_factory)
    sender = make_sender(session_factory, tmp_path, receiver, clock)

    handled = await sender.send_due()

    assert handled == 1
    assert len(receiver.requests) == 1
    headers, body = receiver.requests[0]
    assert verify_signature(
        SECRET, headers["X-HPSM-Timestamp"], body, headers["X-HPSM-Signature"]
    )
    assert headers["X-HPSM-Signature"].startswith("sha256=")
    assert headers["Content-Type"] == "application/json"
    assert headers["X-HPSM-Event"] == "ticket.created"

    payload = json.loads(body)
    assert set(payload) == {
        "event",
        "reference",
        "created_at",
        "channel",
        "services",
        "preferred_language",
        "links",
    }
    assert payload["event"] == "ticket.created"
    assert payload["reference"] == reference
    assert payload["channel"] == "sms"
    assert payload["services"] == ["ecm", "housing_deposits"]
    assert payload["preferred_language"] == "es"
    assert payload["links"] == {
        "api": f"https://workspace.example.org/api/v1/tickets/{reference}"
    }
    text = body.decode()
    for value in PERSONAL_VALUES:
        assert value not in text

    row = delivery(session_factory, ticket_id)
    assert row.status == "delivered"
    assert row.attempts == 1
    assert row.delivered_at is not None


async def test_server_error_retried_then_delivered_once(
    session_factory, tmp_path, receiver, clock
):
    ticket_id, _ = create_ticket(session_factory)
    receiver.statuses = [500, 200]
    sender = make_sender(session_factory, tmp_path, receiver, clock)

    await sender.send_due()
    row = delivery(session_factory, ticket_id)
    assert row.status == "pending"
    assert row.last_error == "HTTP 500"
    assert row.next_attempt_at > clock.now

    assert await sender.send_due() == 0  # not due before the backoff ends
    clock.advance(31)
    await sender.send_due()
    clock.advance(3600)
    assert await sender.send_due() == 0

    row = delivery(session_factory, ticket_id)
    assert row.status == "delivered"
    assert row.attempts == 2
    assert len(receiver.requests) == 2
    ids = {headers["X-HPSM-Delivery"] for headers, _ in receiver.requests}
    assert ids == {str(row.id)}
    assert receiver.statuses == []


async def test_rate_limit_retried(session_factory, tmp_path, receiver, clock):
    ticket_id, _ = create_ticket(session_factory)
    receiver.statuses = [429]
    sender = make_sender(session_factory, tmp_path, receiver, clock)

    await sender.send_due()
    assert delivery(session_factory, ticket_id).status == "pending"
    clock.advance(31)
    await sender.send_due()

    assert delivery(session_factory, ticket_id).status == "delivered"


async def test_client_error_fails_at_once(session_factory, tmp_path, receiver, clock):
    ticket_id, _ = create_ticket(session_factory)
    receiver.statuses = [400]
    sender = make_sender(session_factory, tmp_path, receiver, clock)

    await sender.send_due()
    clock.advance(86400)
    assert await sender.send_due() == 0

    row = delivery(session_factory, ticket_id)
    assert row.status == "failed"
    assert row.attempts == 1
    assert row.last_error == "HTTP 400"
    assert len(receiver.requests) == 1


async def test_gives_up_after_max_attempts(session_factory, tmp_path, receiver, clock):
    ticket_id, _ = create_ticket(session_factory)
    receiver.statuses = [503] * 10
    sender = make_sender(
        session_factory, tmp_path, receiver, clock, max_attempts=3, backoff_max=60
    )

    for _ in range(5):
        await sender.send_due()
        clock.advance(61)

    row = delivery(session_factory, ticket_id)
    assert row.status == "failed"
    assert row.attempts == 3
    assert "gave up after 3 attempts" in row.last_error
    assert len(receiver.requests) == 3


def test_backoff_doubles_up_to_max(session_factory, tmp_path, clock):
    sender = WebhookSender(
        session_factory,
        settings_for(tmp_path, "http://127.0.0.1:9/hook"),
        backoff_base=30,
        backoff_max=100,
        clock=clock,
    )

    delays = [sender.backoff(attempt).total_seconds() for attempt in (1, 2, 3, 4)]

    assert delays == [30, 60, 100, 100]


async def test_connection_refused_retried(session_factory, tmp_path, clock):
    ticket_id, _ = create_ticket(session_factory)
    # Port 9 (discard) has no listener on the test machine's loopback.
    sender = WebhookSender(
        session_factory,
        settings_for(tmp_path, "http://127.0.0.1:9/hook"),
        clock=clock,
    )

    await sender.send_due()

    row = delivery(session_factory, ticket_id)
    assert row.status == "pending"
    assert row.attempts == 1
    assert row.last_error.startswith("Client")


async def test_timeout_retried(session_factory, tmp_path, receiver, clock):
    ticket_id, _ = create_ticket(session_factory)
    receiver.hang_seconds = 2.0
    sender = make_sender(
        session_factory, tmp_path, receiver, clock, request_timeout=0.3
    )

    await sender.send_due()

    row = delivery(session_factory, ticket_id)
    assert row.status == "pending"
    assert row.last_error in ("TimeoutError", "ServerTimeoutError")


async def test_concurrent_senders_deliver_each_once(db_url, tmp_path, receiver):
    from bot.db import make_engine, make_session_factory, run_migrations

    run_migrations(db_url)
    engines = [make_engine(db_url) for _ in range(3)]
    factories = [make_session_factory(engine) for engine in engines]
    try:
        ticket_ids = [create_ticket(factories[0], f"h{n}")[0] for n in range(12)]
        senders = [
            WebhookSender(factory, settings_for(tmp_path, receiver.url))
            for factory in factories
        ]

        async def drain(sender: WebhookSender) -> None:
            while await sender.send_due(limit=2):
                pass

        await asyncio.gather(*(drain(sender) for sender in senders))

        delivered_ids = [headers["X-HPSM-Delivery"] for headers, _ in receiver.requests]
        assert len(delivered_ids) == len(ticket_ids)
        assert len(set(delivered_ids)) == len(ticket_ids)
        for ticket_id in ticket_ids:
            assert delivery(factories[0], ticket_id).status == "delivered"
    finally:
        for engine in engines:
            engine.dispose()


def test_notice_not_queued_on_rollback(session_factory):
    ticket_id, _ = create_ticket(session_factory)
    with session_factory() as session:
        with session.begin():
            enqueue_ticket_created(session, ticket_id)
            session.rollback()

    with session_factory() as session:
        rows = session.execute(select(WebhookDelivery)).scalars().all()
    assert len(rows) == 1


def test_lease_must_exceed_timeout(session_factory, tmp_path):
    with pytest.raises(ValueError, match="lease_seconds"):
        WebhookSender(
            session_factory,
            settings_for(tmp_path, "http://127.0.0.1:9/hook"),
            request_timeout=10,
            lease_seconds=20,
        )


def test_sender_needs_url_and_secret(session_factory, tmp_path):
    with pytest.raises(ValueError, match="WEBHOOK_SECRET"):
        WebhookSender(session_factory, settings_for(tmp_path, "http://x/", None))


# verify_signature, as a receiver uses it


def signed(body: bytes, secret: str = SECRET, at: float | None = None) -> tuple[str, str]:
    timestamp = str(int(time.time() if at is None else at))
    return timestamp, sign(secret, timestamp, body)


def test_verify_accepts_valid_signature():
    body = b'{"event":"ticket.created"}'
    timestamp, signature = signed(body)

    assert verify_signature(SECRET, timestamp, body, signature)
    assert verify_signature(SECRET, timestamp, body.decode(), signature)


@pytest.mark.parametrize(
    "case",
    [
        "altered body",
        "wrong secret",
        "bad hex",
        "no scheme",
        "old timestamp",
        "future timestamp",
        "timestamp not a number",
        "empty signature",
        "empty secret",
    ],
)
def test_verify_rejects_bad_signature(case):
    body = b'{"event":"ticket.created","reference":"HP-7KQ4MX"}'
    timestamp, signature = signed(body)
    secret = SECRET
    if case == "altered body":
        body = body.replace(b"7KQ4MX", b"7KQ4MY")
    elif case == "wrong secret":
        timestamp, signature = signed(body, secret="another-secret")
    elif case == "bad hex":
        signature = "sha256=" + "0" * 64
    elif case == "no scheme":
        signature = signature.removeprefix("sha256=")
    elif case == "old timestamp":
        timestamp, signature = signed(body, at=time.time() - 301)
    elif case == "future timestamp":
        timestamp, signature = signed(body, at=time.time() + 301)
    elif case == "timestamp not a number":
        timestamp = "yesterday"
    elif case == "empty signature":
        signature = ""
    elif case == "empty secret":
        secret = ""

    assert not verify_signature(secret, timestamp, body, signature)


def test_verify_tolerance_is_configurable():
    body = b"{}"
    timestamp, signature = signed(body, at=time.time() - 600)

    assert not verify_signature(SECRET, timestamp, body, signature)
    assert verify_signature(SECRET, timestamp, body, signature, tolerance_seconds=900)


# Start-up with the web server


async def start_app(app: web.Application) -> web.AppRunner:
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner


async def test_web_server_runs_sender(session_factory, tmp_path, receiver):
    create_ticket(session_factory)
    app = create_app(settings_for(tmp_path, receiver.url), session_factory)
    runner = await start_app(app)
    try:
        for _ in range(100):
            if receiver.requests:
                break
            await asyncio.sleep(0.05)
    finally:
        await runner.cleanup()

    assert len(receiver.requests) == 1


@pytest.mark.parametrize(
    ("url", "secret", "configured"),
    [("http://127.0.0.1:9/hook", None, "WEBHOOK_URL"), (None, SECRET, "WEBHOOK_SECRET")],
)
async def test_half_configured_webhook_warns(
    session_factory, tmp_path, caplog, url, secret, configured
):
    caplog.set_level(logging.WARNING, logger="bot.workspace.api")

    app = create_app(settings_for(tmp_path, url, secret), session_factory)
    runner = await start_app(app)
    await runner.cleanup()

    warnings = [r.getMessage() for r in caplog.records if "Webhook disabled" in r.getMessage()]
    assert len(warnings) == 1
    assert f"only {configured} is set" in warnings[0]
