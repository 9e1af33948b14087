"""The runner's start-up checks."""

from __future__ import annotations

import socket

from bot.runner import busy_ports
from bot.settings import load_settings
from tests.assistant import free_port


def _settings(web_port: int):
    return load_settings(
        {
            "APP_SECRET": "runner-test-secret",
            "DATABASE_URL": "sqlite://",
            "RASA_PORT": str(free_port()),
            "ACTION_SERVER_PORT": str(free_port()),
            "WEB_PORT": str(web_port),
        }
    )


def test_busy_ports_none_when_free():
    assert busy_ports(_settings(free_port())) == []


def test_busy_ports_names_the_variable():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]

        problems = busy_ports(_settings(port))

    assert len(problems) == 1
    assert f"Port {port} (WEB_PORT)" in problems[0]
    assert "set WEB_PORT" in problems[0]
