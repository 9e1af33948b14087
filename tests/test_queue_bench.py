"""The queue benchmark at a small size, so that it keeps working between full runs.

No test here asserts a duration. They check that every timed query returns
what the generated data implies and that the report has its sections.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from bench import queue_bench
from bench.queue_bench import (
    BASELINE_KIND,
    build_kinds,
    fill_database,
    generate_tickets,
    main,
    reference_for,
)
from bot.db import make_engine, make_session_factory, run_migrations
from bot.models import Ticket, TicketService
from bot.reference import normalize_reference
from tests.services import service_missing

SMALL = 500
KIND_NAMES = [
    "baseline",
    "open by due date",
    "overdue only",
    "one service",
    "one assignee",
    "last page",
    "search reference",
    "search phone",
    "count",
    "csv export",
]


def test_references_distinct_and_valid():
    references = [reference_for(index) for index in range(5000)]

    assert len(set(references)) == len(references)
    for reference in references[:: 97]:
        assert normalize_reference(reference) == reference


def test_generator_repeatable():
    now = datetime(2026, 12, 1, 12, tzinfo=timezone.utc)

    first = generate_tickets(200, [1, 2, 3], now, seed=7)
    second = generate_tickets(200, [1, 2, 3], now, seed=7)

    assert first == second
    assert {ticket.status for ticket in first} >= {"new", "closed"}
    assert all(ticket.due_at is None for ticket in first if ticket.status == "closed")


def test_every_kind_returns_expected_rows(db_url):
    run_migrations(db_url)
    engine = make_engine(db_url)
    try:
        dataset = fill_database(engine, SMALL, seed=11)
        factory = make_session_factory(engine)
        with factory() as session:
            stored = session.execute(select(func.count(Ticket.id))).scalar_one()
            services = session.execute(
                select(func.count()).select_from(TicketService)
            ).scalar_one()
        assert stored == SMALL
        assert services == sum(len(ticket.services) for ticket in dataset.tickets)

        kinds = build_kinds(dataset)
        assert [kind.name for kind in kinds] == KIND_NAMES
        for kind in kinds:
            with factory() as session:
                total, references = kind.run(session)
            assert (total, references) == kind.expected, kind.name
            # A kind that matches nothing would time an empty result.
            assert total > 0, kind.name
            assert references, kind.name
    finally:
        engine.dispose()


def test_main_writes_report(tmp_path, postgres_admin):
    report = tmp_path / "report.md"
    raw = tmp_path / "raw.json"

    code = main(
        [
            "--tickets", str(SMALL), "--repeats", "2", "--warmup", "1",
            "--postgres-url", queue_bench_admin_url(postgres_admin),
            "--report", str(report), "--json", str(raw),
        ]
    )  # fmt: skip

    assert code == 0
    text = report.read_text()
    assert text.startswith("# Workspace queue performance")
    assert f"| tickets | {SMALL} |" in text
    for database in ("sqlite", "postgresql"):
        section = text.split(f"## {database}\n", 1)[1].split("\n## ", 1)[0]
        rows = [line for line in section.splitlines() if line.startswith("| ")][2:]
        assert [row.split(" | ")[0][2:] for row in rows] == KIND_NAMES
        for row in rows:
            cells = [cell.strip() for cell in row.strip("|").split("|")]
            assert len(cells) == 7
            assert re.fullmatch(r"[0-9.]+", cells[4])
            assert re.fullmatch(r"[0-9.]+", cells[6])
        baseline = rows[0].strip("|").split("|")
        assert baseline[-1].strip() == "1.0"

    data = json.loads(raw.read_text())
    assert [run["database"] for run in data["databases"]] == ["sqlite", "postgresql"]
    for run in data["databases"]:
        for kind in run["kinds"]:
            assert len(kind["samples_ms"]) == 2
        assert run["kinds"][0]["name"] == BASELINE_KIND
    assert data["info"]["tickets"] == SMALL


def queue_bench_admin_url(admin_engine) -> str:
    """Return the URL of the test server; skip, or fail under CI, when it is down."""
    try:
        with admin_engine.connect():
            pass
    except OperationalError as error:
        service_missing(f"PostgreSQL is unreachable: {error.orig}")
    return admin_engine.url.render_as_string(hide_password=False)


def test_postgres_database_dropped(postgres_admin):
    url, drop = queue_bench.create_postgres_database(queue_bench_admin_url(postgres_admin))
    name = url.rsplit("/", 1)[1]
    drop()

    with postgres_admin.connect() as connection:
        names = connection.exec_driver_sql(
            "SELECT datname FROM pg_database WHERE datname = %(name)s", {"name": name}
        ).all()
    assert names == []


def test_main_rejects_unknown_database(capsys):
    with pytest.raises(SystemExit):
        main(["--databases", "mysql"])

    assert "--databases" in capsys.readouterr().err
