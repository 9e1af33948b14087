"""The web chat's socket.io channel, against the real running assistant.

One assistant is started for the module; each test connects real socket.io
clients to its Rasa server over loopback.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
import socketio

from bot.rasa_ext.channels import MAX_MESSAGE_CHARS
from bot.rasa_ext.socketio_channel import RATE_LIMIT_MESSAGES, RateLimiter
from bot.rasa_ext.socketio_channel import RecentMessageIds, issue_webchat_token
from bot.rasa_ext.socketio_channel import verify_webchat_token
from bot.sessions import WEBCHAT_PURPOSE, InvalidSession, issue_session_token
from bot.settings import load_settings
from tests.webchat_support import ChatClient, buttons_of, start_webchat_assistant
from tests.webchat_support import stop_webchat_assistant

FOREIGN_ORIGIN = "http://attacker.example"


@pytest.fixture(scope="module")
def assistant(tmp_path_factory):
    running = start_webchat_assistant(tmp_path_factory.mktemp("webchat"))
    yield running
    code = stop_webchat_assistant(running)
    assert code == 0, running.log_text()[-3000:]


@pytest.fixture
def settings(tmp_path):
    return load_settings(
        {
            "APP_SECRET": "unit-secret",
            "VAR_DIR": str(tmp_path),
            "WEBCHAT_SESSION_HOURS": "2",
        }
    )


@pytest.fixture
async def clients(assistant):
    """Factory of connected clients from the demo page's origin."""
    opened: list[ChatClient] = []

    async def open_client(origin: str | None = None) -> ChatClient:
        client = ChatClient(assistant.base_url, origin or assistant.web_url)
        await client.connect()
        opened.append(client)
        return client

    yield open_client
    for client in opened:
        await client.disconnect()


def _conversation_id(token: str) -> str:
    return token.split(".")[0]


def _user_texts(assistant, token: str) -> list[str]:
    tracker = assistant.tracker(_conversation_id(token))
    return [e.get("text") for e in tracker["events"] if e["event"] == "user"]


def _active_loop(assistant, token: str) -> str | None:
    tracker = assistant.tracker(_conversation_id(token))
    return (tracker.get("active_loop") or {}).get("name")


# Token checks, without a server.


def test_webchat_token_round_trip(settings):
    token = issue_webchat_token(settings)
    assert verify_webchat_token(settings, token) == _conversation_id(token)


def test_webchat_token_expires(settings):
    token = issue_webchat_token(settings, now=time.time() - 3 * 3600)
    with pytest.raises(InvalidSession, match="expired"):
        verify_webchat_token(settings, token)


def test_webchat_token_longer_than_session_rejected(settings):
    long_token = issue_session_token(
        settings.app_secret, ttl_seconds=7 * 24 * 3600, purpose=WEBCHAT_PURPOSE
    )
    with pytest.raises(InvalidSession, match="outlives"):
        verify_webchat_token(settings, long_token)


def test_rest_token_rejected_by_webchat(settings):
    rest_token = issue_session_token(settings.app_secret, ttl_seconds=3600)
    with pytest.raises(InvalidSession, match="signature"):
        verify_webchat_token(settings, rest_token)


def test_rate_limiter_window_slides():
    limiter = RateLimiter(max_messages=3, window_seconds=10)
    assert [limiter.allow("a", now=t) for t in (0, 1, 2, 3)] == [
        True,
        True,
        True,
        False,
    ]
    assert limiter.allow("b", now=3), "one session's flood limits another"
    assert limiter.allow("a", now=10.5)
    assert not limiter.allow("a", now=10.6)


def test_recent_message_ids_detect_repeat():
    recent = RecentMessageIds(per_conversation=2, max_conversations=2)
    assert recent.add("web-a", "m1")
    assert not recent.add("web-a", "m1")
    assert recent.add("web-b", "m1")
    recent.discard("web-a", "m1")
    assert recent.add("web-a", "m1")
    recent.add("web-a", "m2")
    recent.add("web-a", "m3")
    assert recent.add("web-a", "m1"), "the oldest id was not dropped"


def test_webchat_token_other_secret_rejected(settings):
    other = load_settings(
        {"APP_SECRET": "other-secret", "VAR_DIR": str(settings.var_dir)}
    )
    with pytest.raises(InvalidSession, match="signature"):
        verify_webchat_token(settings, issue_webchat_token(other))


# The running channel.


@pytest.mark.slow
async def test_new_session_issued_with_empty_history(assistant, clients):
    client = await clients()
    token, history = await client.request_session()
    assert token.startswith("web-")
    assert history == []


@pytest.mark.slow
async def test_unissued_ids_are_replaced(assistant, clients):
    victim = await clients()
    victim_token, _ = await victim.request_session()
    victim_id = _conversation_id(victim_token)
    expired = issue_session_token(
        assistant.app_secret, ttl_seconds=3600, now=time.time() - 2 * 3600
    )
    candidates = {
        "plain name": "default",
        "bare conversation id": victim_id,
        "forged signature": f"{victim_id}.{int(time.time()) + 3600}.{'0' * 32}",
        "other secret": issue_session_token("not-the-app-secret"),
        "expired": expired,
        "REST lifetime": issue_session_token(assistant.app_secret),
        "not a string": 12345,
    }
    attacker = await clients()
    for label, presented in candidates.items():
        token, history = await attacker.request_session(presented)
        assert token != presented, label
        assert _conversation_id(token) != victim_id, label
        assert history == [], label

    start = len(attacker.events)
    replies = await victim.turn("what is ECM?")
    assert replies, "the victim got no reply"
    assert attacker.named("bot_uttered", start) == []
    assert attacker.named("user_echo", start) == []


@pytest.mark.slow
async def test_other_socket_cannot_send_as_session(assistant, clients):
    owner = await clients()
    owner_token, _ = await owner.request_session()
    other = await clients()
    await other.request_session()

    start = len(other.events)
    await other.send({"session_id": owner_token, "message": "hello"})
    error = await other.wait_for("chat_error", start)
    assert error["code"] == "session_not_bound"
    assert _user_texts(assistant, owner_token) == []


async def test_expired_session_marked_in_history(assistant, clients):
    client = await clients()
    first, _ = await client.request_session()
    expired = issue_session_token(
        assistant.app_secret,
        ttl_seconds=3600,
        now=time.time() - 2 * 3600,
        purpose=WEBCHAT_PURPOSE,
        conversation_id=_conversation_id(first),
    )

    start = len(client.events)
    token, history = await client.request_session(expired)
    assert _conversation_id(token) != _conversation_id(first)
    assert history == []
    assert client.named("history", start)[-1].get("expired") is True

    # A forged id is replaced too, but it never was a session: no mark.
    forged = f"{_conversation_id(first)}.{int(time.time()) + 3600}.{'0' * 32}"
    start = len(client.events)
    await client.request_session(forged)
    assert "expired" not in client.named("history", start)[-1]


async def test_other_token_same_conversation_accepted(assistant, clients):
    # Another tab reopened the chat and stored another token for the same
    # conversation. This tab's socket, bound to the first one, sends with it.
    first = await clients()
    token, _ = await first.request_session()
    # Tokens issued in the same second are equal, so this one differs by its
    # expiry instead.
    later = issue_session_token(
        assistant.app_secret,
        ttl_seconds=600,
        purpose=WEBCHAT_PURPOSE,
        conversation_id=_conversation_id(token),
    )
    assert later != token

    first.token = later
    assert await first.turn("what is ECM?")
    assert _user_texts(assistant, token) == ["what is ECM?"]


async def test_other_conversation_token_still_rejected(assistant, clients):
    owner = await clients()
    owner_token, _ = await owner.request_session()
    other = await clients()
    await other.request_session()
    # A valid, later token of the owner's conversation does not let another
    # socket into it.
    later = issue_session_token(
        assistant.app_secret,
        purpose=WEBCHAT_PURPOSE,
        conversation_id=_conversation_id(owner_token),
    )

    start = len(other.events)
    await other.send({"session_id": later, "message": "hello"})
    error = await other.wait_for("chat_error", start)
    assert error["code"] == "session_not_bound"
    assert _user_texts(assistant, owner_token) == []


@pytest.mark.slow
async def test_message_before_session_rejected(clients):
    client = await clients()
    await client.send({"session_id": None, "message": "hello"})
    error = await client.wait_for("chat_error")
    assert error["code"] == "no_session"


@pytest.mark.slow
async def test_replies_reach_every_socket_of_session(assistant, clients):
    first = await clients()
    token, _ = await first.request_session()
    second = await clients()
    await second.request_session(token)

    start = len(second.events)
    replies = await first.turn("what is ECM?")
    await second.wait_for("bot_typing", start)
    assert replies
    assert second.named("user_echo", start) == [{"text": "what is ECM?"}]
    await asyncio.wait_for(
        _until(lambda: len(second.named("bot_uttered", start)) == len(replies)), 30
    )


async def _until(condition) -> None:
    while not condition():
        await asyncio.sleep(0.05)


@pytest.mark.slow
@pytest.mark.parametrize("origin", [FOREIGN_ORIGIN, None])
async def test_disallowed_origin_refused_polling(assistant, origin):
    client = socketio.AsyncClient(reconnection=False)
    headers = {"Origin": origin} if origin else {}
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(
            assistant.base_url, headers=headers, transports=["polling"], wait_timeout=5
        )
    assert not client.connected


async def _websocket_connect(url: str, origin: str | None) -> str:
    """Connect to the default namespace over a raw Engine.IO WebSocket.

    Returns:
        The server's reply to the Socket.IO CONNECT packet ("40..." accepted,
        "44..." refused), or "handshake refused <status>".
    """
    ws_url = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    headers = {"Origin": origin} if origin else {}
    async with aiohttp.ClientSession() as session:
        try:
            async with session.ws_connect(ws_url, headers=headers, timeout=10) as ws:
                opened = await ws.receive(timeout=10)
                assert str(opened.data).startswith("0{"), opened.data
                await ws.send_str("40")
                answer = await ws.receive(timeout=10)
                return str(answer.data)
        except aiohttp.WSServerHandshakeError as error:
            return f"handshake refused {error.status}"


@pytest.mark.slow
@pytest.mark.parametrize("origin", [FOREIGN_ORIGIN, None])
async def test_disallowed_origin_refused_websocket(assistant, origin):
    answer = await _websocket_connect(assistant.base_url, origin)
    assert answer.startswith(("handshake refused", "44")), answer


@pytest.mark.slow
async def test_allowed_origin_connects_websocket(assistant):
    answer = await _websocket_connect(assistant.base_url, assistant.web_url)
    assert answer.startswith('40{"sid"'), answer


@pytest.mark.slow
async def test_choice_id_maps_to_payload(assistant, clients):
    client = await clients()
    token, _ = await client.request_session()
    greeting = await client.turn("hello")
    buttons = buttons_of(greeting)
    assert buttons, "the greeting offers no buttons"
    assert all(set(button) == {"id", "title"} for button in buttons)

    handoff = next(b for b in buttons if "person" in b["title"].lower())
    await client.turn(choice=handoff["id"])
    assert _active_loop(assistant, token) == "handoff_form"


@pytest.mark.slow
async def test_choice_not_offered_rejected(assistant, clients):
    client = await clients()
    token, _ = await client.request_session()
    await client.send({"session_id": token, "choice": "99"})
    error = await client.wait_for("chat_error")
    assert error["code"] == "choice_not_offered"
    assert _user_texts(assistant, token) == []


@pytest.mark.slow
async def test_typed_slash_command_stays_text(assistant, clients):
    client = await clients()
    token, _ = await client.request_session()
    await client.turn("/request_handoff")
    assert _active_loop(assistant, token) != "handoff_form"
    texts = _user_texts(assistant, token)
    assert texts
    assert not any(text.startswith("/") for text in texts)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"message": "x" * (MAX_MESSAGE_CHARS + 1)}, "message_too_long"),
        ({"message": "   "}, "empty_message"),
        ({"message": {"text": "hi"}}, "empty_message"),
        ({"choice": ["1"]}, "invalid_choice"),
    ],
)
async def test_invalid_message_rejected(assistant, clients, payload, code):
    client = await clients()
    token, _ = await client.request_session()
    await client.send({"session_id": token, **payload})
    error = await client.wait_for("chat_error")
    assert error["code"] == code
    assert _user_texts(assistant, token) == []


@pytest.mark.slow
async def test_history_restored_after_reconnect(assistant, clients):
    first = await clients()
    token, _ = await first.request_session()
    answer = await first.turn("what is ECM?")
    greeting = await first.turn("hello")
    await first.disconnect()

    second = await clients()
    restored, history = await second.request_session(token)
    assert _conversation_id(restored) == _conversation_id(token)
    user_texts = [m["text"] for m in history if m["role"] == "user"]
    bot_texts = [m["text"] for m in history if m["role"] == "bot"]
    assert user_texts == ["what is ECM?", "hello"]
    for reply in answer + greeting:
        assert reply["text"] in bot_texts
    assert history[-1]["role"] == "bot"
    assert history[-1]["buttons"] == buttons_of(greeting)


@pytest.mark.slow
async def test_history_shows_chosen_title(assistant, clients):
    client = await clients()
    token, _ = await client.request_session()
    greeting = await client.turn("hello")
    chosen = buttons_of(greeting)[0]
    await client.turn(choice=chosen["id"])

    again = await clients()
    _, history = await again.request_session(token)
    user_texts = [m["text"] for m in history if m["role"] == "user"]
    assert user_texts == ["hello", chosen["title"]]


@pytest.mark.slow
async def test_session_request_slides_expiry(assistant, clients):
    first = await clients()
    token, _ = await first.request_session()
    await first.turn("hello")
    conversation_id = _conversation_id(token)
    # A token for the same conversation with 10 minutes left.
    aging = issue_session_token(
        assistant.app_secret,
        ttl_seconds=600,
        purpose=WEBCHAT_PURPOSE,
        conversation_id=conversation_id,
    )

    second = await clients()
    fresh, history = await second.request_session(aging)
    assert _conversation_id(fresh) == conversation_id
    assert int(fresh.split(".")[1]) > int(aging.split(".")[1])
    assert [m["text"] for m in history if m["role"] == "user"] == ["hello"]
    assert await second.turn("what is ECM?")


@pytest.mark.slow
async def test_webchat_token_refused_by_rest_webhook(assistant, clients):
    client = await clients()
    token, _ = await client.request_session()
    status, body = assistant.post_json(
        "/webhooks/rest/webhook", {"sender": token, "message": "hello"}
    )
    assert status == 403, body
    assert _user_texts(assistant, token) == []


@pytest.mark.slow
async def test_rest_token_replaced_on_socket(assistant, clients):
    rest_token = assistant.new_rest_session()
    client = await clients()
    token, history = await client.request_session(rest_token)
    assert _conversation_id(token) != _conversation_id(rest_token)
    assert history == []


@pytest.mark.slow
async def test_resent_message_id_processed_once(assistant, clients):
    client = await clients()
    token, _ = await client.request_session()
    payload = {"session_id": token, "message": "what is ECM?", "message_id": "m-1"}
    first = await client.call(payload)
    assert first == {"message_id": "m-1", "status": "answered"}
    again = await client.call(payload)
    assert again == {"message_id": "m-1", "status": "duplicate"}
    assert _user_texts(assistant, token) == ["what is ECM?"]

    other = await clients()
    _, history = await other.request_session(token)
    assert [m.get("message_id") for m in history if m["role"] == "user"] == ["m-1"]


@pytest.mark.slow
async def test_invalid_message_id_rejected(assistant, clients):
    client = await clients()
    token, _ = await client.request_session()
    payload = {"session_id": token, "message": "hello", "message_id": "no spaces"}
    ack = await client.call(payload)
    assert ack["status"] == "rejected"
    error = await client.wait_for("chat_error")
    assert error["code"] == "invalid_message_id"
    assert _user_texts(assistant, token) == []


@pytest.mark.slow
async def test_flood_rate_limited(assistant, clients):
    # NOTE: Each message waits until the server took it (a typing indicator)
    # or rejected it. The test client polls, and python-engineio rejects a
    # polling request of more than 16 packets outright. The browser test
    # floods over the WebSocket.
    client = await clients()
    token, _ = await client.request_session()
    flood = 300
    start = len(client.events)

    def handled() -> int:
        typing = client.named("bot_typing", start).count({"typing": True})
        return typing + len(client.named("chat_error", start))

    for index in range(flood):
        await client.send(
            {"session_id": token, "message": f"hi {index}", "message_id": f"f-{index}"}
        )
        await asyncio.wait_for(_until(lambda: handled() > index), 30)

    errors = client.named("chat_error", start)
    assert len(errors) == flood - RATE_LIMIT_MESSAGES
    assert {error["code"] for error in errors} == {"rate_limited"}
    assert all(error["message_id"].startswith("f-") for error in errors)
    await asyncio.wait_for(
        _until(
            lambda: client.named("bot_typing", start).count({"typing": False})
            >= RATE_LIMIT_MESSAGES
        ),
        240,
    )
    assert len(_user_texts(assistant, token)) == RATE_LIMIT_MESSAGES


@pytest.mark.slow
async def test_page_language_gives_spanish_replies(assistant, clients):
    client = await clients()
    token, _ = await client.request_session(language="es")
    replies = await client.turn("hello")
    assert replies
    assert replies[0]["text"].startswith("¡Hola!"), replies[0]["text"]
    tracker = assistant.tracker(_conversation_id(token))
    assert tracker["slots"]["language"] == "es"


@pytest.mark.slow
async def test_unknown_page_language_ignored(assistant, clients):
    client = await clients()
    await client.request_session(language="fr")
    replies = await client.turn("hello")
    assert replies
    assert replies[0]["text"].startswith("Hi"), replies[0]["text"]
