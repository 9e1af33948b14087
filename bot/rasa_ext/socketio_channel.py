"""Socket.IO channel for the web chat widget, with server-issued session ids.

Rasa's own socket.io channel lets the client name its session id and joins
that room, so anyone who has another member's id would receive their
replies. This channel issues the id itself (a token signed with `APP_SECRET`
that expires after `WEBCHAT_SESSION_HOURS`), binds each socket to the id it
was confirmed, and accepts a message only from a socket bound to the id the
message names.

Events, all in the default namespace:

| direction | event | data |
| --- | --- | --- |
| client to server | `session_request` | `{"session_id": token or null}` |
| server to client | `session_confirm` | the session token (a string) |
| server to client | `history` | `{"messages": [{"role", "text", "buttons"?}]}` |
| client to server | `user_uttered` | `{"session_id": token, "message": text}` or `{"session_id": token, "choice": id}` |
| server to client | `user_echo` | `{"text": ...}`, to the session's other sockets |
| server to client | `bot_typing` | `{"typing": true or false}` |
| server to client | `bot_uttered` | `{"text": ..., "buttons": [{"id", "title"}]?}` |
| server to client | `chat_error` | `{"code": ..., "message": ...}`; nothing was processed |

NOTE: With several Rasa replicas, set `REDIS_URL` so that replies reach a
socket connected to another replica (python-socketio's `AsyncRedisManager`).
The long-polling transport also needs sticky sessions at the load balancer;
the WebSocket transport does not.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Dict, Iterable, Optional, Text

from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput
from rasa.shared.core.events import BotUttered, UserUttered
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncRedisManager, AsyncServer

from bot import conversations
from bot.choices import NEUTRAL_SLASH, Choice
from bot.rasa_ext.channels import MAX_MESSAGE_CHARS
from bot.rasa_ext.turns import OnNewMessage, run_turn
from bot.sessions import InvalidSession, issue_session_token, verify_session_token
from bot.settings import Settings, get_settings

logger = logging.getLogger(__name__)

CHANNEL_NAME = "socketio"
# The last messages of the current Rasa session sent back on reconnect.
MAX_HISTORY_MESSAGES = 100
# A message of MAX_MESSAGE_CHARS characters, JSON-escaped, fits well within this.
MAX_PACKET_BYTES = 64 * 1024
# Tolerance for clock differences between replicas when checking a token's
# lifetime against WEBCHAT_SESSION_HOURS.
EXPIRY_SLACK_SECONDS = 60


def issue_webchat_token(settings: Settings, now: float | None = None) -> str:
    """Issue a signed session token that expires after `webchat_session_hours`."""
    return issue_session_token(
        settings.app_secret, ttl_seconds=settings.webchat_session_hours * 3600, now=now
    )


def verify_webchat_token(
    settings: Settings, token: object, now: float | None = None
) -> str:
    """Return the conversation id of a web chat token that is still valid.

    Besides the signature and expiry that `verify_session_token` checks, the
    token's expiry must lie within `webchat_session_hours` of `now`. A token
    issued for longer, such as a REST session token, is not accepted here.

    Raises:
        InvalidSession: The token is malformed, forged, expired or issued
            for longer than a web chat session lasts.
    """
    now = time.time() if now is None else now
    conversation_id = verify_session_token(settings.app_secret, token, now=now)
    expires = int(str(token).split(".")[1])
    max_lifetime = settings.webchat_session_hours * 3600 + EXPIRY_SLACK_SECONDS
    if expires - now > max_lifetime:
        raise InvalidSession("session token outlives a web chat session")
    return conversation_id


def public_bot_message(message: Dict[Text, Any]) -> Optional[Dict[Text, Any]]:
    """Return the text and buttons of a bot message as the widget receives them.

    Button payloads stay on the server: each button goes out as its choice
    id and title, and the client sends the id back. Other message parts
    (images, custom JSON) are dropped, because the widget shows text only.
    """
    text = message.get("text")
    buttons = message.get("buttons") or []
    if not text and not buttons:
        return None
    public: Dict[Text, Any] = {"text": str(text or "")}
    if buttons:
        public["buttons"] = [
            {"id": str(index), "title": str(button.get("title", ""))}
            for index, button in enumerate(buttons, start=1)
        ]
    return public


def _shown_user_text(text: str, last_buttons: list[dict]) -> str:
    """Return what the member typed or chose, for a stored user message."""
    if text.startswith("/"):
        for button in last_buttons:
            if button.get("payload") == text:
                return str(button.get("title", ""))
    if text.startswith(NEUTRAL_SLASH):
        return "/" + text[len(NEUTRAL_SLASH) :]
    return text


def history_from_events(events: Iterable[Any], offered: list[Choice]) -> list[dict]:
    """Build the widget's history from a tracker's events.

    Args:
        events: The events of the current Rasa session.
        offered: The buttons the assistant offered last, which are attached
            to the last bot message so the member can still choose one.

    Returns:
        Messages `{"role": "user" | "bot", "text": ...}`, oldest first, with
        at most `MAX_HISTORY_MESSAGES` entries.
    """
    history: list[dict] = []
    last_buttons: list[dict] = []
    for event in events:
        if isinstance(event, UserUttered) and event.text:
            history.append(
                {"role": "user", "text": _shown_user_text(event.text, last_buttons)}
            )
        elif isinstance(event, BotUttered):
            buttons = (event.data or {}).get("buttons") or []
            if event.text or buttons:
                history.append({"role": "bot", "text": event.text or ""})
                last_buttons = buttons
    history = history[-MAX_HISTORY_MESSAGES:]

    last_bot = next((m for m in reversed(history) if m["role"] == "bot"), None)
    if offered and last_bot is not None and history[-1] is last_bot:
        last_bot["buttons"] = [{"id": c.id, "title": c.title} for c in offered]
    return history


class MessageRejected(ValueError):
    """A member message that the channel does not pass to Rasa.

    Attributes:
        code: The `chat_error` code sent to the client.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class WebChatInput(SocketIOInput):
    """Socket.IO channel whose session ids are issued and signed by the server.

    `credentials.yml` may set `user_message_evt`, `bot_message_evt`,
    `namespace` and `socketio_path` as for Rasa's channel. The session is
    always persistent, and Rasa's `jwt_key` and client metadata are not used.
    """

    @classmethod
    def name(cls) -> Text:
        return CHANNEL_NAME

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        settings = get_settings()
        client_manager = None
        if settings.redis_url:
            client_manager = AsyncRedisManager(settings.redis_url)
        sio = AsyncServer(
            async_mode="sanic",
            cors_allowed_origins=list(settings.allowed_origins),
            client_manager=client_manager,
            max_http_buffer_size=MAX_PACKET_BYTES,
        )
        self.sio = sio
        blueprint = SocketBlueprint(
            sio, self.socketio_path, "member_socketio", __name__
        )
        server: dict = {}
        namespace = self.namespace

        @blueprint.listener("after_server_start")
        async def remember_app(app, _loop) -> None:
            server["app"] = app

        @blueprint.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @sio.on("connect", namespace=namespace)
        async def connect(
            sid: Text, environ: Dict, auth: Optional[Dict] = None
        ) -> bool:
            origin = environ.get("HTTP_ORIGIN")
            if origin not in settings.allowed_origins:
                logger.info(
                    "Rejected web chat socket %s from origin %r: not in ALLOWED_ORIGINS",
                    sid,
                    origin,
                )
                return False
            logger.debug("Web chat socket %s connected", sid)
            return True

        @sio.on("disconnect", namespace=namespace)
        async def disconnect(sid: Text, *_: Any) -> None:
            logger.debug("Web chat socket %s disconnected", sid)

        @sio.on("session_request", namespace=namespace)
        async def session_request(sid: Text, data: Any = None) -> None:
            token = data.get("session_id") if isinstance(data, dict) else None
            conversation_id = None
            if token:
                try:
                    conversation_id = verify_webchat_token(settings, token)
                except InvalidSession as error:
                    logger.info("Replacing a web chat session id: %s", error)
            restored = conversation_id is not None
            if not restored:
                token = issue_webchat_token(settings)
                conversation_id = verify_webchat_token(settings, token)

            async with sio.session(sid, namespace=namespace) as session:
                previous = session.get("conversation_id")
                session["token"] = token
                session["conversation_id"] = conversation_id
            if previous and previous != conversation_id:
                await sio.leave_room(sid, previous, namespace=namespace)
            await sio.enter_room(sid, conversation_id, namespace=namespace)

            await sio.emit("session_confirm", token, room=sid, namespace=namespace)
            history = await load_history(conversation_id) if restored else []
            await sio.emit(
                "history", {"messages": history}, room=sid, namespace=namespace
            )
            logger.debug(
                "Web chat socket %s bound to %s (%s)",
                sid,
                conversation_id,
                "restored" if restored else "new",
            )

        async def load_history(conversation_id: str) -> list[dict]:
            agent = getattr(getattr(server.get("app"), "ctx", None), "agent", None)
            if agent is None or agent.tracker_store is None:
                return []
            tracker = await agent.tracker_store.retrieve(conversation_id)
            if tracker is None:
                return []
            offered = await conversations.offered_choices(conversation_id)
            return history_from_events(tracker.events, offered)

        async def refuse(sid: Text, code: str, message: str) -> None:
            await sio.emit(
                "chat_error",
                {"code": code, "message": message},
                room=sid,
                namespace=namespace,
            )

        @sio.on(self.user_message_evt, namespace=namespace)
        async def handle_message(sid: Text, data: Any = None) -> None:
            session = await sio.get_session(sid, namespace=namespace)
            bound_token = session.get("token")
            if not isinstance(data, dict) or not bound_token:
                await refuse(sid, "no_session", "request a session first")
                return
            if data.get("session_id") != bound_token:
                logger.info(
                    "Rejected a web chat message: socket %s is bound to another session",
                    sid,
                )
                await refuse(
                    sid, "session_not_bound", "this socket has another session"
                )
                return
            try:
                conversation_id = verify_webchat_token(settings, bound_token)
            except InvalidSession:
                await refuse(
                    sid, "session_expired", "the session expired; request a new one"
                )
                return

            try:
                text, shown = await member_text(conversation_id, data)
            except MessageRejected as rejection:
                await refuse(sid, rejection.code, str(rejection))
                return

            await sio.emit(
                "user_echo",
                {"text": shown},
                room=conversation_id,
                skip_sid=sid,
                namespace=namespace,
            )
            await sio.emit(
                "bot_typing",
                {"typing": True},
                room=conversation_id,
                namespace=namespace,
            )
            try:
                messages = await run_turn(
                    on_new_message, conversation_id, text, CHANNEL_NAME
                )
                for message in messages:
                    public = public_bot_message(message)
                    if public is not None:
                        await sio.emit(
                            self.bot_message_evt,
                            public,
                            room=conversation_id,
                            namespace=namespace,
                        )
            except Exception as error:  # noqa: BLE001 - the member gets a kind reply
                logger.error(
                    "Web chat turn failed for %s: %s",
                    conversation_id,
                    type(error).__name__,
                )
                await refuse(sid, "turn_failed", "the assistant could not answer")
            finally:
                # The end of the turn, also for the client's typing indicator.
                await sio.emit(
                    "bot_typing",
                    {"typing": False},
                    room=conversation_id,
                    namespace=namespace,
                )

        async def member_text(conversation_id: str, data: dict) -> tuple[str, str]:
            """Return the text for Rasa and the text shown to the member's tabs."""
            choice_id = data.get("choice")
            if choice_id is not None:
                if not isinstance(choice_id, (str, int)) or isinstance(choice_id, bool):
                    raise MessageRejected("invalid_choice", "choice must be an id")
                offered = await conversations.offered_choices(conversation_id)
                chosen = next((c for c in offered if c.id == str(choice_id)), None)
                if chosen is None:
                    raise MessageRejected(
                        "choice_not_offered", "that choice is not offered now"
                    )
                # run_turn maps the choice's id to its payload.
                return chosen.id, chosen.title

            text = data.get("message")
            if not isinstance(text, str) or not text.strip():
                raise MessageRejected("empty_message", "message must be non-empty text")
            if len(text) > MAX_MESSAGE_CHARS:
                raise MessageRejected(
                    "message_too_long",
                    f"message is over {MAX_MESSAGE_CHARS} characters",
                )
            return text, text

        return blueprint
