import pytest

from bot.sms_format import (
    is_gsm7,
    numbered_choices,
    plain_text,
    render_turn,
    segment_count,
    split_text,
)


@pytest.mark.parametrize(
    "text, segments",
    [
        ("", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("[" * 80, 1),
        ("[" * 81, 2),
        ("é" * 160, 1),
        ("ó" * 70, 1),
        ("ó" * 71, 2),
        ("ó" * 134, 2),
        ("ó" * 135, 3),
        ("a" * 69 + "😀", 2),
    ],
)
def test_segment_count(text, segments):
    assert segment_count(text) == segments


def test_gsm7_detection():
    assert is_gsm7("¡Hola! Call 1-800-750-4776, ¿qué tal?")
    assert not is_gsm7("Hola, ¿cómo está?")


def test_markdown_and_html_removed():
    text = plain_text("**Call** [Member Services](https://example.org) <b>now</b>")
    assert text == "Call Member Services (https://example.org) now"


def test_buttons_become_numbered_choices():
    rendered = numbered_choices([{"title": "Yes"}, {"title": "No"}])
    assert rendered == "Reply 1 for Yes, 2 for No."


def test_short_messages_joined_into_one_sms():
    bodies = render_turn([{"text": "Hi there."}, {"text": "What is your name?"}])
    assert bodies == ["Hi there.\n\nWhat is your name?"]


def test_long_text_split_at_sentences_not_words():
    sentence = "This sentence has exactly some words in it. "
    text = (sentence * 40).strip()
    bodies = split_text(text, max_segments=2)
    assert len(bodies) > 1
    for body in bodies:
        assert segment_count(body) <= 2
        assert body.endswith(".")
    assert " ".join(bodies) == text


def test_only_last_menu_of_a_turn_is_numbered():
    bodies = render_turn(
        [
            {"text": "Hard one.", "buttons": [{"title": "Skip"}, {"title": "Stop"}]},
            {"text": "Do you have a home?", "buttons": [{"title": "Yes"}]},
        ]
    )
    text = "\n".join(bodies)
    assert text.count("Reply 1") == 1
    assert "Reply 1 for Yes." in text
    assert "You can say: Skip, Stop." in text
