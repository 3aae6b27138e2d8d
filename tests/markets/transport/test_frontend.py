"""What the server gives a browser, checked over ASGI (no browser needed): the GraphiQL page refers
only to this server's vendored assets, with their integrity; the assets are served with the right
types and cache policy and match their manifest; the console's files are all there; both follow
the explorer setting."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from markets.transport.frontend import ADMIN_DIR, GRAPHIQL_DIR
from tests.conftest import TEST_SECRET, Api
from tests.servers import instance

BROWSER = {"Accept": "text/html"}


class References(HTMLParser):
    """Every URL a page makes the browser fetch: script src, link href, img src…"""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for attribute in ("src", "href"):
            if values.get(attribute):
                self.found.append({"tag": tag, "url": values[attribute], "integrity": values.get("integrity"),
                                   "rel": values.get("rel")})


def references(html: str) -> list[dict[str, str | None]]:
    parser = References()
    parser.feed(html)
    return parser.found


def sri(body: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(body).digest()).decode()


async def test_the_explorer_page_loads_only_this_servers_assets(api: Api) -> None:
    page = await api.http.get("/graphql", headers=BROWSER)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "script-src 'self';" in page.headers["content-security-policy"]  # no inline, no other host
    found = references(page.text)
    scripts = [r for r in found if r["tag"] == "script"]
    assert [r["url"] for r in scripts] == [
        "/static/graphiql/react-18.2.0.production.min.js", "/static/graphiql/react-dom-18.2.0.production.min.js",
        "/static/graphiql/graphiql-3.8.3.min.js", "/static/graphiql/plugin-explorer-1.0.2.umd.js",
        "/static/explorer/explorer.js",
    ]
    assert "<script>" not in page.text  # nothing inline: the CSP would refuse it
    for reference in found:
        url = reference["url"] or ""
        if url.startswith("data:"):
            continue
        assert url.startswith("/") and not url.startswith("//"), url
        asset = await api.http.get(url)
        assert asset.status_code == 200, url
        if reference["integrity"]:  # every vendored file is pinned, and what is served matches the pin
            assert sri(asset.content) == reference["integrity"], url
        elif url.startswith("/static/graphiql/"):
            pytest.fail(f"{url} has no integrity attribute")


async def test_vendored_assets_are_typed_and_cached_for_a_year(api: Api) -> None:
    js = await api.http.get("/static/graphiql/graphiql-3.8.3.min.js")
    assert js.headers["content-type"] == "text/javascript; charset=utf-8"
    assert js.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert js.headers["x-content-type-options"] == "nosniff"
    css = await api.http.get("/static/graphiql/graphiql-3.8.3.min.css")
    assert css.headers["content-type"] == "text/css; charset=utf-8"
    # The page's own script changes between releases under one name: revalidated, never stale.
    own = await api.http.get("/static/explorer/explorer.js")
    assert own.headers["cache-control"] == "no-cache"
    again = await api.http.get("/static/explorer/explorer.js", headers={"If-None-Match": own.headers["etag"]})
    assert again.status_code == 304


async def test_the_big_bundle_is_sent_whole_and_compressed(api: Api) -> None:
    """Through the whole middleware stack (the body limit replays the request body: a file
    response must still see the real connection, not an invented disconnect)."""
    on_disk = (GRAPHIQL_DIR / "graphiql-3.8.3.min.js").read_bytes()
    plain = await api.http.get("/static/graphiql/graphiql-3.8.3.min.js", headers={"Accept-Encoding": "identity"})
    assert plain.content == on_disk
    async with api.http.stream("GET", "/static/graphiql/graphiql-3.8.3.min.js",
                               headers={"Accept-Encoding": "gzip"}) as response:
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
    assert response.headers["content-encoding"] == "gzip"
    assert len(raw) < len(on_disk) / 3
    assert gzip.decompress(raw) == on_disk


def test_the_vendored_files_match_their_manifest_and_carry_licences() -> None:
    manifest = json.loads((GRAPHIQL_DIR / "manifest.json").read_text())["files"]
    served = {p.name for p in GRAPHIQL_DIR.iterdir() if p.is_file()} - {"manifest.json"}
    assert served == set(manifest)
    for name, entry in manifest.items():
        assert sri((GRAPHIQL_DIR / name).read_bytes()) == entry["integrity"], f"{name} was changed by hand"
        assert entry["package"].rpartition("@")[2] in name  # versioned names: safe to cache for a year
    licences = {p.name for p in (GRAPHIQL_DIR / "licenses").iterdir()}
    assert {"graphiql.LICENSE.txt", "react.LICENSE.txt", "react-dom.LICENSE.txt", "plugin-explorer.LICENSE.txt",
            "graphiql-bundled-packages.LICENSE.txt"} <= licences
    bundled = (GRAPHIQL_DIR / "licenses" / "graphiql-bundled-packages.LICENSE.txt").read_text()
    assert "codemirror@" in bundled and "graphql@" in bundled and "markdown-it@" in bundled


def test_no_stylesheet_fetches_from_elsewhere() -> None:
    """GraphiQL's fonts are inlined as data: URLs; nothing imports from another host."""
    for css in [*GRAPHIQL_DIR.glob("*.css"), *ADMIN_DIR.glob("*.css"), *(ADMIN_DIR.parent / "explorer").glob("*.css")]:
        text = css.read_text()
        assert "@import" not in text, css
        for url in re.findall(r"url\(\s*['\"]?([^'\")]+)", text):
            assert url.startswith("data:") or not re.match(r"^[a-z]+:|^//", url), (css.name, url[:60])


@pytest.mark.parametrize(("environment", "graphiql"), [("production", None), ("development", False)])
async def test_without_the_explorer_its_assets_are_not_served(
    test_database_url: str, environment: str, graphiql: bool | None
) -> None:
    async with instance(test_database_url, environment=environment, graphiql=graphiql, jwt_secret=TEST_SECRET) as app:
        page = await app.http.get("/graphql", headers=BROWSER)
        vendored = await app.http.get("/static/graphiql/graphiql-3.8.3.min.js")
        own = await app.http.get("/static/explorer/explorer.js")
        console = await app.http.get("/admin")
    assert page.status_code == 404
    assert vendored.status_code == 404 and vendored.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert own.status_code == 404
    assert console.status_code == 200  # the console needs no introspection: staff use it in production


async def test_the_console_is_served_with_a_strict_policy(api: Api) -> None:
    for path in ("/admin", "/admin/"):
        page = await api.http.get(path)
        assert page.status_code == 200, path
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        policy = page.headers["content-security-policy"]
        assert "script-src 'self';" in policy and "style-src 'self';" in policy and "connect-src 'self';" in policy
        assert page.headers["cache-control"] == "no-cache"
        assert '<script type="module" src="/admin/main.js">' in page.text
    module = await api.http.get("/admin/main.js")
    assert module.headers["content-type"] == "text/javascript; charset=utf-8"
    missing = await api.http.get("/admin/nothing-here.js")
    assert missing.status_code == 404 and missing.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert (await api.http.post("/admin")).status_code == 405
    # No way out of the folder.
    assert (await api.http.get("/admin/../markets/settings.py")).status_code == 404
    assert (await api.http.get("/admin/%2e%2e/frontend.py")).status_code == 404


def console_modules() -> list[Path]:
    return sorted(ADMIN_DIR.rglob("*.js"))


def test_every_console_import_resolves() -> None:
    """No build step means no bundler to catch a typo in an import: check every one here."""
    statement = re.compile(r'^\s*(?:import|export)\b[^"\']*?from\s+["\']([^"\']+)["\']', re.M)
    for module in console_modules():
        for target in statement.findall(module.read_text()):
            assert target.startswith("./") or target.startswith("../"), (module.name, target)
            assert (module.parent / target).resolve().is_file(), (module.name, target)


def test_the_console_talks_only_to_the_public_api() -> None:
    for module in console_modules():
        text = module.read_text()
        assert not re.search(r"\bhttps?://", text), module.name
        assert "innerHTML" not in text and "insertAdjacentHTML" not in text, module.name  # data stays text
        if module.name != "api.js":
            assert "fetch(" not in text, module.name
    api = (ADMIN_DIR / "api.js").read_text()
    assert 'const ENDPOINT = "/graphql";' in api


async def test_every_console_operation_is_valid_against_the_schema(api: Api) -> None:
    """The console's documents validate against the served schema (a typo would be a runtime error)."""
    source = (ADMIN_DIR / "operations.js").read_text()
    fragments = dict(re.findall(r"const (\w+) = `([^`]*)`;", source))
    documents = re.findall(r"export const \w+ = `([^`]*)`;", source)
    assert len(documents) >= 9
    for document in documents:
        text = re.sub(r"\$\{(\w+)\}", lambda m: fragments[m.group(1)], document)
        response = await api.post(text, {"id": "x", "email": "a@b.co", "password": "x" * 8,
                                          "status": "CLOSED", "outcome": "YES", "userId": "x", "role": "USER"})
        body = response.json()
        codes = {e["extensions"]["code"] for e in body.get("errors", [])}
        assert not codes & {"GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED"}, (text, body)


async def test_a_browser_get_for_a_persisted_query_is_not_the_page(api: Api) -> None:
    """Unchanged behaviour: GET with `extensions` (APQ) still runs instead of showing GraphiQL."""
    response = await api.http.get("/graphql", headers=BROWSER, params={
        "extensions": json.dumps({"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}})})
    assert "text/html" not in response.headers["content-type"]
