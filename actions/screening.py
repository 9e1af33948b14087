"""Screening form: consent, one question at a time, and the result."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import AnsweredSlotsValidation, faq_response, has_response
from actions.common import language_of, latest_intent
from actions.common import latest_text, rule_set
from bot import eligibility
from bot.handoff import HANDOFF_SLOTS
from bot.questions import interpret
from bot.screening_view import reason_responses, result_responses
from bot.topics import detect_services

logger = logging.getLogger(__name__)

FORM = "screening_form"
QUESTION_PREFIX = "q_"
CONSENT_SLOT = "screening_consent"
MAX_MISSES = 2
# Words that start a question, in English, SMS shorthand and Spanish.
QUESTION_WORDS = frozenset(
    "what wat whats what's why y how who when where which can could do does is "
    "are will would should qué que por cómo como cuál cual cuándo dónde quién "
    "puedo puede".split()
)
SIDE_QUESTION_INTENTS = frozenset(
    {"faq", "why_ask", "out_of_scope", "greet", "thank", "service_not_offered"}
)


def _question_slots(domain: dict[str, Any]) -> list[str]:
    form = (domain.get("forms") or {}).get(FORM) or {}
    return [slot for slot in form.get("required_slots", []) if slot != CONSENT_SLOT]


class ActionStartScreening(Action):
    """Start (or resume) the screening for the services the member named."""

    def name(self) -> str:
        return "action_start_screening"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        intent = latest_intent(tracker)
        services = detect_services(latest_text(tracker))
        scope = sorted(set(services)) or None
        profile = dict(tracker.get_slot("screening_profile") or {})
        if intent == "start_over" or tracker.get_slot("screening_done"):
            profile = {}
        if intent == "start_over":
            # Starting over also drops a hand-off left unfinished.
            events_reset = [SlotSet(slot, None) for slot in HANDOFF_SLOTS]
        else:
            events_reset = []
        events: list[EventType] = [
            SlotSet("screening_scope", scope),
            SlotSet("screening_profile", profile),
            SlotSet("screening_done", False),
            SlotSet("answer_misses", 0),
        ]
        events.extend(SlotSet(slot, None) for slot in _question_slots(domain))
        return events + events_reset


class ValidateScreeningForm(AnsweredSlotsValidation):
    """Ask only the questions whose answer can still change the result."""

    def name(self) -> str:
        return "validate_screening_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
    ) -> list[str]:
        consent = tracker.slots.get(CONSENT_SLOT)
        if consent is None:
            return [CONSENT_SLOT]
        if consent == "declined":
            return [CONSENT_SLOT]
        profile = tracker.slots.get("screening_profile") or {}
        field = eligibility.next_question(
            profile, tracker.slots.get("screening_scope"), rule_set()
        )
        return [CONSENT_SLOT] + ([QUESTION_PREFIX + field] if field else [])

    async def validate_slot(self, slot, value, dispatcher, tracker, domain):
        if slot == CONSENT_SLOT:
            return self._validate_consent(dispatcher, tracker)
        return self._validate_answer(slot[len(QUESTION_PREFIX) :], dispatcher, tracker)

    @staticmethod
    def _asks_instead_of_answering(tracker: Tracker) -> bool:
        """Whether the message is a question, even if a number or yes/no is in it.

        "what are the 7 community supports?" holds a count, and "y do u need
        that" reads as yes; both are side questions, not answers. A statement
        ("i have diabetes") is read as an answer first, whatever the intent
        classifier says.
        """
        intent = latest_intent(tracker)
        if intent not in ("faq", "why_ask", "service_not_offered"):
            return False
        if intent == "faq" and not faq_response(tracker):
            return False
        text = latest_text(tracker).strip()
        words = text.casefold().split()
        return "?" in text or (bool(words) and words[0] in QUESTION_WORDS)

    def _side_question(
        self, slot: str, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> bool:
        """Answer a side question asked instead of an answer; True if one was."""
        intent = latest_intent(tracker)
        if intent == "why_ask":
            dispatcher.utter_message(response=f"utter_why_{slot}")
            return True
        if intent == "faq" and faq_response(tracker):
            dispatcher.utter_message(response=faq_response(tracker))
            return True
        if intent in SIDE_QUESTION_INTENTS:
            dispatcher.utter_message(response=f"utter_{intent}")
            return True
        return False

    def _validate_consent(
        self, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> dict[str, Any]:
        if self._asks_instead_of_answering(tracker):
            self._side_question(CONSENT_SLOT, dispatcher, tracker)
            return {CONSENT_SLOT: None}
        reading = interpret("consent", latest_text(tracker), latest_intent(tracker),
                            language_of(tracker))
        if reading.kind == "value" and reading.value is True:
            return {CONSENT_SLOT: "given"}
        if reading.kind == "value" and reading.value is False:
            dispatcher.utter_message(response="utter_consent_declined")
            return {CONSENT_SLOT: "declined"}
        if not self._side_question(CONSENT_SLOT, dispatcher, tracker):
            dispatcher.utter_message(response="utter_why_screening_consent")
        return {CONSENT_SLOT: None}

    def _validate_answer(
        self, field: str, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> dict[str, Any]:
        slot = QUESTION_PREFIX + field
        if self._asks_instead_of_answering(tracker):
            self._side_question(slot, dispatcher, tracker)
            return {slot: None}
        reading = interpret(field, latest_text(tracker), latest_intent(tracker),
                            language_of(tracker))
        profile = dict(tracker.slots.get("screening_profile") or {})
        if reading.kind in ("value", "unsure"):
            profile[field] = reading.value if reading.kind == "value" else None
            try:
                eligibility.validate_profile(profile)
            except eligibility.InvalidProfile:
                logger.info("Rejected an out-of-range answer for %s", field)
            else:
                return {
                    slot: reading.kind,
                    "screening_profile": profile,
                    "answer_misses": 0,
                }

        # A statement the parser cannot read gets the question again in other
        # words, even if the classifier took it for a program question: "i have
        # diabetes" answers "do you have a condition?", it does not ask about meals.
        is_faq = latest_intent(tracker) == "faq"
        if not is_faq and self._side_question(slot, dispatcher, tracker):
            return {slot: None}
        misses = int(tracker.slots.get("answer_misses") or 0) + 1
        if misses >= MAX_MISSES:
            dispatcher.utter_message(response="utter_offer_skip")
        else:
            dispatcher.utter_message(response=reading.rephrase)
        return {slot: None, "answer_misses": misses}


class ActionScreeningResult(Action):
    """Tell the member what they may qualify for, and why."""

    def name(self) -> str:
        return "action_screening_result"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        if tracker.get_slot(CONSENT_SLOT) == "declined":
            return [SlotSet(CONSENT_SLOT, None)]

        profile = tracker.get_slot("screening_profile") or {}
        scope = tracker.get_slot("screening_scope")
        result = eligibility.screen(profile, rule_set())
        for response in result_responses(result, scope):
            if has_response(domain, response):
                dispatcher.utter_message(response=response)
            else:
                logger.warning("Response %s is missing from the domain", response)
        return [
            SlotSet("screening_result", result),
            SlotSet("screening_done", True),
        ]


__all__ = [
    "ActionStartScreening",
    "ValidateScreeningForm",
    "ActionScreeningResult",
    "reason_responses",
]
