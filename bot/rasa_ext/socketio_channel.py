"""Socket.IO channel for the web chat widget, with server-issued session ids.

Rasa's own socket.io channel lets the client name its session id and joins
that room, so anyone who has another member's id would receive their
replies. This channel issues the id itself: a token signed with `APP_SECRET` for the
web chat only, which expires after `WEBCHAT_SESSION_HOURS`. It binds each
socket to the conversation it confirmed. A message is accepted only from a
socket bound to the conversation that the message's token names. Any valid
token of that conversation counts, because another tab of the site may have
stored a later one. Each accepted `session_request` for a kept id
confirms a fresh token for the same conversation, so the lifetime slides.

Events, all in the default namespace:

| direction | event | data |
| --- | --- | --- |
| client to server | `session_request` | `{"session_id": token or null, "language": "en" or "es"?}` |
| server to client | `session_confirm` | the session token (a string) |
| server to client | `history` | `{"messages": [{"role", "text", "buttons"?, "message_id"?}], "expired"?: true}`; `expired` when the requested id had expired and a new conversation began |
| client to server | `user_uttered` | `{"session_id": token, "message": text}` or `{"session_id": token, "choice": id}`, each with an optional `"message_id"` |
| server to client | acknowledgement of `user_uttered` | `{"message_id": id or null, "status": "answered", "duplicate" or "rejected"}` |
| server to client | `user_echo` | `{"text": ...}`, to the session's other sockets |
| server to client | `bot_typing` | `{"typing": true or false}` |
| server to client | `bot_uttered` | `{"text": ..., "buttons": [{"id", "title"}]?}` |
| server to client | `chat_error` | `{"code": ..., "message": ..., "message_id": id or null}`; nothing was processed |

A `message_id` (1 to 64 letters, digits, `-` or `_`, chosen by the client)
makes a resent message safe: the server answers a message id it has already
received in that conversation with the status `duplicate` and does not pass
it to Rasa again. The id is stored in the user message's metadata, and the
history returns it with the member's messages.

A session may send `RATE_LIMIT_MESSAGES` messages in any
`RATE_LIMIT_WINDOW_SECONDS`; further messages get `chat_error` with the
code `rate_limited`.


NOTE: With several Rasa replicas, set `REDIS_URL` so that replies reach a
socket connected to another replica (python-socketio's `AsyncRedisManager`).
The long-polling transport also needs sticky sessions at the load balancer;
the WebSocket transport does not. The rate limit and the set of message ids
in progress are kept per replica, so a member whose sockets reach several
replicas gets that many times the limit. A duplicate that reaches another
replica is still caught once the first turn is stored in the tracker.
"""

from __future__ import annotations

import logging
import re
import time
from collections import OrderedDict, deque
from typing import Any, Dict, Iterable, Optional, Text

from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput
from rasa.shared.core.events import BotUttered, UserUttered
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncRedisManager, AsyncServer

from bot import conversations
from bot.choices import Choice, shown_user_text
from bot.rasa_ext.channels import MAX_MESSAGE_CHARS
from bot.rasa_ext.turns import OnNewMessage, run_turn
from bot.sessions import (
    WEBCHAT_PURPOSE,
    InvalidSession,
    SessionExpired,
    issue_session_token,
    verify_session_token,
)
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
# Messages a web chat session may send in any window of this many seconds.
# It is separate from the SMS limit, and a member typing by hand stays far
# below it.
RATE_LIMIT_MESSAGES = 30
RATE_LIMIT_WINDOW_SECONDS = 60
# Message ids remembered per conversation in this process, for resends, and
# the conversations remembered (the least recently active are dropped).
RECENT_MESSAGE_IDS = 200
RECENT_CONVERSATIONS = 10_000
MESSAGE_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
LANGUAGES = ("en", "es")


def issue_webchat_token(
    settings: Settings, now: float | None = None, conversation_id: str | None = None
) -> str:
    """Issue a web chat token that expires after `webchat_session_hours`.

    Args:
        settings: The settings with `app_secret` and `webchat_session_hours`.
        now: The issue time as a Unix timestamp; the current time by default.
        conversation_id: The conversation to issue a fresh token for; a new
            conversation by default.
    """
    return issue_session_token(
        settings.app_secret,
        ttl_seconds=settings.webchat_session_hours * 3600,
        now=now,
        purpose=WEBCHAT_PURPOSE,
        conversation_id=conversation_id,
    )


def verify_webchat_token(
    settings: Settings, token: object, now: float | None = None
) -> str:
    """Return the conversation id of a web chat token that is still valid.

    Besides the signature for `WEBCHAT_PURPOSE` and the expiry that
    `verify_session_token` checks, the token's expiry must lie within
    `webchat_session_hours` of `now`, so lowering the setting also shortens
    tokens issued before. A REST session token is not accepted here.

    Raises:
        InvalidSession: The token is malformed, forged, expired, issued for
            REST or issued for longer than a web chat session lasts.
    """
    now = time.time() if now is None else now
    conversation_id = verify_session_token(
        settings.app_secret, token, now=now, purpose=WEBCHAT_PURPOSE
    )
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
            shown = shown_user_text(event.text, last_buttons)
            message = {"role": "user", "text": shown}
            message_id = _message_id_of(event)
            if message_id:
                message["message_id"] = message_id
            history.append(message)
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


def _message_id_of(event: UserUttered) -> Optional[str]:
    metadata = event.metadata if isinstance(event.metadata, dict) else {}
    message_id = metadata.get("message_id")
    return message_id if isinstance(message_id, str) else None


class RateLimiter:
    """A sliding-window limit on the messages of each session, in memory.

    Args:
        max_messages: Messages allowed in any window.
        window_seconds: The window's length in seconds.
    """

    def __init__(self, max_messages: int, window_seconds: float) -> None:
        self.max_messages = max_messages
        self.window_seconds = window_seconds
        self._sent: Dict[str, deque] = {}

    def allow(self, key: str, now: float | None = None) -> bool:
        """Count one message for `key`; return False when it is over the limit."""
        now = time.monotonic() if now is None else now
        sent = self._sent.setdefault(key, deque())
        while sent and sent[0] <= now - self.window_seconds:
            sent.popleft()
        if len(sent) >= self.max_messages:
            return False
        sent.append(now)
        self._forget_idle(now)
        return True

    def _forget_idle(self, now: float) -> None:
        idle = [
            key
            for key, sent in self._sent.items()
            if not sent or sent[-1] <= now - self.window_seconds
        ]
        for key in idle:
            del self._sent[key]


class RecentMessageIds:
    """The message ids each conversation sent lately in this process.

    Args:
        per_conversation: Ids kept per conversation; the oldest are dropped.
        max_conversations: Conversations kept; the least recently active are
            dropped.
    """

    def __init__(
        self,
        per_conversation: int = RECENT_MESSAGE_IDS,
        max_conversations: int = RECENT_CONVERSATIONS,
    ) -> None:
        self.per_conversation = per_conversation
        self.max_conversations = max_conversations
        self._ids: OrderedDict[str, OrderedDict] = OrderedDict()

    def add(self, conversation_id: str, message_id: str) -> bool:
        """Remember `message_id`; return False when it was already known."""
        ids = self._ids.setdefault(conversation_id, OrderedDict())
        self._ids.move_to_end(conversation_id)
        while len(self._ids) > self.max_conversations:
            self._ids.popitem(last=False)
        if message_id in ids:
            return False
        ids[message_id] = True
        while len(ids) > self.per_conversation:
            ids.popitem(last=False)
        return True

    def discard(self, conversation_id: str, message_id: Optional[str]) -> None:
        """Forget `message_id`, so that the member may send it again."""
        ids = self._ids.get(conversation_id)
        if ids is not None and message_id is not None:
            ids.pop(message_id, None)


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
            data = data if isinstance(data, dict) else {}
            token = data.get("session_id")
            language = data.get("language")
            conversation_id = None
            expired = False
            if token:
                try:
                    conversation_id = verify_webchat_token(settings, token)
                except InvalidSession as error:
                    expired = isinstance(error, SessionExpired)
                    logger.info("Replacing a web chat session id: %s", error)
            restored = conversation_id is not None
            # A kept id gets a fresh token for the same conversation, so the
            # session lasts WEBCHAT_SESSION_HOURS from the last visit.
            token = issue_webchat_token(settings, conversation_id=conversation_id)
            conversation_id = verify_webchat_token(settings, token)

            async with sio.session(sid, namespace=namespace) as session:
                previous = session.get("conversation_id")
                session["token"] = token
                session["conversation_id"] = conversation_id
                session["language"] = language if language in LANGUAGES else None
            if previous and previous != conversation_id:
                await sio.leave_room(sid, previous, namespace=namespace)
            await sio.enter_room(sid, conversation_id, namespace=namespace)

            await sio.emit("session_confirm", token, room=sid, namespace=namespace)
            history = await load_history(conversation_id) if restored else []
            reply: Dict[Text, Any] = {"messages": history}
            if expired:
                reply["expired"] = True
            await sio.emit("history", reply, room=sid, namespace=namespace)
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

        def same_conversation(token: Any, conversation_id: Any) -> bool:
            try:
                return verify_webchat_token(settings, token) == conversation_id
            except InvalidSession:
                return False

        rate_limiter = RateLimiter(RATE_LIMIT_MESSAGES, RATE_LIMIT_WINDOW_SECONDS)
        recent_ids = RecentMessageIds()

        async def already_stored(conversation_id: str, message_id: str) -> bool:
            agent = getattr(getattr(server.get("app"), "ctx", None), "agent", None)
            if agent is None or agent.tracker_store is None:
                return False
            tracker = await agent.tracker_store.retrieve(conversation_id)
            if tracker is None:
                return False
            return any(
                isinstance(event, UserUttered) and _message_id_of(event) == message_id
                for event in tracker.events
            )

        @sio.on(self.user_message_evt, namespace=namespace)
        async def handle_message(sid: Text, data: Any = None) -> Dict[Text, Any]:
            """Run one member turn; the return value is the event's acknowledgement."""
            message_id = data.get("message_id") if isinstance(data, dict) else None
            if not isinstance(message_id, str) or not MESSAGE_ID_PATTERN.match(
                message_id
            ):
                message_id = None

            async def refuse(code: str, message: str) -> Dict[Text, Any]:
                await sio.emit(
                    "chat_error",
                    {"code": code, "message": message, "message_id": message_id},
                    room=sid,
                    namespace=namespace,
                )
                return {"message_id": message_id, "status": "rejected"}

            session = await sio.get_session(sid, namespace=namespace)
            bound_token = session.get("token")
            if not isinstance(data, dict) or not bound_token:
                return await refuse("no_session", "request a session first")
            sent_token = data.get("session_id")
            if sent_token != bound_token:
                # Another tab of the site may have been given a later token for
                # the same conversation, which this tab then read from storage.
                if not same_conversation(sent_token, session.get("conversation_id")):
                    logger.info(
                        "Rejected a web chat message: socket %s is bound to another "
                        "session",
                        sid,
                    )
                    return await refuse(
                        "session_not_bound", "this socket has another session"
                    )
                bound_token = sent_token
            try:
                conversation_id = verify_webchat_token(settings, bound_token)
            except InvalidSession:
                return await refuse(
                    "session_expired", "the session expired; request a new one"
                )
            if data.get("message_id") is not None and message_id is None:
                return await refuse(
                    "invalid_message_id",
                    "message_id must be 1 to 64 letters, digits, - or _",
                )

            if message_id is not None and (
                not recent_ids.add(conversation_id, message_id)
                or await already_stored(conversation_id, message_id)
            ):
                logger.info(
                    "Ignored a resent web chat message of %s: already received",
                    conversation_id,
                )
                return {"message_id": message_id, "status": "duplicate"}
            if not rate_limiter.allow(conversation_id):
                logger.warning(
                    "Rejected a web chat message of %s: over %d messages in %d s",
                    conversation_id,
                    RATE_LIMIT_MESSAGES,
                    RATE_LIMIT_WINDOW_SECONDS,
                )
                recent_ids.discard(conversation_id, message_id)
                return await refuse(
                    "rate_limited",
                    f"over {RATE_LIMIT_MESSAGES} messages in "
                    f"{RATE_LIMIT_WINDOW_SECONDS} seconds; wait, then send again",
                )

            try:
                text, shown = await member_text(conversation_id, data)
            except MessageRejected as rejection:
                recent_ids.discard(conversation_id, message_id)
                return await refuse(rejection.code, str(rejection))

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
            metadata: Dict[Text, Any] = {}
            if message_id is not None:
                metadata["message_id"] = message_id
            if session.get("language"):
                # action_session_start reads it from `session_started_metadata`
                # and sets the `language` slot to the page's language.
                metadata["language"] = session["language"]
            status = "answered"
            try:
                messages = await run_turn(
                    on_new_message,
                    conversation_id,
                    text,
                    CHANNEL_NAME,
                    metadata=metadata or None,
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
                # A resend may try again, unless the tracker stored the message.
                recent_ids.discard(conversation_id, message_id)
                await refuse("turn_failed", "the assistant could not answer")
                status = "rejected"
            finally:
                # The end of the turn, also for the client's typing indicator.
                await sio.emit(
                    "bot_typing",
                    {"typing": False},
                    room=conversation_id,
                    namespace=namespace,
                )
            return {"message_id": message_id, "status": status}

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
