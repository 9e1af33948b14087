"""Staff accounts, password checks, lockout and sign-in sessions.

Everything here is blocking database work without any web code: the web app
(`bot.workspace.app`) runs it through `bot.db.run_in_thread`, and the account
command-line tool (`bot.workspace.admin`) calls it directly.

Passwords are hashed with argon2id (argon2-cffi's default parameters, the
RFC 9106 low-memory profile). A hash made with older parameters is replaced
at the next successful sign-in.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import STAFF_ROLES, StaffUser, utcnow
from bot.workspace.text import clean_text

logger = logging.getLogger(__name__)

MIN_PASSWORD_CHARS = 12
# Hashing cost grows with the input, so a megabyte "password" is rejected.
MAX_PASSWORD_CHARS = 1024
USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MAX_DISPLAY_NAME_CHARS = 200
# A sign-in ends this long after it began, however active the user is.
SESSION_ABSOLUTE_HOURS = 12
CSRF_TOKEN_BYTES = 32

# Permissions of each role. Supervisors and admins may also move a closed
# ticket back into the workflow (`reopen`).
PERMISSIONS = {
    "coordinator": frozenset({"work_tickets"}),
    "supervisor": frozenset({"work_tickets", "read_audit", "export_csv", "reopen"}),
    "admin": frozenset({"work_tickets", "read_audit", "export_csv", "reopen"}),
}

_hasher = PasswordHasher()


class AccountError(ValueError):
    """A staff account request that cannot be carried out, with the reason."""


class DuplicateUsernameError(AccountError):
    """The username is taken by another account."""


class UserNotFoundError(AccountError):
    """No account has the username."""


class InvalidPasswordError(AccountError):
    """The password does not meet the length rules."""


def has_permission(role: str, permission: str) -> bool:
    """Tell whether `role` grants `permission` (such as `read_audit`)."""
    return permission in PERMISSIONS.get(role, frozenset())


def normalize_username(username: str) -> str:
    """Return the canonical, lower-case form of a username as typed."""
    return username.strip().lower()


def validate_username(username: str) -> str:
    """Return the normalized username or raise `AccountError` if it is invalid."""
    normalized = normalize_username(username)
    if not USERNAME_PATTERN.match(normalized):
        raise AccountError(
            f"invalid username {username!r}: use 2 to 64 characters of letters, "
            "digits, '.', '_' or '-', starting with a letter or digit"
        )
    return normalized


def validate_password(password: str) -> None:
    """Raise `InvalidPasswordError` unless the password's length is allowed."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise InvalidPasswordError(
            f"the password is too short: use at least {MIN_PASSWORD_CHARS} characters"
        )
    if len(password) > MAX_PASSWORD_CHARS:
        raise InvalidPasswordError(
            f"the password is too long: use at most {MAX_PASSWORD_CHARS} characters"
        )


def hash_password(password: str) -> str:
    """Return the argon2id hash of `password` after checking its length."""
    validate_password(password)
    return _hasher.hash(password)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    # Checked against when the username is unknown, so the reply takes about
    # as long as for a real account and does not reveal which names exist.
    return _hasher.hash(secrets.token_urlsafe(24))


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except VerifyMismatchError:
        return False
    except (VerificationError, InvalidHashError):
        logger.warning("A stored password hash could not be verified")
        return False


def find_user(session: Session, username: str) -> StaffUser | None:
    """Return the account with `username` (normalized), or None."""
    return session.execute(
        select(StaffUser).where(StaffUser.username == normalize_username(username))
    ).scalar_one_or_none()


def _require_user(session: Session, username: str) -> StaffUser:
    user = find_user(session, username)
    if user is None:
        raise UserNotFoundError(f"no account has the username {username!r}")
    return user


def create_user(
    session: Session,
    username: str,
    *,
    role: str,
    display_name: str,
    password: str,
    now: datetime | None = None,
) -> StaffUser:
    """Add an active staff account; the caller commits.

    Raises:
        AccountError: The username, role or display name is invalid.
        DuplicateUsernameError: The username is taken.
        InvalidPasswordError: The password is too short or too long.
    """
    normalized = validate_username(username)
    if role not in STAFF_ROLES:
        raise AccountError(
            f"invalid role {role!r}: use one of {', '.join(STAFF_ROLES)}"
        )
    display_name = clean_text(display_name).replace("\n", " ").strip()
    if not display_name or len(display_name) > MAX_DISPLAY_NAME_CHARS:
        raise AccountError(
            f"invalid display name: use 1 to {MAX_DISPLAY_NAME_CHARS} characters"
        )
    if find_user(session, normalized) is not None:
        raise DuplicateUsernameError(f"the username {normalized!r} is already taken")
    user = StaffUser(
        username=normalized,
        display_name=display_name,
        role=role,
        password_hash=hash_password(password),
        active=True,
        failed_logins=0,
        session_epoch=0,
        created_at=now or utcnow(),
    )
    session.add(user)
    session.flush()
    logger.info("Created staff user %s with role %s", user.id, role)
    return user


def set_password(session: Session, username: str, password: str) -> StaffUser:
    """Replace an account's password, unlock it and end its sign-ins."""
    user = _require_user(session, username)
    user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    user.session_epoch += 1
    logger.info("Set a new password for staff user %s", user.id)
    return user


def set_active(session: Session, username: str, active: bool) -> StaffUser:
    """Enable or disable an account; disabling ends its sign-ins."""
    user = _require_user(session, username)
    if user.active and not active:
        user.session_epoch += 1
    user.active = active
    logger.info("Staff user %s is now %s", user.id, "active" if active else "disabled")
    return user


def unlock_user(session: Session, username: str) -> StaffUser:
    """Clear an account's lockout and its count of failed sign-ins."""
    user = _require_user(session, username)
    user.failed_logins = 0
    user.locked_until = None
    logger.info("Unlocked staff user %s", user.id)
    return user


def list_users(session: Session) -> list[StaffUser]:
    """Return every staff account, ordered by username."""
    return list(
        session.execute(select(StaffUser).order_by(StaffUser.username)).scalars()
    )


def list_active_staff(session: Session) -> list[StaffUser]:
    """Return the active accounts, ordered by display name, for assignment."""
    return list(
        session.execute(
            select(StaffUser)
            .where(StaffUser.active.is_(True))
            .order_by(StaffUser.display_name, StaffUser.id)
        ).scalars()
    )


def is_locked(user: StaffUser, now: datetime) -> bool:
    """Tell whether the account is locked out at `now`."""
    return user.locked_until is not None and user.locked_until > now


@dataclass(frozen=True)
class LoginResult:
    """The outcome of a sign-in attempt.

    `outcome` is `ok`, `wrong_password`, `unknown_user`, `locked` or
    `inactive`. Only the log and the audit log tell these apart, because the
    sign-in page shows one message for every failure.
    """

    outcome: str
    user: StaffUser | None = None

    @property
    def ok(self) -> bool:
        """Whether the sign-in succeeded."""
        return self.outcome == "ok"


def authenticate(
    session: Session,
    username: str,
    password: str,
    *,
    max_failed_logins: int,
    lockout_minutes: int,
    now: datetime | None = None,
) -> LoginResult:
    """Check a username and password, counting failures toward a lockout.

    The password is verified in every case, against a dummy hash for an
    unknown username, so the time taken does not reveal which outcome
    occurred. The caller commits.

    Args:
        session: Database session.
        username: The username as typed.
        password: The password as typed.
        max_failed_logins: Wrong passwords in a row that lock the account.
        lockout_minutes: How long a lockout lasts.
        now: The current time (default: the clock).
    """
    now = now or utcnow()
    if len(password) > MAX_PASSWORD_CHARS:
        password = password[:MAX_PASSWORD_CHARS]
    user = session.execute(
        select(StaffUser)
        .where(StaffUser.username == normalize_username(username))
        .with_for_update()
    ).scalar_one_or_none()

    if user is None:
        _verify(_dummy_hash(), password)
        logger.info("Sign-in failed: unknown username")
        return LoginResult("unknown_user")

    password_ok = _verify(user.password_hash, password)
    if not user.active:
        logger.info("Sign-in failed for staff user %s: account disabled", user.id)
        return LoginResult("inactive", user)
    if is_locked(user, now):
        logger.info("Sign-in failed for staff user %s: account locked", user.id)
        return LoginResult("locked", user)
    if not password_ok:
        # NOTE: the row lock above exists on PostgreSQL only. On SQLite two
        # simultaneous wrong passwords can count as one failure.
        user.failed_logins = (user.failed_logins or 0) + 1
        if user.failed_logins >= max_failed_logins:
            user.locked_until = now + timedelta(minutes=lockout_minutes)
            user.failed_logins = 0
            logger.warning(
                "Locked staff user %s for %d minutes after %d failed sign-ins",
                user.id,
                lockout_minutes,
                max_failed_logins,
            )
        else:
            logger.info("Sign-in failed for staff user %s: wrong password", user.id)
        return LoginResult("wrong_password", user)

    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
        logger.info("Rehashed the password of staff user %s", user.id)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    logger.info("Staff user %s signed in", user.id)
    return LoginResult("ok", user)


# Sign-in sessions. The payload lives in an encrypted cookie (see
# `bot.workspace.cookies`); times are whole seconds since the Unix epoch.


def new_session_payload(user: StaffUser, now: datetime) -> dict[str, Any]:
    """Build the cookie payload of a new sign-in for `user`."""
    stamp = int(now.timestamp())
    return {
        "uid": user.id,
        "epoch": user.session_epoch,
        "iat": stamp,
        "seen": stamp,
        "csrf": secrets.token_urlsafe(CSRF_TOKEN_BYTES),
    }


def session_problem(
    payload: dict[str, Any], user: StaffUser | None, now: datetime, idle_minutes: int
) -> str | None:
    """Return why a sign-in is no longer valid, or None if it is.

    Args:
        payload: The opened session cookie.
        user: The account the payload names, read again from the database.
        now: The current time.
        idle_minutes: Minutes without a request that end a sign-in.
    """
    try:
        issued_at = int(payload["iat"])
        last_seen = int(payload["seen"])
        epoch = int(payload["epoch"])
    except (KeyError, TypeError, ValueError):
        return "malformed"
    if not isinstance(payload.get("csrf"), str):
        return "malformed"
    stamp = now.timestamp()
    if stamp - issued_at > SESSION_ABSOLUTE_HOURS * 3600:
        return "expired"
    if stamp - last_seen > idle_minutes * 60:
        return "idle"
    if user is None or not user.active:
        return "inactive"
    if user.session_epoch != epoch:
        return "revoked"
    return None
