"""Fixtures of the browser tests: one `markets serve` and one Chromium for the session, a fresh
watched page per test (see support.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from tests.browser.support import CHROMIUM, CHROMIUM_ARGS, Server, open_page, require_browser, serve


@pytest.fixture(scope="session")
def live_server(test_database_url: str) -> Iterator[Server]:
    require_browser()
    with serve(test_database_url) as running:
        yield running


@pytest.fixture(scope="session")
async def chromium() -> AsyncIterator[Any]:
    require_browser()
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=30_000)
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def page(chromium: Any, live_server: Server) -> AsyncIterator[Any]:
    context, opened, watch = await open_page(chromium)
    try:
        yield opened
        watch.check()
    finally:
        await context.close()
