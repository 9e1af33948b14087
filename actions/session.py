"""Session start: fill the contact slots from the contacts file."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import language_of
from bot.contacts import contact_slots


class ActionSessionStart(Action):
    """Start a session with the member's language and the plan's contacts."""

    def name(self) -> str:
        return "action_session_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        language = language_of(tracker)
        events: list[EventType] = [SessionStarted(), SlotSet("language", language)]
        events.extend(
            SlotSet(name, value) for name, value in contact_slots(language).items()
        )
        events.append(ActionExecuted("action_listen"))
        return events


class ActionSetLanguage(Action):
    """Switch the conversation to English or Spanish."""

    def name(self) -> str:
        return "action_set_language"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        from bot.answers import parse_language

        text = tracker.latest_message.get("text") or ""
        language = parse_language(text) or "en"
        if language not in ("en", "es"):
            language = "en"
        events: list[EventType] = [SlotSet("language", language)]
        events.extend(
            SlotSet(name, value) for name, value in contact_slots(language).items()
        )
        # The confirmation is a separate rule step, so Rasa renders it after this
        # slot change and picks the new language's variation.
        return events
