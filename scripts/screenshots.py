"""Takes the README's screenshots (docs/screenshots/*.png) of the admin console and the offline
GraphiQL, in headless Chromium (Debian's /usr/bin/chromium) driven by Playwright.

    .venv/bin/python scripts/screenshots.py

A throwaway SQLite database with the deterministic demo data, a real `markets serve` on a free
port, 1280×800 pages. Nothing else is touched; the server is stopped at the end.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
MARKETS = str(Path(sys.executable).with_name("markets"))
CHROMIUM = os.environ.get("MARKETS_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORD = "password123"  # every demo account's


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run(*args: str, env: dict[str, str]) -> None:
    subprocess.run([MARKETS, *args], env=env, check=True, stdout=subprocess.DEVNULL)


def sign_in(page: Page, url: str, email: str) -> None:
    page.goto(url + "/admin")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("table.data")).to_be_visible()


def shoot(page: Page, name: str) -> None:
    path = OUT / name
    page.screenshot(path=str(path))
    print(f"{path.relative_to(ROOT)}: {path.stat().st_size // 1024} KB")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    folder = tempfile.mkdtemp(prefix="markets-screenshots-")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "ENVIRONMENT", "GRAPHIQL")} | {
        "DATABASE_URL": f"sqlite+aiosqlite:///{folder}/demo.db", "RATE_LIMIT_PER_MINUTE": "0",
        "AUTH_RATE_LIMIT_PER_MINUTE": "0", "LOG_LEVEL": "WARNING", "EMBEDDER": os.environ.get("EMBEDDER", "hashing"),
    }
    run("migrate", env=env)
    run("seed", "--users", "40", "--markets", "300", "--positions", "3000", env=env)
    server = subprocess.Popen([MARKETS, "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/healthz", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            context.set_default_timeout(15_000)
            page = context.new_page()

            # The explorer: a query run as the demo admin, the token in the headers tab.
            login = httpx.post(url + "/graphql", json={"query": "mutation($e: String!, $p: String!) "
                               "{ login(email: $e, password: $p) { token } }",
                               "variables": {"e": "user1@example.com", "p": PASSWORD}}).json()
            token = login["data"]["login"]["token"]
            page.goto(url + "/graphql")
            page.locator(".graphiql-query-editor .CodeMirror").click()
            page.keyboard.press("Control+A")
            page.keyboard.insert_text(
                "{\n  me { name role }\n  markets(first: 2, orderBy: {field: VOLUME, direction: DESC}) {\n"
                "    edges { node { name status volume } }\n  }\n}\n")
            page.locator(".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror").click()
            page.keyboard.insert_text(json.dumps({"Authorization": f"Bearer {token}"}, indent=2))
            page.keyboard.press("Control+Home")  # scrolled back to the start of the header
            page.wait_for_timeout(300)  # GraphiQL re-parses after an edit; until then it sees the default's operations
            page.get_by_role("button", name="Execute query (Ctrl-Enter)").click()
            expect(page.locator(".graphiql-response")).to_contain_text("ADMIN")
            shoot(page, "graphiql.png")

            # The console as the demo admin: markets, after closing one.
            sign_in(page, url, "user1@example.com")
            page.get_by_label("Status").select_option("ACTIVE")
            page.get_by_role("button", name="Apply filters").click()
            expect(page.locator(".summary")).to_contain_text("page 1")
            page.locator("[data-action=close]").first.click()
            page.get_by_role("dialog").get_by_role("button", name="Close market").click()
            expect(page.locator(".notice-success")).to_be_visible()
            page.get_by_role("button", name="Clear").click()
            expect(page.locator(".summary")).to_contain_text("page 1")
            page.locator(".notice-info, .notice-success").first.hover()  # no hover highlight on a row
            shoot(page, "admin-markets.png")

            # The confirm step in front of a delete.
            page.locator("[data-action=delete]").nth(1).click()
            expect(page.get_by_role("dialog")).to_be_visible()
            shoot(page, "admin-confirm-delete.png")
            page.get_by_role("dialog").get_by_role("button", name="Keep it").click()

            # Users, by role, with one role change ready to apply.
            page.get_by_role("link", name="Users").click()
            expect(page.locator(".summary").last).to_contain_text("users")
            page.locator("tbody tr select").nth(2).select_option("MODERATOR")
            shoot(page, "admin-users.png")

            # A balance adjustment, at its confirm step.
            first = page.locator(".results").last.locator("tbody tr[data-user-id]").first
            name = first.locator("th").inner_text()
            first.get_by_role("button", name=f"Adjust the balance of {name}").click()
            page.get_by_label(f"Amount for {name}").fill("250.00")
            page.get_by_label(f"Note for {name}").fill("Winner of the autumn forecasting contest")
            page.get_by_role("button", name="Adjust balance").click()
            expect(page.get_by_role("dialog")).to_be_visible()
            shoot(page, "admin-adjust-balance.png")
            page.get_by_role("dialog").get_by_role("button", name="Keep it").click()

            # A USER signed in: the API refuses, the console says so.
            page.get_by_role("button", name="Sign out").click()
            sign_in(page, url, "user7@example.com")
            page.locator("[data-action=close]").first.click()
            page.get_by_role("dialog").get_by_role("button", name="Close market").click()
            expect(page.locator(".notice-error")).to_contain_text("FORBIDDEN")
            shoot(page, "admin-forbidden.png")
            browser.close()
    finally:
        server.kill()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
