"""Run the action server on loopback (rasa-sdk's own command binds every address).

Every log line of the process is masked (`bot.logfilter`). The personal slot
values of each tracker that Rasa sends are registered for exact-match masking
before the action runs, so they are masked even after a restart of this
process, when the hand-off form's own registrations are gone.
"""

from __future__ import annotations

import argparse
import logging
import os
from typing import Any, Optional

from rasa_sdk.endpoint import create_app
from rasa_sdk.executor import ActionExecutor

from bot.logfilter import PERSONAL_SLOTS, install_log_masking, register_slot_value

LOG_FORMAT = "%(asctime)s %(name)s %(levelname)s %(message)s"


def log_level(name: str) -> int:
    """Return the logging level called `name` (such as "DEBUG").

    Raises:
        argparse.ArgumentTypeError: `name` is not a logging level.
    """
    level = logging.getLevelName(name.strip().upper())
    if not isinstance(level, int):
        raise argparse.ArgumentTypeError(
            f"log level {name!r} is invalid; use DEBUG, INFO, WARNING or ERROR"
        )
    return level


def register_tracker_slots(tracker: Any) -> None:
    """Register the personal slot values of a tracker dict sent by Rasa."""
    if not isinstance(tracker, dict):
        return
    sender_id = tracker.get("sender_id")
    slots = tracker.get("slots")
    if not isinstance(sender_id, str) or not isinstance(slots, dict):
        return
    for slot in PERSONAL_SLOTS:
        register_slot_value(sender_id, slot, slots.get(slot))


def _register_before_run() -> None:
    run = ActionExecutor.run

    async def run_with_registration(
        self: ActionExecutor, action_call: dict
    ) -> Optional[dict]:
        register_tracker_slots(action_call.get("tracker"))
        return await run(self, action_call)

    ActionExecutor.run = run_with_registration


def main() -> None:
    """Start the action server with masked logs."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind")
    parser.add_argument("--port", type=int, default=5055, help="TCP port")
    parser.add_argument(
        "--log-level",
        type=log_level,
        default=os.environ.get("LOG_LEVEL") or "INFO",
        help="level of the process's log: DEBUG, INFO, WARNING or ERROR "
        "(default: LOG_LEVEL, else INFO)",
    )
    args = parser.parse_args()

    logging.basicConfig(level=args.log_level, format=LOG_FORMAT)
    # Member text is withheld at every level, as in the Rasa server.
    install_log_masking(text_level=logging.NOTSET)
    _register_before_run()
    app = create_app("actions", cors_origins=[])
    app.run(host=args.host, port=args.port, workers=1, access_log=False)


if __name__ == "__main__":
    main()
