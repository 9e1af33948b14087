"""Conversation ids that the server issues and signs.

A web or REST client gets a session token from the server and sends it with
every message. The token names the conversation and carries an expiry and an
HMAC signature keyed with `APP_SECRET`, so a client can neither choose a
conversation id nor guess another member's. SMS conversations use a keyed
pseudonym of the phone number instead, so the raw number is never the
tracker's conversation id.

Each token is signed for one purpose: a REST token (`REST_PURPOSE`) is not
accepted where a web chat token (`WEBCHAT_PURPOSE`) is expected, and the
other way round, because the web chat socket checks the page's origin and
binds the socket to the session, and the REST endpoint does neither.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

WEB_PREFIX = "web-"
SMS_PREFIX = "sms-"
DEFAULT_SESSION_TTL_SECONDS = 7 * 24 * 3600
REST_PURPOSE = "rest"
WEBCHAT_PURPOSE = "webchat"
PURPOSES = (REST_PURPOSE, WEBCHAT_PURPOSE)


class InvalidSession(ValueError):
    """The session token is malformed, forged or expired."""


class SessionExpired(InvalidSession):
    """The session token was issued by the server and has expired."""


def _sign(secret: str, payload: str, purpose: str) -> str:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}; use one of {PURPOSES}")
    # REST tokens sign the bare payload, as they did before purposes existed,
    # so REST tokens issued earlier stay valid. A payload always starts with
    # WEB_PREFIX, so it never equals another purpose's "<purpose>:" message.
    message = payload if purpose == REST_PURPOSE else f"{purpose}:{payload}"
    digest = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    return digest[:32]


def issue_session_token(
    secret: str,
    ttl_seconds: int = DEFAULT_SESSION_TTL_SECONDS,
    now: float | None = None,
    *,
    purpose: str = REST_PURPOSE,
    conversation_id: str | None = None,
) -> str:
    """Create a signed token `<conversation id>.<expiry>.<signature>`.

    Args:
        secret: The key of the HMAC signature (`APP_SECRET`).
        ttl_seconds: Seconds from `now` until the token expires.
        now: The issue time as a Unix timestamp; the current time by default.
        purpose: `REST_PURPOSE` or `WEBCHAT_PURPOSE`; the token verifies only
            for the same purpose.
        conversation_id: An existing conversation to issue a fresh token for,
            as returned by `verify_session_token`; a new random id by default.

    Raises:
        ValueError: `purpose` is unknown, or `conversation_id` is not a web
            conversation id.
    """
    if conversation_id is None:
        conversation_id = WEB_PREFIX + secrets.token_urlsafe(18).replace("-", "x")
    elif not conversation_id.startswith(WEB_PREFIX) or "." in conversation_id:
        raise ValueError(f"not a web conversation id: {conversation_id!r}")
    expires = int((now if now is not None else time.time()) + ttl_seconds)
    payload = f"{conversation_id}.{expires}"
    return f"{payload}.{_sign(secret, payload, purpose)}"


def verify_session_token(
    secret: str,
    token: object,
    now: float | None = None,
    *,
    purpose: str = REST_PURPOSE,
) -> str:
    """Return the conversation id of a valid token issued for `purpose`.

    Raises:
        InvalidSession: The token is not a string the server issued for
            `purpose`, or it expired.
    """
    if not isinstance(token, str) or len(token) > 200:
        raise InvalidSession("session token is missing or malformed")
    parts = token.split(".")
    if len(parts) != 3 or not parts[0].startswith(WEB_PREFIX) or not parts[1].isdigit():
        raise InvalidSession("session token is malformed")
    conversation_id, expires, signature = parts
    expected = _sign(secret, f"{conversation_id}.{expires}", purpose)
    if not hmac.compare_digest(expected, signature):
        raise InvalidSession("session token signature is invalid")
    if int(expires) < (now if now is not None else time.time()):
        raise SessionExpired("session token has expired")
    return conversation_id


def sms_conversation_id(secret: str, phone: str) -> str:
    """Return the keyed pseudonym used as the conversation id for a phone number."""
    digest = hmac.new(
        secret.encode(), b"sms-conversation:" + phone.encode(), hashlib.sha256
    ).hexdigest()
    return SMS_PREFIX + digest[:32]
