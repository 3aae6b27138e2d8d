"""Browser tests' support: a real `markets serve` process, headless Chromium through Playwright.

Chromium is Debian's (/usr/bin/chromium, installed by .ci/run), never a browser Playwright downloads.
Without it, or without the playwright package, the browser tests skip and say why, unless
MARKETS_TESTS_REQUIRE_BROWSER=1 (CI), when they fail instead. Every page is watched: a request to
any host other than 127.0.0.1 is refused and fails the test, so "works without internet" is checked
on every run.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.live import LiveServer, serving

CHROMIUM = os.environ.get("MARKETS_CHROMIUM", "/usr/bin/chromium")
REQUIRE_BROWSER = os.environ.get("MARKETS_TESTS_REQUIRE_BROWSER") == "1"
MARKETS = str(Path(sys.executable).with_name("markets"))
# As the machine notes say: without the background-networking flags Chromium phones home at start.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--metrics-recording-only", "--mute-audio",
]
VIEWPORT = {"width": 1280, "height": 800}
# Bounded waits everywhere: a broken page fails in seconds, never hangs the suite.
WAIT_MS = 10_000
ALLOWED_HOST = "127.0.0.1"


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing (apt-get install chromium; .ci/run does)"
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "the playwright package is missing (make install brings the dev extra)"
    return None


def require_browser() -> None:
    reason = browser_missing()
    if reason is None:
        return
    if REQUIRE_BROWSER:
        pytest.fail(f"MARKETS_TESTS_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


# A `markets serve` process and a client of its public API: the same one the live-update tests use.
Server = LiveServer


@contextmanager
def serve(database_url: str, **env: str) -> Iterator[Server]:
    """`markets serve` on a free port over the test database, killed on the way out."""
    # The tests empty the tables between tests and ids start again: a cached market would lie.
    with serving(database_url, **({"MARKET_CACHE_TTL_SECONDS": "0"} | env)) as server:
        yield server


@dataclass
class Watch:
    """What a page did that a test must not allow: leave the machine, or throw."""

    outside: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def check(self) -> None:
        assert not self.outside, f"requests left 127.0.0.1: {self.outside}"
        assert not self.errors, f"the page reported errors: {self.errors}"


async def open_page(chromium: Any) -> tuple[Any, Any, Watch]:
    """A fresh context (its own sessionStorage) at 1280×800, every request and error watched."""
    context = await chromium.new_context(viewport=VIEWPORT)
    context.set_default_timeout(WAIT_MS)
    watch = Watch()

    async def guard(route: Any) -> None:
        if urlsplit(route.request.url).hostname == ALLOWED_HOST:
            await route.continue_()
        else:
            watch.outside.append(route.request.url)
            await route.abort()

    await context.route("**/*", guard)
    page = await context.new_page()
    page.on("pageerror", lambda error: watch.errors.append(f"uncaught: {error}"))
    page.on("websocket", lambda ws: None if urlsplit(ws.url).hostname == ALLOWED_HOST
            else watch.outside.append(ws.url))

    def on_console(message: Any) -> None:
        # A refused script or style shows up only here; failed fetches (401, 429 on purpose) do not count.
        if message.type == "error" and "Content Security Policy" in message.text:
            watch.errors.append(message.text)

    page.on("console", on_console)
    return context, page, watch


def expect(target: Any) -> Any:
    """Playwright's expect, imported only once a browser test runs (collection needs no playwright)."""
    from playwright.async_api import expect as playwright_expect

    playwright_expect.set_options(timeout=WAIT_MS)
    return playwright_expect(target)
