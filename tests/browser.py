"""Debian's Chromium for the browser tests, driven by Playwright.

Playwright's own browser download does not work on these machines, so the
tests launch `/usr/bin/chromium` (`make chromium` installs it). Without it a
browser test is skipped, or fails under CI=true.
"""

from __future__ import annotations

import os

from tests.services import service_missing

CHROMIUM = "/usr/bin/chromium"
# Headless, and without the background connections that this machine's
# closed network refuses.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_chromium() -> None:
    """Skip the test, or fail it under CI, when Chromium is not installed."""
    if not os.path.exists(CHROMIUM):
        service_missing(f"Chromium is not installed at {CHROMIUM} (run make chromium)")
