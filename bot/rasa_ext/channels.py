"""The product's input channels: REST for web clients and Twilio SMS.

Both channels keep the buttons they offered on the server, so that only a
choice the assistant just offered can trigger an intent directly, and both
turn any other text that starts with `/` into plain text.
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, Optional, Text
from xml.sax.saxutils import escape

from rasa.core.channels.channel import (
    CollectingOutputChannel,
    InputChannel,
    UserMessage,
)
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import conversations
from bot.choices import choices_from_messages, message_for_rasa
from bot.sessions import InvalidSession, issue_session_token, sms_conversation_id
from bot.sessions import verify_session_token
from bot.settings import get_settings
from bot.sms_format import MAX_SMS_CHARS, render_turn
from bot.sms_keywords import is_opt_out_keyword

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 2000
OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


async def _run_turn(
    on_new_message: OnNewMessage,
    conversation_id: str,
    text: str,
    channel: str,
    metadata: Optional[dict] = None,
) -> list[dict]:
    """Run one member turn through Rasa and remember the buttons it offered."""
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


def _public_messages(messages: list[dict]) -> list[dict]:
    """Drop button payloads: a client sends back the choice's id or title."""
    public = []
    for message in messages:
        item = {key: value for key, value in message.items() if key != "buttons"}
        item.pop("recipient_id", None)
        if message.get("buttons"):
            item["buttons"] = [
                {"id": str(index), "title": button.get("title", "")}
                for index, button in enumerate(message["buttons"], start=1)
            ]
        public.append(item)
    return public


class MemberRestInput(InputChannel):
    """REST channel whose conversation ids are issued and signed by the server.

    `POST /webhooks/rest/session` returns a new session token; `POST
    /webhooks/rest/webhook` takes `{"sender": token, "message": text}` or
    `{"sender": token, "choice": id}` and returns the bot's messages.
    """

    @classmethod
    def name(cls) -> Text:
        return "rest"

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        blueprint = Blueprint("member_rest", __name__)

        @blueprint.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @blueprint.route("/session", methods=["POST"])
        async def new_session(_: Request) -> HTTPResponse:
            token = issue_session_token(get_settings().app_secret)
            return response.json({"session_id": token})

        @blueprint.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                body = request.json
            except Exception:  # Sanic raises its own InvalidUsage on bad JSON
                body = None
            if not isinstance(body, dict):
                return response.json({"error": "body must be a JSON object"}, 400)
            try:
                conversation_id = verify_session_token(
                    get_settings().app_secret, body.get("sender")
                )
            except InvalidSession as error:
                return response.json(
                    {"error": f"{error}; get one from POST /webhooks/rest/session"},
                    403,
                )

            text = body.get("message")
            choice = body.get("choice")
            if choice is not None:
                text = str(choice)
            if not isinstance(text, str) or not text.strip():
                return response.json({"error": "message must be non-empty text"}, 400)
            if len(text) > MAX_MESSAGE_CHARS:
                return response.json(
                    {"error": f"message is over {MAX_MESSAGE_CHARS} characters"}, 413
                )

            messages = await _run_turn(on_new_message, conversation_id, text, "rest")
            return response.json(_public_messages(messages))

        return blueprint


def _twiml(bodies: list[str]) -> HTTPResponse:
    messages = "".join(f"<Message>{escape(body)}</Message>" for body in bodies)
    return response.text(
        f'<?xml version="1.0" encoding="UTF-8"?><Response>{messages}</Response>',
        content_type="text/xml",
    )


class TwilioSmsInput(InputChannel):
    """SMS channel for Twilio's messaging webhook; replies with TwiML.

    The conversation id is a keyed pseudonym of the sender's number; the number
    itself is kept only in the conversation store, for the hand-off.
    """

    @classmethod
    def name(cls) -> Text:
        return "twilio"

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        blueprint = Blueprint("member_twilio", __name__)

        @blueprint.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @blueprint.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            form = request.form or {}
            sender = (form.get("From") or "").strip()
            if not sender:
                return response.text("missing From", status=400)
            text = (form.get("Body") or "").strip()[:MAX_SMS_CHARS]

            conversation_id = sms_conversation_id(get_settings().app_secret, sender)
            await conversations.remember_sms_sender(conversation_id, sender)
            if is_opt_out_keyword(text):
                # Carrier opt-out keywords are handled by Twilio and never reach
                # the dialogue, so they cannot be mistaken for "stop the questions".
                logger.info("SMS opt-out keyword received (conversation=%s)",
                            conversation_id)
                return _twiml([])
            if not text:
                return _twiml(["Sorry, I can only read text messages. Please type "
                               "your question."])

            messages = await _run_turn(on_new_message, conversation_id, text, "twilio")
            return _twiml(render_turn(messages))

        return blueprint
