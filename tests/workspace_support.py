"""Shared fixtures for the workspace tests: a running web app, staff and tickets.

The web app (`bot.web.create_app`) serves on a free loopback port, and tests
talk to it over real HTTP with one `StaffClient` per simulated browser. The
workspace reads the time from `ManualClock`, so tests move time forward
instead of sleeping.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterator

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import select

from bot.models import Ticket, TicketService, utcnow
from bot.privacy import RASA_EVENTS
from bot.reference import new_reference
from bot.settings import load_settings
from bot.web import create_app
from bot.workspace import auth
from bot.workspace.app import WORKSPACE_CLOCK

PASSWORD = "a long enough password"
CSRF_PATTERN = re.compile(r'name="csrf_token" value="([^"]+)"')
VERSION_PATTERN = re.compile(r'name="version" value="(\d+)"')
XSS_SCRIPT = "<script>alert(1)</script>"
XSS_ATTRIBUTE = '"><img src=x onerror=alert(2)>'


class ManualClock:
    """A clock that moves only when a test moves it."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Workspace:
    """The running web app and what tests need to reach it."""

    url: str
    app: web.Application
    session_factory: Any
    clock: ManualClock

    def client(self) -> "StaffClient":
        return StaffClient(self.url)


class StaffClient:
    """One browser: its own cookie jar, never following redirects by itself."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        # `unsafe=True` keeps cookies set by an IP address such as 127.0.0.1.
        self.http = aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True),
            headers={"Accept": "text/html,application/xhtml+xml"},
        )

    async def close(self) -> None:
        await self.http.close()

    async def get(
        self, path: str, **kwargs: Any
    ) -> tuple[int, str, aiohttp.ClientResponse]:
        async with self.http.get(
            self.base_url + path, allow_redirects=False, **kwargs
        ) as response:
            return response.status, await response.text(), response

    async def post(
        self, path: str, fields: dict[str, str], **kwargs: Any
    ) -> tuple[int, str, aiohttp.ClientResponse]:
        async with self.http.post(
            self.base_url + path, data=fields, allow_redirects=False, **kwargs
        ) as response:
            return response.status, await response.text(), response

    async def login(
        self, username: str, password: str = PASSWORD, next_path: str | None = None
    ) -> tuple[int, str, aiohttp.ClientResponse]:
        """Open the sign-in form and submit it with its CSRF token."""
        query = f"?next={next_path}" if next_path else ""
        status, html, _ = await self.get("/workspace/login" + query)
        assert status == 200, html
        fields = {
            "csrf_token": csrf_token(html),
            "username": username,
            "password": password,
        }
        next_value = re.search(r'name="next" value="([^"]*)"', html)
        if next_value:
            fields["next"] = next_value.group(1).replace("&amp;", "&")
        return await self.post("/workspace/login", fields)

    def cookie(self, name: str) -> str | None:
        for cookie in self.http.cookie_jar:
            if cookie.key == name:
                return cookie.value
        return None


def csrf_token(html: str) -> str:
    """Return the first CSRF token in a page's forms."""
    match = CSRF_PATTERN.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def ticket_version(html: str) -> str:
    """Return the ticket version in the page's first versioned form."""
    match = VERSION_PATTERN.search(html)
    assert match, "no ticket version on the page"
    return match.group(1)


def add_staff(
    session_factory, username: str, role: str = "coordinator", name: str | None = None
) -> int:
    """Create an active account with `PASSWORD`; return its id."""
    with session_factory() as session:
        user = auth.create_user(
            session,
            username,
            role=role,
            display_name=name or username.capitalize(),
            password=PASSWORD,
        )
        session.commit()
        return user.id


def add_ticket(session_factory, **fields: Any) -> str:
    """Insert a ticket with plausible defaults; return its reference code."""
    now = utcnow()
    services = fields.pop("services", ["ecm"])
    values = {
        "reference": new_reference(),
        "handoff_key": uuid.uuid4().hex + uuid.uuid4().hex,
        "conversation_id": "conv-" + uuid.uuid4().hex,
        "channel": "sms",
        "status": "new",
        "name": "Test Member",
        "phone": "+16505550100",
        "preferred_language": "en",
        "consent_contact": True,
        "consent_share_screening": True,
        "consent_at": now,
        "services": services,
        "screening_result": {
            "ecm": {
                "status": "likely",
                "reasons": [
                    {
                        "code": "homelessness",
                        "met": True,
                        "text": "Experiencing homelessness",
                    }
                ],
            }
        },
        "due_at": now + timedelta(days=2),
        "created_at": now,
        "updated_at": now,
        **fields,
    }
    with session_factory() as session:
        ticket = Ticket(**values)
        session.add(ticket)
        session.flush()
        for service in services:
            session.add(TicketService(ticket_id=ticket.id, service=service))
        session.commit()
        return ticket.reference


def load_ticket(session_factory, reference: str) -> Ticket:
    with session_factory() as session:
        return session.execute(
            select(Ticket).where(Ticket.reference == reference)
        ).scalar_one()


def add_messages(
    session_factory, conversation_id: str, texts: list[tuple[str, str]]
) -> None:
    """Store Rasa tracker events (`user` or `bot`, text) for a conversation."""
    with session_factory() as session:
        engine = session.get_bind()
        RASA_EVENTS.metadata.create_all(engine, tables=[RASA_EVENTS])
        for offset, (type_name, text) in enumerate(texts):
            session.execute(
                RASA_EVENTS.insert().values(
                    sender_id=conversation_id,
                    type_name=type_name,
                    timestamp=utcnow().timestamp() + offset,
                    data=json.dumps({"event": type_name, "text": text}),
                )
            )
        session.commit()


def workspace_settings(db_url: str, tmp_path, **overrides: str):
    env = {
        "APP_SECRET": "workspace-test-secret",
        "DATABASE_URL": db_url,
        "VAR_DIR": str(tmp_path / "var"),
        "WORKSPACE_MAX_FAILED_LOGINS": "3",
        "WORKSPACE_LOCKOUT_MINUTES": "15",
        "WORKSPACE_SESSION_MINUTES": "30",
        **overrides,
    }
    return load_settings(env)


async def start_workspace(
    settings, session_factory, clock: ManualClock
) -> tuple[Workspace, web.AppRunner]:
    app = create_app(settings, session_factory)
    app[WORKSPACE_CLOCK] = clock
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return Workspace(f"http://{host}:{port}", app, session_factory, clock), runner


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def workspace(session_factory, db_url, tmp_path, clock) -> Iterator[Workspace]:
    """The web app on a free loopback port, on SQLite and on PostgreSQL."""
    running, runner = await start_workspace(
        workspace_settings(db_url, tmp_path), session_factory, clock
    )
    yield running
    await runner.cleanup()


@pytest.fixture
async def browser(workspace) -> Iterator[StaffClient]:
    client = workspace.client()
    yield client
    await client.close()
