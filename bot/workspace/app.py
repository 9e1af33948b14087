"""The care coordinator workspace: server-rendered pages under /workspace/.

Routes:

- `GET/POST /workspace/login`, `POST /workspace/logout`
- `GET /workspace/` the ticket queue, with filters, sorting and pages
- `GET /workspace/tickets/{reference}` one ticket; `POST .../status`,
  `.../assign` and `.../notes` change it
- `GET /workspace/audit` the audit log (supervisors and admins)
- `GET /workspace/export.csv` the filtered queue as CSV (supervisors and
  admins)

Without a valid sign-in, a request for a page is redirected to the sign-in
page with the page in `next`. Requests that cannot use a sign-in form get
401 instead. These are a GET whose `Accept` header names neither `text/html`
nor `*/*`, and a form POST whose `Accept` header lacks `text/html`. The CSV
export also gets 401 unless `Accept` includes `text/html`, as it does when a
browser follows the link.

When a sign-in has ended and a browser submits a ticket form, the reply is
a redirect to the sign-in page, which explains that the sign-in ended. What the
form held is sealed into the sign-in form's cookie (never the URL) and put
back into the same form on the ticket page after signing in again, for the
same user only. A draft too large for a cookie is shown on the sign-in page
instead, to copy.

When someone else saved a ticket first, a status or assignment form is not
saved. The reply is a redirect back to the ticket page, which explains the
conflict and puts back what the form held, carried in a sealed cookie.

Every POST form carries the sign-in's CSRF token. The sign-in form itself
gets a token from a short-lived cookie, so a third-party page cannot sign a
browser in to an account of its choosing. As a second defence, a POST whose
`Origin` header (or, without one, `Referer`) names another site gets 403.
"""

from __future__ import annotations

import functools
import hmac
import io
import logging
import secrets
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Awaitable, Callable, Mapping
from urllib.parse import quote, urlencode, urlsplit

import jinja2
from aiohttp import web
from sqlalchemy import select

from bot.db import run_in_thread
from bot.languages import GROUP_LABELS, language_label, single_language_choices
from bot.models import CLOSE_REASONS, StaffUser, Ticket, utcnow
from bot.web import SESSION_FACTORY, SETTINGS
from bot.workspace import auth
from bot.workspace.audit import ACTIONS, Actor, AuditFilters, list_audit, record
from bot.workspace.audit import MAX_PAGE as AUDIT_MAX_PAGE
from bot.workspace.cookies import (
    CONFLICT_DRAFT_PURPOSE,
    LOGIN_FORM_PURPOSE,
    MAX_COOKIE_CHARS,
    SESSION_PURPOSE,
    CookieSealer,
)
from bot.workspace.detail import PROGRAM_LABELS
from bot.workspace.queue import SERVICE_FILTERS

logger = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
TEMPLATE_DIR = PACKAGE_DIR / "templates"
STATIC_DIR = PACKAGE_DIR / "static"
PREFIX = "/workspace"
SESSION_COOKIE = "hpsm_ws_session"
LOGIN_COOKIE = "hpsm_ws_login"
# What a ticket form contained when someone else saved first. The cookie
# carries it across the redirect to the ticket page, which ignores it after
# this many seconds.
CONFLICT_COOKIE = "hpsm_ws_conflict"
CONFLICT_DRAFT_SECONDS = 300
# The sign-in form's CSRF cookie is refreshed when it is older than this.
LOGIN_FORM_SECONDS = 3600
CSRF_FIELD = "csrf_token"
MAX_FIELD_CHARS = 10_000
# The fields of each ticket form that are kept when a sign-in ends, keyed by
# the last part of the form's path and the form's name in `form_state`.
DRAFT_FORMS = {
    "notes": ("note", ("body",)),
    "status": ("status", ("to_status", "status_date", "close_reason", "status_note")),
    "assign": ("assign", ("assignee",)),
}
SIGN_IN_ENDED = "ended"

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; "
    "form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}

STATUS_LABELS = {
    "new": "New",
    "contact_attempted": "Contact attempted",
    "contacted": "Contacted",
    "referred_to_provider": "Referred to provider",
    "authorized": "Authorized",
    "not_authorized": "Not authorized",
    "services_started": "Services started",
    "closed": "Closed",
}
CLOSE_REASON_LABELS = {
    "declined": "Member declined",
    "unable_to_reach": "Unable to reach",
    "not_eligible": "Not eligible",
    "duplicate": "Duplicate",
    "other": "Other",
}
CHANNEL_LABELS = {"sms": "SMS", "webchat": "Web chat", "rest": "REST"}
SERVICE_LABELS = {**PROGRAM_LABELS, "community_supports": "Community Supports (any)"}
SORT_LABELS = {
    "due": "Due date, soonest first",
    "-due": "Due date, latest first",
    "created": "Created, oldest first",
    "-created": "Created, newest first",
}
ACTION_LABELS = {action: action.replace("_", " ").capitalize() for action in ACTIONS}

WORKSPACE_CLOCK = web.AppKey("workspace_clock", Callable[[], datetime])
_TEMPLATES = web.AppKey("workspace_templates", jinja2.Environment)
_SESSION_SEALER = web.AppKey("workspace_session_sealer", CookieSealer)
_LOGIN_SEALER = web.AppKey("workspace_login_sealer", CookieSealer)
_CONFLICT_SEALER = web.AppKey("workspace_conflict_sealer", CookieSealer)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class SignedIn:
    """The staff user behind a request, read again from the database."""

    user_id: int
    username: str
    display_name: str
    role: str
    csrf_token: str
    payload: dict[str, Any]

    @property
    def actor(self) -> Actor:
        """The audit log's view of this user."""
        return Actor(name=self.username, role=self.role, user_id=self.user_id)

    def can(self, permission: str) -> bool:
        """Tell whether the user's role grants `permission`."""
        return auth.has_permission(self.role, permission)


# Formatting helpers for the templates.


def _timezone():
    from bot.business_days import load_calendar

    return load_calendar().timezone


def format_time(value: datetime | None) -> str:
    """Format a UTC time in the workspace time zone, such as `2026-03-02 09:15 PST`."""
    if value is None:
        return ""
    return value.astimezone(_timezone()).strftime("%Y-%m-%d %H:%M %Z")


def format_date(value: date | None) -> str:
    """Format a date as ISO 8601."""
    return value.isoformat() if value else ""


def local_today(now: datetime) -> date:
    """Return the date at `now` in the workspace time zone."""
    return now.astimezone(_timezone()).date()


def _label(mapping: Mapping[str, str], value: Any) -> str:
    if value is None or value == "":
        return ""
    return mapping.get(str(value), str(value).replace("_", " ").capitalize())


def build_templates() -> jinja2.Environment:
    """Create the template environment, with autoescaping on for every template."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(
        time=format_time,
        day=format_date,
        status_label=lambda value: _label(STATUS_LABELS, value),
        reason_label=lambda value: _label(CLOSE_REASON_LABELS, value),
        language_label=language_label,
        channel_label=lambda value: _label(CHANNEL_LABELS, value),
        service_label=lambda value: _label(SERVICE_LABELS, value),
        action_label=lambda value: _label(ACTION_LABELS, value),
    )
    environment.globals.update(
        STATUS_LABELS=STATUS_LABELS,
        CLOSE_REASON_LABELS=CLOSE_REASON_LABELS,
        LANGUAGE_GROUP_LABELS=GROUP_LABELS,
        SINGLE_LANGUAGES=single_language_choices(),
        SERVICE_LABELS=SERVICE_LABELS,
        SORT_LABELS=SORT_LABELS,
        ACTIONS=ACTIONS,
        CSRF_FIELD=CSRF_FIELD,
    )
    return environment


def render(
    request: web.Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
    signed_in: SignedIn | None = None,
) -> web.Response:
    """Render a template into an HTML response."""
    signed_in = signed_in or request.get("signed_in")
    values = {"signed_in": signed_in, "page_title": "", **(context or {})}
    text = request.app[_TEMPLATES].get_template(template).render(values)
    return web.Response(
        text=text, status=status, content_type="text/html", charset="utf-8"
    )


def error_page(
    request: web.Request, status: int, title: str, message: str
) -> web.Response:
    """Render the plain error page with a status code."""
    return render(
        request, "error.html", {"page_title": title, "message": message}, status=status
    )


# Cookies and sign-in state.


def _now(request: web.Request) -> datetime:
    return request.app[WORKSPACE_CLOCK]()


def _set_cookie(
    request: web.Request, response: web.StreamResponse, name: str, value: str
) -> None:
    response.set_cookie(
        name,
        value,
        path=PREFIX,
        httponly=True,
        samesite="Strict",
        secure=request.app[SETTINGS].workspace_cookie_secure,
    )


def _clear_cookie(
    request: web.Request, response: web.StreamResponse, name: str
) -> None:
    response.set_cookie(
        name,
        "",
        path=PREFIX,
        max_age=0,
        expires="Thu, 01 Jan 1970 00:00:00 GMT",
        httponly=True,
        samesite="Strict",
        secure=request.app[SETTINGS].workspace_cookie_secure,
    )


async def load_signed_in(request: web.Request) -> SignedIn | None:
    """Read the session cookie and the user it names; None when not signed in."""
    payload = request.app[_SESSION_SEALER].open(request.cookies.get(SESSION_COOKIE))
    if payload is None:
        return None
    now = _now(request)
    idle_minutes = request.app[SETTINGS].workspace_session_minutes

    def load() -> tuple[str | None, StaffUser | None]:
        with request.app[SESSION_FACTORY]() as session:
            user_id = payload.get("uid")
            user = session.get(StaffUser, user_id) if isinstance(user_id, int) else None
            return auth.session_problem(payload, user, now, idle_minutes), user

    problem, user = await run_in_thread(load)
    if problem is not None:
        logger.info("Workspace sign-in ended: %s", problem)
        return None
    return SignedIn(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        csrf_token=payload["csrf"],
        payload=payload,
    )


def _refresh_session(
    request: web.Request, response: web.StreamResponse, signed_in: SignedIn
) -> None:
    # Sliding idle timeout: every request moves `seen` forward.
    payload = dict(signed_in.payload, seen=int(_now(request).timestamp()))
    _set_cookie(
        request, response, SESSION_COOKIE, request.app[_SESSION_SEALER].seal(payload)
    )


def csrf_matches(expected: str | None, submitted: Any) -> bool:
    """Compare a submitted CSRF token with the expected one in constant time."""
    if not expected or not isinstance(submitted, str) or not submitted:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), submitted.encode("utf-8"))


def safe_next(value: str | None) -> str:
    """Return `value` if it is a workspace path on this site, else the queue.

    Only relative paths under /workspace/ are accepted, so the sign-in page
    cannot be used to send someone to another site.
    """
    default = PREFIX + "/"
    if not value or len(value) > 2000 or "\\" in value:
        return default
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or value.startswith("//"):
        return default
    if not (parts.path == PREFIX or parts.path.startswith(PREFIX + "/")):
        return default
    if parts.path.startswith(PREFIX + "/login") or parts.path.startswith(
        PREFIX + "/logout"
    ):
        return default
    return value


def _cross_origin(request: web.Request) -> str | None:
    """Return the other site that a POST came from, or None for this site.

    `Origin` decides when present, else `Referer`; a request with neither
    passes, and the CSRF token still applies to it. Only the host and port
    are compared, because a TLS proxy in front of the app makes the scheme
    differ.
    """
    header = request.headers.get("Origin")
    if header is None:
        header = request.headers.get("Referer")
    if header is None:
        return None
    try:
        netloc = urlsplit(header.strip()).netloc.lower()
    except ValueError:
        netloc = ""
    if netloc and netloc == request.host.lower():
        return None
    return header[:200] or "(empty)"


def _forbidden_cross_origin(request: web.Request) -> web.Response:
    logger.warning("Rejected a workspace POST from another site: %s", request.path)
    return error_page(
        request,
        403,
        "Form from another site",
        "This form was sent from another website, so nothing was changed. "
        "Open the workspace directly and try again.",
    )


def _draft_from_form(
    request: web.Request, form: Mapping[str, Any], user_id: Any
) -> dict[str, Any] | None:
    """Collect what a ticket form held, to put it back after signing in."""
    reference = request.match_info.get("reference")
    form_kind = request.path.rsplit("/", 1)[-1]
    if reference is None or form_kind not in DRAFT_FORMS:
        return None
    name, fields = DRAFT_FORMS[form_kind]
    values = {field: _field(form, field) for field in fields}
    if not any(value.strip() for value in values.values()):
        return None
    return {
        "reference": reference,
        "uid": user_id if isinstance(user_id, int) else None,
        "form": name,
        "fields": values,
    }


async def _unauthenticated(request: web.Request, kind: str) -> web.StreamResponse:
    accept = request.headers.get("Accept", "")
    wants_html = "text/html" in accept
    if kind == "page":
        follows_redirect = wants_html or "*/*" in accept or not accept
    else:
        follows_redirect = wants_html
    ended = SESSION_COOKIE in request.cookies
    if follows_redirect:
        if request.method in ("GET", "HEAD"):
            target = request.path_qs
        elif "reference" in request.match_info:
            target = f"{PREFIX}/tickets/{quote(request.match_info['reference'])}"
        else:
            target = PREFIX + "/"
        query = {"next": safe_next(target)}
        if ended:
            query[SIGN_IN_ENDED] = "1"
        location = f"{PREFIX}/login?{urlencode(query)}"
        status = 302 if request.method in ("GET", "HEAD") else 303
        response: web.StreamResponse = web.Response(
            status=status, headers={"Location": location}
        )
        if request.method == "POST":
            expired = request.app[_SESSION_SEALER].open(
                request.cookies.get(SESSION_COOKIE)
            )
            draft = _draft_from_form(
                request, await request.post(), (expired or {}).get("uid")
            )
            if draft is not None:
                sealed = _seal_login_cookie(request, {"draft": draft})
                if sealed is None:
                    # Too long for a cookie: show it on the sign-in page to copy.
                    response = _login_form(
                        request,
                        safe_next(target),
                        ended=True,
                        draft_to_copy=draft,
                        status=401,
                    )
                else:
                    _set_cookie(request, response, LOGIN_COOKIE, sealed)
    else:
        response = web.Response(
            status=401,
            text="Sign in to the workspace at /workspace/login first.\n",
            content_type="text/plain",
        )
    if SESSION_COOKIE in request.cookies:
        _clear_cookie(request, response, SESSION_COOKIE)
    return response


def staff_route(
    permission: str = "work_tickets", kind: str = "page"
) -> Callable[[Handler], Handler]:
    """Require a valid sign-in, a role with `permission` and, for POST, the CSRF token.

    Args:
        permission: What the role must grant (see `bot.workspace.auth.PERMISSIONS`).
        kind: `page` for HTML pages, `data` for downloads; it decides between
            a redirect and 401 for a request without a sign-in.
    """

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def wrapper(request: web.Request) -> web.StreamResponse:
            if request.method == "POST" and _cross_origin(request) is not None:
                return _forbidden_cross_origin(request)
            signed_in = await load_signed_in(request)
            if signed_in is None:
                return await _unauthenticated(
                    request, "form" if request.method == "POST" else kind
                )
            request["signed_in"] = signed_in
            form = await request.post() if request.method == "POST" else None

            response: web.StreamResponse
            if not signed_in.can(permission):
                logger.info(
                    "Staff user %s (%s) was denied %s",
                    signed_in.user_id,
                    signed_in.role,
                    request.path,
                )
                response = error_page(
                    request,
                    403,
                    "Not allowed",
                    "Your role does not allow this page. "
                    "Ask a supervisor if you need it.",
                )
            elif form is not None and not csrf_matches(
                signed_in.csrf_token, form.get(CSRF_FIELD)
            ):
                logger.warning(
                    "Rejected a workspace form without a valid CSRF token: %s",
                    request.path,
                )
                response = error_page(
                    request,
                    403,
                    "Form expired",
                    "This form could not be checked, so nothing was changed. "
                    "Go back, reload the page and try again.",
                )
            else:
                request["form"] = form
                try:
                    response = await handler(request)
                except web.HTTPException as error:
                    _refresh_session(request, error, signed_in)
                    raise
            if not request.get("signed_out"):
                _refresh_session(request, response, signed_in)
            return response

        return wrapper

    return decorate


@web.middleware
async def security_headers(
    request: web.Request, handler: Handler
) -> web.StreamResponse:
    """Add the workspace's security headers to each of its responses."""
    if not (request.path == PREFIX or request.path.startswith(PREFIX + "/")):
        return await handler(request)
    try:
        response = await handler(request)
    except web.HTTPException as error:
        _add_security_headers(request, error)
        raise
    _add_security_headers(request, response)
    return response


def _add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.path.startswith(PREFIX + "/static/"):
        response.headers.setdefault("Cache-Control", "no-cache")
    else:
        # Pages carry member data; no browser or proxy may keep a copy.
        response.headers["Cache-Control"] = "no-store"
        response.headers["Pragma"] = "no-cache"


# Sign-in and sign-out.


async def login_page(request: web.Request) -> web.StreamResponse:
    """Show the sign-in form, or go on to `next` if already signed in."""
    target = safe_next(request.query.get("next"))
    if await load_signed_in(request) is not None:
        raise web.HTTPFound(target)
    return _login_form(request, target, ended=SIGN_IN_ENDED in request.query)


def _login_payload(request: web.Request, base: dict[str, Any] | None) -> dict[str, Any]:
    """Return the sign-in form's cookie payload with a fresh CSRF token if needed.

    A draft in `base` is kept, so a form typed before the sign-in ended
    survives reloads of the sign-in page.
    """
    now = int(_now(request).timestamp())
    payload = dict(base or {})
    if (
        not isinstance(payload.get("csrf"), str)
        or not isinstance(payload.get("iat"), int)
        or now - payload["iat"] > LOGIN_FORM_SECONDS
    ):
        payload["csrf"] = secrets.token_urlsafe(auth.CSRF_TOKEN_BYTES)
        payload["iat"] = now
    return payload


def _seal_login_cookie(request: web.Request, base: dict[str, Any]) -> str | None:
    """Seal the sign-in form's cookie; None when it would be too long to keep."""
    sealed = request.app[_LOGIN_SEALER].seal(_login_payload(request, base))
    return sealed if len(sealed) <= MAX_COOKIE_CHARS else None


def _login_form(
    request: web.Request,
    target: str,
    *,
    error: str | None = None,
    username: str = "",
    ended: bool = False,
    draft_to_copy: dict[str, Any] | None = None,
    status: int = 200,
) -> web.Response:
    sealer = request.app[_LOGIN_SEALER]
    opened = sealer.open(request.cookies.get(LOGIN_COOKIE))
    if draft_to_copy is not None:
        opened = None
    payload = _login_payload(request, opened)
    response = render(
        request,
        "login.html",
        {
            "page_title": "Sign in",
            "next": target,
            "csrf_token": payload["csrf"],
            "error": error,
            "username": username,
            "ended": ended,
            "draft_kept": isinstance(payload.get("draft"), dict),
            "draft_to_copy": draft_to_copy,
        },
        status=status,
    )
    _set_cookie(request, response, LOGIN_COOKIE, sealer.seal(payload))
    return response


async def login_submit(request: web.Request) -> web.StreamResponse:
    """Check the sign-in form and start a session."""
    if _cross_origin(request) is not None:
        return _forbidden_cross_origin(request)
    form = await request.post()
    target = safe_next(form.get("next") if isinstance(form.get("next"), str) else None)
    cookie = request.app[_LOGIN_SEALER].open(request.cookies.get(LOGIN_COOKIE))
    if cookie is None or not csrf_matches(cookie.get("csrf"), form.get(CSRF_FIELD)):
        logger.warning("Rejected a sign-in form without a valid CSRF token")
        response = error_page(
            request,
            403,
            "Sign-in form expired",
            "The sign-in form could not be checked. "
            "Open the sign-in page again and retry.",
        )
        return response

    username = form.get("username")
    password = form.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        return _login_form(
            request, target, error="Enter your username and password.", status=400
        )
    username = username.strip()[:200]
    if not username or not password:
        return _login_form(
            request,
            target,
            error="Enter your username and password.",
            username=username,
            status=400,
        )

    settings = request.app[SETTINGS]
    now = _now(request)

    def attempt() -> tuple[bool, dict[str, Any] | None]:
        with request.app[SESSION_FACTORY]() as session:
            result = auth.authenticate(
                session,
                username,
                password,
                max_failed_logins=settings.workspace_max_failed_logins,
                lockout_minutes=settings.workspace_lockout_minutes,
                now=now,
            )
            if result.ok:
                user = result.user
                record(
                    session, Actor(user.username, user.role, user.id), "login", now=now
                )
                payload = auth.new_session_payload(user, now)
            else:
                actor = (
                    Actor(result.user.username, result.user.role, result.user.id)
                    if result.user is not None
                    else Actor("(unknown user)", "none")
                )
                record(
                    session,
                    actor,
                    "login_failed",
                    detail={"reason": result.outcome},
                    now=now,
                )
                payload = None
            session.commit()
            return result.ok, payload

    ok, payload = await run_in_thread(attempt)
    if not ok:
        return _login_form(
            request,
            target,
            error="The username or password is incorrect, or the account is locked or "
            "disabled. Try again, or ask an administrator to unlock the account.",
            username=username,
        )
    response = web.Response(status=303, headers={"Location": target})
    _set_cookie(
        request, response, SESSION_COOKIE, request.app[_SESSION_SEALER].seal(payload)
    )
    draft = cookie.get("draft")
    if isinstance(draft, dict):
        # Kept until the ticket page puts it back into its form.
        sealed = request.app[_LOGIN_SEALER].seal({"draft": draft})
        _set_cookie(request, response, LOGIN_COOKIE, sealed)
    else:
        _clear_cookie(request, response, LOGIN_COOKIE)
    return response


@staff_route()
async def logout(request: web.Request) -> web.StreamResponse:
    """End the sign-in: clear the cookie and end the account's other sessions too."""
    signed_in: SignedIn = request["signed_in"]
    now = _now(request)

    def sign_out() -> None:
        with request.app[SESSION_FACTORY]() as session:
            user = session.get(StaffUser, signed_in.user_id)
            if user is not None:
                # A copied cookie must not outlive the sign-out.
                user.session_epoch += 1
            record(session, signed_in.actor, "logout", now=now)
            session.commit()

    await run_in_thread(sign_out)
    logger.info("Staff user %s signed out", signed_in.user_id)
    response = web.Response(status=303, headers={"Location": f"{PREFIX}/login"})
    _clear_cookie(request, response, SESSION_COOKIE)
    # A draft kept from an ended sign-in must not wait for the next user.
    _clear_cookie(request, response, LOGIN_COOKIE)
    _clear_cookie(request, response, CONFLICT_COOKIE)
    # Tells the route wrapper not to renew the cookie on the way out.
    request["signed_out"] = True
    return response


async def workspace_root(request: web.Request) -> web.StreamResponse:
    """Send /workspace to the queue at /workspace/."""
    raise web.HTTPFound(PREFIX + "/")


# The queue and the CSV export.


def _query_without(query: Mapping[str, str], *names: str) -> dict[str, str]:
    return {
        key: value for key, value in query.items() if key not in names and value != ""
    }


def _parse_queue_filters(query: Mapping[str, str]) -> tuple[Any, str | None]:
    from bot.workspace.queue import QueueFilters

    try:
        return QueueFilters.from_query(query), None
    except ValueError as error:
        return QueueFilters(), f"The filters were not applied: {error}"


@staff_route()
async def queue_page(request: web.Request) -> web.StreamResponse:
    """Show the ticket queue with the filters from the query string."""
    from bot.workspace.queue import list_queue

    signed_in: SignedIn = request["signed_in"]
    filters, filter_error = _parse_queue_filters(request.query)
    now = _now(request)

    def load():
        with request.app[SESSION_FACTORY]() as session:
            page = list_queue(session, filters, now=now)
            staff = auth.list_active_staff(session)
            record(
                session,
                signed_in.actor,
                "view_queue",
                detail={"filters": _audit_filters(filters), "page": page.page},
                now=now,
            )
            session.commit()
            return page, [(user.id, user.display_name) for user in staff]

    page, staff = await run_in_thread(load)
    query = {} if filter_error else _query_without(request.query, "page")
    return render(
        request,
        "queue.html",
        {
            "page_title": "Ticket queue",
            "filters": filters,
            "filter_error": filter_error,
            "page": page,
            "staff": staff,
            "query": query,
            "page_query": lambda number: urlencode({**query, "page": number}),
            "export_query": urlencode(query),
            "service_filters": SERVICE_FILTERS,
        },
        status=400 if filter_error else 200,
    )


def _audit_filters(filters: Any) -> dict[str, Any]:
    # The search text can be a phone number or member id, so only its use is kept.
    return {
        "status": filters.status,
        "language": filters.language,
        "service": filters.service,
        "assignee": filters.assignee,
        "overdue": filters.overdue,
        "sort": filters.sort,
        "searched": bool(filters.search),
    }


@staff_route(permission="export_csv", kind="data")
async def export_csv(request: web.Request) -> web.StreamResponse:
    """Send the queue, filtered as on the queue page, as a CSV attachment."""
    from bot.workspace.export import write_csv
    from bot.workspace.queue import QueueFilters, iter_queue, reject_repeated

    signed_in: SignedIn = request["signed_in"]
    try:
        reject_repeated(request.query)
        filters = QueueFilters.from_query(_query_without(request.query, "page"))
    except ValueError as error:
        return error_page(
            request, 400, "Invalid filters", f"The export was not made: {error}"
        )
    now = _now(request)

    def build() -> tuple[str, int]:
        out = io.StringIO()
        with request.app[SESSION_FACTORY]() as session:
            count = write_csv(iter_queue(session, filters, now=now), out)
            record(
                session,
                signed_in.actor,
                "export_csv",
                detail={"filters": _audit_filters(filters), "rows": count},
                now=now,
            )
            session.commit()
        return out.getvalue(), count

    text, count = await run_in_thread(build)
    logger.info("Staff user %s exported %d tickets as CSV", signed_in.user_id, count)
    filename = f"hpsm-tickets-{local_today(now).isoformat()}.csv"
    return web.Response(
        body=text.encode("utf-8"),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# One ticket.


def _ticket_url(reference: str, **query: str) -> str:
    url = f"{PREFIX}/tickets/{quote(reference)}"
    return url + ("?" + urlencode(query) if query else "")


async def _render_ticket(
    request: web.Request,
    reference: str,
    *,
    form_state: dict[str, Any] | None = None,
    error: str | None = None,
    conflict: bool = False,
    restored: bool = False,
    status: int = 200,
) -> web.StreamResponse:
    from bot.workspace.detail import load_ticket_detail
    from bot.workspace.workflow import ALLOWED_TRANSITIONS

    signed_in: SignedIn = request["signed_in"]
    now = _now(request)

    def load():
        with request.app[SESSION_FACTORY]() as session:
            detail = load_ticket_detail(session, reference)
            if detail is None:
                return None, []
            record(
                session, signed_in.actor, "view_ticket", ticket=detail.ticket, now=now
            )
            staff = [
                (user.id, user.display_name) for user in auth.list_active_staff(session)
            ]
            session.commit()
            return detail, staff

    detail, staff = await run_in_thread(load)
    if detail is None:
        return error_page(
            request, 404, "Ticket not found", "No ticket has that reference code."
        )
    ticket = detail.ticket
    next_statuses = list(ALLOWED_TRANSITIONS.get(ticket.status, ()))
    if ticket.status == "closed" and not signed_in.can("reopen"):
        next_statuses = []
    saved = request.query.get("saved") if status == 200 else None
    return render(
        request,
        "ticket.html",
        {
            "page_title": f"Ticket {ticket.reference}",
            "detail": detail,
            "ticket": ticket,
            "overdue": ticket.is_overdue(now),
            "staff": staff,
            "next_statuses": next_statuses,
            "reopen_blocked": ticket.status == "closed" and not signed_in.can("reopen"),
            "close_reasons": CLOSE_REASONS,
            "today": local_today(now).isoformat(),
            "created_day": local_today(ticket.created_at).isoformat(),
            "restored": restored,
            "form": form_state or {},
            "error": error,
            "conflict": conflict,
            "saved": saved,
            "csrf_token": signed_in.csrf_token,
        },
        status=status,
    )


def _draft_form_state(
    request: web.Request, signed_in: SignedIn, draft: Any
) -> dict[str, Any] | None:
    """Return a draft's form state if it is this user's, for this ticket page."""
    if not isinstance(draft, dict) or not isinstance(draft.get("fields"), dict):
        return None
    if draft.get("uid") != signed_in.user_id:
        return None
    if draft.get("reference") != request.match_info["reference"]:
        return None
    if draft.get("form") not in {name for name, _ in DRAFT_FORMS.values()}:
        return None
    fields = {
        str(key): str(value)[:MAX_FIELD_CHARS]
        for key, value in draft["fields"].items()
        if isinstance(value, str)
    }
    return {**fields, "form": draft["form"]}


def _restored_form(request: web.Request, signed_in: SignedIn) -> dict[str, Any] | None:
    """Return the form state kept when the sign-in ended, if it is for this page."""
    payload = request.app[_LOGIN_SEALER].open(request.cookies.get(LOGIN_COOKIE))
    return _draft_form_state(request, signed_in, (payload or {}).get("draft"))


def _conflict_form(request: web.Request, signed_in: SignedIn) -> dict[str, Any] | None:
    """Return the form state that lost an edit conflict, if it is for this page."""
    payload = request.app[_CONFLICT_SEALER].open(request.cookies.get(CONFLICT_COOKIE))
    if payload is None:
        return None
    sealed_at = payload.get("iat")
    age = _now(request).timestamp() - sealed_at if isinstance(sealed_at, int) else -1
    if not 0 <= age <= CONFLICT_DRAFT_SECONDS:
        return None
    return _draft_form_state(request, signed_in, payload.get("draft"))


@staff_route()
async def ticket_page(request: web.Request) -> web.StreamResponse:
    """Show one ticket with its forms, refilled with a draft that was not saved.

    A draft comes from an edit conflict (after the redirect that
    `_apply_change` sends) or from a sign-in that ended while the form was
    open. Each is put back once, then its cookie is cleared.
    """
    signed_in: SignedIn = request["signed_in"]
    conflict_state = None
    if CONFLICT_COOKIE in request.cookies:
        conflict_state = _conflict_form(request, signed_in)
    restored_state = None if conflict_state else _restored_form(request, signed_in)
    response = await _render_ticket(
        request,
        request.match_info["reference"],
        form_state=conflict_state or restored_state,
        conflict=conflict_state is not None,
        restored=restored_state is not None,
    )
    if CONFLICT_COOKIE in request.cookies:
        _clear_cookie(request, response, CONFLICT_COOKIE)
    if restored_state is not None:
        _clear_cookie(request, response, LOGIN_COOKIE)
    return response


def _field(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name)
    return value[:MAX_FIELD_CHARS] if isinstance(value, str) else ""


def _version(form: Mapping[str, Any]) -> int | None:
    value = _field(form, "version")
    return int(value) if value.isdigit() else None


async def _apply_change(
    request: web.Request,
    change: Callable[[Any, Actor, datetime], None],
    form_state: dict[str, Any],
    saved: str,
) -> web.StreamResponse:
    """Run `change` in one transaction, then redirect or show why it failed."""
    from bot.workspace.workflow import (
        StaleTicketError,
        TicketNotFoundError,
        WorkflowValueError,
    )

    signed_in: SignedIn = request["signed_in"]
    reference = request.match_info["reference"]
    now = _now(request)

    def run() -> None:
        with request.app[SESSION_FACTORY]() as session:
            change(session, signed_in.actor, now)
            session.commit()

    try:
        await run_in_thread(run)
    except TicketNotFoundError:
        logger.info("Ticket change failed: ticket %s not found", reference)
        return error_page(
            request, 404, "Ticket not found", "No ticket has that reference code."
        )
    except StaleTicketError:
        logger.info(
            "Ticket %s changed before staff user %s saved", reference, signed_in.user_id
        )
        return await _conflict_response(request, reference, form_state, signed_in)
    except PermissionError as error:
        logger.info(
            "Staff user %s was denied a change of ticket %s",
            signed_in.user_id,
            reference,
        )
        return error_page(request, 403, "Not allowed", str(error))
    except WorkflowValueError as error:
        logger.info(
            "Rejected a change of ticket %s by staff user %s: %s",
            reference,
            signed_in.user_id,
            type(error).__name__,
        )
        return await _render_ticket(
            request, reference, form_state=form_state, error=str(error), status=422
        )
    return web.Response(
        status=303, headers={"Location": _ticket_url(reference, saved=saved)}
    )


async def _conflict_response(
    request: web.Request,
    reference: str,
    form_state: dict[str, Any],
    signed_in: SignedIn,
) -> web.StreamResponse:
    """Send the browser back to the ticket page with the form it could not save.

    A 303 redirect with the form state in a sealed cookie leaves the browser
    on the ticket's own address, so a reload does not resubmit the stale form.
    It needs no script, which the workspace's CSP limits to its own files.
    """
    draft = {
        "reference": reference,
        "uid": signed_in.user_id,
        "form": form_state["form"],
        "fields": {key: value for key, value in form_state.items() if key != "form"},
    }
    sealed = request.app[_CONFLICT_SEALER].seal(
        {"draft": draft, "iat": int(_now(request).timestamp())}
    )
    if len(sealed) > MAX_COOKIE_CHARS:
        # NOTE: a draft too long for a cookie (a long status note) is shown
        # at the form's address, so reloading that page offers to resubmit.
        return await _render_ticket(
            request, reference, form_state=form_state, conflict=True, status=409
        )
    response = web.Response(
        status=303, headers={"Location": _ticket_url(reference)}
    )
    _set_cookie(request, response, CONFLICT_COOKIE, sealed)
    return response


@staff_route()
async def change_status_submit(request: web.Request) -> web.StreamResponse:
    """Change a ticket's status, with an optional note about the change."""
    from bot.workspace.workflow import add_note, change_status

    signed_in: SignedIn = request["signed_in"]
    form = request["form"]
    reference = request.match_info["reference"]
    state = {
        "form": "status",
        "to_status": _field(form, "to_status"),
        "status_date": _field(form, "status_date"),
        "close_reason": _field(form, "close_reason"),
        "status_note": _field(form, "status_note"),
    }
    version = _version(form)
    if version is None:
        return await _render_ticket(
            request,
            reference,
            form_state=state,
            error="The form is missing the ticket version; reload the page.",
            status=400,
        )
    try:
        status_date = (
            date.fromisoformat(state["status_date"]) if state["status_date"] else None
        )
    except ValueError:
        return await _render_ticket(
            request,
            reference,
            form_state=state,
            error="Enter the status date as YYYY-MM-DD.",
            status=400,
        )
    close_reason = state["close_reason"] if state["to_status"] == "closed" else None
    close_reason = close_reason or None
    note = state["status_note"].strip()
    may_reopen = signed_in.can("reopen")

    def change(session, actor: Actor, now: datetime) -> None:
        current = session.execute(
            select(Ticket.status).where(Ticket.reference == reference)
        ).scalar_one_or_none()
        if current == "closed" and not may_reopen:
            raise PermissionError(
                "Only a supervisor or an admin can reopen a closed ticket."
            )
        change_status(
            session,
            reference,
            to_status=state["to_status"],
            expected_version=version,
            actor=actor,
            status_date=status_date,
            close_reason=close_reason,
            now=now,
        )
        if note:
            add_note(session, reference, body=note, actor=actor, now=now)

    return await _apply_change(request, change, state, "status")


@staff_route()
async def assign_submit(request: web.Request) -> web.StreamResponse:
    """Assign a ticket to a staff user, to the signed-in user, or to nobody."""
    from bot.workspace.workflow import assign

    signed_in: SignedIn = request["signed_in"]
    form = request["form"]
    reference = request.match_info["reference"]
    choice = "me" if _field(form, "assign_to_me") else _field(form, "assignee")
    state = {"form": "assign", "assignee": choice}
    version = _version(form)
    if choice == "me":
        assignee_id: int | None = signed_in.user_id
    elif choice in ("", "none"):
        assignee_id = None
    elif choice.isdigit():
        assignee_id = int(choice)
    else:
        version = None
    if version is None:
        return await _render_ticket(
            request,
            reference,
            form_state=state,
            error="The assignment form is incomplete; reload the page.",
            status=400,
        )

    def change(session, actor: Actor, now: datetime) -> None:
        assign(
            session,
            reference,
            assignee_id=assignee_id,
            expected_version=version,
            actor=actor,
            now=now,
        )

    return await _apply_change(request, change, state, "assign")


@staff_route()
async def note_submit(request: web.Request) -> web.StreamResponse:
    """Add a note to a ticket."""
    from bot.workspace.workflow import add_note

    form = request["form"]
    reference = request.match_info["reference"]
    body = _field(form, "body")
    state = {"form": "note", "body": body}
    if not body.strip():
        return await _render_ticket(
            request,
            reference,
            form_state=state,
            error="Write the note before saving it.",
            status=400,
        )

    def change(session, actor: Actor, now: datetime) -> None:
        add_note(session, reference, body=body, actor=actor, now=now)

    return await _apply_change(request, change, state, "note")


# The audit log.


def _parse_audit_filters(query: Mapping[str, str]) -> AuditFilters:
    def text(name: str) -> str | None:
        value = query.get(name, "").strip()
        return value[:200] or None

    def day(name: str) -> date | None:
        value = text(name)
        if value is None:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise ValueError(
                f"{name} must be a date such as 2026-03-02, got {value!r}"
            ) from None

    action = text("action")
    if action is not None and action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    page_text = query.get("page", "1").strip() or "1"
    if (
        not page_text.isascii()
        or not page_text.isdigit()
        or len(page_text) > 12
        or not 1 <= int(page_text) <= AUDIT_MAX_PAGE
    ):
        raise ValueError(
            f"page must be a whole number from 1 to {AUDIT_MAX_PAGE}, got "
            f"{page_text[:20]!r}"
        )
    return AuditFilters(
        username=text("username"),
        action=action,
        reference=text("reference"),
        since=day("since"),
        until=day("until"),
        page=int(page_text),
    )


@staff_route(permission="read_audit")
async def audit_page(request: web.Request) -> web.StreamResponse:
    """Show the audit log, newest first, with filters."""
    signed_in: SignedIn = request["signed_in"]
    filter_error = None
    try:
        filters = _parse_audit_filters(request.query)
    except ValueError as error:
        filters, filter_error = AuditFilters(), f"The filters were not applied: {error}"
    now = _now(request)

    def load():
        with request.app[SESSION_FACTORY]() as session:
            page = list_audit(session, filters)
            record(session, signed_in.actor, "view_audit", now=now)
            session.commit()
            return page

    try:
        page = await run_in_thread(load)
    except ValueError as error:
        filters, filter_error = AuditFilters(), f"The filters were not applied: {error}"
        page = await run_in_thread(load)
    query = {} if filter_error else _query_without(request.query, "page")
    return render(
        request,
        "audit.html",
        {
            "page_title": "Audit log",
            "filters": filters,
            "filter_error": filter_error,
            "page": page,
            "page_query": lambda number: urlencode({**query, "page": number}),
        },
        status=400 if filter_error else 200,
    )


def setup_workspace(app: web.Application) -> None:
    """Add the workspace's routes, its templates and its security headers to `app`.

    Tests may replace `app[WORKSPACE_CLOCK]` before the app starts, to move
    time forward without sleeping.
    """
    settings = app[SETTINGS]
    app[WORKSPACE_CLOCK] = utcnow
    app[_TEMPLATES] = build_templates()
    app[_SESSION_SEALER] = CookieSealer(settings.app_secret, SESSION_PURPOSE)
    app[_LOGIN_SEALER] = CookieSealer(settings.app_secret, LOGIN_FORM_PURPOSE)
    app[_CONFLICT_SEALER] = CookieSealer(settings.app_secret, CONFLICT_DRAFT_PURPOSE)
    app.middlewares.append(security_headers)

    router = app.router
    router.add_get(PREFIX, workspace_root)
    router.add_get(PREFIX + "/", queue_page)
    router.add_get(PREFIX + "/login", login_page)
    router.add_post(PREFIX + "/login", login_submit)
    router.add_post(PREFIX + "/logout", logout)
    router.add_get(PREFIX + "/tickets/{reference}", ticket_page)
    router.add_post(PREFIX + "/tickets/{reference}/status", change_status_submit)
    router.add_post(PREFIX + "/tickets/{reference}/assign", assign_submit)
    router.add_post(PREFIX + "/tickets/{reference}/notes", note_submit)
    router.add_get(PREFIX + "/audit", audit_page)
    router.add_get(PREFIX + "/export.csv", export_csv)
    router.add_static(PREFIX + "/static/", STATIC_DIR, name="workspace_static")
