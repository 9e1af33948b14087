import pytest

from bot.choices import (
    NEUTRAL_SLASH,
    Choice,
    choices_from_messages,
    message_for_rasa,
    neutralize_command,
)

OFFERED = [
    Choice("1", "Yes", "/affirm"),
    Choice("2", "No", "/deny"),
    Choice("3", "Not sure", "/unsure"),
]


def test_choices_come_from_last_message_with_buttons():
    messages = [
        {"text": "a", "buttons": [{"title": "Old", "payload": "/old"}]},
        {"text": "b", "buttons": [{"title": "Yes", "payload": "/affirm"}]},
        {"text": "c"},
    ]
    assert choices_from_messages(messages) == [Choice("1", "Yes", "/affirm")]


def test_no_buttons_gives_no_choices():
    assert choices_from_messages([{"text": "hello"}]) == []


@pytest.mark.parametrize(
    "reply, expected",
    [
        ("1", "/affirm"),
        (" 2 ", "/deny"),
        ("3.", "/unsure"),
        ("yes", "/affirm"),
        ("YES!", "/affirm"),
        ("not sure", "/unsure"),
        ("Not Sure?", "/unsure"),
        ("yes please call me", "yes please call me"),
        ("4", "4"),
    ],
)
def test_reply_selects_offered_choice(reply, expected):
    assert message_for_rasa(reply, OFFERED) == expected


@pytest.mark.parametrize(
    "text",
    [
        "/restart",
        '/request_handoff{"handoff_name": "x"}',
        "  /affirm",
        "/faq/what_is_ecm",
    ],
)
def test_slash_commands_become_plain_text(text):
    result = message_for_rasa(text, OFFERED)
    assert not result.lstrip().startswith("/")
    assert result.startswith(NEUTRAL_SLASH)


def test_command_is_plain_text_without_offer():
    assert message_for_rasa("/affirm", []) == NEUTRAL_SLASH + "affirm"


def test_text_with_inner_slash_unchanged():
    assert neutralize_command("yes/no") == "yes/no"
