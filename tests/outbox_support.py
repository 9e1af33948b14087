"""Shared helpers for the outbox tests: a clock tests move by hand, settings."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.models import utcnow
from bot.settings import Settings, load_settings

FROM = "+16505550100"


class FakeClock:
    """A clock that tests move forward instead of sleeping."""

    def __init__(self) -> None:
        # One second ahead, so rows queued during the test are already due.
        self.now = utcnow() + timedelta(seconds=1)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def make_settings(tmp_path, fake=None, **overrides) -> Settings:
    """Settings for a test, sending through the fake Twilio API when given."""
    environ = {"VAR_DIR": str(tmp_path), "APP_SECRET": "test-secret"}
    if fake is not None:
        environ.update(
            TWILIO_ACCOUNT_SID=fake.account_sid,
            TWILIO_AUTH_TOKEN=fake.auth_token,
            TWILIO_FROM_NUMBER=FROM,
            TWILIO_API_BASE_URL=fake.url,
        )
    environ.update(overrides)
    return load_settings(environ)
