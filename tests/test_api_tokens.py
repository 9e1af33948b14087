"""API tokens on SQLite and PostgreSQL: creation, listing, revocation, checks."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.models import ApiToken, utcnow
from bot.workspace.tokens import (
    PREFIX_LENGTH,
    create_token,
    list_tokens,
    revoke_token,
    verify_token,
)


def new_token(session_factory, name="case-management") -> tuple[int, str]:
    with session_factory() as session, session.begin():
        row, token = create_token(session, name)
        return row.id, token


def load(session_factory, token_id: int) -> ApiToken:
    with session_factory() as session:
        return session.get(ApiToken, token_id)


def test_create_stores_hash_and_prefix(session_factory):
    token_id, token = new_token(session_factory)
    row = load(session_factory, token_id)

    assert token.startswith("hpsm_")
    # 32 random bytes in URL-safe base64 without padding are 43 characters.
    assert len(token) == len("hpsm_") + 43
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert row.prefix == token[:PREFIX_LENGTH]
    assert 8 <= len(row.prefix) <= 12
    assert row.name == "case-management"
    assert row.revoked_at is None
    assert row.last_used_at is None


def test_tokens_are_distinct(session_factory):
    tokens = {new_token(session_factory, f"system-{n}")[1] for n in range(5)}

    assert len(tokens) == 5


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_create_rejects_invalid_name(session_factory, name):
    with session_factory() as session:
        with pytest.raises(ValueError, match="token name"):
            create_token(session, name)


def test_verify_accepts_the_token(session_factory):
    token_id, token = new_token(session_factory)

    with session_factory() as session, session.begin():
        row = verify_token(session, token)

    assert row is not None
    assert row.id == token_id


@pytest.mark.parametrize(
    "presented",
    ["", "hpsm_", "hpsm_" + "A" * 43, "Bearer hpsm_x", "not-a-token"],
)
def test_verify_rejects_unknown(session_factory, presented):
    new_token(session_factory)

    with session_factory() as session, session.begin():
        assert verify_token(session, presented) is None


def test_verify_rejects_altered_token(session_factory):
    _, token = new_token(session_factory)
    altered = token[:-1] + ("A" if token[-1] != "A" else "B")

    with session_factory() as session, session.begin():
        assert verify_token(session, altered) is None


def test_verify_rejects_revoked(session_factory):
    token_id, token = new_token(session_factory)
    with session_factory() as session, session.begin():
        revoke_token(session, str(token_id))

    with session_factory() as session, session.begin():
        assert verify_token(session, token) is None


def test_last_used_written_once_a_minute(session_factory):
    token_id, token = new_token(session_factory)
    first = utcnow()

    with session_factory() as session, session.begin():
        verify_token(session, token, now=first)
    assert load(session_factory, token_id).last_used_at == first

    with session_factory() as session, session.begin():
        verify_token(session, token, now=first + timedelta(seconds=30))
    assert load(session_factory, token_id).last_used_at == first

    later = first + timedelta(seconds=61)
    with session_factory() as session, session.begin():
        verify_token(session, token, now=later)
    assert load(session_factory, token_id).last_used_at == later


def test_revoke_by_id_and_prefix(session_factory):
    first_id, _ = new_token(session_factory, "first")
    second_id, second = new_token(session_factory, "second")

    with session_factory() as session, session.begin():
        by_id = revoke_token(session, str(first_id))
        by_prefix = revoke_token(session, second[:PREFIX_LENGTH])

    assert by_id.id == first_id
    assert by_prefix.id == second_id
    assert load(session_factory, first_id).revoked_at is not None
    assert load(session_factory, second_id).revoked_at is not None


def test_revoke_twice_keeps_first_time(session_factory):
    token_id, _ = new_token(session_factory)
    with session_factory() as session, session.begin():
        first = revoke_token(session, str(token_id)).revoked_at
    with session_factory() as session, session.begin():
        again = revoke_token(session, str(token_id)).revoked_at

    assert again == first


@pytest.mark.parametrize("typed", ["999", "hpsm_zzzzzzz", "hpsm_", "hpsm", ""])
def test_revoke_unknown_raises(session_factory, typed):
    new_token(session_factory)

    with session_factory() as session:
        with pytest.raises(LookupError):
            revoke_token(session, typed)


def test_revoke_ambiguous_prefix_raises(session_factory):
    first_id, _ = new_token(session_factory, "first")
    second_id, _ = new_token(session_factory, "second")
    with session_factory() as session, session.begin():
        session.get(ApiToken, first_id).prefix = "hpsm_AAAAAA1"
        session.get(ApiToken, second_id).prefix = "hpsm_AAAAAA2"

    with session_factory() as session:
        with pytest.raises(LookupError, match="longer prefix"):
            revoke_token(session, "hpsm_AAAAAA")
    with session_factory() as session:
        revoked = session.execute(
            select(ApiToken).where(ApiToken.revoked_at.is_not(None))
        ).all()
    assert revoked == []


def test_list_includes_revoked(session_factory):
    first_id, _ = new_token(session_factory, "first")
    second_id, _ = new_token(session_factory, "second")
    with session_factory() as session, session.begin():
        revoke_token(session, str(first_id))

    with session_factory() as session:
        rows = list_tokens(session)

    assert [row.id for row in rows] == [first_id, second_id]
    assert rows[0].revoked_at is not None
    assert rows[1].revoked_at is None
