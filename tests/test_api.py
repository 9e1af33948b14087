"""The JSON API under /api/v1 over real HTTP on loopback, on SQLite and PostgreSQL.

The product's web application runs on a free port of 127.0.0.1 and the tests
talk to it with aiohttp's client, as HPSM's systems would.
"""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
from dataclasses import dataclass
from datetime import date, timedelta

import aiohttp
import jsonschema
import pytest
from aiohttp import web
from sqlalchemy import select

from bot.models import AuditEntry, Ticket, TicketStatusChange
from bot.opt_outs import record_opt_out
from bot.tickets import HandoffRequest, TicketRepository
from bot.web import PathOnlyAccessLogger, create_app
from bot.workspace.api import load_openapi
from bot.workspace.auth import create_user
from bot.workspace.tokens import create_token, revoke_token
from tests.outbox_support import make_settings

NAME = "Ana <b>Api</b> Perez"
PHONE = "+16505550177"
MEMBER_ID = "M5550177"
PROJECT_ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent


@dataclass
class Api:
    """A running web application and a client with a valid token."""

    base: str
    token: str
    client: aiohttp.ClientSession
    session_factory: object
    app: web.Application

    def headers(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}

    async def request(self, method: str, path: str, token: str | None = None, **kwargs):
        headers = {**self.headers(token), **kwargs.pop("headers", {})}
        async with self.client.request(
            method, self.base + path, headers=headers, **kwargs
        ) as response:
            body = await response.read()
            return response.status, response.headers.copy(), body

    async def json(self, method: str, path: str, **kwargs):
        status, headers, body = await self.request(method, path, **kwargs)
        return status, headers, json.loads(body)


@pytest.fixture
async def api(session_factory, tmp_path):
    with session_factory() as session, session.begin():
        _, token = create_token(session, "case-management")
        create_user(
            session,
            "coordinator1",
            role="coordinator",
            display_name="Casey Coordinator",
            password="a long enough password",
        )
    app = create_app(make_settings(tmp_path), session_factory)
    # The access logger of `python -m bot.web`, which leaves out query strings.
    runner = web.AppRunner(app, access_log_class=PathOnlyAccessLogger)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    async with aiohttp.ClientSession() as client:
        yield Api(f"http://127.0.0.1:{port}", token, client, session_factory, app)
    await runner.cleanup()


def create_ticket(session_factory, handoff_id: str = "h1", **changes) -> str:
    values = dict(
        conversation_id=f"conv-{handoff_id}",
        handoff_id=handoff_id,
        channel="rest",
        name=NAME,
        phone=PHONE,
        member_id=MEMBER_ID,
        date_of_birth="1975-04-03",
        preferred_language="es",
        call_time="mornings",
        consent_contact=True,
        consent_share_screening=True,
        services=["ecm"],
        screening_profile={"plan": "medi-cal", "unhoused": True},
        screening_result={"rule_set": "hpsm-2022", "ecm": {"status": "likely"}},
    )
    values.update(changes)
    ticket, _ = TicketRepository(session_factory).create_from_handoff(
        HandoffRequest(**values)
    )
    return ticket.reference


def audit_actions(session_factory) -> list[tuple[str, str | None, str]]:
    with session_factory() as session:
        rows = session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars()
        return [(row.action, row.ticket_reference, row.actor) for row in rows]


def api_routes(app: web.Application) -> list[tuple[str, str]]:
    """Every (method, path template) registered under /api/v1, HEAD left out."""
    routes = []
    for route in app.router.routes():
        path = route.resource.canonical if route.resource else ""
        if path.startswith("/api/v1/") and route.method != "HEAD":
            routes.append((route.method, path))
    return routes


# Authentication


def bad_tokens(api: Api) -> dict[str, dict[str, str]]:
    with api.session_factory() as session, session.begin():
        row, revoked = create_token(session, "retired-system")
        revoke_token(session, str(row.id))
    return {
        "revoked token": {"Authorization": f"Bearer {revoked}"},
        "no header": {},
        "empty bearer": {"Authorization": "Bearer "},
        "basic scheme": {"Authorization": f"Basic {api.token}"},
        "unknown token": {"Authorization": "Bearer hpsm_" + "x" * 43},
        "altered token": {"Authorization": f"Bearer {api.token[:-2]}zz"},
    }


async def test_every_route_needs_token(api):
    reference = create_ticket(api.session_factory)
    routes = [
        (method, path.replace("{reference}", reference))
        for method, path in api_routes(api.app)
        if path != "/api/v1/openapi.json"
    ]
    routes.append(("GET", "/api/v1/no-such-route"))
    assert len(routes) >= 5

    cases = bad_tokens(api)
    for method, path in routes:
        for case, headers in cases.items():
            async with api.client.request(
                method, api.base + path, headers=headers, json={"version": 1}
            ) as response:
                body = await response.json()
                assert response.status == 401, (method, path, case)
                assert response.headers["WWW-Authenticate"].startswith("Bearer")
                assert body["error"]["code"] == "unauthorized"


async def test_revoked_token_rejected(api):
    status, _, _ = await api.request("GET", "/api/v1/tickets")
    assert status == 200
    with api.session_factory() as session, session.begin():
        revoke_token(session, api.token[:12])

    status, headers, body = await api.json("GET", "/api/v1/tickets")

    assert status == 401
    assert 'error="invalid_token"' in headers["WWW-Authenticate"]
    assert "revoked" in body["error"]["message"]


async def test_unknown_route_is_json_404(api):
    status, _, body = await api.json("GET", "/api/v1/no-such-route")

    assert status == 404
    assert body["error"]["code"] == "not_found"


async def test_wrong_method_is_json_405(api):
    status, _, body = await api.json("DELETE", "/api/v1/screenings")

    assert status == 405
    assert "DELETE" in body["error"]["message"]


# OpenAPI document


async def openapi(api: Api) -> dict:
    async with api.client.get(api.base + "/api/v1/openapi.json") as response:
        assert response.status == 200
        assert response.content_type == "application/json"
        return json.loads(await response.read())


def validate(document: dict, schema_name: str, instance) -> None:
    schema = {"$ref": f"#/components/schemas/{schema_name}"}
    resolver = jsonschema.RefResolver.from_schema(document)
    jsonschema.Draft202012Validator(schema, resolver=resolver).validate(instance)


async def test_openapi_lists_every_route(api):
    document = await openapi(api)

    assert document["openapi"].startswith("3.1")
    documented = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in ("get", "post", "patch", "put", "delete")
    }
    registered = set(api_routes(api.app))
    assert registered == documented
    for path in (
        "/api/v1/tickets",
        "/api/v1/tickets/{reference}",
        "/api/v1/screenings",
        "/api/v1/openapi.json",
    ):
        assert path in document["paths"]


async def test_openapi_refs_resolve(api):
    document = await openapi(api)
    text = json.dumps(document)
    resolver = jsonschema.RefResolver.from_schema(document)

    refs = set()
    for part in text.split('"$ref": "')[1:]:
        refs.add(part.split('"', 1)[0])
    assert refs
    for ref in refs:
        resolver.resolve(ref)


# GET /api/v1/tickets


async def test_list_tickets(api):
    references = [create_ticket(api.session_factory, f"h{n}") for n in range(3)]
    document = await openapi(api)

    status, _, body = await api.json("GET", "/api/v1/tickets?per_page=2")

    assert status == 200
    validate(document, "TicketPage", body)
    assert body["total"] == 3
    assert body["pages"] == 2
    assert len(body["items"]) == 2
    assert {item["reference"] for item in body["items"]} <= set(references)
    item = body["items"][0]
    assert item["status"] == "new"
    assert item["links"]["self"] == f"/api/v1/tickets/{item['reference']}"
    assert "next" in body["links"]

    status, _, second = await api.json("GET", body["links"]["next"])
    assert status == 200
    assert len(second["items"]) == 1
    assert "prev" in second["links"]
    seen = {i["reference"] for i in body["items"] + second["items"]}
    assert seen == set(references)


async def test_list_filters_and_audit(api):
    reference = create_ticket(api.session_factory, "h1")
    create_ticket(api.session_factory, "h2", phone="+16505550999", member_id=None)

    status, _, body = await api.json(
        "GET", f"/api/v1/tickets?search={PHONE.replace('+', '%2B')}"
    )

    assert status == 200
    assert [item["reference"] for item in body["items"]] == [reference]
    action, ticket_reference, actor = audit_actions(api.session_factory)[-1]
    assert action == "api_list"
    assert actor == "token:case-management"
    with api.session_factory() as session:
        detail = session.execute(select(AuditEntry.detail)).scalars().all()[-1]
    assert PHONE not in json.dumps(detail)


@pytest.mark.parametrize(
    ("query", "field"),
    [("status=bogus", "status"), ("page=0", "page"), ("per_page=x", "per_page")],
)
async def test_list_rejects_bad_query(api, query, field):
    status, _, body = await api.json("GET", f"/api/v1/tickets?{query}")

    assert status == 400
    assert body["error"]["code"] == "invalid_parameter"
    assert body["error"]["field"] == field
    assert field in body["error"]["message"]


# GET /api/v1/tickets/{reference}


async def test_get_ticket_detail(api):
    reference = create_ticket(api.session_factory)
    document = await openapi(api)

    status, headers, body = await api.json(
        "GET", f"/api/v1/tickets/{reference.lower()}"
    )

    assert status == 200
    validate(document, "Ticket", body)
    assert body["reference"] == reference
    assert body["name"] == NAME
    assert body["phone"] == PHONE
    assert body["version"] == 1
    assert headers["ETag"] == '"1"'
    # Ticket creation records the first step, from no status to `new`.
    assert [entry["to_status"] for entry in body["status_history"]] == ["new"]
    assert body["status_history"][0]["from_status"] is None
    assert body["notes"] == []
    assert body["screening_result"]["ecm"]["status"] == "likely"
    assert body["links"]["self"] == f"/api/v1/tickets/{reference}"
    assert audit_actions(api.session_factory)[-1] == (
        "api_view",
        reference,
        "token:case-management",
    )


@pytest.mark.parametrize("reference", ["HP-7KQ4MX", "not-a-code"])
async def test_get_unknown_ticket_404(api, reference):
    status, _, body = await api.json("GET", f"/api/v1/tickets/{reference}")

    assert status == 404
    assert body["error"]["code"] == "ticket_not_found"
    assert reference in body["error"]["message"]


# PATCH /api/v1/tickets/{reference}


async def test_patch_happy_path(api):
    reference = create_ticket(api.session_factory)
    document = await openapi(api)

    status, headers, body = await api.json(
        "PATCH",
        f"/api/v1/tickets/{reference}",
        json={
            "version": 1,
            "status": "contacted",
            "assignee": "coordinator1",
            "note": "Called; the member wants ECM.",
        },
    )

    assert status == 200, body
    validate(document, "Ticket", body)
    assert body["status"] == "contacted"
    assert body["version"] == 3
    assert headers["ETag"] == '"3"'
    assert body["assignee"]["display_name"] == "Casey Coordinator"
    assert [entry["to_status"] for entry in body["status_history"]] == [
        "new",
        "contacted",
    ]
    assert body["status_history"][-1]["actor"] == "API: case-management"
    assert [note["body"] for note in body["notes"]] == ["Called; the member wants ECM."]
    actions = [action for action, _, _ in audit_actions(api.session_factory)]
    assert actions[-4:] == ["change_status", "assign", "add_note", "api_update"]


async def test_patch_with_if_match(api):
    reference = create_ticket(api.session_factory)

    status, _, body = await api.json(
        "PATCH",
        f"/api/v1/tickets/{reference}",
        json={"status": "contact_attempted"},
        headers={"If-Match": '"1"'},
    )

    assert status == 200
    assert body["version"] == 2


async def test_patch_close_needs_reason(api):
    reference = create_ticket(api.session_factory)
    path = f"/api/v1/tickets/{reference}"

    status, _, body = await api.json("PATCH", path, json={"version": 1, "status": "closed"})
    assert status == 422
    assert body["error"]["code"] == "invalid_close_reason"
    assert body["error"]["field"] == "close_reason"

    status, _, body = await api.json(
        "PATCH",
        path,
        json={
            "version": 1,
            "status": "closed",
            "close_reason": "declined",
        },
    )
    assert status == 200
    assert body["close_reason"] == "declined"


async def test_patch_invalid_transition_422(api):
    reference = create_ticket(api.session_factory)

    status, _, body = await api.json(
        "PATCH", f"/api/v1/tickets/{reference}", json={"version": 1, "status": "authorized"}
    )

    assert status == 422
    assert body["error"]["code"] == "invalid_transition"
    assert body["error"]["field"] == "status"
    assert "A ticket that is new cannot move to authorized" in body["error"]["message"]


async def test_patch_stale_version_409(api):
    reference = create_ticket(api.session_factory)
    path = f"/api/v1/tickets/{reference}"
    await api.json("PATCH", path, json={"version": 1, "status": "contact_attempted"})

    status, _, body = await api.json("PATCH", path, json={"version": 1, "status": "contacted"})

    assert status == 409
    assert body["error"]["code"] == "stale_version"
    assert body["error"]["current_version"] == 2


async def test_patch_is_one_transaction(api):
    reference = create_ticket(api.session_factory)

    status, _, body = await api.json(
        "PATCH",
        f"/api/v1/tickets/{reference}",
        json={"version": 1, "status": "contacted", "assignee": "nobody-here"},
    )

    assert status == 422
    assert body["error"]["field"] == "assignee"
    with api.session_factory() as session:
        ticket = session.execute(
            select(Ticket).where(Ticket.reference == reference)
        ).scalar_one()
        changes = session.execute(select(TicketStatusChange)).scalars().all()
    assert ticket.status == "new"
    assert ticket.version == 1
    assert [change.to_status for change in changes] == ["new"]


def future_day() -> str:
    return (date.today() + timedelta(days=3)).isoformat()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "contacted"}, "version"),
        ({"version": "1", "status": "contacted"}, "version"),
        ({"version": 0, "status": "contacted"}, "version"),
        ({"version": 1}, "status"),
        ({"version": 1, "status": "done"}, "status"),
        ({"version": 1, "status": 3}, "status"),
        ({"version": 1, "colour": "red"}, "colour"),
        ({"version": 1, "status": "contacted", "status_date": "04/12/2026"}, "status_date"),
        ({"version": 1, "status": "contacted", "status_date": future_day()}, "status_date"),
        ({"version": 1, "close_reason": "declined"}, "close_reason"),
        ({"version": 1, "status": "closed", "close_reason": "bored"}, "close_reason"),
        ({"version": 1, "note": "   "}, "note"),
        ({"version": 1, "note": "x" * 5001}, "note"),
        ({"version": 1, "assignee": 7}, "assignee"),
    ],
)
async def test_patch_rejects_invalid_field(api, body, field):
    reference = create_ticket(api.session_factory)

    status, _, answer = await api.json(
        "PATCH", f"/api/v1/tickets/{reference}", json=body
    )

    assert status == 422, answer
    assert answer["error"]["field"] == field
    assert answer["error"]["message"]


@pytest.mark.parametrize(
    ("data", "content_type", "expected"),
    [
        (b"{not json", "application/json", 400),
        (b"[1, 2]", "application/json", 400),
        (b'{"version": 1, "version": 2}', "application/json", 400),
        (b"\xff\xfe", "application/json", 400),
        (b'{"version": 1}', "text/plain", 415),
        (b'{"note": "' + b"x" * (70 * 1024) + b'"}', "application/json", 413),
    ],
)
async def test_patch_rejects_bad_body(api, data, content_type, expected):
    reference = create_ticket(api.session_factory)

    status, _, body = await api.json(
        "PATCH",
        f"/api/v1/tickets/{reference}",
        data=data,
        headers={"Content-Type": content_type},
    )

    assert status == expected
    assert body["error"]["message"]


async def test_patch_unknown_ticket_404(api):
    status, _, body = await api.json(
        "PATCH", "/api/v1/tickets/HP-7KQ4MX", json={"version": 1, "status": "contacted"}
    )

    assert status == 404
    assert body["error"]["code"] == "ticket_not_found"


async def test_concurrent_patches_one_wins(api):
    for round_number in range(3):
        reference = create_ticket(api.session_factory, f"race-{round_number}")
        path = f"/api/v1/tickets/{reference}"

        results = await asyncio.gather(
            api.json("PATCH", path, json={"version": 1, "status": "contacted"}),
            api.json("PATCH", path, json={"version": 1, "status": "contact_attempted"}),
        )

        statuses = sorted(status for status, _, _ in results)
        assert statuses == [200, 409]
        with api.session_factory() as session:
            ticket = session.execute(
                select(Ticket).where(Ticket.reference == reference)
            ).scalar_one()
            changes = session.execute(
                select(TicketStatusChange).where(TicketStatusChange.ticket_id == ticket.id)
            ).scalars().all()
        assert ticket.version == 2
        assert [change.from_status for change in changes] == [None, "new"]
        winner = next(body for status, _, body in results if status == 200)
        assert ticket.status == winner["status"]


# POST /api/v1/screenings

PROFILES = [
    {},
    {"plan": "medi-cal", "age": 45, "unhoused": True, "chronic_condition": True},
    {"plan": "none"},
    {"plan": "medi-cal", "kaiser_assigned": True},
    {
        "plan": "medi-cal",
        "age": 30,
        "avoidable_ed_visits_12mo": 7,
        "avoidable_ed_visits_6mo": 5,
        "admissions_6mo": 3,
        "willing_community_supports": True,
        "engaged_with_care_manager": True,
        "nutrition_condition": True,
        "recent_discharge_or_high_risk": True,
    },
]


def run_cli(profile_text: str, rule_set: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot.eligibility", "--rule-set", rule_set],
        input=profile_text.encode(),
        capture_output=True,
        cwd=PROJECT_ROOT,
        timeout=60,
        check=False,
    )


# The engine and the command line do not touch the database, so one database
# is enough for the comparisons that start a process per profile.
ONE_DATABASE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@ONE_DATABASE
@pytest.mark.parametrize("rule_set", ["hpsm-2022", "dhcs-2024"])
async def test_screening_matches_cli(api, rule_set):
    document = await openapi(api)
    for profile in PROFILES:
        status, headers, body = await api.request(
            "POST", "/api/v1/screenings", json={"profile": profile, "rule_set": rule_set}
        )
        cli = run_cli(json.dumps(profile), rule_set)

        assert status == 200
        assert headers["Content-Type"].startswith("application/json")
        assert cli.returncode == 0
        assert body == cli.stdout
        validate(document, "ScreeningResult", json.loads(body))


async def test_screening_default_rule_set(api):
    profile = PROFILES[1]

    status, _, body = await api.request(
        "POST", "/api/v1/screenings", json={"profile": profile}
    )

    assert status == 200
    assert body == run_cli(json.dumps(profile), "hpsm-2022").stdout


@pytest.mark.parametrize(
    ("profile", "field"),
    [
        ({"age": 400}, "age"),
        ({"age": -1}, "age"),
        ({"agee": 40}, "agee"),
        ({"plan": "medicare"}, "plan"),
        ({"unhoused": "yes"}, "unhoused"),
        ({"admissions_6mo": 1.5}, "admissions_6mo"),
        ({"avoidable_ed_visits_12mo": True}, "avoidable_ed_visits_12mo"),
        ({"home_modification_spent": -5}, "home_modification_spent"),
    ],
)
@ONE_DATABASE
async def test_screening_rejects_like_cli(api, profile, field):
    status, _, body = await api.json(
        "POST", "/api/v1/screenings", json={"profile": profile}
    )
    cli = run_cli(json.dumps(profile), "hpsm-2022")

    assert status == 422
    assert body["error"]["field"] == f"profile.{field}"
    assert cli.returncode == 2
    detail = body["error"]["message"].split(": ", 1)[1]
    assert detail in cli.stderr.decode()
    assert f"'{field}'" in cli.stderr.decode()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "profile"),
        ({"profile": [1]}, "profile"),
        ({"profile": {}, "rule_set": "ca-2030"}, "rule_set"),
        ({"profile": {}, "rule_set": 5}, "rule_set"),
        ({"profile": {}, "answers": {}}, "answers"),
    ],
)
async def test_screening_rejects_bad_request(api, body, field):
    status, _, answer = await api.json("POST", "/api/v1/screenings", json=body)

    assert status == 422
    assert answer["error"]["field"] == field


async def test_screening_audit_without_answers(api):
    profile = {"plan": "medi-cal", "age": 61, "sud_diagnosis": True}

    status, _, _ = await api.request(
        "POST", "/api/v1/screenings", json={"profile": profile, "rule_set": "dhcs-2024"}
    )

    assert status == 200
    with api.session_factory() as session:
        entry = session.execute(
            select(AuditEntry).order_by(AuditEntry.id.desc())
        ).scalars().first()
    assert entry.action == "api_screening"
    assert entry.detail == {"rule_set": "dhcs-2024"}
    assert entry.ticket_id is None


# Logs


async def test_logs_hold_no_member_details(api, caplog):
    caplog.set_level(logging.DEBUG)
    reference = create_ticket(api.session_factory)
    path = f"/api/v1/tickets/{reference}"

    await api.request("GET", f"/api/v1/tickets?search={MEMBER_ID}")
    await api.request("GET", path)
    await api.request(
        "PATCH", path, json={"version": 1, "status": "contacted", "note": "Secret note"}
    )
    await api.request("POST", "/api/v1/screenings", json={"profile": {"age": 77}})

    text = "\n".join(record.getMessage() for record in caplog.records)
    for value in (NAME, PHONE, MEMBER_ID, "1975-04-03", "Secret note", "5550177"):
        assert value not in text


# Pages, filters and searches that the first users tripped over


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("page=99999999999999999999", "page"),
        ("page=1000001", "page"),
        ("per_page=99999999999999999999", "per_page"),
        ("page=1_0", "page"),
        ("language=xx", "language"),
        ("language=EN", "language"),
        ("assignee=nobody-by-that-name", "assignee"),
    ],
)
async def test_list_rejects_bad_values_400(api, query, field):
    status, _, body = await api.json("GET", f"/api/v1/tickets?{query}")

    assert status == 400, body
    assert body["error"]["code"] == "invalid_parameter"
    assert body["error"]["field"] == field


async def test_list_page_past_last_links_last(api):
    create_ticket(api.session_factory)

    status, _, body = await api.json("GET", "/api/v1/tickets?page=999&per_page=1")

    assert status == 200
    assert body["items"] == []
    assert body["pages"] == 1
    assert body["links"]["last"].endswith("page=1")
    assert "next" not in body["links"]


@pytest.mark.parametrize("language", ["es", "yue", "other"])
async def test_list_accepts_known_language(api, language):
    reference = create_ticket(api.session_factory, preferred_language=language)

    status, _, body = await api.json("GET", f"/api/v1/tickets?language={language}")

    assert status == 200
    assert [item["reference"] for item in body["items"]] == [reference]


async def test_list_assignee_by_username_or_id(api):
    reference = create_ticket(api.session_factory)
    create_ticket(api.session_factory, "h2", phone="+16505550999", member_id=None)
    status, _, _ = await api.json(
        "PATCH", f"/api/v1/tickets/{reference}",
        json={"version": 1, "assignee": "coordinator1"},
    )
    assert status == 200
    with api.session_factory() as session:
        user_id = session.execute(
            select(Ticket.assignee_id).where(Ticket.reference == reference)
        ).scalar_one()

    for value in ("coordinator1", "Coordinator1", str(user_id)):
        status, _, body = await api.json("GET", f"/api/v1/tickets?assignee={value}")
        assert status == 200, body
        assert [item["reference"] for item in body["items"]] == [reference]


@pytest.mark.parametrize("typed", ["m5550177", "M5550177", "m555-0177"])
async def test_list_member_id_search_ignores_case(api, typed):
    reference = create_ticket(api.session_factory)

    status, _, body = await api.json("GET", f"/api/v1/tickets?search={typed}")

    assert status == 200
    assert [item["reference"] for item in body["items"]] == [reference]


async def test_patch_status_date_before_creation_422(api):
    reference = create_ticket(api.session_factory)

    status, _, body = await api.json(
        "PATCH",
        f"/api/v1/tickets/{reference}",
        json={"version": 1, "status": "contacted", "status_date": "1900-01-01"},
    )

    assert status == 422
    assert body["error"]["field"] == "status_date"
    assert "before the ticket was created" in body["error"]["message"]


async def test_patch_close_without_reason_reads_plainly(api):
    reference = create_ticket(api.session_factory)

    status, _, body = await api.json(
        "PATCH", f"/api/v1/tickets/{reference}", json={"version": 1, "status": "closed"}
    )

    assert status == 422
    assert body["error"]["field"] == "close_reason"
    assert "Choose a close reason" in body["error"]["message"]
    assert "None" not in body["error"]["message"]


async def test_patch_cannot_reopen_403(api):
    reference = create_ticket(api.session_factory)
    path = f"/api/v1/tickets/{reference}"
    status, _, body = await api.json(
        "PATCH", path, json={"version": 1, "status": "closed", "close_reason": "other"}
    )
    assert status == 200

    status, _, body = await api.json(
        "PATCH", path, json={"version": body["version"], "status": "new"}
    )

    assert status == 403
    assert body["error"]["code"] == "reopen_not_allowed"
    assert body["error"]["field"] == "status"
    assert "supervisor" in body["error"]["message"]
    assert load_status(api.session_factory, reference) == "closed"


def load_status(session_factory, reference: str) -> str:
    with session_factory() as session:
        return session.execute(
            select(Ticket.status).where(Ticket.reference == reference)
        ).scalar_one()


async def test_note_author_names_token(api):
    reference = create_ticket(api.session_factory)
    document = await openapi(api)

    status, _, body = await api.json(
        "PATCH", f"/api/v1/tickets/{reference}",
        json={"version": 1, "note": "Left a voicemail"},
    )

    assert status == 200
    validate(document, "Ticket", body)
    assert body["notes"][0]["author"] == "API: case-management"
    status, _, detail = await api.json("GET", f"/api/v1/tickets/{reference}")
    assert detail["notes"][0]["author"] == "API: case-management"


async def test_detail_lists_texts_and_opt_out(api):
    reference = create_ticket(api.session_factory)
    document = await openapi(api)
    status, _, _ = await api.json(
        "PATCH", f"/api/v1/tickets/{reference}",
        json={"version": 1, "status": "contact_attempted"},
    )
    assert status == 200
    with api.session_factory() as session, session.begin():
        record_opt_out(session, PHONE, source="keyword", language="es")

    status, _, body = await api.json("GET", f"/api/v1/tickets/{reference}")

    assert status == 200
    validate(document, "Ticket", body)
    kinds = [text["kind"] for text in body["texts"]]
    assert "status_contact_attempted" in kinds
    attempted = body["texts"][kinds.index("status_contact_attempted")]
    assert attempted["status"] == "pending"
    assert attempted["status_label"] == "Waiting to be sent"
    assert attempted["kind_label"] == "Status update: we tried to call"
    assert reference in attempted["body"]
    assert "to_number" not in attempted
    assert body["sms_opted_out_at"] is not None


# Language groups, repeated parameters and the assignee forms


async def test_list_language_groups(api):
    references = {
        language: create_ticket(
            api.session_factory,
            f"h-{language}",
            phone=f"+1650555{index:04d}",
            member_id=None,
            preferred_language=language,
        )
        for index, language in enumerate(("en", "zh", "yue", "vi", "other"), 1)
    }
    expected = {
        "zh": {references["zh"], references["yue"]},
        "yue": {references["yue"]},
        "other": {references["vi"], references["other"]},
        "en": {references["en"]},
    }

    for language, wanted in expected.items():
        status, _, body = await api.json("GET", f"/api/v1/tickets?language={language}")
        assert status == 200, body
        found = [item["reference"] for item in body["items"]]
        assert set(found) == wanted, language
        assert len(found) == len(wanted), language


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=open&status=closed", "status"),
        ("language=zh&language=yue", "language"),
        ("assignee=coordinator1&assignee=none", "assignee"),
        ("page=1&per_page=5&page=2", "page"),
    ],
)
async def test_list_rejects_repeated_parameter(api, query, field):
    document = await openapi(api)

    status, _, body = await api.json("GET", f"/api/v1/tickets?{query}")

    assert status == 400, body
    validate(document, "Error", body)
    assert body["error"]["code"] == "invalid_parameter"
    assert body["error"]["field"] == field
    assert body["error"]["message"].startswith(f"{field} is given 2 times")


async def test_openapi_documents_repeated_parameters(api):
    document = await openapi(api)

    operation = document["paths"]["/api/v1/tickets"]["get"]
    language = next(p for p in operation["parameters"] if p["name"] == "language")
    assert "repeated parameter" in operation["description"]
    assert "`yue`" in language["description"]
    assert "every Chinese code" in language["description"]


@pytest.mark.parametrize("assignee", ["none", "2", 2])
async def test_patch_assignee_takes_only_username_or_null(api, assignee):
    reference = create_ticket(api.session_factory)

    status, _, body = await api.json(
        "PATCH", f"/api/v1/tickets/{reference}",
        json={"version": 1, "assignee": assignee},
    )

    assert status == 422, body
    assert body["error"]["field"] == "assignee"


async def test_patch_null_unassigns(api):
    reference = create_ticket(api.session_factory)
    status, _, body = await api.json(
        "PATCH", f"/api/v1/tickets/{reference}",
        json={"version": 1, "assignee": "coordinator1"},
    )
    assert status == 200, body
    assert body["assignee"]["display_name"] == "Casey Coordinator"

    status, _, body = await api.json(
        "PATCH", f"/api/v1/tickets/{reference}",
        json={"version": 2, "assignee": None},
    )

    assert status == 200, body
    assert body["assignee"] is None


def test_readme_states_patch_assignee_forms():
    readme = " ".join((PROJECT_ROOT / "README.md").read_text().split())
    document = load_openapi()
    schema = document["components"]["schemas"]["TicketChange"]["properties"]

    assert schema["assignee"]["type"] == ["string", "null"]
    assert (
        "In a PATCH body, `assignee` is a staff username, or `null` to unassign."
        in readme
    )
    assert "`assignee` takes a username, a user id or `none`" not in readme
