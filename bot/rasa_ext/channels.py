"""The product's input channels: REST for web clients and Twilio SMS.

Both channels keep the buttons they offered on the server, so that only a
choice the assistant just offered can trigger an intent directly, and both
turn any other text that starts with `/` into plain text. The SMS channel
lives in `bot.rasa_ext.sms_channel`; it is imported here so that
`credentials.yml` names both channels in this module.
"""

from __future__ import annotations

import logging
from typing import Text

from rasa.core.channels.channel import InputChannel
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import conversations
from bot.rasa_ext.sms_channel import TwilioSmsInput
from bot.rasa_ext.turns import OnNewMessage, run_turn
from bot.sessions import REST_PURPOSE, InvalidSession, issue_session_token
from bot.sessions import verify_session_token
from bot.settings import get_settings

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 2000
# A body with a message of MAX_MESSAGE_CHARS characters, JSON-escaped, and a
# session token fits well within this.
MAX_REST_BODY_BYTES = 64 * 1024

__all__ = ["MemberRestInput", "TwilioSmsInput"]


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
            token = issue_session_token(
                get_settings().app_secret, purpose=REST_PURPOSE
            )
            return response.json({"session_id": token})

        @blueprint.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if len(request.body or b"") > MAX_REST_BODY_BYTES:
                return response.json(
                    {"error": f"body is over {MAX_REST_BODY_BYTES} bytes"}, 413
                )
            try:
                body = request.json
            except Exception:  # Sanic raises its own InvalidUsage on bad JSON
                body = None
            if not isinstance(body, dict):
                return response.json({"error": "body must be a JSON object"}, 400)
            try:
                # A web chat token is signed for WEBCHAT_PURPOSE and fails
                # here, so it cannot skip the socket's origin check and binding.
                conversation_id = verify_session_token(
                    get_settings().app_secret, body.get("sender"), purpose=REST_PURPOSE
                )
            except InvalidSession as error:
                return response.json(
                    {"error": f"{error}; get one from POST /webhooks/rest/session"},
                    403,
                )

            text = body.get("message")
            choice = body.get("choice")
            if choice is not None:
                if not isinstance(choice, (str, int)) or isinstance(choice, bool):
                    return response.json({"error": "choice must be an id"}, 400)
                offered = await conversations.offered_choices(conversation_id)
                if not any(item.id == str(choice) for item in offered):
                    return response.json(
                        {"error": f"choice {str(choice)[:20]!r} is not offered now"},
                        409,
                    )
                text = str(choice)
            if not isinstance(text, str) or not text.strip():
                return response.json({"error": "message must be non-empty text"}, 400)
            if len(text) > MAX_MESSAGE_CHARS:
                return response.json(
                    {"error": f"message is over {MAX_MESSAGE_CHARS} characters"}, 413
                )

            messages = await run_turn(on_new_message, conversation_id, text, "rest")
            return response.json(_public_messages(messages))

        return blueprint
