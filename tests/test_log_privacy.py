"""No personal data in any log line of the running assistant, at INFO and DEBUG.

The slow tests start the real assistant (runner, Rasa server, action server,
outbox sender) once per log level, hold a whole conversation over SMS and one
over REST with distinctive personal details, and scan every line that the
processes wrote. The fast tests check the hooks that each process installs.
"""

from __future__ import annotations

import io
import logging
import re
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Callable

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from actions.server import log_level, register_tracker_slots
from bot import logfilter
from bot.logfilter import TEXT_WITHHELD, mask_event_dict, uninstall_log_masking
from bot.models import OutboxMessage, Ticket
from bot.runner import action_server_command, rasa_command
from bot.settings import load_settings
from tests.assistant import HOMELESS_ADULT_REPLIES, RunningAssistant
from tests.assistant import start_assistant, stop_assistant
from tests.fakes.twilio_server import FakeTwilio

NAME = "Zebulon Quixtaria"
SMS_SENDER = "+16505550199"
SMS_TYPED_PHONE = "650.555.0178"
REST_TYPED_PHONE = "(650) 555-0143"
MEMBER_ID = "HP12345678X"
DATE_OF_BIRTH = "03/14/1975"
SIDE_MESSAGE = "The violet accordion hums beneath Marlowe Pier every Thursday"
DETAILS_MESSAGE = "you can also text me at 650 555 0143, I was born March 14 1975"
API_TOKEN = "privacy-test-api-token"

ACCOUNT_SID = "AC" + "9a1e" * 8
AUTH_TOKEN = "privacy-test-auth-token"
FROM_NUMBER = "+16505550000"

SCREENING_ANSWERS = HOMELESS_ADULT_REPLIES
# A list gives the replies to successive requests for the same slot: on SMS the
# member first declines the number they text from, then types another one.
SMS_HANDOFF_ANSWERS = {
    "handoff_name": NAME,
    "handoff_phone": ["no", SMS_TYPED_PHONE],
    "handoff_member_id": MEMBER_ID,
    "handoff_language": "English",
    "handoff_call_time": "mornings",
    "handoff_consent": "yes",
    "handoff_confirm": "yes",
}
REST_HANDOFF_ANSWERS = {
    **SMS_HANDOFF_ANSWERS,
    "handoff_phone": REST_TYPED_PHONE,
    "handoff_member_id": DATE_OF_BIRTH,
}


def phone_pattern(e164: str) -> re.Pattern:
    """Match a US number in any usual format, with or without area code."""
    area, exchange, line = e164[2:5], e164[5:8], e164[8:]
    separator = r"[\s.\-]?"
    return re.compile(
        rf"(?<!\d)(?:\+?1{separator})?(?:\(?{area}\)?\s?{separator})?"
        rf"{exchange}{separator}{line}(?!\d)"
    )


# (what leaked, pattern) for every personal detail of both conversations.
PERSONAL_DATA = [
    ("full name", re.compile(re.escape(NAME), re.IGNORECASE)),
    ("first name", re.compile(r"zebulon", re.IGNORECASE)),
    ("last name", re.compile(r"quixtaria", re.IGNORECASE)),
    ("SMS sender number", phone_pattern(SMS_SENDER)),
    ("phone typed over SMS", phone_pattern("+16505550178")),
    ("phone typed over REST", phone_pattern("+16505550143")),
    ("member ID", re.compile(MEMBER_ID, re.IGNORECASE)),
    ("date of birth m/d/y", re.compile(r"(?<!\d)0?3[/\-.]14[/\-.](?:19)?75(?!\d)")),
    ("date of birth ISO", re.compile(r"1975[/\-.]0?3[/\-.]14")),
    ("date of birth digits", re.compile(r"(?<!\d)(?:03141975|19750314)(?!\d)")),
    ("date of birth words", re.compile(r"march\s+14\w*,?\s+1975", re.IGNORECASE)),
    # Member text is withheld at every level, DEBUG included.
    ("free-text message", re.compile(r"violet accordion|marlowe pier", re.IGNORECASE)),
]

# Lines written only at DEBUG, each by a known process, so their presence
# proves that every process really logged at DEBUG.
DEBUG_MARKERS = [
    ("Rasa server", re.compile(r'"event": "processor\.message\.parse"')),
    ("action server", re.compile(r"rasa_sdk\.executor DEBUG Received request")),
    # The runner migrates the database, and only the runner.
    ("runner", re.compile(r"alembic\.runtime\.migration DEBUG ")),
    # The outbox sender of the runner or of the SMS channel, whichever claims
    # the row first.
    ("outbox sender", re.compile(r"(bot\.outbox DEBUG|DEBUG +bot\.outbox) ")),
    ("Sanic access log", re.compile(r"\(sanic\.access\).*/webhooks/twilio/webhook")),
]
# Lines each process writes at INFO, so their presence proves that the
# process's output reaches the assistant's log.
INFO_MARKERS = [
    ("Rasa server", re.compile(r"Starting Rasa server on")),
    ("action server", re.compile(r"rasa_sdk\.executor INFO Registered function")),
    ("hand-off action", re.compile(r"actions\.handoff INFO Hand-off ticket HP-")),
    ("outbox sender in the runner", re.compile(r"bot\.outbox INFO Outbox sender")),
]


@dataclass
class LoggedRun:
    """A finished run of the assistant: its level, log and tickets."""

    level: str
    log_lines: list[str]
    tickets: list[Ticket]
    exit_code: int
    confirmations_sent: int


def _loop_state(assistant: RunningAssistant, conversation_id: str):
    tracker = assistant.tracker(conversation_id)
    loop = (tracker.get("active_loop") or {}).get("name")
    return loop, tracker["slots"].get("requested_slot"), tracker["slots"]


def _answer_form(
    assistant: RunningAssistant,
    conversation_id: str,
    send: Callable[[str], object],
    form: str,
    answers: dict,
) -> None:
    """Send a reply to each slot that `form` requests until the form closes."""
    requested: list[str] = []
    replies = {slot: list(value) for slot, value in answers.items()
               if isinstance(value, list)}
    for _ in range(40):
        loop, slot, _ = _loop_state(assistant, conversation_id)
        if loop != form:
            return
        field = slot[2:] if slot.startswith("q_") else slot
        requested.append(field)
        if field in replies:
            queue = replies[field]
            answer = queue.pop(0) if len(queue) > 1 else queue[0]
        else:
            answer = answers.get(field, "no")
        send(answer)
    raise AssertionError(f"{form} did not finish; requested {requested}")


def _converse(
    assistant: RunningAssistant,
    conversation_id: str,
    send: Callable[[str], object],
    handoff_answers: dict,
) -> None:
    """Greet, screen, send free text, then ask for a call and finish the hand-off."""
    send("hi")
    send("do i qualify for a care manager?")
    _answer_form(assistant, conversation_id, send, "screening_form", SCREENING_ANSWERS)
    send(SIDE_MESSAGE)
    send(DETAILS_MESSAGE)
    loop, _, _ = _loop_state(assistant, conversation_id)
    assert loop is None, f"free text opened the form {loop}"
    send("can someone call me")
    loop, slot, _ = _loop_state(assistant, conversation_id)
    assert (loop, slot) == ("handoff_form", "handoff_name")
    _answer_form(assistant, conversation_id, send, "handoff_form", handoff_answers)


def _sent_confirmations(database_url: str) -> int:
    """Count the ticket confirmation SMS that reached Twilio's stand-in."""
    engine = create_engine(database_url, future=True)
    try:
        with Session(engine) as session:
            rows = session.execute(
                select(OutboxMessage).where(
                    OutboxMessage.kind == "ticket_confirmation",
                    OutboxMessage.status == "sent",
                )
            )
            return len(rows.scalars().all())
    finally:
        engine.dispose()


def _tickets(database_url: str) -> list[Ticket]:
    engine = create_engine(database_url, future=True)
    try:
        with Session(engine, expire_on_commit=False) as session:
            return list(session.execute(select(Ticket)).scalars())
    finally:
        engine.dispose()


@pytest.fixture(scope="module", params=["INFO", "DEBUG"])
def logged_run(request, tmp_path_factory) -> LoggedRun:
    """Run both conversations at one log level and return the finished log."""
    level = request.param
    twilio = FakeTwilio(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN).start()
    env = {
        "LOG_LEVEL": level,
        # At DEBUG, Sanic's access log and the other libraries log too.
        "LOG_LEVEL_LIBRARIES": "DEBUG" if level == "DEBUG" else "ERROR",
        "RASA_AUTH_TOKEN": API_TOKEN,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": FROM_NUMBER,
        "TWILIO_API_BASE_URL": twilio.url,
    }
    assistant = start_assistant(
        tmp_path_factory.mktemp(f"privacy-{level}"), env, twilio=twilio
    )
    try:
        _converse(
            assistant,
            assistant.sms_conversation_id(SMS_SENDER),
            lambda text: assistant.sms(SMS_SENDER, text),
            SMS_HANDOFF_ANSWERS,
        )
        session = assistant.new_rest_session()
        _converse(
            assistant,
            session.split(".")[0],
            lambda text: assistant.rest(session, text),
            REST_HANDOFF_ANSWERS,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if _sent_confirmations(assistant.env["DATABASE_URL"]) == 2:
                break
            time.sleep(0.5)
    finally:
        exit_code = stop_assistant(assistant)
        twilio.stop()
    return LoggedRun(
        level=level,
        log_lines=assistant.log_text().splitlines(),
        tickets=_tickets(assistant.env["DATABASE_URL"]),
        exit_code=exit_code,
        confirmations_sent=_sent_confirmations(assistant.env["DATABASE_URL"]),
    )


def _matching(lines: list[str], pattern: re.Pattern, limit: int = 3) -> list[str]:
    found = [line[:300] for line in lines if pattern.search(line)]
    return found[:limit]


@pytest.mark.slow
def test_conversations_reached_tickets(logged_run):
    """The personal details really went through the assistant."""
    assert logged_run.exit_code == 0, "\n".join(logged_run.log_lines[-40:])
    tickets = sorted(logged_run.tickets, key=lambda ticket: ticket.channel)
    assert [ticket.channel for ticket in tickets] == ["rest", "sms"]
    rest, sms = tickets
    assert rest.name == NAME
    assert sms.name == NAME
    assert rest.phone == "+16505550143"
    assert sms.phone == "+16505550178"
    assert sms.member_id == MEMBER_ID
    assert rest.date_of_birth == date(1975, 3, 14)
    assert logged_run.confirmations_sent == 2, "the confirmation SMS were not sent"


@pytest.mark.slow
@pytest.mark.parametrize(
    "label, pattern", PERSONAL_DATA, ids=[item[0] for item in PERSONAL_DATA]
)
def test_no_personal_data_in_log(logged_run, label, pattern):
    leaks = _matching(logged_run.log_lines, pattern)
    assert not leaks, f"{label} leaked at {logged_run.level}:\n" + "\n".join(leaks)


@pytest.mark.slow
def test_no_api_token_in_log(logged_run):
    leaks = _matching(logged_run.log_lines, re.compile(re.escape(API_TOKEN)))
    assert not leaks, "\n".join(leaks)


@pytest.mark.slow
@pytest.mark.parametrize(
    "process, pattern", INFO_MARKERS, ids=[item[0] for item in INFO_MARKERS]
)
def test_every_process_reaches_log(logged_run, process, pattern):
    assert _matching(logged_run.log_lines, pattern), f"no {process} line in the log"


@pytest.mark.slow
@pytest.mark.parametrize(
    "process, pattern", DEBUG_MARKERS, ids=[item[0] for item in DEBUG_MARKERS]
)
def test_log_level_reaches_every_process(logged_run, process, pattern):
    found = _matching(logged_run.log_lines, pattern)
    if logged_run.level == "DEBUG":
        assert found, f"the {process} did not log at DEBUG"
    else:
        assert not found, f"the {process} logged DEBUG lines at INFO:\n{found}"


@pytest.mark.slow
def test_rasa_debug_text_withheld(logged_run):
    parse_lines = _matching(
        logged_run.log_lines, re.compile(r'"processor\.message\.parse"'), limit=1000
    )
    if logged_run.level == "INFO":
        assert parse_lines == []
        return
    assert parse_lines
    withheld = f'"parse_data_text": "{TEXT_WITHHELD}"'
    assert all(withheld in line for line in parse_lines), parse_lines[0]


# --- the hooks each process installs ----------------------------------------------


@pytest.fixture
def clean_registry():
    logfilter.REGISTRY.clear()
    yield logfilter.REGISTRY
    logfilter.REGISTRY.clear()


@pytest.fixture
def rasa_cli_structlog():
    """Configure structlog as the Rasa process does, then restore the defaults."""
    import structlog
    from rasa.utils.log_utils import configure_structlog

    from bot.rasa_ext.cli import with_masking

    with_masking(configure_structlog)(logging.DEBUG)
    yield structlog
    structlog.reset_defaults()
    uninstall_log_masking()


def test_rasa_structlog_withholds_text_at_debug(rasa_cli_structlog):
    structlog = rasa_cli_structlog
    processors = structlog.get_config()["processors"]
    assert processors[-2] is mask_event_dict

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("test.log_privacy.structlog")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        structlog.get_logger("test.log_privacy.structlog").debug(
            "processor.message.parse",
            parse_data_text=NAME,
            slot_candidates={"handoff_name": NAME},
            rasa_events=[f"SlotSet(key: handoff_name, value: {NAME})"],
        )
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue()
    assert "processor.message.parse" in output
    assert f'"parse_data_text": "{TEXT_WITHHELD}"' in output
    assert '"rasa_events": ["SlotSet(handoff_name)"]' in output
    assert "Zebulon" not in output


def test_slot_set_registers_personal_values(clean_registry, monkeypatch):
    from rasa.shared.core.events import SlotSet
    from rasa.shared.core.slots import TextSlot
    from rasa.shared.core.trackers import DialogueStateTracker

    from bot.rasa_ext.cli import register_slots_on_apply

    monkeypatch.setattr(SlotSet, "apply_to", SlotSet.apply_to)
    register_slots_on_apply()
    values = [
        ("handoff_name", NAME),
        ("handoff_phone", "sender"),
        ("handoff_member_id", f"id:{MEMBER_ID}"),
        ("requested_slot", "handoff_language"),
    ]
    slots = [TextSlot(slot, mappings=[]) for slot, _ in values]
    tracker = DialogueStateTracker("sms-test", slots=slots)
    for slot, value in values:
        SlotSet(slot, value).apply_to(tracker)

    assert tracker.get_slot("handoff_name") == NAME

    assert "zebulon" in clean_registry
    assert "quixtaria" in clean_registry
    assert MEMBER_ID.casefold() in clean_registry
    assert "sender" not in clean_registry
    assert "id" not in clean_registry
    assert "handoff_language" not in clean_registry


def test_action_server_registers_tracker_slots(clean_registry):
    register_tracker_slots(
        {
            "sender_id": "web-test",
            "slots": {
                "handoff_name": NAME,
                "handoff_phone": "+16505550143",
                "handoff_call_time": None,
                "language": "en",
            },
        }
    )
    assert "zebulon" in clean_registry
    assert "16505550143" in clean_registry
    assert "en" not in clean_registry
    register_tracker_slots({"sender_id": None, "slots": {"handoff_name": "Ignored"}})
    register_tracker_slots("not a tracker")
    assert "ignored" not in clean_registry


RUNNER_LEVEL_CASES = [
    # LOG_LEVEL, flags expected on `rasa run`
    ("DEBUG", ["--debug"]),
    ("INFO", ["--verbose"]),
    ("WARNING", ["--quiet"]),
    ("ERROR", []),
]


@pytest.mark.parametrize("level, rasa_flags", RUNNER_LEVEL_CASES)
def test_runner_passes_log_level(level, rasa_flags, tmp_path):
    settings = load_settings(
        {"LOG_LEVEL": level, "VAR_DIR": str(tmp_path), "APP_SECRET": "x"}
    )
    command = rasa_command(settings, Path("model.tar.gz"), Path("endpoints.yml"))
    level_flags = [
        flag for flag in command if flag in ("--debug", "--verbose", "--quiet")
    ]
    assert level_flags == rasa_flags
    action_command = action_server_command(settings)
    position = action_command.index("--log-level")
    assert action_command[position + 1] == level


LEVEL_NAME_CASES = [
    ("DEBUG", logging.DEBUG),
    ("info", logging.INFO),
    (" Warning ", logging.WARNING),
]


@pytest.mark.parametrize("name, level", LEVEL_NAME_CASES)
def test_action_server_log_level(name, level):
    assert log_level(name) == level


def test_action_server_rejects_unknown_level():
    import argparse

    with pytest.raises(argparse.ArgumentTypeError, match="'LOUD' is invalid"):
        log_level("LOUD")
