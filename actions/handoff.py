"""Hand-off form: collect contact details, read them back, create the ticket."""

from __future__ import annotations

import logging
import re
import uuid
from datetime import date
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import AnsweredSlotsValidation, faq_response, has_response
from actions.common import latest_intent
from actions.common import latest_text
from bot import answers, conversations
from bot.handoff import HANDOFF_SLOTS, build_request, detail_to_fix, read_name
from bot.handoff import summary_values
from bot.handoff import create_ticket
from bot.logfilter import register_sensitive
from bot.settings import get_settings
from bot.sms_keywords import bare_keyword
from bot.tickets import InvalidHandoffError

logger = logging.getLogger(__name__)
# The ticket's channel for each Rasa input channel name; others are "rest".
TICKET_CHANNELS = {"twilio": "sms", "socketio": "webchat"}

SENDER_PHONE = "sender"
CANCEL_WORDS = frozenset({"cancel", "cancelar", "cancel it", "cancela"})
# `bare_keyword` drops spaces, so "cancel it" is compared as "cancelit".
_CANCEL_KEYWORDS = frozenset(bare_keyword(word) for word in CANCEL_WORDS)
# Details a member may leave out; the others are needed to call them back.
OPTIONAL_SLOTS = frozenset({"handoff_member_id"})
MAX_CALL_TIME_CHARS = 80
# The name slot's `from_text` mapping skips these intents (its `not_intent` in
# domain.yml), yet the classifier can put names such as "Call me Bob" or
# "Test Person" in `request_handoff`. Without a candidate, Rasa rejects the form
# and the member gets the fallback reply, so the validation reads them itself.
NAME_INTENTS_SKIPPED_BY_MAPPING = frozenset({"request_handoff"})


def _is_sms(tracker: Tracker) -> bool:
    return tracker.get_latest_input_channel() == "twilio"


class ActionStartHandoff(Action):
    """Begin a new hand-off with a fresh id and empty contact slots."""

    def name(self) -> str:
        return "action_start_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        # A hand-off paused by a crisis reply keeps its details and its id, so
        # the member can finish it; the slots are cleared once it ends.
        if any(tracker.get_slot(slot) for slot in HANDOFF_SLOTS):
            return [SlotSet("handoff_confirm", None), SlotSet("answer_misses", 0)]
        events: list[EventType] = [SlotSet(slot, None) for slot in HANDOFF_SLOTS]
        events += [
            SlotSet("handoff_id", uuid.uuid4().hex),
            SlotSet("handoff_use_other_phone", False),
            SlotSet("answer_misses", 0),
        ]
        return events


class ActionAskHandoffPhone(Action):
    """Offer the number the member is texting from, or ask for a number."""

    def name(self) -> str:
        return "action_ask_handoff_phone"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        if _is_sms(tracker) and not tracker.get_slot("handoff_use_other_phone"):
            phone = await conversations.sms_sender_phone(tracker.sender_id)
            if phone:
                dispatcher.utter_message(
                    response="utter_ask_handoff_phone_sender",
                    last_four=answers.last_four(phone),
                )
                return []
        dispatcher.utter_message(response="utter_ask_handoff_phone")
        return []


class ActionAskHandoffConfirm(Action):
    """Read the details back and ask the member to confirm or fix one."""

    def name(self) -> str:
        return "action_ask_handoff_confirm"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        phone = tracker.get_slot("handoff_phone")
        if phone == SENDER_PHONE:
            phone = await conversations.sms_sender_phone(tracker.sender_id)
        dispatcher.utter_message(
            response="utter_handoff_summary", **summary_values(tracker.slots, phone)
        )
        dispatcher.utter_message(response="utter_ask_handoff_confirm")
        return []


class ValidateHandoffForm(AnsweredSlotsValidation):
    """Check each contact detail; after two misses, offer a way out."""

    def name(self) -> str:
        return "validate_handoff_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
    ) -> list[str]:
        if tracker.slots.get("handoff_consent") == "no":
            return [slot for slot in domain_slots if slot != "handoff_confirm"]
        return domain_slots

    def _miss(
        self, slot: str, rephrase: str, dispatcher: CollectingDispatcher,
        tracker: Tracker, domain: dict[str, Any],
    ) -> dict[str, Any]:
        intent = latest_intent(tracker)
        if intent == "why_ask":
            specific = f"utter_why_{slot}"
            why = specific if has_response(domain, specific) else "utter_why_handoff"
            dispatcher.utter_message(response=why)
            return {slot: None}
        if intent == "faq" and faq_response(tracker):
            dispatcher.utter_message(response=faq_response(tracker))
            return {slot: None}
        misses = int(tracker.get_slot("answer_misses") or 0) + 1
        if misses < 2 and rephrase == f"utter_ask_{slot}":
            # The form asks its question again after this, so saying it here
            # too would show it twice.
            dispatcher.utter_message(response="utter_answer_not_understood")
        elif misses < 2:
            dispatcher.utter_message(response=rephrase)
        elif slot in OPTIONAL_SLOTS:
            dispatcher.utter_message(response="utter_offer_skip")
        else:
            # A required detail cannot be skipped: offer the phone instead.
            dispatcher.utter_message(response="utter_handoff_trouble")
        return {slot: None, "answer_misses": misses}

    def extract_handoff_name(self, dispatcher, tracker, domain):
        """Return the raw reply to the name question when the mapping skipped it.

        The value is only a candidate, and `validate_handoff_name` reads the name.
        """
        if tracker.get_slot("requested_slot") != "handoff_name":
            return {}
        intent = latest_intent(tracker)
        if intent not in NAME_INTENTS_SKIPPED_BY_MAPPING:
            return {}
        logger.debug("Reading a name from a message classified as %s", intent)
        return {"handoff_name": latest_text(tracker)}

    def validate_handoff_name(self, value, dispatcher, tracker, domain):
        text = latest_text(tracker)
        if bare_keyword(text) in _CANCEL_KEYWORDS:
            # A "cancel" that the classifier missed ends the form as the Cancel
            # button does, so `action_create_ticket` creates no ticket.
            return {"handoff_confirm": "cancel", "requested_slot": None}
        name = read_name(text)
        if name:
            register_sensitive(tracker.sender_id, [name])
            return {"handoff_name": name, "answer_misses": 0}
        return self._miss(
            "handoff_name", "utter_rephrase_name", dispatcher, tracker, domain
        )

    async def validate_handoff_phone(self, value, dispatcher, tracker, domain):
        text = latest_text(tracker)
        phone = answers.parse_phone(text)
        if phone:
            register_sensitive(tracker.sender_id, [phone])
            return {"handoff_phone": phone, "answer_misses": 0}
        offered_sender = _is_sms(tracker) and not tracker.get_slot(
            "handoff_use_other_phone"
        )
        if offered_sender:
            reply = answers.parse_yes_no(text)
            intent = latest_intent(tracker)
            if intent == "affirm" or (reply.kind == "value" and reply.value is True):
                sender_phone = await conversations.sms_sender_phone(tracker.sender_id)
                if sender_phone:
                    register_sensitive(tracker.sender_id, [sender_phone])
                    return {"handoff_phone": SENDER_PHONE, "answer_misses": 0}
            if intent == "deny" or (reply.kind == "value" and reply.value is False):
                return {"handoff_phone": None, "handoff_use_other_phone": True}
        return self._miss(
            "handoff_phone", "utter_rephrase_phone", dispatcher, tracker, domain
        )

    def validate_handoff_member_id(self, value, dispatcher, tracker, domain):
        text = latest_text(tracker)
        intent = latest_intent(tracker)
        if intent in ("skip_question", "deny") or answers.parse_yes_no(text).value is False:
            return {"handoff_member_id": "skipped", "answer_misses": 0}
        # A birth date written with a month name ("March 14 1975") also fits the
        # member ID pattern once its spaces are gone, so dates are read first.
        born = answers.parse_date_of_birth(text, date.today())
        if born:
            register_sensitive(tracker.sender_id, [born.isoformat()])
            return {"handoff_member_id": f"dob:{born.isoformat()}", "answer_misses": 0}
        member_id = answers.parse_member_id(text)
        if member_id:
            register_sensitive(tracker.sender_id, [member_id])
            return {"handoff_member_id": f"id:{member_id}", "answer_misses": 0}
        return self._miss(
            "handoff_member_id", "utter_rephrase_member_id", dispatcher, tracker, domain
        )

    def validate_handoff_language(self, value, dispatcher, tracker, domain):
        language = answers.parse_language(latest_text(tracker))
        if language:
            return {"handoff_language": language, "answer_misses": 0}
        text = latest_text(tracker).strip()
        if text.casefold() in ("other", "otro", "another"):
            return {"handoff_language": "other", "answer_misses": 0}
        return self._miss(
            "handoff_language",
            "utter_ask_handoff_language",
            dispatcher,
            tracker,
            domain,
        )

    def validate_handoff_call_time(self, value, dispatcher, tracker, domain):
        text = re.sub(r"\s+", " ", latest_text(tracker)).strip()
        if latest_intent(tracker) in ("faq", "why_ask") or not text:
            return self._miss(
                "handoff_call_time",
                "utter_ask_handoff_call_time",
                dispatcher,
                tracker,
                domain,
            )
        call_time = text[:MAX_CALL_TIME_CHARS]
        register_sensitive(tracker.sender_id, [call_time])
        return {"handoff_call_time": call_time, "answer_misses": 0}

    def validate_handoff_consent(self, value, dispatcher, tracker, domain):
        reply = answers.parse_yes_no(latest_text(tracker))
        intent = latest_intent(tracker)
        if intent == "affirm" or (reply.kind == "value" and reply.value is True):
            return {"handoff_consent": "yes", "answer_misses": 0}
        if intent == "deny" or (reply.kind == "value" and reply.value is False):
            return {"handoff_consent": "no", "answer_misses": 0}
        return self._miss(
            "handoff_consent", "utter_ask_handoff_consent", dispatcher, tracker, domain
        )

    def validate_handoff_confirm(self, value, dispatcher, tracker, domain):
        intent = latest_intent(tracker)
        text = latest_text(tracker)
        detail = detail_to_fix(text, tracker.latest_message.get("entities") or [])
        if intent == "fix_detail" or (detail and intent not in ("affirm",)):
            if detail:
                return {detail: None, "handoff_confirm": None}
            dispatcher.utter_message(response="utter_ask_handoff_confirm")
            return {"handoff_confirm": None}
        reply = answers.parse_yes_no(text)
        if intent == "affirm" or (reply.kind == "value" and reply.value is True):
            return {"handoff_confirm": "yes"}
        cancel_button = intent == "deny" and not text.strip()
        if cancel_button or bare_keyword(text) in _CANCEL_KEYWORDS:
            return {"handoff_confirm": "cancel"}
        if intent == "deny" or (reply.kind == "value" and reply.value is False):
            # A typed "no" usually means something is wrong, not "drop it all".
            dispatcher.utter_message(response="utter_ask_handoff_fix")
            return {"handoff_confirm": None}
        return self._miss(
            "handoff_confirm", "utter_ask_handoff_confirm", dispatcher, tracker, domain
        )


class ActionCreateTicket(Action):
    """Create the hand-off ticket (once per hand-off) and give its reference."""

    def name(self) -> str:
        return "action_create_ticket"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        if tracker.get_slot("handoff_confirm") == "cancel":
            dispatcher.utter_message(response="utter_handoff_cancelled")
            return [SlotSet(slot, None) for slot in HANDOFF_SLOTS]
        if tracker.get_slot("handoff_consent") != "yes":
            dispatcher.utter_message(response="utter_handoff_consent_needed")
            return [SlotSet(slot, None) for slot in HANDOFF_SLOTS]

        phone = tracker.get_slot("handoff_phone")
        if phone == SENDER_PHONE:
            phone = await conversations.sms_sender_phone(tracker.sender_id)
        request = build_request(
            tracker.slots,
            conversation_id=tracker.sender_id,
            channel=TICKET_CHANNELS.get(tracker.get_latest_input_channel(), "rest"),
            phone=phone,
        )
        try:
            ticket, created = await create_ticket(request)
        except InvalidHandoffError as error:
            logger.warning("Hand-off rejected: %s", error)
            dispatcher.utter_message(response="utter_handoff_failed")
            return [SlotSet("handoff_phone", None), SlotSet("handoff_confirm", None)]
        logger.info(
            "Hand-off ticket %s (%s)", ticket.reference, "new" if created else "repeat"
        )
        dispatcher.utter_message(response="utter_ticket_created", reference=ticket.reference)
        if get_settings().twilio_configured:
            dispatcher.utter_message(response="utter_ticket_sms_note")
        # Personal details now live only in the ticket, not in the tracker.
        events = [SlotSet(slot, None) for slot in HANDOFF_SLOTS]
        events.append(SlotSet("ticket_reference", ticket.reference))
        return events
