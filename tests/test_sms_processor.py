"""SMS processor on real databases, with a scripted dialogue in place of Rasa.

The database, the outbox and Twilio's stand-in are real; only the dialogue
turn is a stand-in, so each case can hold, fail or time a turn.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.models import InboundMessage, OutboxMessage, SmsOptOut, utcnow
from bot.outbox import OutboxSender, enqueue_sms
from bot.sessions import sms_conversation_id
from bot.settings import load_settings
from bot.sms import render_sms
from bot.sms_format import MAX_SMS_CHARS
from bot.sms_inbound import InboundSms
from bot.sms_processor import SmsProcessor

PHONE = "+16505550140"
OTHER_PHONE = "+16505550141"
FROM = "+16505550100"
SECRET = "processor-test-secret"
RATE_LIMIT = 3
CRISIS_TEXT = "i want to kill myself"


class ScriptedDialogue:
    """Stands in for Rasa: echoes each message, and can wait, hold or fail."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.delay = 0.0
        self.failures = 0
        self.gate: asyncio.Event | None = None
        self.entered = asyncio.Event()
        self.running: dict[str, int] = {}
        self.max_per_conversation = 0
        self.max_overall = 0

    async def __call__(self, conversation_id: str, phone: str, text: str) -> list[dict]:
        self.calls.append((conversation_id, text))
        self.running[conversation_id] = self.running.get(conversation_id, 0) + 1
        self.max_per_conversation = max(
            self.max_per_conversation, self.running[conversation_id]
        )
        self.max_overall = max(self.max_overall, sum(self.running.values()))
        self.entered.set()
        try:
            if self.gate is not None:
                await self.gate.wait()
            if self.delay:
                await asyncio.sleep(self.delay)
            if self.failures > 0:
                self.failures -= 1
                raise RuntimeError("dialogue failed")
            return [{"text": f"echo: {text}"}]
        finally:
            self.running[conversation_id] -= 1

    def texts(self, phone: str = PHONE) -> list[str]:
        target = sms_conversation_id(SECRET, phone)
        return [text for conversation, text in self.calls if conversation == target]


@pytest.fixture
def settings(tmp_path, twilio_fake):
    return load_settings(
        {
            "VAR_DIR": str(tmp_path),
            "APP_SECRET": SECRET,
            "TWILIO_ACCOUNT_SID": twilio_fake.account_sid,
            "TWILIO_AUTH_TOKEN": twilio_fake.auth_token,
            "TWILIO_FROM_NUMBER": FROM,
            "TWILIO_API_BASE_URL": twilio_fake.url,
            "SMS_RATE_LIMIT_MESSAGES": str(RATE_LIMIT),
            "SMS_RATE_LIMIT_WINDOW_SECONDS": "60",
            "OUTBOX_BACKLOG_WARN_ROWS": "2",
            "OUTBOX_BACKLOG_WARN_SECONDS": "60",
        }
    )


@pytest.fixture
def dialogue() -> ScriptedDialogue:
    return ScriptedDialogue()


@pytest.fixture
def languages() -> dict[str, str]:
    """Language slot by conversation id, as the tracker would hold it."""
    return {}


@pytest.fixture
async def processor(session_factory, settings, dialogue, languages):
    async def member_language(conversation_id: str) -> str | None:
        return languages.get(conversation_id)

    sender = OutboxSender(session_factory, settings, request_timeout=0.5)
    processor = SmsProcessor(
        session_factory,
        settings,
        dialogue,
        member_language,
        sender=sender,
        sweep_seconds=0.2,
        retry_seconds=0.05,
    )
    yield processor
    await processor.stop(grace_seconds=1)


def inbound(text: str, phone: str = PHONE, **fields) -> InboundSms:
    return InboundSms(
        message_sid="SM" + uuid.uuid4().hex, phone=phone, body=text, **fields
    )


def inbound_rows(session_factory, phone: str = PHONE) -> list[InboundMessage]:
    with session_factory() as session:
        return list(
            session.execute(
                select(InboundMessage)
                .where(InboundMessage.phone == phone)
                .order_by(InboundMessage.id)
            ).scalars()
        )


def reply_rows(session_factory, inbound_id: int) -> list[OutboxMessage]:
    with session_factory() as session:
        return list(
            session.execute(
                select(OutboxMessage)
                .where(OutboxMessage.inbound_message_id == inbound_id)
                .order_by(OutboxMessage.id)
            ).scalars()
        )


async def settle(session_factory, timeout: float = 15.0) -> None:
    """Wait until no inbound row is pending or processing."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        with session_factory() as session:
            unfinished = session.execute(
                select(InboundMessage.id).where(
                    InboundMessage.status.in_(("pending", "processing"))
                )
            ).first()
        if unfinished is None:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("inbound rows still unfinished")


async def send_each(processor, session_factory, texts, phone=PHONE) -> list[str]:
    """Send messages one at a time, each after the last is handled; return outcomes."""
    for text in texts:
        await processor.accept(inbound(text, phone))
        await settle(session_factory)
    return [row.outcome for row in inbound_rows(session_factory, phone)]


# Idempotency and ordering


async def test_repeated_sid_stored_once(processor, session_factory, dialogue):
    message = inbound("what is ECM?")

    first = await processor.accept(message)
    again = await processor.accept(message)
    concurrent = await asyncio.gather(*(processor.accept(message) for _ in range(5)))
    await settle(session_factory)

    assert first[1] is True
    assert again == (first[0], False)
    assert all(result == (first[0], False) for result in concurrent)
    assert len(inbound_rows(session_factory)) == 1
    assert dialogue.texts() == ["what is ECM?"]


async def test_concurrent_first_delivery_creates_one_row(
    processor, session_factory, dialogue
):
    message = inbound("can I keep my doctor?")

    results = await asyncio.gather(*(processor.accept(message) for _ in range(6)))
    await settle(session_factory)

    assert sum(created for _, created in results) == 1
    assert len({row_id for row_id, _ in results}) == 1
    assert dialogue.texts() == ["can I keep my doctor?"]


async def test_one_member_in_order_members_in_parallel(
    processor, session_factory, dialogue
):
    dialogue.delay = 0.05
    texts = [f"message {index}" for index in range(RATE_LIMIT)]

    for text in texts:
        await processor.accept(inbound(text))
        await processor.accept(inbound(text, OTHER_PHONE))
    await settle(session_factory)

    assert dialogue.texts() == texts
    assert dialogue.texts(OTHER_PHONE) == texts
    assert dialogue.max_per_conversation == 1
    assert dialogue.max_overall == 2


async def test_replies_queued_in_order_with_inbound_id(
    processor, session_factory, dialogue
):
    await send_each(processor, session_factory, ["first", "second"])
    first, second = inbound_rows(session_factory)

    replies = reply_rows(session_factory, first.id)
    replies += reply_rows(session_factory, second.id)

    assert [row.body for row in replies] == ["echo: first", "echo: second"]
    assert {row.kind for row in replies} == {"reply"}
    assert [row.inbound_message_id for row in replies] == [first.id, second.id]
    assert all(row.to_number == PHONE for row in replies)


async def test_sender_delivers_replies(processor, session_factory, twilio_fake):
    await processor.start()

    await processor.accept(inbound("hello"))
    await settle(session_factory)
    for _ in range(100):
        if twilio_fake.messages:
            break
        await asyncio.sleep(0.05)

    assert [(m["to"], m["body"]) for m in twilio_fake.messages] == [
        (PHONE, "echo: hello")
    ]


# Keywords, opt-out and help


@pytest.mark.parametrize(
    "texts, outcomes, last_reply_kinds",
    [
        (["STOP"], ["opt_out"], ["opt_out_confirmation"]),
        (["STOP", "stop!"], ["opt_out", "opt_out"], []),
        (["STOP", "what is ECM?"], ["opt_out", "ignored_opted_out"], []),
        (["STOP", "HELP"], ["opt_out", "ignored_opted_out"], []),
        (["STOP", CRISIS_TEXT], ["opt_out", "crisis"], ["crisis"]),
        (["STOP", "yes"], ["opt_out", "opt_in"], ["opt_in_confirmation"]),
        (["STOP", "START", "hi"], ["opt_out", "opt_in", "turn"], ["reply"]),
        (["please stop texting me"], ["opt_out"], ["opt_out_confirmation"]),
        (["HELP"], ["help"], ["help"]),
        (["yes"], ["turn"], ["reply"]),
        (["start"], ["turn"], ["reply"]),
        (["I want to stop smoking"], ["turn"], ["reply"]),
        ([CRISIS_TEXT], ["turn"], ["reply"]),
    ],
)
async def test_keyword_outcomes(
    processor, session_factory, dialogue, texts, outcomes, last_reply_kinds
):
    assert await send_each(processor, session_factory, texts) == outcomes

    last = inbound_rows(session_factory)[-1]
    kinds = [row.kind for row in reply_rows(session_factory, last.id)]
    assert kinds == last_reply_kinds
    turns = [text for text, outcome in zip(texts, outcomes) if outcome == "turn"]
    assert dialogue.texts() == turns


async def test_opt_out_recorded_and_cleared(processor, session_factory):
    await send_each(processor, session_factory, ["no me manden más mensajes"])
    with session_factory() as session:
        row = session.get(SmsOptOut, PHONE)
        assert row.opted_in_at is None
        assert (row.source, row.language) == ("request", "es")

    await send_each(processor, session_factory, ["UNSTOP"])
    with session_factory() as session:
        assert session.get(SmsOptOut, PHONE).opted_in_at is not None


async def test_opt_out_fails_pending_replies(processor, session_factory):
    await processor.accept(inbound("what is ECM?"))
    await settle(session_factory)
    await send_each(processor, session_factory, ["STOP"])

    sender = OutboxSender(session_factory, processor._settings, request_timeout=0.5)
    await sender.send_due()
    turn, stop = inbound_rows(session_factory)

    assert [row.status for row in reply_rows(session_factory, turn.id)] == ["failed"]
    assert [row.status for row in reply_rows(session_factory, stop.id)] == ["sent"]


@pytest.mark.parametrize(
    "text, slot_language, kind, language",
    [
        ("HELP", None, "help", "en"),
        ("HELP", "es", "help", "es"),
        ("ayuda", None, "help", "es"),
        ("STOP", "es", "opt_out_confirmation", "es"),
        ("PARAR", "en", "opt_out_confirmation", "es"),
        ("unsubscribe me", "es", "opt_out_confirmation", "en"),
    ],
)
async def test_keyword_reply_language(
    processor, session_factory, languages, text, slot_language, kind, language
):
    if slot_language:
        languages[sms_conversation_id(SECRET, PHONE)] = slot_language

    await send_each(processor, session_factory, [text])

    (row,) = inbound_rows(session_factory)
    (reply,) = reply_rows(session_factory, row.id)
    assert reply.body == render_sms(kind, language)
    assert reply.language == language


# Hostile input and rate limit


@pytest.mark.parametrize(
    "message, outcome, template",
    [
        (inbound(""), "empty", "empty_message"),
        (inbound("", num_media=2), "media_only", "media_not_supported"),
        (inbound("a" * MAX_SMS_CHARS, truncated=True), "too_long", "too_long"),
        (inbound(CRISIS_TEXT + " " + "a" * 1600, truncated=True), "crisis", "crisis"),
    ],
)
async def test_hostile_message_reply(
    processor, session_factory, dialogue, message, outcome, template
):
    await processor.accept(message)
    await settle(session_factory)

    (row,) = inbound_rows(session_factory)
    assert row.outcome == outcome
    assert [r.body for r in reply_rows(session_factory, row.id)] == [
        render_sms(template, "en")
    ]
    assert dialogue.calls == []


async def test_rate_limit_notice_once_and_crisis_bypass(
    processor, session_factory, dialogue
):
    texts = ["hi"] * (RATE_LIMIT + 2) + [CRISIS_TEXT, "STOP"]

    for text in texts:
        await processor.accept(inbound(text))
    await settle(session_factory)
    outcomes = [row.outcome for row in inbound_rows(session_factory)]

    assert outcomes == ["turn"] * RATE_LIMIT + [
        "rate_limit_notice",
        "rate_limited",
        "turn",
        "opt_out",
    ]
    assert dialogue.texts() == ["hi"] * RATE_LIMIT + [CRISIS_TEXT]
    notice_row = inbound_rows(session_factory)[RATE_LIMIT]
    assert [r.kind for r in reply_rows(session_factory, notice_row.id)] == [
        "rate_limited"
    ]


async def test_rate_limit_is_per_number(processor, session_factory, dialogue):
    for _ in range(RATE_LIMIT + 1):
        await processor.accept(inbound("hi"))
    await processor.accept(inbound("hi", OTHER_PHONE))
    await settle(session_factory)

    assert inbound_rows(session_factory, OTHER_PHONE)[0].outcome == "turn"


# Failures, restart and shutdown


async def test_failed_turn_retried(processor, session_factory, dialogue):
    dialogue.failures = 1

    outcomes = await send_each(processor, session_factory, ["what is ECM?"])

    (row,) = inbound_rows(session_factory)
    assert outcomes == ["turn"]
    assert row.attempts == 2
    assert dialogue.texts() == ["what is ECM?", "what is ECM?"]


async def test_turn_failing_every_time_gets_apology(
    processor, session_factory, dialogue
):
    dialogue.failures = 100

    await processor.accept(inbound("what is ECM?"))
    await processor.accept(inbound("hello?"))
    await settle(session_factory)

    first, second = inbound_rows(session_factory)
    assert (first.status, first.outcome, first.attempts) == ("failed", "turn_failed", 3)
    assert first.last_error == "RuntimeError"
    assert [r.kind for r in reply_rows(session_factory, first.id)] == ["turn_failed"]
    # The next message waited for the first, then got its own attempts.
    assert dialogue.texts()[:3] == ["what is ECM?"] * 3
    assert second.status == "failed"


async def test_recovery_picks_up_stored_rows(processor, session_factory, dialogue):
    now = utcnow()
    rows = {
        "pending": ("+16505550151", "pending", now, 0),
        "stale": ("+16505550152", "processing", now - timedelta(hours=1), 1),
        "fresh": ("+16505550153", "processing", now, 1),
    }
    with session_factory() as session, session.begin():
        for name, (phone, status, updated, attempts) in rows.items():
            session.add(
                InboundMessage(
                    message_sid="SM" + uuid.uuid4().hex,
                    conversation_id=sms_conversation_id(SECRET, phone),
                    phone=phone,
                    body=name,
                    truncated=False,
                    num_media=0,
                    received_at=updated,
                    status=status,
                    attempts=attempts,
                    updated_at=updated,
                )
            )

    await processor.start()
    for _ in range(200):
        if len(dialogue.calls) >= 2:
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.3)

    assert sorted(text for _, text in dialogue.calls) == ["pending", "stale"]
    statuses = {
        name: inbound_rows(session_factory, phone)[0].status
        for name, (phone, *_rest) in rows.items()
    }
    assert statuses == {"pending": "done", "stale": "done", "fresh": "processing"}


async def test_stop_puts_running_turn_back(processor, session_factory, dialogue):
    dialogue.gate = asyncio.Event()
    await processor.start()
    await processor.accept(inbound("what is ECM?"))
    await asyncio.wait_for(dialogue.entered.wait(), timeout=5)

    await processor.stop(grace_seconds=0.1)

    (row,) = inbound_rows(session_factory)
    assert (row.status, row.attempts) == ("pending", 1)
    assert reply_rows(session_factory, row.id) == []
    assert processor.running is False


async def test_accept_after_stop_leaves_row_pending(
    processor, session_factory, dialogue
):
    await processor.start()
    await processor.stop()

    await processor.accept(inbound("hello"))
    await asyncio.sleep(0.1)

    (row,) = inbound_rows(session_factory)
    assert row.status == "pending"
    assert dialogue.calls == []


# Operations


async def test_backlog_warning_once_then_clear(processor, session_factory, caplog):
    with session_factory() as session, session.begin():
        for index in range(3):
            enqueue_sms(
                session, to_number=PHONE, body=f"queued {index}", language="en",
                kind="reply",
            )
    caplog.set_level(logging.INFO, logger="bot.sms_processor")

    first = await processor.check_backlog()
    second = await processor.check_backlog()
    sender = OutboxSender(session_factory, processor._settings, request_timeout=0.5)
    await sender.send_due()
    cleared = await processor.check_backlog()
    records = [r for r in caplog.records if r.name == "bot.sms_processor"]
    warnings = [r for r in records if r.levelno == logging.WARNING]

    assert (first, second, cleared) == (True, True, False)
    assert len(warnings) == 1
    assert "3 rows waiting (limit 2)" in warnings[0].getMessage()
    assert "back under its limits" in records[-1].getMessage()


async def test_metrics_text(processor, session_factory):
    await send_each(processor, session_factory, ["hi", "STOP"])

    text = await asyncio.to_thread(processor.metrics_text)
    samples = dict(
        line.rsplit(" ", 1) for line in text.splitlines() if not line.startswith("#")
    )

    assert samples['hpsm_sms_inbound_handled_total{outcome="turn"}'] == "1"
    assert samples['hpsm_sms_inbound_handled_total{outcome="opt_out"}'] == "1"
    assert samples['hpsm_sms_turns_total{result="ok"}'] == "1"
    assert samples["hpsm_sms_inbound_messages_total"] == "2"
    assert samples["hpsm_sms_opted_out_numbers"] == "1"
    assert samples["hpsm_sms_outbox_backlog"] == "2"
    assert "# TYPE hpsm_sms_sends_total counter" in text
    assert "# TYPE hpsm_sms_outbox_backlog gauge" in text


async def test_health_database_check(processor):
    assert await asyncio.to_thread(processor.database_ok) is True
    assert processor.running is False
    await processor.start()
    assert processor.running is True
