"""Bearer tokens for the JSON API: create, list, revoke and verify.

A token is `hpsm_` followed by 32 random bytes in URL-safe base64 (43
characters). Only its SHA-256 hex digest and its first `PREFIX_LENGTH`
characters are stored, so a database leak does not reveal usable tokens and
staff can still tell tokens apart by their prefix.

Every function takes the caller's open session and only flushes; the caller
commits. All of them block, so async callers use `bot.db.run_in_thread`.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from bot.models import ApiToken, utcnow
from bot.workspace.text import clean_text

logger = logging.getLogger(__name__)

TOKEN_PREFIX = "hpsm_"
TOKEN_BYTES = 32
# "hpsm_" and the first 7 random characters: 12 characters, the column's size.
PREFIX_LENGTH = 12
NAME_MAX_LENGTH = 100
# `last_used_at` is written at most this often per token, so a busy client
# does not turn every API read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_token(token: str) -> str:
    """Return the SHA-256 hex digest under which `token` is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(session: Session, name: str) -> tuple[ApiToken, str]:
    """Create an API token for one client system.

    Args:
        session: The caller's open session; the row is flushed, not committed.
        name: Who uses the token, such as `case-management`; 1 to 100
            characters after stripping spaces.

    Returns:
        The new row and the token itself. The token is not stored and cannot
        be shown again.

    Raises:
        ValueError: `name` is empty or longer than 100 characters.
    """
    name = clean_text(name or "").replace("\n", " ").strip()
    if not name or len(name) > NAME_MAX_LENGTH:
        raise ValueError(
            f"token name must be 1 to {NAME_MAX_LENGTH} characters, got {len(name)}"
        )

    token = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    row = ApiToken(
        name=name,
        token_hash=hash_token(token),
        prefix=token[:PREFIX_LENGTH],
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    logger.info("Created API token %d (%s, prefix %s)", row.id, name, row.prefix)
    return row, token


def list_tokens(session: Session) -> list[ApiToken]:
    """Return every token, revoked ones included, oldest first."""
    statement = select(ApiToken).order_by(ApiToken.created_at, ApiToken.id)
    return list(session.execute(statement).scalars())


def revoke_token(session: Session, token_id_or_prefix: str) -> ApiToken:
    """Revoke a token given its id or the start of its prefix.

    Revoking a revoked token keeps its first revocation time.

    Args:
        session: The caller's open session; the change is flushed.
        token_id_or_prefix: The token's numeric id, or the start of its
            prefix with at least one character after `hpsm_`, as
            `list_tokens` shows it.

    Returns:
        The revoked row.

    Raises:
        LookupError: No token matches, or a prefix matches more than one.
    """
    text = (token_id_or_prefix or "").strip()
    if not text:
        raise LookupError("no token id or prefix given")

    if text.isdigit():
        condition = ApiToken.id == int(text)
    elif len(text) > len(TOKEN_PREFIX):
        condition = ApiToken.prefix.startswith(text, autoescape=True)
    else:
        raise LookupError(
            f"{text!r} is too short; give the token id or its prefix, such as "
            f"{TOKEN_PREFIX}AbC1234"
        )
    matches = list(session.execute(select(ApiToken).where(condition)).scalars())
    if not matches:
        raise LookupError(f"no API token has the id or prefix {text!r}")
    if len(matches) > 1:
        ids = ", ".join(str(row.id) for row in matches)
        raise LookupError(
            f"{text!r} matches tokens {ids}; give the id or a longer prefix"
        )

    row = matches[0]
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.flush()
        logger.info("Revoked API token %d (%s)", row.id, row.name)
    return row


def verify_token(
    session: Session, presented: str, now: datetime | None = None
) -> ApiToken | None:
    """Find the active token that a client presented.

    The lookup is by the token's SHA-256 digest, so the comparison in the
    database never runs on the secret itself and its timing reveals nothing
    about how much of a guess was right. `last_used_at` is updated when it is
    empty or older than a minute; the caller commits.

    Args:
        session: The caller's open session.
        presented: The token from the `Authorization` header.
        now: The current time (default: now).

    Returns:
        The token row, or None when the token is unknown, malformed or
        revoked.
    """
    if not presented or not presented.startswith(TOKEN_PREFIX):
        return None
    row = session.execute(
        select(ApiToken).where(ApiToken.token_hash == hash_token(presented))
    ).scalar_one_or_none()
    if row is None or row.revoked_at is not None:
        return None

    now = now or utcnow()
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        # A guarded UPDATE, so two requests in the same minute write once.
        session.execute(
            update(ApiToken)
            .where(
                ApiToken.id == row.id,
                or_(
                    ApiToken.last_used_at.is_(None),
                    ApiToken.last_used_at <= now - LAST_USED_RESOLUTION,
                ),
            )
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )
        # Keep the loaded row in step without marking it changed.
        set_committed_value(row, "last_used_at", now)
    return row
