"""Workspace sign-in over real HTTP: cookies, CSRF, lockout and timeouts."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.models import AuditEntry, StaffUser
from bot.web import SETTINGS
from bot.workspace import auth
from bot.workspace.app import LOGIN_COOKIE, SESSION_COOKIE, safe_next
from bot.workspace.cookies import LOGIN_FORM_PURPOSE, SESSION_PURPOSE, CookieSealer
from tests.workspace_support import (  # noqa: F401 - fixtures
    PASSWORD,
    ManualClock,
    add_staff,
    browser,
    clock,
    csrf_token,
    start_workspace,
    workspace,
    workspace_settings,
)

GENERIC_FAILURE = "The username or password is incorrect"


def audit_actions(session_factory) -> list[tuple[str, str, dict | None]]:
    with session_factory() as session:
        rows = session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars()
        return [(row.actor, row.action, row.detail) for row in rows]


def set_cookie_header(response, name: str) -> str:
    headers = [
        value
        for value in response.headers.getall("Set-Cookie", [])
        if value.startswith(name + "=")
    ]
    assert headers, f"no Set-Cookie for {name}"
    return headers[-1]


async def test_login_sets_protected_cookie(workspace, browser):
    add_staff(workspace.session_factory, "ana")

    status, _, response = await browser.login("ana")
    assert status == 303
    assert response.headers["Location"] == "/workspace/"
    header = set_cookie_header(response, SESSION_COOKIE)
    assert "HttpOnly" in header
    assert "SameSite=Strict" in header
    assert "Path=/workspace" in header
    assert "Secure" not in header

    status, html, _ = await browser.get("/workspace/")
    assert status == 200
    assert "Signed in as Ana (coordinator)" in html
    assert ("ana", "login", None) in audit_actions(workspace.session_factory)


async def test_secure_cookie_when_configured(session_factory, db_url, tmp_path):
    settings = workspace_settings(db_url, tmp_path, WORKSPACE_COOKIE_SECURE="true")
    running, runner = await start_workspace(settings, session_factory, ManualClock())
    client = running.client()
    try:
        _, _, response = await client.get("/workspace/login")
        assert "Secure" in set_cookie_header(response, LOGIN_COOKIE)
    finally:
        await client.close()
        await runner.cleanup()


async def test_failures_share_one_message(workspace, browser):
    add_staff(workspace.session_factory, "ana")
    add_staff(workspace.session_factory, "gone")
    with workspace.session_factory() as session:
        auth.set_active(session, "gone", False)
        session.commit()

    pages = {}
    for case, username, password in (
        ("wrong_password", "ana", "not the password at all"),
        ("unknown_user", "nobody", PASSWORD),
        ("inactive", "gone", PASSWORD),
    ):
        status, html, response = await browser.login(username, password)
        assert status == 200, case
        assert GENERIC_FAILURE in html, case
        assert SESSION_COOKIE not in response.cookies, case
        pages[case] = html.replace(username, "USER")
    assert pages["wrong_password"] == pages["unknown_user"] == pages["inactive"]

    reasons = [
        detail["reason"]
        for _, action, detail in audit_actions(workspace.session_factory)
        if action == "login_failed"
    ]
    assert reasons == ["wrong_password", "unknown_user", "inactive"]


async def test_lockout_and_unlock(workspace, browser):
    add_staff(workspace.session_factory, "ana")
    for _ in range(3):
        status, html, _ = await browser.login("ana", "wrong password here")
        assert GENERIC_FAILURE in html

    status, html, response = await browser.login("ana")
    assert GENERIC_FAILURE in html, "a locked account signed in"
    assert SESSION_COOKIE not in response.cookies
    with workspace.session_factory() as session:
        user = session.execute(
            select(StaffUser).where(StaffUser.username == "ana")
        ).scalar_one()
        assert user.locked_until is not None
        auth.unlock_user(session, "ana")
        session.commit()

    status, _, response = await browser.login("ana")
    assert status == 303
    reasons = [
        d["reason"]
        for _, a, d in audit_actions(workspace.session_factory)
        if a == "login_failed"
    ]
    assert reasons == ["wrong_password"] * 3 + ["locked"]


async def test_lockout_expires(workspace, browser, clock):
    add_staff(workspace.session_factory, "ana")
    for _ in range(3):
        await browser.login("ana", "wrong password here")
    clock.advance(minutes=14)
    _, html, _ = await browser.login("ana")
    assert GENERIC_FAILURE in html

    clock.advance(minutes=2)
    status, _, _ = await browser.login("ana")
    assert status == 303


async def test_login_form_requires_csrf(workspace, browser):
    add_staff(workspace.session_factory, "ana")
    fields = {"username": "ana", "password": PASSWORD}

    status, _, response = await browser.post("/workspace/login", fields)
    assert status == 403
    assert SESSION_COOKIE not in response.cookies

    await browser.get("/workspace/login")
    status, _, response = await browser.post(
        "/workspace/login", {**fields, "csrf_token": "forged"}
    )
    assert status == 403
    assert SESSION_COOKIE not in response.cookies
    assert not [
        a for _, a, _ in audit_actions(workspace.session_factory) if a == "login"
    ]


async def test_idle_timeout(workspace, browser, clock):
    add_staff(workspace.session_factory, "ana")
    await browser.login("ana")

    for _ in range(3):
        clock.advance(minutes=25)
        status, _, _ = await browser.get("/workspace/")
        assert status == 200, "activity did not keep the sign-in alive"

    clock.advance(minutes=31)
    status, _, response = await browser.get("/workspace/")
    assert status == 302
    assert response.headers["Location"].startswith("/workspace/login?next=")


async def test_absolute_session_limit(workspace, browser, clock):
    add_staff(workspace.session_factory, "ana")
    await browser.login("ana")
    for _ in range(28):
        clock.advance(minutes=25)
        status, _, _ = await browser.get("/workspace/")
        assert status == 200
    clock.advance(minutes=25)  # 12 h 5 min after signing in
    status, _, _ = await browser.get("/workspace/")
    assert status == 302


async def test_tampered_cookie_rejected(workspace, browser):
    add_staff(workspace.session_factory, "ana")
    await browser.login("ana")
    value = browser.cookie(SESSION_COOKIE)
    flipped = value[:20] + ("A" if value[20] != "A" else "B") + value[21:]

    for forged in (flipped, value + "x", "not-a-cookie"):
        browser.http.cookie_jar.update_cookies(
            {SESSION_COOKIE: forged}, response_url=_url(browser)
        )
        status, _, _ = await browser.get("/workspace/")
        assert status == 302, forged


async def test_cookie_for_other_purpose_rejected(workspace, browser):
    user_id = add_staff(workspace.session_factory, "ana")
    now = int(workspace.clock().timestamp())
    payload = {"uid": user_id, "epoch": 0, "iat": now, "seen": now, "csrf": "x"}
    secret = workspace.app[SETTINGS].app_secret
    wrong_purpose = CookieSealer(secret, LOGIN_FORM_PURPOSE).seal(payload)
    wrong_secret = CookieSealer("another-secret", SESSION_PURPOSE).seal(payload)
    right = CookieSealer(secret, SESSION_PURPOSE).seal(payload)

    for value, expected in ((wrong_purpose, 302), (wrong_secret, 302), (right, 200)):
        browser.http.cookie_jar.update_cookies(
            {SESSION_COOKIE: value}, response_url=_url(browser)
        )
        status, _, _ = await browser.get("/workspace/")
        assert status == expected


async def test_disabled_or_new_password_ends_sessions(workspace, browser):
    add_staff(workspace.session_factory, "ana")
    await browser.login("ana")
    with workspace.session_factory() as session:
        auth.set_password(session, "ana", "a brand new password")
        session.commit()
    status, _, _ = await browser.get("/workspace/")
    assert status == 302

    await browser.login("ana", "a brand new password")
    assert (await browser.get("/workspace/"))[0] == 200
    with workspace.session_factory() as session:
        auth.set_active(session, "ana", False)
        session.commit()
    status, _, _ = await browser.get("/workspace/")
    assert status == 302


async def test_logout_clears_and_revokes(workspace, browser):
    add_staff(workspace.session_factory, "ana")
    await browser.login("ana")
    status, html, _ = await browser.get("/workspace/")
    old_cookie = browser.cookie(SESSION_COOKIE)

    status, _, response = await browser.post(
        "/workspace/logout", {"csrf_token": "wrong"}
    )
    assert status == 403
    assert (await browser.get("/workspace/"))[0] == 200

    status, _, response = await browser.post(
        "/workspace/logout", {"csrf_token": csrf_token(html)}
    )
    assert status == 303
    assert response.headers["Location"] == "/workspace/login"
    assert "Max-Age=0" in set_cookie_header(response, SESSION_COOKIE)
    assert (await browser.get("/workspace/"))[0] == 302

    browser.http.cookie_jar.update_cookies(
        {SESSION_COOKIE: old_cookie}, response_url=_url(browser)
    )
    assert (await browser.get("/workspace/"))[
        0
    ] == 302, "a copied cookie outlived the sign-out"
    assert "logout" in [a for _, a, _ in audit_actions(workspace.session_factory)]


async def test_login_redirects_to_next(workspace, browser):
    add_staff(workspace.session_factory, "ana")
    status, _, response = await browser.login("ana", next_path="/workspace/audit")
    assert status == 303
    assert response.headers["Location"] == "/workspace/audit"


@pytest.mark.parametrize(
    "value, expected",
    [
        ("/workspace/tickets/HP-7KQ4MX", "/workspace/tickets/HP-7KQ4MX"),
        ("/workspace/?status=open&page=2", "/workspace/?status=open&page=2"),
        ("https://evil.example/workspace/", "/workspace/"),
        ("//evil.example/workspace/", "/workspace/"),
        ("/\\evil.example", "/workspace/"),
        ("/api/v1/tickets", "/workspace/"),
        ("/workspace/login", "/workspace/"),
        ("/workspace\r\nSet-Cookie: x=1", "/workspace/"),
        ("javascript:alert(1)", "/workspace/"),
        ("", "/workspace/"),
        (None, "/workspace/"),
    ],
)
def test_safe_next(value, expected):
    assert safe_next(value) == expected


async def test_offsite_next_ignored(workspace, browser):
    add_staff(workspace.session_factory, "ana")
    status, _, response = await browser.login("ana", next_path="https://evil.example/")
    assert status == 303
    assert response.headers["Location"] == "/workspace/"


def test_rehash_on_parameter_change(session_factory):
    from argon2 import PasswordHasher

    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    with session_factory() as session:
        session.add(
            StaffUser(
                username="old",
                display_name="Old",
                role="coordinator",
                password_hash=weak.hash(PASSWORD),
                active=True,
                failed_logins=0,
                session_epoch=0,
            )
        )
        session.commit()
    with session_factory() as session:
        result = auth.authenticate(
            session, "old", PASSWORD, max_failed_logins=3, lockout_minutes=15
        )
        session.commit()
        assert result.ok
    with session_factory() as session:
        user = session.execute(
            select(StaffUser).where(StaffUser.username == "old")
        ).scalar_one()
        assert not PasswordHasher().check_needs_rehash(user.password_hash)
        assert PasswordHasher().verify(user.password_hash, PASSWORD)


def _url(client):
    from yarl import URL

    return URL(client.base_url + "/workspace/")
