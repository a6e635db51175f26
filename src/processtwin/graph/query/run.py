"""Running a query: whole, streamed, or page by page with a continuation token.

Paging is stateless: a page's ``continuation`` encodes how many rows were already returned
and a fingerprint of the query text; the next call runs the query again and skips them. The
walk is lazy, so skipping costs the walk to that point but no projections. Pages are
consistent while the graph does not change; after a change a page may repeat or miss rows
(as in Azure Digital Twins, a query is not a snapshot).

    >>> from processtwin.graph.query import MemoryGraph
    >>> g = MemoryGraph()
    >>> for i in range(5):
    ...     _ = g.add_twin(f"t{i}", "dtmi:ex:Tank;1", {"level": i})
    >>> page = run_query(g, "SELECT T.level FROM DIGITALTWINS T WHERE T.level >= 1", limit=3)
    >>> page.rows, page.continuation is not None
    ([{'level': 1}, {'level': 2}, {'level': 3}], True)
    >>> q = "SELECT T.level FROM DIGITALTWINS T WHERE T.level >= 1"
    >>> run_query(g, q, limit=3, continuation=page.continuation).rows
    [{'level': 4}]
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice
from typing import Any

from processtwin.errors import InvalidInputError
from processtwin.graph.query.execute import execute
from processtwin.graph.query.planner import Plan, plan
from processtwin.graph.query.resolve import compile_query
from processtwin.graph.query.syntax import Query
from processtwin.graph.types import GraphView

__all__ = ["QueryResult", "iter_query", "parse_query", "run_query"]


@dataclass(frozen=True, slots=True)
class QueryResult:
    """One page of rows; ``continuation`` is None on the last page.

    >>> QueryResult([{"id": "r1"}], "abc").to_dict()
    {'rows': [{'id': 'r1'}], 'continuation': 'abc'}
    """

    rows: list[dict[str, Any]]
    continuation: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON body of a query answer: ``{"rows": [...], "continuation": token|null}``."""
        return {"rows": self.rows, "continuation": self.continuation}


def parse_query(text: str) -> Query:
    """Parse and check ``text`` (cached); raise QueryError with the offending position.

    >>> parse_query("SELECT COUNT() FROM DIGITALTWINS").select.count
    True
    """
    if not isinstance(text, str):
        raise InvalidInputError(f"a query is text, not {type(text).__name__}")
    return _prepared(text)[0]


@lru_cache(maxsize=256)
def _prepared(text: str) -> tuple[Query, Plan]:
    query = compile_query(text)
    return query, plan(query)


def _execute(graph: GraphView, query: str | Query) -> tuple[Query, Iterator[dict[str, Any]]]:
    if isinstance(query, str):
        parse_query(query)  # refuses non-text
        q, p = _prepared(query)
        return q, execute(graph, q, p)
    return query, execute(graph, query)


def iter_query(graph: GraphView, query: str | Query) -> Iterator[dict[str, Any]]:
    """Every row of ``query`` over ``graph``, lazily."""
    return _execute(graph, query)[1]


def run_query(graph: GraphView, query: str | Query, *, limit: int | None = None,
              continuation: str | None = None) -> QueryResult:
    """Run ``query``; with ``limit``, return at most that many rows and a continuation."""
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                              or limit < 1):
        raise InvalidInputError(f"limit must be a positive whole number, got {limit!r}")
    q, rows = _execute(graph, query)
    skip = 0 if continuation is None else _decode(continuation, q.text)
    if skip:
        rows = islice(rows, skip, None)
    if limit is None:
        return QueryResult(list(rows))
    page = list(islice(rows, limit + 1))
    if len(page) <= limit:
        return QueryResult(page)
    return QueryResult(page[:limit], _encode(skip + limit, q.text))


def _fingerprint(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _encode(offset: int, text: str) -> str:
    raw = json.dumps({"o": offset, "q": _fingerprint(text)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(token: str, text: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
        offset, fingerprint = data["o"], data["q"]
    except (binascii.Error, ValueError, TypeError, KeyError) as exc:
        raise InvalidInputError("malformed continuation token") from exc
    if fingerprint != _fingerprint(text):
        raise InvalidInputError("this continuation token belongs to another query")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise InvalidInputError("malformed continuation token")
    return offset
