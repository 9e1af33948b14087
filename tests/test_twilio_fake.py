"""The fake Twilio API, driven through the real twilio library over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import aiohttp
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from bot.outbox import BaseUrlAsyncHttpClient
from bot.settings import PROJECT_ROOT
from tests.fakes.twilio_server import FakeTwilio

FROM = "+16505550100"
TO = "+16505550123"


@contextlib.asynccontextmanager
async def twilio_client(fake: FakeTwilio, token: str | None = None, timeout=2.0):
    http_client = BaseUrlAsyncHttpClient(fake.url, timeout=timeout)
    async with http_client:
        yield Client(
            fake.account_sid, token or fake.auth_token, http_client=http_client
        )


async def test_create_returns_twilio_resource(twilio_fake):
    async with twilio_client(twilio_fake) as client:
        message = await client.messages.create_async(
            to=TO, from_=FROM, body="Hello", status_callback="http://127.0.0.1:1/cb"
        )

    assert re.fullmatch(r"SM[0-9a-f]{32}", message.sid)
    assert message.to == TO
    assert message.from_ == FROM
    assert message.body == "Hello"
    assert message.status == "queued"
    assert message.date_created is not None
    stored = twilio_fake.messages
    assert len(stored) == 1
    assert stored[0]["sid"] == message.sid
    assert stored[0]["status_callback"] == "http://127.0.0.1:1/cb"


async def test_wrong_token_is_rejected(twilio_fake):
    async with twilio_client(twilio_fake, token="wrong") as client:
        with pytest.raises(TwilioRestException) as caught:
            await client.messages.create_async(to=TO, from_=FROM, body="Hello")

    assert caught.value.status == 401
    assert caught.value.code == 20003
    assert twilio_fake.messages == []


@pytest.mark.parametrize(
    "to, configure, status, code",
    [
        ("12345", None, 400, 21211),
        ("+15005550001", "invalid", 400, 21211),
        (TO, "unsubscribed", 400, 21610),
    ],
)
async def test_rejected_numbers(twilio_fake, to, configure, status, code):
    if configure == "invalid":
        twilio_fake.invalid_numbers.add(to)
    elif configure == "unsubscribed":
        twilio_fake.unsubscribed.add(to)

    async with twilio_client(twilio_fake) as client:
        with pytest.raises(TwilioRestException) as caught:
            await client.messages.create_async(to=to, from_=FROM, body="Hello")

    assert caught.value.status == status
    assert caught.value.code == code
    assert twilio_fake.messages == []


@pytest.mark.parametrize(
    "status, code, expected_code", [(500, None, 500), (429, 20429, 20429)]
)
async def test_fail_next_then_recover(twilio_fake, status, code, expected_code):
    twilio_fake.fail_next(1, status=status, code=code)

    async with twilio_client(twilio_fake) as client:
        with pytest.raises(TwilioRestException) as caught:
            await client.messages.create_async(to=TO, from_=FROM, body="Hello")
        message = await client.messages.create_async(to=TO, from_=FROM, body="Hello")

    assert caught.value.status == status
    assert caught.value.code == expected_code
    assert [m["sid"] for m in twilio_fake.messages] == [message.sid]


@pytest.mark.parametrize("store, expected_count", [(True, 1), (False, 0)])
async def test_hang_times_out_client(twilio_fake, store, expected_count):
    twilio_fake.hang_next(1, store=store)

    async with twilio_client(twilio_fake, timeout=0.3) as client:
        with pytest.raises(asyncio.TimeoutError):
            await client.messages.create_async(to=TO, from_=FROM, body="Hello")

    assert len(twilio_fake.messages) == expected_count


async def test_list_filters_and_pages(twilio_fake):
    other = "+16505550199"
    async with twilio_client(twilio_fake) as client:
        for number in range(5):
            await client.messages.create_async(to=TO, from_=FROM, body=f"m{number}")
        await client.messages.create_async(to=other, from_=FROM, body="other")

        listed = await client.messages.list_async(to=TO, from_=FROM, page_size=2)
        first_page = await client.messages.page_async(to=TO, page_size=2)

    assert [m.body for m in listed] == ["m4", "m3", "m2", "m1", "m0"]
    assert first_page.next_page_url is not None
    page_requests = [
        path for method, path in twilio_fake.requests if method == "GET"
    ]
    # Three pages for the list, one for the single page.
    assert len(page_requests) == 4


@pytest.mark.parametrize(
    "offset, expected",
    [(timedelta(days=-1), ["new"]), (timedelta(days=1), [])],
)
async def test_list_date_sent_after(twilio_fake, offset, expected):
    twilio_fake.add_message(TO, FROM, "new")
    today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0)

    async with twilio_client(twilio_fake) as client:
        listed = await client.messages.list_async(
            to=TO, date_sent_after=today + offset
        )

    assert [m.body for m in listed] == expected


async def test_list_excludes_queued_from_date_filter(twilio_fake):
    twilio_fake.leave_queued = True
    twilio_fake.add_message(TO, FROM, "queued")
    yesterday = datetime.now(timezone.utc) - timedelta(days=1)

    async with twilio_client(twilio_fake) as client:
        filtered = await client.messages.list_async(to=TO, date_sent_after=yesterday)
        unfiltered = await client.messages.list_async(to=TO)

    assert filtered == []
    assert [m.body for m in unfiltered] == ["queued"]
    assert unfiltered[0].status == "queued"


async def test_fetch_single_message(twilio_fake):
    stored = twilio_fake.add_message(TO, FROM, "Hello")

    async with twilio_client(twilio_fake) as client:
        message = await client.messages(stored["sid"]).fetch_async()
        with pytest.raises(TwilioRestException) as caught:
            await client.messages("SM" + "0" * 32).fetch_async()

    assert message.body == "Hello"
    assert message.to == TO
    assert caught.value.status == 404
    assert caught.value.code == 20404


async def test_fail_next_only_matching_method(twilio_fake):
    twilio_fake.fail_next(1, status=503, method="GET")

    async with twilio_client(twilio_fake) as client:
        await client.messages.create_async(to=TO, from_=FROM, body="Hello")
        with pytest.raises(Exception):
            await client.messages.list_async(to=TO)
        listed = await client.messages.list_async(to=TO)

    assert len(listed) == 1


@pytest.mark.slow
async def test_standalone_process_serves():
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.twilio_server", "--port", "0"],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        first_line = await asyncio.wait_for(
            asyncio.to_thread(process.stdout.readline), timeout=20
        )
        match = re.search(r"http://127\.0\.0\.1:(\d+)", first_line)
        assert match, f"unexpected first line: {first_line!r}"
        url = match.group(0)

        fake = FakeTwilio()  # only for its default credentials
        auth = aiohttp.BasicAuth(fake.account_sid, fake.auth_token)
        async with aiohttp.ClientSession(auth=auth) as session:
            async with session.post(
                f"{url}/2010-04-01/Accounts/{fake.account_sid}/Messages.json",
                data={"To": TO, "From": FROM, "Body": "Hello"},
            ) as response:
                payload = await response.json()

        assert response.status == 201
        assert payload["sid"].startswith("SM")
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
