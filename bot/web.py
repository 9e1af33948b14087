"""The product's own web server on `WEB_PORT` (8080 by default).

It serves the coordinator workspace (`bot.workspace.app`), the JSON API for
HPSM's systems under `/api/v1/` (`bot.workspace.api`), and the web chat
widget's files with its demo page (`bot.webchat`). Each part adds its routes
to one aiohttp application; the runner starts it as its own process:

    python -m bot.web
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Callable

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from sqlalchemy.orm import Session

from bot.logfilter import install_log_masking
from bot.settings import Settings, get_settings

logger = logging.getLogger(__name__)

SETTINGS = web.AppKey("settings", Settings)
SESSION_FACTORY = web.AppKey("session_factory", Callable[[], Session])


async def health(request: web.Request) -> web.Response:
    """Return 200 when the database responds to a query, else 503."""
    from sqlalchemy import text

    from bot.db import run_in_thread

    def ping() -> None:
        with request.app[SESSION_FACTORY]() as session:
            session.execute(text("SELECT 1"))

    try:
        await run_in_thread(ping)
    except Exception as error:  # noqa: BLE001 - any failure means not healthy
        logger.warning("Health check failed: %s", type(error).__name__)
        return web.json_response({"status": "unavailable"}, status=503)
    return web.json_response({"status": "ok"})


class PathOnlyAccessLogger(AbstractAccessLogger):
    """Log method, path, status and time; never the query string.

    Queue searches carry phone numbers and member ids in the query string.
    """

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            "%s %s %s %.1f ms", request.method, request.path, response.status, time * 1000
        )


def create_app(
    settings: Settings | None = None,
    session_factory: Callable[[], Session] | None = None,
) -> web.Application:
    """Build the web application with every part's routes.

    Args:
        settings: Defaults to `get_settings()`.
        session_factory: Defaults to the session factory of
            `settings.database_url`.
    """
    from bot.db import make_engine, make_session_factory
    from bot.webchat import setup_webchat
    from bot.workspace.api import setup_api
    from bot.workspace.app import setup_workspace

    settings = settings or get_settings()
    app = web.Application(client_max_size=256 * 1024)
    app[SETTINGS] = settings
    app[SESSION_FACTORY] = session_factory or make_session_factory(
        make_engine(settings.database_url)
    )
    app.router.add_get("/health", health)
    setup_api(app)
    setup_webchat(app)
    setup_workspace(app)
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the product's web server.")
    parser.add_argument("--port", type=int, help="default: WEB_PORT or 8080")
    parser.add_argument("--host", help="default: WEB_INTERFACE or 127.0.0.1")
    args = parser.parse_args(argv)

    settings = get_settings()
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    install_log_masking()
    web.run_app(
        create_app(settings),
        host=args.host or settings.web_interface,
        port=args.port or settings.web_port,
        print=None,
        access_log_class=PathOnlyAccessLogger,
    )
    return 0


if __name__ == "__main__":
    # Run as `python -m bot.web`, this file is `__main__`, whose app keys are
    # not the ones the parts import from `bot.web`; start the imported module.
    from bot.web import main as imported_main

    sys.exit(imported_main())
