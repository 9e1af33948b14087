"""Alembic environment for the member assistant's database.

`bot.db.run_migrations()` passes an open connection in
`config.attributes["connection"]`. From the command line the URL comes from
`sqlalchemy.url` in alembic.ini, or else from `DATABASE_URL`.
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context

from bot.db import make_engine
from bot.models import Base
from bot.settings import get_settings

config = context.config
target_metadata = Base.metadata


def _configure(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        # SQLite cannot ALTER most things; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )


def run_offline() -> None:
    """Write the SQL to stdout instead of running it (`alembic upgrade --sql`)."""
    url = config.get_main_option("sqlalchemy.url") or get_settings().database_url
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Run the migrations on the given connection or on a new engine."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return

    # Only the command line sets up logging from alembic.ini, and it keeps the
    # application's loggers enabled.
    if config.config_file_name is not None:
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    url = config.get_main_option("sqlalchemy.url") or get_settings().database_url
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            _configure(connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
