"""Coordinator queue: filters, sorting, overdue counts, pagination and search."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from multidict import MultiDict
from sqlalchemy import func, select, text, update

from bot.languages import LANGUAGE_GROUPS, OTHER
from bot.models import Ticket as TicketRow
from bot.workspace.queue import (
    QueueFilters,
    _filter_conditions,
    iter_queue,
    list_queue,
)
from tests.test_workflow import make_staff, make_ticket

NOW = datetime(2026, 12, 2, 18, 0, tzinfo=timezone.utc)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)

# Label: (status, language, services, due offset, created offset, assignee).
TICKETS = {
    "T1": ("new", "en", ["ecm"], -DAY, -5 * DAY, "ana"),
    "T2": ("contacted", "es", ["housing_deposits"], DAY, -4 * DAY, None),
    "T3": ("closed", "en", ["ecm", "medically_tailored_meals"], None, -3 * DAY, "ana"),
    "T4": ("referred_to_provider", "es", [], -2 * HOUR, -2 * DAY, "bo"),
    "T5": ("services_started", "en", ["home_modifications"], None, -DAY, None),
    "T6": ("new", "vi", ["ecm"], 3 * DAY, -HOUR, None),
    "T7": (
        "contact_attempted",
        "en",
        ["ecm", "housing_deposits"],
        DAY,
        -30 * HOUR,
        "bo",
    ),
}


@pytest.fixture
def queue(session_factory):
    """Store `TICKETS`; return (labels by reference, references by label, staff ids)."""
    staff = {
        "ana": make_staff(session_factory, "ana").user_id,
        "bo": make_staff(session_factory, "bo").user_id,
    }
    references = {}
    for number, (label, values) in enumerate(TICKETS.items(), start=1):
        status, language, services, due, created, assignee = values
        reference = make_ticket(
            session_factory,
            phone=f"+1650555{number:04d}",
            member_id=f"M{number:07d}",
            conversation_id=f"conv-{label}",
            preferred_language=language,
            services=services,
            name=f"Member {label}",
        )
        with session_factory() as session, session.begin():
            session.execute(
                update(TicketRow)
                .where(TicketRow.reference == reference)
                .values(
                    status=status,
                    due_at=NOW + due if due is not None else None,
                    created_at=NOW + created,
                    assignee_id=staff[assignee] if assignee else None,
                )
            )
        references[label] = reference
    labels = {reference: label for label, reference in references.items()}
    return labels, references, staff


def listed(session_factory, labels, now=NOW, **filters) -> list[str]:
    with session_factory() as session:
        page = list_queue(session, QueueFilters(per_page=100, **filters), now=now)
    return [labels[row.reference] for row in page.rows]


# Filters and sorting

FILTER_CASES = [
    ({}, ["T1", "T4", "T2", "T7", "T6", "T3", "T5"]),
    ({"status": "open"}, ["T1", "T4", "T2", "T7", "T6", "T5"]),
    ({"status": "new"}, ["T1", "T6"]),
    ({"status": "closed"}, ["T3"]),
    ({"status": "authorized"}, []),
    ({"language": "es"}, ["T4", "T2"]),
    ({"language": "vi"}, ["T6"]),
    ({"service": "ecm"}, ["T1", "T7", "T6", "T3"]),
    ({"service": "housing_deposits"}, ["T2", "T7"]),
    ({"service": "community_supports"}, ["T2", "T7", "T3", "T5"]),
    ({"service": "assisted_living_transition"}, []),
    ({"assignee": "none"}, ["T2", "T6", "T5"]),
    ({"overdue": True}, ["T1", "T4"]),
    ({"status": "open", "service": "ecm", "language": "en"}, ["T1", "T7"]),
]


@pytest.mark.parametrize("filters, expected", FILTER_CASES)
def test_filter(session_factory, queue, filters, expected):
    labels, _, _ = queue

    assert listed(session_factory, labels, **filters) == expected


def test_filter_by_assignee_id(session_factory, queue):
    labels, _, staff = queue

    assert listed(session_factory, labels, assignee=staff["ana"]) == ["T1", "T3"]
    assert listed(session_factory, labels, assignee=staff["bo"]) == ["T4", "T7"]


@pytest.mark.parametrize(
    "sort, expected",
    [
        # Equal due times (T2, T7) keep id order; no due time comes last.
        ("due", ["T1", "T4", "T2", "T7", "T6", "T3", "T5"]),
        ("-due", ["T6", "T7", "T2", "T4", "T1", "T5", "T3"]),
        ("created", ["T1", "T2", "T3", "T4", "T7", "T5", "T6"]),
        ("-created", ["T6", "T5", "T7", "T4", "T3", "T2", "T1"]),
    ],
)
def test_sort(session_factory, queue, sort, expected):
    labels, _, _ = queue

    assert listed(session_factory, labels, sort=sort) == expected


@pytest.mark.parametrize("sort", ["due", "-due", "created", "-created"])
@pytest.mark.parametrize("batch", [1, 2, 3, 1000])
def test_iter_queue_matches_list(session_factory, queue, sort, batch):
    labels, _, _ = queue

    with session_factory() as session:
        streamed = [
            labels[row.reference]
            for row in iter_queue(
                session, QueueFilters(sort=sort), now=NOW, batch=batch
            )
        ]

    assert streamed == listed(session_factory, labels, sort=sort)


def test_iter_queue_applies_filters(session_factory, queue):
    labels, _, _ = queue

    with session_factory() as session:
        rows = list(iter_queue(session, QueueFilters(overdue=True), now=NOW, batch=1))

    assert [labels[row.reference] for row in rows] == ["T1", "T4"]


# Overdue


def test_overdue_rows_and_counts(session_factory, queue):
    labels, _, _ = queue

    with session_factory() as session:
        page = list_queue(session, QueueFilters(), now=NOW)
        overdue_only = list_queue(session, QueueFilters(overdue=True), now=NOW)
        spanish = list_queue(session, QueueFilters(language="es"), now=NOW)

    flagged = {labels[row.reference] for row in page.rows if row.overdue}
    assert flagged == {"T1", "T4"}
    assert page.total == 7
    assert page.overdue_total == 2
    assert overdue_only.total == 2
    assert overdue_only.overdue_total == 2
    assert spanish.total == 2
    assert spanish.overdue_total == 1


def test_overdue_moves_with_now(session_factory, queue):
    labels, _, _ = queue
    later = NOW + 2 * DAY

    assert listed(session_factory, labels, now=later, overdue=True) == [
        "T1",
        "T4",
        "T2",
        "T7",
    ]


def test_closed_ticket_never_overdue(session_factory, queue):
    labels, references, _ = queue
    with session_factory() as session, session.begin():
        session.execute(
            update(TicketRow)
            .where(TicketRow.reference == references["T3"])
            .values(due_at=NOW - DAY)
        )

    assert "T3" not in listed(session_factory, labels, overdue=True)
    with session_factory() as session:
        page = list_queue(session, QueueFilters(status="closed"), now=NOW)
    assert page.rows[0].overdue is False
    assert page.overdue_total == 0


def test_row_fields(session_factory, queue):
    _, references, staff = queue

    with session_factory() as session:
        page = list_queue(session, QueueFilters(search=references["T7"]), now=NOW)

    [row] = page.rows
    assert row.reference == references["T7"]
    assert row.status == "contact_attempted"
    assert row.name == "Member T7"
    assert row.preferred_language == "en"
    assert row.channel == "rest"
    assert row.services == ["ecm", "housing_deposits"]
    assert row.assignee_id == staff["bo"]
    assert row.assignee_name == "Bo Coordinator"
    assert row.due_at == NOW + DAY
    assert row.created_at == NOW - 30 * HOUR
    assert row.overdue is False


# Pagination


@pytest.mark.parametrize(
    "page, per_page, expected, pages",
    [
        (1, 3, ["T1", "T4", "T2"], 3),
        (2, 3, ["T7", "T6", "T3"], 3),
        (3, 3, ["T5"], 3),
        (4, 3, [], 3),
        (1, 7, ["T1", "T4", "T2", "T7", "T6", "T3", "T5"], 1),
        (2, 6, ["T5"], 2),
        (1, 1, ["T1"], 7),
    ],
)
def test_pagination(session_factory, queue, page, per_page, expected, pages):
    labels, _, _ = queue

    with session_factory() as session:
        result = list_queue(
            session, QueueFilters(page=page, per_page=per_page), now=NOW
        )

    assert [labels[row.reference] for row in result.rows] == expected
    assert result.total == 7
    assert result.pages == pages
    assert result.page == page
    assert result.per_page == per_page


def test_empty_queue_has_one_page(session_factory):
    with session_factory() as session:
        page = list_queue(session, QueueFilters(), now=NOW)

    assert page.rows == []
    assert page.total == 0
    assert page.overdue_total == 0
    assert page.pages == 1


# Search


@pytest.mark.parametrize(
    "typed, expected",
    [
        ("reference", ["T3"]),
        ("reference-lower", ["T3"]),
        ("+16505550004", ["T4"]),
        ("6505550004", ["T4"]),
        ("(650) 555-0004", ["T4"]),
        ("1-650-555-0004", ["T4"]),
        ("M0000006", ["T6"]),
        (" M0000006 ", ["T6"]),
        ("m0000006", ["T6"]),
        ("m000-0006", ["T6"]),
        ("M000000", []),
        ("+1650555000", []),
        ("HP-7KQ4MX", []),
    ],
)
def test_search(session_factory, queue, typed, expected):
    labels, references, _ = queue
    if typed == "reference":
        typed = references["T3"]
    elif typed == "reference-lower":
        typed = references["T3"].lower().replace("-", " ")

    assert listed(session_factory, labels, search=typed) == expected


# Language filter: named groups, single codes and everything else

# Label: the stored preferred language.
LANGUAGE_TICKETS = {
    "L-en": "en",
    "L-es": "es",
    "L-zh": "zh",
    "L-yue": "yue",
    "L-tl": "tl",
    "L-vi": "vi",
    "L-ase": "ase",
    "L-other": "other",
    "L-none": None,
}


@pytest.fixture
def language_queue(session_factory):
    """Store one ticket per entry of `LANGUAGE_TICKETS`; return labels by reference."""
    labels = {}
    for number, (label, language) in enumerate(LANGUAGE_TICKETS.items(), start=1):
        reference = make_ticket(
            session_factory,
            phone=f"+1650555{number:04d}",
            conversation_id=f"conv-{label}",
            preferred_language=language,
        )
        labels[reference] = label
    return labels


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", {"L-en"}),
        ("es", {"L-es"}),
        ("zh", {"L-zh", "L-yue"}),
        ("yue", {"L-yue"}),
        ("tl", {"L-tl"}),
        ("vi", {"L-vi"}),
        ("other", {"L-vi", "L-ase", "L-other", "L-none"}),
    ],
)
def test_language_filter_groups(session_factory, language_queue, language, expected):
    found = listed(session_factory, language_queue, language=language)

    assert set(found) == expected
    assert len(found) == len(expected)


def test_language_groups_find_every_ticket(session_factory, language_queue):
    found = []
    for language in (*LANGUAGE_GROUPS, OTHER):
        found += listed(session_factory, language_queue, language=language)

    assert sorted(found) == sorted(LANGUAGE_TICKETS)


# Query parsing


def test_from_query_parses_every_field():
    filters = QueueFilters.from_query(
        {
            "status": "open",
            "language": "es",
            "service": "community_supports",
            "assignee": "12",
            "overdue": "true",
            "search": " HP-7KQ4MX ",
            "sort": "-created",
            "page": "3",
            "per_page": "100",
            "csrf_token": "ignored",
        }
    )

    assert filters == QueueFilters(
        status="open",
        language="es",
        service="community_supports",
        assignee=12,
        overdue=True,
        search="HP-7KQ4MX",
        sort="-created",
        page=3,
        per_page=100,
    )


def test_from_query_defaults_and_blanks():
    filters = QueueFilters.from_query(
        {"status": "", "assignee": "None", "overdue": "0", "page": ""}
    )

    assert filters == QueueFilters(assignee="none")


@pytest.mark.parametrize(
    "query, parameter",
    [
        ({"status": "done"}, "status"),
        ({"service": "housing"}, "service"),
        ({"assignee": "ana"}, "assignee"),
        ({"assignee": "-3"}, "assignee"),
        ({"overdue": "maybe"}, "overdue"),
        ({"sort": "name"}, "sort"),
        ({"page": "0"}, "page"),
        ({"page": "two"}, "page"),
        ({"per_page": "101"}, "per_page"),
        ({"per_page": "0"}, "per_page"),
        ({"search": "x" * 65}, "search"),
        ({"language": "x" * 17}, "language"),
        ({"language": "xx"}, "language"),
        ({"language": "EN"}, "language"),
        ({"page": "99999999999999999999"}, "page"),
        ({"page": "1000001"}, "page"),
        ({"page": "1_000"}, "page"),
        ({"page": "\u0663"}, "page"),
        ({"per_page": "99999999999999999999"}, "per_page"),
    ],
)
def test_from_query_rejects(query, parameter):
    with pytest.raises(ValueError, match=parameter):
        QueueFilters.from_query(query)


@pytest.mark.parametrize("name", ["status", "language", "assignee", "page", "sort"])
def test_from_query_rejects_repeated(name):
    query = MultiDict([(name, "1"), ("search", "HP-7KQ4MX"), (name, "2")])

    with pytest.raises(ValueError, match=f"^{name} is given 2 times"):
        QueueFilters.from_query(query)


def test_from_query_ignores_repeated_unknown_key():
    query = MultiDict([("status", "open"), ("utm", "a"), ("utm", "b")])

    assert QueueFilters.from_query(query) == QueueFilters(status="open")


def test_list_queue_validates(session_factory):
    with session_factory() as session:
        with pytest.raises(ValueError, match="per_page"):
            list_queue(session, QueueFilters(per_page=500))


# Query plans


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    "filters, index",
    [
        (QueueFilters(status="open"), "ix_tickets_status_due_at"),
        (QueueFilters(service="ecm"), "ix_ticket_services_service"),
        (QueueFilters(search="+16505550004"), "ix_tickets_phone"),
        (QueueFilters(search="M0000006"), "ix_tickets_member_id"),
        (QueueFilters(search="m000-0006"), "ix_tickets_member_id"),
        (QueueFilters(language="es"), "ix_tickets_preferred_language"),
        (QueueFilters(language="zh"), "ix_tickets_preferred_language"),
    ],
)
def test_count_uses_index(session_factory, queue, filters, index):
    statement = select(func.count(TicketRow.id)).where(*_filter_conditions(filters))
    with session_factory() as session:
        compiled = statement.compile(
            session.get_bind(), compile_kwargs={"literal_binds": True}
        )
        plan = session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")).all()

    details = " ".join(str(row[-1]) for row in plan)
    assert index in details, details
