"""The coordinator queue: filtered, sorted, paginated lists of tickets.

Every filter is an indexed equality or range, so that the count and page
queries stay fast with 100,000 tickets. Status and due time use
`ix_tickets_status_due_at`, and the assignee `ix_tickets_assignee_id_due_at`.
The service filter is a semi-join on `ticket_services`, and a search matches
the reference, phone or member id exactly (member ids ignoring case and the
spaces or dashes typed inside them). Only the rows of one page are
loaded, and `iter_queue` streams every match in keyset batches for the CSV
export.

NOTE: the language filter `other` is a NOT IN, which the database may run as
a scan of `tickets`; the benchmark does not time it.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Iterator, Mapping

from sqlalchemy import and_, case, func, or_, select, union
from sqlalchemy.orm import Session

from bot.answers import parse_member_id
from bot.eligibility import SERVICES
from bot.languages import GROUPED_CODES, HANDOFF_LANGUAGES, LANGUAGE_GROUPS, OTHER
from bot.models import TICKET_STATUSES, StaffUser, Ticket, TicketService, utcnow
from bot.reference import normalize_reference

logger = logging.getLogger(__name__)

CLOSED = "closed"
OPEN = "open"
OPEN_STATUSES = tuple(status for status in TICKET_STATUSES if status != CLOSED)
ECM = "ecm"
COMMUNITY_SUPPORTS = "community_supports"
SERVICE_FILTERS = (ECM, COMMUNITY_SUPPORTS) + tuple(SERVICES)
UNASSIGNED = "none"
SORTS = ("due", "-due", "created", "-created")
MAX_PER_PAGE = 100
# Far beyond any real queue; a larger number overflows the databases' OFFSET.
MAX_PAGE = 1_000_000
# Language filter values: the codes the hand-off stores (see
# `bot.languages`), some of which stand for a group of codes.
LANGUAGES = HANDOFF_LANGUAGES
SEARCH_MAX_LENGTH = 64
LANGUAGE_MAX_LENGTH = 16
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")
_E164 = re.compile(r"\+[1-9][0-9]{7,14}")
_PHONE_SEPARATORS = re.compile(r"[\s().\-]")


@dataclass
class QueueFilters:
    """The queue's filters, sort order and page.

    Attributes:
        status: One status, or `open` for every status but `closed`.
        language: A preferred language code as the hand-off stores it, such
            as `es` or `yue` (see `LANGUAGES`). `zh` matches every Chinese
            code, Cantonese included, and `other` every code outside
            English, Spanish, Chinese and Tagalog, and no language at all.
        service: A service key from `bot.eligibility.SERVICES`, `ecm`, or
            `community_supports` for any service other than ECM.
        assignee: A staff user id, or `none` for unassigned tickets.
        overdue: Only tickets past their due time and not closed.
        search: A reference code as typed, a phone number (E.164 or ten US
            digits) or a member id; matched exactly, member ids in any case.
        sort: `due`, `-due`, `created` or `-created`; a leading minus sorts
            newest or latest first, and tickets without a due time come last.
        page: Page number, from 1 to 1,000,000.
        per_page: Rows per page, 1 to 100.
    """

    status: str | None = None
    language: str | None = None
    service: str | None = None
    assignee: int | str | None = None
    overdue: bool = False
    search: str | None = None
    sort: str = "due"
    page: int = 1
    per_page: int = 25

    def validate(self) -> None:
        """Check every value.

        Raises:
            ValueError: A value is invalid; the message names the field.
        """
        if self.status is not None and self.status not in TICKET_STATUSES + (OPEN,):
            raise ValueError(
                f"status {self.status!r} is invalid; use 'open' or one of "
                f"{TICKET_STATUSES}"
            )
        if self.service is not None and self.service not in SERVICE_FILTERS:
            raise ValueError(
                f"service {self.service!r} is invalid; use one of {SERVICE_FILTERS}"
            )
        if self.assignee is not None and self.assignee != UNASSIGNED:
            if isinstance(self.assignee, bool) or not isinstance(self.assignee, int):
                raise ValueError(
                    f"assignee {self.assignee!r} is invalid; use a user id or 'none'"
                )
        if self.language is not None and len(self.language) > LANGUAGE_MAX_LENGTH:
            raise ValueError(
                f"language must be at most {LANGUAGE_MAX_LENGTH} characters"
            )
        if self.language is not None and self.language not in LANGUAGES:
            raise ValueError(
                f"language {self.language!r} is not a known language code; use "
                f"one of {', '.join(LANGUAGES)}"
            )
        if self.search is not None and len(self.search) > SEARCH_MAX_LENGTH:
            raise ValueError(f"search must be at most {SEARCH_MAX_LENGTH} characters")
        if self.sort not in SORTS:
            raise ValueError(f"sort {self.sort!r} is invalid; use one of {SORTS}")
        if not 1 <= self.page <= MAX_PAGE:
            raise ValueError(
                f"page must be a whole number from 1 to {MAX_PAGE}, got {self.page}"
            )
        if not 1 <= self.per_page <= MAX_PER_PAGE:
            raise ValueError(
                f"per_page must be between 1 and {MAX_PER_PAGE}, got {self.per_page}"
            )

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> "QueueFilters":
        """Parse filters from URL query parameters; empty values are ignored.

        Args:
            query: A mapping of strings, such as aiohttp's `request.query`.
                Unknown keys are ignored.

        Returns:
            Validated filters.

        Raises:
            ValueError: A value is invalid, or a parameter is repeated; the
                message names the parameter.
        """
        reject_repeated(query)

        def text(key: str) -> str | None:
            value = query.get(key)
            if value is None:
                return None
            value = str(value).strip()
            return value or None

        filters = cls(
            status=text("status"),
            language=text("language"),
            service=text("service"),
            assignee=_parse_assignee(text("assignee")),
            overdue=_parse_flag("overdue", text("overdue")),
            search=text("search"),
            sort=text("sort") or "due",
            page=_parse_int("page", text("page"), 1),
            per_page=_parse_int("per_page", text("per_page"), 25),
        )
        filters.validate()
        return filters


def reject_repeated(query: Mapping[str, str]) -> None:
    """Reject a queue parameter given more than once, as in `?status=a&status=b`.

    Repeated values are not combined: some clients read them as OR and FHIR
    searches as AND, so using either one would surprise the other group.
    Only a multi-valued mapping with `getall`, such as aiohttp's
    `request.query`, can repeat a key.

    Raises:
        ValueError: The message starts with the parameter's name.
    """
    getall = getattr(query, "getall", None)
    if getall is None:
        return
    for name in (item.name for item in fields(QueueFilters)):
        count = len(getall(name, []))
        if count > 1:
            raise ValueError(
                f"{name} is given {count} times; give it once, because repeated "
                "values are not combined"
            )


def _parse_assignee(value: str | None) -> int | str | None:
    if value is None:
        return None
    if value.lower() == UNASSIGNED:
        return UNASSIGNED
    if not value.isdigit():
        raise ValueError(f"assignee {value!r} is invalid; use a user id or 'none'")
    return int(value)


def _parse_flag(name: str, value: str | None) -> bool:
    lowered = (value or "").lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"{name} {value!r} is invalid; use true or false")


def _parse_int(name: str, value: str | None, default: int) -> int:
    if value is None:
        return default
    # Digits only, and few of them: int() accepts "1_000" and "٣", and a
    # thousand-digit number costs time to convert.
    if not value.isascii() or not value.isdigit() or len(value) > 12:
        raise ValueError(
            f"{name} {value[:20]!r} is invalid; use a whole number such as 1"
        )
    return int(value)


@dataclass(frozen=True)
class QueueRow:
    """One ticket as the queue shows it."""

    reference: str
    status: str
    name: str | None = field(repr=False)
    preferred_language: str | None
    channel: str
    services: list[str]
    assignee_id: int | None
    assignee_name: str | None
    due_at: datetime | None
    created_at: datetime
    overdue: bool
    # The member deleted the conversation, so the personal details are gone.
    pseudonymised: bool = False


@dataclass(frozen=True)
class QueuePage:
    """One page of the queue with the counts of all matching tickets.

    Attributes:
        rows: The tickets of this page, in the requested order.
        total: Tickets matching every filter.
        overdue_total: Overdue tickets among those matching every filter
            except `overdue`.
        page: This page's number.
        per_page: Rows per page.
    """

    rows: list[QueueRow]
    total: int
    overdue_total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        """Number of pages, at least 1."""
        return max(1, math.ceil(self.total / self.per_page))


def overdue_condition(now: datetime) -> Any:
    """Build the SQL condition for a ticket past its due time and not closed."""
    return and_(Ticket.due_at < now, Ticket.status != CLOSED)


def search_phones(search: str) -> list[str]:
    """Return the E.164 numbers that `search` can mean, possibly none."""
    compact = _PHONE_SEPARATORS.sub("", search)
    if _E164.fullmatch(compact):
        return [compact]
    if compact.isdigit():
        if len(compact) == 10:
            return ["+1" + compact]
        if len(compact) == 11 and compact.startswith("1"):
            return ["+" + compact]
    return []


def _search_condition(search: str) -> Any:
    """Match a reference code, a phone number or a member id, exactly.

    Each meaning is its own indexed lookup, joined by UNION. An OR of the
    three lets a planner misjudge one of them: with mostly empty member ids,
    SQLite estimated `member_id = ?` as matching every row and scanned the
    whole table.
    """
    # The hand-off stores member ids as `parse_member_id` returns them, in
    # upper case, so the search is normalised the same way. IN keeps the
    # comparison on `ix_tickets_member_id`.
    # NOTE: a member id stored in mixed case by another path is found only
    # when typed exactly, in upper case or in lower case.
    member_ids = {search, search.upper(), search.lower()}
    normalized = parse_member_id(search)
    if normalized is not None:
        member_ids.add(normalized)
    lookups = [select(Ticket.id).where(Ticket.member_id.in_(sorted(member_ids)))]
    reference = normalize_reference(search)
    if reference is not None:
        lookups.append(select(Ticket.id).where(Ticket.reference == reference))
    for phone in search_phones(search):
        lookups.append(select(Ticket.id).where(Ticket.phone == phone))
    return Ticket.id.in_(union(*lookups).scalar_subquery())


def _language_condition(language: str) -> Any:
    """Match a language code, or every code of a group (see `bot.languages`)."""
    if language == OTHER:
        return or_(
            Ticket.preferred_language.is_(None),
            Ticket.preferred_language.not_in(GROUPED_CODES),
        )
    codes = LANGUAGE_GROUPS.get(language, (language,))
    if len(codes) == 1:
        return Ticket.preferred_language == codes[0]
    return Ticket.preferred_language.in_(codes)


def _filter_conditions(filters: QueueFilters) -> list[Any]:
    """Build the conditions of every filter except `overdue`."""
    conditions = []
    if filters.status == OPEN:
        conditions.append(Ticket.status.in_(OPEN_STATUSES))
    elif filters.status is not None:
        conditions.append(Ticket.status == filters.status)
    if filters.language is not None:
        conditions.append(_language_condition(filters.language))
    if filters.service is not None:
        if filters.service == COMMUNITY_SUPPORTS:
            service_match = TicketService.service.in_(SERVICES)
        else:
            service_match = TicketService.service == filters.service
        conditions.append(
            Ticket.id.in_(select(TicketService.ticket_id).where(service_match))
        )
    if filters.assignee == UNASSIGNED:
        conditions.append(Ticket.assignee_id.is_(None))
    elif filters.assignee is not None:
        conditions.append(Ticket.assignee_id == filters.assignee)
    if filters.search:
        conditions.append(_search_condition(filters.search.strip()))
    return conditions


def _order_by(sort: str) -> list[Any]:
    if sort == "due":
        return [Ticket.due_at.asc().nulls_last(), Ticket.id.asc()]
    if sort == "-due":
        return [Ticket.due_at.desc().nulls_last(), Ticket.id.desc()]
    if sort == "created":
        return [Ticket.created_at.asc(), Ticket.id.asc()]
    return [Ticket.created_at.desc(), Ticket.id.desc()]


def _rows_statement(conditions: list[Any]) -> Any:
    return (
        select(
            Ticket.id,
            Ticket.reference,
            Ticket.status,
            Ticket.name,
            Ticket.preferred_language,
            Ticket.channel,
            Ticket.services,
            Ticket.assignee_id,
            StaffUser.display_name,
            Ticket.due_at,
            Ticket.created_at,
            Ticket.pseudonymised_at,
        )
        .outerjoin(StaffUser, StaffUser.id == Ticket.assignee_id)
        .where(*conditions)
    )


def _to_row(values: Any, now: datetime) -> QueueRow:
    return QueueRow(
        reference=values.reference,
        status=values.status,
        name=values.name,
        preferred_language=values.preferred_language,
        channel=values.channel,
        services=list(values.services or []),
        assignee_id=values.assignee_id,
        assignee_name=values.display_name,
        due_at=values.due_at,
        created_at=values.created_at,
        overdue=values.due_at is not None
        and values.due_at < now
        and values.status != CLOSED,
        pseudonymised=values.pseudonymised_at is not None,
    )


def list_queue(
    session: Session, filters: QueueFilters, now: datetime | None = None
) -> QueuePage:
    """Read one page of the queue and the counts of all matching tickets.

    Args:
        session: An open session.
        filters: What to show and which page.
        now: The time against which due times are overdue (default: now).

    Returns:
        The page; a page past the last one has no rows.

    Raises:
        ValueError: A filter value is invalid (see `QueueFilters.validate`).
    """
    filters.validate()
    now = now or utcnow()
    conditions = _filter_conditions(filters)
    overdue = overdue_condition(now)

    # One pass counts both the matches and the overdue ones among them.
    matched, overdue_total = session.execute(
        select(
            func.count(Ticket.id),
            func.coalesce(func.sum(case((overdue, 1), else_=0)), 0),
        ).where(*conditions)
    ).one()
    total = overdue_total if filters.overdue else matched

    if filters.overdue:
        conditions.append(overdue)
    statement = (
        _rows_statement(conditions)
        .order_by(*_order_by(filters.sort))
        .offset((filters.page - 1) * filters.per_page)
        .limit(filters.per_page)
    )
    rows = [_to_row(values, now) for values in session.execute(statement)]
    return QueuePage(
        rows=rows,
        total=int(total),
        overdue_total=int(overdue_total),
        page=filters.page,
        per_page=filters.per_page,
    )


def _after(sort: str, last: Any) -> Any:
    """Build the keyset condition for rows after `last` in `sort` order."""
    if sort == "created":
        return or_(
            Ticket.created_at > last.created_at,
            and_(Ticket.created_at == last.created_at, Ticket.id > last.id),
        )
    if sort == "-created":
        return or_(
            Ticket.created_at < last.created_at,
            and_(Ticket.created_at == last.created_at, Ticket.id < last.id),
        )

    ascending = sort == "due"
    later_id = Ticket.id > last.id if ascending else Ticket.id < last.id
    if last.due_at is None:
        # Tickets without a due time come last, ordered by id.
        return and_(Ticket.due_at.is_(None), later_id)
    later_due = (
        Ticket.due_at > last.due_at if ascending else Ticket.due_at < last.due_at
    )
    return or_(
        later_due,
        and_(Ticket.due_at == last.due_at, later_id),
        Ticket.due_at.is_(None),
    )


def iter_queue(
    session: Session,
    filters: QueueFilters,
    now: datetime | None = None,
    batch: int = 1000,
) -> Iterator[QueueRow]:
    """Yield every ticket that matches `filters`, in sort order, ignoring pages.

    Rows are read in batches of `batch`, each continuing after the last row
    of the one before, so no batch rereads skipped rows.

    Raises:
        ValueError: A filter value is invalid, or `batch` is below 1.
    """
    filters.validate()
    if batch < 1:
        raise ValueError(f"batch must be 1 or more, got {batch}")
    now = now or utcnow()
    conditions = _filter_conditions(filters)
    if filters.overdue:
        conditions.append(overdue_condition(now))
    order = _order_by(filters.sort)

    last = None
    while True:
        keyset = [_after(filters.sort, last)] if last is not None else []
        statement = _rows_statement(conditions + keyset).order_by(*order).limit(batch)
        values = session.execute(statement).all()
        for item in values:
            yield _to_row(item, now)
        if len(values) < batch:
            return
        last = values[-1]
