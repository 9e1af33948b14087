"""One member turn through Rasa, shared by the REST and SMS channels."""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Optional

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from bot import conversations
from bot.choices import choices_from_messages, message_for_rasa

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


async def run_turn(
    on_new_message: OnNewMessage,
    conversation_id: str,
    text: str,
    channel: str,
    metadata: Optional[dict] = None,
) -> list[dict]:
    """Run one member turn through Rasa and remember the buttons it offered.

    A reply that selects a button the assistant just offered becomes that
    button's payload; any other text starting with `/` is made plain text.

    Returns:
        The bot's messages of the turn, as Rasa's collecting channel stores them.
    """
    offered = await conversations.offered_choices(conversation_id)
    rasa_text = message_for_rasa(text, offered)
    collector = CollectingOutputChannel()
    await on_new_message(
        UserMessage(
            rasa_text,
            collector,
            conversation_id,
            input_channel=channel,
            metadata=metadata,
        )
    )
    await conversations.remember_choices(
        conversation_id, choices_from_messages(collector.messages)
    )
    return collector.messages
