"""Chat with the running assistant in the terminal, over the REST channel.

Usage: `.venv/bin/python -m bot.chat [--url http://127.0.0.1:5005]`. Buttons
are shown as numbered choices; reply with the number or the words.
"""

from __future__ import annotations

import argparse
import json
import urllib.request


def _post(url: str, payload: dict) -> object:
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read().decode())


def show(messages: list[dict]) -> None:
    """Print bot messages, with buttons as numbered choices."""
    for message in messages:
        if message.get("text"):
            print(f"HPSM: {message['text']}")
        for button in message.get("buttons") or []:
            print(f"   {button['id']}. {button['title']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:5005", help="Rasa server")
    args = parser.parse_args()
    base = args.url.rstrip("/") + "/webhooks/rest"

    session = _post(f"{base}/session", {})["session_id"]
    print("Type a message (Ctrl-D to quit).")
    while True:
        try:
            text = input("You: ").strip()
        except EOFError:
            print()
            return
        if text:
            show(_post(f"{base}/webhook", {"sender": session, "message": text}))


if __name__ == "__main__":
    main()
