"""Helpers for the web chat tests: the running assistant and a socket.io client.

`ChatClient` wraps python-socketio's `AsyncClient` and records every event the
server sends, so a test can wait for the end of a turn (`bot_typing` false)
and read what came before it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import socketio

from tests.assistant import RunningAssistant, start_assistant, stop_assistant

EVENTS = (
    "session_confirm",
    "history",
    "bot_uttered",
    "bot_typing",
    "user_echo",
    "chat_error",
)
EVENT_TIMEOUT_SECONDS = 120


def start_webchat_assistant(var_dir) -> RunningAssistant:
    """Start the real assistant with its embedded defaults (SQLite, no Redis)."""
    return start_assistant(var_dir, {})


def stop_webchat_assistant(assistant: RunningAssistant) -> int:
    return stop_assistant(assistant)


@dataclass
class ChatClient:
    """A socket.io client of the web chat channel that records server events."""

    server_url: str
    origin: str
    events: list[tuple[str, Any]] = field(default_factory=list)
    token: str | None = None
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _client: socketio.AsyncClient = field(default_factory=socketio.AsyncClient)

    def __post_init__(self) -> None:
        for name in EVENTS:
            self._client.on(name, self._recorder(name))

    def _recorder(self, name: str):
        async def record(data: Any = None) -> None:
            async with self._changed:
                self.events.append((name, data))
                self._changed.notify_all()

        return record

    async def connect(self) -> None:
        # NOTE: Long-polling only. python-engineio 4.15's asyncio WebSocket
        # client needs aiohttp 3.10 or newer, and Rasa 3.6 pins aiohttp 3.9.
        # The browser tests cover the WebSocket transport.
        await self._client.connect(
            self.server_url,
            headers={"Origin": self.origin},
            transports=["polling"],
            wait_timeout=10,
        )

    async def disconnect(self) -> None:
        await self._client.disconnect()

    @property
    def sid(self) -> str | None:
        return self._client.get_sid()

    def named(self, name: str, start: int = 0) -> list[Any]:
        """Return the data of each recorded `name` event from index `start`."""
        return [data for event, data in self.events[start:] if event == name]

    async def wait_for(
        self, name: str, start: int = 0, timeout: float = EVENT_TIMEOUT_SECONDS
    ):
        """Wait for a `name` event at index `start` or later; return its data."""

        def found() -> bool:
            return any(event == name for event, _ in self.events[start:])

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(found), timeout)
        return self.named(name, start)[0]

    async def request_session(
        self, token: object = None, language: str | None = None
    ) -> tuple[str, list[dict]]:
        """Send `session_request`; return the confirmed token and the history."""
        start = len(self.events)
        request = {"session_id": token}
        if language is not None:
            request["language"] = language
        await self._client.emit("session_request", request)
        self.token = await self.wait_for("session_confirm", start)
        history = await self.wait_for("history", start)
        return self.token, history["messages"]

    async def send(self, payload: dict) -> None:
        await self._client.emit("user_uttered", payload)

    async def call(self, payload: dict) -> Any:
        """Send `user_uttered` and return the server's acknowledgement."""
        return await self._client.call(
            "user_uttered", payload, timeout=EVENT_TIMEOUT_SECONDS
        )

    async def turn(
        self, message: str | None = None, choice: str | None = None
    ) -> list[dict]:
        """Send one message or choice with the bound token; return the bot's replies.

        Raises:
            AssertionError: The server sent `chat_error`.
        """
        payload: dict = {"session_id": self.token}
        if choice is not None:
            payload["choice"] = choice
        else:
            payload["message"] = message
        start = len(self.events)
        await self.send(payload)

        def ended() -> bool:
            return any(
                event == "chat_error"
                or (event == "bot_typing" and data == {"typing": False})
                for event, data in self.events[start:]
            )

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(ended), EVENT_TIMEOUT_SECONDS)
        errors = self.named("chat_error", start)
        assert not errors, f"the server rejected the message: {errors}"
        return self.named("bot_uttered", start)


def buttons_of(replies: list[dict]) -> list[dict]:
    """Return every button of a turn's replies."""
    return [button for reply in replies for button in reply.get("buttons") or []]
