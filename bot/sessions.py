"""Conversation ids that the server issues and signs.

A web or REST client gets a session token from the server and sends it with
every message. The token names the conversation and carries an expiry and an
HMAC signature keyed with `APP_SECRET`, so a client can neither choose a
conversation id nor guess another member's. SMS conversations use a keyed
pseudonym of the phone number instead, so the raw number is never the
tracker's conversation id.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

WEB_PREFIX = "web-"
SMS_PREFIX = "sms-"
DEFAULT_SESSION_TTL_SECONDS = 7 * 24 * 3600


class InvalidSession(ValueError):
    """The session token is malformed, forged or expired."""


def _sign(secret: str, payload: str) -> str:
    digest = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
    return digest[:32]


def issue_session_token(
    secret: str, ttl_seconds: int = DEFAULT_SESSION_TTL_SECONDS, now: float | None = None
) -> str:
    """Create a new signed token `<conversation id>.<expiry>.<signature>`."""
    conversation_id = WEB_PREFIX + secrets.token_urlsafe(18).replace("-", "x")
    expires = int((now if now is not None else time.time()) + ttl_seconds)
    payload = f"{conversation_id}.{expires}"
    return f"{payload}.{_sign(secret, payload)}"


def verify_session_token(secret: str, token: object, now: float | None = None) -> str:
    """Return the conversation id of a valid token.

    Raises:
        InvalidSession: the token is not a string the server issued, or expired.
    """
    if not isinstance(token, str) or len(token) > 200:
        raise InvalidSession("session token is missing or malformed")
    parts = token.split(".")
    if len(parts) != 3 or not parts[0].startswith(WEB_PREFIX) or not parts[1].isdigit():
        raise InvalidSession("session token is malformed")
    conversation_id, expires, signature = parts
    expected = _sign(secret, f"{conversation_id}.{expires}")
    if not hmac.compare_digest(expected, signature):
        raise InvalidSession("session token signature is invalid")
    if int(expires) < (now if now is not None else time.time()):
        raise InvalidSession("session token has expired")
    return conversation_id


def sms_conversation_id(secret: str, phone: str) -> str:
    """Return the keyed pseudonym used as the conversation id for a phone number."""
    digest = hmac.new(
        secret.encode(), b"sms-conversation:" + phone.encode(), hashlib.sha256
    ).hexdigest()
    return SMS_PREFIX + digest[:32]
