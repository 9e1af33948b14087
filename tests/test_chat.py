"""The terminal chat (`python -m bot.chat`) against a REST server on loopback.

A small aiohttp app on loopback serves the REST channel's two routes in
place of the Rasa server, so the tests run in seconds. The chat itself runs
as a real subprocess, as a developer starts it.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys

import pytest
from aiohttp import web

from bot.chat import default_url
from bot.settings import PROJECT_ROOT


def free_port() -> int:
    """Return a loopback port that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def run_chat(
    environ: dict[str, str], stdin: str = "", *args: str
) -> tuple[int, str, str]:
    """Run `python -m bot.chat` with `environ` added; return (code, out, err)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.chat",
        *args,
        cwd=PROJECT_ROOT,
        # An APP_SECRET of its own, so settings never create var/app_secret.
        env={**os.environ, "APP_SECRET": "test-secret", **environ},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(stdin.encode()), 60)
    return process.returncode, out.decode(), err.decode()


@pytest.fixture
async def rest_server():
    """A stand-in for Rasa's REST channel; returns (port, messages received)."""
    received: list[dict] = []

    async def session(request: web.Request) -> web.Response:
        return web.json_response({"session_id": "session-1"})

    async def webhook(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.json_response(
            [
                {"text": "Hi! What can I help with?"},
                {"buttons": [{"id": 1, "title": "What is ECM?"}]},
            ]
        )

    app = web.Application()
    app.router.add_post("/webhooks/rest/session", session)
    app.router.add_post("/webhooks/rest/webhook", webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    yield port, received
    await runner.cleanup()


@pytest.mark.parametrize(
    ("environ", "url"),
    [
        ({}, "http://127.0.0.1:5005"),
        ({"RASA_PORT": "15005"}, "http://127.0.0.1:15005"),
        ({"RASA_PORT": "15005", "RASA_INTERFACE": "0.0.0.0"}, "http://127.0.0.1:15005"),
        ({"RASA_INTERFACE": "127.0.0.2"}, "http://127.0.0.2:5005"),
        ({"RASA_INTERFACE": "::"}, "http://[::1]:5005"),
        ({"RASA_INTERFACE": "::1"}, "http://[::1]:5005"),
    ],
)
def test_default_url_follows_settings(environ, url):
    assert default_url({"APP_SECRET": "test-secret", **environ}) == url


def test_default_url_rejects_bad_port():
    with pytest.raises(ValueError, match="RASA_PORT"):
        default_url({"APP_SECRET": "test-secret", "RASA_PORT": "fifty"})


async def test_chat_uses_rasa_port(rest_server):
    port, received = rest_server

    code, out, err = await run_chat({"RASA_PORT": str(port)}, "hello\n")

    assert code == 0, err
    assert "HPSM: Hi! What can I help with?" in out
    assert "   1. What is ECM?" in out
    assert received == [{"sender": "session-1", "message": "hello"}]


async def test_refused_connection_is_one_line():
    port = free_port()

    code, out, err = await run_chat({"RASA_PORT": str(port)}, "hello\n")

    lines = err.strip().splitlines()
    assert code == 1
    assert "Traceback" not in err
    assert len(lines) == 1, err
    assert f"http://127.0.0.1:{port}/" in lines[0]
    assert "connection refused" in lines[0]
    assert "RASA_PORT" in lines[0]


async def test_invalid_port_is_one_line():
    code, _, err = await run_chat({"RASA_PORT": "fifty"})

    assert code == 2
    assert "Traceback" not in err
    assert err.strip() == "error: RASA_PORT='fifty' is invalid; use a TCP port number"


async def test_url_option_overrides_port(rest_server):
    port, received = rest_server

    code, out, err = await run_chat(
        {"RASA_PORT": str(free_port())}, "hi\n", "--url", f"http://127.0.0.1:{port}"
    )

    assert code == 0, err
    assert "HPSM: Hi!" in out
    assert received == [{"sender": "session-1", "message": "hi"}]
