"""End to end: the real servers, the SMS webhook, the database and Twilio's stand-in.

One assistant is started for the module (training is done once, before the
suite, by `make test`); each test talks to it over real HTTP.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from bot.models import OutboxMessage, Ticket
from bot.rasa_ext.channels import MAX_REST_BODY_BYTES
from bot.sms import render_sms
from tests.assistant import HOMELESS_ADULT_REPLIES, REFERENCE_PATTERN, SMS_HANDOFF_REPLIES
from tests.assistant import start_assistant, stop_assistant
from tests.services import REDIS_TEST_DB, create_postgres_database, redis_clients
from tests.services import require_redis
from tests.fakes.twilio_server import FakeTwilio

pytestmark = pytest.mark.slow

ACCOUNT_SID = "AC" + "e2e0" * 8
AUTH_TOKEN = "end-to-end-auth-token"
FROM_NUMBER = "+16505550000"
MEMBER_PHONE = "+16505551234"

MEMBER_ANSWERS = HOMELESS_ADULT_REPLIES
HANDOFF_ANSWERS = SMS_HANDOFF_REPLIES


@pytest.fixture(scope="module")
def twilio():
    fake = FakeTwilio(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN).start()
    yield fake
    fake.stop()


@pytest.fixture(
    scope="module",
    params=[
        "embedded",
        pytest.param("postgres_redis", marks=[pytest.mark.postgres, pytest.mark.redis]),
    ],
)
def assistant(request, tmp_path_factory, twilio):
    """The assistant with its embedded defaults, then on PostgreSQL and Redis."""
    env = {
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": FROM_NUMBER,
        "TWILIO_API_BASE_URL": twilio.url,
    }
    database = None
    if request.param == "postgres_redis":
        require_redis()
        database = create_postgres_database()
        env["DATABASE_URL"] = database.url
        env["REDIS_URL"] = f"redis://127.0.0.1:6379/{REDIS_TEST_DB}"
    running = start_assistant(tmp_path_factory.mktemp("assistant"), env, twilio=twilio)
    running.variant = request.param
    yield running
    code = stop_assistant(running)
    if database is not None:
        database.drop()
    assert code == 0, running.log_text()[-3000:]


def _loop_state(assistant, conversation_id: str) -> tuple[str | None, str | None]:
    tracker = assistant.tracker(conversation_id)
    loop = (tracker.get("active_loop") or {}).get("name")
    return loop, tracker["slots"].get("requested_slot")


def _answer_form(assistant, phone: str, answers: dict, form: str) -> list[str]:
    """Answer each requested slot of `form` until it closes; return the last replies."""
    conversation_id = assistant.sms_conversation_id(phone)
    replies: list[str] = []
    asked: list[str] = []
    for _ in range(40):
        loop, slot = _loop_state(assistant, conversation_id)
        if loop != form:
            return replies
        field = slot[2:] if slot.startswith("q_") else slot
        asked.append(field)
        reply = answers.get(field, "no")
        replies = assistant.sms(phone, reply)
    raise AssertionError(f"{form} did not finish; asked {asked}")


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _db_session(assistant) -> Session:
    engine = create_engine(assistant.env["DATABASE_URL"], future=True)
    return Session(engine)


def test_sms_greeting_to_confirmed_handoff(assistant, twilio):
    greeting = assistant.sms(MEMBER_PHONE, "hi")
    assert greeting, "no reply to a greeting"

    first_question = assistant.sms(MEMBER_PHONE, "do i qualify for a care manager?")
    assert first_question
    result = _answer_form(assistant, MEMBER_PHONE, MEMBER_ANSWERS, "screening_form")
    result_text = " ".join(result)
    assert "approved" not in result_text.lower()

    tracker = assistant.tracker(assistant.sms_conversation_id(MEMBER_PHONE))
    assert tracker["slots"]["screening_result"]["ecm"]["status"] == "likely"

    assistant.sms(MEMBER_PHONE, "can someone call me")
    final = _answer_form(assistant, MEMBER_PHONE, HANDOFF_ANSWERS, "handoff_form")
    references = REFERENCE_PATTERN.findall(" ".join(final))
    assert len(set(references)) == 1, final
    reference = references[0]

    with _db_session(assistant) as session:
        ticket = session.execute(
            select(Ticket).where(Ticket.reference == reference)
        ).scalar_one()
        assert ticket.phone == MEMBER_PHONE
        assert ticket.status == "new"
        assert ticket.channel == "sms"
        assert ticket.name == "Rosalind Quimby"
        assert ticket.consent_contact is True
        assert ticket.consent_at is not None
        assert ticket.screening_result["ecm"]["status"] == "likely"
        assert "ecm" in ticket.services
        assert ticket.conversation_id == assistant.sms_conversation_id(MEMBER_PHONE)

    # The chat reply names the reference too; the confirmation is the template.
    confirmation = render_sms("ticket_confirmation", "en", reference=reference)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        sent = [m for m in twilio.messages if m["body"] == confirmation]
        if sent:
            break
        time.sleep(0.5)
    assert len(sent) == 1, "the confirmation SMS did not arrive exactly once"
    assert sent[0]["to"] == MEMBER_PHONE
    assert sent[0]["from"] == FROM_NUMBER

    with _db_session(assistant) as session:
        row = session.execute(
            select(OutboxMessage).where(OutboxMessage.ticket_id == ticket.id)
        ).scalar_one()
        assert row.status == "sent"
        assert row.provider_sid == sent[0]["sid"]


def test_lock_store_matches_configuration(assistant):
    assistant.sms(MEMBER_PHONE, "hello")
    lock_clients = [c for c in redis_clients() if c.get("db") == str(REDIS_TEST_DB)]
    if assistant.variant == "postgres_redis":
        assert lock_clients, "Rasa did not connect to the Redis lock store"
    with _db_session(assistant) as session:
        dialect = session.get_bind().dialect.name
    expected = "postgresql" if assistant.variant == "postgres_redis" else "sqlite"
    assert dialect == expected


def test_phone_number_stays_out_of_tracker_and_log(assistant):
    tracker = assistant.tracker(assistant.sms_conversation_id(MEMBER_PHONE))
    raw = str(tracker)
    assert "6505551234" not in raw
    assert "5551234" not in assistant.log_text()


def test_no_connection_to_outside_hosts(assistant):
    # Rasa's crash reporter and telemetry are off, so nothing tries to reach
    # Sentry or Rasa's telemetry service, even after an error.
    log = assistant.log_text()
    assert "sentry.io" not in log
    assert "segment.io" not in log


def test_rest_requires_an_issued_session(assistant):
    status, _ = assistant.post_json(
        "/webhooks/rest/webhook", {"sender": "default", "message": "hi"}
    )
    assert status == 403
    session = assistant.new_rest_session()
    replies = assistant.rest(session, "what is ECM?")
    assert replies and replies[0]["text"]


def test_slash_command_from_member_is_plain_text(assistant):
    session = assistant.new_rest_session()
    assistant.rest(session, '/request_handoff')
    conversation_id = session.split(".")[0]
    loop, _ = _loop_state(assistant, conversation_id)
    assert loop != "handoff_form"
    tracker = assistant.tracker(conversation_id)
    texts = [e.get("text") for e in tracker["events"] if e["event"] == "user"]
    assert not any(text and text.startswith("/") for text in texts)


def test_offered_button_selected_by_number(assistant):
    session = assistant.new_rest_session()
    greeting = assistant.rest(session, "hello")
    buttons = [b for message in greeting for b in message.get("buttons") or []]
    assert buttons, "the greeting offers no buttons"
    assert all("payload" not in button for button in buttons)
    handoff = next(b for b in buttons if "person" in b["title"].lower())
    assistant.post_json(
        "/webhooks/rest/webhook", {"sender": session, "choice": handoff["id"]}
    )
    loop, slot = _loop_state(assistant, session.split(".")[0])
    assert loop == "handoff_form"
    assert slot == "handoff_name"


def test_rest_choice_not_offered_rejected(assistant):
    session = assistant.new_rest_session()
    assistant.rest(session, "hello")
    status, body = assistant.post_json(
        "/webhooks/rest/webhook", {"sender": session, "choice": "99"}
    )
    assert status == 409
    assert "not offered" in body["error"]
    status, _ = assistant.post_json(
        "/webhooks/rest/webhook", {"sender": session, "choice": {"id": "1"}}
    )
    assert status == 400
    tracker = assistant.tracker(session.split(".")[0])
    texts = [e.get("text") for e in tracker["events"] if e["event"] == "user"]
    assert texts == ["hello"]


def test_rest_body_over_limit_rejected(assistant):
    session = assistant.new_rest_session()
    padding = "x" * (MAX_REST_BODY_BYTES + 1)
    status, body = assistant.post_json(
        "/webhooks/rest/webhook",
        {"sender": session, "message": "hi", "padding": padding},
    )
    assert status == 413
    assert str(MAX_REST_BODY_BYTES) in body["error"]
    assert assistant.rest(session, "what is ECM?")


def test_opt_out_keyword_does_not_reach_dialogue(assistant):
    phone = "+16505559876"
    assistant.sms(phone, "do i qualify?")
    replies = assistant.sms(phone, "STOP")
    assert replies == [render_sms("opt_out_confirmation", "en")]
    loop, _ = _loop_state(assistant, assistant.sms_conversation_id(phone))
    assert loop == "screening_form"


def test_rasa_api_requires_token(assistant):
    conversation_id = assistant.sms_conversation_id(MEMBER_PHONE)
    url = f"{assistant.base_url}/conversations/{conversation_id}/tracker"
    for query in ("", "?token=wrong-token"):
        status, _ = _get(url + query)
        assert status in (401, 403), query


def test_second_handoff_links_earlier_ticket(assistant):
    phone = "+16505552468"
    references = []
    for name in ("Ottoline Brackett", "Ottoline Brackett"):
        assistant.sms(phone, "talk to a person")
        answers = {**HANDOFF_ANSWERS, "handoff_name": name}
        final = _answer_form(assistant, phone, answers, "handoff_form")
        references += REFERENCE_PATTERN.findall(" ".join(final))
    assert len(set(references)) == 2, references

    with _db_session(assistant) as session:
        first, second = (
            session.execute(select(Ticket).where(Ticket.reference == ref)).scalar_one()
            for ref in references
        )
        assert first.previous_ticket_id is None
        assert second.previous_ticket_id == first.id


def test_member_fixes_one_detail_at_read_back(assistant):
    phone = "+16505551357"
    assistant.sms(phone, "can someone call me")
    answers = dict(HANDOFF_ANSWERS)
    answers["handoff_confirm"] = "fix my phone"
    conversation_id = assistant.sms_conversation_id(phone)
    for _ in range(12):
        loop, slot = _loop_state(assistant, conversation_id)
        if slot == "handoff_confirm":
            break
        assistant.sms(phone, answers[slot])
    assistant.sms(phone, "fix my phone")
    loop, slot = _loop_state(assistant, conversation_id)
    assert (loop, slot) == ("handoff_form", "handoff_phone")
    assistant.sms(phone, "no, use another number")
    assistant.sms(phone, "650-555-0177")
    loop, slot = _loop_state(assistant, conversation_id)
    assert slot == "handoff_confirm"
    final = assistant.sms(phone, "yes")
    reference = REFERENCE_PATTERN.findall(" ".join(final))[0]
    with _db_session(assistant) as session:
        ticket = session.execute(
            select(Ticket).where(Ticket.reference == reference)
        ).scalar_one()
        assert ticket.phone == "+16505550177"
