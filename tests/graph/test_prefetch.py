"""Look-ahead prefetching changes only speed: answers match the dataloader path exactly."""

from __future__ import annotations

from tests.conftest import Api, codes
from tests.graph.test_query_counts import fill

FIELDS = """name creator { name }
    positions(first: 3) { totalCount edges { cursor node { amount market { name } user { name } } } }"""
PREFETCHED = "{ markets(first: 5) { edges { node { " + FIELDS + " } } } }"
# One alias per market row with other arguments defeats the prefetch, so the loaders answer.
ALIASED = """{ markets(first: 5) { edges { node { name creator { name }
    positions(first: 3) { totalCount edges { cursor node { amount market { name } user { name } } } }
    other: positions(first: 1) { totalCount } } } } }"""
FRAGMENTS = """{ markets(first: 5) { ...Page } }
fragment Page on MarketConnection { edges { node { ... on Market { """ + FIELDS + " } } } }"


async def test_prefetched_and_loaded_answers_are_the_same(api: Api) -> None:
    owner = await api.make_user()
    await fill(api, owner, markets=6, positions_each=4)
    prefetched = await api.data(PREFETCHED, token=owner.token)
    aliased = await api.data(ALIASED, token=owner.token)
    through_fragments = await api.data(FRAGMENTS, token=owner.token)
    for edge in aliased["markets"]["edges"]:
        assert edge["node"].pop("other") == {"totalCount": 4}
    assert prefetched == aliased == through_fragments
    assert all(len(e["node"]["positions"]["edges"]) == 3 for e in prefetched["markets"]["edges"])


async def test_bad_nested_arguments_fail_at_their_own_path(api: Api) -> None:
    owner = await api.make_user()
    await fill(api, owner, markets=2, positions_each=1)
    body = await api.gql("{ markets(first: 2) { edges { node { name positions(first: 101) { totalCount } } } } }")
    assert set(codes(body)) == {"BAD_USER_INPUT"}
    # positions is non-null, so the first failure nulls the whole page: one error, at the field.
    assert [e["path"] for e in body["errors"]] == [["markets", "edges", 0, "node", "positions"]]
    assert body["errors"][0]["extensions"]["fields"] == {"first": "must be between 0 and 100"}
