"""The workspace's append-only audit log: who viewed or changed what, and when.

`record` adds an entry in the caller's transaction, so an entry exists if
and only if the view or change it describes was committed. Database triggers
(see the coordinator workspace migration) reject UPDATE and DELETE on
`audit_log`, on SQLite and on PostgreSQL.

An entry never contains member details: no name, phone number, member id,
date of birth or note text. `record` rejects a `detail` with such keys.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.business_days import load_calendar
from bot.models import AuditEntry, Ticket, utcnow
from bot.reference import normalize_reference

logger = logging.getLogger(__name__)

# The actions that the workspace and the API record.
ACTIONS = (
    "view_ticket",
    "view_queue",
    "change_status",
    "assign",
    "add_note",
    "export_csv",
    "view_audit",
    "login",
    "login_failed",
    "logout",
    "api_list",
    "api_view",
    "api_update",
    "api_screening",
)
ACTION_MAX_LENGTH = 40
SYSTEM_ACTOR_NAME = "system"
# Keys that would put member details into the log.
MEMBER_DETAIL_KEYS = frozenset(
    {
        "name",
        "phone",
        "member_id",
        "date_of_birth",
        "body",
        "text",
        "note",
        "call_time",
        "screening_profile",
        "screening_result",
        "search",
    }
)
MAX_PER_PAGE = 200


@dataclass(frozen=True)
class Actor:
    """The author of a view or change: a staff user, an API token or the system.

    Attributes:
        name: The username, `token:<name>` for an API token, or `system`.
        role: The staff role (`coordinator`, `supervisor`, `admin`), or the
            caller's own label for tokens and the system, such as `api`.
        user_id: The `StaffUser` id of a signed-in user.
        api_token_id: The `ApiToken` id of an API caller.
    """

    name: str
    role: str
    user_id: int | None = None
    api_token_id: int | None = None


SYSTEM_ACTOR = Actor(name=SYSTEM_ACTOR_NAME, role="system")


def record(
    session: Session,
    actor: Actor,
    action: str,
    *,
    ticket: Ticket | None = None,
    detail: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> None:
    """Add an audit entry in the caller's transaction.

    Args:
        session: The caller's open session; nothing is committed here.
        actor: Who viewed or changed something.
        action: What happened, such as `view_ticket` (see `ACTIONS`).
        ticket: The ticket concerned, if any.
        detail: JSON-serialisable facts about the change, such as
            {"from": "new", "to": "contacted"}; never member details.
        now: Time of the entry (default: now).

    Raises:
        ValueError: `action` is empty or longer than 40 characters, or
            `detail` has a key that would store member details.
    """
    if not action or len(action) > ACTION_MAX_LENGTH:
        raise ValueError(
            f"audit action must be 1 to {ACTION_MAX_LENGTH} characters, got {action!r}"
        )
    forbidden = sorted(MEMBER_DETAIL_KEYS & set(detail or {}))
    if forbidden:
        raise ValueError(
            f"audit detail must not contain member details; remove keys {forbidden}"
        )
    if action not in ACTIONS:
        logger.debug("Recording audit action %s, which is not in ACTIONS", action)

    session.add(
        AuditEntry(
            at=now or utcnow(),
            user_id=actor.user_id,
            actor=actor.name[:120],
            action=action,
            ticket_id=ticket.id if ticket is not None else None,
            ticket_reference=ticket.reference if ticket is not None else None,
            detail=detail or None,
        )
    )
    session.flush()


@dataclass
class AuditFilters:
    """Filters for reading the audit log; empty values match everything.

    Attributes:
        username: The actor as recorded: a username, `token:<name>` or `system`.
        action: One action, such as `change_status`.
        reference: A ticket reference code as typed.
        since: First day, in the workspace's time zone, inclusive.
        until: Last day, in the workspace's time zone, inclusive.
        page: Page number, from 1.
        per_page: Entries per page, 1 to 200.
    """

    username: str | None = None
    action: str | None = None
    reference: str | None = None
    since: date | None = None
    until: date | None = None
    page: int = 1
    per_page: int = 50


@dataclass(frozen=True)
class AuditRecord:
    """One audit entry, detached from the session."""

    id: int
    at: datetime
    actor: str
    user_id: int | None
    action: str
    ticket_id: int | None
    ticket_reference: str | None
    detail: dict[str, Any] | None


@dataclass(frozen=True)
class AuditPage:
    """One page of audit entries, newest first, and the count of all matches."""

    entries: list[AuditRecord]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        """Number of pages, at least 1."""
        return max(1, math.ceil(self.total / self.per_page))


def _day_start(day: date) -> datetime:
    """Return midnight of `day` in the workspace time zone."""
    return datetime.combine(day, time(0), tzinfo=load_calendar().timezone)


def _conditions(filters: AuditFilters) -> list[Any]:
    conditions = []
    if filters.username:
        conditions.append(AuditEntry.actor == filters.username.strip())
    if filters.action:
        conditions.append(AuditEntry.action == filters.action.strip())
    if filters.reference:
        typed = filters.reference.strip()
        reference = normalize_reference(typed) or typed.upper()
        conditions.append(AuditEntry.ticket_reference == reference)
    if filters.since:
        conditions.append(AuditEntry.at >= _day_start(filters.since))
    if filters.until:
        conditions.append(AuditEntry.at < _day_start(filters.until + timedelta(days=1)))
    return conditions


def list_audit(session: Session, filters: AuditFilters) -> AuditPage:
    """Read one page of the audit log, newest first.

    Args:
        session: An open session.
        filters: What to match, and which page.

    Returns:
        The page and the total count of matching entries.

    Raises:
        ValueError: `page` is below 1, `per_page` is outside 1 to 200, or
            `since` is after `until`.
    """
    if filters.page < 1:
        raise ValueError(f"page must be 1 or more, got {filters.page}")
    if not 1 <= filters.per_page <= MAX_PER_PAGE:
        raise ValueError(
            f"per_page must be between 1 and {MAX_PER_PAGE}, got {filters.per_page}"
        )
    if filters.since and filters.until and filters.since > filters.until:
        raise ValueError(
            f"since ({filters.since}) must not be after until ({filters.until})"
        )

    conditions = _conditions(filters)
    total = session.execute(
        select(func.count(AuditEntry.id)).where(*conditions)
    ).scalar_one()
    rows = session.execute(
        select(AuditEntry)
        .where(*conditions)
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .offset((filters.page - 1) * filters.per_page)
        .limit(filters.per_page)
    ).scalars()
    entries = [
        AuditRecord(
            id=row.id,
            at=row.at,
            actor=row.actor,
            user_id=row.user_id,
            action=row.action,
            ticket_id=row.ticket_id,
            ticket_reference=row.ticket_reference,
            detail=row.detail,
        )
        for row in rows
    ]
    return AuditPage(
        entries=entries, total=total, page=filters.page, per_page=filters.per_page
    )
