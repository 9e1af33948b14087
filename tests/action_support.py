"""Build rasa-sdk trackers from the real domain and run custom actions on them.

The trackers carry what Rasa 3.6 sends to the action server: the slots, the
latest message's parse data, the events and the active loop. For a form's
validation action the events end the way Rasa's `FormAction` ends them: the
requested slot, the form's `ActionExecuted` and then the slot candidates, which
is where rasa-sdk's `Tracker.slots_to_validate()` looks for them.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass, field
from typing import Any, Iterable

from rasa.shared.core.domain import Domain
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.settings import PROJECT_ROOT

DOMAIN_FILE = PROJECT_ROOT / "domain.yml"
CONVERSATION_ID = "conv-7f3a9c1e"
REQUESTED_SLOT = "requested_slot"


@functools.lru_cache(maxsize=1)
def _domain_dict() -> dict[str, Any]:
    return Domain.load(str(DOMAIN_FILE)).as_dict()


def load_domain() -> dict[str, Any]:
    """Return the project's domain as the dict that Rasa sends to actions.

    Each call returns a fresh copy, so a test cannot change another's domain.
    """
    return copy.deepcopy(_domain_dict())


def initial_slots(domain: dict[str, Any]) -> dict[str, Any]:
    """Return every domain slot at its initial value, plus `requested_slot`."""
    slots = {
        name: spec.get("initial_value")
        for name, spec in (domain.get("slots") or {}).items()
    }
    slots[REQUESTED_SLOT] = None
    return slots


def user_message(
    text: str,
    intent: str | None = None,
    *,
    faq: str | None = None,
    entities: Iterable[dict[str, Any]] = (),
) -> dict[str, Any]:
    """Build the parse data of one member message.

    Args:
        text: The text as typed, or a button payload such as "/affirm".
        intent: The base intent name. When it is omitted and `faq` is given,
            it is "faq".
        faq: A retrieval intent such as "faq/cost". It fills the response
            selector output the way Rasa's `ResponseSelector` does.
        entities: Entities, such as `{"entity": "detail", "value": "phone"}`.

    Returns:
        The dict that becomes `Tracker.latest_message`.
    """
    if faq is not None and intent is None:
        intent = "faq"
    message: dict[str, Any] = {
        "text": text,
        "intent": {"name": intent, "confidence": 1.0} if intent else {},
        "entities": list(entities),
    }
    if faq is not None:
        message["response_selector"] = {
            "all_retrieval_intents": ["faq"],
            "faq": {
                "response": {
                    "intent_response_key": faq,
                    "utter_action": f"utter_{faq}",
                    "confidence": 0.97,
                    "responses": [],
                },
                "ranking": [],
            },
        }
    return message


def _slot_event(name: str, value: Any) -> dict[str, Any]:
    return {"event": "slot", "name": name, "value": value}


def make_tracker(
    domain: dict[str, Any],
    message: dict[str, Any],
    *,
    slots: dict[str, Any] | None = None,
    channel: str = "rest",
    sender_id: str = CONVERSATION_ID,
) -> Tracker:
    """Build the tracker for a plain action that runs after `message`.

    Args:
        domain: The domain dict from `load_domain`.
        message: The latest message, from `user_message`.
        slots: Slot values that differ from the domain's initial values.
        channel: The input channel of the message ("rest" or "twilio").
        sender_id: The conversation id.
    """
    values = initial_slots(domain)
    values.update(slots or {})
    events = [
        {"event": "action", "name": "action_listen"},
        {
            "event": "user",
            "text": message.get("text"),
            "parse_data": message,
            "input_channel": channel,
        },
    ]
    return Tracker(
        sender_id=sender_id,
        slots=values,
        latest_message=message,
        events=events,
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


def make_form_tracker(
    domain: dict[str, Any],
    form: str,
    requested_slot: str,
    message: dict[str, Any],
    *,
    slots: dict[str, Any] | None = None,
    channel: str = "rest",
    sender_id: str = CONVERSATION_ID,
) -> Tracker:
    """Build the tracker that Rasa's `FormAction` passes to `validate_<form>`.

    The requested slot is a `from_text` slot, so its candidate is the message
    text. The candidate is set in the slots and is the last event.

    Args:
        domain: The domain dict from `load_domain`.
        form: The active form, such as "screening_form".
        requested_slot: The slot the form asked for.
        message: The member's reply, from `user_message`.
        slots: Slot values before the reply, other than the initial values.
        channel: The input channel of the reply.
        sender_id: The conversation id.
    """
    tracker = make_tracker(
        domain, message, slots=slots, channel=channel, sender_id=sender_id
    )
    candidate = message.get("text")
    tracker.slots[REQUESTED_SLOT] = requested_slot
    tracker.slots[requested_slot] = candidate
    tracker.events += [
        _slot_event(REQUESTED_SLOT, requested_slot),
        {"event": "action", "name": form},
        _slot_event(requested_slot, candidate),
    ]
    tracker.active_loop = {"name": form}
    tracker.latest_action_name = form
    return tracker


@dataclass
class ActionOutcome:
    """The events an action returned and the messages it sent."""

    events: list[dict[str, Any]]
    messages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def slots(self) -> dict[str, Any]:
        """Slot name to the value of the last `SlotSet` event for it."""
        return {
            event["name"]: event["value"]
            for event in self.events
            if event.get("event") == "slot"
        }

    @property
    def responses(self) -> list[str]:
        """Names of the responses sent, in order."""
        return [message["response"] for message in self.messages]

    def event_types(self) -> list[str]:
        """Return the `event` field of every returned event, in order."""
        return [event.get("event") for event in self.events]


async def run_action(
    action: Action, domain: dict[str, Any], tracker: Tracker
) -> ActionOutcome:
    """Run `action` the way the action server does and collect what it did."""
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, domain)
    return ActionOutcome(events=list(events or []), messages=dispatcher.messages)


def apply_events(slots: dict[str, Any], events: Iterable[dict[str, Any]]) -> None:
    """Apply the `SlotSet` events in `events` to `slots`, as Rasa would."""
    for event in events:
        if event.get("event") == "slot":
            slots[event["name"]] = event["value"]
