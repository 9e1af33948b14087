"""Render a turn of bot messages as SMS text.

Buttons become numbered choices, markdown and HTML are removed, short
messages of one turn are joined, and long text is split at sentence
boundaries. Segment counts follow the GSM 03.38 rules. A message of GSM-7
characters fits 160 characters in one segment, or 153 per part when split.
Any other character switches the whole message to UCS-2, which fits 70
characters, or 67 per part.
"""

from __future__ import annotations

import html
import re

GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = "^{}\\[~]|€\f"
MAX_SMS_CHARS = 1600

_TAG = re.compile(r"<[^>]{0,200}>")
_MARKDOWN_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
_EMPHASIS = re.compile(r"(\*\*|__|\*|_|`)(?=\S)(.+?)(?<=\S)\1")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_TYPOGRAPHY = str.maketrans(
    {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-",
     "\u2014": "-", "\u2026": "...", "\u00a0": " "}
)


def is_gsm7(text: str) -> bool:
    """Return whether every character of `text` is in the GSM-7 alphabet."""
    return all(char in GSM7_BASIC or char in GSM7_EXTENDED for char in text)


def segment_count(text: str) -> int:
    """Return how many SMS segments `text` takes."""
    if not text:
        return 1
    if is_gsm7(text):
        units = sum(2 if char in GSM7_EXTENDED else 1 for char in text)
        single, part = 160, 153
    else:
        units = sum(2 if ord(char) > 0xFFFF else 1 for char in text)
        single, part = 70, 67
    if units <= single:
        return 1
    return -(-units // part)


def plain_text(text: str) -> str:
    """Strip markdown and HTML and use plain punctuation."""
    text = _MARKDOWN_LINK.sub(r"\1 (\2)", text)
    text = _EMPHASIS.sub(r"\2", text)
    text = html.unescape(_TAG.sub("", text))
    text = text.translate(_TYPOGRAPHY)
    return re.sub(r"[ \t]+", " ", text).strip()


def numbered_choices(buttons: list[dict]) -> str:
    """Describe buttons as numbered replies."""
    parts = [
        f"{index} for {plain_text(str(button.get('title', '')))}"
        for index, button in enumerate(buttons, start=1)
    ]
    return "Reply " + ", ".join(parts) + "."


def render_message(message: dict, number_buttons: bool = True) -> str:
    """Render one bot message (text, buttons, image link) as SMS text.

    With `number_buttons` false, the buttons are listed as words to send, so
    a turn never shows two numbered menus.
    """
    pieces = []
    if message.get("text"):
        pieces.append(plain_text(str(message["text"])))
    if message.get("buttons") and number_buttons:
        pieces.append(numbered_choices(message["buttons"]))
    elif message.get("buttons"):
        titles = [plain_text(str(b.get("title", ""))) for b in message["buttons"]]
        pieces.append("You can say: " + ", ".join(titles) + ".")
    if message.get("image"):
        pieces.append(str(message["image"]))
    return "\n".join(piece for piece in pieces if piece)


def split_text(text: str, max_segments: int = 4) -> list[str]:
    """Split `text` at sentence boundaries into bodies of at most `max_segments`."""
    if segment_count(text) <= max_segments:
        return [text]
    bodies: list[str] = []
    current = ""
    for sentence in _SENTENCE_END.split(text):
        candidate = f"{current} {sentence}".strip() if current else sentence
        if current and segment_count(candidate) > max_segments:
            bodies.append(current)
            current = sentence
        else:
            current = candidate
    if current:
        bodies.append(current)
    return bodies


def render_turn(messages: list[dict], max_segments: int = 4) -> list[str]:
    """Render a turn's bot messages as SMS bodies, joining short ones."""
    bodies: list[str] = []
    # Only the last menu of a turn is numbered: a reply of "1" selects from it.
    last_menu = max(
        (index for index, message in enumerate(messages) if message.get("buttons")),
        default=-1,
    )
    for index, message in enumerate(messages):
        text = render_message(message, number_buttons=index == last_menu)
        if not text:
            continue
        if bodies and segment_count(bodies[-1] + "\n\n" + text) <= max_segments:
            bodies[-1] = bodies[-1] + "\n\n" + text
        else:
            bodies.extend(split_text(text, max_segments))
    return bodies
