"""The admin console in headless Chromium, against a real `markets serve`: each flow as an admin,
checked afterwards through the API; a USER sees the API refuse; errors are shown, never a blank page."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from domain.roles import Role
from graph import ids
from tests.browser.support import Server, expect, open_page, serve
from tests.conftest import Api, Member

MARKET = "query($id: ID!) { market(id: $id) { status resolvedOutcome } }"


async def sign_in(page: Any, server: Server, member: Member, password: str = "password123") -> None:
    await page.goto(server.url + "/admin")
    await page.get_by_label("Email").fill(member.user.email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator(".viewer")).to_contain_text(member.user.name)


def row(page: Any, text: str) -> Any:
    return page.get_by_role("row").filter(has_text=text)


async def confirm(page: Any, button: str) -> None:
    dialog = page.get_by_role("dialog")
    await expect(dialog).to_be_visible()
    await dialog.get_by_role("button", name=button).click()
    await expect(dialog).to_have_count(0)


async def admin_and_markets(api: Api, *names: str) -> tuple[Member, dict[str, dict[str, Any]]]:
    admin = await api.make_user(Role.ADMIN, name="Ada Admin")
    markets = {name: await api.make_market(admin, name=name) for name in names}
    return admin, markets


async def test_an_admin_signs_in_and_sees_the_markets(api: Api, page: Any, live_server: Server) -> None:
    admin, _ = await admin_and_markets(api, "Will it snow in Rome?", "Will the train run on time?")
    await sign_in(page, live_server, admin)

    await expect(page.get_by_role("heading", name="Markets", level=1)).to_be_visible()
    await expect(page.locator(".viewer")).to_contain_text("ADMIN")
    await expect(page.locator(".summary")).to_have_text("2 markets · page 1")
    await expect(row(page, "Will it snow in Rome?")).to_contain_text("ACTIVE")
    await expect(row(page, "Will the train run on time?")).to_be_visible()
    # The token is kept for this tab: a reload stays signed in.
    await page.reload()
    await expect(page.locator(".viewer")).to_contain_text("Ada Admin")
    await expect(row(page, "Will it snow in Rome?")).to_be_visible()


async def test_filters_by_name_and_status(api: Api, page: Any, live_server: Server) -> None:
    admin, markets = await admin_and_markets(
        api, "Will it rain in Oslo?", "Will it rain in Porto?", "Will the dam hold?")
    await live_server.data('mutation($id: ID!) { updateMarket(id: $id, input: {status: CLOSED}) { id } }',
                           {"id": markets["Will it rain in Porto?"]["id"]}, token=admin.token)
    await sign_in(page, live_server, admin)

    await page.get_by_label("Name contains").fill("RAIN")
    await page.get_by_role("button", name="Apply filters").click()
    await expect(page.locator(".summary")).to_have_text("2 markets · page 1")
    await expect(row(page, "Will the dam hold?")).to_have_count(0)

    await page.get_by_label("Status").select_option("CLOSED")
    await page.get_by_role("button", name="Apply filters").click()
    await expect(page.locator(".summary")).to_have_text("1 market · page 1")
    await expect(row(page, "Will it rain in Porto?")).to_contain_text("CLOSED")

    await page.get_by_role("button", name="Clear").click()
    await expect(page.locator(".summary")).to_have_text("3 markets · page 1")


async def test_pages_forward_and_back_with_cursors(api: Api, page: Any, live_server: Server) -> None:
    names = [f"Market number {i:02d}" for i in range(12)]
    admin, _ = await admin_and_markets(api, *names)
    await sign_in(page, live_server, admin)

    await page.get_by_label("Sort").select_option("NAME:ASC")
    await page.get_by_role("button", name="Apply filters").click()
    body = page.locator("table.data tbody tr")
    await expect(body).to_have_count(10)
    await expect(body.first).to_contain_text("Market number 00")
    await expect(page.get_by_role("button", name="← Previous")).to_be_disabled()

    await page.get_by_role("button", name="Next →").click()
    await expect(page.locator(".summary")).to_have_text("12 markets · page 2")
    await expect(body).to_have_count(2)
    await expect(body.first).to_contain_text("Market number 10")
    await expect(page.get_by_role("button", name="Next →")).to_be_disabled()

    await page.get_by_role("button", name="← Previous").click()
    await expect(page.locator(".summary")).to_have_text("12 markets · page 1")
    await expect(body).to_have_count(10)
    await expect(body.first).to_contain_text("Market number 00")
    await expect(page.get_by_role("button", name="← Previous")).to_be_disabled()


async def test_close_cancel_and_resolve(api: Api, page: Any, live_server: Server) -> None:
    admin, markets = await admin_and_markets(api, "To be closed", "To be cancelled", "To resolve YES", "To resolve NO")
    await sign_in(page, live_server, admin)

    await row(page, "To be closed").get_by_role("button", name="Close “To be closed”").click()
    await confirm(page, "Close market")
    await expect(page.locator(".notice-success .notice-body")).to_have_text("Closed “To be closed”.")
    await expect(row(page, "To be closed")).to_contain_text("CLOSED")

    await row(page, "To be cancelled").get_by_role("button", name="Cancel “To be cancelled”").click()
    await confirm(page, "Cancel market")
    await expect(row(page, "To be cancelled")).to_contain_text("CANCELLED")

    await row(page, "To resolve YES").get_by_role("button", name="Resolve “To resolve YES”").click()
    await confirm(page, "Resolve YES")
    await expect(row(page, "To resolve YES")).to_contain_text("RESOLVED (YES)")

    await row(page, "To resolve NO").get_by_role("button", name="Resolve “To resolve NO”").click()
    await confirm(page, "Resolve NO")
    await expect(page.locator(".notice-success .notice-body")).to_have_text("Resolved “To resolve NO” as NO.")

    async def state(name: str) -> dict[str, Any]:
        return (await live_server.data(MARKET, {"id": markets[name]["id"]}))["market"]

    assert await state("To be closed") == {"status": "CLOSED", "resolvedOutcome": None}
    assert await state("To be cancelled") == {"status": "CANCELLED", "resolvedOutcome": None}
    assert await state("To resolve YES") == {"status": "RESOLVED", "resolvedOutcome": "YES"}
    assert await state("To resolve NO") == {"status": "RESOLVED", "resolvedOutcome": "NO"}


async def test_delete_asks_first(api: Api, page: Any, live_server: Server) -> None:
    admin, markets = await admin_and_markets(api, "Doomed market", "Survivor market")
    await sign_in(page, live_server, admin)
    delete = row(page, "Doomed market").get_by_role("button", name="Delete “Doomed market”")

    await delete.click()
    await expect(page.get_by_role("dialog")).to_contain_text("cannot be undone")
    await confirm(page, "Keep it")
    assert (await live_server.data(MARKET, {"id": markets["Doomed market"]["id"]}))["market"] is not None

    await delete.click()
    await confirm(page, "Delete market")
    await expect(page.locator(".notice-success .notice-body")).to_have_text("Deleted “Doomed market”.")
    await expect(row(page, "Doomed market")).to_have_count(0)
    await expect(page.locator(".summary")).to_have_text("1 market · page 1")
    assert (await live_server.data(MARKET, {"id": markets["Doomed market"]["id"]}))["market"] is None
    assert (await live_server.data(MARKET, {"id": markets["Survivor market"]["id"]}))["market"] is not None


async def test_find_users_and_change_a_role(api: Api, page: Any, live_server: Server) -> None:
    admin = await api.make_user(Role.ADMIN, name="Ada Admin")
    moderator = await api.make_user(Role.MODERATOR, name="Mo Derator")
    user = await api.make_user(Role.USER, name="Uma User")
    await sign_in(page, live_server, admin)
    await page.get_by_role("link", name="Users").click()
    await expect(page.get_by_role("heading", name="Users", level=1)).to_be_visible()
    listed = page.locator(".results").last

    await expect(listed.locator(".summary")).to_have_text("3 users · page 1")
    await expect(row(listed, "Uma User")).to_contain_text(user.user.email)

    await page.get_by_label("Role", exact=True).select_option("MODERATOR")
    await page.get_by_role("button", name="List users").click()
    await expect(listed.locator(".summary")).to_have_text("1 user · page 1")
    await expect(row(listed, "Mo Derator")).to_be_visible()

    await page.get_by_label("User id").fill(user.id)
    await page.get_by_role("button", name="Find user").click()
    found = page.locator(".results").first
    await expect(row(found, "Uma User")).to_contain_text("USER")

    await row(found, "Uma User").get_by_label("New role for Uma User").select_option("MODERATOR")
    await row(found, "Uma User").get_by_role("button", name="Change the role of Uma User").click()
    await confirm(page, "Make MODERATOR")
    await expect(page.locator(".notice-success .notice-body")).to_have_text("Uma User is now MODERATOR.")
    await expect(row(found, "Uma User")).to_contain_text("MODERATOR")
    # The list (moderators) is drawn again from the API and now has her too.
    await expect(listed.locator(".summary")).to_have_text("2 users · page 1")

    role = await live_server.data("query($id: ID!) { user(id: $id) { role } }", {"id": user.id})
    assert role == {"user": {"role": "MODERATOR"}}
    moderators = await live_server.data("{ users(role: MODERATOR) { edges { node { id } } } }", token=admin.token)
    assert {e["node"]["id"] for e in moderators["users"]["edges"]} == {moderator.id, user.id}


async def test_an_unknown_id_finds_nobody(api: Api, page: Any, live_server: Server) -> None:
    admin = await api.make_user(Role.ADMIN)
    await sign_in(page, live_server, admin)
    await page.get_by_role("link", name="Users").click()
    await page.get_by_label("User id").fill(ids.encode("User", 999_999))
    await page.get_by_role("button", name="Find user").click()
    await expect(page.locator(".results").first).to_contain_text("No user has the id")


async def test_a_user_sees_the_actions_refused(api: Api, page: Any, live_server: Server) -> None:
    user = await api.make_user(Role.USER, name="Uma User")
    market = await api.make_market(user, name="Uma's own market")
    await sign_in(page, live_server, user)
    await expect(page.locator(".notice-info")).to_contain_text("Your role is USER")

    await row(page, "Uma's own market").get_by_role("button", name="Close “Uma's own market”").click()
    await confirm(page, "Close market")
    error = page.locator(".notice-error").first
    await expect(error).to_contain_text("Could not close “Uma's own market”")
    await expect(error.locator(".code")).to_have_text("FORBIDDEN")
    await expect(error).to_contain_text("Only moderators and admins can change a market's status")

    await row(page, "Uma's own market").get_by_role("button", name="Resolve “Uma's own market”").click()
    await confirm(page, "Resolve YES")
    await expect(page.locator(".notice-error").first.locator(".code")).to_have_text("FORBIDDEN")

    await row(page, "Uma's own market").get_by_role("button", name="Delete “Uma's own market”").click()
    await confirm(page, "Delete market")
    await expect(page.locator(".notice-error").first).to_contain_text("Could not delete “Uma's own market”")
    await expect(page.locator(".notice-error").first.locator(".code")).to_have_text("FORBIDDEN")
    await expect(row(page, "Uma's own market")).to_contain_text("ACTIVE")  # drawn again from the API

    await page.get_by_role("link", name="Users").click()
    refused = page.locator(".inline-error")
    await expect(refused).to_contain_text("Could not list users")
    await expect(refused.locator(".code")).to_have_text("FORBIDDEN")

    assert (await live_server.data(MARKET, {"id": market["id"]}))["market"] == {"status": "ACTIVE",
                                                                              "resolvedOutcome": None}


async def test_a_wrong_password_shows_the_apis_message(api: Api, page: Any, live_server: Server) -> None:
    admin = await api.make_user(Role.ADMIN)
    await page.goto(live_server.url + "/admin")
    await page.get_by_label("Email").fill(admin.user.email)
    await page.get_by_label("Password").fill("not the password")
    await page.get_by_role("button", name="Sign in").click()
    error = page.locator(".notice-error")
    await expect(error.locator(".code")).to_have_text("UNAUTHENTICATED")
    await expect(error).to_contain_text("Could not sign in")
    await expect(page.get_by_role("button", name="Sign in")).to_be_enabled()


async def test_a_stale_token_goes_back_to_sign_in(api: Api, page: Any, live_server: Server) -> None:
    await page.goto(live_server.url + "/admin")
    await page.evaluate("""sessionStorage.setItem("markets.admin.session",
        JSON.stringify({token: "not-a-token", user: {name: "Ghost", role: "ADMIN"}}))""")
    await page.reload()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await expect(page.locator(".notice-info")).to_contain_text("Your session has ended")


async def test_an_unreachable_api_is_reported(api: Api, page: Any, live_server: Server) -> None:
    admin = await api.make_user(Role.ADMIN)
    await sign_in(page, live_server, admin)
    await expect(page.locator(".summary")).to_have_text("0 markets")
    # The server goes away (as seen from the page): every call to /graphql fails at the network.
    await page.route("**/graphql", lambda route: route.abort("connectionrefused"))
    await page.get_by_role("button", name="Apply filters").click()
    refused = page.locator(".inline-error")
    await expect(refused.locator(".code")).to_have_text("NETWORK_ERROR")
    await expect(refused).to_contain_text("The API could not be reached")
    await page.unroute("**/graphql")
    await refused.get_by_role("button", name="Try again").click()
    await expect(page.locator(".summary")).to_have_text("0 markets")


async def test_rate_limited_sign_in_shows_the_wait(api: Api, chromium: Any, test_database_url: str) -> None:
    """A server of its own with the real sign-in limit: the console shows RATE_LIMITED and the wait."""
    admin = await api.make_user(Role.ADMIN)
    with serve(test_database_url, AUTH_RATE_LIMIT_PER_MINUTE="1") as limited:
        context, tab, watch = await open_page(chromium)
        try:
            await tab.goto(limited.url + "/admin")
            await tab.get_by_label("Email").fill(admin.user.email)
            for _ in range(2):
                await tab.get_by_label("Password").fill("wrong password")
                await tab.get_by_role("button", name="Sign in").click()
                await expect(tab.get_by_role("button", name="Sign in")).to_be_enabled()
            error = tab.locator(".notice-error").first
            await expect(error.locator(".code")).to_have_text("RATE_LIMITED")
            await expect(error).to_contain_text("Try again in")
            watch.check()
        finally:
            await context.close()


BALANCE = "query($id: ID!) { user(id: $id) { balance transactions(first: 1) { edges { node { kind amount note } } } } }"


async def balance_of(server: Server, member: Member, admin: Member) -> Decimal:
    return Decimal((await server.data(BALANCE, {"id": member.id}, token=admin.token))["user"]["balance"])


async def open_editor(page: Any, scope: Any, name: str) -> Any:
    """Show the balance form under `name`'s row (inside `scope`) and return it."""
    await row(scope, name).get_by_role("button", name=f"Adjust the balance of {name}").click()
    form = scope.get_by_role("form", name=f"Adjust the balance of {name}")
    await expect(form).to_be_visible()
    return form


async def submit(form: Any, name: str, amount: str, note: str | None = None) -> None:
    """Type an amount (and a note) into `name`'s balance form and send it to the confirmation."""
    await form.get_by_label(f"Amount for {name}").fill(amount)
    if note is not None:
        await form.get_by_label(f"Note for {name}").fill(note)
    await form.get_by_role("button", name="Adjust balance").click()


async def admin_on_users(api: Api, page: Any, server: Server) -> tuple[Member, Member, Decimal, Any]:
    """An admin on the users page, Uma listed there: (admin, Uma, her balance, the list)."""
    admin = await api.make_user(Role.ADMIN, name="Ada Admin")
    user = await api.make_user(Role.USER, name="Uma User")
    before = await balance_of(server, user, admin)
    await sign_in(page, server, admin)
    await page.get_by_role("link", name="Users").click()
    listed = page.locator(".results").last
    await expect(row(listed, "Uma User").locator("td.balance")).to_have_text(f"{before:.2f}")
    return admin, user, before, listed


async def test_an_admin_sees_balances_and_adjusts_one(api: Api, page: Any, live_server: Server) -> None:
    admin, user, before, listed = await admin_on_users(api, page, live_server)

    # Asked first: "Keep it" changes nothing.
    form = await open_editor(page, listed, "Uma User")
    await submit(form, "Uma User", "25.50", "Prize for the spring quiz")
    await expect(page.get_by_role("dialog")).to_contain_text("25.50 will be credited to the balance of Uma User")
    await confirm(page, "Keep it")
    assert await balance_of(live_server, user, admin) == before

    await form.get_by_role("button", name="Adjust balance").click()
    await confirm(page, "Credit balance")
    after = before + Decimal("25.50")
    await expect(page.locator(".notice-success .notice-body")).to_have_text(
        f"The balance of Uma User is now {after:.2f}.")
    await expect(row(listed, "Uma User").locator("td.balance")).to_have_text(f"{after:.2f}")

    # A debit, from the user found by id, asks with the danger button.
    await page.get_by_label("User id").fill(user.id)
    await page.get_by_role("button", name="Find user").click()
    found = page.locator(".results").first
    form = await open_editor(page, found, "Uma User")
    await submit(form, "Uma User", "-5", "Correction")
    await expect(page.get_by_role("dialog")).to_contain_text("5 will be debited from the balance of Uma User")
    await confirm(page, "Debit balance")
    final = after - Decimal("5")
    await expect(row(found, "Uma User").locator("td.balance")).to_have_text(f"{final:.2f}")

    data = await live_server.data(BALANCE, {"id": user.id}, token=admin.token)
    assert data["user"]["balance"] == f"{final:.2f}"
    assert data["user"]["transactions"]["edges"][0]["node"] == {
        "kind": "ADJUSTMENT", "amount": "-5.00", "note": "Correction"}


async def test_a_refused_adjustment_shows_the_code_and_moves_nothing(
    api: Api, page: Any, live_server: Server
) -> None:
    admin, user, before, listed = await admin_on_users(api, page, live_server)
    form = await open_editor(page, listed, "Uma User")

    # Three decimal places: BAD_USER_INPUT naming the field.
    await submit(form, "Uma User", "1.005", "Too precise")
    await confirm(page, "Credit balance")
    error = page.locator(".notice-error").first
    await expect(error).to_contain_text("Could not adjust the balance of Uma User")
    await expect(error.locator(".code")).to_have_text("BAD_USER_INPUT")
    await expect(error.locator(".fields code")).to_have_text("amount")
    # The form keeps what was typed, to be corrected.
    await expect(form.get_by_label("Amount for Uma User")).to_have_value("1.005")

    # A debit past the balance: CONFLICT.
    await submit(form, "Uma User", f"-{before + 1:.2f}")
    await confirm(page, "Debit balance")
    await expect(page.locator(".notice-error").first.locator(".code")).to_have_text("CONFLICT")

    assert await balance_of(live_server, user, admin) == before
    await expect(row(listed, "Uma User").locator("td.balance")).to_have_text(f"{before:.2f}")


async def test_a_user_sees_their_own_balance_and_the_adjustment_refused(
    api: Api, page: Any, live_server: Server
) -> None:
    admin = await api.make_user(Role.ADMIN, name="Ada Admin")
    user = await api.make_user(Role.USER, name="Uma User")
    other = await api.make_user(Role.USER, name="Otto Other")
    before = await balance_of(live_server, user, admin)
    await sign_in(page, live_server, user)
    await page.get_by_role("link", name="Users").click()
    found = page.locator(".results").first

    await page.get_by_label("User id").fill(other.id)
    await page.get_by_role("button", name="Find user").click()
    await expect(row(found, "Otto Other").locator("td.balance")).to_have_text("hidden")

    await page.get_by_label("User id").fill(user.id)
    await page.get_by_role("button", name="Find user").click()
    await expect(row(found, "Uma User").locator("td.balance")).to_have_text(f"{before:.2f}")
    form = await open_editor(page, found, "Uma User")
    await submit(form, "Uma User", "1000", "Please")
    await confirm(page, "Credit balance")
    await expect(page.locator(".notice-error").first.locator(".code")).to_have_text("FORBIDDEN")
    assert await balance_of(live_server, user, admin) == before


async def test_markets_show_the_market_makers_probability(api: Api, page: Any, live_server: Server) -> None:
    admin, markets = await admin_and_markets(api, "Untouched market", "Traded market")
    bought = await live_server.data(
        'mutation($id: ID!) { openPosition(input: {marketId: $id, outcome: YES, amount: "40"}) '
        "{ market { probability } } }", {"id": markets["Traded market"]["id"]}, token=admin.token)
    probability = bought["openPosition"]["market"]["probability"]
    assert probability > 0.5
    await sign_in(page, live_server, admin)

    await expect(row(page, "Untouched market").locator("td.probability")).to_have_text("50.0%")
    await expect(row(page, "Traded market").locator("td.probability")).to_have_text(f"{probability * 100:.1f}%")
