"""The poll-and-wake loop shared by the SMS outbox and the webhook senders."""

from __future__ import annotations

import asyncio
import logging


class PollingSender:
    """A sender that handles due rows in batches until it is stopped.

    A subclass implements `send_due(batch_size)`, which returns how many rows
    it handled, and names itself in `label` for the log. The loop logs
    through the subclass's module logger, so its lines carry the same logger
    name as the subclass's own lines (`bot.outbox`, for one). A batch that handled
    any row is followed at once by the next one. Otherwise the loop waits
    `poll_seconds`, or until `notify()` wakes it.
    """

    label = "Sender"
    default_poll_seconds = 2.0

    def __init__(self) -> None:
        self._stopping = False
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._log = logging.getLogger(type(self).__module__)

    async def send_due(self, batch_size: int) -> int:
        """Handle the rows that are due; return how many were handled."""
        raise NotImplementedError

    def start_detail(self) -> str:
        """Return extra words for the start-up log line, such as a setting."""
        return ""

    async def run_forever(
        self, poll_seconds: float | None = None, batch_size: int = 20
    ) -> None:
        """Send due rows until `stop()` is called.

        Args:
            poll_seconds: Seconds between polls when nothing was due; defaults
                to the subclass's `default_poll_seconds`.
            batch_size: Rows per `send_due` call.
        """
        if poll_seconds is None:
            poll_seconds = self.default_poll_seconds
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._log.info(
            "%s started (poll %.1f s%s)", self.label, poll_seconds, self.start_detail()
        )
        while not self._stopping:
            try:
                handled = await self.send_due(batch_size)
            except Exception:
                self._log.exception(
                    "%s batch failed, trying again in %.1f s", self.label, poll_seconds
                )
                handled = 0
            if self._stopping or handled > 0:
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=poll_seconds)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
        self._log.info("%s stopped", self.label)

    def notify(self) -> None:
        """Wake `run_forever` now, such as after a row was committed."""
        loop = self._loop
        if loop is not None and self._wake is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake.set)

    def stop(self) -> None:
        """Make `run_forever` return after the batch in progress.

        Safe to call from another thread than the one running the loop.
        """
        self._stopping = True
        self.notify()
