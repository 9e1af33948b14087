"""Twilio SMS channel: signed webhook in, replies out through the SMS outbox.

Routes, under `/webhooks/twilio`:

- `POST /webhook`: Twilio's messaging webhook. The request must carry a
  valid `X-Twilio-Signature` (see `bot.twilio_webhook`). The message is
  stored, Twilio gets empty TwiML at once, and `bot.sms_processor` answers in
  the background with outbound SMS.
- `POST /status`: Twilio's signed delivery status callbacks.
- `GET /health`: 200 when the database answers and the processor runs, else
  503.
- `GET /metrics`: Prometheus text format; needs `RASA_AUTH_TOKEN` as a bearer
  token or as `?token=`. Without `RASA_AUTH_TOKEN` it answers 403.

Without `TWILIO_AUTH_TOKEN` (a laptop without Twilio) signatures cannot be
checked. The webhook then accepts requests only from a loopback address and
without proxy headers, and logs a warning once.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from typing import Optional, Text

from rasa.core.channels.channel import InputChannel
from sanic import Blueprint, response
from sanic.headers import parse_content_header
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import conversations
from bot.db import get_session_factory, run_in_thread
from bot.outbox import DELIVERY_STATUSES
from bot.rasa_ext.turns import OnNewMessage, run_turn
from bot.settings import Settings, get_settings
from bot.sms_processor import SmsProcessor
from bot.twilio_webhook import (
    FORM_CONTENT_TYPE,
    MAX_WEBHOOK_BYTES,
    WebhookFormError,
    inbound_from_fields,
    parse_form,
    public_url,
    signature_valid,
)

logger = logging.getLogger(__name__)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
PROXY_HEADERS = ("X-Forwarded-For", "X-Forwarded-Host", "Forwarded", "X-Real-IP")
SIGNATURE_HEADER = "X-Twilio-Signature"
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class RequestRejected(Exception):
    """A webhook request that failed a check, with the HTTP response to send."""

    def __init__(self, result: str, status: int, message: str):
        super().__init__(message)
        self.result = result
        self.response = response.text(message, status=status)


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


class TwilioSmsInput(InputChannel):
    """SMS channel for Twilio's messaging webhook; replies go out as outbound SMS.

    The conversation id is a keyed pseudonym of the sender's number. The
    number itself is kept in the inbound table and the conversation store
    (for the hand-off), never in the tracker.
    """

    def __init__(self) -> None:
        self.processor: SmsProcessor | None = None
        self._warned_unsigned = False

    @classmethod
    def name(cls) -> Text:
        return "twilio"

    def _verified_fields(self, request: Request, settings: Settings) -> list:
        """Parse the form and check who sent it.

        Raises:
            RequestRejected: The request is too large, not a form, or not
                signed by Twilio (or, without an auth token, not local).
        """
        if len(request.body or b"") > MAX_WEBHOOK_BYTES:
            raise RequestRejected(
                "invalid", 413, f"request body is over {MAX_WEBHOOK_BYTES} bytes"
            )
        content_type, _ = parse_content_header(
            request.headers.get("content-type", "")
        )
        if content_type != FORM_CONTENT_TYPE:
            raise RequestRejected(
                "invalid", 415, f"Content-Type must be {FORM_CONTENT_TYPE}"
            )
        try:
            fields = parse_form(request.body or b"")
        except WebhookFormError as error:
            raise RequestRejected("invalid", 400, str(error)) from None

        token = settings.twilio_auth_token
        if token:
            url = public_url(
                request.url,
                request.path,
                request.query_string,
                request.headers,
                settings.public_base_url,
            )
            signature = request.headers.get(SIGNATURE_HEADER)
            if not signature_valid(token, url, fields, signature):
                logger.warning(
                    "Twilio request to %s rejected: %s %s",
                    request.path,
                    SIGNATURE_HEADER,
                    "is invalid" if signature else "is missing",
                )
                raise RequestRejected(
                    "forbidden", 403, f"{SIGNATURE_HEADER} is missing or invalid"
                )
            return fields

        if not self._warned_unsigned:
            self._warned_unsigned = True
            logger.warning(
                "TWILIO_AUTH_TOKEN is not set, so Twilio signatures cannot be "
                "checked: the SMS webhook accepts only local requests without "
                "proxy headers"
            )
        proxied = any(request.headers.get(name) for name in PROXY_HEADERS)
        if proxied or not _is_loopback(request.ip or ""):
            raise RequestRejected(
                "forbidden",
                403,
                "set TWILIO_AUTH_TOKEN to accept requests from Twilio",
            )
        return fields

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        blueprint = Blueprint("member_twilio", __name__)
        settings = get_settings()
        server: dict = {}

        async def sms_turn(conversation_id: str, phone: str, text: str) -> list[dict]:
            await conversations.remember_sms_sender(conversation_id, phone)
            return await run_turn(on_new_message, conversation_id, text, "twilio")

        async def member_language(conversation_id: str) -> Optional[str]:
            agent = getattr(getattr(server.get("app"), "ctx", None), "agent", None)
            if agent is None or agent.tracker_store is None:
                return None
            tracker = await agent.tracker_store.retrieve(conversation_id)
            return tracker.get_slot("language") if tracker is not None else None

        processor = SmsProcessor(
            get_session_factory(), settings, sms_turn, member_language
        )
        self.processor = processor
        metrics = processor.metrics

        @blueprint.listener("after_server_start")
        async def start_processor(app, _loop) -> None:
            server["app"] = app
            await processor.start()

        @blueprint.listener("before_server_stop")
        async def stop_processor(_app, _loop) -> None:
            await processor.stop()

        @blueprint.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @blueprint.route("/health", methods=["GET"])
        async def health_check(_: Request) -> HTTPResponse:
            database_ok = await run_in_thread(processor.database_ok)
            healthy = database_ok and processor.running
            return response.json(
                {
                    "status": "ok" if healthy else "unavailable",
                    "database": "ok" if database_ok else "failed",
                    "processor": "running" if processor.running else "stopped",
                },
                status=200 if healthy else 503,
            )

        @blueprint.route("/metrics", methods=["GET"])
        async def metrics_endpoint(request: Request) -> HTTPResponse:
            expected = settings.rasa_auth_token
            if not expected:
                return response.text(
                    "metrics are off; set RASA_AUTH_TOKEN to enable them", status=403
                )
            presented = request.token or request.args.get("token") or ""
            if not hmac.compare_digest(presented.encode(), expected.encode()):
                return response.text(
                    "missing or invalid token; send RASA_AUTH_TOKEN as a bearer "
                    "token",
                    status=401,
                )
            body = await run_in_thread(processor.metrics_text)
            return response.text(body, content_type=METRICS_CONTENT_TYPE)

        @blueprint.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                fields = self._verified_fields(request, settings)
                inbound = inbound_from_fields(fields)
            except RequestRejected as rejection:
                metrics.webhook_requests.inc(result=rejection.result)
                return rejection.response
            except WebhookFormError as error:
                metrics.webhook_requests.inc(result="invalid")
                return response.text(f"invalid webhook request: {error}", status=400)

            try:
                row_id, created = await processor.accept(inbound)
            except Exception:
                logger.exception(
                    "Inbound SMS %s could not be stored; Twilio gets 503",
                    inbound.message_sid,
                )
                return response.text("message could not be stored", status=503)

            metrics.webhook_requests.inc(result="accepted" if created else "duplicate")
            logger.info(
                "Inbound SMS %d stored (%s)%s",
                row_id,
                inbound.message_sid,
                "" if created else ", a repeated delivery",
            )
            return response.text(EMPTY_TWIML, content_type="text/xml")

        @blueprint.route("/status", methods=["POST"])
        async def status_callback(request: Request) -> HTTPResponse:
            try:
                fields = dict(self._verified_fields(request, settings))
            except RequestRejected as rejection:
                return rejection.response
            sid = fields.get("MessageSid") or ""
            status = fields.get("MessageStatus") or ""
            if not sid or status not in DELIVERY_STATUSES:
                return response.text(
                    "MessageSid and a known MessageStatus are required", status=400
                )
            row_id = await run_in_thread(
                processor.record_delivery, sid, status, fields.get("ErrorCode")
            )
            if row_id is None:
                logger.info("Status callback for unknown message %s ignored", sid)
            else:
                logger.info("Outbox %d delivery status: %s", row_id, status)
            return response.empty()

        return blueprint
