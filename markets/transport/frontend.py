"""What the server shows a browser: GraphiQL from vendored assets, and the admin console.

Nothing here reaches another host. GraphiQL's scripts and styles are vendored into
`markets/transport/static/graphiql/` by `scripts/vendor_graphiql.sh` (pinned versions, with their licences); the
page that starts it is built here from their manifest, with subresource integrity. The admin
console (`markets/transport/static/admin/`) is plain ES modules that talk only to POST /graphql.
"""

from __future__ import annotations

import json
import os
from functools import cache
from html import escape
from pathlib import Path

from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from markets.settings import Settings

STATIC = Path(__file__).resolve().parent / "static"
GRAPHIQL_DIR = STATIC / "graphiql"
EXPLORER_DIR = STATIC / "explorer"
ADMIN_DIR = STATIC / "admin"

GRAPHIQL_URL = "/static/graphiql"
EXPLORER_URL = "/static/explorer"

# Vendored file names carry their package version, so a URL's bytes never change.
IMMUTABLE = "public, max-age=31536000, immutable"
# The project's own files change with each release under the same name: revalidate (ETag, 304).
REVALIDATE = "no-cache"

CONTENT_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
}

# GraphiQL: its React components set inline styles and its CSS inlines its fonts as data: URLs.
# connect-src 'self' covers the same origin's ws:/wss: too (CSP level 3).
GRAPHIQL_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; font-src 'self' data:; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
# The console builds its DOM with createElement and sets no inline style: the tightest policy.
ADMIN_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
PAGE_HEADERS = {"Cache-Control": REVALIDATE, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


class Assets(StaticFiles):
    """StaticFiles with fixed content types (not the host's mime.types), a cache policy, nosniff."""

    def __init__(self, directory: Path, *, cache_control: str, csp: str | None = None, html: bool = False) -> None:
        super().__init__(directory=directory, html=html)
        self.cache_control = cache_control
        self.csp = csp

    def file_response(
        self, full_path: str | os.PathLike[str], stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        suffix = Path(full_path).suffix
        if suffix in CONTENT_TYPES and response.status_code != 304:
            response.headers["Content-Type"] = CONTENT_TYPES[suffix]
        response.headers["Cache-Control"] = self.cache_control
        response.headers["X-Content-Type-Options"] = "nosniff"
        if self.csp and suffix == ".html":
            response.headers["Content-Security-Policy"] = self.csp
        return response


@cache
def vendored() -> dict[str, dict[str, str]]:
    """The vendoring script's manifest: served file name -> package@version, path, integrity."""
    files: dict[str, dict[str, str]] = json.loads((GRAPHIQL_DIR / "manifest.json").read_text())["files"]
    return files


def _asset(package: str, suffix: str) -> tuple[str, str]:
    """The URL and `sha384-…` integrity of the one vendored `suffix` file of `package`."""
    matches = [
        (name, entry["integrity"]) for name, entry in vendored().items()
        if entry["package"].rpartition("@")[0] == package and name.endswith(suffix)
    ]
    if len(matches) != 1:
        raise RuntimeError(f"static/graphiql/manifest.json: {len(matches)} {suffix} files of {package}")
    name, integrity = matches[0]
    return f"{GRAPHIQL_URL}/{name}", integrity


@cache
def graphiql_html() -> str:
    """The explorer page: every script and stylesheet from this server, pinned by integrity."""
    def script(url: str, integrity: str | None = None) -> str:
        pinned = f' integrity="{escape(integrity)}"' if integrity else ""
        return f'<script src="{escape(url)}"{pinned}></script>'

    def style(url: str, integrity: str | None = None) -> str:
        pinned = f' integrity="{escape(integrity)}"' if integrity else ""
        return f'<link rel="stylesheet" href="{escape(url)}"{pinned}>'

    explorer_plugin = "@graphiql/plugin-explorer"
    styles = [style(*_asset("graphiql", ".css")), style(*_asset(explorer_plugin, ".css")),
              style(f"{EXPLORER_URL}/explorer.css")]
    # In dependency order: the UMD bundles find each other through globals.
    scripts = [script(*_asset(package, ".js")) for package in ("react", "react-dom", "graphiql", explorer_plugin)]
    scripts.append(script(f"{EXPLORER_URL}/explorer.js"))
    return "\n".join([
        "<!doctype html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>markets · GraphiQL</title>",
        '<link rel="icon" href="data:,">',
        *styles,
        "</head>",
        "<body>",
        '<div id="graphiql"><p>Loading GraphiQL…</p></div>',
        *scripts,
        "</body>",
        "</html>",
        "",
    ])


def graphiql_page() -> Response:
    """GET /graphql from a browser (the view calls this when the explorer is enabled)."""
    return HTMLResponse(graphiql_html(), headers=PAGE_HEADERS | {"Content-Security-Policy": GRAPHIQL_CSP})


async def admin_index(_: Request) -> Response:
    """GET /admin: the console's single page (its scripts route with the URL's #fragment)."""
    return FileResponse(
        ADMIN_DIR / "index.html", media_type=CONTENT_TYPES[".html"],
        headers=PAGE_HEADERS | {"Content-Security-Policy": ADMIN_CSP},
    )


def frontend_routes(settings: Settings) -> list[BaseRoute]:
    """The console always (it can do only what the API lets its viewer do); GraphiQL's assets only
    while the explorer is enabled, like the page itself."""
    routes: list[BaseRoute] = [
        Route("/admin", admin_index, methods=["GET", "HEAD"]),
        Mount("/admin", app=GZipMiddleware(Assets(ADMIN_DIR, cache_control=REVALIDATE, csp=ADMIN_CSP, html=True))),
    ]
    if settings.explorer_enabled:
        # GraphiQL's bundle is 3.5 MB, about 0.9 MB gzipped; it is compressed once per browser,
        # which then keeps it for a year.
        routes += [
            Mount(GRAPHIQL_URL, app=GZipMiddleware(Assets(GRAPHIQL_DIR, cache_control=IMMUTABLE), compresslevel=6)),
            Mount(EXPLORER_URL, app=GZipMiddleware(Assets(EXPLORER_DIR, cache_control=REVALIDATE))),
        ]
    return routes
