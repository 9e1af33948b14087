"""JSON API for HPSM's case management systems, under `/api/v1/`.

Routes (described for clients in `openapi.yml`, served as
`/api/v1/openapi.json`):

- `GET /api/v1/tickets`: the queue with the workspace's filters, paginated.
- `GET /api/v1/tickets/{reference}`: one ticket with its status history,
  notes and screening.
- `PATCH /api/v1/tickets/{reference}`: change status, assignee, or add a
  note, at the ticket version the client read.
- `POST /api/v1/screenings`: screen a profile, as `python -m bot.eligibility`
  does.

Every route but the OpenAPI document needs `Authorization: Bearer <token>`
with a token from `python -m bot.workspace.admin create-token`. The document
is public because it describes the routes and contains no data.

A token may read and change tickets like a coordinator, but may not reopen
a closed ticket (403 `reopen_not_allowed`), which the workspace leaves to
supervisors and admins.

Errors are JSON: `{"error": {"code": ..., "message": ..., "field": ...}}`.
Each view and change is written to the audit log. Nothing here logs member
details.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, Mapping

import yaml
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db import run_in_thread
from bot.eligibility import InvalidProfile, UnknownRuleSet, screen, validate_profile
from bot.eligibility.rules import RULE_SETS
from bot.models import (
    CLOSE_REASONS,
    TICKET_STATUSES,
    ApiToken,
    StaffUser,
    Ticket,
    utcnow,
)
from bot.reference import normalize_reference
from bot.web import SESSION_FACTORY, SETTINGS
from bot.workspace import audit, webhook, workflow
from bot.workspace.audit import Actor
from bot.workspace.detail import TicketDetail, load_ticket_detail
from bot.workspace.queue import (
    UNASSIGNED,
    QueueFilters,
    QueuePage,
    QueueRow,
    list_queue,
    reject_repeated,
)
from bot.workspace.text import clean_text
from bot.workspace.tokens import verify_token

logger = logging.getLogger(__name__)

PREFIX = "/api/v1"
OPENAPI_PATH = f"{PREFIX}/openapi.json"
OPENAPI_FILE = Path(__file__).with_name("openapi.yml")
# A PATCH or a screening profile fits in a few kilobytes; 64 KiB leaves room
# for a long note while keeping a hostile body small.
MAX_BODY_BYTES = 64 * 1024
API_ROLE = "api"
PATCH_FIELDS = ("version", "status", "status_date", "close_reason", "assignee", "note")
SCREENING_FIELDS = ("profile", "rule_set")
QUEUE_PARAMETERS = frozenset(field.name for field in dataclasses.fields(QueueFilters))

TOKEN = web.AppKey("api_token", ApiToken)
OPENAPI_DOCUMENT = web.AppKey("openapi_document", dict)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    """An error response of the API, rendered as its JSON error object.

    Args:
        status: HTTP status code.
        code: Stable snake_case name that clients can branch on.
        message: What failed and what to do, in one or two sentences.
        field: The request field or parameter at fault, if one is.
        extra: More members of the error object, such as `current_version`.
        headers: Headers of the response, such as `WWW-Authenticate`.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})

    def response(self) -> web.Response:
        """Render the error as a JSON response."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        error.update(self.extra)
        return web.json_response(
            {"error": error}, status=self.status, headers=self.headers
        )


def invalid_field(field: str, message: str) -> ApiError:
    """Build the 422 error for a request body field with an invalid value."""
    return ApiError(422, "invalid_field", f"{field}: {message}", field=field)


def _unauthorized(message: str, presented: bool) -> ApiError:
    # RFC 6750 section 3: name the scheme, and add `invalid_token` when a
    # token was presented but is not accepted.
    challenge = 'Bearer realm="hpsm-api"'
    if presented:
        challenge += ', error="invalid_token"'
    return ApiError(
        401, "unauthorized", message, headers={"WWW-Authenticate": challenge}
    )


# JSON encoding


def to_json(value: Any) -> Any:
    """Convert dates, datetimes and nested containers to JSON values."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): to_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_json(item) for item in value]
    return value


def json_response(data: Any, status: int = 200, **kwargs: Any) -> web.Response:
    """Encode `data` as UTF-8 JSON, keeping non-ASCII text as it is."""
    return web.json_response(
        to_json(data),
        status=status,
        dumps=lambda obj: json.dumps(obj, ensure_ascii=False),
        **kwargs,
    )


def ticket_path(reference: str) -> str:
    """Return the API path of one ticket."""
    return f"{PREFIX}/tickets/{reference}"


# Middleware: authentication and JSON errors


def _bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


async def _authenticate(request: web.Request) -> ApiToken:
    presented = _bearer_token(request)
    if presented is None:
        raise _unauthorized(
            "Missing bearer token: send the header 'Authorization: Bearer <token>' "
            "with a token from 'python -m bot.workspace.admin create-token'",
            presented=False,
        )

    def verify() -> ApiToken | None:
        with request.app[SESSION_FACTORY]() as session, session.begin():
            return verify_token(session, presented)

    token = await run_in_thread(verify)
    if token is None:
        logger.info("API request to %s with an unknown or revoked token", request.path)
        raise _unauthorized(
            "The bearer token is invalid or revoked; ask an administrator for a "
            "new one",
            presented=True,
        )
    return token


@web.middleware
async def api_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Authenticate API requests and render every API error as JSON.

    Requests outside `/api/` pass through untouched. Authentication comes
    before routing errors, so an unauthenticated client learns nothing
    about which paths exist.
    """
    if not request.path.startswith(PREFIX + "/") and request.path != PREFIX:
        return await handler(request)
    try:
        if request.path != OPENAPI_PATH:
            request[TOKEN] = await _authenticate(request)
        return await handler(request)
    except ApiError as error:
        return error.response()
    except web.HTTPException as error:
        if error.status < 400:
            raise
        code = error.reason.lower().replace(" ", "_")
        message = {
            404: f"No API route at {request.path}; see {OPENAPI_PATH}",
            405: f"{request.method} is not allowed on {request.path}",
            413: f"The request body is larger than {MAX_BODY_BYTES} bytes",
        }.get(error.status, error.reason)
        return ApiError(error.status, code, message).response()
    except Exception as error:  # noqa: BLE001 - the client gets JSON, not a trace
        # The type only: a database error's text can quote member details.
        logger.error(
            "API %s %s failed: %s", request.method, request.path, type(error).__name__
        )
        return ApiError(
            500,
            "internal_error",
            "The server failed to handle the request; try again later, and tell "
            "HPSM's support if it keeps failing",
        ).response()


# Request parsing


async def read_json_object(request: web.Request) -> dict[str, Any]:
    """Read a JSON object body of at most `MAX_BODY_BYTES`.

    Raises:
        ApiError: 413 for a larger body, 415 for another content type, 400
            for malformed JSON, a repeated key or a body that is not an object.
    """
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise ApiError(
            413,
            "body_too_large",
            f"The request body is larger than {MAX_BODY_BYTES} bytes",
        )
    if request.content_type != "application/json":
        raise ApiError(
            415,
            "unsupported_media_type",
            f"Send the body as application/json, not {request.content_type or 'none'}",
        )
    raw = await request.content.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(
            413,
            "body_too_large",
            f"The request body is larger than {MAX_BODY_BYTES} bytes",
        )
    try:
        data = json.loads(raw.decode("utf-8-sig"), object_pairs_hook=_unique_keys)
    except UnicodeDecodeError as error:
        raise ApiError(
            400, "invalid_json", f"The body is not UTF-8 (byte {error.start})"
        ) from None
    except json.JSONDecodeError as error:
        raise ApiError(
            400,
            "invalid_json",
            f"Malformed JSON at line {error.lineno} column {error.colno}: {error.msg}",
        ) from None
    except _DuplicateKey as error:
        raise ApiError(
            400,
            "invalid_json",
            f"The key {error.key!r} appears more than once",
            field=error.key,
        ) from None
    except (ValueError, RecursionError) as error:
        raise ApiError(400, "invalid_json", f"Malformed JSON: {error}") from None
    if not isinstance(data, dict):
        raise ApiError(
            400,
            "invalid_json",
            f"The body must be a JSON object, not {type(data).__name__}",
        )
    return data


class _DuplicateKey(ValueError):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def reject_unknown_fields(data: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    """Raise a 422 naming the first field of `data` not in `allowed`."""
    for key in data:
        if key not in allowed:
            raise invalid_field(key, f"unknown field; allowed: {', '.join(allowed)}")


def actor_for(token: ApiToken) -> Actor:
    """Return the audit actor of an API token."""
    return Actor(name=f"token:{token.name}", role=API_ROLE, api_token_id=token.id)


def session_factory(request: web.Request) -> Callable[[], Session]:
    """Return the application's session factory."""
    return request.app[SESSION_FACTORY]


# GET /api/v1/tickets


def queue_item(row: QueueRow) -> dict[str, Any]:
    """Return one queue row as an API item with its link."""
    return {
        "reference": row.reference,
        "status": row.status,
        "name": row.name,
        "preferred_language": row.preferred_language,
        "channel": row.channel,
        "services": list(row.services),
        "assignee_id": row.assignee_id,
        "assignee_name": row.assignee_name,
        "due_at": row.due_at,
        "created_at": row.created_at,
        "overdue": row.overdue,
        "links": {"self": ticket_path(row.reference)},
    }


def _page_link(request: web.Request, page: int) -> str:
    query = dict(request.query)
    query["page"] = str(page)
    return str(request.rel_url.with_query(query))


def _resolve_assignee(session: Session, query: Mapping[str, str]) -> dict[str, str]:
    """Replace a username in the `assignee` parameter with the user's id.

    Raises:
        ApiError: 400 when no staff user has that username.
    """
    resolved = dict(query)
    value = resolved.get("assignee", "").strip()
    if not value or value.isdigit() or value.lower() == UNASSIGNED:
        return resolved
    user_id = session.execute(
        select(StaffUser.id).where(StaffUser.username == value.lower())
    ).scalar_one_or_none()
    if user_id is None:
        raise ApiError(
            400,
            "invalid_parameter",
            f"assignee {value!r} is not a staff username; use a username, a user "
            "id or 'none'",
            field="assignee",
        )
    resolved["assignee"] = str(user_id)
    return resolved


def _invalid_parameter(error: ValueError) -> ApiError:
    # The queue's messages start with the parameter's name.
    name = str(error).split(" ", 1)[0]
    return ApiError(400, "invalid_parameter", str(error), field=name)


def _queue_filters(query: Mapping[str, str]) -> QueueFilters:
    try:
        return QueueFilters.from_query(query)
    except ValueError as error:
        raise _invalid_parameter(error) from None


async def list_tickets(request: web.Request) -> web.Response:
    """List the queue, filtered and paginated like the workspace's queue page.

    `assignee` takes a username, as PATCH does, or a user id or `none`. A
    repeated parameter gets 400 rather than an OR of its values.
    """
    # Checked before the database is touched, so a bad value costs nothing;
    # a username in `assignee` is checked once it is looked up. The copies
    # below are plain dicts, so repeats are rejected on the original first.
    try:
        reject_repeated(request.query)
    except ValueError as error:
        raise _invalid_parameter(error) from None
    _queue_filters({k: v for k, v in request.query.items() if k != "assignee"})
    actor = actor_for(request[TOKEN])

    def load() -> QueuePage:
        with session_factory(request)() as session, session.begin():
            filters = _queue_filters(_resolve_assignee(session, request.query))
            page = list_queue(session, filters)
            # Parameter names only: a search value can be a phone number.
            audit.record(
                session,
                actor,
                "api_list",
                detail={
                    "parameters": sorted(set(request.query) & QUEUE_PARAMETERS),
                    "page": page.page,
                    "returned": len(page.rows),
                },
            )
            return page

    page = await run_in_thread(load)
    links = {"self": _page_link(request, page.page)}
    if page.page < page.pages:
        links["next"] = _page_link(request, page.page + 1)
    if 1 < page.page <= page.pages:
        links["prev"] = _page_link(request, page.page - 1)
    if page.page > page.pages:
        links["last"] = _page_link(request, page.pages)
    return json_response(
        {
            "items": [queue_item(row) for row in page.rows],
            "total": page.total,
            "overdue_total": page.overdue_total,
            "page": page.page,
            "per_page": page.per_page,
            "pages": page.pages,
            "links": links,
        }
    )


# GET /api/v1/tickets/{reference}


def _reference(request: web.Request) -> str:
    typed = request.match_info["reference"]
    reference = normalize_reference(typed)
    if reference is None:
        raise _not_found(typed)
    return reference


def _not_found(reference: str) -> ApiError:
    return ApiError(
        404,
        "ticket_not_found",
        f"No ticket has the reference {reference!r}",
        field="reference",
    )


def ticket_document(detail: TicketDetail, now: datetime | None = None) -> dict[str, Any]:
    """Return a ticket's detail as the API's JSON object, with its links.

    Args:
        detail: The ticket page's data.
        now: The time against which the due time is overdue (default: now).
    """
    ticket = detail.ticket
    now = now or utcnow()
    document = {
        "reference": ticket.reference,
        "version": ticket.version,
        "status": ticket.status,
        "status_date": ticket.status_date,
        "status_changed_at": ticket.status_changed_at,
        "close_reason": ticket.close_reason,
        "channel": ticket.channel,
        "created_at": ticket.created_at,
        "updated_at": ticket.updated_at,
        "due_at": ticket.due_at,
        "overdue": ticket.is_overdue(now),
        "assignee": (
            {"id": detail.assignee.id, "display_name": detail.assignee.display_name}
            if detail.assignee is not None
            else None
        ),
        "name": ticket.name,
        "phone": ticket.phone,
        "member_id": ticket.member_id,
        "date_of_birth": ticket.date_of_birth,
        "preferred_language": ticket.preferred_language,
        "call_time": ticket.call_time,
        "consent_contact": ticket.consent_contact,
        "consent_share_screening": ticket.consent_share_screening,
        "consent_at": ticket.consent_at,
        "pseudonymised_at": ticket.pseudonymised_at,
        "services": list(ticket.services),
        "screening_profile": ticket.screening_profile,
        "screening_result": ticket.screening_result,
        "status_history": [
            dataclasses.asdict(entry) for entry in detail.status_history
        ],
        "notes": [dataclasses.asdict(note) for note in detail.notes],
        "earlier_tickets": [
            {
                **dataclasses.asdict(earlier),
                "links": {"self": ticket_path(earlier.reference)},
            }
            for earlier in detail.earlier_tickets
        ],
        "messages": detail.messages,
        "messages_withheld_reason": detail.messages_withheld_reason,
        "texts": [dataclasses.asdict(text) for text in detail.texts],
        "sms_opted_out_at": detail.sms_opted_out_at,
        "links": {"self": ticket_path(ticket.reference)},
    }
    return to_json(document)


def _load_detail(session: Session, reference: str) -> TicketDetail:
    detail = load_ticket_detail(session, reference)
    if detail is None:
        raise _not_found(reference)
    return detail


def _etag(version: int) -> str:
    return f'"{version}"'


async def get_ticket(request: web.Request) -> web.Response:
    """Return one ticket with its history, notes and screening."""
    reference = _reference(request)
    actor = actor_for(request[TOKEN])

    def load() -> dict[str, Any]:
        with session_factory(request)() as session, session.begin():
            detail = _load_detail(session, reference)
            row = session.execute(
                select(Ticket).where(Ticket.reference == reference)
            ).scalar_one()
            audit.record(session, actor, "api_view", ticket=row)
            return ticket_document(detail)

    document = await run_in_thread(load)
    return json_response(document, headers={"ETag": _etag(document["version"])})


# PATCH /api/v1/tickets/{reference}


@dataclass(frozen=True)
class TicketChange:
    """A validated PATCH body."""

    version: int
    status: str | None = None
    status_date: date | None = None
    close_reason: str | None = None
    assignee_set: bool = False
    assignee: str | None = None
    note: str | None = None

    def changed_fields(self) -> list[str]:
        """Name the fields that the change sets, for the audit log."""
        names = []
        if self.status is not None:
            names.append("status")
        if self.assignee_set:
            names.append("assignee")
        if self.note is not None:
            names.append("note")
        return names


def _if_match_version(request: web.Request) -> int | None:
    header = request.headers.get("If-Match")
    if header is None:
        return None
    value = header.strip()
    if value.startswith("W/"):
        value = value[2:]
    value = value.strip('"')
    if not value.isdigit():
        raise ApiError(
            400,
            "invalid_header",
            f'If-Match must hold the ticket version, such as "3"; got {header!r}',
            field="If-Match",
        )
    return int(value)


def _optional_text(data: Mapping[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid_field(name, f"must be a string, got {type(value).__name__}")
    return value


def parse_ticket_change(
    data: Mapping[str, Any], header_version: int | None
) -> TicketChange:
    """Validate a PATCH body; `header_version` comes from `If-Match`.

    Raises:
        ApiError: 422 naming the first invalid field.
    """
    reject_unknown_fields(data, PATCH_FIELDS)

    version = data.get("version", header_version)
    if version is None:
        raise invalid_field(
            "version",
            "required: send the version you read, in the body or as If-Match",
        )
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise invalid_field(
            "version", f"must be a whole number of 1 or more, got {version!r}"
        )
    if header_version is not None and header_version != version:
        raise invalid_field(
            "version",
            f"the body says {version} but If-Match says {header_version}; send one",
        )

    status = _optional_text(data, "status")
    if status is not None and status not in TICKET_STATUSES:
        raise invalid_field("status", f"must be one of {', '.join(TICKET_STATUSES)}")

    status_date = None
    text = _optional_text(data, "status_date")
    if text is not None:
        try:
            status_date = date.fromisoformat(text)
        except ValueError:
            raise invalid_field(
                "status_date", f"must be a date as YYYY-MM-DD, got {text!r}"
            ) from None

    close_reason = _optional_text(data, "close_reason")
    if close_reason is not None and close_reason not in CLOSE_REASONS:
        raise invalid_field(
            "close_reason", f"must be one of {', '.join(CLOSE_REASONS)}"
        )
    for name, value in (("status_date", status_date), ("close_reason", close_reason)):
        if value is not None and status is None:
            raise invalid_field(name, "is only accepted together with status")

    assignee = _optional_text(data, "assignee")
    note = _optional_text(data, "note")
    cleaned = clean_text(note).strip() if note is not None else ""
    if note is not None and not 1 <= len(cleaned) <= workflow.NOTE_MAX_LENGTH:
        raise invalid_field(
            "note",
            f"must have 1 to {workflow.NOTE_MAX_LENGTH} characters besides "
            f"surrounding spaces and control characters; it has {len(cleaned)}",
        )

    change = TicketChange(
        version=version,
        status=status,
        status_date=status_date,
        close_reason=close_reason,
        assignee_set="assignee" in data,
        assignee=assignee,
        note=note,
    )
    if not change.changed_fields():
        raise invalid_field(
            "status", "nothing to change: send status, assignee or note"
        )
    return change


def apply_ticket_change(
    session: Session, reference: str, change: TicketChange, actor: Actor
) -> None:
    """Apply a PATCH through the workflow functions in the caller's transaction.

    Raises:
        ApiError: 403 for reopening a closed ticket, which only a supervisor
            may do in the workspace; 404, 409 or 422 as the workflow reports
            them.
    """
    try:
        ticket = workflow.get_ticket(session, reference)
        if ticket.version != change.version:
            raise workflow.StaleTicketError(reference, change.version, ticket.version)
        version = change.version
        if change.status is not None:
            if ticket.status == workflow.CLOSED:
                logger.info(
                    "Rejected reopening ticket %s through the API by %s",
                    reference,
                    actor.name,
                )
                raise ApiError(
                    403,
                    "reopen_not_allowed",
                    f"Ticket {reference} is closed, and an API token may not "
                    "reopen it. Ask a supervisor to reopen it in the workspace.",
                    field="status",
                )
            ticket = workflow.change_status(
                session,
                reference,
                to_status=change.status,
                expected_version=version,
                actor=actor,
                status_date=change.status_date,
                close_reason=change.close_reason,
            )
            version = ticket.version
        if change.assignee_set:
            workflow.assign(
                session,
                reference,
                assignee_id=_assignee_id(session, change.assignee),
                expected_version=version,
                actor=actor,
            )
        if change.note is not None:
            workflow.add_note(session, reference, body=change.note, actor=actor)
    except workflow.TicketNotFoundError:
        raise _not_found(reference) from None
    except workflow.StaleTicketError as error:
        raise ApiError(
            409,
            "stale_version",
            f"Ticket {reference} is at version {error.current_version}, not "
            f"{change.version}: it changed since you read it. Read it again and "
            "repeat the change if it still applies",
            field="version",
            extra={"current_version": error.current_version},
        ) from None
    except workflow.InvalidTransitionError as error:
        raise ApiError(422, "invalid_transition", str(error), field="status") from None
    except workflow.CloseReasonRequiredError as error:
        raise ApiError(
            422, "invalid_close_reason", str(error), field="close_reason"
        ) from None
    except workflow.WorkflowValueError as error:
        raise ApiError(
            422, "invalid_field", str(error), field=error.field
        ) from None


def _assignee_id(session: Session, username: str | None) -> int | None:
    if username is None:
        return None
    user = session.execute(
        select(StaffUser).where(StaffUser.username == username.strip().lower())
    ).scalar_one_or_none()
    if user is None or not user.active:
        raise invalid_field(
            "assignee", f"no active staff user has the username {username!r}"
        )
    return user.id


async def patch_ticket(request: web.Request) -> web.Response:
    """Change a ticket's status or assignee, or add a note, at a known version."""
    reference = _reference(request)
    header_version = _if_match_version(request)
    change = parse_ticket_change(await read_json_object(request), header_version)
    actor = actor_for(request[TOKEN])

    def update() -> dict[str, Any]:
        with session_factory(request)() as session, session.begin():
            apply_ticket_change(session, reference, change, actor)
            row = session.execute(
                select(Ticket).where(Ticket.reference == reference)
            ).scalar_one()
            audit.record(
                session,
                actor,
                "api_update",
                ticket=row,
                detail={"fields": change.changed_fields(), "version": row.version},
            )
            return ticket_document(_load_detail(session, reference))

    document = await run_in_thread(update)
    logger.info(
        "Ticket %s updated through the API by %s (%s)",
        reference,
        actor.name,
        ", ".join(change.changed_fields()),
    )
    return json_response(document, headers={"ETag": _etag(document["version"])})


# POST /api/v1/screenings


async def post_screening(request: web.Request) -> web.Response:
    """Screen a profile and return the engine's result, as the command line prints it."""
    data = await read_json_object(request)
    reject_unknown_fields(data, SCREENING_FIELDS)
    if "profile" not in data:
        raise invalid_field("profile", "required: the member profile as a JSON object")

    rule_set = data.get("rule_set")
    if rule_set is None:
        rule_set = request.app[SETTINGS].eligibility_rule_set
    if not isinstance(rule_set, str) or rule_set not in RULE_SETS:
        raise invalid_field("rule_set", f"must be one of {', '.join(RULE_SETS)}")
    try:
        profile = validate_profile(data["profile"])
        result = screen(profile, rule_set)
    except InvalidProfile as error:
        field = "profile" if error.field == "profile" else f"profile.{error.field}"
        raise invalid_field(field, error.message) from None
    except UnknownRuleSet as error:
        raise invalid_field("rule_set", str(error)) from None

    actor = actor_for(request[TOKEN])

    def record() -> None:
        with session_factory(request)() as session, session.begin():
            # The rule set only, because the profile values are health information.
            audit.record(session, actor, "api_screening", detail={"rule_set": rule_set})

    await run_in_thread(record)
    # The same encoding as `python -m bot.eligibility`, byte for byte.
    body = json.dumps(result, indent=2, ensure_ascii=False) + "\n"
    return web.Response(text=body, content_type="application/json")


# GET /api/v1/openapi.json


async def openapi_document(request: web.Request) -> web.Response:
    """Serve the OpenAPI 3.1 document that describes this API."""
    return json_response(request.app[OPENAPI_DOCUMENT])


def load_openapi() -> dict[str, Any]:
    """Read `openapi.yml` into a dict."""
    with open(OPENAPI_FILE, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


# Set-up


def setup_api(app: web.Application) -> None:
    """Add the API's routes, its middleware and the webhook sender to `app`.

    The webhook sender starts with the application only when both
    `WEBHOOK_URL` and `WEBHOOK_SECRET` are set.
    """
    app[OPENAPI_DOCUMENT] = load_openapi()
    app.middlewares.append(api_middleware)
    app.router.add_get(f"{PREFIX}/tickets", list_tickets)
    app.router.add_get(f"{PREFIX}/tickets/{{reference}}", get_ticket)
    app.router.add_patch(f"{PREFIX}/tickets/{{reference}}", patch_ticket)
    app.router.add_post(f"{PREFIX}/screenings", post_screening)
    app.router.add_get(OPENAPI_PATH, openapi_document)

    settings = app[SETTINGS]
    if settings.webhook_url and settings.webhook_secret:
        app.cleanup_ctx.append(_run_webhook_sender)
    elif settings.webhook_url or settings.webhook_secret:
        logger.warning(
            "Webhook disabled: set both WEBHOOK_URL and WEBHOOK_SECRET (only %s "
            "is set)",
            "WEBHOOK_URL" if settings.webhook_url else "WEBHOOK_SECRET",
        )


async def _run_webhook_sender(app: web.Application) -> AsyncIterator[None]:
    """Run the webhook sender from the application's start-up to its clean-up."""
    sender = webhook.WebhookSender(app[SESSION_FACTORY], app[SETTINGS])
    task = asyncio.get_running_loop().create_task(sender.run_forever())
    yield
    sender.stop()
    await task
