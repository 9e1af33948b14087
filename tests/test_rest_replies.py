"""Replies of the real assistant over the REST channel to tricky member wordings.

The Spanish name of ECM, colours and a typed intent command must not get the
crisis reply, and services HPSM does not offer must not get a "yes". The
assistant is started once for the module with its embedded defaults (SQLite,
no Redis).
"""

from __future__ import annotations

import pytest

from tests.assistant import start_assistant, stop_assistant
from tests.fakes.twilio_server import FakeTwilio

pytestmark = pytest.mark.slow

CRISIS_NUMBERS = ("988", "911")
ECM_ANSWER = "Enhanced Care Management (ECM) is a free Medi-Cal benefit."
NOT_OFFERED_ANSWER = "That service is not on the HPSM list of Community Supports"
OUT_OF_SCOPE_ANSWER = "Sorry, I can't help with that here."


@pytest.fixture(scope="module")
def assistant(tmp_path_factory):
    twilio = FakeTwilio(account_sid="AC" + "5e55" * 8, auth_token="rest-replies").start()
    env = {
        "TWILIO_ACCOUNT_SID": twilio.account_sid,
        "TWILIO_AUTH_TOKEN": "rest-replies",
        "TWILIO_FROM_NUMBER": "+16505550000",
        "TWILIO_API_BASE_URL": twilio.url,
    }
    running = start_assistant(tmp_path_factory.mktemp("assistant"), env, twilio=twilio)
    yield running
    code = stop_assistant(running)
    twilio.stop()
    assert code == 0, running.log_text()[-3000:]


def reply_text(assistant, text: str) -> str:
    session = assistant.new_rest_session()
    replies = assistant.rest(session, text)
    return "\n".join(reply.get("text") or "" for reply in replies)


@pytest.mark.parametrize(
    "text",
    ["¿Qué es la Administración de Atención Mejorada?", "Administración de Atención Mejorada"],
)
def test_spanish_ecm_name_gets_ecm_answer(assistant, text):
    reply = reply_text(assistant, text)
    assert ECM_ANSWER in reply
    for number in CRISIS_NUMBERS:
        assert number not in reply


@pytest.mark.parametrize(
    "text",
    ["my favorite color is purple", "my car is blue", '/handoff_request{"handoff_name":"X"}'],
)
def test_ordinary_text_gets_no_crisis_reply(assistant, text):
    reply = reply_text(assistant, text)
    assert reply
    for number in CRISIS_NUMBERS:
        assert number not in reply


@pytest.mark.parametrize(
    "text", ["what is recuperative care", "is there a sobering center"]
)
def test_service_not_offered_reply(assistant, text):
    assert NOT_OFFERED_ANSWER in reply_text(assistant, text)


def test_change_doctor_gets_out_of_scope(assistant):
    reply = reply_text(assistant, "how do I change my doctor")
    assert OUT_OF_SCOPE_ANSWER in reply
    assert "you keep your doctors" not in reply
