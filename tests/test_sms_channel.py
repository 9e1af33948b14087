"""The hardened Twilio SMS channel over real HTTP, against the real assistant.

One assistant serves most tests; the restart and laptop-mode tests start
their own. Replies are read where Twilio's stand-in received them.
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import timedelta

import pytest
from multidict import MultiDict
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator

from bot.models import InboundMessage, OutboxMessage, SmsOptOut, utcnow
from bot.opt_outs import OPTED_OUT_ERROR
from bot.sessions import sms_conversation_id
from bot.sms import render_sms
from tests.assistant import (
    REFERENCE_PATTERN,
    SMS_WEBHOOK,
    new_message_sid,
    start_assistant,
    stop_assistant,
)
from tests.fakes.twilio_server import FakeTwilio

pytestmark = pytest.mark.slow

ACCOUNT_SID = "AC" + "5a5c" * 8
AUTH_TOKEN = "sms-channel-auth-token"
FROM_NUMBER = "+16505550000"
RATE_LIMIT = 12
CRISIS_TEXT = "i want to kill myself"
HANDOFF_ANSWERS = {
    "handoff_name": ["Wendeline Abernathy"],
    "handoff_member_id": ["skip"],
    "handoff_language": ["English"],
    "handoff_call_time": ["mornings"],
    "handoff_consent": ["yes"],
    "handoff_confirm": ["yes"],
}


def twilio_env(fake: FakeTwilio) -> dict:
    return {
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": FROM_NUMBER,
        "TWILIO_API_BASE_URL": fake.url,
        "SMS_RATE_LIMIT_MESSAGES": str(RATE_LIMIT),
        "SMS_RATE_LIMIT_WINDOW_SECONDS": "60",
        "OUTBOX_RETRY_BASE_SECONDS": "1",
        "OUTBOX_BACKLOG_WARN_SECONDS": "3",
    }


@pytest.fixture(scope="module")
def twilio():
    fake = FakeTwilio(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN).start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def assistant(tmp_path_factory, twilio):
    running = start_assistant(
        tmp_path_factory.mktemp("sms-channel"), twilio_env(twilio), twilio=twilio
    )
    yield running
    code = stop_assistant(running)
    assert code == 0, running.log_text()[-3000:]


def phone_for(test_number: int) -> str:
    """Return a member number that only one test uses."""
    return f"+1650555{test_number:04d}"


def count_inbound(assistant, **filters) -> int:
    with Session(assistant.engine) as session:
        statement = select(func.count()).select_from(InboundMessage)
        for name, value in filters.items():
            statement = statement.where(getattr(InboundMessage, name) == value)
        return session.execute(statement).scalar_one()


def messages_to(twilio: FakeTwilio, phone: str) -> list[dict]:
    return [message for message in twilio.messages if message["to"] == phone]


def user_texts(assistant, phone: str) -> list[str]:
    tracker = assistant.tracker(assistant.sms_conversation_id(phone))
    events = tracker["events"]
    return [event.get("text") for event in events if event["event"] == "user"]


def post_concurrently(assistant, forms: list[dict]) -> list[int]:
    """POST signed webhooks from threads released together; return the statuses."""
    statuses: list[int] = [0] * len(forms)
    start = threading.Barrier(len(forms))

    def post(index: int) -> None:
        start.wait()
        statuses[index], _ = assistant.post_twilio(SMS_WEBHOOK, forms[index])

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(forms))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return statuses


def answer_handoff(assistant, phone: str, answers: dict) -> list[str]:
    """Answer each requested hand-off slot until the form closes."""
    conversation_id = assistant.sms_conversation_id(phone)
    remaining = {slot: list(replies) for slot, replies in answers.items()}
    replies: list[str] = []
    for _ in range(30):
        tracker = assistant.tracker(conversation_id)
        if (tracker.get("active_loop") or {}).get("name") != "handoff_form":
            return replies
        slot = tracker["slots"]["requested_slot"]
        queue = remaining.get(slot) or ["no"]
        replies = assistant.sms(phone, queue.pop(0) if len(queue) > 1 else queue[0])
    raise AssertionError("handoff_form did not finish")


# Authenticity


def test_signed_request_is_accepted(assistant, twilio):
    phone = phone_for(101)
    replies = assistant.sms(phone, "what is ECM?")

    assert replies
    assert all(message["from"] == FROM_NUMBER for message in messages_to(twilio, phone))


@pytest.mark.parametrize(
    "case",
    ["missing", "wrong_token", "other_url", "tampered_body", "extra_field"],
)
def test_unsigned_or_forged_request_is_rejected(assistant, case):
    phone = phone_for(102)
    fields = assistant.sms_fields(phone, "hello")
    signature = assistant.twilio_signature(SMS_WEBHOOK, fields)
    headers = {"X-Twilio-Signature": signature}
    if case == "missing":
        headers = {"X-Twilio-Signature": ""}
    elif case == "wrong_token":
        forged = RequestValidator("not-the-token").compute_signature(
            assistant.base_url + SMS_WEBHOOK, fields
        )
        headers = {"X-Twilio-Signature": forged}
    elif case == "other_url":
        url = "https://elsewhere.example.org" + SMS_WEBHOOK
        headers = {
            "X-Twilio-Signature": assistant.twilio_signature(SMS_WEBHOOK, fields, url)
        }
    elif case == "tampered_body":
        fields = dict(fields, Body="talk to a person")
    elif case == "extra_field":
        fields = dict(fields, NumMedia="1")

    status, body = assistant.post_form(SMS_WEBHOOK, fields, headers)

    assert status == 403, body
    assert count_inbound(assistant, message_sid=fields["MessageSid"]) == 0


def test_forwarded_public_url_is_checked(assistant):
    phone = phone_for(103)
    fields = assistant.sms_fields(phone, "hi")
    public = "https://sms.example.org" + SMS_WEBHOOK
    headers = {
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "sms.example.org",
        "X-Twilio-Signature": assistant.twilio_signature(SMS_WEBHOOK, fields, public),
    }

    status, _ = assistant.post_form(SMS_WEBHOOK, fields, headers)
    assistant.wait_until_answered(fields["MessageSid"])

    assert status == 200
    # Signed for the loopback URL, the request no longer matches behind the proxy.
    fields = assistant.sms_fields(phone, "hi again")
    headers["X-Twilio-Signature"] = assistant.twilio_signature(SMS_WEBHOOK, fields)
    status, _ = assistant.post_form(SMS_WEBHOOK, fields, headers)
    assert status == 403


def test_webhook_answers_empty_twiml_at_once(assistant):
    fields = assistant.sms_fields(phone_for(104), "what does ECM cost?")

    started = time.monotonic()
    status, body = assistant.post_twilio(SMS_WEBHOOK, fields)
    elapsed = time.monotonic() - started

    assert status == 200
    assert body.endswith("<Response/>")
    assert "<Message>" not in body
    assert elapsed < 5
    assert count_inbound(assistant, message_sid=fields["MessageSid"]) == 1
    assistant.wait_until_answered(fields["MessageSid"])


# Idempotency and ordering


def test_repeated_delivery_answered_once(assistant, twilio):
    phone = phone_for(201)
    fields = assistant.sms_fields(phone, "what is a lead care manager?")

    for _ in range(3):
        status, _ = assistant.post_twilio(SMS_WEBHOOK, fields)
        assert status == 200
    rows = assistant.wait_until_answered(fields["MessageSid"])

    assert count_inbound(assistant, message_sid=fields["MessageSid"]) == 1
    assert user_texts(assistant, phone).count("what is a lead care manager?") == 1
    assert rows
    assert len(messages_to(twilio, phone)) == len(rows)


def test_concurrent_delivery_answered_once(assistant, twilio):
    phone = phone_for(202)
    fields = assistant.sms_fields(phone, "can I keep my doctors?")

    statuses = post_concurrently(assistant, [fields] * 6)
    rows = assistant.wait_until_answered(fields["MessageSid"])

    assert statuses == [200] * 6
    assert count_inbound(assistant, message_sid=fields["MessageSid"]) == 1
    assert user_texts(assistant, phone).count("can I keep my doctors?") == 1
    assert len(messages_to(twilio, phone)) == len(rows)


def test_messages_of_one_member_in_arrival_order(assistant, twilio):
    phone = phone_for(203)
    texts = ["what is ECM?", "does it cost anything?", "what is CalAIM?"]
    forms = [assistant.sms_fields(phone, text) for text in texts]

    # Delivered nearly at once: each is processed after the one stored before it.
    statuses = post_concurrently(assistant, forms)
    rows_by_sid = {
        form["MessageSid"]: assistant.wait_until_answered(form["MessageSid"])
        for form in forms
    }

    assert statuses == [200, 200, 200]
    with Session(assistant.engine) as session:
        stored = session.execute(
            select(InboundMessage.message_sid, InboundMessage.body)
            .where(InboundMessage.phone == phone)
            .order_by(InboundMessage.id)
        ).all()
    arrival = [body for _, body in stored]
    assert sorted(arrival) == sorted(texts)
    assert user_texts(assistant, phone) == arrival

    sent_order = [message["sid"] for message in messages_to(twilio, phone)]
    reply_sids = [
        row.provider_sid for sid, _ in stored for row in rows_by_sid[sid]
    ]
    assert sent_order == reply_sids


def test_two_members_in_parallel(assistant, twilio):
    forms = [
        assistant.sms_fields(phone_for(204), "what is ECM?"),
        assistant.sms_fields(phone_for(205), "what is ECM?"),
    ]

    statuses = post_concurrently(assistant, forms)
    answered = [assistant.wait_until_answered(form["MessageSid"]) for form in forms]

    assert statuses == [200, 200]
    assert all(rows for rows in answered)


def test_stand_in_fails_then_recovers(assistant, twilio):
    phone = phone_for(206)
    # Retries after 1, 2, 4 and 8 s: the reply waits long enough for a sweep
    # (every 5 s) to see the backlog over OUTBOX_BACKLOG_WARN_SECONDS.
    twilio.fail_next(4, status=500)

    fields = assistant.sms_fields(phone, "what are community supports?")
    assistant.post_twilio(SMS_WEBHOOK, fields)
    rows = assistant.wait_until_answered(fields["MessageSid"])
    replies = assistant.sent_bodies(rows)

    assert replies
    assert {row.status for row in rows} == {"sent"}
    assert max(row.attempts for row in rows) == 5
    bodies = [message["body"] for message in messages_to(twilio, phone)]
    assert bodies == replies
    assert "SMS outbox backlog over its limit" in assistant.log_text()


# Opt-out and help


def test_opt_out_round_trip(assistant, twilio):
    member = phone_for(301)
    helper = phone_for(302)

    confirmation = assistant.sms(member, "Stop.")
    assert confirmation == [render_sms("opt_out_confirmation", "en")]
    assert assistant.sms(member, "STOP") == []
    assert assistant.sms(member, "what is ECM?") == []

    # Another member gives the opted-out number for the call back: the
    # ticket is created, but its confirmation SMS is not sent.
    assistant.sms(helper, "can someone call me")
    answers = dict(HANDOFF_ANSWERS, handoff_phone=["650-555-0301"])
    final = answer_handoff(assistant, helper, answers)
    reference = REFERENCE_PATTERN.findall(" ".join(final))[0]
    with Session(assistant.engine) as session:
        row = session.execute(
            select(OutboxMessage).where(OutboxMessage.kind == "ticket_confirmation")
            .where(OutboxMessage.to_number == member)
        ).scalar_one()
    deadline = time.monotonic() + 30
    while row.status == "pending" and time.monotonic() < deadline:
        time.sleep(0.2)
        with Session(assistant.engine) as session:
            row = session.get(OutboxMessage, row.id)
    assert row.status == "failed"
    assert row.last_error == OPTED_OUT_ERROR
    assert not any(reference in m["body"] for m in messages_to(twilio, member))

    assert assistant.sms(member, "start") == [render_sms("opt_in_confirmation", "en")]
    assert assistant.sms(member, "what is ECM?")


def test_opt_out_survives_in_table(assistant):
    phone = phone_for(303)
    assistant.sms(phone, "please stop texting me")

    with Session(assistant.engine) as session:
        row = session.get(SmsOptOut, phone)
    assert row is not None
    assert row.opted_in_at is None
    assert row.source == "request"


@pytest.mark.parametrize(
    "number, text, expected_kind, language",
    [
        (311, "PARAR", "opt_out_confirmation", "es"),
        (312, "no me manden más mensajes", "opt_out_confirmation", "es"),
        (313, " unsubscribe ", "opt_out_confirmation", "en"),
        (314, "HELP", "help", "en"),
        (315, "ayuda", "help", "es"),
        (316, "Info?", "help", "en"),
    ],
)
def test_keyword_reply(assistant, number, text, expected_kind, language):
    assert assistant.sms(phone_for(number), text) == [
        render_sms(expected_kind, language)
    ]


def test_stop_inside_sentence_is_ordinary_text(assistant):
    phone = phone_for(317)
    replies = assistant.sms(phone, "I want to stop smoking")

    assert replies
    assert "I want to stop smoking" in user_texts(assistant, phone)
    with Session(assistant.engine) as session:
        assert session.get(SmsOptOut, phone) is None


def test_yes_is_ordinary_text_when_not_opted_out(assistant):
    phone = phone_for(318)
    replies = assistant.sms(phone, "yes")

    assert replies != [render_sms("opt_in_confirmation", "en")]
    assert user_texts(assistant, phone) == ["yes"]


def test_crisis_from_opted_out_number(assistant, twilio):
    phone = phone_for(321)
    assistant.sms(phone, "STOP")

    fields = assistant.sms_fields(phone, CRISIS_TEXT)
    assistant.post_twilio(SMS_WEBHOOK, fields)
    rows = assistant.wait_until_answered(fields["MessageSid"])

    assert [row.kind for row in rows] == ["crisis"]
    assert rows[0].status == "sent"
    assert assistant.sent_bodies(rows) == [render_sms("crisis", "en")]


def test_crisis_send_result_recorded_when_twilio_blocks(assistant, twilio):
    phone = phone_for(322)
    assistant.sms(phone, "STOP")
    twilio.unsubscribed.add(phone)
    try:
        fields = assistant.sms_fields(phone, "quiero morir")
        assistant.post_twilio(SMS_WEBHOOK, fields)
        rows = assistant.wait_until_answered(fields["MessageSid"])
    finally:
        twilio.unsubscribed.discard(phone)

    assert [row.kind for row in rows] == ["crisis"]
    assert rows[0].status == "failed"
    assert "21610" in rows[0].last_error
    assert rows[0].body == render_sms("crisis", "es")


# Hostile input


LONG_TEXT = "please tell me about the program " * 60


@pytest.mark.parametrize(
    "number, fields, expected",
    [
        (401, {"Body": ""}, render_sms("empty_message", "en")),
        (402, {"Body": "   \t  "}, render_sms("empty_message", "en")),
        (
            403,
            {"Body": "", "NumMedia": "1", "MediaUrl0": "https://media.example/x.jpg"},
            render_sms("media_not_supported", "en"),
        ),
        (404, {"Body": LONG_TEXT}, render_sms("too_long", "en")),
        (405, {"Body": CRISIS_TEXT + " " + LONG_TEXT}, render_sms("crisis", "en")),
    ],
)
def test_hostile_body_gets_polite_reply(assistant, number, fields, expected):
    form = dict(assistant.sms_fields(phone_for(number), ""), **fields)

    status, _ = assistant.post_twilio(SMS_WEBHOOK, form)
    rows = assistant.wait_until_answered(form["MessageSid"])

    assert status == 200
    assert assistant.sent_bodies(rows) == [expected]


@pytest.mark.parametrize(
    "number, text",
    [
        (411, "👋🏽 hola, ¿qué es ECM? 🙏"),
        (412, "/restart"),
        (413, "/request_handoff{\"x\": 1}"),
        (414, "hello\x00\x07 there"),
        (415, "\u202etxet\u200b tfel-ot-thgir"),
        (416, "<Response><Message>hi</Message></Response>"),
    ],
)
def test_odd_text_gets_a_turn(assistant, number, text):
    phone = phone_for(number)
    replies = assistant.sms(phone, text)

    assert replies
    texts = user_texts(assistant, phone)
    assert len(texts) == 1
    assert not texts[0].startswith("/")
    assert "\x00" not in texts[0]
    tracker = assistant.tracker(assistant.sms_conversation_id(phone))
    assert (tracker.get("active_loop") or {}).get("name") != "handoff_form"


def _raw_post(assistant, body: bytes, content_type: str, signed: bool = True):
    headers = {"Content-Type": content_type}
    if signed:
        fields = MultiDict(urllib.parse.parse_qsl(body.decode("latin-1"), True))
        headers["X-Twilio-Signature"] = assistant.twilio_signature(SMS_WEBHOOK, fields)
    request = urllib.request.Request(
        assistant.base_url + SMS_WEBHOOK, data=body, headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.parametrize(
    "case, fields, expected",
    [
        ("no_from", {"From": None}, 400),
        ("bad_from", {"From": "not-a-number"}, 400),
        ("no_sid", {"MessageSid": None}, 400),
        ("bad_sid", {"MessageSid": "SM123"}, 400),
        ("bad_media", {"NumMedia": "lots"}, 400),
        ("many_media", {"NumMedia": "999"}, 400),
    ],
)
def test_malformed_form_is_rejected(assistant, case, fields, expected):
    form = assistant.sms_fields(phone_for(421), "hi")
    for name, value in fields.items():
        if value is None:
            form.pop(name)
        else:
            form[name] = value
    before = count_inbound(assistant)

    status, body = assistant.post_twilio(SMS_WEBHOOK, form)

    assert status == expected, body
    assert count_inbound(assistant) == before


FORM = "application/x-www-form-urlencoded"


@pytest.mark.parametrize(
    "case, body, content_type, expected",
    [
        ("json", b'{"From": "+16505550422"}', "application/json", 415),
        ("bad_utf8", b"From=%2B16505550422&Body=%FF%FE", FORM, 400),
        ("not_a_form", b"just some text", FORM, 400),
        ("too_large", b"Body=" + b"a" * 70_000, FORM, 413),
        (
            "duplicate_body",
            b"Body=a&Body=b&From=%2B16505550422&MessageSid=SM" + b"0" * 32,
            FORM,
            400,
        ),
        ("empty", b"", FORM, 400),
    ],
)
def test_malformed_request_is_rejected(assistant, case, body, content_type, expected):
    before = count_inbound(assistant)

    status = _raw_post(assistant, body, content_type, signed=case != "json")

    assert status == expected
    assert count_inbound(assistant) == before


# Rate limit


def test_rate_limit_with_crisis_bypass(assistant):
    phone = phone_for(501)
    forms = [assistant.sms_fields(phone, f"hi {index}") for index in range(RATE_LIMIT)]
    for form in forms:
        assert assistant.post_twilio(SMS_WEBHOOK, form)[0] == 200
    for form in forms:
        assert assistant.sent_bodies(assistant.wait_until_answered(form["MessageSid"]))

    notice = assistant.sms(phone, "one more")
    silent = assistant.sms(phone, "and another")
    crisis = assistant.sms(phone, CRISIS_TEXT)
    stop = assistant.sms(phone, "STOP")

    assert notice == [render_sms("rate_limited", "en")]
    assert silent == []
    assert crisis and "988" in " ".join(crisis)
    assert stop == [render_sms("opt_out_confirmation", "en")]
    assert "one more" not in user_texts(assistant, phone)
    assert CRISIS_TEXT in user_texts(assistant, phone)


# Operations


def test_health_reports_database(assistant):
    status, body = assistant.get_json("/webhooks/twilio/health")

    assert status == 200
    assert body == {"status": "ok", "database": "ok", "processor": "running"}


@pytest.mark.parametrize(
    "token, expected", [(None, 401), ("wrong-token", 401), ("valid", 200)]
)
def test_metrics_need_token(assistant, token, expected):
    headers = {}
    if token is not None:
        value = assistant.auth_token if token == "valid" else token
        headers["Authorization"] = f"Bearer {value}"

    status, _ = assistant.get_json("/webhooks/twilio/metrics", headers)

    assert status == expected


def test_metrics_count_messages_and_sends(assistant):
    assistant.sms(phone_for(601), "what is ECM?")

    status, body = assistant.get_json(
        "/webhooks/twilio/metrics?token=" + assistant.auth_token
    )
    samples = dict(
        line.rsplit(" ", 1) for line in body.splitlines() if not line.startswith("#")
    )

    assert status == 200
    assert float(samples['hpsm_sms_webhook_requests_total{result="accepted"}']) >= 1
    assert float(samples['hpsm_sms_turns_total{result="ok"}']) >= 1
    assert float(samples['hpsm_sms_inbound_handled_total{outcome="turn"}']) >= 1
    assert float(samples["hpsm_sms_inbound_messages_total"]) >= 1
    assert float(samples['hpsm_sms_sends_total{kind="reply",outcome="sent"}']) >= 1
    assert "hpsm_sms_outbox_backlog" in samples
    assert "hpsm_sms_outbox_oldest_age_seconds" in samples


def test_status_callback_updates_outbox_row(assistant):
    replies = assistant.sms(phone_for(602), "what is ECM?")
    assert replies
    with Session(assistant.engine) as session:
        row = session.execute(
            select(OutboxMessage)
            .where(OutboxMessage.to_number == phone_for(602))
            .order_by(OutboxMessage.id)
        ).scalars().first()
    fields = {
        "MessageSid": row.provider_sid,
        "MessageStatus": "undelivered",
        "ErrorCode": "30003",
    }

    unsigned, _ = assistant.post_form("/webhooks/twilio/status", fields)
    signed, _ = assistant.post_twilio("/webhooks/twilio/status", fields)

    assert unsigned == 403
    assert signed == 204
    with Session(assistant.engine) as session:
        updated = session.get(OutboxMessage, row.id)
    assert updated.delivery_status == "undelivered"
    assert "30003" in updated.last_error
    assert updated.status == "sent"


def test_no_phone_number_in_log(assistant):
    log = assistant.log_text()

    for number in (101, 202, 301, 321, 501):
        assert phone_for(number) not in log
        assert phone_for(number)[2:] not in log


# Restart and laptop mode


def test_restart_answers_stored_messages(tmp_path, twilio):
    env = twilio_env(twilio)
    first = start_assistant(tmp_path, env, twilio=twilio)
    try:
        assert first.sms(phone_for(701), "hi")
    finally:
        assert stop_assistant(first) == 0

    # Rows as a crash would leave them: one stored but never claimed, one
    # claimed by a worker that died an hour ago.
    pending_sid, stale_sid = new_message_sid(), new_message_sid()
    now = utcnow()
    with Session(first.engine) as session, session.begin():
        for sid, phone, status, updated in (
            (pending_sid, phone_for(702), "pending", now),
            (stale_sid, phone_for(703), "processing", now - timedelta(hours=1)),
        ):
            session.add(
                InboundMessage(
                    message_sid=sid,
                    conversation_id=sms_conversation_id(first.app_secret, phone),
                    phone=phone,
                    body="what is ECM?",
                    truncated=False,
                    num_media=0,
                    received_at=updated,
                    status=status,
                    attempts=1 if status == "processing" else 0,
                    updated_at=updated,
                )
            )
    first.engine.dispose()

    second = start_assistant(tmp_path, env, twilio=twilio)
    try:
        for sid, phone in ((pending_sid, phone_for(702)), (stale_sid, phone_for(703))):
            rows = second.wait_until_answered(sid, timeout=60)
            assert second.sent_bodies(rows)
            assert second.inbound_row(sid).status == "done"
            assert user_texts(second, phone) == ["what is ECM?"]
    finally:
        assert stop_assistant(second) == 0


def test_laptop_mode_accepts_local_unsigned_only(tmp_path):
    laptop = start_assistant(tmp_path, {"TWILIO_AUTH_TOKEN": ""})
    try:
        fields = laptop.sms_fields(phone_for(801), "what is ECM?")
        local, _ = laptop.post_form(SMS_WEBHOOK, fields)
        rows = laptop.wait_until_answered(fields["MessageSid"])

        proxied_fields = laptop.sms_fields(phone_for(801), "hi")
        proxied, _ = laptop.post_form(
            SMS_WEBHOOK, proxied_fields, {"X-Forwarded-For": "203.0.113.9"}
        )
        log = laptop.log_text()
    finally:
        assert stop_assistant(laptop) == 0

    assert local == 200
    # Without Twilio credentials the replies stay in the outbox as not_sent.
    assert rows
    assert {row.status for row in rows} == {"not_sent"}
    assert proxied == 403
    assert laptop.inbound_row(proxied_fields["MessageSid"]) is None
    assert log.count("TWILIO_AUTH_TOKEN is not set") == 1
