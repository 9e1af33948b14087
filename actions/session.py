"""Session start: contacts, language, and an offer to pick up unfinished work."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import language_of
from bot.contacts import contact_slots
from bot.handoff import HANDOFF_SLOTS


# Slots a member's next session keeps: the screening answers and an unfinished
# hand-off, so they can pick up where they stopped. The form itself, the
# question being asked and the miss count are not kept, so an expired session
# never leaves a form half-open.
CARRIED_SLOTS = (
    "screening_profile",
    "screening_scope",
    "screening_consent",
    "screening_done",
    "screening_result",
    "handoff_id",
    "handoff_use_other_phone",
    *HANDOFF_SLOTS,
)


LANGUAGES = ("en", "es")


def page_language(tracker: Tracker) -> str | None:
    """Return the language that the message starting the session names, if any.

    Rasa puts the metadata of the message that starts a session in the slot
    `session_started_metadata`. The web chat sends the page's language
    (`data-lang` of the widget) there as `language`.
    """
    metadata = tracker.get_slot("session_started_metadata")
    if not isinstance(metadata, dict):
        return None
    language = metadata.get("language")
    return language if language in LANGUAGES else None


class ActionSessionStart(Action):
    """Start a session: language, contacts, and work the member left unfinished.

    The session's language is the page's language when the message names one,
    else the language of the member's previous session. A member who comes
    back after the session expired (see `session_config` in the domain) is
    offered to continue an unfinished screening or hand-off, or to start over.
    """

    def name(self) -> str:
        return "action_session_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        language = page_language(tracker) or language_of(tracker)
        events: list[EventType] = [SessionStarted(), SlotSet("language", language)]
        events.extend(
            SlotSet(name, value) for name, value in contact_slots(language).items()
        )
        carried = {
            slot: tracker.get_slot(slot)
            for slot in CARRIED_SLOTS
            if tracker.get_slot(slot) is not None
        }
        events.extend(SlotSet(slot, value) for slot, value in carried.items())

        if any(carried.get(slot) for slot in HANDOFF_SLOTS):
            dispatcher.utter_message(response="utter_welcome_back_handoff")
        elif carried.get("screening_profile") and not carried.get("screening_done"):
            dispatcher.utter_message(response="utter_welcome_back_screening")
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
