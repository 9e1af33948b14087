"""Run Rasa's command line without its Sentry error reporting and with masked logs.

Rasa 3.6 sends crash reports to Sentry whenever its bundled key file exists,
even with telemetry disabled. The assistant must reach no host but Twilio's
API, so every Rasa command of the project runs through this module:
`python -m bot.rasa_ext.cli train ...` takes the same arguments as `rasa`.

The module also masks personal data in every log line of the Rasa process:

- `install_log_masking` runs before Rasa configures logging, so the handlers
  that Rasa, coloredlogs and Sanic add later carry the masking filter;
- Rasa's `configure_structlog` is wrapped so that `mask_event_dict` joins the
  processor chain before the renderer. Rasa's structlog output reaches stdlib
  handlers only as rendered JSON text, where member text can no longer be
  found by key;
- every applied `SlotSet` of a personal slot registers its value for
  exact-match masking, also when a stored tracker is loaded again.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any, Callable

from bot.logfilter import install_log_masking, register_slot_value

# Member text is withheld here at every level, DEBUG included: Rasa logs each
# message when it is parsed, before any slot shows that the message was a name.
TEXT_LEVEL = logging.NOTSET


def with_masking(configure_structlog: Callable[..., None]) -> Callable[..., None]:
    """Wrap Rasa's `configure_structlog` so its processors end with masking.

    Args:
        configure_structlog: `rasa.utils.log_utils.configure_structlog`.

    Returns:
        A function with the same arguments that configures structlog as Rasa
        does, then inserts `mask_event_dict` before the renderer.
    """

    def configure_structlog_with_masking(*args: Any, **kwargs: Any) -> None:
        configure_structlog(*args, **kwargs)
        install_log_masking(text_level=TEXT_LEVEL)

    return configure_structlog_with_masking


def register_slots_on_apply() -> None:
    """Make every applied `SlotSet` register its personal slot value.

    Rasa applies a conversation's stored events again whenever it loads the
    tracker, so the values are registered again after a restart.
    """
    from rasa.shared.core.events import SlotSet

    apply_to = SlotSet.apply_to

    def apply_and_register(self: SlotSet, tracker: Any) -> None:
        apply_to(self, tracker)
        register_slot_value(tracker.sender_id, self.key, self.value)

    SlotSet.apply_to = apply_and_register


def main() -> None:
    """Run `rasa` with the arguments of this process."""
    os.environ["RASA_TELEMETRY_ENABLED"] = "false"
    install_log_masking(text_level=TEXT_LEVEL)

    import rasa.__main__
    import rasa.telemetry
    import rasa.utils.log_utils

    rasa.telemetry.initialize_error_reporting = lambda: None
    # `rasa.__main__` imported the function by name, so both names are replaced.
    rasa.__main__.configure_structlog = with_masking(rasa.__main__.configure_structlog)
    rasa.utils.log_utils.configure_structlog = with_masking(
        rasa.utils.log_utils.configure_structlog
    )
    register_slots_on_apply()

    sys.argv[0] = "rasa"
    rasa.__main__.main()


if __name__ == "__main__":
    main()
