"""Crisis pause: answer in the member's language and pause any question flow."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.safety import detect_crisis


class ActionCrisisPause(Action):
    """Prepare the crisis reply: match the message's language, pause the form.

    The reply itself (`utter_crisis`) is the next rule step, so Rasa renders it
    with the language set here. Nothing about the message is stored or sent.
    """

    def name(self) -> str:
        return "action_crisis_pause"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        events: list[EventType] = []
        match = detect_crisis(tracker.latest_message.get("text") or "")
        if match is not None and match.language in ("en", "es"):
            events.append(SlotSet("language", match.language))
        if tracker.active_loop.get("name"):
            events += [ActiveLoop(None), SlotSet("requested_slot", None)]
        return events
