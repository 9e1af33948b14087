"""A coordinator works a real ticket in Chromium, and the member gets an SMS.

The whole product runs (`python -m bot.runner`) with Twilio's stand-in. A
member completes a hand-off over the SMS webhook and an account is created
with the account tool. Playwright then drives Debian's Chromium through
sign-in, the queue search, the ticket page and a status change.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time

import pytest

from tests.assistant import (
    HOMELESS_ADULT_REPLIES,
    PROJECT_ROOT,
    REFERENCE_PATTERN,
    SMS_HANDOFF_REPLIES,
    start_assistant,
    stop_assistant,
)
from tests.browser import CHROMIUM, CHROMIUM_ARGS, require_chromium
from tests.fakes.twilio_server import FakeTwilio

pytestmark = pytest.mark.slow

ACCOUNT_SID = "AC" + "b70e" * 8
AUTH_TOKEN = "workspace-browser-auth-token"
FROM_NUMBER = "+16505550000"
MEMBER_PHONE = "+16505557788"
COORDINATOR_PASSWORD = "coordinator password 2026"
# Words that would reveal a member's health or social needs in an SMS.
HEALTH_WORDS = (
    "ecm",
    "enhanced care",
    "homeless",
    "housing",
    "chronic",
    "screening",
    "eligib",
    "emergency",
)


@pytest.fixture(scope="module")
def twilio():
    fake = FakeTwilio(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN).start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def assistant(tmp_path_factory, twilio):
    require_chromium()
    env = {
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": FROM_NUMBER,
        "TWILIO_API_BASE_URL": twilio.url,
    }
    running = start_assistant(
        tmp_path_factory.mktemp("workspace-browser"), env, twilio=twilio
    )
    yield running
    code = stop_assistant(running)
    assert code == 0, running.log_text()[-3000:]


def answer_form(assistant, answers: dict, form: str) -> list[str]:
    """Send a reply for each slot that `form` requests until the form closes.

    Returns:
        The assistant's replies to the last message.
    """
    conversation_id = assistant.sms_conversation_id(MEMBER_PHONE)
    replies: list[str] = []
    for _ in range(40):
        tracker = assistant.tracker(conversation_id)
        if (tracker.get("active_loop") or {}).get("name") != form:
            return replies
        slot = tracker["slots"].get("requested_slot") or ""
        field = slot[2:] if slot.startswith("q_") else slot
        replies = assistant.sms(MEMBER_PHONE, answers.get(field, "no"))
    raise AssertionError(f"{form} did not finish")


def create_coordinator(assistant) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot.workspace.admin",
            "create-user",
            "coordinator1",
            "--role",
            "coordinator",
            "--name",
            "Casey Coordinator",
            "--password-stdin",
        ],
        input=COORDINATOR_PASSWORD + "\n",
        capture_output=True,
        text=True,
        env=assistant.env,
        cwd=PROJECT_ROOT,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def wait_for_sms(twilio, reference: str, known: int, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in twilio.messages[known:]:
            if reference in message["body"] and "tried to call" in message["body"]:
                return message
        time.sleep(0.5)
    raise AssertionError(f"no status SMS for {reference} arrived at the stand-in")


def test_coordinator_works_ticket_in_browser(assistant, twilio):
    from playwright.sync_api import expect, sync_playwright

    assistant.sms(MEMBER_PHONE, "hi")
    assistant.sms(MEMBER_PHONE, "do i qualify for a care manager?")
    answer_form(assistant, HOMELESS_ADULT_REPLIES, "screening_form")
    assistant.sms(MEMBER_PHONE, "can someone call me")
    final = answer_form(assistant, SMS_HANDOFF_REPLIES, "handoff_form")
    references = set(REFERENCE_PATTERN.findall(" ".join(final)))
    assert len(references) == 1, final
    reference = references.pop()

    create_coordinator(assistant)
    messages_before = len(twilio.messages)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page()
            page.goto(assistant.web_url + "/workspace/")
            expect(page).to_have_url(re.compile(r"/workspace/login\?next="))
            expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

            page.get_by_label("Username").fill("coordinator1")
            page.get_by_label("Password").fill(COORDINATOR_PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_role("heading", name="Ticket queue")).to_be_visible()

            page.get_by_label("Reference, phone or member ID").fill(reference)
            page.get_by_role("button", name="Apply filters").click()
            expect(page.get_by_text("1 ticket match.")).to_be_visible()
            page.get_by_role("link", name=reference).click()

            expect(
                page.get_by_role("heading", name=f"Ticket {reference}")
            ).to_be_visible()
            expect(page.get_by_text(SMS_HANDOFF_REPLIES["handoff_name"]).first).to_be_visible()
            page.get_by_label("New status").select_option("contact_attempted")
            page.get_by_role("button", name="Change status").click()

            expect(page.get_by_text("The status was changed.")).to_be_visible()
            expect(page.locator(".ticket-status")).to_contain_text("Contact attempted")
            expect(page.get_by_role("cell", name="Casey Coordinator")).to_be_visible()
        finally:
            browser.close()

    message = wait_for_sms(twilio, reference, messages_before)
    assert message["to"] == MEMBER_PHONE
    assert message["from"] == FROM_NUMBER
    body = message["body"].lower()
    for word in HEALTH_WORDS:
        assert word not in body, word
    assert "dolores" not in body
