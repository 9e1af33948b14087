"""Crisis pause: answer in the member's language and pause any question flow."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.safety import detect_crisis


DEFAULT_CATEGORY = "suicide"


class ActionCrisisPause(Action):
    """Prepare the crisis reply: its category and the member's language.

    The reply itself (`utter_crisis`) is a later rule step, so Rasa renders it
    with the language set here; the rules pause any active form in between.
    This action sends no message, so the crisis reply is still the first one.
    """

    def name(self) -> str:
        return "action_crisis_pause"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        match = detect_crisis(tracker.latest_message.get("text") or "")
        # Without a rule match (the model alone saw a crisis) the reply about
        # suicide and self-harm is used; it names both 988 and 911.
        category = match.category if match is not None else DEFAULT_CATEGORY
        events: list[EventType] = [SlotSet("crisis_category", category)]
        if match is not None and match.language in ("en", "es"):
            events.append(SlotSet("language", match.language))
        return events
