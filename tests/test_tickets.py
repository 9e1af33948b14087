"""Ticket repository on SQLite and PostgreSQL, and reference codes."""

from __future__ import annotations

import re
import threading
from dataclasses import replace
from datetime import date, timezone

import pytest
from sqlalchemy import func, select

import bot.tickets as tickets_module
from bot.models import OutboxMessage
from bot.models import Ticket as TicketRow
from bot.reference import ALPHABET, new_reference, normalize_reference
from bot.sms import render_sms
from bot.tickets import (
    HandoffRequest,
    InvalidHandoffError,
    Ticket,
    TicketCreationError,
    TicketRepository,
)
from bot.tickets import MAX_CONFIRMATIONS_PER_DAY

PHONE = "+16505550123"


def make_handoff(**changes) -> HandoffRequest:
    values = dict(
        conversation_id="web-conv-1",
        handoff_id="h1",
        channel="rest",
        name="Ana Perez",
        phone=PHONE,
        member_id="M1234567",
        date_of_birth="1980-02-03",
        preferred_language="en",
        call_time="mornings",
        consent_contact=True,
        consent_share_screening=True,
        services=["ecm"],
        screening_profile={"plan": "medi-cal"},
        screening_result={"ecm": {"status": "likely", "reasons": [{"code": "adult"}]}},
    )
    values.update(changes)
    return HandoffRequest(**values)


def count(session_factory, model) -> int:
    with session_factory() as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def outbox_rows(session_factory) -> list[OutboxMessage]:
    with session_factory() as session:
        return session.execute(select(OutboxMessage)).scalars().all()


# Reference codes


def test_new_reference_format():
    confusable = set("0O1IL5S2Z8BUV")
    references = {new_reference() for _ in range(500)}

    assert len(references) > 490
    for reference in references:
        assert re.fullmatch(r"HP-[A-Z0-9]{6}", reference)
        assert not confusable & set(reference[3:])
        assert set(reference[3:]) <= set(ALPHABET)


@pytest.mark.parametrize(
    "typed, expected",
    [
        ("HP-7KQ4MX", "HP-7KQ4MX"),
        ("hp-7kq4mx", "HP-7KQ4MX"),
        (" hp 7kq 4mx ", "HP-7KQ4MX"),
        ("HP7KQ4MX", "HP-7KQ4MX"),
        ("7kq-4mx", "HP-7KQ4MX"),
        ("HP_7KQ.4MX", "HP-7KQ4MX"),
        ("HPAC3D4E", "HP-AC3D4E"),
        ("HP-7KQ4M", None),
        ("HP-7KQ4MXX", None),
        ("HP-0KQ4MX", None),
        ("", None),
        ("call me", None),
    ],
)
def test_normalize_reference(typed, expected):
    assert normalize_reference(typed) == expected


# Creating tickets


def test_create_stores_ticket_and_sms(session_factory):
    repository = TicketRepository(session_factory)

    ticket, created = repository.create_from_handoff(make_handoff())

    assert created is True
    assert isinstance(ticket, Ticket)
    assert normalize_reference(ticket.reference) == ticket.reference
    assert ticket.status == "new"
    assert ticket.phone == PHONE
    assert ticket.date_of_birth == date(1980, 2, 3)
    assert ticket.services == ["ecm"]
    assert ticket.screening_result["ecm"]["reasons"] == [{"code": "adult"}]
    assert ticket.previous_ticket_id is None
    assert ticket.created_at.tzinfo is not None
    assert ticket.created_at.utcoffset() == timezone.utc.utcoffset(None)

    rows = outbox_rows(session_factory)
    assert len(rows) == 1
    assert rows[0].ticket_id == ticket.id
    assert rows[0].to_number == PHONE
    assert rows[0].status == "pending"
    assert rows[0].kind == "ticket_confirmation"
    assert rows[0].body == render_sms(
        "ticket_confirmation", "en", reference=ticket.reference
    )


@pytest.mark.parametrize(
    "preferred_language, expected", [("es", "es"), ("Spanish", "es"), ("vi", "en")]
)
def test_confirmation_language(session_factory, preferred_language, expected):
    repository = TicketRepository(session_factory)

    ticket, _ = repository.create_from_handoff(
        make_handoff(preferred_language=preferred_language)
    )

    row = outbox_rows(session_factory)[0]
    assert row.language == expected
    assert row.body == render_sms(
        "ticket_confirmation", expected, reference=ticket.reference
    )


def test_reread_ticket_matches_created(session_factory):
    repository = TicketRepository(session_factory)
    ticket, _ = repository.create_from_handoff(make_handoff())

    assert repository.get(ticket.id) == ticket


def test_repr_hides_personal_fields(session_factory):
    handoff = make_handoff()
    ticket, _ = TicketRepository(session_factory).create_from_handoff(handoff)

    for text in (repr(ticket), repr(handoff)):
        assert "5550123" not in text
        assert "Ana" not in text
        assert "M1234567" not in text
        assert "1980" not in text


# Idempotency


def test_same_handoff_twice_creates_one_ticket(session_factory):
    repository = TicketRepository(session_factory)

    first, first_created = repository.create_from_handoff(make_handoff())
    second, second_created = repository.create_from_handoff(make_handoff())

    assert first_created is True
    assert second_created is False
    assert second.id == first.id
    assert second.reference == first.reference
    assert count(session_factory, TicketRow) == 1
    assert count(session_factory, OutboxMessage) == 1


def test_concurrent_same_handoff_creates_one_ticket(session_factory):
    repository = TicketRepository(session_factory)
    workers = 6
    barrier = threading.Barrier(workers)
    results: list[tuple[Ticket, bool]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def confirm() -> None:
        barrier.wait()
        try:
            result = repository.create_from_handoff(make_handoff())
        except BaseException as error:
            with lock:
                errors.append(error)
            return
        with lock:
            results.append(result)

    threads = [threading.Thread(target=confirm) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert len(results) == workers
    assert sum(created for _, created in results) == 1
    assert len({ticket.id for ticket, _ in results}) == 1
    assert count(session_factory, TicketRow) == 1
    assert count(session_factory, OutboxMessage) == 1


def test_concurrent_race_rereads_after_integrity_error(session_factory, monkeypatch):
    """A request that passed the first lookup loses on the unique key."""
    repository = TicketRepository(session_factory)
    winner, _ = repository.create_from_handoff(make_handoff())
    lookups = []

    original = TicketRepository._get_by_handoff_key

    def miss_first_lookup(self, key):
        lookups.append(key)
        if len(lookups) == 1:
            return None
        return original(self, key)

    monkeypatch.setattr(TicketRepository, "_get_by_handoff_key", miss_first_lookup)
    loser, created = repository.create_from_handoff(make_handoff())

    assert created is False
    assert loser.id == winner.id
    assert len(lookups) == 2
    assert count(session_factory, TicketRow) == 1
    assert count(session_factory, OutboxMessage) == 1


# Linking to earlier tickets


@pytest.mark.parametrize(
    "second, links",
    [
        ({"conversation_id": "web-conv-2", "member_id": None}, True),  # phone
        ({"conversation_id": "web-conv-2", "phone": "+16505550999"}, True),  # id
        ({"phone": "+16505550999", "member_id": None}, True),  # conversation
        (
            {
                "conversation_id": "web-conv-2",
                "phone": "+16505550999",
                "member_id": "M7654321",
            },
            False,
        ),
    ],
)
def test_later_handoff_links_previous(session_factory, second, links):
    repository = TicketRepository(session_factory)
    first, _ = repository.create_from_handoff(make_handoff())

    later, created = repository.create_from_handoff(
        make_handoff(handoff_id="h2", **second)
    )

    assert created is True
    assert later.id != first.id
    assert later.reference != first.reference
    assert later.previous_ticket_id == (first.id if links else None)
    assert count(session_factory, OutboxMessage) == 2


def test_links_most_recent_ticket(session_factory):
    repository = TicketRepository(session_factory)
    first, _ = repository.create_from_handoff(make_handoff(handoff_id="h1"))
    second, _ = repository.create_from_handoff(make_handoff(handoff_id="h2"))
    third, _ = repository.create_from_handoff(make_handoff(handoff_id="h3"))

    assert second.previous_ticket_id == first.id
    assert third.previous_ticket_id == second.id


# Atomicity and reference collisions


def test_failure_in_transaction_leaves_no_rows(session_factory, monkeypatch):
    real_enqueue = tickets_module.enqueue_sms
    queued = []

    def enqueue_then_fail(session, **values):
        queued.append(real_enqueue(session, **values))
        raise RuntimeError("simulated failure after the outbox row was flushed")

    monkeypatch.setattr(tickets_module, "enqueue_sms", enqueue_then_fail)

    with pytest.raises(RuntimeError):
        TicketRepository(session_factory).create_from_handoff(make_handoff())

    assert len(queued) == 1
    assert queued[0].id is not None  # the row had reached the database
    assert count(session_factory, TicketRow) == 0
    assert count(session_factory, OutboxMessage) == 0


def test_reference_collision_is_retried(session_factory, monkeypatch):
    repository = TicketRepository(session_factory)
    first, _ = repository.create_from_handoff(make_handoff())
    codes = iter([first.reference, first.reference, "HP-AC3D4E"])
    monkeypatch.setattr(tickets_module, "new_reference", lambda: next(codes))

    later, created = repository.create_from_handoff(make_handoff(handoff_id="h2"))

    assert created is True
    assert later.reference == "HP-AC3D4E"
    assert count(session_factory, TicketRow) == 2
    assert count(session_factory, OutboxMessage) == 2


def test_reference_collisions_exhausted(session_factory, monkeypatch):
    repository = TicketRepository(session_factory)
    first, _ = repository.create_from_handoff(make_handoff())
    monkeypatch.setattr(tickets_module, "new_reference", lambda: first.reference)

    with pytest.raises(TicketCreationError):
        repository.create_from_handoff(make_handoff(handoff_id="h2"))

    assert count(session_factory, TicketRow) == 1
    assert count(session_factory, OutboxMessage) == 1


# Reading tickets


def test_get_by_reference_tolerates_typing(session_factory):
    repository = TicketRepository(session_factory)
    ticket, _ = repository.create_from_handoff(make_handoff())
    typed = " " + ticket.reference.lower().replace("-", " ") + " "

    assert repository.get_by_reference(typed) == ticket
    assert repository.get_by_reference("HP-AAAAAA") is None
    assert repository.get_by_reference("not a code") is None


def test_list_for_member(session_factory):
    repository = TicketRepository(session_factory)
    first, _ = repository.create_from_handoff(make_handoff(handoff_id="h1"))
    second, _ = repository.create_from_handoff(
        make_handoff(handoff_id="h2", phone="+16505550999")
    )
    repository.create_from_handoff(
        make_handoff(
            conversation_id="web-conv-9",
            handoff_id="h9",
            phone="+16505550888",
            member_id="M0000009",
        )
    )

    by_phone = repository.list_for_member(phone=PHONE)
    by_member = repository.list_for_member(member_id="M1234567")
    by_either = repository.list_for_member(phone="+16505550888", member_id="M1234567")

    assert [t.id for t in by_phone] == [first.id]
    assert [t.id for t in by_member] == [second.id, first.id]
    assert len(by_either) == 3
    with pytest.raises(ValueError):
        repository.list_for_member()


# Validation


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"phone": "650-555-0123"}, "phone"),
        ({"phone": ""}, "phone"),
        ({"phone": None}, "phone"),
        ({"conversation_id": "+16505550123"}, "conversation_id"),
        ({"conversation_id": ""}, "conversation_id"),
        ({"handoff_id": ""}, "handoff_id"),
        ({"channel": ""}, "channel"),
        ({"channel": "x" * 17}, "channel"),
        ({"consent_contact": False}, "consent_contact"),
        ({"date_of_birth": "02/03/1980"}, "date_of_birth"),
        ({"services": "ecm"}, "services"),
    ],
)
def test_invalid_handoff_rejected(session_factory, changes, field):
    with pytest.raises(InvalidHandoffError) as caught:
        TicketRepository(session_factory).create_from_handoff(make_handoff(**changes))

    assert field in str(caught.value)
    assert "5550123" not in str(caught.value)
    assert count(session_factory, TicketRow) == 0


@pytest.mark.parametrize(
    "birth, expected",
    [
        (date(1980, 2, 3), date(1980, 2, 3)),
        ("1980-02-03", date(1980, 2, 3)),
        (None, None),
    ],
)
def test_date_of_birth_forms(session_factory, birth, expected):
    ticket, _ = TicketRepository(session_factory).create_from_handoff(
        make_handoff(date_of_birth=birth)
    )

    assert ticket.date_of_birth == expected


def test_handoff_key_separates_parts():
    a = make_handoff(conversation_id="a:b", handoff_id="c")
    b = make_handoff(conversation_id="a", handoff_id="b:c")

    assert a.handoff_key != b.handoff_key
    assert replace(a).handoff_key == a.handoff_key


def test_confirmations_to_one_number_are_capped(session_factory):
    repository = TicketRepository(session_factory)
    for index in range(MAX_CONFIRMATIONS_PER_DAY + 2):
        ticket, created = repository.create_from_handoff(
            make_handoff(handoff_id=f"handoff-{index}")
        )
        assert created

    rows = outbox_rows(session_factory)
    assert len(rows) == MAX_CONFIRMATIONS_PER_DAY
    assert count(session_factory, TicketRow) == MAX_CONFIRMATIONS_PER_DAY + 2
