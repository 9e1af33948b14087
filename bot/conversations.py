"""Per-conversation state that the channels keep outside Rasa's tracker.

It holds the buttons last offered (so a reply can select one) and, for SMS,
the member's phone number (so the hand-off can offer it without the number
ever sitting in a slot or an event). Rows live in the product's database so
that every replica sees the same state.
"""

from __future__ import annotations

from sqlalchemy import select

from bot.choices import Choice
from bot.db import get_session_factory, run_in_thread
from bot.models import ConversationState, utcnow


def _load(conversation_id: str) -> ConversationState | None:
    with get_session_factory()() as session:
        return session.get(ConversationState, conversation_id)


def _upsert(conversation_id: str, **values: object) -> None:
    with get_session_factory().begin() as session:
        row = session.execute(
            select(ConversationState).where(
                ConversationState.conversation_id == conversation_id
            )
        ).scalar_one_or_none()
        if row is None:
            row = ConversationState(conversation_id=conversation_id)
            session.add(row)
        for name, value in values.items():
            setattr(row, name, value)
        row.updated_at = utcnow()


async def offered_choices(conversation_id: str) -> list[Choice]:
    """Return the buttons offered by the assistant's last turn."""
    row = await run_in_thread(_load, conversation_id)
    if row is None or not row.offered_choices:
        return []
    return [Choice(**item) for item in row.offered_choices]


async def remember_choices(conversation_id: str, choices: list[Choice]) -> None:
    """Store the buttons of the latest turn (an empty list clears them)."""
    await run_in_thread(
        _upsert,
        conversation_id,
        offered_choices=[choice.as_dict() for choice in choices],
    )


async def remember_sms_sender(conversation_id: str, phone: str) -> None:
    """Store the phone number behind an SMS conversation's pseudonym."""
    await run_in_thread(_upsert, conversation_id, phone=phone, channel="twilio")


async def sms_sender_phone(conversation_id: str) -> str | None:
    """Return the phone number behind an SMS conversation, if one is known."""
    row = await run_in_thread(_load, conversation_id)
    return row.phone if row is not None else None


def forget(conversation_id: str) -> None:
    """Delete the stored state of a conversation."""
    with get_session_factory().begin() as session:
        row = session.get(ConversationState, conversation_id)
        if row is not None:
            session.delete(row)
