"""Accounts and bearer tokens: signUp, login, the token's claims, and every way a token is refused."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import select, text

from domain.roles import Role
from graph import ids
from markets.asgi import create_app
from markets.bootstrap import bootstrap
from markets.passwords import Argon2Hasher
from persistence.tables import users
from tests.conftest import FAST_HASHER, TEST_SECRET, Api, Member, codes
from tests.conftest import test_settings as settings_for

USER_FIELDS = "id email name role"
SIGN_UP = f"""mutation($email: String!, $name: String!, $password: String!) {{
  signUp(email: $email, name: $name, password: $password) {{ token user {{ {USER_FIELDS} }} }}
}}"""
LOGIN = f"""mutation($email: String!, $password: String!) {{
  login(email: $email, password: $password) {{ token user {{ {USER_FIELDS} }} }}
}}"""
ME = "{ me { id email role } }"
MARKETS = "{ markets { totalCount } }"
INVALID_TOKEN_CHALLENGE = 'Bearer error="invalid_token"'
PASSWORD = "correct horse battery"


# --- helpers ---------------------------------------------------------------------------------------------------


async def sign_up(api: Api, email: str = "alice@example.com", name: str = "Alice", password: str = PASSWORD) -> Any:
    return await api.gql(SIGN_UP, {"email": email, "name": name, "password": password})


async def log_in(api: Api, email: str, password: str = PASSWORD) -> Any:
    return await api.gql(LOGIN, {"email": email, "password": password})


def assert_denied(body: Any, field: str, code: str) -> dict[str, Any]:
    """One error with `code` at `field`, and no data for it; returns the error."""
    assert codes(body) == [code], body
    assert (body.get("data") or {}).get(field) is None, body
    (error,) = body["errors"]
    assert error["path"] == [field]
    return error


async def stored_user(api: Api, email: str) -> Any:
    async with api.container.engine.connect() as connection:
        return (await connection.execute(select(users).where(users.c.email == email))).first()


async def user_count(api: Api) -> int:
    async with api.container.engine.connect() as connection:
        return int((await connection.execute(text("SELECT COUNT(*) FROM users"))).scalar_one())


def decode(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, TEST_SECRET, algorithms=["HS256"])
    return claims


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_made(header: dict[str, Any], claims: dict[str, Any], *, secret: str | None = TEST_SECRET) -> str:
    """A JWT assembled by hand: HMAC-SHA256 signed with `secret` whatever `header` claims, unsigned for None."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    if secret is None:
        return signing_input + "."
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def claims_for(member: Member, **changes: Any) -> dict[str, Any]:
    """The claims of the member's real token, with `changes` applied (None removes a claim)."""
    claims = {**decode(member.token), **changes}
    return {key: value for key, value in claims.items() if value is not None}


def signed(claims: dict[str, Any], *, secret: str = TEST_SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, secret, algorithm=algorithm)


def tampered(token: str) -> str:
    """The token with its payload swapped for one claiming ADMIN, signature kept."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return f"{header}.{b64url(json.dumps({**claims, 'role': 'ADMIN'}).encode())}.{signature}"


async def assert_rejected(response: httpx.Response) -> None:
    """The contract's answer to a bad token: 401, the challenge, one UNAUTHENTICATED error, nothing executed."""
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == INVALID_TOKEN_CHALLENGE
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert codes(body) == ["UNAUTHENTICATED"], body
    assert body["errors"][0]["message"]
    assert "data" not in body


async def post_with_authorization(api: Api, authorization: str, query: str = MARKETS,
                                  variables: dict[str, Any] | None = None) -> httpx.Response:
    return await api.post(query, variables, headers={"Authorization": authorization})


# --- signUp ----------------------------------------------------------------------------------------------------


async def test_sign_up_returns_a_working_token_and_the_user_with_their_email(api: Api) -> None:
    body = await sign_up(api, email="alice@example.com", name="Alice")
    assert "errors" not in body, body
    payload = body["data"]["signUp"]
    user = payload["user"]
    assert user["email"] == "alice@example.com"
    assert user["name"] == "Alice"
    assert user["role"] == "USER"
    row = await stored_user(api, "alice@example.com")
    assert user["id"] == ids.encode("User", row.id)

    me = await api.data(ME, token=payload["token"])
    assert me["me"] == {"id": user["id"], "email": "alice@example.com", "role": "USER"}


async def test_sign_up_stores_the_email_lower_cased_and_trimmed_and_the_name_trimmed(api: Api) -> None:
    body = await sign_up(api, email="  Alice.Smith@Example.COM \t", name="   Alice Smith  ")
    assert "errors" not in body, body
    assert body["data"]["signUp"]["user"]["email"] == "alice.smith@example.com"
    assert body["data"]["signUp"]["user"]["name"] == "Alice Smith"

    row = await stored_user(api, "alice.smith@example.com")
    assert row is not None
    assert (row.email, row.name, row.role) == ("alice.smith@example.com", "Alice Smith", "USER")


async def test_sign_up_stores_the_password_only_as_an_argon2id_hash(api: Api) -> None:
    assert "errors" not in await sign_up(api, email="alice@example.com")
    row = await stored_user(api, "alice@example.com")
    assert row.password_hash.startswith("$argon2id$")
    assert PASSWORD not in row.password_hash
    assert FAST_HASHER.verify(row.password_hash, PASSWORD)


@pytest.mark.parametrize("second", ["alice@example.com", "ALICE@EXAMPLE.COM", "  Alice@Example.com  "])
async def test_sign_up_with_a_taken_email_in_any_case_is_a_conflict(api: Api, second: str) -> None:
    assert "errors" not in await sign_up(api, email="alice@example.com", name="First")
    body = await sign_up(api, email=second, name="Second")
    assert_denied(body, "signUp", "CONFLICT")
    assert await user_count(api) == 1
    assert (await stored_user(api, "alice@example.com")).name == "First"


async def test_concurrent_sign_ups_with_one_email_create_one_account(api: Api) -> None:
    bodies = await asyncio.gather(*(sign_up(api, email=f"{prefix}@example.com", name=f"n{i}")
                                    for i, prefix in enumerate(["race", "RACE", "Race", "race"])))
    outcomes = sorted("ok" if "errors" not in body else codes(body)[0] for body in bodies)
    assert outcomes == ["CONFLICT", "CONFLICT", "CONFLICT", "ok"]
    assert await user_count(api) == 1


@pytest.mark.parametrize(
    ("field", "email", "name", "password"),
    [
        pytest.param("email", "not-an-email", "Alice", PASSWORD, id="email-without-at"),
        pytest.param("email", "alice@localhost", "Alice", PASSWORD, id="email-without-dot-in-domain"),
        pytest.param("email", "al ice@example.com", "Alice", PASSWORD, id="email-with-space"),
        pytest.param("email", "", "Alice", PASSWORD, id="email-empty"),
        pytest.param("email", "@example.com", "Alice", PASSWORD, id="email-without-local-part"),
        pytest.param("email", "a" * 243 + "@example.com", "Alice", PASSWORD, id="email-255-chars"),
        pytest.param("password", "alice@example.com", "Alice", "seven77", id="password-7-chars"),
        pytest.param("password", "alice@example.com", "Alice", "", id="password-empty"),
        pytest.param("password", "alice@example.com", "Alice", "p" * 129, id="password-129-chars"),
        pytest.param("name", "alice@example.com", "", PASSWORD, id="name-empty"),
        pytest.param("name", "alice@example.com", "   \t ", PASSWORD, id="name-blank"),
        pytest.param("name", "alice@example.com", "n" * 101, PASSWORD, id="name-101-chars"),
    ],
)
async def test_sign_up_rejects_a_bad_input_naming_its_field(
    api: Api, field: str, email: str, name: str, password: str
) -> None:
    body = await sign_up(api, email=email, name=name, password=password)
    error = assert_denied(body, "signUp", "BAD_USER_INPUT")
    assert set(error["extensions"]["fields"]) == {field}
    assert error["extensions"]["fields"][field]
    assert await user_count(api) == 0


async def test_sign_up_reports_every_bad_input_at_once(api: Api) -> None:
    body = await sign_up(api, email="nope", name="  ", password="short")
    error = assert_denied(body, "signUp", "BAD_USER_INPUT")
    assert set(error["extensions"]["fields"]) == {"email", "name", "password"}
    assert await user_count(api) == 0


@pytest.mark.parametrize(
    ("email", "name", "password", "stored_name"),
    [
        pytest.param("e@x.io", "A", "p" * 8, "A", id="shortest"),
        pytest.param("a" * 242 + "@example.com", "n" * 100, "p" * 128, "n" * 100, id="longest"),
        pytest.param("edge@example.com", "  " + "n" * 100 + "  ", "p" * 128, "n" * 100, id="longest-after-trimming"),
    ],
)
async def test_sign_up_accepts_the_boundary_lengths(
    api: Api, email: str, name: str, password: str, stored_name: str
) -> None:
    body = await sign_up(api, email=email, name=name, password=password)
    assert "errors" not in body, body
    assert body["data"]["signUp"]["user"]["name"] == stored_name
    assert body["data"]["signUp"]["user"]["email"] == email
    assert "errors" not in await log_in(api, email, password)


async def test_the_password_is_taken_verbatim(api: Api) -> None:
    assert "errors" not in await sign_up(api, email="pad@example.com", password="  padded password  ")
    assert_denied(await log_in(api, "pad@example.com", "padded password"), "login", "UNAUTHENTICATED")
    assert "errors" not in await log_in(api, "pad@example.com", "  padded password  ")


# --- login -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["bob@example.com", "BOB@EXAMPLE.COM", "Bob@Example.Com", "  bob@example.com  "])
async def test_login_accepts_the_email_in_any_case(api: Api, typed: str) -> None:
    signed_up = (await sign_up(api, email="Bob@Example.com", name="Bob"))["data"]["signUp"]
    body = await log_in(api, typed)
    assert "errors" not in body, body
    payload = body["data"]["login"]
    assert payload["user"] == {**signed_up["user"], "email": "bob@example.com"}
    me = await api.data(ME, token=payload["token"])
    assert me["me"]["id"] == signed_up["user"]["id"]


async def test_login_fails_alike_for_an_unknown_email_and_a_wrong_password(api: Api) -> None:
    assert "errors" not in await sign_up(api, email="carol@example.com")
    unknown = assert_denied(await log_in(api, "nobody@example.com"), "login", "UNAUTHENTICATED")
    wrong = assert_denied(await log_in(api, "carol@example.com", "wrong password"), "login", "UNAUTHENTICATED")
    case_changed = assert_denied(await log_in(api, "carol@example.com", PASSWORD.upper()), "login", "UNAUTHENTICATED")
    assert unknown["message"] == wrong["message"] == case_changed["message"]
    assert unknown["extensions"] == wrong["extensions"] == {"code": "UNAUTHENTICATED"}


async def test_login_works_for_users_made_with_any_role(api: Api) -> None:
    moderator = await api.make_user(Role.MODERATOR, email="mod@example.com")
    body = await log_in(api, "MOD@example.com", "password123")
    assert "errors" not in body, body
    assert body["data"]["login"]["user"]["role"] == "MODERATOR"
    assert decode(body["data"]["login"]["token"])["role"] == "MODERATOR"
    assert decode(body["data"]["login"]["token"])["sub"] == moderator.id


# --- claims ----------------------------------------------------------------------------------------------------


async def test_the_token_carries_the_contract_claims(api: Api) -> None:
    before = int(time.time())
    payload = (await sign_up(api, email="Dave@Example.com", name="Dave"))["data"]["signUp"]
    after = int(time.time())

    assert jwt.get_unverified_header(payload["token"])["alg"] == "HS256"
    claims = decode(payload["token"])
    assert set(claims) >= {"sub", "email", "role", "iat", "exp"}
    assert claims["sub"] == payload["user"]["id"]
    assert ids.decode(claims["sub"], "User") == (await stored_user(api, "dave@example.com")).id
    assert claims["email"] == "dave@example.com"
    assert claims["role"] == "USER"
    assert before - 1 <= claims["iat"] <= after + 1
    assert api.container.settings.jwt_ttl_seconds == 3600
    assert claims["exp"] == claims["iat"] + 3600

    login_claims = decode((await log_in(api, "dave@example.com"))["data"]["login"]["token"])
    assert {k: login_claims[k] for k in ("sub", "email", "role")} == {k: claims[k] for k in ("sub", "email", "role")}
    assert login_claims["exp"] == login_claims["iat"] + 3600


async def test_the_token_lifetime_follows_jwt_ttl_seconds(test_database_url: str) -> None:
    container = bootstrap(settings_for(test_database_url, jwt_ttl_seconds=120), hasher=Argon2Hasher(FAST_HASHER))
    try:
        transport = httpx.ASGITransport(app=create_app(application=container))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            short_lived = Api(http=http, container=container)
            body = await sign_up(short_lived, email="ttl@example.com")
            assert "errors" not in body, body
            claims = decode(body["data"]["signUp"]["token"])
            assert claims["exp"] - claims["iat"] == 120
    finally:
        await container.close()


# --- refused tokens --------------------------------------------------------------------------------------------

# Each builds an Authorization value from a real member's token; each must be refused with 401.
ATTACKS: dict[str, Callable[[Member], str]] = {
    "alg-none": lambda m: "Bearer " + hand_made({"alg": "none", "typ": "JWT"}, claims_for(m), secret=None),
    "alg-None-signed": lambda m: "Bearer " + hand_made({"alg": "None", "typ": "JWT"}, claims_for(m)),
    "other-secret": lambda m: "Bearer " + signed(claims_for(m), secret="another-secret-that-is-at-least-32-bytes"),
    "hs512-same-secret": lambda m: "Bearer " + signed(claims_for(m), algorithm="HS512"),
    "hs384-same-secret": lambda m: "Bearer " + signed(claims_for(m), algorithm="HS384"),
    "rs256-header": lambda m: "Bearer " + hand_made({"alg": "RS256", "typ": "JWT"}, claims_for(m)),
    "es256-header": lambda m: "Bearer " + hand_made({"alg": "ES256", "typ": "JWT"}, claims_for(m)),
    "tampered-payload": lambda m: "Bearer " + tampered(m.token),
    "truncated-signature": lambda m: "Bearer " + m.token[:-4],
    "expired": lambda m: "Bearer " + signed(claims_for(m, iat=int(time.time()) - 7200, exp=int(time.time()) - 60)),
    "missing-exp": lambda m: "Bearer " + signed(claims_for(m, exp=None)),
    "non-numeric-exp": lambda m: "Bearer " + signed(claims_for(m, exp="tomorrow")),
    "malformed": lambda m: "Bearer not-a-jwt",
    "two-segments": lambda m: "Bearer " + ".".join(m.token.split(".")[:2]),
    "garbage-base64": lambda m: "Bearer %%%.%%%.%%%",
    "token-then-junk": lambda m: f"Bearer {m.token} junk",
    "basic-scheme": lambda m: "Basic dXNlcjpwYXNzd29yZA==",
    "basic-scheme-with-a-valid-token": lambda m: f"Basic {m.token}",
    "token-without-scheme": lambda m: m.token,
    "empty-value": lambda m: "",
    "bearer-alone": lambda m: "Bearer",
    "bearer-and-spaces": lambda m: "Bearer    ",
}


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")  # the HS384/HS512 forgeries
@pytest.mark.parametrize("attack", list(ATTACKS))
async def test_a_bad_authorization_header_rejects_the_whole_request(api: Api, attack: str) -> None:
    member = await api.make_user(Role.USER)
    response = await post_with_authorization(api, ATTACKS[attack](member))
    await assert_rejected(response)


# One fixed message per reason, never PyJWT's own text ("Not enough segments", "Invalid header padding",
# 'Token is missing the "exp" claim', ...), which tells a forger which check failed and can echo the input.
EXPECTED_MESSAGES: dict[str, str | set[str]] = {
    "alg-none": "The token's algorithm is not accepted",
    "alg-None-signed": "The token's algorithm is not accepted",
    "other-secret": "The token's signature does not verify",
    "hs512-same-secret": "The token's algorithm is not accepted",
    "hs384-same-secret": "The token's algorithm is not accepted",
    "rs256-header": "The token's algorithm is not accepted",
    "es256-header": "The token's algorithm is not accepted",
    "tampered-payload": "The token's signature does not verify",
    # Cut short, the signature decodes or not depending on its last bits: either fixed message.
    "truncated-signature": {"The token is malformed", "The token's signature does not verify"},
    "expired": "The token has expired",
    "missing-exp": "The token lacks a required claim",
    "non-numeric-exp": "The token is malformed",
    "malformed": "The token is malformed",
    "two-segments": "The token is malformed",
    "garbage-base64": "The token is malformed",
    "token-then-junk": "The token is malformed",
    "basic-scheme": "Expected 'Authorization: Bearer <token>'",
    "basic-scheme-with-a-valid-token": "Expected 'Authorization: Bearer <token>'",
    "token-without-scheme": "Expected 'Authorization: Bearer <token>'",
    "empty-value": "Expected 'Authorization: Bearer <token>'",
    "bearer-alone": "Expected 'Authorization: Bearer <token>'",
    "bearer-and-spaces": "Expected 'Authorization: Bearer <token>'",
}


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
@pytest.mark.parametrize("attack", list(ATTACKS))
async def test_a_401_says_why_in_a_fixed_message_of_its_own(api: Api, attack: str) -> None:
    member = await api.make_user(Role.USER)
    response = await post_with_authorization(api, ATTACKS[attack](member))
    await assert_rejected(response)
    expected = EXPECTED_MESSAGES[attack]
    assert response.json()["errors"][0]["message"] in ({expected} if isinstance(expected, str) else expected)


async def test_a_401_never_echoes_the_token_or_pyjwt(api: Api) -> None:
    for authorization in ("Bearer abc.def", "Bearer a.b.c.d", "Bearer eyJ!!!.eyJ.sig", "Bearer " + "A" * 300):
        response = await post_with_authorization(api, authorization)
        message = response.json()["errors"][0]["message"]
        assert message == "The token is malformed", (authorization, message)


@pytest.mark.parametrize("attack", ["alg-none", "expired", "basic-scheme", "empty-value"])
async def test_a_rejected_request_runs_none_of_its_mutations(api: Api, attack: str) -> None:
    member = await api.make_user(Role.USER)
    response = await post_with_authorization(
        api, ATTACKS[attack](member), SIGN_UP, {"email": "ghost@example.com", "name": "Ghost", "password": PASSWORD}
    )
    await assert_rejected(response)
    assert await stored_user(api, "ghost@example.com") is None


async def test_a_bad_token_is_rejected_over_get_too(api: Api) -> None:
    response = await api.http.get("/graphql", params={"query": MARKETS}, headers={"Authorization": "Bearer nope"})
    await assert_rejected(response)


@pytest.mark.parametrize(
    "subject",
    [
        pytest.param(lambda pk: ids.encode("User", pk + 1000), id="unknown-user-id"),
        pytest.param(lambda pk: ids.encode("User", 10**17), id="huge-user-id"),
        # The pk of a real user, under another type's name (and a real market's, too).
        pytest.param(lambda pk: ids.encode("Market", pk), id="id-of-another-type"),
        pytest.param(lambda pk: str(pk), id="raw-pk"),
        pytest.param(lambda pk: "not-a-global-id", id="garbage-subject"),
        pytest.param(lambda pk: "", id="empty-subject"),
        pytest.param(lambda pk: pk, id="integer-subject"),
    ],
)
async def test_a_well_signed_token_naming_no_user_is_rejected(api: Api, subject: Callable[[int], Any]) -> None:
    member = await api.make_user(Role.ADMIN)
    await api.make_market(member)
    response = await post_with_authorization(api, "Bearer " + signed(claims_for(member, sub=subject(member.user.id))))
    await assert_rejected(response)


async def test_the_token_of_a_deleted_user_is_rejected(api: Api) -> None:
    member = await api.make_user(Role.ADMIN)
    assert (await api.data(ME, token=member.token))["me"]["id"] == member.id
    async with api.container.engine.begin() as connection:
        await connection.execute(users.delete().where(users.c.id == member.user.id))
    await assert_rejected(await api.post(ME, token=member.token))


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
async def test_the_scheme_word_is_case_insensitive(api: Api, scheme: str) -> None:
    member = await api.make_user(Role.USER)
    response = await post_with_authorization(api, f"{scheme} {member.token}", ME)
    assert response.status_code == 200, response.text
    assert response.json() == {"data": {"me": {"id": member.id, "email": member.user.email, "role": "USER"}}}


async def test_without_an_authorization_header_the_viewer_is_anonymous(api: Api) -> None:
    creator = await api.make_user(Role.USER)
    market = await api.make_market(creator, name="Anonymous can read this")
    response = await api.http.post("/graphql", json={"query": "{ markets { totalCount edges { node { id name } } } }"})
    assert response.status_code == 200
    assert response.json() == {
        "data": {"markets": {"totalCount": 1, "edges": [{"node": {"id": market["id"], "name": market["name"]}}]}}
    }
    me = await api.gql(ME)
    assert_denied(me, "me", "UNAUTHENTICATED")


async def test_the_role_comes_from_the_database_at_request_time(api: Api) -> None:
    admin = await api.make_user(Role.ADMIN)
    member = await api.make_user(Role.USER)
    market = await api.make_market(admin)
    delete = "mutation($id: ID!) { deleteMarket(id: $id) }"

    assert_denied(await api.gql(delete, {"id": market["id"]}, token=member.token), "deleteMarket", "FORBIDDEN")
    promoted = await api.data(
        "mutation($id: ID!) { setUserRole(userId: $id, role: MODERATOR) { id role } }", {"id": member.id},
        token=admin.token,
    )
    assert promoted["setUserRole"] == {"id": member.id, "role": "MODERATOR"}

    # The same token, still claiming USER, now carries the moderator's permissions.
    assert decode(member.token)["role"] == "USER"
    assert (await api.data(ME, token=member.token))["me"]["role"] == "MODERATOR"
    assert await api.data(delete, {"id": market["id"]}, token=member.token) == {"deleteMarket": market["id"]}
    assert (await api.data("{ markets { totalCount } }"))["markets"]["totalCount"] == 0


async def test_a_role_claimed_in_a_well_signed_token_grants_nothing(api: Api) -> None:
    member = await api.make_user(Role.USER)
    claiming_admin = signed(claims_for(member, role="ADMIN"))
    assert (await api.data(ME, token=claiming_admin))["me"]["role"] == "USER"
    assert_denied(await api.gql("{ users { totalCount } }", token=claiming_admin), "users", "FORBIDDEN")


async def test_a_demotion_takes_effect_on_the_next_request(api: Api) -> None:
    admin = await api.make_user(Role.ADMIN)
    other_admin = await api.make_user(Role.ADMIN)
    users_query = "{ users { totalCount } }"
    assert (await api.data(users_query, token=other_admin.token))["users"]["totalCount"] == 2
    await api.data("mutation($id: ID!) { setUserRole(userId: $id, role: USER) { role } }", {"id": other_admin.id},
                   token=admin.token)
    assert_denied(await api.gql(users_query, token=other_admin.token), "users", "FORBIDDEN")


@pytest.mark.parametrize("sent", [None, "auth-test-request-42"])
async def test_the_401_carries_a_request_id(api: Api, sent: str | None) -> None:
    headers = {"Authorization": "Bearer not-a-jwt"}
    if sent is not None:
        headers["X-Request-ID"] = sent
    response = await api.post(MARKETS, headers=headers)
    await assert_rejected(response)
    rid = response.headers.get("x-request-id")
    assert rid
    if sent is not None:
        assert rid == sent
    else:
        assert 1 <= len(rid) <= 128 and all("\x21" <= c <= "\x7e" for c in rid)
