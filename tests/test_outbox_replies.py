"""Outbox rules for the SMS channel: reply order, opt-outs, delivery status, backlog."""

from __future__ import annotations

from datetime import timedelta

import pytest
from bot.models import OutboxMessage, SmsOptOut, utcnow
from bot.opt_outs import OPTED_OUT_ERROR, record_opt_in, record_opt_out
from bot.outbox import (
    OutboxSender,
    enqueue_sms,
    outbox_backlog,
    record_delivery_status,
)
from tests.outbox_support import FROM, FakeClock, make_settings

CALLBACK_URL = "https://sms.example.org/webhooks/twilio/status"
PHONE = "+16505550123"
OTHER = "+16505550124"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sender(session_factory, tmp_path, twilio_fake, clock) -> OutboxSender:
    settings = make_settings(tmp_path, twilio_fake)
    return OutboxSender(session_factory, settings, request_timeout=0.5, clock=clock)


def add(session_factory, body, *, to=PHONE, kind="reply", inbound_id=1) -> int:
    with session_factory() as session, session.begin():
        row = enqueue_sms(session, to_number=to, body=body, language="en", kind=kind)
        row.inbound_message_id = inbound_id
        session.flush()
        return row.id


def row(session_factory, row_id: int) -> OutboxMessage:
    with session_factory() as session:
        return session.get(OutboxMessage, row_id)


def opt_out(session_factory, phone=PHONE) -> None:
    with session_factory() as session, session.begin():
        record_opt_out(session, phone, source="keyword", language="en")


async def drain(sender: OutboxSender, rounds: int = 10) -> list[int]:
    """Run send_due until nothing is due; return rows handled per call."""
    handled = []
    for _ in range(rounds):
        count = await sender.send_due()
        if not count:
            break
        handled.append(count)
    return handled


# Order of replies


async def test_replies_to_one_number_one_per_batch(
    session_factory, sender, twilio_fake
):
    for index in range(3):
        add(session_factory, f"reply {index}", inbound_id=10 + index)
    add(session_factory, "other member", to=OTHER, inbound_id=20)

    handled = await drain(sender)

    assert handled == [2, 1, 1]
    bodies = [m["body"] for m in twilio_fake.messages if m["to"] == PHONE]
    assert bodies == ["reply 0", "reply 1", "reply 2"]


async def test_failed_reply_holds_later_ones(
    session_factory, sender, twilio_fake, clock
):
    first = add(session_factory, "first", inbound_id=1)
    second = add(session_factory, "second", inbound_id=2)
    twilio_fake.fail_next(1, status=500)

    await drain(sender)
    assert row(session_factory, first).status == "pending"
    assert row(session_factory, second).status == "pending"
    assert twilio_fake.messages == []

    clock.advance(sender.backoff(1).total_seconds() + 1)
    await drain(sender)

    assert [m["body"] for m in twilio_fake.messages] == ["first", "second"]


async def test_confirmation_not_held_by_replies(
    session_factory, sender, twilio_fake, clock
):
    add(session_factory, "reply", inbound_id=1)
    confirmation = add(session_factory, "confirmation", kind="ticket_confirmation",
                       inbound_id=None)
    twilio_fake.fail_next(1, status=500)

    await drain(sender)

    assert row(session_factory, confirmation).status == "sent"
    assert [m["body"] for m in twilio_fake.messages] == ["confirmation"]


# Opt-outs


@pytest.mark.parametrize(
    "kind, expected",
    [
        ("reply", "failed"),
        ("ticket_confirmation", "failed"),
        ("help", "failed"),
        ("opt_out_confirmation", "sent"),
        ("crisis", "sent"),
    ],
)
async def test_opted_out_number_gets_only_exempt_kinds(
    session_factory, sender, twilio_fake, kind, expected
):
    row_id = add(session_factory, f"a {kind}", kind=kind, inbound_id=None)
    opt_out(session_factory)

    await drain(sender)
    stored = row(session_factory, row_id)

    assert stored.status == expected
    if expected == "failed":
        assert stored.last_error == OPTED_OUT_ERROR
        assert twilio_fake.posts() == 0
    else:
        assert [m["body"] for m in twilio_fake.messages] == [f"a {kind}"]


async def test_opt_in_sends_again(session_factory, sender, twilio_fake):
    opt_out(session_factory)
    with session_factory() as session, session.begin():
        assert record_opt_in(session, PHONE) is True
        assert record_opt_in(session, PHONE) is False
    row_id = add(session_factory, "welcome back", inbound_id=None)

    await drain(sender)

    assert row(session_factory, row_id).status == "sent"


async def test_opt_out_only_affects_its_number(session_factory, sender, twilio_fake):
    opt_out(session_factory)
    row_id = add(session_factory, "hello", to=OTHER, inbound_id=None)

    await drain(sender)

    assert row(session_factory, row_id).status == "sent"


async def test_opted_out_without_credentials(session_factory, tmp_path, clock):
    sender = OutboxSender(
        session_factory, make_settings(tmp_path), request_timeout=0.5, clock=clock
    )
    blocked = add(session_factory, "reply", inbound_id=None)
    other_number = add(session_factory, "reply", to=OTHER, inbound_id=None)
    opt_out(session_factory)

    await drain(sender)

    assert row(session_factory, blocked).status == "failed"
    assert row(session_factory, other_number).status == "not_sent"


def test_opt_out_twice_keeps_first(session_factory):
    with session_factory() as session, session.begin():
        assert record_opt_out(session, PHONE, source="keyword", language="es") is True
        assert record_opt_out(session, PHONE, source="request", language="en") is False
    with session_factory() as session:
        stored = session.get(SmsOptOut, PHONE)

    assert (stored.source, stored.language) == ("keyword", "es")


# Delivery status and backlog


async def test_delivery_status_recorded(session_factory, sender, twilio_fake):
    row_id = add(session_factory, "hello", inbound_id=None)
    await drain(sender)
    sid = row(session_factory, row_id).provider_sid

    with session_factory() as session, session.begin():
        assert record_delivery_status(session, sid, "delivered") == row_id
        assert record_delivery_status(session, "SM" + "0" * 32, "delivered") is None
    assert row(session_factory, row_id).delivery_status == "delivered"

    with session_factory() as session, session.begin():
        record_delivery_status(session, sid, "undelivered", "30003")
    stored = row(session_factory, row_id)
    assert (stored.status, stored.delivery_status) == ("sent", "undelivered")
    assert stored.last_error == "delivery undelivered, Twilio error 30003"


def test_delivery_status_must_be_known(session_factory):
    with session_factory() as session:
        with pytest.raises(ValueError, match="lost"):
            record_delivery_status(session, "SM" + "0" * 32, "lost")


def test_backlog_counts_unfinished_rows(session_factory):
    old = utcnow() - timedelta(minutes=10)
    with session_factory() as session, session.begin():
        enqueue_sms(session, to_number=PHONE, body="a", language="en", kind="reply",
                    now=old)
        enqueue_sms(session, to_number=PHONE, body="b", language="en", kind="reply")
        done = enqueue_sms(session, to_number=PHONE, body="c", language="en",
                           kind="reply", now=old - timedelta(hours=1))
        done.status = "sent"

    with session_factory() as session:
        backlog = outbox_backlog(session)

    assert backlog.count == 2
    assert 590 <= backlog.oldest_age_seconds <= 700


def test_sender_defaults_from_settings(session_factory, tmp_path):
    settings = make_settings(
        tmp_path,
        PUBLIC_BASE_URL="https://sms.example.org/",
        OUTBOX_RETRY_BASE_SECONDS="7",
    )
    sender = OutboxSender(session_factory, settings)

    assert sender.backoff(1) == timedelta(seconds=7)
    assert sender.backoff(2) == timedelta(seconds=14)
    assert sender._status_callback_url == CALLBACK_URL


async def test_status_callback_url_sent_to_twilio(
    session_factory, tmp_path, twilio_fake, clock
):
    settings = make_settings(
        tmp_path, twilio_fake, PUBLIC_BASE_URL="https://sms.example.org"
    )
    sender = OutboxSender(session_factory, settings, request_timeout=0.5, clock=clock)
    add(session_factory, "hello", inbound_id=None)

    await drain(sender)

    (message,) = twilio_fake.messages
    assert message["status_callback"] == CALLBACK_URL
