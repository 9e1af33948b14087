"""Start the real assistant (`python -m bot.runner`) for end-to-end tests.

The runner starts the Rasa server, the action server and the outbox sender
with the environment given here, so the tests exercise the same start-up path
as `make run`.

SMS replies do not come back in the webhook's answer: the assistant sends
them through the outbox to Twilio's stand-in. `RunningAssistant.sms` posts a
signed webhook, waits until the message is handled and its replies are
sent, and returns the bodies that reached the stand-in.
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
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator

from bot.models import InboundMessage, OutboxMessage
from bot.sessions import sms_conversation_id
from tests.fakes.twilio_server import FakeTwilio

PROJECT_ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_SECONDS = 420
REFERENCE_PATTERN = re.compile(r"\bHP-[A-Z0-9]{6}\b")
# Replies of a homeless adult with a chronic condition, by the profile field the
# screening form requests; ECM comes out `likely`. Other fields get "no".
HOMELESS_ADULT_REPLIES = {
    "screening_consent": "yes",
    "plan": "Medi-Cal",
    "age": "45",
    "kaiser_assigned": "no",
    "whole_person_care_2021": "nope",
    "hospice_or_pace": "no",
    "unhoused": "yeah",
    "housing_insecure": "yes",
    "chronic_condition": "yes",
    "avoidable_ed_visits_12mo": "like 7 times",
    "engaged_with_care_manager": "no",
    "willing_community_supports": "yes",
}
SMS_WEBHOOK = "/webhooks/twilio/webhook"
ASSISTANT_NUMBER = "+16505550000"
REPLY_TIMEOUT_SECONDS = 120
# Outbox statuses after which a row changes no more.
FINAL_OUTBOX_STATUSES = ("sent", "failed", "not_sent")


def new_message_sid() -> str:
    """Return a fresh Twilio-style message sid (SM and 32 hex digits)."""
    return "SM" + uuid.uuid4().hex


# Answers to the hand-off form over SMS: "yes" takes the number the member
# texts from.
SMS_HANDOFF_REPLIES = {
    "handoff_name": "Rosalind Quimby",
    "handoff_phone": "yes",
    "handoff_member_id": "skip",
    "handoff_language": "English",
    "handoff_call_time": "mornings",
    "handoff_consent": "yes",
    "handoff_confirm": "yes",
}


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
    twilio: FakeTwilio | None = None
    # The web server: coordinator workspace, API, chat widget and demo page.
    web_url: str = ""
    _engine: Engine | None = field(default=None, repr=False)

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

    def get_json(self, path: str, headers: dict | None = None) -> tuple[int, object]:
        """GET `path`; return the status and the JSON body (or the text)."""
        request = urllib.request.Request(self.base_url + path, headers=headers or {})
        return _open(request)

    def post_form(
        self, path: str, fields: dict, headers: dict | None = None
    ) -> tuple[int, str]:
        request = urllib.request.Request(
            self.base_url + path,
            data=urllib.parse.urlencode(fields).encode(),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                **(headers or {}),
            },
            method="POST",
        )
        return _open(request, parse_json=False)

    def twilio_signature(self, path: str, fields: dict, url: str | None = None) -> str:
        """Sign a webhook request as Twilio does, with `TWILIO_AUTH_TOKEN`."""
        validator = RequestValidator(self.env["TWILIO_AUTH_TOKEN"])
        return validator.compute_signature(url or self.base_url + path, fields)

    def post_twilio(
        self, path: str, fields: dict, headers: dict | None = None
    ) -> tuple[int, str]:
        """POST a webhook form, signed when `TWILIO_AUTH_TOKEN` is set."""
        headers = dict(headers or {})
        if self.env.get("TWILIO_AUTH_TOKEN"):
            headers.setdefault(
                "X-Twilio-Signature", self.twilio_signature(path, fields)
            )
        return self.post_form(path, fields, headers)

    def sms_fields(self, phone: str, text: str, sid: str | None = None) -> dict:
        """Build the form fields of an inbound SMS webhook."""
        return {
            "From": phone,
            "To": ASSISTANT_NUMBER,
            "Body": text,
            "MessageSid": sid or new_message_sid(),
            "NumMedia": "0",
        }

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = create_engine(self.env["DATABASE_URL"], future=True)
        return self._engine

    def inbound_row(self, sid: str) -> InboundMessage | None:
        with Session(self.engine) as session:
            return session.execute(
                select(InboundMessage).where(InboundMessage.message_sid == sid)
            ).scalar_one_or_none()

    def reply_rows(self, inbound_id: int) -> list[OutboxMessage]:
        """Return the outbox rows that answer an inbound row, oldest first."""
        with Session(self.engine) as session:
            return list(
                session.execute(
                    select(OutboxMessage)
                    .where(OutboxMessage.inbound_message_id == inbound_id)
                    .order_by(OutboxMessage.id)
                ).scalars()
            )

    def wait_until_answered(
        self, sid: str, timeout: float = REPLY_TIMEOUT_SECONDS
    ) -> list[OutboxMessage]:
        """Wait until an inbound SMS is handled and each reply row is final.

        Returns:
            The reply rows, oldest first.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            row = self.inbound_row(sid)
            if row is not None and row.status in ("done", "failed"):
                replies = self.reply_rows(row.id)
                if all(reply.status in FINAL_OUTBOX_STATUSES for reply in replies):
                    return replies
            time.sleep(0.1)
        raise AssertionError(
            f"SMS {sid} was not answered within {timeout:.0f} s:\n"
            + self.log_text()[-3000:]
        )

    def sent_bodies(self, rows: list[OutboxMessage]) -> list[str]:
        """Return the bodies that Twilio's stand-in received for `rows`."""
        assert self.twilio is not None, "start the assistant with twilio=FakeTwilio"
        received = {message["sid"]: message for message in self.twilio.messages}
        bodies = []
        for row in rows:
            if row.status != "sent":
                continue
            assert row.provider_sid in received, f"outbox {row.id} not at the stand-in"
            bodies.append(received[row.provider_sid]["body"])
        return bodies

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
        """Send one SMS through the signed Twilio webhook; return the replies.

        The replies are the bodies that reached Twilio's stand-in for this
        message, in the order they were queued.
        """
        fields = self.sms_fields(phone, text, sid)
        status, body = self.post_twilio(SMS_WEBHOOK, fields)
        assert status == 200, f"SMS webhook failed with {status}: {body}"
        assert "<Message>" not in body, "the webhook answered with TwiML replies"
        return self.sent_bodies(self.wait_until_answered(fields["MessageSid"]))

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


def start_assistant(
    var_dir: Path, extra_env: dict, twilio: FakeTwilio | None = None
) -> RunningAssistant:
    """Start `python -m bot.runner` and wait until the Rasa server answers.

    Args:
        var_dir: Folder for the database, secrets and the log.
        extra_env: Environment variables that override the defaults here.
        twilio: Twilio's stand-in that `extra_env` points the assistant at,
            where `RunningAssistant.sms` reads the replies.
    """
    rasa_port = free_port()
    web_port = free_port()
    env = {
        **os.environ,
        "VAR_DIR": str(var_dir),
        "DATABASE_URL": f"sqlite:///{var_dir / 'assistant.db'}",
        "APP_SECRET": "end-to-end-test-secret",
        "RASA_AUTH_TOKEN": "end-to-end-test-token",
        "RASA_PORT": str(rasa_port),
        "ACTION_SERVER_PORT": str(free_port()),
        "WEB_PORT": str(web_port),
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
        process,
        f"http://127.0.0.1:{rasa_port}",
        env,
        log_path,
        twilio=twilio,
        web_url=f"http://127.0.0.1:{web_port}",
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
    if assistant._engine is not None:
        assistant._engine.dispose()
        assistant._engine = None
    return assistant.process.returncode
