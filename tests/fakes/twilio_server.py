"""A fake of Twilio's Messages API on 127.0.0.1, for tests and manual runs.

It serves the three endpoints the product uses, in the shape the twilio
library (8.2.2) parses:

- `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` (form fields `To`,
  `From`, `Body`, `StatusCallback`), returning 201 with a message resource.
- `GET /2010-04-01/Accounts/{AccountSid}/Messages.json` with the filters
  `To`, `From`, `DateSent`, `DateSent>` and `DateSent<` (the library sends
  `date_sent_after` as `DateSent>=...`) and the paging fields `Page`,
  `PageSize` and `PageToken`.
- `GET /2010-04-01/Accounts/{AccountSid}/Messages/{MessageSid}.json`.

Requests need HTTP basic auth with the fake's account sid and auth token.
Tests inject failures with `fail_next` and `hang_next`, and list numbers in
`unsubscribed` (error 21610) or `invalid_numbers` (error 21211).

Run it alone with `python -m tests.fakes.twilio_server --port 8765`; it
prints the settings that point the product at it.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import BasicAuth, web

API_PREFIX = "/2010-04-01/Accounts/{account_sid}"
DEFAULT_ACCOUNT_SID = "AC" + "fa4e" * 8
DEFAULT_AUTH_TOKEN = "fake-auth-token"
DEFAULT_HANG_SECONDS = 30.0
MAX_BODY_LENGTH = 1600

_E164 = re.compile(r"\+[1-9][0-9]{7,14}")


@dataclass
class _Failure:
    """A failure that the next matching requests get instead of a response."""

    remaining: int
    method: str | None
    status: int = 500
    code: int | None = None
    hang: bool = False
    store: bool = False


def _twilio_error(status: int, code: int, message: str) -> web.Response:
    return web.json_response(
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        status=status,
    )


def _rfc2822(value: datetime | None) -> str | None:
    return format_datetime(value) if value is not None else None


def _parse_date_filter(value: str) -> datetime:
    """Parse a DateSent filter: `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SSZ`."""
    if len(value) == 10:
        parsed = datetime.strptime(value, "%Y-%m-%d")
    else:
        parsed = datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ")
    return parsed.replace(tzinfo=timezone.utc)


class FakeTwilio:
    """The fake API server, its recorded messages and failure controls.

    Args:
        account_sid: Account sid that requests must use.
        auth_token: Auth token that requests must use.
        port: TCP port on 127.0.0.1; 0 picks a free one.
        hang_seconds: Seconds a hung request waits before it responds.
    """

    def __init__(
        self,
        account_sid: str = DEFAULT_ACCOUNT_SID,
        auth_token: str = DEFAULT_AUTH_TOKEN,
        port: int = 0,
        hang_seconds: float = DEFAULT_HANG_SECONDS,
    ):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.hang_seconds = hang_seconds
        self.unsubscribed: set[str] = set()
        self.invalid_numbers: set[str] = set()
        # When true, stored messages stay `queued` with no date_sent.
        self.leave_queued = False

        self._port = port
        self._lock = threading.Lock()
        self._messages: list[dict[str, Any]] = []
        self._requests: list[tuple[str, str]] = []
        self._failures: list[_Failure] = []
        self._runner: web.AppRunner | None = None
        self._release: asyncio.Event | None = None
        self._hanging: set[asyncio.Task] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # Test controls

    @property
    def url(self) -> str:
        """Base URL for `TWILIO_API_BASE_URL`."""
        return f"http://127.0.0.1:{self._port}"

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Messages stored so far, oldest first (copies)."""
        with self._lock:
            return [dict(message) for message in self._messages]

    @property
    def requests(self) -> list[tuple[str, str]]:
        """(method, path) of every request received, oldest first."""
        with self._lock:
            return list(self._requests)

    def posts(self) -> int:
        """Return how many POST requests for a new message arrived."""
        return sum(1 for method, _ in self.requests if method == "POST")

    def fail_next(
        self,
        count: int = 1,
        status: int = 500,
        code: int | None = None,
        method: str | None = "POST",
    ) -> None:
        """Answer the next `count` requests with an error and store nothing.

        Args:
            count: How many requests fail.
            status: HTTP status of the error.
            code: Twilio error code (default: the HTTP status).
            method: Only requests with this method fail; None for any.
        """
        with self._lock:
            self._failures.append(
                _Failure(remaining=count, method=method, status=status, code=code)
            )

    def hang_next(
        self, count: int = 1, store: bool = True, method: str | None = "POST"
    ) -> None:
        """Hold the next `count` requests open past any client timeout.

        Args:
            count: How many requests hang.
            store: Store the message before hanging (Twilio got it) or not
                (the request was lost).
            method: Only requests with this method hang; None for any.
        """
        with self._lock:
            self._failures.append(
                _Failure(remaining=count, method=method, hang=True, store=store)
            )

    def add_message(self, to: str, from_: str, body: str) -> dict[str, Any]:
        """Store a message as if it had been sent earlier by another client."""
        return self._store(to, from_, body, status_callback=None)

    def reset(self) -> None:
        """Forget messages, requests, failures and number lists."""
        with self._lock:
            self._messages.clear()
            self._requests.clear()
            self._failures.clear()
        self.unsubscribed.clear()
        self.invalid_numbers.clear()
        self.leave_queued = False

    # Lifecycle

    async def start_async(self) -> None:
        """Start serving on the running event loop."""
        self._release = asyncio.Event()
        app = web.Application()
        prefix = API_PREFIX.format(account_sid="{account_sid}")
        app.router.add_post(f"{prefix}/Messages.json", self._create_message)
        app.router.add_get(f"{prefix}/Messages.json", self._list_messages)
        app.router.add_get(
            f"{prefix}/Messages/{{message_sid}}.json", self._fetch_message
        )
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self._port)
        await site.start()
        self._port = self._runner.addresses[0][1]

    async def stop_async(self) -> None:
        """Release hung requests and stop serving."""
        if self._release is not None:
            self._release.set()
        if self._hanging:
            # Hung handlers whose client already left would outlive the loop.
            await asyncio.wait(set(self._hanging), timeout=5)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def start(self) -> "FakeTwilio":
        """Start serving in a background thread with its own event loop."""
        ready = threading.Event()
        errors: list[BaseException] = []

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self.start_async())
            except BaseException as error:  # reported to the starting thread
                errors.append(error)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self.stop_async())
            loop.close()

        self._thread = threading.Thread(target=serve, name="fake-twilio", daemon=True)
        self._thread.start()
        if not ready.wait(timeout=10):
            raise RuntimeError("Fake Twilio server did not start within 10 s")
        if errors:
            raise errors[0]
        return self

    def stop(self) -> None:
        """Stop the server thread started by `start()`."""
        if self._loop is None or self._thread is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._thread = None
        self._loop = None

    # Request handling

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        try:
            credentials = BasicAuth.decode(header)
        except ValueError:
            return False
        return (
            request.match_info["account_sid"] == self.account_sid
            and credentials.login == self.account_sid
            and credentials.password == self.auth_token
        )

    def _take_failure(self, method: str) -> _Failure | None:
        with self._lock:
            for failure in self._failures:
                if failure.method is None or failure.method == method:
                    failure.remaining -= 1
                    if failure.remaining <= 0:
                        self._failures.remove(failure)
                    return failure
        return None

    async def _begin(self, request: web.Request) -> web.Response | _Failure | None:
        """Record the request and apply auth and injected failures."""
        with self._lock:
            self._requests.append((request.method, request.path))
        if not self._authorized(request):
            return _twilio_error(401, 20003, "Authenticate")
        failure = self._take_failure(request.method)
        if failure is not None and not failure.hang:
            return _twilio_error(
                failure.status,
                failure.code or failure.status,
                f"Injected failure (HTTP {failure.status})",
            )
        return failure

    async def _hang(self) -> None:
        assert self._release is not None
        task = asyncio.current_task()
        self._hanging.add(task)
        try:
            await asyncio.wait_for(self._release.wait(), timeout=self.hang_seconds)
        except asyncio.TimeoutError:
            pass
        finally:
            self._hanging.discard(task)

    async def _create_message(self, request: web.Request) -> web.Response:
        outcome = await self._begin(request)
        if isinstance(outcome, web.Response):
            return outcome

        form = await request.post()
        to = str(form.get("To", ""))
        from_ = str(form.get("From", ""))
        body = str(form.get("Body", ""))
        rejection = self._validate(to, from_, body)
        if rejection is not None:
            return rejection

        if outcome is not None:  # a hang
            if outcome.store:
                self._store(to, from_, body, form.get("StatusCallback"))
            await self._hang()
            return _twilio_error(500, 20500, "Injected hang ended")

        message = self._store(to, from_, body, form.get("StatusCallback"))
        created = dict(message, status="queued", date_sent=None)
        return web.json_response(self._resource(created), status=201)

    def _validate(self, to: str, from_: str, body: str) -> web.Response | None:
        if not to:
            return _twilio_error(400, 21604, "A 'To' phone number is required.")
        if not from_:
            return _twilio_error(400, 21603, "A 'From' phone number is required.")
        if not body:
            return _twilio_error(400, 21602, "Message body is required.")
        if len(body) > MAX_BODY_LENGTH:
            return _twilio_error(
                400, 21617, "The concatenated message body exceeds the 1600 limit."
            )
        if not _E164.fullmatch(to) or to in self.invalid_numbers:
            return _twilio_error(
                400, 21211, f"The 'To' number {to} is not a valid phone number."
            )
        if to in self.unsubscribed:
            return _twilio_error(
                400, 21610, "Attempt to send to unsubscribed recipient"
            )
        return None

    def _store(
        self, to: str, from_: str, body: str, status_callback: Any
    ) -> dict[str, Any]:
        now = datetime.now(timezone.utc).replace(microsecond=0)
        message = {
            "sid": "SM" + secrets.token_hex(16),
            "account_sid": self.account_sid,
            "to": to,
            "from": from_,
            "body": body,
            "status_callback": str(status_callback) if status_callback else None,
            "status": "queued" if self.leave_queued else "sent",
            "date_created": now,
            "date_updated": now,
            "date_sent": None if self.leave_queued else now,
        }
        with self._lock:
            self._messages.append(message)
        return dict(message)

    def _resource(self, message: dict[str, Any]) -> dict[str, Any]:
        prefix = API_PREFIX.format(account_sid=self.account_sid)
        return {
            "account_sid": message["account_sid"],
            "api_version": "2010-04-01",
            "body": message["body"],
            "date_created": _rfc2822(message["date_created"]),
            "date_sent": _rfc2822(message["date_sent"]),
            "date_updated": _rfc2822(message["date_updated"]),
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": message["from"],
            "messaging_service_sid": None,
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": message["sid"],
            "status": message["status"],
            "subresource_uris": {
                "media": f"{prefix}/Messages/{message['sid']}/Media.json"
            },
            "to": message["to"],
            "uri": f"{prefix}/Messages/{message['sid']}.json",
        }

    async def _list_messages(self, request: web.Request) -> web.Response:
        outcome = await self._begin(request)
        if isinstance(outcome, web.Response):
            return outcome
        if outcome is not None:
            await self._hang()
            return _twilio_error(500, 20500, "Injected hang ended")

        query = request.query
        try:
            page = int(query.get("Page", "0"))
            page_size = min(max(int(query.get("PageSize", "50")), 1), 1000)
            matches = self._filter(query)
        except ValueError:
            return _twilio_error(400, 20001, "Invalid paging or DateSent parameter")

        start = page * page_size
        chunk = matches[start : start + page_size]
        prefix = API_PREFIX.format(account_sid=self.account_sid)
        filters = {
            key: value
            for key, value in query.items()
            if key not in ("Page", "PageSize", "PageToken")
        }

        def page_uri(number: int) -> str:
            params = dict(filters, PageSize=page_size, Page=number)
            if number > 0:
                params["PageToken"] = f"PA{number}"
            return f"{prefix}/Messages.json?{urlencode(params)}"

        has_next = start + page_size < len(matches)
        payload = {
            "messages": [self._resource(message) for message in chunk],
            "end": start + len(chunk) - 1 if chunk else start,
            "first_page_uri": page_uri(0),
            "next_page_uri": page_uri(page + 1) if has_next else None,
            "page": page,
            "page_size": page_size,
            "previous_page_uri": page_uri(page - 1) if page > 0 else None,
            "start": start,
            "uri": page_uri(page),
        }
        return web.json_response(payload)

    def _filter(self, query: Any) -> list[dict[str, Any]]:
        """Return stored messages matching the query, newest first."""
        with self._lock:
            messages = [dict(message) for message in self._messages]
        messages.reverse()

        if "To" in query:
            messages = [m for m in messages if m["to"] == query["To"]]
        if "From" in query:
            messages = [m for m in messages if m["from"] == query["From"]]
        if "DateSent" in query:
            day = _parse_date_filter(query["DateSent"]).date()
            messages = [
                m for m in messages if m["date_sent"] and m["date_sent"].date() == day
            ]
        if "DateSent>" in query:
            after = _parse_date_filter(query["DateSent>"])
            messages = [
                m for m in messages if m["date_sent"] and m["date_sent"] >= after
            ]
        if "DateSent<" in query:
            before = _parse_date_filter(query["DateSent<"])
            messages = [
                m for m in messages if m["date_sent"] and m["date_sent"] <= before
            ]
        return messages

    async def _fetch_message(self, request: web.Request) -> web.Response:
        outcome = await self._begin(request)
        if isinstance(outcome, web.Response):
            return outcome
        if outcome is not None:
            await self._hang()
            return _twilio_error(500, 20500, "Injected hang ended")

        sid = request.match_info["message_sid"]
        with self._lock:
            found = [dict(m) for m in self._messages if m["sid"] == sid]
        if not found:
            return _twilio_error(
                404, 20404, f"The requested resource {request.path} was not found"
            )
        return web.json_response(self._resource(found[0]))


async def _serve(args: argparse.Namespace) -> None:
    fake = FakeTwilio(
        account_sid=args.account_sid, auth_token=args.auth_token, port=args.port
    )
    await fake.start_async()
    print(f"Fake Twilio API listening on {fake.url}", flush=True)
    print(f"TWILIO_API_BASE_URL={fake.url}", flush=True)
    print(f"TWILIO_ACCOUNT_SID={fake.account_sid}", flush=True)
    print(f"TWILIO_AUTH_TOKEN={fake.auth_token}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await fake.stop_async()


def main(argv: list[str] | None = None) -> None:
    """Run the fake until Ctrl-C."""
    parser = argparse.ArgumentParser(description="Fake Twilio Messages API")
    parser.add_argument(
        "--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: a free port)"
    )
    parser.add_argument("--account-sid", default=DEFAULT_ACCOUNT_SID)
    parser.add_argument("--auth-token", default=DEFAULT_AUTH_TOKEN)
    args = parser.parse_args(argv)
    try:
        asyncio.run(_serve(args))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
