"""Twilio webhook requests: form parsing, the public URL and signature checks.

Twilio signs each webhook request with the account's auth token over the URL
it called and the POST fields (`X-Twilio-Signature`). Behind a proxy the
server sees another URL than Twilio called, so the URL to check is, in this
order: `PUBLIC_BASE_URL` plus the request path, the `X-Forwarded-Proto` and
`X-Forwarded-Host` headers plus the path, or the request URL itself.

Nothing here depends on the web framework; the channel passes in the raw
body, the headers and the URL.
"""

from __future__ import annotations

import re
from typing import Mapping
from urllib.parse import parse_qsl

from multidict import MultiDict
from twilio.request_validator import RequestValidator

from bot.sms_format import MAX_SMS_CHARS
from bot.sms_inbound import InboundSms

# A Twilio webhook form is a few kilobytes; 1,600 characters of text take at
# most about 19 KB once percent-encoded.
MAX_WEBHOOK_BYTES = 64 * 1024
MAX_NUM_MEDIA = 10
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"

_MESSAGE_SID = re.compile(r"[A-Z]{2}[0-9a-fA-F]{32}")
_E164 = re.compile(r"\+[1-9][0-9]{7,14}")
_HOST = re.compile(r"[A-Za-z0-9.\-]+(:[0-9]{1,5})?")
# C0 controls other than tab and newline, DEL and C1 controls: PostgreSQL
# rejects NUL in text, and none of them is text a member meant to send.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class WebhookFormError(ValueError):
    """A webhook request body is malformed or misses a required field."""


def parse_form(body: bytes) -> list[tuple[str, str]]:
    """Parse an `application/x-www-form-urlencoded` body, keeping empty fields.

    Twilio signs empty fields too (an empty `Body` of a picture message), so
    they must stay in the list the signature is checked over.

    Raises:
        WebhookFormError: The body is not valid UTF-8 or not a form.
    """
    try:
        text = body.decode("utf-8")
        return parse_qsl(
            text,
            keep_blank_values=True,
            strict_parsing=bool(text),
            encoding="utf-8",
            errors="strict",
            max_num_fields=100,
        )
    except (UnicodeDecodeError, ValueError) as error:
        raise WebhookFormError(f"the body is not a valid form ({error})") from None


def public_url(
    request_url: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    public_base_url: str | None,
) -> str:
    """Return the URL that Twilio called, as its signature covers it.

    Args:
        request_url: The URL as this server received it.
        path: The request path, such as `/webhooks/twilio/webhook`.
        query: The raw query string, without `?` (may be empty).
        headers: Request headers, looked up case-insensitively by the caller's
            mapping.
        public_base_url: `PUBLIC_BASE_URL` without a trailing slash, if set.
    """
    suffix = path + (f"?{query}" if query else "")
    if public_base_url:
        return public_base_url + suffix

    host = (headers.get("X-Forwarded-Host") or "").split(",")[0].strip()
    if host and _HOST.fullmatch(host):
        proto = (headers.get("X-Forwarded-Proto") or "https").split(",")[0].strip()
        if proto not in ("http", "https"):
            proto = "https"
        return f"{proto}://{host}{suffix}"
    return request_url


def signature_valid(
    auth_token: str, url: str, fields: list[tuple[str, str]], signature: str | None
) -> bool:
    """Check `X-Twilio-Signature` with twilio's `RequestValidator`.

    Args:
        auth_token: The account's auth token.
        url: The URL Twilio called (see `public_url`).
        fields: Every POST field, repeated names included.
        signature: The header's value; None or empty fails.
    """
    if not signature:
        return False
    return RequestValidator(auth_token).validate(url, MultiDict(fields), signature)


def _single(fields: MultiDict, name: str) -> str | None:
    values = fields.getall(name, [])
    if len(values) > 1:
        raise WebhookFormError(f"field {name} appears {len(values)} times")
    return values[0] if values else None


def clean_text(text: str) -> str:
    """Remove control characters and surrounding whitespace from member text."""
    return _CONTROL.sub("", text).strip()


def inbound_from_fields(fields: list[tuple[str, str]]) -> InboundSms:
    """Build the inbound SMS from a webhook's fields.

    The body loses control characters and surrounding whitespace and is cut
    to `MAX_SMS_CHARS` characters (`truncated` records the cut).

    Raises:
        WebhookFormError: `MessageSid` or `From` is missing or invalid, a
            field appears twice, or `NumMedia` is not a small whole number.
    """
    form = MultiDict(fields)
    sid = _single(form, "MessageSid") or _single(form, "SmsMessageSid")
    if not sid or not _MESSAGE_SID.fullmatch(sid):
        raise WebhookFormError("MessageSid is missing or invalid")
    phone = (_single(form, "From") or "").strip()
    if not _E164.fullmatch(phone):
        raise WebhookFormError("From is missing or not an E.164 phone number")

    num_media_text = (_single(form, "NumMedia") or "0").strip()
    if not num_media_text.isdigit() or int(num_media_text) > MAX_NUM_MEDIA:
        raise WebhookFormError(
            f"NumMedia must be a whole number from 0 to {MAX_NUM_MEDIA}"
        )

    body = clean_text(_single(form, "Body") or "")
    truncated = len(body) > MAX_SMS_CHARS
    return InboundSms(
        message_sid=sid,
        phone=phone,
        body=body[:MAX_SMS_CHARS],
        num_media=int(num_media_text),
        truncated=truncated,
    )
