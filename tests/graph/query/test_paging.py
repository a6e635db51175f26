"""run_query paging and continuation tokens, iter_query streaming."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from processtwin.errors import InvalidInputError
from processtwin.graph.query import MemoryGraph, iter_query, parse_query, run_query

Q = "SELECT T.$dtId AS id FROM DIGITALTWINS T WHERE T.n >= 3"


def graph(n: int) -> MemoryGraph:
    g = MemoryGraph()
    for i in range(n):
        g.add_twin(f"t{i:03}", "dtmi:x:T;1", {"n": i})
    return g


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 30), st.integers(1, 12))
def test_pages_concatenate_to_the_whole_result(n: int, limit: int) -> None:
    g = graph(n)
    whole = run_query(g, Q).rows
    got: list[dict[str, object]] = []
    token = None
    pages = 0
    while True:
        page = run_query(g, Q, limit=limit, continuation=token)
        assert len(page.rows) <= limit
        got += page.rows
        pages += 1
        token = page.continuation
        if token is None:
            break
    assert got == whole
    assert pages == max(1, -(-len(whole) // limit))


def test_top_caps_paging_too() -> None:
    g = graph(20)
    q = "SELECT TOP(5) T.$dtId AS id FROM DIGITALTWINS T"
    first = run_query(g, q, limit=3)
    second = run_query(g, q, limit=3, continuation=first.continuation)
    assert (len(first.rows), len(second.rows), second.continuation) == (3, 2, None)


def test_a_token_only_fits_its_query() -> None:
    g = graph(10)
    token = run_query(g, Q, limit=2).continuation
    assert token is not None
    with pytest.raises(InvalidInputError, match="another query"):
        run_query(g, "SELECT * FROM DIGITALTWINS", limit=2, continuation=token)


@pytest.mark.parametrize("token", [
    "not base64 !", base64.urlsafe_b64encode(b"[1]").decode(),
    base64.urlsafe_b64encode(json.dumps({"o": -1, "q": "x"}).encode()).decode(), "",
])
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(InvalidInputError):
        run_query(graph(3), Q, limit=1, continuation=token)


@pytest.mark.parametrize("limit", [0, -1, True, 2.5])
def test_bad_limits_are_refused(limit: object) -> None:
    with pytest.raises(InvalidInputError):
        run_query(graph(3), Q, limit=limit)  # type: ignore[arg-type]


def test_iter_query_is_lazy() -> None:
    g = graph(1000)
    rows = iter_query(g, "SELECT T.n FROM DIGITALTWINS T")
    assert next(rows) == {"n": 0}
    assert next(rows) == {"n": 1}


def test_a_parsed_query_can_be_run_again() -> None:
    q = parse_query(Q)
    assert parse_query(Q) is q  # cached
    assert run_query(graph(5), q).rows == [{"id": "t003"}, {"id": "t004"}]
