from tests.conftest import Api, codes


async def test_create_and_read_market(api: Api) -> None:
    alice = await api.make_user()
    created = await api.make_market(
        alice, name="  Will BTC pass 100k?  ", initialPosition={"outcome": "YES", "amount": "12.5"}
    )
    assert created["name"] == "Will BTC pass 100k?"
    assert created["volume"] == "12.50"
    data = await api.data(
        """query($id: ID!) { market(id: $id) { name creator { name email }
            positions { totalCount edges { node { amount user { id } } } } } }""",
        {"id": created["id"]},
    )
    market = data["market"]
    assert market["creator"] == {"name": "Test User", "email": None}
    assert market["positions"]["totalCount"] == 1
    assert market["positions"]["edges"][0]["node"] == {"amount": "12.50", "user": None}


async def test_me_requires_token(api: Api) -> None:
    body = await api.gql("{ me { id } }")
    assert codes(body) == ["UNAUTHENTICATED"]
