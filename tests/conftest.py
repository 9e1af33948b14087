"""Shared fixtures: databases (SQLite and PostgreSQL) and the fake Twilio API.

PostgreSQL tests use the server at 127.0.0.1:5432, database `test`, user
`postgres` with trust auth (override with TEST_POSTGRES_URL). Each test gets
a schema of its own, dropped afterwards, so runs in parallel do not see each
other's rows. When the
server is unreachable they are skipped, except with CI=true, where they fail.
"""

from __future__ import annotations

import os
import uuid
from typing import Iterator

import pytest
from sqlalchemy import create_engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import NullPool

from bot.db import make_engine, make_session_factory, run_migrations
from tests.fakes.twilio_server import FakeTwilio

POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
)


def _postgres_unavailable(reason: str) -> None:
    message = f"PostgreSQL test database is unreachable: {reason}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message + " (CI=true requires it)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_admin():
    """Engine on the PostgreSQL test database, for creating test schemas."""
    engine = create_engine(
        POSTGRES_URL,
        future=True,
        poolclass=NullPool,
        connect_args={"connect_timeout": 3},
    )
    yield engine
    engine.dispose()


def _postgres_schema_url(request: pytest.FixtureRequest) -> Iterator[str]:
    admin = request.getfixturevalue("postgres_admin")
    schema = f"test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    except OperationalError as error:
        _postgres_unavailable(str(error.orig).strip())

    # libpq's `options` sets the search path, so every table, including
    # alembic_version, lands in the test's own schema.
    separator = "&" if "?" in POSTGRES_URL else "?"
    yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"

    with admin.begin() as connection:
        connection.exec_driver_sql("SET lock_timeout = '10s'")
        connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def db_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """URL of an empty database: a SQLite file, then a PostgreSQL schema.

    Override the parameters with
    `@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)`.
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
    elif request.param == "postgresql":
        yield from _postgres_schema_url(request)
    else:
        raise ValueError(f"Unknown database {request.param!r}")


@pytest.fixture
def session_factory(db_url: str) -> Iterator[sessionmaker]:
    """Session factory on `db_url` after all migrations ran."""
    run_migrations(db_url)
    engine = make_engine(db_url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def twilio_fake() -> Iterator[FakeTwilio]:
    """The fake Twilio API, serving on 127.0.0.1 from a background thread."""
    fake = FakeTwilio(hang_seconds=10.0).start()
    yield fake
    fake.stop()
