"""SQLAlchemy engine, session factory and Alembic migrations.

Every call here blocks. The product's actions and the outbox sender are
async, so they run database work through `run_in_thread`, never directly on
the event loop.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from pathlib import Path
from typing import Any, Callable, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import Select

from bot.settings import PROJECT_ROOT, get_settings

logger = logging.getLogger(__name__)

ALEMBIC_INI = PROJECT_ROOT / "alembic.ini"
MIGRATIONS_DIR = PROJECT_ROOT / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 10_000

T = TypeVar("T")


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """Create an engine for `url` (default: `DATABASE_URL` from the settings).

    For a SQLite file the parent directory is created, and every connection
    gets write-ahead logging, a busy timeout and foreign key enforcement, so
    the action server and the outbox sender can write at the same time.

    Args:
        url: SQLAlchemy database URL.
        **kwargs: Extra arguments for `sqlalchemy.create_engine`.

    Returns:
        A 2.0-style (`future=True`) engine.
    """
    url = url or get_settings().database_url
    parsed = make_url(url)
    is_sqlite = parsed.get_backend_name() == "sqlite"

    if is_sqlite:
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        connect_args = kwargs.pop("connect_args", {})
        # Connections are used from worker threads, one thread at a time.
        connect_args.setdefault("check_same_thread", False)
        kwargs["connect_args"] = connect_args
    else:
        kwargs.setdefault("pool_pre_ping", True)

    engine = create_engine(url, future=True, **kwargs)
    if is_sqlite:
        event.listen(engine, "connect", _configure_sqlite_connection)
    return engine


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def make_session_factory(engine: Engine) -> sessionmaker:
    """Create a session factory bound to `engine`.

    Sessions keep loaded attributes after commit (`expire_on_commit=False`),
    so values read inside a transaction stay readable after it ends.
    """
    return sessionmaker(
        bind=engine, class_=Session, future=True, expire_on_commit=False
    )


@functools.lru_cache(maxsize=1)
def get_engine() -> Engine:
    """Return the process-wide engine for `DATABASE_URL`."""
    return make_engine()


@functools.lru_cache(maxsize=1)
def get_session_factory() -> sessionmaker:
    """Return the process-wide session factory bound to `get_engine()`."""
    return make_session_factory(get_engine())


def alembic_config(url: str | None = None) -> Config:
    """Build the Alembic configuration for this project.

    Args:
        url: Database URL to migrate (default: `DATABASE_URL`).

    Returns:
        A `Config` that works from any working directory.
    """
    config = Config(str(ALEMBIC_INI))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Alembic's ini parser treats "%" as interpolation, so it must be doubled.
    url = url or get_settings().database_url
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def run_migrations(url: str | None = None) -> None:
    """Upgrade the database at `url` to the newest Alembic revision.

    The runner calls this at start-up and tests call it on fresh databases.
    It uses `make_engine`, so a SQLite file gets the same pragmas as in
    production.

    Args:
        url: Database URL (default: `DATABASE_URL`).
    """
    url = url or get_settings().database_url
    config = alembic_config(url)
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    finally:
        engine.dispose()
    logger.info("Database migrated to head (%s)", make_url(url).get_backend_name())


def skip_locked(statement: Select, session: Session, **options: Any) -> Select:
    """Make a claim query skip rows that another replica has locked.

    On PostgreSQL this adds `FOR UPDATE SKIP LOCKED` (with `options` such as
    `of=`). SQLite has no row locks; there the caller's guarded UPDATE keeps
    one claim per row.
    """
    if session.get_bind().dialect.name == "postgresql":
        return statement.with_for_update(skip_locked=True, **options)
    return statement


async def run_in_thread(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run the blocking call `fn(*args, **kwargs)` in a worker thread.

    Args:
        fn: A blocking function, such as a repository method.
        *args: Positional arguments for `fn`.
        **kwargs: Keyword arguments for `fn`.

    Returns:
        What `fn` returns. Exceptions from `fn` propagate to the caller.
    """
    return await asyncio.to_thread(fn, *args, **kwargs)
