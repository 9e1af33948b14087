"""Start the real assistant (`python -m bot.runner`) for end-to-end tests.

The runner starts the Rasa server, the action server and the outbox sender
with the environment given here, so the tests exercise the same start-up path
as `make run`.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

from bot.sessions import sms_conversation_id

PROJECT_ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_SECONDS = 420
REFERENCE_PATTERN = re.compile(r"\bHP-[A-Z0-9]{6}\b")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class RunningAssistant:
    """A running assistant and what a test needs to talk to it."""

    process: subprocess.Popen
    base_url: str
    env: dict
    log_path: Path

    @property
    def app_secret(self) -> str:
        return self.env["APP_SECRET"]

    @property
    def auth_token(self) -> str:
        return self.env["RASA_AUTH_TOKEN"]

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def post_json(self, path: str, payload: object) -> tuple[int, object]:
        request = urllib.request.Request(
            self.base_url + path,
            data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        return _open(request)

    def post_form(self, path: str, fields: dict) -> tuple[int, str]:
        request = urllib.request.Request(
            self.base_url + path,
            data=urllib.parse.urlencode(fields).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            method="POST",
        )
        return _open(request, parse_json=False)

    def tracker(self, conversation_id: str) -> dict:
        query = urllib.parse.urlencode({"token": self.auth_token})
        url = f"{self.base_url}/conversations/{conversation_id}/tracker?{query}"
        status, body = _open(urllib.request.Request(url))
        assert status == 200, f"tracker request failed with {status}: {body}"
        return body

    def new_rest_session(self) -> str:
        status, body = self.post_json("/webhooks/rest/session", {})
        assert status == 200, body
        return body["session_id"]

    def rest(self, session: str, text: str) -> list[dict]:
        status, body = self.post_json(
            "/webhooks/rest/webhook", {"sender": session, "message": text}
        )
        assert status == 200, f"REST message failed with {status}: {body}"
        return body

    def sms(self, phone: str, text: str, sid: str | None = None) -> list[str]:
        """Send one SMS through the Twilio webhook and return the reply bodies."""
        fields = {
            "From": phone,
            "To": "+16505550000",
            "Body": text,
            "MessageSid": sid or f"SM{time.time_ns():032x}"[:34],
            "NumMedia": "0",
        }
        status, body = self.post_form("/webhooks/twilio/webhook", fields)
        assert status == 200, f"SMS webhook failed with {status}: {body}"
        root = ElementTree.fromstring(body)
        return [element.text or "" for element in root.iter("Message")]

    def sms_conversation_id(self, phone: str) -> str:
        return sms_conversation_id(self.app_secret, phone)


def _open(request: urllib.request.Request, parse_json: bool = True):
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            raw = response.read().decode()
            status = response.status
    except urllib.error.HTTPError as error:
        raw = error.read().decode()
        status = error.code
    if parse_json:
        try:
            return status, json.loads(raw)
        except json.JSONDecodeError:
            return status, raw
    return status, raw


def start_assistant(var_dir: Path, extra_env: dict) -> RunningAssistant:
    """Start `python -m bot.runner` and wait until the Rasa server answers."""
    rasa_port = free_port()
    env = {
        **os.environ,
        "VAR_DIR": str(var_dir),
        "DATABASE_URL": f"sqlite:///{var_dir / 'assistant.db'}",
        "APP_SECRET": "end-to-end-test-secret",
        "RASA_AUTH_TOKEN": "end-to-end-test-token",
        "RASA_PORT": str(rasa_port),
        "ACTION_SERVER_PORT": str(free_port()),
        "REDIS_URL": "",
        "PYTHONPATH": str(PROJECT_ROOT),
        **extra_env,
    }
    log_path = var_dir / "assistant.log"
    log = open(log_path, "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.runner"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    assistant = RunningAssistant(
        process, f"http://127.0.0.1:{rasa_port}", env, log_path
    )
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"assistant exited with {process.returncode}:\n"
                + assistant.log_text()[-4000:]
            )
        if "is running" in assistant.log_text():
            return assistant
        time.sleep(1)
    stop_assistant(assistant)
    raise TimeoutError("assistant did not start:\n" + assistant.log_text()[-4000:])


def stop_assistant(assistant: RunningAssistant) -> int:
    """Stop the runner with SIGTERM, as a service manager would; return its code."""
    if assistant.process.poll() is None:
        assistant.process.send_signal(signal.SIGTERM)
        try:
            assistant.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(assistant.process.pid, signal.SIGKILL)
            assistant.process.wait()
    return assistant.process.returncode
