"""Web chat widget files and the demo page, on the product's web server.

Routes added by `setup_webchat`:

| route | content |
| --- | --- |
| `GET /webchat/widget.js` | the widget, with Member Services' phone number from `config/contacts.yml` filled in |
| `GET /webchat/widget.css` | the widget's styles |
| `GET /webchat/vendor/socket.io.esm.min.js` | the pinned socket.io client that `npm ci` installs |
| `GET /webchat/favicon.svg`, `GET /favicon.ico` | the demo site's icon (SVG at both paths) |
| `GET /demo`, `GET /demo/other` | two pages of a mock HPSM member site with the widget |
| `GET /demo/es` | a Spanish page of the mock site, with `data-lang="es"` |

The widget's files may be loaded from any site, so they carry
`Access-Control-Allow-Origin: *`. The Rasa server decides who may chat, by
checking the socket's origin against `ALLOWED_ORIGINS`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import jinja2
from aiohttp import web

from bot.contacts import load_contacts
from bot.settings import PROJECT_ROOT
from bot.web import SETTINGS

logger = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
STATIC_DIR = PACKAGE_DIR / "static"
TEMPLATE_DIR = PACKAGE_DIR / "templates"
SOCKET_IO_CLIENT = (
    PROJECT_ROOT / "node_modules" / "socket.io-client" / "dist" / "socket.io.esm.min.js"
)
# widget.js contains this literal, which the server replaces with the contacts.
CONTACTS_PLACEHOLDER = "/*SERVER_CONTACTS*/ null"
# The widget's files are not fingerprinted, so browsers keep them briefly and
# revalidate with the ETag afterwards.
WIDGET_CACHE_CONTROL = "public, max-age=300, must-revalidate"
VENDOR_CACHE_CONTROL = "public, max-age=86400"
_HOST_NAME = re.compile(r"^[A-Za-z0-9.-]{1,253}$|^\[[0-9A-Fa-f:]{2,39}\]$")


@dataclass(frozen=True)
class StaticAsset:
    """A file served from memory, with its content type and ETag."""

    body: bytes
    content_type: str
    cache_control: str

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:32] + '"'


def widget_contacts() -> dict:
    """Return the contact details that the widget shows when it cannot connect."""
    contacts = load_contacts()
    return {
        "member_services": contacts["member_services"],
        "tty": contacts["tty"],
        "hours": {
            "en": contacts["member_services_hours"]["en"],
            "es": contacts["member_services_hours"]["es"],
        },
    }


def build_widget_script() -> bytes:
    """Return widget.js with the contact details in place of the placeholder.

    Raises:
        RuntimeError: widget.js lacks the placeholder, so the phone number
            could not be filled in.
    """
    source = (STATIC_DIR / "widget.js").read_text(encoding="utf-8")
    if CONTACTS_PLACEHOLDER not in source:
        raise RuntimeError(f"widget.js lacks the placeholder {CONTACTS_PLACEHOLDER!r}")
    contacts = json.dumps(widget_contacts(), ensure_ascii=True)
    return source.replace(CONTACTS_PLACEHOLDER, contacts).encode("utf-8")


def _asset_response(request: web.Request, asset: StaticAsset) -> web.Response:
    headers = {
        "Cache-Control": asset.cache_control,
        "ETag": asset.etag,
        "Access-Control-Allow-Origin": "*",
        "X-Content-Type-Options": "nosniff",
    }
    if request.headers.get("If-None-Match") == asset.etag:
        return web.Response(status=304, headers=headers)
    return web.Response(
        body=asset.body,
        content_type=asset.content_type,
        charset="utf-8",
        headers=headers,
    )


def _asset_handler(asset: StaticAsset):
    async def serve(request: web.Request) -> web.Response:
        return _asset_response(request, asset)

    return serve


async def serve_socket_io_client(request: web.Request) -> web.Response:
    """Serve the socket.io client that `npm ci` installed under node_modules."""
    if not SOCKET_IO_CLIENT.exists():
        logger.error(
            "The socket.io client is missing at %s; run npm ci", SOCKET_IO_CLIENT
        )
        return web.Response(
            status=503,
            text="The web chat client is not installed; run `npm ci` in the project.",
        )
    asset = StaticAsset(
        SOCKET_IO_CLIENT.read_bytes(), "application/javascript", VENDOR_CACHE_CONTROL
    )
    return _asset_response(request, asset)


def _demo_host(request: web.Request) -> str:
    """Return the host name the browser used, for the demo's Rasa server URL."""
    # request.host is "name:port" as the browser sent it.
    host = (
        request.host.rsplit(":", 1)[0]
        if not request.host.endswith("]")
        else request.host
    )
    return host if _HOST_NAME.match(host) else "127.0.0.1"


def _demo_handler(templates: jinja2.Environment, page: str, lang: str = "en"):
    async def demo(request: web.Request) -> web.Response:
        settings = request.app[SETTINGS]
        host = _demo_host(request)
        rasa_url = f"http://{host}:{settings.rasa_port}"
        web_url = f"{request.scheme}://{request.host}"
        html = templates.get_template("demo.html").render(
            page=page, lang=lang, rasa_url=rasa_url, web_url=web_url
        )
        csp = (
            "default-src 'self'; script-src 'self'; style-src 'self'; "
            f"connect-src 'self' {rasa_url} ws://{host}:{settings.rasa_port}; "
            "img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        )
        return web.Response(
            text=html,
            content_type="text/html",
            headers={"Content-Security-Policy": csp, "Cache-Control": "no-store"},
        )

    return demo


def setup_webchat(app: web.Application) -> None:
    """Add the widget's files and the demo pages to `app`."""
    templates = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    widget_js = StaticAsset(
        build_widget_script(), "application/javascript", WIDGET_CACHE_CONTROL
    )
    widget_css = StaticAsset(
        (STATIC_DIR / "widget.css").read_bytes(), "text/css", WIDGET_CACHE_CONTROL
    )
    demo_css = StaticAsset(
        (STATIC_DIR / "demo.css").read_bytes(), "text/css", WIDGET_CACHE_CONTROL
    )
    # Chromium accepts an SVG icon at /favicon.ico, which browsers request on
    # their own, so one file serves both paths.
    favicon = StaticAsset(
        (STATIC_DIR / "favicon.svg").read_bytes(),
        "image/svg+xml",
        WIDGET_CACHE_CONTROL,
    )
    if not SOCKET_IO_CLIENT.exists():
        logger.warning(
            "The web chat cannot connect until `npm ci` installs socket.io-client"
        )

    app.router.add_get("/webchat/widget.js", _asset_handler(widget_js))
    app.router.add_get("/webchat/widget.css", _asset_handler(widget_css))
    app.router.add_get("/webchat/demo.css", _asset_handler(demo_css))
    app.router.add_get("/webchat/vendor/socket.io.esm.min.js", serve_socket_io_client)
    app.router.add_get("/webchat/favicon.svg", _asset_handler(favicon))
    app.router.add_get("/favicon.ico", _asset_handler(favicon))
    app.router.add_get("/demo", _demo_handler(templates, "home"))
    app.router.add_get("/demo/other", _demo_handler(templates, "other"))
    app.router.add_get("/demo/es", _demo_handler(templates, "home", lang="es"))
