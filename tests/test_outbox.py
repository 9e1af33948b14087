"""Outbox sender over real HTTP: the twilio library against the fake Twilio API."""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from bot.db import make_engine, make_session_factory, run_migrations
from bot.models import OutboxMessage, utcnow
from bot.outbox import (
    OutboxSender,
    _OutboxStore,
    enqueue_sms,
    rewrite_twilio_url,
)
from tests.outbox_support import FROM, FakeClock, make_settings
from bot.tickets import HandoffRequest, TicketRepository

PHONE = "+16505550123"
PHONE_DIGITS = "6505550123"
TIMEOUT = 0.5


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(tmp_path, twilio_fake):
    return make_settings(tmp_path, twilio_fake)


@pytest.fixture
def sender(session_factory, settings, clock) -> OutboxSender:
    return OutboxSender(
        session_factory, settings, request_timeout=TIMEOUT, clock=clock
    )


def create_ticket(session_factory, phone=PHONE, handoff_id="h1", conversation="c1"):
    ticket, _ = TicketRepository(session_factory).create_from_handoff(
        HandoffRequest(
            conversation_id=conversation,
            handoff_id=handoff_id,
            channel="sms",
            name="Ana Perez",
            phone=phone,
            preferred_language="en",
            consent_contact=True,
            services=["ecm"],
        )
    )
    return ticket


def outbox_row(session_factory, ticket_id=None, row_id=None) -> OutboxMessage:
    with session_factory() as session:
        statement = select(OutboxMessage)
        if ticket_id is not None:
            statement = statement.where(OutboxMessage.ticket_id == ticket_id)
        if row_id is not None:
            statement = statement.where(OutboxMessage.id == row_id)
        return session.execute(statement).scalar_one()


def add_row(session_factory, body: str, to: str = PHONE) -> int:
    with session_factory() as session, session.begin():
        return enqueue_sms(
            session, to_number=to, body=body, language="en", kind="help"
        ).id


# Sending


async def test_send_success(session_factory, sender, twilio_fake):
    ticket = create_ticket(session_factory)

    handled = await sender.send_due()

    row = outbox_row(session_factory, ticket.id)
    assert handled == 1
    assert row.status == "sent"
    assert row.attempts == 1
    assert row.sent_at is not None
    assert row.last_error is None
    messages = twilio_fake.messages
    assert len(messages) == 1
    assert row.provider_sid == messages[0]["sid"]
    assert messages[0]["to"] == PHONE
    assert messages[0]["from"] == FROM
    assert messages[0]["body"] == row.body
    assert ticket.reference in messages[0]["body"]

    assert await sender.send_due() == 0
    assert twilio_fake.posts() == 1


async def test_status_callback_sent(session_factory, settings, twilio_fake, clock):
    callback = "http://127.0.0.1:9/twilio/status"
    sender = OutboxSender(
        session_factory,
        settings,
        request_timeout=TIMEOUT,
        status_callback_url=callback,
        clock=clock,
    )
    create_ticket(session_factory)

    await sender.send_due()

    assert twilio_fake.messages[0]["status_callback"] == callback


async def test_no_credentials_marks_not_sent(
    session_factory, tmp_path, twilio_fake, clock, caplog
):
    settings = make_settings(tmp_path, TWILIO_API_BASE_URL=twilio_fake.url)
    sender = OutboxSender(session_factory, settings, clock=clock)
    ticket = create_ticket(session_factory)
    caplog.set_level(logging.DEBUG)

    handled = await sender.send_due()

    row = outbox_row(session_factory, ticket.id)
    assert handled == 1
    assert row.status == "not_sent"
    assert row.attempts == 0
    assert twilio_fake.requests == []
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.outbox"]
    assert any(
        f"outbox {row.id}" in line and ticket.reference in line for line in lines
    ), lines
    assert PHONE_DIGITS[-7:] not in caplog.text
    assert await sender.send_due() == 0


async def test_logs_hold_no_phone_or_body(
    session_factory, sender, twilio_fake, clock, caplog
):
    caplog.set_level(logging.DEBUG)
    sent = create_ticket(session_factory, handoff_id="h1")
    twilio_fake.unsubscribed.add("+16505550124")
    create_ticket(session_factory, phone="+16505550124", handoff_id="h2")
    twilio_fake.hang_next(1, store=True)
    create_ticket(session_factory, phone="+16505550125", handoff_id="h3")

    await sender.send_due()
    clock.advance(3600)
    await sender.send_due()

    body = outbox_row(session_factory, sent.id).body
    for record in caplog.records:
        text = record.getMessage()
        assert "555012" not in text, (record.name, text)
        if record.levelno >= logging.INFO:
            assert body not in text, (record.name, text)
            assert "Care Coordination" not in text, (record.name, text)


# Retries


async def test_server_error_then_recovery(session_factory, sender, twilio_fake, clock):
    ticket = create_ticket(session_factory)
    twilio_fake.fail_next(1, status=500)

    await sender.send_due()

    row = outbox_row(session_factory, ticket.id)
    assert row.status == "pending"
    assert row.attempts == 1
    assert row.last_error == "HTTP 500, Twilio error 500"
    assert row.next_attempt_at == clock.now + timedelta(seconds=30)
    assert await sender.send_due() == 0  # not due yet

    clock.advance(30)
    assert await sender.send_due() == 1

    row = outbox_row(session_factory, ticket.id)
    assert row.status == "sent"
    assert row.attempts == 2
    assert len(twilio_fake.messages) == 1
    assert row.provider_sid == twilio_fake.messages[0]["sid"]
    assert twilio_fake.posts() == 2


async def test_rate_limit_backs_off(session_factory, sender, twilio_fake, clock):
    ticket = create_ticket(session_factory)
    twilio_fake.fail_next(3, status=429, code=20429)

    for attempt, delay in [(1, 30), (2, 60), (3, 120)]:
        await sender.send_due()
        row = outbox_row(session_factory, ticket.id)
        assert row.status == "pending"
        assert row.attempts == attempt
        assert row.last_error == "HTTP 429, Twilio error 20429"
        assert row.next_attempt_at - clock.now == timedelta(seconds=delay)
        clock.advance(delay - 1)
        assert await sender.send_due() == 0
        clock.advance(1)

    await sender.send_due()

    row = outbox_row(session_factory, ticket.id)
    assert row.status == "sent"
    assert row.attempts == 4
    assert len(twilio_fake.messages) == 1


@pytest.mark.parametrize(
    "number_list, code", [("invalid_numbers", 21211), ("unsubscribed", 21610)]
)
async def test_permanent_error_fails(
    session_factory, sender, twilio_fake, clock, number_list, code
):
    number = "+15005550001"
    getattr(twilio_fake, number_list).add(number)
    ticket = create_ticket(session_factory, phone=number)

    await sender.send_due()

    row = outbox_row(session_factory, ticket.id)
    assert row.status == "failed"
    assert row.last_error == f"HTTP 400, Twilio error {code}"
    assert "5550001" not in row.last_error
    assert row.next_attempt_at is None
    clock.advance(86400)
    assert await sender.send_due() == 0
    assert twilio_fake.posts() == 1
    assert twilio_fake.messages == []


async def test_gives_up_after_max_attempts(
    session_factory, settings, twilio_fake, clock
):
    sender = OutboxSender(
        session_factory, settings, request_timeout=TIMEOUT, max_attempts=2, clock=clock
    )
    ticket = create_ticket(session_factory)
    twilio_fake.fail_next(5, status=503)

    await sender.send_due()
    clock.advance(30)
    await sender.send_due()
    clock.advance(3600)

    row = outbox_row(session_factory, ticket.id)
    assert row.status == "failed"
    assert row.attempts == 2
    assert row.last_error == "gave up after 2 attempts: HTTP 503, Twilio error 503"
    assert await sender.send_due() == 0
    assert twilio_fake.posts() == 2


async def test_wrong_credentials_retried(session_factory, tmp_path, twilio_fake, clock):
    settings = make_settings(tmp_path, twilio_fake, TWILIO_AUTH_TOKEN="wrong")
    sender = OutboxSender(
        session_factory, settings, request_timeout=TIMEOUT, clock=clock
    )
    ticket = create_ticket(session_factory)

    await sender.send_due()

    row = outbox_row(session_factory, ticket.id)
    assert row.status == "pending"
    assert row.last_error == "HTTP 401, Twilio error 20003"
    assert twilio_fake.messages == []


async def test_connection_refused_retried(session_factory, tmp_path, clock):
    settings = make_settings(
        tmp_path,
        TWILIO_ACCOUNT_SID="AC" + "0" * 32,
        TWILIO_AUTH_TOKEN="token",
        TWILIO_FROM_NUMBER=FROM,
        # Nothing listens on port 1 of the loopback interface.
        TWILIO_API_BASE_URL="http://127.0.0.1:1",
    )
    sender = OutboxSender(
        session_factory, settings, request_timeout=TIMEOUT, clock=clock
    )
    ticket = create_ticket(session_factory)

    await sender.send_due()

    row = outbox_row(session_factory, ticket.id)
    assert row.status == "pending"
    assert row.last_error == "connection failed: ClientConnectorError"


# Unknown outcomes and reconciliation


async def test_timeout_reconciled_as_sent(session_factory, sender, twilio_fake, clock):
    ticket = create_ticket(session_factory)
    twilio_fake.hang_next(1, store=True)

    await sender.send_due()

    row = outbox_row(session_factory, ticket.id)
    assert row.status == "unknown"
    assert row.last_error == "TimeoutError"
    assert row.provider_sid is None
    assert await sender.send_due() == 0  # reconciliation waits for the backoff

    clock.advance(30)
    assert await sender.send_due() == 1

    row = outbox_row(session_factory, ticket.id)
    messages = twilio_fake.messages
    assert row.status == "sent"
    assert len(messages) == 1
    assert row.provider_sid == messages[0]["sid"]
    assert twilio_fake.posts() == 1
    clock.advance(86400)
    assert await sender.send_due() == 0
    assert len(twilio_fake.messages) == 1


async def test_timeout_reconciles_queued_message(
    session_factory, sender, twilio_fake, clock
):
    twilio_fake.leave_queued = True
    ticket = create_ticket(session_factory)
    twilio_fake.hang_next(1, store=True)

    await sender.send_due()
    clock.advance(30)
    await sender.send_due()

    row = outbox_row(session_factory, ticket.id)
    assert row.status == "sent"
    assert row.provider_sid == twilio_fake.messages[0]["sid"]
    assert twilio_fake.posts() == 1


async def test_lost_request_sent_once(session_factory, sender, twilio_fake, clock):
    ticket = create_ticket(session_factory)
    twilio_fake.hang_next(1, store=False)

    await sender.send_due()
    assert outbox_row(session_factory, ticket.id).status == "unknown"

    clock.advance(30)
    await sender.send_due()  # reconciliation finds nothing
    row = outbox_row(session_factory, ticket.id)
    assert row.status == "pending"
    assert twilio_fake.posts() == 1

    await sender.send_due()

    row = outbox_row(session_factory, ticket.id)
    assert row.status == "sent"
    assert row.attempts == 3
    assert len(twilio_fake.messages) == 1
    assert row.provider_sid == twilio_fake.messages[0]["sid"]
    assert twilio_fake.posts() == 2
    clock.advance(86400)
    assert await sender.send_due() == 0
    assert len(twilio_fake.messages) == 1


async def test_reconcile_error_stays_unknown(
    session_factory, sender, twilio_fake, clock
):
    ticket = create_ticket(session_factory)
    twilio_fake.hang_next(1, store=True)
    await sender.send_due()
    twilio_fake.fail_next(1, status=503, method="GET")

    clock.advance(30)
    await sender.send_due()

    row = outbox_row(session_factory, ticket.id)
    assert row.status == "unknown"
    assert row.last_error == "reconciliation failed: TwilioException"
    assert twilio_fake.posts() == 1

    clock.advance(3600)
    await sender.send_due()

    row = outbox_row(session_factory, ticket.id)
    assert row.status == "sent"
    assert len(twilio_fake.messages) == 1
    assert twilio_fake.posts() == 1


async def test_reconcile_skips_sid_of_other_row(
    session_factory, sender, twilio_fake, clock
):
    first = add_row(session_factory, "Same text")
    await sender.send_due()
    second = add_row(session_factory, "Same text")
    twilio_fake.hang_next(1, store=False)
    await sender.send_due()

    clock.advance(30)
    await sender.send_due()  # finds only the first row's message
    assert outbox_row(session_factory, row_id=second).status == "pending"
    await sender.send_due()

    first_row = outbox_row(session_factory, row_id=first)
    second_row = outbox_row(session_factory, row_id=second)
    assert second_row.status == "sent"
    assert second_row.provider_sid != first_row.provider_sid
    assert len(twilio_fake.messages) == 2


async def test_abandoned_sending_row_reconciled(
    session_factory, sender, twilio_fake, clock
):
    ticket = create_ticket(session_factory)
    row = outbox_row(session_factory, ticket.id)
    stored = twilio_fake.add_message(PHONE, FROM, row.body)
    # A sender claimed the row, reached Twilio and died before writing back.
    with session_factory() as session, session.begin():
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row.id)
            .values(status="sending", attempts=1, updated_at=clock.now)
        )

    assert await sender.send_due() == 0  # the lease has not run out
    clock.advance(601)
    assert await sender.send_due() == 1

    row = outbox_row(session_factory, ticket.id)
    assert row.status == "sent"
    assert row.provider_sid == stored["sid"]
    assert twilio_fake.posts() == 0


# Concurrency


async def test_concurrent_senders_send_each_row_once(db_url, twilio_fake, tmp_path):
    run_migrations(db_url)
    settings = make_settings(tmp_path, twilio_fake)
    engines = [make_engine(db_url) for _ in range(3)]
    try:
        factories = [make_session_factory(engine) for engine in engines]
        # One number per ticket: a number gets only a few confirmations a day.
        for number in range(24):
            create_ticket(
                factories[0],
                phone=f"+1650555{number:04d}",
                handoff_id=f"h{number}",
                conversation=f"c{number}",
            )
        senders = [
            OutboxSender(factory, settings, request_timeout=5.0)
            for factory in factories
        ]

        async def drain(sender: OutboxSender) -> int:
            total = 0
            while handled := await sender.send_due(limit=3):
                total += handled
            return total

        totals = await asyncio.gather(*(drain(sender) for sender in senders))

        with factories[0]() as session:
            rows = session.execute(select(OutboxMessage)).scalars().all()
    finally:
        for engine in engines:
            engine.dispose()

    assert sum(totals) == 24
    assert {row.status for row in rows} == {"sent"}
    assert {row.attempts for row in rows} == {1}
    messages = twilio_fake.messages
    assert len(messages) == 24
    assert len({message["body"] for message in messages}) == 24
    assert {row.provider_sid for row in rows} == {m["sid"] for m in messages}


def test_claims_are_disjoint(session_factory):
    for number in range(40):
        add_row(session_factory, f"message {number}")
    store = _OutboxStore(session_factory)
    workers = 4
    barrier = threading.Barrier(workers)
    claimed: list[list[int]] = []
    errors: list[BaseException] = []
    now = datetime.now(timezone.utc)

    def claim() -> None:
        barrier.wait()
        try:
            while batch := store.claim(5, now, timedelta(minutes=10)):
                claimed.append([item.id for item in batch])
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=claim) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    ids = [row_id for batch in claimed for row_id in batch]
    assert errors == []
    assert len(ids) == 40
    assert len(set(ids)) == 40


# Running and configuration


async def test_run_forever_sends_and_stops(session_factory, settings, twilio_fake):
    sender = OutboxSender(session_factory, settings, request_timeout=TIMEOUT)
    task = asyncio.create_task(sender.run_forever(poll_seconds=30))
    await asyncio.sleep(0.1)
    ticket = create_ticket(session_factory)
    sender.notify()

    for _ in range(100):
        if outbox_row(session_factory, ticket.id).status == "sent":
            break
        await asyncio.sleep(0.05)
    sender.stop()
    await asyncio.wait_for(task, timeout=5)

    assert outbox_row(session_factory, ticket.id).status == "sent"
    assert len(twilio_fake.messages) == 1
    assert task.done()


def test_lease_must_exceed_timeout(session_factory, settings):
    with pytest.raises(ValueError):
        OutboxSender(session_factory, settings, request_timeout=10, lease_seconds=20)


@pytest.mark.parametrize(
    "url, base, expected",
    [
        (
            "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json",
            "http://127.0.0.1:8765",
            "http://127.0.0.1:8765/2010-04-01/Accounts/AC1/Messages.json",
        ),
        (
            "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json?To=x&Page=1",
            "http://127.0.0.1:8765/",
            "http://127.0.0.1:8765/2010-04-01/Accounts/AC1/Messages.json?To=x&Page=1",
        ),
        (
            "https://api.dublin.ie1.twilio.com/2010-04-01/Accounts/AC1/Messages.json",
            "http://127.0.0.1:8765",
            "http://127.0.0.1:8765/2010-04-01/Accounts/AC1/Messages.json",
        ),
        (
            "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json",
            "https://api.twilio.com",
            "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json",
        ),
        (
            "https://example.org/other",
            "http://127.0.0.1:8765",
            "https://example.org/other",
        ),
    ],
)
def test_rewrite_twilio_url(url, base, expected):
    assert rewrite_twilio_url(url, base) == expected
