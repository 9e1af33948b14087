"""Benchmark the coordinator queue with many tickets on SQLite and PostgreSQL.

    .venv/bin/python -m bench.queue_bench --report docs/workspace-performance.md

For each database the benchmark:

1. Creates an empty database: a SQLite file in a temporary directory, or a
   new PostgreSQL database on the server of `--postgres-url`, dropped at the
   end. It runs the migrations, inserts `--tickets` synthetic tickets in
   bulk, and runs ANALYZE.
2. Times each kind of query (see `KINDS`) in rounds, so that a slow spell of
   the machine touches every kind alike, after untimed warm-up rounds. Each
   timed call opens a session from the pool, runs the workspace function and
   closes the session.
3. Checks every result against what the generator inserted, computed in
   Python without SQL, so a fast but wrong query fails the run.

See `bench/README.md` for what each kind measures and what is left out.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import logging
import os
import random
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from statistics import median
from typing import Any, Callable, Iterator

from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bench.report import BASELINE_KIND, KindResult, median_ratio, percentile
from bench.turn_time import load_average, source_revision
from bot.db import make_engine, make_session_factory, run_migrations
from bot.eligibility import SERVICES
from bot.eval_report import Machine, read_machine
from bot.models import StaffUser, Ticket, TicketService
from bot.reference import ALPHABET, CODE_LENGTH, PREFIX
from bot.workspace.export import write_csv
from bot.workspace.queue import (
    CLOSED,
    OPEN_STATUSES,
    QueueFilters,
    iter_queue,
    list_queue,
)

logger = logging.getLogger(__name__)

DEFAULT_TICKETS = 100_000
DEFAULT_REPEATS = 25
DEFAULT_WARMUP = 2
DEFAULT_SEED = 20261212
DEFAULT_POSTGRES_URL = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)
DATABASES = ("sqlite", "postgresql")
INSERT_BATCH = 5000
STAFF_COUNT = 25
PER_PAGE = 25

# The mix of the synthetic queue: weights, not measured shares of HPSM data.
STATUS_WEIGHTS = {
    "new": 18,
    "contact_attempted": 14,
    "contacted": 8,
    "referred_to_provider": 8,
    "authorized": 5,
    "not_authorized": 2,
    "services_started": 10,
    CLOSED: 35,
}
LANGUAGE_WEIGHTS = {"en": 55, "es": 30, "zh": 5, "tl": 5, "vi": 3, None: 2}
SERVICE_CHOICES = ("ecm",) + tuple(SERVICES)
UNASSIGNED_SHARE = 0.3
MISSING_MEMBER_ID_SHARE = 0.25
CHANNELS = ("sms", "socketio", "rest")


class BenchmarkError(RuntimeError):
    """A query returned other rows than the generated data implies."""


@dataclass(frozen=True)
class GeneratedTicket:
    """The values inserted for one ticket, from which expected results are computed."""

    id: int
    reference: str
    phone: str
    member_id: str | None
    status: str
    language: str | None
    services: tuple[str, ...]
    assignee_id: int | None
    due_at: datetime | None
    created_at: datetime


@dataclass
class Dataset:
    """The generated tickets and the fixed time against which overdue is judged."""

    now: datetime
    tickets: list[GeneratedTicket]
    staff_ids: list[int]

    def matching(self, predicate: Callable[[GeneratedTicket], bool]) -> list[GeneratedTicket]:
        """Return the tickets that `predicate` accepts, in the queue's `due` order."""
        far = datetime.max.replace(tzinfo=timezone.utc)
        found = [ticket for ticket in self.tickets if predicate(ticket)]
        # Tickets without a due time come last, then ids ascending.
        return sorted(
            found, key=lambda t: (t.due_at is None, t.due_at or far, t.id)
        )

    def is_overdue(self, ticket: GeneratedTicket) -> bool:
        """Tell whether the queue counts `ticket` as overdue at `now`."""
        return (
            ticket.due_at is not None
            and ticket.due_at < self.now
            and ticket.status != CLOSED
        )


def reference_for(index: int) -> str:
    """Return a distinct valid reference code for each index below 23**6."""
    digits = []
    for _ in range(CODE_LENGTH):
        index, remainder = divmod(index, len(ALPHABET))
        digits.append(ALPHABET[remainder])
    return PREFIX + "".join(reversed(digits))


def phone_for(index: int) -> str:
    """Return a synthetic E.164 number for the ticket at `index`.

    One ticket in ten shares its number with the next one, as when a member
    requests help again.
    """
    number = index + 1 if index % 10 == 0 else index
    return f"+1650{5_000_000 + number % 5_000_000:07d}"


def member_id_for(index: int, rng: random.Random) -> str | None:
    """Return a synthetic member id, or None for the quarter of members who gave none.

    A ticket that shares its phone number with the next one (see `phone_for`)
    also shares its member id.
    """
    if rng.random() < MISSING_MEMBER_ID_SHARE:
        return None
    number = index + 1 if index % 10 == 0 else index
    return f"B{number:08d}"


def _weighted(rng: random.Random, weights: dict[Any, int]) -> Any:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def generate_tickets(
    count: int, staff_ids: list[int], now: datetime, seed: int
) -> list[GeneratedTicket]:
    """Generate `count` tickets with a repeatable random mix.

    Open tickets are due between ten days ago and five days ahead, so about
    two thirds of them are overdue at `now`. Closed tickets have no due
    time. Times are whole seconds, so both databases store them exactly.
    """
    rng = random.Random(seed)
    tickets = []
    for index in range(count):
        status = _weighted(rng, STATUS_WEIGHTS)
        created_at = now - timedelta(seconds=rng.randrange(365 * 86400))
        due_at = None
        if status != CLOSED:
            due_at = now + timedelta(seconds=rng.randrange(-10 * 86400, 5 * 86400))
        assignee = None
        if rng.random() >= UNASSIGNED_SHARE:
            assignee = rng.choice(staff_ids)
        services = tuple(sorted(rng.sample(SERVICE_CHOICES, rng.randint(1, 3))))
        tickets.append(
            GeneratedTicket(
                id=index + 1,
                reference=reference_for(index),
                phone=phone_for(index),
                member_id=member_id_for(index, rng),
                status=status,
                language=_weighted(rng, LANGUAGE_WEIGHTS),
                services=services,
                assignee_id=assignee,
                due_at=due_at,
                created_at=created_at,
            )
        )
    return tickets


def _batches(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def fill_database(engine: Engine, count: int, seed: int) -> Dataset:
    """Insert staff users and `count` tickets with their service rows.

    Returns:
        The dataset as inserted, with the `now` of the generation.
    """
    now = datetime.now(timezone.utc).replace(microsecond=0)
    staff_rows = [
        {
            "id": number,
            "username": f"coordinator{number:02d}",
            "display_name": f"Coordinator {number:02d}",
            "role": "coordinator",
            "password_hash": "not-a-hash: benchmark account without sign-in",
            "active": True,
            "failed_logins": 0,
            "session_epoch": 0,
            "created_at": now,
        }
        for number in range(1, STAFF_COUNT + 1)
    ]
    staff_ids = [row["id"] for row in staff_rows]
    tickets = generate_tickets(count, staff_ids, now, seed)

    with engine.begin() as connection:
        connection.execute(insert(StaffUser.__table__), staff_rows)
        for batch in _batches(tickets, INSERT_BATCH):
            connection.execute(
                insert(Ticket.__table__), [_ticket_row(ticket) for ticket in batch]
            )
            connection.execute(
                insert(TicketService.__table__),
                [
                    {"ticket_id": ticket.id, "service": service}
                    for ticket in batch
                    for service in ticket.services
                ],
            )
        if engine.dialect.name == "postgresql":
            # Explicit ids leave the sequences behind; the workspace inserts later.
            for table in ("tickets", "staff_users"):
                connection.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
                )
    # Fresh statistics, as autovacuum or a scheduled ANALYZE would give a
    # production database; without them the planners guess row counts.
    with engine.connect() as connection:
        connection.execute(text("ANALYZE"))
        connection.commit()
    return Dataset(now=now, tickets=tickets, staff_ids=staff_ids)


def _ticket_row(ticket: GeneratedTicket) -> dict[str, Any]:
    key = hashlib.sha256(f"bench-{ticket.id}".encode()).hexdigest()
    return {
        "id": ticket.id,
        "reference": ticket.reference,
        "handoff_key": key,
        "conversation_id": f"bench-{ticket.id}",
        "channel": CHANNELS[ticket.id % len(CHANNELS)],
        "status": ticket.status,
        "name": f"Member {ticket.id}",
        "phone": ticket.phone,
        "member_id": ticket.member_id,
        "preferred_language": ticket.language,
        "consent_contact": True,
        "consent_share_screening": True,
        "consent_at": ticket.created_at,
        "services": list(ticket.services),
        "created_at": ticket.created_at,
        "updated_at": ticket.created_at,
        "assignee_id": ticket.assignee_id,
        "due_at": ticket.due_at,
        "status_changed_at": ticket.created_at,
        "version": 1,
    }


# The timed kinds


@dataclass
class Kind:
    """One timed query: what it does, how to run it, and what it must return.

    `run` takes a session and returns the result as (total, references);
    `expected` is the same pair computed from the dataset.
    """

    name: str
    description: str
    run: Callable[[Session], tuple[int, list[str]]]
    expected: tuple[int, list[str]]
    samples_ms: list[float] = field(default_factory=list)
    returned: int = 0


def _page(filters: QueueFilters, now: datetime) -> Callable[[Session], tuple[int, list[str]]]:
    def run(session: Session) -> tuple[int, list[str]]:
        page = list_queue(session, filters, now=now)
        return page.total, [row.reference for row in page.rows]

    return run


def _expected_page(matches: list[GeneratedTicket], page: int) -> tuple[int, list[str]]:
    start = (page - 1) * PER_PAGE
    return len(matches), [t.reference for t in matches[start : start + PER_PAGE]]


def build_kinds(dataset: Dataset) -> list[Kind]:
    """Build the timed kinds with their expected results for `dataset`."""
    now = dataset.now
    tickets = dataset.tickets
    middle = tickets[len(tickets) // 2]
    assignee = dataset.staff_ids[len(dataset.staff_ids) // 2]
    service = "housing_deposits"
    shared_phone = tickets[0].phone  # index 0 is a member with several tickets

    def is_open(ticket: GeneratedTicket) -> bool:
        return ticket.status in OPEN_STATUSES

    open_matches = dataset.matching(is_open)
    last_page = max(1, -(-len(open_matches) // PER_PAGE))

    def baseline(session: Session) -> tuple[int, list[str]]:
        reference = session.execute(
            select(Ticket.reference).where(Ticket.id == middle.id)
        ).scalar_one()
        return 1, [reference]

    def count(session: Session) -> tuple[int, list[str]]:
        page = list_queue(
            session, QueueFilters(status="open", per_page=1), now=now
        )
        return page.total, [str(page.overdue_total)]

    export_filters = QueueFilters(status="new", language="es")
    export_matches = dataset.matching(
        lambda t: t.status == "new" and t.language == "es"
    )

    def export(session: Session) -> tuple[int, list[str]]:
        out = io.StringIO(newline="")
        written = write_csv(iter_queue(session, export_filters, now=now), out)
        lines = out.getvalue().splitlines()[1:]
        return written, [line.split(",", 1)[0] for line in lines]

    overdue_open = sum(1 for t in open_matches if dataset.is_overdue(t))
    return [
        Kind(
            BASELINE_KIND,
            "one ticket's reference by primary key (`SELECT ... WHERE id = ?`)",
            baseline,
            (1, [middle.reference]),
        ),
        Kind(
            "open by due date",
            "`list_queue`, status `open`, sorted by due date, first page of 25",
            _page(QueueFilters(status="open", per_page=PER_PAGE), now),
            _expected_page(open_matches, 1),
        ),
        Kind(
            "overdue only",
            "`list_queue`, overdue tickets, first page",
            _page(QueueFilters(overdue=True, per_page=PER_PAGE), now),
            _expected_page(dataset.matching(dataset.is_overdue), 1),
        ),
        Kind(
            "one service",
            f"`list_queue`, open tickets that asked for `{service}`, first page",
            _page(QueueFilters(status="open", service=service, per_page=PER_PAGE), now),
            _expected_page(
                dataset.matching(lambda t: is_open(t) and service in t.services), 1
            ),
        ),
        Kind(
            "one assignee",
            "`list_queue`, open tickets of one coordinator, first page",
            _page(
                QueueFilters(status="open", assignee=assignee, per_page=PER_PAGE), now
            ),
            _expected_page(
                dataset.matching(lambda t: is_open(t) and t.assignee_id == assignee), 1
            ),
        ),
        Kind(
            "last page",
            "`list_queue`, status `open`, the last page (the largest OFFSET)",
            _page(QueueFilters(status="open", page=last_page, per_page=PER_PAGE), now),
            _expected_page(open_matches, last_page),
        ),
        Kind(
            "search reference",
            "`list_queue` with `search` set to one reference code",
            _page(QueueFilters(search=middle.reference, per_page=PER_PAGE), now),
            (1, [middle.reference]),
        ),
        Kind(
            "search phone",
            "`list_queue` with `search` set to a phone number with several tickets",
            _page(QueueFilters(search=shared_phone, per_page=PER_PAGE), now),
            _expected_page(dataset.matching(lambda t: t.phone == shared_phone), 1),
        ),
        Kind(
            "count",
            "`list_queue`, status `open`, one row: the total and overdue counts",
            count,
            (len(open_matches), [str(overdue_open)]),
        ),
        Kind(
            "csv export",
            "`iter_queue` and `write_csv` of status `new`, language `es`, into memory",
            export,
            (len(export_matches), [t.reference for t in export_matches]),
        ),
    ]


def measure(
    factory: sessionmaker, kinds: list[Kind], repeats: int, warmup: int
) -> None:
    """Time every kind `repeats` times in rounds, after `warmup` untimed rounds.

    Raises:
        BenchmarkError: A result differs from the expected one.
    """
    for round_number in range(warmup + repeats):
        for kind in kinds:
            started = time.perf_counter()
            with factory() as session:
                result = kind.run(session)
            elapsed_ms = (time.perf_counter() - started) * 1000.0
            if result != kind.expected:
                raise BenchmarkError(
                    f"{kind.name!r} returned {result[0]} rows "
                    f"{result[1][:5]}...; expected {kind.expected[0]} rows "
                    f"{kind.expected[1][:5]}..."
                )
            kind.returned = len(result[1])
            if round_number >= warmup:
                kind.samples_ms.append(elapsed_ms)


# Databases


@dataclass(frozen=True)
class DatabaseRun:
    """The results of one database."""

    database: str
    server_version: str
    fill_seconds: float
    kinds: list[KindResult]
    totals: dict[str, int]
    returned: dict[str, int]


def _server_version(engine: Engine) -> str:
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            version = connection.execute(text("SELECT sqlite_version()")).scalar_one()
            return f"SQLite {version}"
        version = connection.execute(text("SHOW server_version")).scalar_one()
        return f"PostgreSQL {version}"


def run_database(
    database: str, url: str, tickets: int, repeats: int, warmup: int, seed: int
) -> DatabaseRun:
    """Migrate and fill the database at `url`, then time every kind on it."""
    run_migrations(url)
    engine = make_engine(url)
    try:
        logger.info("%s: inserting %d tickets", database, tickets)
        started = time.monotonic()
        dataset = fill_database(engine, tickets, seed)
        fill_seconds = time.monotonic() - started
        logger.info("%s: filled in %.1f s; timing queries", database, fill_seconds)

        kinds = build_kinds(dataset)
        measure(make_session_factory(engine), kinds, repeats, warmup)
        return DatabaseRun(
            database=database,
            server_version=_server_version(engine),
            fill_seconds=fill_seconds,
            kinds=[
                KindResult(kind.name, kind.description, tuple(kind.samples_ms))
                for kind in kinds
            ],
            totals={kind.name: kind.expected[0] for kind in kinds},
            returned={kind.name: kind.returned for kind in kinds},
        )
    finally:
        engine.dispose()


def create_postgres_database(admin_url: str) -> tuple[str, Callable[[], None]]:
    """Create an empty database next to `admin_url`; return its URL and a drop call.

    Raises:
        BenchmarkError: The server is unreachable or refuses to create it.
    """
    name = f"hpsm_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(
        admin_url,
        isolation_level="AUTOCOMMIT",
        connect_args={"connect_timeout": 5},
        future=True,
    )
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except OperationalError as error:
        admin.dispose()
        raise BenchmarkError(
            f"cannot create a PostgreSQL database at {make_url(admin_url).host}: "
            f"{str(error.orig).strip()}"
        ) from None

    def drop() -> None:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()

    url = make_url(admin_url).set(database=name)
    return url.render_as_string(hide_password=False), drop


def run_benchmark(args: argparse.Namespace) -> tuple[dict[str, Any], list[DatabaseRun]]:
    """Run every requested database and return the run details and results."""
    load_before = load_average()
    runs = []
    for database in args.databases:
        if database == "sqlite":
            with tempfile.TemporaryDirectory(prefix="hpsm-queue-bench-") as temp:
                url = f"sqlite:///{Path(temp) / 'bench.db'}"
                runs.append(
                    run_database(
                        database, url, args.tickets, args.repeats, args.warmup, args.seed
                    )
                )
        else:
            url, drop = create_postgres_database(args.postgres_url)
            try:
                runs.append(
                    run_database(
                        database, url, args.tickets, args.repeats, args.warmup, args.seed
                    )
                )
            finally:
                drop()
    info = {
        "generated": datetime.now().astimezone(),
        "machine": read_machine(),
        "command": args.command,
        "revision": source_revision(),
        "tickets": args.tickets,
        "repeats": args.repeats,
        "warmup": args.warmup,
        "seed": args.seed,
        "load_before": load_before,
        "load_after": load_average(),
    }
    return info, runs


# Report


def _ratio(value: float) -> str:
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}"


def render_report(info: dict[str, Any], runs: list[DatabaseRun]) -> str:
    """Render the Markdown report of a run.

    Raises:
        ValueError: A database has no baseline kind or a kind has no samples.
    """
    machine: Machine = info["machine"]
    lines = [
        "# Workspace queue performance",
        "",
        "Generated by `bench.queue_bench` (see `bench/README.md`); do not edit by "
        "hand. Numbers are from one run on the machine below and change with the "
        "machine and its load. The ratio divides a kind's median by the median "
        "of the baseline, a primary-key lookup timed in the same run on the same "
        "database, which cancels part of the difference between machines.",
        "",
        "| | |",
        "| --- | --- |",
        f"| date | {info['generated'].strftime('%Y-%m-%d %H:%M %Z').strip()} |",
        f"| machine | {machine.describe()} |",
        f"| load average (1, 5, 15 min) before, after | {info['load_before']}; "
        f"{info['load_after']} |",
        f"| command | `{info['command']}` |",
        f"| tickets | {info['tickets']:,} |",
        f"| timed repeats per kind | {info['repeats']}, after {info['warmup']} "
        "warm-up rounds |",
    ]
    if info.get("revision"):
        lines.append(f"| git commit | {info['revision']} |")
    lines += _busy_note(info)

    for run in runs:
        lines += _database_section(run)
    lines += [
        "",
        "## Reading the numbers",
        "",
        "Each time runs from opening a session (a pooled connection) to the last "
        "row read, in the benchmark's own process, so it includes SQLAlchemy's "
        "work but no HTTP. Every result was checked against the generated data "
        "before it counted. p95 is interpolated between the two closest ranks, "
        "so with few repeats it rests on the slowest two or three calls.",
    ]
    return "\n".join(lines) + "\n"


def _busy_note(info: dict[str, Any]) -> list[str]:
    loads = []
    for reading in (info["load_before"], info["load_after"]):
        try:
            loads.append(float(reading.split()[0]))
        except (IndexError, ValueError):
            continue
    cpus = info["machine"].logical_cpus
    if not loads or cpus < 1 or max(loads) <= cpus:
        return []
    return [
        "",
        f"**The machine was busy.** The 1-minute load average at the start or end "
        f"of the run was {max(loads):.1f} on {cpus} logical CPUs, so other "
        "processes competed for the CPU and the times below are longer than on an "
        "idle machine.",
    ]


def _database_section(run: DatabaseRun) -> list[str]:
    baseline = next((k for k in run.kinds if k.name == BASELINE_KIND), None)
    if baseline is None:
        raise ValueError(f"{run.database}: no {BASELINE_KIND!r} kind among the results")
    lines = [
        "",
        f"## {run.database}",
        "",
        f"{run.server_version}. Filling the database took {run.fill_seconds:.1f} s.",
        "",
        "| kind | what is timed | matching | rows read | median ms | p95 ms | "
        "median / baseline |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for result in run.kinds:
        if not result.samples_ms:
            raise ValueError(f"{run.database}: kind {result.name!r} has no samples")
        lines.append(
            f"| {result.name} | {result.description} | "
            f"{run.totals[result.name]:,} | {run.returned[result.name]:,} | "
            f"{median(result.samples_ms):.2f} | "
            f"{percentile(result.samples_ms, 0.95):.2f} | "
            f"{_ratio(median_ratio(result, baseline))} |"
        )
    return lines


def _write_json(path: Path, info: dict[str, Any], runs: list[DatabaseRun]) -> None:
    data = {
        "info": {
            **info,
            "generated": info["generated"].isoformat(),
            "machine": asdict(info["machine"]),
        },
        "databases": [asdict(run) for run in runs],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {number}")
    return number


def build_parser() -> argparse.ArgumentParser:
    """Build the command line's argument parser."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.queue_bench",
        description="Fill SQLite and PostgreSQL with synthetic tickets and time the "
        "coordinator queue's list, search, count and CSV export.",
    )

    parser.add_argument(
        "--tickets", type=_positive, default=DEFAULT_TICKETS, help="tickets to insert"
    )

    parser.add_argument(
        "--repeats",
        type=_positive,
        default=DEFAULT_REPEATS,
        help="timed calls of each kind, after the warm-up",
    )

    parser.add_argument(
        "--warmup",
        type=int,
        default=DEFAULT_WARMUP,
        help="untimed rounds of every kind before the timed ones",
    )

    parser.add_argument(
        "--databases",
        default=",".join(DATABASES),
        help="comma-separated databases to run: sqlite, postgresql",
    )

    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES_URL,
        help="SQLAlchemy URL of a PostgreSQL database whose user may create "
        "databases; the benchmark creates its own next to it and drops it "
        "(default: BENCH_POSTGRES_URL, else the server on 127.0.0.1:5432)",
    )

    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help="seed of the ticket generator"
    )

    parser.add_argument("--report", type=Path, help="Markdown file to write")
    parser.add_argument("--json", type=Path, help="JSON file for the raw samples")
    parser.add_argument(
        "--command",
        default=None,
        help="command to name in the report (default: this command line)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the report, and write it with `--report`."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.databases = [name.strip() for name in args.databases.split(",") if name.strip()]
    unknown = [name for name in args.databases if name not in DATABASES]
    if unknown or not args.databases:
        parser.error(f"--databases takes names from {', '.join(DATABASES)}")
    if args.warmup < 0:
        parser.error("--warmup must be 0 or more")
    if args.command is None:
        arguments = sys.argv[1:] if argv is None else argv
        args.command = " ".join([".venv/bin/python -m bench.queue_bench", *arguments])

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    try:
        info, runs = run_benchmark(args)
    except (BenchmarkError, OperationalError, OSError) as error:
        print(f"error: benchmark failed: {error}", file=sys.stderr)
        return 1

    markdown = render_report(info, runs)
    print(markdown)
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(markdown, encoding="utf-8")
        print(f"wrote {args.report}")
    if args.json:
        _write_json(args.json, info, runs)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
