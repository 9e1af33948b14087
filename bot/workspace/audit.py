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
from bot.models import AuditEntry, StaffUser, Ticket, utcnow
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
# Far beyond any real log; a larger number overflows the databases' OFFSET.
MAX_PAGE = 1_000_000


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
    """One audit entry, detached from the session.

    Attributes:
        actor: The username, `token:<name>` or `system` as recorded.
        actor_label: The staff user's display name with the username, such
            as "Ana Ruiz (aruiz)", or `actor` for tokens and the system.
        detail_text: `detail` in plain words, such as "status: new →
            contacted"; empty when there is no detail.
    """

    id: int
    at: datetime
    actor: str
    user_id: int | None
    action: str
    ticket_id: int | None
    ticket_reference: str | None
    detail: dict[str, Any] | None
    actor_label: str = ""
    detail_text: str = ""


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


def _words(value: Any) -> str:
    return str(value).replace("_", " ")


def _staff_name(user_id: Any, names: dict[int, str]) -> str:
    if user_id is None:
        return "nobody"
    if isinstance(user_id, int) and user_id in names:
        return names[user_id]
    return f"staff user {user_id} (since removed)"


def _filters_text(filters: dict[str, Any], names: dict[int, str]) -> str:
    parts = []
    for key, value in filters.items():
        if value in (None, False, ""):
            continue
        if key == "searched":
            parts.append("with a search")
        elif key == "overdue":
            parts.append("overdue only")
        elif key == "assignee" and value != "none":
            parts.append(f"assignee {_staff_name(value, names)}")
        else:
            parts.append(f"{_words(key)} {_words(value)}")
    return "filters: " + (", ".join(parts) if parts else "none")


def describe_detail(
    action: str, detail: dict[str, Any] | None, names: dict[int, str]
) -> str:
    """Describe an audit entry's detail in plain words.

    Args:
        action: The entry's action, such as `assign`.
        detail: The entry's detail, or None.
        names: Display names of the staff user ids that `detail` may name.

    Returns:
        Text such as "status: new → contacted" or "assigned to Ana Ruiz";
        an empty string for no detail.
    """
    if not detail:
        return ""
    if action == "change_status":
        text = f"status: {_words(detail.get('from'))} → {_words(detail.get('to'))}"
        if detail.get("close_reason"):
            text += f", close reason: {_words(detail['close_reason'])}"
        return text
    if action == "assign":
        if detail.get("to") is None:
            return f"unassigned (was {_staff_name(detail.get('from'), names)})"
        text = f"assigned to {_staff_name(detail.get('to'), names)}"
        if detail.get("from") is not None:
            text += f" (was {_staff_name(detail['from'], names)})"
        return text
    if action == "add_note":
        return f"note added ({detail.get('length', '?')} characters)"
    if action == "login_failed":
        return f"reason: {_words(detail.get('reason'))}"
    if action == "api_update":
        fields = ", ".join(_words(name) for name in detail.get("fields") or [])
        return f"changed {fields or 'nothing'}; now version {detail.get('version')}"
    if action == "api_list":
        parameters = ", ".join(detail.get("parameters") or []) or "none"
        return (
            f"parameters: {parameters}; page {detail.get('page')}, "
            f"{detail.get('returned')} returned"
        )

    parts = []
    for key, value in detail.items():
        if isinstance(value, dict) and key == "filters":
            parts.append(_filters_text(value, names))
        elif isinstance(value, (list, tuple)):
            parts.append(f"{_words(key)}: {', '.join(_words(item) for item in value)}")
        else:
            parts.append(f"{_words(key)}: {_words(value)}")
    return "; ".join(parts)


def _referenced_staff_ids(entries: list[AuditEntry]) -> set[int]:
    ids = set()
    for entry in entries:
        if entry.user_id is not None:
            ids.add(entry.user_id)
        detail = entry.detail or {}
        if entry.action == "assign":
            ids.update(
                value for value in (detail.get("from"), detail.get("to"))
                if isinstance(value, int)
            )
        filters = detail.get("filters")
        if isinstance(filters, dict) and isinstance(filters.get("assignee"), int):
            ids.add(filters["assignee"])
    return ids


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
        ValueError: `page` is outside 1 to 1,000,000, `per_page` is outside
            1 to 200, or `since` is after `until`.
    """
    if not 1 <= filters.page <= MAX_PAGE:
        raise ValueError(
            f"page must be a whole number from 1 to {MAX_PAGE}, got {filters.page}"
        )
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
    rows = list(
        session.execute(
            select(AuditEntry)
            .where(*conditions)
            .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
            .offset((filters.page - 1) * filters.per_page)
            .limit(filters.per_page)
        ).scalars()
    )
    staff_ids = _referenced_staff_ids(rows)
    names: dict[int, str] = {}
    if staff_ids:
        names = dict(
            session.execute(
                select(StaffUser.id, StaffUser.display_name).where(
                    StaffUser.id.in_(sorted(staff_ids))
                )
            ).all()
        )
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
            actor_label=(
                f"{names[row.user_id]} ({row.actor})"
                if row.user_id in names
                else row.actor
            ),
            detail_text=describe_detail(row.action, row.detail, names),
        )
        for row in rows
    ]
    return AuditPage(
        entries=entries, total=total, page=filters.page, per_page=filters.per_page
    )
