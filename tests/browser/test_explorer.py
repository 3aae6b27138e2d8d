"""GraphiQL in headless Chromium, served entirely by the server: no request leaves 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from domain.roles import Role
from graph import ids
from tests.browser.support import Server, expect, open_page
from tests.conftest import Api

RUN = "Execute query (Ctrl-Enter)"


async def type_into(page: Any, editor_selector: str, text: str) -> None:
    """Replace an editor's text as a person would: click into it, select all, type (paste-like, so
    CodeMirror's bracket auto-closing does not double the braces)."""
    await page.locator(editor_selector).click()
    await page.keyboard.press("Control+A")
    await page.keyboard.insert_text(text)
    # GraphiQL re-parses the document 100 ms after the last edit: until then its run button still
    # sees the default document's several operations and opens a menu of them instead of running.
    await page.wait_for_timeout(300)


async def test_graphiql_runs_a_query_and_shows_the_names(api: Api, page: Any, live_server: Server) -> None:
    owner = await api.make_user()
    names = ["Will it rain in Lisbon?", "Will the bridge open by May?", "Will the comet be visible?"]
    for name in names:
        await api.make_market(owner, name=name)

    await page.goto(live_server.url + "/graphql")
    await expect(page.get_by_role("button", name=RUN)).to_be_visible()
    await type_into(page, ".graphiql-query-editor .CodeMirror", "{ markets(first: 3) { edges { node { name } } } }")
    await page.get_by_role("button", name=RUN).click()

    response = page.locator(".graphiql-response")
    for name in names:
        await expect(response).to_contain_text(name)


async def test_the_header_editor_sends_the_viewers_token(api: Api, page: Any, live_server: Server) -> None:
    admin = await api.make_user(Role.ADMIN, email="explorer@example.com")

    await page.goto(live_server.url + "/graphql")
    # The headers tab is open from the start: sending a token is what a viewer does first.
    headers = page.locator(".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror")
    await expect(headers).to_be_visible()
    await type_into(page, ".graphiql-query-editor .CodeMirror", "{ me { email role } }")
    await type_into(page, ".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror",
                    json.dumps({"Authorization": f"Bearer {admin.token}"}))
    await page.get_by_role("button", name=RUN).click()

    response = page.locator(".graphiql-response")
    await expect(response).to_contain_text("explorer@example.com")
    await expect(response).to_contain_text("ADMIN")
    # The token lasts as long as the tab: GraphiQL keeps tabs and history, but not the headers.
    stored = await page.evaluate("JSON.stringify(Object.entries(localStorage))")
    assert "graphiql" in stored and admin.token not in stored


async def test_the_schema_loads_for_the_docs(page: Any, live_server: Server) -> None:
    """Introspection through the vendored client: the documentation explorer lists the root types."""
    await page.goto(live_server.url + "/graphql")
    await page.get_by_role("button", name="Show Documentation Explorer").click()
    await expect(page.locator(".graphiql-doc-explorer")).to_contain_text("Query")
    await expect(page.locator(".graphiql-doc-explorer")).to_contain_text("Mutation")


async def test_the_watch_refuses_any_other_host(chromium: Any, live_server: Server) -> None:
    """The guard the other browser tests rely on: a request to another host name (here `localhost`,
    still this machine) is refused and recorded; on the console's pages the CSP stops it even sooner."""
    other = live_server.url.replace("127.0.0.1", "localhost") + "/healthz"
    fetch = "url => fetch(url).then(() => 'fetched', () => 'refused')"
    context, tab, watch = await open_page(chromium)
    try:
        await tab.goto(live_server.url + "/healthz")  # a page with no CSP of its own
        assert await tab.evaluate(fetch, other) == "refused"
        assert watch.outside == [other]

        watch.outside.clear()
        await tab.goto(live_server.url + "/admin")
        assert await tab.evaluate(fetch, other) == "refused"
        assert watch.outside == []  # never sent: connect-src 'self'
        assert any("Content Security Policy" in e for e in watch.errors), watch.errors
    finally:
        await context.close()


async def test_a_subscription_carries_the_token_in_connection_init(api: Api, page: Any, live_server: Server) -> None:
    """Over WebSocket to the same server: the header editor's token is the connection_init payload,
    so a field only an admin may see (another user's email) comes through in the event."""
    admin = await api.make_user(Role.ADMIN, email="watcher@example.com")
    creator = await api.make_user(email="creator@example.com")

    # GraphiQL sends an operation over WebSocket once it knows, from the schema and the parsed
    # query, that it is a subscription: wait for the schema, and for its 100 ms parse debounce.
    async with page.expect_response(lambda r: "IntrospectionQuery" in (r.request.post_data or "")):
        await page.goto(live_server.url + "/graphql")
    await type_into(page, ".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror",
                    json.dumps({"Authorization": f"Bearer {admin.token}"}))
    await type_into(page, ".graphiql-query-editor .CodeMirror",
                    "subscription { marketEvents { name creator { email } } }")
    await page.wait_for_timeout(400)
    sockets: list[str] = []
    frames: list[str] = []
    # Listening before the click: the socket opens and subscribes within milliseconds of it.
    page.on("websocket", lambda ws: (sockets.append(ws.url), ws.on("framesent", lambda p: frames.append(str(p)))))
    await page.get_by_role("button", name=RUN).click()
    deadline = time.monotonic() + 10
    while not any('"subscribe"' in frame for frame in frames):
        assert time.monotonic() < deadline, f"no subscribe frame sent: {frames}"
        await asyncio.sleep(0.05)
    assert sockets == [live_server.url.replace("http://", "ws://") + "/graphql"]
    assert f"Bearer {admin.token}" in frames[0]  # connection_init, before anything else
    await asyncio.sleep(0.3)  # the server registers the subscription just after that frame

    await live_server.data('mutation { createMarket(input: {name: "Seen live in GraphiQL?"}) { id } }',
                           token=creator.token)
    response = page.locator(".graphiql-response")
    await expect(response).to_contain_text("Seen live in GraphiQL?")
    await expect(response).to_contain_text("creator@example.com")


async def test_the_default_document_quotes_and_buys(api: Api, page: Any, live_server: Server) -> None:
    """The document a new visitor sees: a quote and a purchase next to the read, each of which runs
    as written once its example market id names a real market."""
    await page.goto(live_server.url + "/graphql")
    editor = page.locator(".graphiql-query-editor .CodeMirror")
    await expect(editor).to_contain_text("quote(marketId:")
    await expect(editor).to_contain_text("openPosition(input:")
    document = await page.evaluate("document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.getValue()")

    buyer = await api.make_user(Role.ADMIN)
    market = await api.make_market(buyer, name="Will the example run?")
    example_id = ids.encode("Market", 1)
    assert example_id in document
    runnable = document.replace(example_id, market["id"])

    async def run(operation: str, token: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await api.http.post("/graphql", headers=headers,
                                       json={"query": runnable, "operationName": operation})
        body = response.json()
        assert "errors" not in body, body
        return body["data"]

    listed = await run("Markets")
    assert [e["node"]["name"] for e in listed["markets"]["edges"]] == ["Will the example run?"]
    quote = (await run("Quote"))["quote"]
    assert quote["probabilityBefore"] == 0.5 < quote["probabilityAfter"]
    bought = (await run("Buy", buyer.token))["openPosition"]
    assert bought["shares"] == quote["shares"]
    assert bought["market"]["probability"] == quote["probabilityAfter"]
