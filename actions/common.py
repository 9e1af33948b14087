"""Small helpers shared by the custom actions."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker

from bot.settings import get_settings


def language_of(tracker: Tracker) -> str:
    """Return the conversation's language slot, `en` by default."""
    return tracker.get_slot("language") or "en"


def latest_intent(tracker: Tracker) -> str | None:
    """Return the base intent of the latest message (`faq`, not `faq/cost`)."""
    return (tracker.latest_message.get("intent") or {}).get("name")


def latest_text(tracker: Tracker) -> str:
    """Return the latest message text, or the empty string for a button payload."""
    text = tracker.latest_message.get("text") or ""
    return "" if text.startswith("/") else text


def faq_response(tracker: Tracker) -> str | None:
    """Return `utter_faq/<name>` for a message classified as a FAQ, else None."""
    selector = (tracker.latest_message.get("response_selector") or {}).get("faq")
    if not selector:
        return None
    key = (selector.get("response") or {}).get("intent_response_key")
    return f"utter_{key}" if key else None


def has_response(domain: dict[str, Any], name: str) -> bool:
    """Whether the domain defines the response `name`."""
    return name in (domain.get("responses") or {})


def rule_set() -> str:
    """Return the configured eligibility rule set."""
    return get_settings().eligibility_rule_set
