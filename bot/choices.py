"""Buttons offered to a member, and how a reply selects one.

A member can trigger an intent directly only by choosing a button that the
assistant has just offered. The channel keeps the offered buttons on the
server and maps a reply (the choice's number, id or title) to that button's
payload. Any other text that starts with `/` is passed on as plain text,
because Rasa would otherwise read it as an intent command.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

COMMAND_PREFIX = "/"
# U+2215 DIVISION SLASH looks like "/" but is not Rasa's intent prefix.
NEUTRAL_SLASH = "\u2215"
_PUNCTUATION = re.compile(r"[\s.!?,;:'\"()\[\]]+")


@dataclass(frozen=True)
class Choice:
    """One offered button: `id` is its number as shown ("1", "2", ...)."""

    id: str
    title: str
    payload: str

    def as_dict(self) -> dict:
        return asdict(self)


def choices_from_messages(messages: list[dict]) -> list[Choice]:
    """Collect the buttons of the last bot message of a turn that has any."""
    for message in reversed(messages):
        buttons = message.get("buttons") or []
        if buttons:
            return [
                Choice(
                    id=str(index),
                    title=str(button.get("title", "")),
                    payload=str(button.get("payload", "")),
                )
                for index, button in enumerate(buttons, start=1)
            ]
    return []


def _normalize(text: str) -> str:
    return _PUNCTUATION.sub(" ", text.casefold()).strip()


def resolve_choice(text: str, choices: list[Choice]) -> Choice | None:
    """Return the offered choice that `text` selects, by number, id or title."""
    wanted = _normalize(text)
    if not wanted:
        return None
    for choice in choices:
        if wanted == _normalize(choice.id) or wanted == _normalize(choice.title):
            return choice
    return None


def neutralize_command(text: str) -> str:
    """Make text that starts with `/` plain text for Rasa."""
    stripped = text.lstrip()
    if stripped.startswith(COMMAND_PREFIX):
        return NEUTRAL_SLASH + stripped[len(COMMAND_PREFIX) :]
    return text


def message_for_rasa(text: str, choices: list[Choice]) -> str:
    """Return what to hand to Rasa for a member's reply to the offered choices."""
    choice = resolve_choice(text, choices)
    if choice is not None and choice.payload:
        return choice.payload
    return neutralize_command(text)


def shown_user_text(text: str, last_buttons: list[dict]) -> str:
    """Return a stored member message as the member typed or chose it.

    Args:
        text: The user event's text as Rasa stored it: a button payload such
            as `/affirm`, text whose leading `/` `neutralize_command`
            replaced, or plain text.
        last_buttons: The buttons (`{"title", "payload"}` dicts) of the last
            bot message before this one.

    Returns:
        The title of the button whose payload `text` is, the text with its
        leading slash restored, or `text` unchanged.
    """
    if text.startswith(COMMAND_PREFIX):
        for button in last_buttons:
            if isinstance(button, dict) and button.get("payload") == text:
                return str(button.get("title", ""))
    if text.startswith(NEUTRAL_SLASH):
        return COMMAND_PREFIX + text[len(NEUTRAL_SLASH) :]
    return text
