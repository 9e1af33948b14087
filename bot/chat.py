"""Chat with the running assistant in the terminal, over the REST channel.

Usage: `.venv/bin/python -m bot.chat [--url URL]`. The default URL is the
Rasa server as `make run` starts it: `RASA_INTERFACE` (default 127.0.0.1)
and `RASA_PORT` (default 5005). Buttons are shown as numbered choices; reply
with the number or the words.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from typing import Mapping

from bot.settings import get_settings, load_settings

# Addresses that a server listens on but a client cannot connect to.
_WILDCARD_INTERFACES = {"0.0.0.0": "127.0.0.1", "::": "::1"}


class ChatError(Exception):
    """The Rasa server could not be reached or returned an unusable response."""


def default_url(environ: Mapping[str, str] | None = None) -> str:
    """Return the Rasa server's URL from the settings the runner uses.

    Args:
        environ: Environment variables (default: the process environment).

    Raises:
        ValueError: `RASA_PORT` or another setting is invalid.
    """
    env = os.environ if environ is None else environ
    settings = get_settings() if environ is None else load_settings(dict(env))
    host = env.get("RASA_INTERFACE") or "127.0.0.1"
    host = _WILDCARD_INTERFACES.get(host, host)
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.rasa_port}"


def _post(url: str, payload: dict) -> object:
    """Send `payload` as JSON and return the decoded response.

    Raises:
        ChatError: The connection failed, the server returned an HTTP error,
            or the response is not JSON. The message is one line.
    """
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            body = response.read()
    except urllib.error.HTTPError as error:
        raise ChatError(
            f"the Rasa server at {url} returned HTTP {error.code} {error.reason}; "
            "check that the URL points at the assistant's Rasa server"
        ) from None
    except urllib.error.URLError as error:
        raise ChatError(_unreachable(url, error.reason)) from None
    except OSError as error:
        raise ChatError(_unreachable(url, error)) from None
    try:
        return json.loads(body.decode())
    except ValueError:
        raise ChatError(f"the response from {url} is not JSON") from None


def _unreachable(url: str, reason: object) -> str:
    if isinstance(reason, ConnectionRefusedError):
        reason = "connection refused"
    return (
        f"cannot reach the Rasa server at {url} ({reason}). Check that "
        "`make run` is running and that RASA_PORT matches its port, or pass --url"
    )


def show(messages: list[dict]) -> None:
    """Print bot messages, with buttons as numbered choices."""
    for message in messages:
        if message.get("text"):
            print(f"HPSM: {message['text']}")
        for button in message.get("buttons") or []:
            print(f"   {button['id']}. {button['title']}")


def chat(url: str) -> None:
    """Open a session at the Rasa server `url` and relay terminal lines to it.

    Raises:
        ChatError: The server could not be reached or returned an unusable
            response.
    """
    base = url.rstrip("/") + "/webhooks/rest"
    response = _post(f"{base}/session", {})
    if not isinstance(response, dict) or "session_id" not in response:
        raise ChatError(f"the response from {base}/session has no session_id")
    session = response["session_id"]

    print("Type a message (Ctrl-D to quit).")
    while True:
        try:
            text = input("You: ").strip()
        except EOFError:
            print()
            return
        if not text:
            continue
        messages = _post(f"{base}/webhook", {"sender": session, "message": text})
        if not isinstance(messages, list):
            raise ChatError(f"the response from {base}/webhook is not a list")
        show(messages)


def main(argv: list[str] | None = None) -> int:
    """Run the terminal chat and return its exit status."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--url",
        help="the Rasa server's URL (default: from RASA_INTERFACE and RASA_PORT)",
    )
    args = parser.parse_args(argv)
    try:
        url = args.url or default_url()
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        chat(url)
    except ChatError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
