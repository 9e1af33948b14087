"""Delete the conversation at the member's request."""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import SQLAlchemyError

from actions.common import language_of
from bot.contacts import contact_slots
from bot.db import get_session_factory, run_in_thread
from bot.privacy import ConversationEraser

logger = logging.getLogger(__name__)

# The eraser's background task; kept here so it is not garbage collected.
_erasure_task: asyncio.Task | None = None


@functools.lru_cache(maxsize=1)
def _eraser() -> ConversationEraser:
    return ConversationEraser(get_session_factory())


def _start_erasure() -> None:
    """Run the eraser on this event loop until no request waits, unless it runs."""
    # NOTE: the eraser runs only while a request waits. A request still waiting
    # when the action server stops is carried out by the next deletion or by
    # `python -m bot.privacy purge`, not at start-up.
    global _erasure_task
    if _erasure_task is None or _erasure_task.done():
        _erasure_task = asyncio.get_running_loop().create_task(
            _eraser().run_until_idle()
        )


class ActionDeleteConversation(Action):
    """Pseudonymise unworked tickets, start a new session, then erase the old one.

    `ConversationEraser` deletes the tracker events after Rasa saved this turn
    (see `bot.privacy`). The returned `SessionStarted` makes that deletion
    stick. Rasa saves a tracker that ends in a new session, and its next save
    counts only the rows from that session on.
    """

    def name(self) -> str:
        return "action_delete_conversation"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        try:
            receipt = await run_in_thread(
                _eraser().request_deletion, tracker.sender_id
            )
        except SQLAlchemyError:
            logger.exception(
                "Deletion request failed (conversation=%s)", tracker.sender_id
            )
            dispatcher.utter_message(response="utter_delete_failed")
            return []
        _start_erasure()

        dispatcher.utter_message(response="utter_delete_done")
        if receipt.cancelled_references:
            dispatcher.utter_message(
                response="utter_delete_done_cancelled",
                cancelled_references=", ".join(receipt.cancelled_references),
            )
        if receipt.kept_references:
            dispatcher.utter_message(
                response="utter_delete_done_kept",
                kept_references=", ".join(receipt.kept_references),
            )

        # Rasa renders the replies above with the current slots, before these
        # events reset them. The new session keeps only language and contacts.
        language = language_of(tracker)
        events: list[EventType] = [SessionStarted(), SlotSet("language", language)]
        events.extend(
            SlotSet(name, value) for name, value in contact_slots(language).items()
        )
        return events
