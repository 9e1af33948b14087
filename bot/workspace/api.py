"""JSON API under /api/v1/ (being built; see issue 5)."""

from aiohttp import web


def setup_api(app: web.Application) -> None:
    """Add the API's routes to `app`."""
