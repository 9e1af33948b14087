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
from bot.rasa_ext.socketio_channel import issue_webchat_token, verify_webchat_token
from bot.sessions import InvalidSession, issue_session_token
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
    rest_token = issue_session_token(settings.app_secret, ttl_seconds=7 * 24 * 3600)
    with pytest.raises(InvalidSession, match="outlives"):
        verify_webchat_token(settings, rest_token)


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
    assert restored == token
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
