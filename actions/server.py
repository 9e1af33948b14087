"""Run the action server on loopback (rasa-sdk's own command binds every address)."""

from __future__ import annotations

import argparse
import logging

from rasa_sdk.endpoint import create_app

from bot.logfilter import install_log_masking


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind")
    parser.add_argument("--port", type=int, default=5055, help="TCP port")
    args = parser.parse_args()

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    install_log_masking()
    app = create_app("actions", cors_origins=[])
    app.run(host=args.host, port=args.port, workers=1, access_log=False)


if __name__ == "__main__":
    main()
