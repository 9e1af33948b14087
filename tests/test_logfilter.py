"""Tests for personal-data masking in logs (bot/logfilter.py).

Each test logs through real `logging` handlers (and, for structlog, through
Rasa 3.6's own `configure_structlog`) and asserts on the rendered output.
"""

from __future__ import annotations

import io
import json
import logging
import logging.config
import threading

import pytest

from bot import logfilter
from bot.logfilter import (
    MASK_DATE,
    MASK_EMAIL,
    MASK_MEMBER_ID,
    MASK_PHONE,
    MASK_SECRET,
    MASK_SENSITIVE,
    TEXT_WITHHELD,
    MemberText,
    PiiMaskingFilter,
    SensitiveRegistry,
    forget,
    install_log_masking,
    mask_event_dict,
    mask_text,
    mask_value,
    outline_events,
    register_sensitive,
    register_slot_value,
    uninstall_log_masking,
)

SECRETS = [
    "650 555 1234",
    "6505551234",
    "555-1234",
    "1975",
    "AB1234567",
    "rosa",
    "Rosa",
    "Pérez",
    "perez",
    "rosa@example.org",
]


def assert_no_leak(output: str) -> None:
    for secret in SECRETS:
        assert secret not in output, f"{secret!r} leaked into: {output!r}"


@pytest.fixture(autouse=True)
def clean_registry():
    logfilter.REGISTRY.clear()
    yield
    logfilter.REGISTRY.clear()


@pytest.fixture
def masking():
    """Install masking for one test and undo it afterwards."""
    masking_filter = install_log_masking()
    yield masking_filter
    uninstall_log_masking()


def capture(logger_name: str, level: int = logging.DEBUG, fmt: str = "%(message)s"):
    """Attach a StringIO handler to `logger_name`; return (logger, stream, handler)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(fmt))
    logger = logging.getLogger(logger_name)
    logger.setLevel(level)
    logger.propagate = False
    logger.addHandler(handler)
    return logger, stream, handler


MASK_CASES = [
    ("call 650 555 1234", f"call {MASK_PHONE}"),
    ("call (650)555-1234 now", f"call {MASK_PHONE} now"),
    ("(650) 555-1234", MASK_PHONE),
    ("+1 650-555-1234", MASK_PHONE),
    ("+16505551234", MASK_PHONE),
    ("16505551234", MASK_PHONE),
    ("650.555.1234", MASK_PHONE),
    ("6505551234", MASK_PHONE),
    ("+44 20 7946 0958", MASK_PHONE),
    ("+525512345678", MASK_PHONE),
    ("local 555-1234", f"local {MASK_PHONE}"),
    ("dob 03/14/1975", f"dob {MASK_DATE}"),
    ("3-14-75", MASK_DATE),
    ("1975-03-14", MASK_DATE),
    ("March 14, 1975", MASK_DATE),
    ("Mar. 14 1975", MASK_DATE),
    ("14 March 1975", MASK_DATE),
    ("14th of March, 1975", MASK_DATE),
    ("14 de marzo de 1975", MASK_DATE),
    ("born march 14", f"born {MASK_DATE}"),
    ("03141975", MASK_DATE),
    ("id AB1234567", f"id {MASK_MEMBER_ID}"),
    ("id ab12345678", f"id {MASK_MEMBER_ID}"),
    ("mail rosa@example.org", f"mail {MASK_EMAIL}"),
    # left alone
    ("2024-05-01T12:00:00", "2024-05-01T12:00:00"),
    ("2024-05-01 12:00:01,123", "2024-05-01 12:00:01,123"),
    ("rasa 3.6.21 at 127.0.0.1:5005", "rasa 3.6.21 at 127.0.0.1:5005"),
    ("took 1234 ms", "took 1234 ms"),
    ("pid 12345", "pid 12345"),
    ("conversation 3f2a1b4c-9d8e-4f00-a1b2-c3d4e5f60789",
     "conversation 3f2a1b4c-9d8e-4f00-a1b2-c3d4e5f60789"),
    ("models/20240101-123456-frosty.tar.gz", "models/20240101-123456-frosty.tar.gz"),
    ("rule set hpsm-2022", "rule set hpsm-2022"),
    ("7 ED visits in 12 months", "7 ED visits in 12 months"),
    ("may 5", "may 5"),
    ("", ""),
    # Any 8-12 character mix of letters and digits looks like a member ID, so
    # short hex ids are masked too; 32-character conversation ids are not.
    ("sender 3f2a1b4c", f"sender {MASK_MEMBER_ID}"),
    ("sender 3f2a1b4c9d8e4f00a1b2c3d4e5f60789",
     "sender 3f2a1b4c9d8e4f00a1b2c3d4e5f60789"),
]


@pytest.mark.parametrize("text, expected", MASK_CASES)
def test_mask_text(text, expected):
    assert mask_text(text) == expected


def test_registered_name_masked_any_case_and_accent():
    register_sensitive("conv-1", ["Rosa María Pérez"])
    assert mask_text("ROSA maria PEREZ called") == (
        f"{MASK_SENSITIVE} {MASK_SENSITIVE} {MASK_SENSITIVE} called"
    )
    assert mask_text("Pérez") == MASK_SENSITIVE
    assert mask_text("rosary") == "rosary"  # whole words only


def test_forget_stops_masking():
    register_sensitive("conv-1", ["Rosa"])
    forget("conv-1")
    assert mask_text("Rosa") == "Rosa"


def test_shared_value_masked_until_last_conversation_forgotten():
    register_sensitive("conv-1", ["Rosa"])
    register_sensitive("conv-2", ["Rosa Lee"])
    forget("conv-1")
    assert mask_text("Rosa") == MASK_SENSITIVE
    forget("conv-2")
    assert mask_text("Rosa") == "Rosa"


def test_function_words_not_registered():
    register_sensitive("conv-1", ["Will", "May", "de la Cruz"])
    assert mask_text("it will rain in may") == "it will rain in may"
    assert mask_text("Cruz") == MASK_SENSITIVE


def test_registry_drops_oldest_conversation():
    registry = SensitiveRegistry(max_conversations=2)
    registry.register("a", ["Alpha"])
    registry.register("b", ["Bravo"])
    registry.register("c", ["Charlie"])
    assert len(registry) == 2
    assert "alpha" not in registry
    assert "bravo" in registry
    assert "charlie" in registry


def test_registry_limits_values_and_length():
    registry = SensitiveRegistry(max_values=2, max_value_length=5)
    registry.register("a", ["Alpha", "Bravo", "Charlie"])
    registry.register("b", ["Deltaforce"])
    assert "alpha" in registry
    assert "bravo" in registry
    assert "charlie" not in registry
    assert "delta" in registry
    assert "deltaforce" not in registry


def test_registry_thread_safe():
    registry = SensitiveRegistry(max_conversations=50)
    errors: list[BaseException] = []

    def churn(worker: int) -> None:
        try:
            for i in range(300):
                conversation = f"w{worker}-{i % 60}"
                registry.register(conversation, [f"Name{worker}x{i % 7}", "Shared"])
                "shared" in registry  # noqa: B015 - concurrent read
                if i % 3 == 0:
                    registry.forget(conversation)
        except BaseException as error:  # collected for the assert below
            errors.append(error)

    threads = [threading.Thread(target=churn, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(registry) <= 50
    registry.clear()
    assert not registry


def test_percent_args_masked(masking):
    logger, stream, _ = capture("test.logfilter.args")
    logger.info(
        "member %s called from %s, dob %s", "AB1234567", "650 555 1234", "03/14/1975"
    )
    output = stream.getvalue()
    assert_no_leak(output)
    assert MASK_MEMBER_ID in output
    assert MASK_PHONE in output
    assert MASK_DATE in output


def test_mapping_args_masked(masking):
    logger, stream, _ = capture("test.logfilter.mapping")
    logger.info("phone %(phone)s", {"phone": "(650)555-1234"})
    assert stream.getvalue().strip() == f"phone {MASK_PHONE}"


def test_fstring_masked(masking):
    logger, stream, _ = capture("test.logfilter.fstring")
    phone, email = "+1 650-555-1234", "rosa@example.org"
    logger.warning(f"could not reach {phone} or {email}")
    assert stream.getvalue().strip() == f"could not reach {MASK_PHONE} or {MASK_EMAIL}"


def test_exception_text_masked(masking):
    logger, stream, _ = capture("test.logfilter.exception")
    try:
        raise ValueError("bad answer 650-555-1234 for AB1234567 born 3/14/1975")
    except ValueError:
        logger.exception("screening failed")
    output = stream.getvalue()
    assert "Traceback" in output
    assert "ValueError" in output
    assert_no_leak(output)


def test_extra_attributes_masked(masking):
    logger, stream, _ = capture(
        "test.logfilter.extra", fmt="%(message)s phone=%(phone)s"
    )
    logger.info("sent", extra={"phone": "6505551234"})
    assert stream.getvalue().strip() == f"sent phone={MASK_PHONE}"


def test_registered_name_masked_in_records(masking):
    register_sensitive("conv-9", ["Rosa Pérez"])
    logger, stream, _ = capture("test.logfilter.name")
    logger.info("ticket for %s", "rosa perez")
    logger.info(f"hello Rosa, Pérez")
    assert_no_leak(stream.getvalue())


def test_member_text_withheld_at_info(masking):
    logger, stream, _ = capture("test.logfilter.text_info")
    logger.info("received %s", MemberText("hi I'm Rosa, 650 555 1234"))
    logger.info(MemberText("the whole message as msg"))
    output = stream.getvalue()
    assert output.count(TEXT_WITHHELD) == 2
    assert "hi I'm" not in output
    assert "whole message" not in output


def test_member_text_kept_masked_at_debug(masking):
    logger, stream, _ = capture("test.logfilter.text_debug")
    logger.debug("received %s", MemberText("my number is 650 555 1234"))
    assert stream.getvalue().strip() == f"received my number is {MASK_PHONE}"


def test_member_text_extra_withheld_at_info(masking):
    logger, stream, _ = capture(
        "test.logfilter.text_extra", fmt="%(message)s [%(member_text)s]"
    )
    logger.info("parsed", extra={"member_text": "I live at 12 Elm"})
    logger.debug("parsed", extra={"member_text": "call 650 555 1234"})
    lines = stream.getvalue().splitlines()
    assert lines[0] == f"parsed [{TEXT_WITHHELD}]"
    assert lines[1] == f"parsed [call {MASK_PHONE}]"


def test_text_level_option(masking):
    install_log_masking(text_level=logging.WARNING)
    logger, stream, _ = capture("test.logfilter.text_level")
    logger.info("received %s", MemberText("hello there"))
    logger.error("received %s", MemberText("hello again"))
    lines = stream.getvalue().splitlines()
    assert lines[0] == "received hello there"
    assert lines[1] == f"received {TEXT_WITHHELD}"


def test_existing_handler_gets_filter():
    logger, stream, handler = capture("test.logfilter.existing")
    install_log_masking()
    try:
        assert any(isinstance(f, PiiMaskingFilter) for f in handler.filters)
        logger.info("phone 650 555 1234")
        assert_no_leak(stream.getvalue())
    finally:
        uninstall_log_masking()
    assert not any(isinstance(f, PiiMaskingFilter) for f in handler.filters)


def test_future_handler_gets_filter(masking):
    logger, stream, handler = capture("test.logfilter.future")
    assert masking in handler.filters


def test_dict_config_handler_masked(masking):
    stream = io.StringIO()
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {"plain": {"format": "%(message)s"}},
            "handlers": {
                "memory": {
                    "class": "logging.StreamHandler",
                    "formatter": "plain",
                    "stream": stream,
                }
            },
            "loggers": {
                "test.logfilter.sanic_like": {
                    "handlers": ["memory"],
                    "level": "INFO",
                    "propagate": False,
                }
            },
        }
    )
    logger = logging.getLogger("test.logfilter.sanic_like")
    logger.info("POST from %s", "650.555.1234", extra={"dob": "03/14/1975"})
    assert stream.getvalue().strip() == f"POST from {MASK_PHONE}"
    assert masking in logger.handlers[0].filters


def test_record_factory_masks_handler_without_filter(masking):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)  # appended directly: no addHandler
    logger = logging.getLogger("test.logfilter.bypass")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.handlers.append(handler)
    try:
        logger.info("phone %s", "650 555 1234")
        assert masking not in handler.filters
        assert stream.getvalue().strip() == f"phone {MASK_PHONE}"
    finally:
        logger.handlers.remove(handler)


def test_processor_formatter_dict_msg_masked():
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1,
        {"event": "sms.sent", "to": "+16505551234", "text": "hi"}, (), None,
    )
    PiiMaskingFilter().filter(record)
    assert record.msg == {"event": "sms.sent", "to": MASK_PHONE, "text": TEXT_WITHHELD}


def test_filter_never_raises():
    class Broken:
        def __str__(self):
            raise RuntimeError("no str")

    record = logging.LogRecord("x", logging.INFO, __file__, 1, Broken(), (), None)
    assert PiiMaskingFilter().filter(record) is True
    assert "masking failed" in record.getMessage()


def test_mask_event_dict_masks_and_withholds():
    event = {
        "event": "processor.message.parse",
        "parse_data_text": "I'm Rosa 650 555 1234",
        "sender_id": "3f2a1b4c9d8e4f00a1b2c3d4e5f60789",
        "phone": 6505551234,
        "count": 7,
        "nested": {"dob": "03/14/1975", "text": "secret"},
        "items": ["AB1234567", 3],
    }
    masked = mask_event_dict(None, "info", dict(event))
    assert masked["event"] == "processor.message.parse"
    assert masked["parse_data_text"] == TEXT_WITHHELD
    assert masked["sender_id"] == "3f2a1b4c9d8e4f00a1b2c3d4e5f60789"
    assert masked["phone"] == MASK_PHONE
    assert masked["count"] == 7
    assert masked["nested"] == {"dob": MASK_DATE, "text": TEXT_WITHHELD}
    assert masked["items"] == [MASK_MEMBER_ID, 3]


def test_mask_event_dict_keeps_masked_text_at_debug():
    masked = mask_event_dict(None, "debug", {"text": "call 650 555 1234"})
    assert masked["text"] == f"call {MASK_PHONE}"


@pytest.fixture
def rasa_structlog():
    """Configure structlog exactly as Rasa 3.6 does, then restore the defaults."""
    import structlog
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.DEBUG)
    yield structlog
    structlog.reset_defaults()


def test_rasa_structlog_events_masked(rasa_structlog, masking):
    structlog = rasa_structlog
    assert mask_event_dict in structlog.get_config()["processors"]
    _, stream, _ = capture("test.logfilter.structlog")
    log = structlog.get_logger("test.logfilter.structlog")

    log.info("member.lookup", phone="650 555 1234", dob="March 14, 1975",
             member_id="AB1234567", user_text="I'm Rosa, text me at rosa@example.org")
    log.debug("member.parse", text="my number is 6505551234")

    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    info, debug = (json.loads(line) for line in lines)
    assert info["phone"] == MASK_PHONE
    assert info["dob"] == MASK_DATE
    assert info["member_id"] == MASK_MEMBER_ID
    assert info["user_text"] == TEXT_WITHHELD
    assert debug["text"] == f"my number is {MASK_PHONE}"
    assert_no_leak(stream.getvalue())


def test_structlog_configured_after_install_still_masked(masking):
    """Rendered structlog output passes the stdlib record factory and filters."""
    import structlog
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.INFO)
    try:
        assert mask_event_dict not in structlog.get_config()["processors"]
        _, stream, _ = capture("test.logfilter.structlog_late")
        structlog.get_logger("test.logfilter.structlog_late").info(
            "sms.sent", to="+1 650-555-1234", name="AB1234567"
        )
        assert_no_leak(stream.getvalue())
        assert MASK_PHONE in stream.getvalue()
    finally:
        structlog.reset_defaults()


def test_install_is_idempotent(masking):
    again = install_log_masking()
    assert again is masking
    logger, stream, handler = capture("test.logfilter.idempotent")
    assert handler.filters.count(masking) == 1
    logger.info("x %s", "650 555 1234")
    assert stream.getvalue().strip() == f"x {MASK_PHONE}"


# --- personal slots, URL tokens, event outlines --------------------------------

SLOT_TEXT_CASES = [
    # Rasa's SlotSet repr
    ("SlotSet(key: handoff_name, value: Zebulon Quixtaria)",
     f"SlotSet(key: handoff_name, value: {MASK_SENSITIVE})"),
    ("SlotSet(key: handoff_call_time, value: after my shift)",
     f"SlotSet(key: handoff_call_time, value: {MASK_SENSITIVE})"),
    ("SlotSet(key: handoff_name, value: None)",
     "SlotSet(key: handoff_name, value: None)"),
    ("SlotSet(key: requested_slot, value: handoff_name)",
     "SlotSet(key: requested_slot, value: handoff_name)"),
    # Rasa's slot listing (processor.slots.log)
    ("\thandoff_name: Zebulon Quixtaria\n\tlanguage: en",
     f"\thandoff_name: {MASK_SENSITIVE}\n\tlanguage: en"),
    # dict reprs and JSON
    ("{'handoff_name': 'Zebulon Quixtaria', 'language': 'en'}",
     f"{{'handoff_name': '{MASK_SENSITIVE}', 'language': 'en'}}"),
    ("{'handoff_call_time': \"after O'Hara's shift\"}",
     f"{{'handoff_call_time': \"{MASK_SENSITIVE}\"}}"),
    ('{"handoff_member_id": "id:QX778812ZZ"}',
     f'{{"handoff_member_id": "{MASK_SENSITIVE}"}}'),
    ('slot{"handoff_name": "Zeb \\"Z\\" Q"}',
     f'slot{{"handoff_name": "{MASK_SENSITIVE}"}}'),
    ('"{\\"handoff_name\\": \\"Zebulon\\"}"',
     f'"{{\\"handoff_name\\": \\"{MASK_SENSITIVE}\\"}}"'),
    # featurized states and slot names as values are left alone
    ("slots: {'handoff_name': (1.0,)}", "slots: {'handoff_name': (1.0,)}"),
    ("'requested_slot': 'handoff_phone'", "'requested_slot': 'handoff_phone'"),
    # URL secrets
    ("GET /conversations/web-x/tracker?token=s3cr3t-token HTTP/1.1",
     f"GET /conversations/web-x/tracker?token={MASK_SECRET} HTTP/1.1"),
    ("/api?a=1&auth_token=abc#frag", f"/api?a=1&auth_token={MASK_SECRET}#frag"),
    ("the token is valid", "the token is valid"),
]


@pytest.mark.parametrize("text, expected", SLOT_TEXT_CASES)
def test_mask_text_slot_values_and_tokens(text, expected):
    assert mask_text(text) == expected


def test_mask_value_redacts_personal_slot_keys():
    masked = mask_value(
        {
            "slot_candidates": {"handoff_name": "Zebulon Quixtaria", "q_age": "45"},
            "handoff_phone": None,
        }
    )
    assert masked["slot_candidates"]["handoff_name"] == MASK_SENSITIVE
    assert masked["slot_candidates"]["q_age"] == "45"
    assert masked["handoff_phone"] is None


def test_mask_value_redacts_slot_set_event_dict():
    events = [
        {"event": "slot", "name": "handoff_call_time", "value": "after lunch"},
        {"event": "slot", "name": "requested_slot", "value": "handoff_phone"},
        {"event": "slot", "name": "handoff_name", "value": None},
    ]
    masked = mask_value(events)
    assert masked[0]["value"] == MASK_SENSITIVE
    assert masked[1]["value"] == "handoff_phone"
    assert masked[2]["value"] is None


def test_mask_event_dict_redacts_personal_slot_key_at_debug():
    masked = mask_event_dict(None, "debug", {"handoff_name": "Zebulon Quixtaria"})
    assert masked["handoff_name"] == MASK_SENSITIVE


def test_extra_personal_slot_masked(masking):
    logger, stream, _ = capture(
        "test.logfilter.extra_slot", fmt="%(message)s [%(handoff_name)s]"
    )
    logger.info("validated", extra={"handoff_name": "Zebulon Quixtaria"})
    assert stream.getvalue().strip() == f"validated [{MASK_SENSITIVE}]"


REGISTER_SLOT_CASES = [
    # slot, value, words registered, words left alone
    ("handoff_name", "Zebulon Quixtaria", ["Zebulon", "QUIXTARIA"], []),
    ("handoff_member_id", "id:QX778812ZZ", ["qx778812zz"], ["id"]),
    ("handoff_member_id", "dob:1975-03-14", ["1975"], ["dob"]),
    ("handoff_phone", "sender", [], ["sender"]),
    ("handoff_member_id", "skipped", [], ["skipped"]),
    ("handoff_call_time", "after lunch", ["lunch"], []),
    ("handoff_language", "Tagalog", [], ["Tagalog"]),
    ("handoff_name", None, [], []),
]


@pytest.mark.parametrize("slot, value, masked, kept", REGISTER_SLOT_CASES)
def test_register_slot_value(slot, value, masked, kept):
    register_slot_value("conv-slot", slot, value)
    for word in masked:
        assert word.casefold() in logfilter.REGISTRY, word
    for word in kept:
        assert mask_text(word) == word, word


def test_outline_events_keeps_types_and_names():
    events = [
        "SlotSet(key: handoff_name, value: Zebulon Quixtaria)",
        "ActionExecuted(action: utter_greet, policy: None, confidence: None)",
        "BotUttered('Name: Zebulon Quixtaria', {}, {}, 1.0)",
    ]
    assert outline_events(events) == [
        "SlotSet(handoff_name)",
        "ActionExecuted(utter_greet)",
        "BotUttered",
    ]
    assert outline_events("not a list") == TEXT_WITHHELD
    assert outline_events(["free text from a member"]) == TEXT_WITHHELD


def test_outline_events_of_rasa_event_objects():
    from rasa.shared.core.events import ActiveLoop, SlotSet, UserUttered

    events = [
        SlotSet("handoff_name", "Zebulon Quixtaria"),
        UserUttered("I am Zebulon Quixtaria", {"name": "inform"}),
        ActiveLoop("handoff_form"),
    ]
    assert outline_events(events) == [
        "SlotSet(handoff_name)",
        "UserUttered",
        "ActiveLoop(handoff_form)",
    ]


def test_event_lists_outlined_when_withheld():
    event = {"rasa_events": ["SlotSet(key: handoff_phone, value: +16505550143)"]}
    assert mask_event_dict(None, "info", dict(event)) == {
        "rasa_events": ["SlotSet(handoff_phone)"]
    }
    kept = mask_event_dict(None, "debug", dict(event))
    assert kept == {
        "rasa_events": [f"SlotSet(key: handoff_phone, value: {MASK_SENSITIVE})"]
    }


TEXT_LEVEL_CASES = [
    # text_level given to the filter, record level, text kept?
    (logging.NOTSET, logging.DEBUG, False),
    ("NOTSET", logging.DEBUG, False),
    ("debug", logging.DEBUG, True),
    (logging.DEBUG, logging.INFO, False),
    ("WARNING", logging.WARNING, True),
]


@pytest.mark.parametrize("text_level, record_level, kept", TEXT_LEVEL_CASES)
def test_filter_text_level(text_level, record_level, kept):
    record = logging.LogRecord(
        "x", record_level, __file__, 1, "got %s", (MemberText("hello there"),), None
    )
    PiiMaskingFilter(text_level=text_level).filter(record)
    expected = "got hello there" if kept else f"got {TEXT_WITHHELD}"
    assert record.getMessage() == expected


def test_filter_rejects_unknown_text_level():
    with pytest.raises(ValueError, match="text_level 'LOUD' is invalid"):
        PiiMaskingFilter(text_level="LOUD")


def test_text_withheld_at_debug_with_notset(masking):
    install_log_masking(text_level=logging.NOTSET)
    logger, stream, _ = capture("test.logfilter.notset")
    logger.debug("parsed %s", MemberText("I am Zebulon"))
    assert stream.getvalue().strip() == f"parsed {TEXT_WITHHELD}"
    masked = mask_event_dict(None, "debug", {"parse_data_text": "I am Zebulon"})
    assert masked["parse_data_text"] == TEXT_WITHHELD
