"""Small helpers shared by the custom actions."""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

from rasa_sdk import FormValidationAction, Tracker, utils
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

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
    """Return whether the domain defines the response `name`."""
    return name in (domain.get("responses") or {})


def rule_set() -> str:
    """Return the configured eligibility rule set."""
    return get_settings().eligibility_rule_set


class AnsweredSlotsValidation(FormValidationAction):
    """Form validation that checks only slots the member just answered.

    rasa-sdk validates every slot set since the member's message, including
    slots an action has just cleared; an empty slot is not an answer, so it is
    skipped here. Subclasses validate a slot in `validate_<slot>` or override
    `validate_slot`.
    """

    @abstractmethod
    def name(self) -> str:
        """Name of the validation action (abstract, so rasa-sdk skips this class)."""

    async def validate_slot(
        self,
        slot: str,
        value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
    ) -> dict[str, Any]:
        method = getattr(self, f"validate_{slot}", None)
        if method is None:
            return {}
        return await utils.call_potential_coroutine(
            method(value, dispatcher, tracker, domain)
        )

    async def get_validation_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        required = await self.required_slots(
            self.domain_slots(domain), dispatcher, tracker, domain
        )
        updates: dict[str, Any] = {}
        for slot, value in tracker.slots_to_validate().items():
            if slot not in required or value is None:
                continue
            output = await self.validate_slot(slot, value, dispatcher, tracker, domain)
            updates.update(output)
            tracker.slots.update(output)
        return [SlotSet(slot, value) for slot, value in updates.items()]
