"""Run Rasa's command line with its Sentry error reporting switched off.

Rasa 3.6 sends crash reports to Sentry whenever its bundled key file exists,
even with telemetry disabled. The assistant must reach no host but Twilio's
API, so every Rasa command of the project runs through this module:
`python -m bot.rasa_ext.cli train ...` takes the same arguments as `rasa`.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    os.environ["RASA_TELEMETRY_ENABLED"] = "false"
    import rasa.__main__
    import rasa.telemetry

    rasa.telemetry.initialize_error_reporting = lambda: None
    sys.argv[0] = "rasa"
    rasa.__main__.main()


if __name__ == "__main__":
    main()
