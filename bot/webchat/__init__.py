"""Web chat widget files and demo page (being built; see issue 6)."""

from aiohttp import web


def setup_webchat(app: web.Application) -> None:
    """Add the widget's routes to `app`."""
