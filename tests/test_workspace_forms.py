"""Workspace pages over real HTTP: page numbers, form errors, texts, drafts, origins.

Each test runs on SQLite and on PostgreSQL against the web app on a free
loopback port (see `tests/workspace_support.py`).
"""

from __future__ import annotations

import html as html_lib
import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from bot.choices import NEUTRAL_SLASH
from bot.models import TicketNote
from bot.opt_outs import record_opt_out
from bot.privacy import RASA_EVENTS
from bot.workspace.audit import Actor
from bot.workspace.tokens import create_token
from bot.workspace.workflow import add_note
from tests.workspace_support import (  # noqa: F401 - fixtures
    add_staff,
    add_ticket,
    browser,
    clock,
    csrf_token,
    load_ticket,
    ticket_version,
    workspace,
)

HUGE = "99999999999999999999"
PHONE = "+16505550142"


async def signed_in(workspace, username: str, role: str = "coordinator"):
    add_staff(workspace.session_factory, username, role)
    client = workspace.client()
    status, _, _ = await client.login(username)
    assert status == 303
    return client


def note_bodies(session_factory) -> list[str]:
    with session_factory() as session:
        return list(session.execute(select(TicketNote.body)).scalars())


def textarea(html: str, field_id: str) -> str:
    match = re.search(rf'<textarea id="{field_id}"[^>]*>(.*?)</textarea>', html, re.S)
    assert match, f"no textarea {field_id}"
    return html_lib.unescape(match.group(1))


# Page numbers


@pytest.mark.parametrize(
    "path",
    [
        f"/workspace/?page={HUGE}",
        f"/workspace/?per_page={HUGE}",
        "/workspace/?page=1000001",
        f"/workspace/audit?page={HUGE}",
        "/workspace/audit?page=1000001",
    ],
)
async def test_huge_page_is_400_with_message(workspace, path):
    client = await signed_in(workspace, "sam", "supervisor")
    try:
        status, html, _ = await client.get(path)
    finally:
        await client.close()

    assert status == 400
    assert "The filters were not applied" in html
    assert "whole number" in html


@pytest.mark.parametrize(
    ("path", "wording"),
    [("/workspace/?page=999", "no tickets"), ("/workspace/audit?page=999", "no entries")],
)
async def test_page_past_last_links_last(workspace, path, wording):
    add_ticket(workspace.session_factory)
    client = await signed_in(workspace, "sam", "supervisor")
    try:
        status, html, _ = await client.get(path)
    finally:
        await client.close()

    assert status == 200
    assert f"There are {wording} on page 999" in html
    assert "Page 999 of" not in html
    assert 'href="?page=1"' in html


# The status form


async def test_status_date_before_creation_rejected(workspace):
    reference = add_ticket(workspace.session_factory)
    client = await signed_in(workspace, "ana")
    try:
        _, html, _ = await client.get(f"/workspace/tickets/{reference}")
        created_day = re.search(r'id="status_date"[^>]* min="([0-9-]+)"', html)
        assert created_day, "the date field has no minimum"
        status, page, _ = await client.post(
            f"/workspace/tickets/{reference}/status",
            {
                "csrf_token": csrf_token(html),
                "version": ticket_version(html),
                "to_status": "contacted",
                "status_date": "1900-01-01",
                "status_note": "Reached by phone",
            },
        )
    finally:
        await client.close()

    assert status == 422
    assert "is before the ticket was created" in page
    assert 'value="1900-01-01"' in page
    assert "Reached by phone" in page
    assert load_ticket(workspace.session_factory, reference).status == "new"


async def test_invalid_transition_is_422(workspace):
    reference = add_ticket(workspace.session_factory)
    client = await signed_in(workspace, "ana")
    try:
        _, html, _ = await client.get(f"/workspace/tickets/{reference}")
        status, page, _ = await client.post(
            f"/workspace/tickets/{reference}/status",
            {
                "csrf_token": csrf_token(html),
                "version": ticket_version(html),
                "to_status": "authorized",
            },
        )
    finally:
        await client.close()

    assert status == 422
    assert "A ticket that is new cannot move to authorized" in page


# What the ticket page shows


async def test_ticket_page_lists_texts_and_opt_out(workspace):
    reference = add_ticket(workspace.session_factory, phone=PHONE)
    client = await signed_in(workspace, "ana")
    try:
        _, html, _ = await client.get(f"/workspace/tickets/{reference}")
        assert "No texts were queued for this ticket." in html
        status, _, _ = await client.post(
            f"/workspace/tickets/{reference}/status",
            {
                "csrf_token": csrf_token(html),
                "version": ticket_version(html),
                "to_status": "contact_attempted",
            },
        )
        assert status == 303
        with workspace.session_factory() as session, session.begin():
            record_opt_out(session, PHONE, source="keyword", language="en")

        status, html, _ = await client.get(f"/workspace/tickets/{reference}")
    finally:
        await client.close()

    assert status == 200
    assert "Status update: we tried to call" in html
    assert "Waiting to be sent" in html
    assert "opted out of texts" in html
    # The number appears once, in the contact details, and not in the texts.
    assert html.count(PHONE) == 1


async def test_ticket_page_names_token_author(workspace):
    reference = add_ticket(workspace.session_factory)
    with workspace.session_factory() as session, session.begin():
        token, _ = create_token(session, "case-management")
        actor = Actor(name="token:case-management", role="api", api_token_id=token.id)
        add_note(session, reference, body="Synced from the case system", actor=actor)
    client = await signed_in(workspace, "ana")
    try:
        _, html, _ = await client.get(f"/workspace/tickets/{reference}")
    finally:
        await client.close()

    assert "API: case-management," in html
    assert "System," not in html


async def test_ticket_page_shows_button_titles(workspace):
    reference = add_ticket(workspace.session_factory, conversation_id="conv-buttons")
    with workspace.session_factory() as session, session.begin():
        RASA_EVENTS.create(session.connection(), checkfirst=True)
        events = [
            {
                "event": "bot",
                "text": "Do you want a call?",
                "data": {"buttons": [{"title": "Yes, call me", "payload": "/affirm"}]},
            },
            {"event": "user", "text": "/affirm"},
            {"event": "user", "text": NEUTRAL_SLASH + "start over"},
        ]
        for offset, event in enumerate(events):
            session.execute(
                RASA_EVENTS.insert().values(
                    sender_id="conv-buttons",
                    type_name=event["event"],
                    timestamp=1_800_000_000 + offset,
                    data=json.dumps(event),
                )
            )
    client = await signed_in(workspace, "ana")
    try:
        _, html, _ = await client.get(f"/workspace/tickets/{reference}")
    finally:
        await client.close()

    assert "Yes, call me" in html
    assert "/affirm" not in html
    assert "/start over" in html
    assert NEUTRAL_SLASH not in html


async def test_note_controls_stripped(workspace):
    reference = add_ticket(workspace.session_factory)
    client = await signed_in(workspace, "ana")
    try:
        _, html, _ = await client.get(f"/workspace/tickets/{reference}")
        status, _, _ = await client.post(
            f"/workspace/tickets/{reference}/notes",
            {
                "csrf_token": csrf_token(html),
                "body": "Paid\u202e001$\u202c\x00 in full\r\nsecond\tline\x1b",
            },
        )
    finally:
        await client.close()

    assert status == 303
    assert note_bodies(workspace.session_factory) == ["Paid001$ in full\nsecond\tline"]


# A sign-in that ends while a form is open


async def expire_with_note(workspace, clock, client, reference: str, body: str):
    """Open the ticket, let the sign-in end, then submit a note."""
    _, html, _ = await client.get(f"/workspace/tickets/{reference}")
    clock.advance(minutes=31)
    return await client.post(
        f"/workspace/tickets/{reference}/notes",
        {"csrf_token": csrf_token(html), "body": body},
    )


async def test_expired_sign_in_keeps_note(workspace, clock):
    reference = add_ticket(workspace.session_factory)
    client = await signed_in(workspace, "ana")
    note = "Member asked for a call after 3 pm <b>today</b>"
    try:
        status, _, response = await expire_with_note(
            workspace, clock, client, reference, note
        )
        assert status == 303
        location = response.headers["Location"]
        assert "3 pm" not in location
        assert "today" not in location
        query = parse_qs(urlsplit(location).query)
        assert query["next"] == [f"/workspace/tickets/{reference}"]

        status, login_html, _ = await client.get(location)
        assert status == 200
        assert "Your sign-in ended" in login_html
        assert "sign in again" in login_html.lower()
        assert "What you typed will be back in the form" in login_html

        status, _, response = await client.login(
            "ana", next_path=f"/workspace/tickets/{reference}"
        )
        assert status == 303
        assert response.headers["Location"] == f"/workspace/tickets/{reference}"

        status, html, _ = await client.get(f"/workspace/tickets/{reference}")
        assert status == 200
        assert textarea(html, "note_body") == note
        assert "You are signed in again" in html

        _, again, _ = await client.get(f"/workspace/tickets/{reference}")
        assert textarea(again, "note_body") == ""
    finally:
        await client.close()
    assert note_bodies(workspace.session_factory) == []


async def test_expired_draft_not_shown_to_other_user(workspace, clock):
    reference = add_ticket(workspace.session_factory)
    add_staff(workspace.session_factory, "sam")
    client = await signed_in(workspace, "ana")
    try:
        status, _, _ = await expire_with_note(
            workspace, clock, client, reference, "Private draft of Ana"
        )
        assert status == 303
        status, _, _ = await client.login(
            "sam", next_path=f"/workspace/tickets/{reference}"
        )
        assert status == 303
        _, html, _ = await client.get(f"/workspace/tickets/{reference}")
    finally:
        await client.close()

    assert "Private draft of Ana" not in html
    assert textarea(html, "note_body") == ""


async def test_expired_long_note_shown_to_copy(workspace, clock):
    reference = add_ticket(workspace.session_factory)
    client = await signed_in(workspace, "ana")
    note = "Long note " + "x" * 4500
    try:
        status, html, _ = await expire_with_note(
            workspace, clock, client, reference, note
        )
    finally:
        await client.close()

    assert status == 401
    assert "Your sign-in ended" in html
    assert textarea(html, "draft-body") == note
    assert note_bodies(workspace.session_factory) == []


async def test_logout_drops_kept_draft(workspace, clock):
    reference = add_ticket(workspace.session_factory)
    client = await signed_in(workspace, "ana")
    try:
        status, _, _ = await expire_with_note(
            workspace, clock, client, reference, "Draft left behind"
        )
        assert status == 303
        status, _, _ = await client.login("ana")
        assert status == 303
        _, queue_html, _ = await client.get("/workspace/")
        status, _, _ = await client.post(
            "/workspace/logout", {"csrf_token": csrf_token(queue_html)}
        )
        assert status == 303
        await client.login("ana", next_path=f"/workspace/tickets/{reference}")
        _, html, _ = await client.get(f"/workspace/tickets/{reference}")
    finally:
        await client.close()

    assert "Draft left behind" not in html
    assert textarea(html, "note_body") == ""


async def test_expired_status_form_kept(workspace, clock):
    reference = add_ticket(workspace.session_factory)
    client = await signed_in(workspace, "ana")
    try:
        _, html, _ = await client.get(f"/workspace/tickets/{reference}")
        clock.advance(minutes=31)
        status, _, _ = await client.post(
            f"/workspace/tickets/{reference}/status",
            {
                "csrf_token": csrf_token(html),
                "version": ticket_version(html),
                "to_status": "contacted",
                "status_note": "Spoke with her daughter",
            },
        )
        assert status == 303
        await client.login("ana", next_path=f"/workspace/tickets/{reference}")
        _, html, _ = await client.get(f"/workspace/tickets/{reference}")
    finally:
        await client.close()

    assert textarea(html, "status_note") == "Spoke with her daughter"
    assert '<option value="contacted" selected>' in html


# Requests from other sites


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Origin": "http://evil.example"}, 403),
        ({"Origin": "null"}, 403),
        ({"Referer": "http://evil.example/page"}, 403),
        ({"Origin": "http://evil.example", "Referer": "{base}/workspace/"}, 403),
        ({"Origin": "{base}"}, 303),
        ({"Referer": "{base}/workspace/tickets/x"}, 303),
        ({}, 303),
    ],
)
async def test_post_origin_checked(workspace, headers, expected):
    reference = add_ticket(workspace.session_factory)
    client = await signed_in(workspace, "ana")
    sent = {name: value.format(base=workspace.url) for name, value in headers.items()}
    try:
        _, html, _ = await client.get(f"/workspace/tickets/{reference}")
        status, page, _ = await client.post(
            f"/workspace/tickets/{reference}/notes",
            {"csrf_token": csrf_token(html), "body": "Checked origin"},
            headers=sent,
        )
    finally:
        await client.close()

    assert status == expected
    saved = note_bodies(workspace.session_factory)
    if expected == 403:
        assert "another website" in page
        assert saved == []
    else:
        assert saved == ["Checked origin"]


async def test_login_origin_checked(workspace, browser):
    add_staff(workspace.session_factory, "ana")
    status, html, _ = await browser.get("/workspace/login")
    assert status == 200

    status, page, _ = await browser.post(
        "/workspace/login",
        {"csrf_token": csrf_token(html), "username": "ana", "password": "x" * 20},
        headers={"Origin": "http://evil.example"},
    )

    assert status == 403
    assert "another website" in page
    assert browser.cookie("hpsm_ws_session") is None


async def test_sign_in_ended_message_on_get(workspace, clock):
    client = await signed_in(workspace, "ana")
    try:
        clock.advance(minutes=31)
        status, _, response = await client.get("/workspace/")
        assert status == 302
        status, html, _ = await client.get(response.headers["Location"])
    finally:
        await client.close()

    assert status == 200
    assert "Your sign-in ended" in html


async def test_fresh_login_has_no_ended_message(workspace, browser):
    status, html, _ = await browser.get("/workspace/login")

    assert status == 200
    assert "Your sign-in ended" not in html
