"""Helpers for tests that need the PostgreSQL and Redis servers on loopback.

Without a server the test is skipped, except when CI=true, where it fails:
CI must exercise the production path.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy import create_engine
from sqlalchemy.exc import OperationalError

POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
)
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
# A Redis database number no other test uses, so its clients can be told apart.
REDIS_TEST_DB = 7


def service_missing(message: str) -> None:
    """Skip the test, or fail it under CI, because a service is unreachable."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI=true requires it)")
    pytest.skip(message)


def require_redis() -> None:
    try:
        socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=3).close()
    except OSError as error:
        service_missing(f"Redis at {REDIS_HOST}:{REDIS_PORT} is unreachable: {error}")


def redis_clients() -> list[dict]:
    """Return Redis's CLIENT LIST entries as dicts."""
    import redis

    return redis.Redis(host=REDIS_HOST, port=REDIS_PORT).client_list()


@dataclass
class TemporaryDatabase:
    """A PostgreSQL database created for one test module."""

    name: str
    url: str

    def drop(self) -> None:
        engine = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.exec_driver_sql(
                f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'
            )
        engine.dispose()


def create_postgres_database() -> TemporaryDatabase:
    """Create an empty database on the test server and return its URL."""
    name = f"hpsm_test_{uuid.uuid4().hex[:10]}"
    engine = create_engine(
        POSTGRES_ADMIN_URL,
        isolation_level="AUTOCOMMIT",
        connect_args={"connect_timeout": 3},
    )
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except OperationalError as error:
        service_missing(f"PostgreSQL is unreachable: {error.orig}")
    finally:
        engine.dispose()
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    return TemporaryDatabase(name, f"{base}/{name}")
