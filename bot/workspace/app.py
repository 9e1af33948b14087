"""Coordinator workspace pages (being built; see issue 5)."""

from aiohttp import web


def setup_workspace(app: web.Application) -> None:
    """Add the workspace's routes to `app`."""
