"""The contract's role × operation table, row by row, for anonymous, USER (owner and not), MODERATOR and ADMIN."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.roles import Role
from tests.conftest import Api, Member

ANONYMOUS, OWNER, OTHER, MODERATOR, ADMIN = "anonymous", "owner", "other", "moderator", "admin"
# One viewer per column of the contract's table; the USER column is played by the owner of what is touched.
VIEWERS = (ANONYMOUS, OWNER, MODERATOR, ADMIN)
ACTORS = (ANONYMOUS, OWNER, OTHER, MODERATOR, ADMIN)
OK = "ok"
# Rows of the contract's table: (viewer, what it gets).
SIGNED_IN = [(ANONYMOUS, "UNAUTHENTICATED"), (OWNER, OK), (MODERATOR, OK), (ADMIN, OK)]
ADMINS_ONLY = [(ANONYMOUS, "UNAUTHENTICATED"), (OWNER, "FORBIDDEN"), (MODERATOR, "FORBIDDEN"), (ADMIN, OK)]

MARKET_FIELDS = "id name description endDate status resolvedOutcome"
MARKET = f"query($id: ID!) {{ market(id: $id) {{ {MARKET_FIELDS} }} }}"
UPDATE = (
    f"mutation($id: ID!, $input: UpdateMarketInput!) {{ updateMarket(id: $id, input: $input) {{ {MARKET_FIELDS} }} }}"
)
DELETE = "mutation($id: ID!) { deleteMarket(id: $id) }"
RESOLVE = f"mutation($id: ID!) {{ resolveMarket(id: $id, outcome: YES) {{ {MARKET_FIELDS} }} }}"
SET_ROLE = "mutation($id: ID!, $role: Role!) { setUserRole(userId: $id, role: $role) { id role } }"
USER_ROLE = "query($id: ID!) { user(id: $id) { role } }"
USERS = "{ users { totalCount edges { node { id email } } } }"
CREATE = "mutation($input: CreateMarketInput!) { createMarket(input: $input) { id name creator { id } } }"
OPEN = """mutation($input: OpenPositionInput!) {
  openPosition(input: $input) { id amount user { id } market { id volume } }
}"""
PASSWORD = "correct horse battery"


@dataclass
class Cast:
    """Two plain users (the owner of the market under test and someone else), a moderator and an admin."""

    owner: Member
    other: Member
    moderator: Member
    admin: Member
    market: dict[str, Any]

    def member(self, actor: str) -> Member:
        member: Member = getattr(self, actor)
        return member

    def token(self, actor: str) -> str | None:
        return None if actor == ANONYMOUS else self.member(actor).token

    def id(self, actor: str) -> str | None:
        return None if actor == ANONYMOUS else self.member(actor).id


@pytest.fixture
async def cast(api: Api) -> Cast:
    owner = await api.make_user(Role.USER, name="Owner")
    other = await api.make_user(Role.USER, name="Other")
    moderator = await api.make_user(Role.MODERATOR, name="Moderator")
    admin = await api.make_user(Role.ADMIN, name="Admin")
    market = await api.make_market(owner, name="Will it rain in Lisbon?", description="Owner's market")
    return Cast(owner=owner, other=other, moderator=moderator, admin=admin, market=market)


async def attempt(
    api: Api, query: str, variables: dict[str, Any] | None, token: str | None, field: str
) -> tuple[str, dict[str, Any]]:
    """("ok", body) when `field` resolved to a value without errors; else (the code of its one error, body),
    asserting the field is null."""
    body: dict[str, Any] = await api.gql(query, variables, token=token)
    if "errors" not in body:
        assert body["data"][field] is not None, body
        return OK, body
    assert len(body["errors"]) == 1, body
    (error,) = body["errors"]
    assert error["path"] == [field], body
    assert error["message"], body
    assert (body.get("data") or {}).get(field) is None, body
    return error["extensions"]["code"], body


async def outcome(api: Api, query: str, variables: dict[str, Any] | None, token: str | None, field: str) -> str:
    return (await attempt(api, query, variables, token, field))[0]


async def read_market(api: Api, cast: Cast) -> Any:
    return (await api.data(MARKET, {"id": cast.market["id"]}, token=cast.admin.token))["market"]


async def role_of(api: Api, cast: Cast, member: Member) -> str:
    data = await api.data(USER_ROLE, {"id": member.id}, token=cast.admin.token)
    role: str = data["user"]["role"]
    return role


def future(days: int = 30) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0).isoformat()


# --- reads open to everyone ------------------------------------------------------------------------------------


def open_reads(cast: Cast) -> dict[str, tuple[str, dict[str, Any], Any]]:
    """Each open read: its query, its variables and the exact data everyone must get."""
    market_id, owner_id = cast.market["id"], cast.owner.id
    market = {"id": market_id, "name": "Will it rain in Lisbon?"}
    return {
        "markets": ("{ markets { totalCount edges { node { id name } } } }", {},
                    {"markets": {"totalCount": 1, "edges": [{"node": market}]}}),
        "market": ("query($id: ID!) { market(id: $id) { id name } }", {"id": market_id}, {"market": market}),
        "searchMarkets": ('{ searchMarkets(query: "Lisbon") { market { id name } } }', {},
                          {"searchMarkets": [{"market": market}]}),
        "user": ("query($id: ID!) { user(id: $id) { id name role } }", {"id": owner_id},
                 {"user": {"id": owner_id, "name": "Owner", "role": "USER"}}),
        "node": ("query($id: ID!) { node(id: $id) { id ... on Market { name } } }", {"id": market_id},
                 {"node": market}),
        "nodes": ("query($ids: [ID!]!) { nodes(ids: $ids) { id ... on User { name } } }",
                  {"ids": [market_id, owner_id]}, {"nodes": [{"id": market_id}, {"id": owner_id, "name": "Owner"}]}),
    }


@pytest.mark.parametrize("viewer", VIEWERS)
@pytest.mark.parametrize("read", ["markets", "market", "searchMarkets", "user", "node", "nodes"])
async def test_reads_are_open_to_everyone(api: Api, cast: Cast, viewer: str, read: str) -> None:
    query, variables, expected = open_reads(cast)[read]
    await api.run_jobs()  # the market's indexing, for searchMarkets
    assert await api.data(query, variables, token=cast.token(viewer)) == expected


@pytest.mark.parametrize("viewer", VIEWERS)
async def test_me_needs_a_viewer(api: Api, cast: Cast, viewer: str) -> None:
    expected = "UNAUTHENTICATED" if viewer == ANONYMOUS else OK
    assert await outcome(api, "{ me { id } }", None, cast.token(viewer), "me") == expected
    if expected == OK:
        assert await api.data("{ me { id } }", token=cast.token(viewer)) == {"me": {"id": cast.id(viewer)}}


@pytest.mark.parametrize(("viewer", "expected"), ADMINS_ONLY)
async def test_users_is_for_admins(api: Api, cast: Cast, viewer: str, expected: str) -> None:
    assert await outcome(api, USERS, None, cast.token(viewer), "users") == expected
    if expected == OK:
        listed = (await api.data(USERS, token=cast.token(viewer)))["users"]
        assert listed["totalCount"] == 4
        # Newest first, every email visible to an admin.
        everyone = [cast.admin, cast.moderator, cast.other, cast.owner]
        assert [edge["node"] for edge in listed["edges"]] == [{"id": m.id, "email": m.user.email} for m in everyone]


# --- fields that resolve to null for the wrong viewer ----------------------------------------------------------

EMAIL_PATHS = {
    "user": ("query($id: ID!) { user(id: $id) { email } }", lambda data: data["user"]["email"]),
    "node": ("query($id: ID!) { node(id: $id) { ... on User { email } } }", lambda data: data["node"]["email"]),
    "nodes": ("query($id: ID!) { nodes(ids: [$id]) { ... on User { email } } }",
              lambda data: data["nodes"][0]["email"]),
}

# (viewer, whose email) → visible?
EMAIL_VISIBLE = {
    (ANONYMOUS, OWNER): False, (ANONYMOUS, ADMIN): False,
    (OWNER, OWNER): True, (OWNER, OTHER): False, (OWNER, MODERATOR): False, (OWNER, ADMIN): False,
    (MODERATOR, MODERATOR): True, (MODERATOR, OWNER): False, (MODERATOR, ADMIN): False,
    (ADMIN, ADMIN): True, (ADMIN, OWNER): True, (ADMIN, MODERATOR): True,
}


@pytest.mark.parametrize("path", list(EMAIL_PATHS))
@pytest.mark.parametrize(("viewer", "target"), list(EMAIL_VISIBLE))
async def test_user_email_is_for_the_user_themself_and_admins(
    api: Api, cast: Cast, path: str, viewer: str, target: str
) -> None:
    query, pick = EMAIL_PATHS[path]
    data = await api.data(query, {"id": cast.id(target)}, token=cast.token(viewer))  # null comes with no error
    expected = cast.member(target).user.email if EMAIL_VISIBLE[(viewer, target)] else None
    assert pick(data) == expected


@pytest.mark.parametrize("viewer", VIEWERS)
async def test_creator_emails_follow_the_same_rule(api: Api, cast: Cast, viewer: str) -> None:
    await api.make_market(cast.moderator, name="A moderator's market")
    data = await api.data("{ markets { edges { node { creator { id email } } } } }", token=cast.token(viewer))
    seen = {edge["node"]["creator"]["id"]: edge["node"]["creator"]["email"] for edge in data["markets"]["edges"]}
    expected = {
        member.id: member.user.email if EMAIL_VISIBLE.get((viewer, actor), viewer == ADMIN) else None
        for actor, member in ((OWNER, cast.owner), (MODERATOR, cast.moderator))
    }
    assert seen == expected


@pytest.mark.parametrize("viewer", [OWNER, OTHER, MODERATOR, ADMIN])
async def test_me_shows_the_viewer_their_own_email_and_positions(api: Api, cast: Cast, viewer: str) -> None:
    data = await api.data("{ me { email positions { totalCount } } }", token=cast.token(viewer))
    assert data == {"me": {"email": cast.member(viewer).user.email, "positions": {"totalCount": 0}}}


async def open_positions(api: Api, cast: Cast) -> list[str]:
    """The owner then the other user open a position on the market; their ids, oldest first."""
    opened = []
    for member, amount in ((cast.owner, "10"), (cast.other, "5.5")):
        data = await api.data(OPEN, {"input": {"marketId": cast.market["id"], "outcome": "YES", "amount": amount}},
                              token=member.token)
        opened.append(data["openPosition"]["id"])
    return opened


POSITIONS_VISIBLE = {ANONYMOUS: False, OWNER: True, OTHER: False, MODERATOR: True, ADMIN: True}


@pytest.mark.parametrize("viewer", ACTORS)
async def test_user_positions_are_for_the_user_themself_moderators_and_admins(
    api: Api, cast: Cast, viewer: str
) -> None:
    owner_position, _ = await open_positions(api, cast)
    data = await api.data(
        "query($id: ID!) { user(id: $id) { positions { totalCount edges { node { id amount } } } } }",
        {"id": cast.owner.id}, token=cast.token(viewer),
    )
    expected = {"totalCount": 1, "edges": [{"node": {"id": owner_position, "amount": "10.00"}}]}
    assert data["user"]["positions"] == (expected if POSITIONS_VISIBLE[viewer] else None)


# viewer → the holders it sees on the market's positions, newest first (the other user's, then the owner's).
HOLDERS_SEEN = {
    ANONYMOUS: (None, None),
    OWNER: (None, OWNER),
    OTHER: (OTHER, None),
    MODERATOR: (OTHER, OWNER),
    ADMIN: (OTHER, OWNER),
}


@pytest.mark.parametrize("viewer", ACTORS)
async def test_position_user_is_for_the_holder_moderators_and_admins(api: Api, cast: Cast, viewer: str) -> None:
    owner_position, other_position = await open_positions(api, cast)
    data = await api.data(
        "query($id: ID!) { market(id: $id) { positions { edges { node { id user { id } } } } } }",
        {"id": cast.market["id"]}, token=cast.token(viewer),
    )
    seen = [(edge["node"]["id"], edge["node"]["user"]) for edge in data["market"]["positions"]["edges"]]
    holders = [None if actor is None else {"id": cast.id(actor)} for actor in HOLDERS_SEEN[viewer]]
    assert seen == list(zip([other_position, owner_position], holders, strict=True))

    via_node = await api.data(
        "query($id: ID!) { node(id: $id) { ... on Position { user { id } } } }", {"id": owner_position},
        token=cast.token(viewer),
    )
    assert via_node["node"]["user"] == ({"id": cast.owner.id} if POSITIONS_VISIBLE[viewer] else None)


# --- writes any signed-in user may make ------------------------------------------------------------------------


@pytest.mark.parametrize(("viewer", "expected"), SIGNED_IN)
async def test_create_market_needs_a_viewer(api: Api, cast: Cast, viewer: str, expected: str) -> None:
    variables = {"input": {"name": "A brand new market"}}
    result, body = await attempt(api, CREATE, variables, cast.token(viewer), "createMarket")
    assert result == expected
    total = (await api.data("{ markets { totalCount } }"))["markets"]["totalCount"]
    if expected == OK:
        assert body["data"]["createMarket"]["creator"] == {"id": cast.id(viewer)}
        assert total == 2
    else:
        assert total == 1


@pytest.mark.parametrize(("viewer", "expected"), SIGNED_IN)
async def test_open_position_needs_a_viewer(api: Api, cast: Cast, viewer: str, expected: str) -> None:
    variables = {"input": {"marketId": cast.market["id"], "outcome": "NO", "amount": "7.25"}}
    assert await outcome(api, OPEN, variables, cast.token(viewer), "openPosition") == expected
    market = (await api.data("query($id: ID!) { market(id: $id) { volume positions { totalCount } } }",
                             {"id": cast.market["id"]}))["market"]
    assert market == ({"volume": "7.25", "positions": {"totalCount": 1}} if expected == OK
                      else {"volume": "0.00", "positions": {"totalCount": 0}})


async def test_open_position_returns_the_holder_to_the_holder(api: Api, cast: Cast) -> None:
    variables = {"input": {"marketId": cast.market["id"], "outcome": "YES", "amount": 3}}
    data = await api.data(OPEN, variables, token=cast.other.token)
    assert data["openPosition"]["user"] == {"id": cast.other.id}
    assert data["openPosition"]["market"] == {"id": cast.market["id"], "volume": "3.00"}


# --- updateMarket ----------------------------------------------------------------------------------------------

TEXT_EDITS = {
    "name": lambda: "A renamed market",
    "description": lambda: "A rewritten description",
    "endDate": future,
}
TEXT_EDITORS = {ANONYMOUS: "UNAUTHENTICATED", OWNER: OK, OTHER: "FORBIDDEN", MODERATOR: OK, ADMIN: OK}


def same_value(field: str, stored: Any, sent: Any) -> bool:
    if field == "endDate":
        return stored is not None and datetime.fromisoformat(stored) == datetime.fromisoformat(sent)
    return bool(stored == sent)


@pytest.mark.parametrize("field", list(TEXT_EDITS))
@pytest.mark.parametrize(("actor", "expected"), list(TEXT_EDITORS.items()))
async def test_update_market_text_and_end_date_for_owners_moderators_and_admins(
    api: Api, cast: Cast, field: str, actor: str, expected: str
) -> None:
    before = await read_market(api, cast)
    value = TEXT_EDITS[field]()
    variables = {"id": cast.market["id"], "input": {field: value}}
    assert await outcome(api, UPDATE, variables, cast.token(actor), "updateMarket") == expected
    after = await read_market(api, cast)
    if expected == OK:
        assert same_value(field, after[field], value)
        assert {k: v for k, v in after.items() if k != field} == {k: v for k, v in before.items() if k != field}
    else:
        assert after == before


STATUS_ATTEMPTS = [
    pytest.param({"status": "CLOSED"}, id="CLOSED"),
    pytest.param({"status": "CANCELLED"}, id="CANCELLED"),
    pytest.param({"status": "ACTIVE"}, id="ACTIVE-unchanged"),
    pytest.param({"status": "RESOLVED"}, id="RESOLVED"),
    pytest.param({"status": "CLOSED", "name": "x"}, id="with-an-invalid-name"),
    pytest.param({"status": "RESOLVED", "name": "  ", "endDate": "2000-01-01T00:00:00Z"}, id="with-every-input-bad"),
    pytest.param({"status": "CANCELLED", "name": "A valid new name"}, id="with-a-valid-name"),
]


@pytest.mark.parametrize("attempt", STATUS_ATTEMPTS)
@pytest.mark.parametrize(("actor", "expected"), [(ANONYMOUS, "UNAUTHENTICATED"), (OWNER, "FORBIDDEN"),
                                                 (OTHER, "FORBIDDEN")])
async def test_update_market_status_is_refused_to_users_before_any_validation(
    api: Api, cast: Cast, attempt: dict[str, Any], actor: str, expected: str
) -> None:
    before = await read_market(api, cast)
    variables = {"id": cast.market["id"], "input": attempt}
    assert await outcome(api, UPDATE, variables, cast.token(actor), "updateMarket") == expected
    assert await read_market(api, cast) == before


@pytest.mark.parametrize("status", ["CLOSED", "CANCELLED"])
@pytest.mark.parametrize("actor", [MODERATOR, ADMIN])
async def test_moderators_and_admins_set_the_status_of_anyones_market(
    api: Api, cast: Cast, status: str, actor: str
) -> None:
    variables = {"id": cast.market["id"], "input": {"status": status}}
    data = await api.data(UPDATE, variables, token=cast.token(actor))
    assert data["updateMarket"]["status"] == status
    assert (await read_market(api, cast))["status"] == status


@pytest.mark.parametrize("actor", [MODERATOR, ADMIN])
async def test_status_resolved_through_update_market_is_bad_input(api: Api, cast: Cast, actor: str) -> None:
    before = await read_market(api, cast)
    variables = {"id": cast.market["id"], "input": {"status": "RESOLVED"}}
    result, body = await attempt(api, UPDATE, variables, cast.token(actor), "updateMarket")
    assert result == "BAD_USER_INPUT"
    assert set(body["errors"][0]["extensions"]["fields"]) == {"input.status"}
    assert await read_market(api, cast) == before


@pytest.mark.parametrize(("actor", "expected"), [(OWNER, "BAD_USER_INPUT"), (OTHER, "FORBIDDEN"),
                                                 (ANONYMOUS, "UNAUTHENTICATED"), (MODERATOR, "BAD_USER_INPUT")])
async def test_an_invalid_name_is_judged_only_once_the_viewer_may_edit(
    api: Api, cast: Cast, actor: str, expected: str
) -> None:
    variables = {"id": cast.market["id"], "input": {"name": "x"}}
    result, body = await attempt(api, UPDATE, variables, cast.token(actor), "updateMarket")
    assert result == expected
    if expected == "BAD_USER_INPUT":
        assert set(body["errors"][0]["extensions"]["fields"]) == {"input.name"}


# --- deleteMarket, resolveMarket -------------------------------------------------------------------------------

MODERATION = [(ANONYMOUS, "UNAUTHENTICATED"), (OWNER, "FORBIDDEN"), (OTHER, "FORBIDDEN"), (MODERATOR, OK), (ADMIN, OK)]


@pytest.mark.parametrize(("actor", "expected"), MODERATION)
async def test_delete_market_is_for_moderators_and_admins(api: Api, cast: Cast, actor: str, expected: str) -> None:
    assert await outcome(api, DELETE, {"id": cast.market["id"]}, cast.token(actor), "deleteMarket") == expected
    remaining = await api.data(MARKET, {"id": cast.market["id"]})
    assert remaining["market"] is None if expected == OK else remaining["market"]["id"] == cast.market["id"]


async def test_delete_market_returns_the_deleted_id(api: Api, cast: Cast) -> None:
    assert await api.data(DELETE, {"id": cast.market["id"]}, token=cast.moderator.token) == {
        "deleteMarket": cast.market["id"]
    }


@pytest.mark.parametrize(("actor", "expected"), MODERATION)
async def test_resolve_market_is_for_moderators_and_admins(api: Api, cast: Cast, actor: str, expected: str) -> None:
    assert await outcome(api, RESOLVE, {"id": cast.market["id"]}, cast.token(actor), "resolveMarket") == expected
    market = await read_market(api, cast)
    resolved = {"status": market["status"], "resolvedOutcome": market["resolvedOutcome"]}
    assert resolved == ({"status": "RESOLVED", "resolvedOutcome": "YES"} if expected == OK
                        else {"status": "ACTIVE", "resolvedOutcome": None})


# --- setUserRole -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("actor", "expected"), ADMINS_ONLY)
async def test_set_user_role_is_for_admins(api: Api, cast: Cast, actor: str, expected: str) -> None:
    variables = {"id": cast.other.id, "role": "MODERATOR"}
    assert await outcome(api, SET_ROLE, variables, cast.token(actor), "setUserRole") == expected
    assert await role_of(api, cast, cast.other) == ("MODERATOR" if expected == OK else "USER")


@pytest.mark.parametrize(("actor", "role"), [(OWNER, "MODERATOR"), (OWNER, "ADMIN"), (MODERATOR, "ADMIN")])
async def test_nobody_but_an_admin_promotes_themself(api: Api, cast: Cast, actor: str, role: str) -> None:
    member = cast.member(actor)
    variables = {"id": member.id, "role": role}
    assert await outcome(api, SET_ROLE, variables, member.token, "setUserRole") == "FORBIDDEN"
    assert await role_of(api, cast, member) == member.user.role.value


@pytest.mark.parametrize("role", ["MODERATOR", "USER"])
async def test_an_admin_cannot_lower_their_own_role(api: Api, cast: Cast, role: str) -> None:
    variables = {"id": cast.admin.id, "role": role}
    assert await outcome(api, SET_ROLE, variables, cast.admin.token, "setUserRole") == "FORBIDDEN"
    assert await role_of(api, cast, cast.admin) == "ADMIN"
    assert await outcome(api, USERS, None, cast.admin.token, "users") == OK


async def test_an_admin_may_set_their_own_role_to_admin_and_lower_another_admin(api: Api, cast: Cast) -> None:
    same = await api.data(SET_ROLE, {"id": cast.admin.id, "role": "ADMIN"}, token=cast.admin.token)
    assert same == {"setUserRole": {"id": cast.admin.id, "role": "ADMIN"}}
    second = await api.make_user(Role.ADMIN)
    lowered = await api.data(SET_ROLE, {"id": second.id, "role": "USER"}, token=cast.admin.token)
    assert lowered == {"setUserRole": {"id": second.id, "role": "USER"}}


# --- AuthPayload -----------------------------------------------------------------------------------------------

PAYLOAD_USER = "user { id email positions { totalCount } }"


@pytest.mark.parametrize("viewer", [ANONYMOUS, OTHER, ADMIN])
async def test_the_auth_payload_shows_the_user_their_email(api: Api, cast: Cast, viewer: str) -> None:
    """Whoever sends the request, the payload's user is the one who just proved who they are."""
    signed_up = await api.data(
        f"mutation {{ signUp(email: \"New.Comer@Example.com\", name: \"New\", password: \"{PASSWORD}\") "
        f"{{ {PAYLOAD_USER} }} }}",
        token=cast.token(viewer),
    )
    assert signed_up["signUp"]["user"]["email"] == "new.comer@example.com"
    assert signed_up["signUp"]["user"]["positions"] == {"totalCount": 0}

    logged_in = await api.data(
        f"mutation {{ login(email: \"NEW.COMER@example.com\", password: \"{PASSWORD}\") {{ {PAYLOAD_USER} }} }}",
        token=cast.token(viewer),
    )
    assert logged_in["login"]["user"] == signed_up["signUp"]["user"]
