"""Workspace pages over real HTTP: access rules, the queue, a ticket and escaping."""

from __future__ import annotations

import asyncio
import re
import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from yarl import URL

from bot.models import AuditEntry, OutboxMessage, TicketNote, TicketStatusChange, utcnow
from bot.outbox import enqueue_sms
from bot.privacy import ConversationEraser
from bot.workspace.app import CONFLICT_COOKIE
from tests.workspace_support import (  # noqa: F401 - fixtures
    XSS_ATTRIBUTE,
    XSS_SCRIPT,
    add_messages,
    add_staff,
    add_ticket,
    browser,
    clock,
    csrf_token,
    load_ticket,
    ticket_version,
    workspace,
)

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def count(session_factory, model, **where) -> int:
    with session_factory() as session:
        statement = select(func.count()).select_from(model)
        for name, value in where.items():
            statement = statement.where(getattr(model, name) == value)
        return session.execute(statement).scalar_one()


def audit_rows(session_factory, action: str) -> list[AuditEntry]:
    with session_factory() as session:
        return list(
            session.execute(
                select(AuditEntry)
                .where(AuditEntry.action == action)
                .order_by(AuditEntry.id)
            ).scalars()
        )


async def signed_in(workspace, username: str, role: str = "coordinator"):
    add_staff(workspace.session_factory, username, role)
    client = workspace.client()
    status, _, _ = await client.login(username)
    assert status == 303
    return client


# Access without a sign-in, with the wrong role, and without CSRF tokens.


@pytest.mark.parametrize(
    "method, path, accept, expected",
    [
        ("GET", "/workspace/", "text/html", 302),
        ("GET", "/workspace/", "*/*", 302),
        ("GET", "/workspace/", "application/json", 401),
        ("GET", "/workspace/?status=open", "text/html", 302),
        ("GET", "/workspace/tickets/{ref}", "text/html", 302),
        ("GET", "/workspace/tickets/{ref}", "application/json", 401),
        ("GET", "/workspace/audit", "text/html", 302),
        ("GET", "/workspace/export.csv", "text/html", 302),
        ("GET", "/workspace/export.csv", "text/csv", 401),
        ("GET", "/workspace/export.csv", "*/*", 401),
        ("POST", "/workspace/tickets/{ref}/status", "text/html", 303),
        ("POST", "/workspace/tickets/{ref}/status", "*/*", 401),
        ("POST", "/workspace/tickets/{ref}/assign", "*/*", 401),
        ("POST", "/workspace/tickets/{ref}/notes", "*/*", 401),
        ("POST", "/workspace/logout", "*/*", 401),
    ],
)
async def test_routes_require_sign_in(
    workspace, browser, method, path, accept, expected
):
    reference = add_ticket(workspace.session_factory)
    url = path.format(ref=reference)
    headers = {"Accept": accept}
    if method == "GET":
        status, body, response = await browser.get(url, headers=headers)
    else:
        status, body, response = await browser.post(
            url, {"body": "x", "to_status": "contacted"}, headers=headers
        )

    assert status == expected
    if expected in (302, 303):
        assert response.headers["Location"].startswith(
            "/workspace/login?next=%2Fworkspace"
        )
    assert "Test Member" not in body
    assert load_ticket(workspace.session_factory, reference).version == 1
    assert count(workspace.session_factory, TicketNote) == 0


async def test_redirect_keeps_page_in_next(workspace, browser):
    status, _, response = await browser.get("/workspace/tickets/HP-7KQ4MX")
    assert status == 302
    assert (
        response.headers["Location"]
        == "/workspace/login?next=%2Fworkspace%2Ftickets%2FHP-7KQ4MX"
    )


@pytest.mark.parametrize("path", ["/workspace/audit", "/workspace/export.csv"])
async def test_coordinator_gets_403(workspace, path):
    client = await signed_in(workspace, "ana")
    try:
        status, body, _ = await client.get(path)
        assert status == 403
        assert "Your role does not allow this page" in body
    finally:
        await client.close()
    assert audit_rows(workspace.session_factory, "export_csv") == []


async def test_coordinator_cannot_reopen(workspace):
    reference = add_ticket(
        workspace.session_factory, status="closed", close_reason="declined", due_at=None
    )
    client = await signed_in(workspace, "ana")
    try:
        _, html, _ = await client.get(f"/workspace/tickets/{reference}")
        assert "Only a supervisor or an admin can reopen it" in html
        status, _, _ = await client.post(
            f"/workspace/tickets/{reference}/status",
            {"csrf_token": csrf_token(html), "version": "1", "to_status": "new"},
        )
        assert status == 403
    finally:
        await client.close()
    assert load_ticket(workspace.session_factory, reference).status == "closed"


async def test_supervisor_can_reopen(workspace):
    reference = add_ticket(
        workspace.session_factory, status="closed", close_reason="declined", due_at=None
    )
    client = await signed_in(workspace, "sam", "supervisor")
    try:
        _, html, _ = await client.get(f"/workspace/tickets/{reference}")
        status, _, _ = await client.post(
            f"/workspace/tickets/{reference}/status",
            {
                "csrf_token": csrf_token(html),
                "version": ticket_version(html),
                "to_status": "new",
            },
        )
        assert status == 303
    finally:
        await client.close()
    assert load_ticket(workspace.session_factory, reference).status == "new"


@pytest.mark.parametrize("token", [None, "", "forged-token"])
@pytest.mark.parametrize(
    "action, fields",
    [
        ("status", {"to_status": "contacted", "version": "1"}),
        ("assign", {"assignee": "none", "assign_to_me": "1", "version": "1"}),
        ("notes", {"body": "Called the member"}),
    ],
)
async def test_csrf_enforced(workspace, action, fields, token):
    reference = add_ticket(workspace.session_factory)
    client = await signed_in(workspace, "ana")
    try:
        if token is not None:
            fields = {**fields, "csrf_token": token}
        status, body, _ = await client.post(
            f"/workspace/tickets/{reference}/{action}", fields
        )
        assert status == 403
        assert "nothing was changed" in body
    finally:
        await client.close()
    ticket = load_ticket(workspace.session_factory, reference)
    assert ticket.version == 1
    assert ticket.status == "new"
    assert ticket.assignee_id is None
    assert count(workspace.session_factory, TicketNote) == 0
    assert count(workspace.session_factory, TicketStatusChange) == 0


async def test_security_headers(workspace, browser):
    client = await signed_in(workspace, "ana")
    reference = add_ticket(workspace.session_factory)
    try:
        for http, path in (
            (browser, "/workspace/login"),
            (browser, "/workspace/"),
            (client, "/workspace/"),
            (client, f"/workspace/tickets/{reference}"),
            (client, "/workspace/no-such-page"),
            (client, "/workspace/static/workspace.css"),
        ):
            _, _, response = await http.get(path)
            for name, value in SECURITY_HEADERS.items():
                assert response.headers.get(name) == value, (path, name)
            if "static" not in path:
                assert response.headers.get("Cache-Control") == "no-store", path
    finally:
        await client.close()


# The queue.


async def test_queue_filters_and_overdue(workspace):
    now = utcnow()
    overdue = add_ticket(
        workspace.session_factory,
        name="Overdue Person",
        due_at=now - timedelta(hours=3),
    )
    spanish = add_ticket(
        workspace.session_factory, name="Spanish Person", preferred_language="es"
    )
    closed = add_ticket(
        workspace.session_factory,
        name="Closed Person",
        status="closed",
        close_reason="other",
        due_at=None,
    )
    client = await signed_in(workspace, "ana")
    try:
        status, html, _ = await client.get("/workspace/")
        assert status == 200
        for reference in (overdue, spanish, closed):
            assert reference in html
        assert "1 overdue." in html
        assert html.count('class="badge overdue-badge">Overdue<') == 1

        _, html, _ = await client.get("/workspace/?language=es")
        assert spanish in html
        assert overdue not in html

        _, html, _ = await client.get("/workspace/?status=open")
        assert closed not in html
        assert overdue in html

        _, html, _ = await client.get("/workspace/?overdue=true")
        assert overdue in html
        assert spanish not in html

        _, html, _ = await client.get(f"/workspace/?search={spanish}")
        assert spanish in html
        assert overdue not in html
    finally:
        await client.close()
    views = audit_rows(workspace.session_factory, "view_queue")
    assert len(views) == 5
    assert all("search" not in (row.detail or {}).get("filters", {}) for row in views)


@pytest.mark.parametrize(
    "query",
    ["status=lost", "sort=name", "assignee=someone", "page=zero", "overdue=maybe"],
)
async def test_invalid_filters_show_message(workspace, query):
    reference = add_ticket(workspace.session_factory)
    client = await signed_in(workspace, "ana")
    try:
        status, html, _ = await client.get(f"/workspace/?{query}")
    finally:
        await client.close()
    assert status == 400
    assert "The filters were not applied" in html
    assert reference in html


async def test_queue_language_names_and_groups(workspace):
    cantonese = add_ticket(
        workspace.session_factory, name="Cantonese Speaker", preferred_language="yue"
    )
    unspecified_chinese = add_ticket(
        workspace.session_factory, name="Chinese Speaker", preferred_language="zh"
    )
    vietnamese = add_ticket(
        workspace.session_factory, name="Vietnamese Speaker", preferred_language="vi"
    )
    english = add_ticket(workspace.session_factory, name="English Speaker")
    client = await signed_in(workspace, "ana")
    try:
        _, everyone, _ = await client.get("/workspace/")
        _, chinese, _ = await client.get("/workspace/?language=zh")
        _, other, _ = await client.get("/workspace/?language=other")
        _, only_cantonese, _ = await client.get("/workspace/?language=yue")
        _, ticket_page, _ = await client.get(f"/workspace/tickets/{cantonese}")
    finally:
        await client.close()

    assert "<td>Cantonese</td>" in everyone
    assert "<td>Vietnamese</td>" in everyone
    assert "Yue" not in everyone
    assert '<option value="yue">Cantonese</option>' in everyone
    assert '<option value="zh" selected>' in chinese
    assert cantonese in chinese
    assert unspecified_chinese in chinese
    assert english not in chinese
    assert vietnamese in other
    assert cantonese not in other
    assert english not in other
    assert cantonese in only_cantonese
    assert unspecified_chinese not in only_cantonese
    assert "<dd>Cantonese</dd>" in ticket_page


@pytest.mark.parametrize(
    "path",
    ["/workspace/?status=open&status=closed", "/workspace/?language=zh&language=yue"],
)
async def test_queue_rejects_repeated_filter(workspace, path):
    reference = add_ticket(workspace.session_factory)
    client = await signed_in(workspace, "ana")
    try:
        status, html, _ = await client.get(path)
    finally:
        await client.close()
    name = path.split("?")[1].split("=")[0]
    assert status == 400
    assert f"The filters were not applied: {name} is given 2 times" in html
    assert reference in html


async def test_export_rejects_repeated_filter(workspace):
    add_ticket(workspace.session_factory)
    client = await signed_in(workspace, "sam", "supervisor")
    try:
        status, html, _ = await client.get(
            "/workspace/export.csv?status=open&status=closed"
        )
    finally:
        await client.close()
    assert status == 400
    assert "status is given 2 times" in html
    assert audit_rows(workspace.session_factory, "export_csv") == []


async def test_queue_pagination(workspace):
    references = [
        add_ticket(workspace.session_factory, name=f"Member {i}") for i in range(30)
    ]
    client = await signed_in(workspace, "ana")
    try:
        _, first, _ = await client.get("/workspace/?status=open")
        assert "Page 1 of 2" in first
        assert 'href="?status=open&amp;page=2"' in first
        _, second, _ = await client.get("/workspace/?status=open&page=2")
        assert "Page 2 of 2" in second
    finally:
        await client.close()
    shown = [ref for ref in references if ref in first or ref in second]
    assert sorted(shown) == sorted(references)
    assert not [ref for ref in references if ref in first and ref in second]


async def test_csv_export(workspace):
    add_ticket(
        workspace.session_factory,
        name='=HYPERLINK("http://x")',
        preferred_language="es",
    )
    add_ticket(workspace.session_factory, name="English Member")
    client = await signed_in(workspace, "sam", "supervisor")
    try:
        status, body, response = await client.get("/workspace/export.csv?language=es")
    finally:
        await client.close()
    assert status == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert response.headers["Content-Disposition"].startswith("attachment;")
    rows = list(csv.reader(io.StringIO(body)))
    assert len(rows) == 2
    assert "English Member" not in body
    assert not any(cell.startswith("=") for cell in rows[1])
    exports = audit_rows(workspace.session_factory, "export_csv")
    assert len(exports) == 1
    assert exports[0].detail["rows"] == 1


# One ticket.


async def test_ticket_page_shows_details(workspace):
    reference = add_ticket(
        workspace.session_factory,
        name="Rosalind Quimby",
        member_id="A1234567",
        call_time="mornings",
        services=["ecm", "housing_deposits"],
    )
    earlier = add_ticket(
        workspace.session_factory, name="Rosalind Quimby", member_id="A1234567"
    )
    add_messages(
        workspace.session_factory,
        load_ticket(workspace.session_factory, reference).conversation_id,
        [("user", "can someone call me"), ("bot", "Sure, what is your name?")],
    )
    client = await signed_in(workspace, "ana")
    try:
        status, html, _ = await client.get(f"/workspace/tickets/{reference}")
    finally:
        await client.close()
    assert status == 200
    for text in (
        "Rosalind Quimby",
        "+16505550100",
        "A1234567",
        "mornings",
        "Consent to be contacted",
        "Enhanced Care Management (ECM)",
        "Housing Deposits",
        "Likely eligible",
        "Experiencing homelessness",
        "can someone call me",
        "Sure, what is your name?",
        f'href="/workspace/tickets/{earlier}"',
    ):
        assert text in html, text
    views = audit_rows(workspace.session_factory, "view_ticket")
    assert [row.ticket_reference for row in views] == [reference]
    assert views[0].actor == "ana"


async def test_messages_withheld_without_consent(workspace):
    reference = add_ticket(workspace.session_factory, consent_share_screening=False)
    client = await signed_in(workspace, "ana")
    try:
        _, html, _ = await client.get(f"/workspace/tickets/{reference}")
    finally:
        await client.close()
    assert "did not agree to share the conversation" in html
    assert "Experiencing homelessness" not in html


async def test_deleted_conversation_ticket_page(workspace):
    reference = add_ticket(workspace.session_factory, name="Rosalind Quimby")
    ticket = load_ticket(workspace.session_factory, reference)
    with workspace.session_factory() as session, session.begin():
        enqueue_sms(
            session,
            to_number=ticket.phone,
            body=f"We got your request {reference}.",
            language="en",
            kind="ticket_confirmation",
            ticket_id=ticket.id,
        )
    ConversationEraser(workspace.session_factory).request_deletion(
        ticket.conversation_id
    )
    client = await signed_in(workspace, "ana")
    try:
        _, html, _ = await client.get(f"/workspace/tickets/{reference}")
        _, open_queue, _ = await client.get("/workspace/?status=open")
        _, all_tickets, _ = await client.get("/workspace/")
    finally:
        await client.close()

    notice = html.index("The member canceled this request")
    assert notice < html.index('id="contact-heading"')
    assert "Their name, contact details, member ID and screening answers" in html
    assert "Rosalind Quimby" not in html
    assert "+10000000000" not in html
    assert "Status: <strong>Closed</strong>" in html
    assert "Closed (Member declined)" in html
    assert "deleted the conversation in the assistant" in html
    assert "Not sent: canceled because the member deleted the conversation" in html
    assert "Twilio did not take it" not in html
    assert reference not in open_queue
    assert reference in all_tickets
    assert "(removed: the member deleted the conversation)" in all_tickets


async def test_open_pseudonymised_ticket_asks_to_close(workspace):
    # Deleted before the deletion closed tickets, so it is still `new`.
    reference = add_ticket(
        workspace.session_factory,
        name=None,
        phone="+10000000000",
        pseudonymised_at=utcnow(),
    )
    client = await signed_in(workspace, "ana")
    try:
        _, html, _ = await client.get(f"/workspace/tickets/{reference}")
    finally:
        await client.close()

    text = " ".join(html.split())
    assert "The member canceled this request" in text
    assert 'Close the ticket with the reason "Member declined".' in text


async def test_unknown_ticket_404(workspace):
    client = await signed_in(workspace, "ana")
    try:
        status, html, _ = await client.get("/workspace/tickets/HP-7KQ4MX")
    finally:
        await client.close()
    assert status == 404
    assert "No ticket has that reference code" in html


async def test_status_change_records_history_and_sms(workspace):
    reference = add_ticket(workspace.session_factory)
    client = await signed_in(workspace, "ana")
    try:
        _, html, _ = await client.get(f"/workspace/tickets/{reference}")
        assert '<option value="contact_attempted"' in html
        assert '<option value="authorized"' not in html
        status, _, response = await client.post(
            f"/workspace/tickets/{reference}/status",
            {
                "csrf_token": csrf_token(html),
                "version": ticket_version(html),
                "to_status": "contact_attempted",
                "status_note": "Left a voicemail",
            },
        )
        assert status == 303
        assert (
            response.headers["Location"]
            == f"/workspace/tickets/{reference}?saved=status"
        )
        _, html, _ = await client.get(response.headers["Location"])
    finally:
        await client.close()
    assert "The status was changed." in html
    assert "Left a voicemail" in html
    assert "Ana" in html
    ticket = load_ticket(workspace.session_factory, reference)
    assert ticket.status == "contact_attempted"
    assert ticket.version == 2
    assert count(workspace.session_factory, OutboxMessage, ticket_id=ticket.id) == 1


async def test_closing_requires_reason(workspace):
    reference = add_ticket(workspace.session_factory)
    client = await signed_in(workspace, "ana")
    try:
        _, html, _ = await client.get(f"/workspace/tickets/{reference}")
        fields = {
            "csrf_token": csrf_token(html),
            "version": ticket_version(html),
            "to_status": "closed",
            "status_note": "Member moved away",
        }
        status, page, _ = await client.post(
            f"/workspace/tickets/{reference}/status", fields
        )
        assert status == 422
        assert "Choose a close reason to close the ticket" in page
        assert "got None" not in page
        assert "Member moved away" in page
        assert '<option value="closed" selected>' in page

        status, _, _ = await client.post(
            f"/workspace/tickets/{reference}/status",
            {**fields, "close_reason": "unable_to_reach"},
        )
        assert status == 303
    finally:
        await client.close()
    ticket = load_ticket(workspace.session_factory, reference)
    assert ticket.status == "closed"
    assert ticket.close_reason == "unable_to_reach"


async def test_assign_to_me_and_note(workspace):
    reference = add_ticket(workspace.session_factory)
    client = await signed_in(workspace, "ana")
    try:
        _, html, _ = await client.get(f"/workspace/tickets/{reference}")
        status, _, _ = await client.post(
            f"/workspace/tickets/{reference}/assign",
            {
                "csrf_token": csrf_token(html),
                "version": ticket_version(html),
                "assignee": "none",
                "assign_to_me": "1",
            },
        )
        assert status == 303
        status, _, _ = await client.post(
            f"/workspace/tickets/{reference}/notes",
            {"csrf_token": csrf_token(html), "body": "Prefers text messages"},
        )
        assert status == 303
        status, page, _ = await client.post(
            f"/workspace/tickets/{reference}/notes",
            {"csrf_token": csrf_token(html), "body": "   "},
        )
        assert status == 400
        assignee_id = load_ticket(workspace.session_factory, reference).assignee_id
        _, html, _ = await client.get(f"/workspace/?assignee={assignee_id}")
        assert reference in html
    finally:
        await client.close()
    assert load_ticket(workspace.session_factory, reference).assignee_id is not None
    assert count(workspace.session_factory, TicketNote) == 1


async def test_member_text_is_escaped(workspace):
    reference = add_ticket(
        workspace.session_factory,
        name=XSS_SCRIPT + XSS_ATTRIBUTE,
        call_time=XSS_ATTRIBUTE,
    )
    add_messages(
        workspace.session_factory,
        load_ticket(workspace.session_factory, reference).conversation_id,
        [("user", XSS_SCRIPT), ("user", XSS_ATTRIBUTE)],
    )
    client = await signed_in(workspace, "ana")
    try:
        _, html, _ = await client.get(f"/workspace/tickets/{reference}")
        await client.post(
            f"/workspace/tickets/{reference}/notes",
            {"csrf_token": csrf_token(html), "body": XSS_SCRIPT + XSS_ATTRIBUTE},
        )
        _, ticket_html, _ = await client.get(f"/workspace/tickets/{reference}")
        _, queue_html, _ = await client.get("/workspace/")
        _, search_html, _ = await client.get("/workspace/?search=" + XSS_ATTRIBUTE)
    finally:
        await client.close()
    for page in (ticket_html, queue_html, search_html):
        assert "<script>alert(1)" not in page
        assert "<img src=x" not in page
    assert ticket_html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 3
    assert "&#34;&gt;&lt;img src=x onerror=alert(2)&gt;" in ticket_html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in queue_html


async def test_concurrent_status_changes(workspace):
    reference = add_ticket(workspace.session_factory)
    first = await signed_in(workspace, "ana")
    second = await signed_in(workspace, "ben")
    try:
        _, page_a, _ = await first.get(f"/workspace/tickets/{reference}")
        _, page_b, _ = await second.get(f"/workspace/tickets/{reference}")

        def form(page: str, to_status: str, note: str) -> dict:
            return {
                "csrf_token": csrf_token(page),
                "version": ticket_version(page),
                "to_status": to_status,
                "status_note": note,
            }

        results = await asyncio.gather(
            first.post(
                f"/workspace/tickets/{reference}/status",
                form(page_a, "contact_attempted", "Note from Ana"),
            ),
            second.post(
                f"/workspace/tickets/{reference}/status",
                form(page_b, "contacted", "Note from Ben"),
            ),
        )
        # The loser's browser now contains the form it could not save.
        ana_lost = first.cookie(CONFLICT_COOKIE) is not None
        loser, winner = (first, second) if ana_lost else (second, first)
        loser_location = results[0 if ana_lost else 1][2].headers["Location"]
        winner_cookie = winner.cookie(CONFLICT_COOKIE)
        status, loser_page, _ = await loser.get(loser_location)
        # A reload is a plain GET of the ticket page, with no draft left.
        _, reloaded, _ = await loser.get(loser_location)
    finally:
        await first.close()
        await second.close()

    assert [status for status, _, _ in results] == [303, 303]
    assert loser_location == f"/workspace/tickets/{reference}"
    assert winner_cookie is None
    loser_note = "Note from Ana" if ana_lost else "Note from Ben"
    assert status == 200
    assert "This ticket changed while you were looking at it" in loser_page
    assert f">{loser_note}</textarea>" in loser_page
    assert "This ticket changed" not in reloaded
    assert loser_note not in reloaded

    ticket = load_ticket(workspace.session_factory, reference)
    assert ticket.version == 2
    assert count(workspace.session_factory, TicketStatusChange) == 1
    assert count(workspace.session_factory, TicketNote) == 1
    winner_status = "contacted" if ana_lost else "contact_attempted"
    assert ticket.status == winner_status
    assert 'name="version" value="2"' in loser_page


async def test_conflict_with_long_note_stays_in_place(workspace):
    reference = add_ticket(workspace.session_factory)
    client = await signed_in(workspace, "ana")
    long_note = "Called twice, no answer. " * 200
    try:
        _, page, _ = await client.get(f"/workspace/tickets/{reference}")
        status, html, _ = await client.post(
            f"/workspace/tickets/{reference}/status",
            {
                "csrf_token": csrf_token(page),
                "version": "7",
                "to_status": "contact_attempted",
                "status_note": long_note,
            },
        )
        conflict_cookie = client.cookie(CONFLICT_COOKIE)
    finally:
        await client.close()

    # Too long for a cookie, so the page is shown at the form's address.
    assert status == 409
    assert conflict_cookie is None
    assert "This ticket changed while you were looking at it" in html
    assert f">{long_note}</textarea>" in html


async def test_conflict_draft_is_for_its_user_only(workspace):
    reference = add_ticket(workspace.session_factory)
    other = add_ticket(workspace.session_factory)
    client = await signed_in(workspace, "ana")
    try:
        _, page, _ = await client.get(f"/workspace/tickets/{reference}")
        status, _, _ = await client.post(
            f"/workspace/tickets/{reference}/status",
            {
                "csrf_token": csrf_token(page),
                "version": "7",
                "to_status": "contact_attempted",
                "status_note": "Private draft",
            },
        )
        sealed = client.cookie(CONFLICT_COOKIE)
        _, other_page, _ = await client.get(f"/workspace/tickets/{other}")
        cleared = client.cookie(CONFLICT_COOKIE)
    finally:
        await client.close()
    # The same cookie in another user's browser shows nothing.
    stranger = await signed_in(workspace, "ben")
    try:
        stranger.http.cookie_jar.update_cookies(
            {CONFLICT_COOKIE: sealed}, response_url=URL(workspace.url + "/workspace/")
        )
        _, stranger_page, _ = await stranger.get(f"/workspace/tickets/{reference}")
    finally:
        await stranger.close()

    assert status == 303
    assert sealed
    assert "Private draft" not in other_page
    assert "This ticket changed" not in other_page
    assert not cleared
    assert "Private draft" not in stranger_page
    assert "This ticket changed" not in stranger_page


async def test_stale_assignment_conflict(workspace):
    reference = add_ticket(workspace.session_factory)
    first = await signed_in(workspace, "ana")
    second = await signed_in(workspace, "ben")
    try:
        _, page_a, _ = await first.get(f"/workspace/tickets/{reference}")
        _, page_b, _ = await second.get(f"/workspace/tickets/{reference}")
        status, _, _ = await first.post(
            f"/workspace/tickets/{reference}/assign",
            {
                "csrf_token": csrf_token(page_a),
                "version": ticket_version(page_a),
                "assign_to_me": "1",
            },
        )
        assert status == 303
        status, _, response = await second.post(
            f"/workspace/tickets/{reference}/assign",
            {
                "csrf_token": csrf_token(page_b),
                "version": ticket_version(page_b),
                "assign_to_me": "1",
            },
        )
        assert status == 303
        assert response.headers["Location"] == f"/workspace/tickets/{reference}"
        status, html, _ = await second.get(response.headers["Location"])
    finally:
        await first.close()
        await second.close()
    assert status == 200
    assert "This ticket changed while you were looking at it" in html
    assert re.search(r"assigned to\s*<strong>Ana</strong>", html)
    ticket = load_ticket(workspace.session_factory, reference)
    assert ticket.version == 2
    assert len(audit_rows(workspace.session_factory, "assign")) == 1


# The audit log.


async def test_audit_page_filters(workspace):
    reference = add_ticket(workspace.session_factory)
    coordinator = await signed_in(workspace, "ana")
    supervisor = await signed_in(workspace, "sam", "supervisor")
    try:
        await coordinator.get(f"/workspace/tickets/{reference}")
        status, html, _ = await supervisor.get(
            f"/workspace/audit?action=view_ticket&reference={reference}"
        )
        assert status == 200
        assert "1 entry match" in html
        assert f'href="/workspace/tickets/{reference}"' in html
        assert ">Ana (ana)<" in html

        status, html, _ = await supervisor.get("/workspace/audit?since=yesterday")
        assert status == 400
        assert "The filters were not applied" in html
    finally:
        await coordinator.close()
        await supervisor.close()
    assert len(audit_rows(workspace.session_factory, "view_audit")) == 2


async def test_form_controls_have_labels(workspace):
    reference = add_ticket(workspace.session_factory)
    client = await signed_in(workspace, "sam", "supervisor")
    try:
        pages = [
            (await client.get(path))[1]
            for path in (
                "/workspace/",
                f"/workspace/tickets/{reference}",
                "/workspace/audit",
            )
        ]
    finally:
        await client.close()
    for html in pages:
        controls = re.findall(r"<(?:input|select|textarea)\b[^>]*>", html)
        visible = [tag for tag in controls if 'type="hidden"' not in tag]
        assert visible
        for tag in visible:
            control_id = re.search(r'\bid="([^"]+)"', tag)
            assert control_id, tag
            assert f'<label for="{control_id.group(1)}"' in html, tag


@pytest.mark.parametrize(
    ("code", "name"),
    [("yue", "Cantonese"), ("zh", "Chinese"), ("ase", "American Sign Language"),
     ("other", "Other"), (None, "")],
)
def test_language_label_names_language(code, name):
    from bot.workspace.app import build_templates

    template = build_templates().from_string("{{ value | language_label }}")

    assert template.render(value=code) == name


@pytest.mark.parametrize(
    ("channel", "label"), [("sms", "SMS"), ("webchat", "Web chat"), ("rest", "REST")]
)
def test_channel_label_names_channel(channel, label):
    from bot.workspace.app import build_templates

    template = build_templates().from_string("{{ value | channel_label }}")

    assert template.render(value=channel) == label
