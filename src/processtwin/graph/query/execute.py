"""Run a planned query against a :class:`~processtwin.graph.types.GraphView`, lazily.

Rows stream out of a chain of generators, one per hop, that fill one binding list in place
(depth first), so memory stays at one path whatever the result size and ``TOP``/paging stop
the walk early.

**MATCH semantics** (as in Cypher): each result row is one path; the relationships of one row
are pairwise distinct across all of its hops, so ``-[*1..3]-`` never walks back over the
relationship it came by and cycles end. An undirected hop over a self-relationship counts it
once. JOIN hops are plain joins (no distinctness). A ``[r*..]`` variable is the list of
relationships of that hop, in left-to-right pattern order; ``[r]`` without ``*`` is one
relationship document.

**Rows.** ``SELECT *`` gives the document itself when the query names one variable, else an
object keyed by variable name. ``SELECT a, b.x AS y`` gives ``{"a": ..., "y": ...}``; a column
whose value is undefined is left out of its row. ``COUNT()`` gives ``[{"COUNT": n}]``.
Documents in rows are the graph's own (read-only) documents, not copies.

    >>> from processtwin.graph.query import MemoryGraph, parse_query
    >>> g = MemoryGraph()
    >>> for t in ("a", "b", "c"):
    ...     _ = g.add_twin(t, "dtmi:ex:Unit;1")
    >>> _ = g.add_relationship("a", "feeds", "b"); _ = g.add_relationship("b", "feeds", "c")
    >>> q = parse_query("SELECT b.$dtId AS id FROM DIGITALTWINS MATCH (a)-[*1..2]->(b) "
    ...                 "WHERE a.$dtId = 'a'")
    >>> list(execute(g, q))
    [{'id': 'b'}, {'id': 'c'}]
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice
from typing import Any

from processtwin.graph.query.expressions import Compiler, Fn
from processtwin.graph.query.planner import Plan, Step, plan
from processtwin.graph.query.semantics import UNDEFINED
from processtwin.graph.query.syntax import Expr, Query
from processtwin.graph.types import GraphView, RelDoc, TwinDoc

__all__ = ["bindings", "execute"]

Neighbours = Callable[[str], Iterable[tuple[RelDoc, str]]]


def execute(graph: GraphView, query: Query, planned: Plan | None = None
            ) -> Iterator[dict[str, Any]]:
    """The rows of ``query`` over ``graph``, lazily (``planned``: its plan, if already made)."""
    compiler = Compiler(graph)
    found = bindings(graph, query, planned or plan(query), compiler)
    sel = query.select
    if sel.count:
        capped = found if sel.top is None else islice(found, sel.top)
        n = sum(1 for _ in capped)
        return iter([{"COUNT": n}])
    project = _projector(query, compiler)
    rows: Iterator[dict[str, Any]] = (project(b) for b in found)
    if sel.distinct:
        rows = _distinct(rows)
    return rows if sel.top is None else islice(rows, sel.top)


def _projector(query: Query, compiler: Compiler) -> Callable[[list[Any]], dict[str, Any]]:
    sel = query.select
    if sel.star:
        named = [v for v in query.variables if v.name is not None]
        if len(query.variables) == 1 or (len(named) == 1 and named[0].kind != "rels"):
            slot = named[0].slot if named else 0
            return lambda b: _as_row(b[slot])
        return lambda b: {v.name: b[v.slot] for v in named if v.name}
    getters = [(item.name, compiler.path(item.expr)) for item in sel.items]

    def project(b: list[Any]) -> dict[str, Any]:
        row: dict[str, Any] = {}
        for name, get in getters:
            v = get(b)
            if v is not UNDEFINED:
                row[name] = v
        return row
    return project


def _as_row(doc: Any) -> dict[str, Any]:
    return doc if isinstance(doc, dict) else dict(doc)


def _distinct(rows: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    seen: set[str] = set()
    for row in rows:
        key = json.dumps(row, sort_keys=True, default=repr)
        if key not in seen:
            seen.add(key)
            yield row


# --------------------------------------------------------------------- bindings


def bindings(graph: GraphView, query: Query, p: Plan, compiler: Compiler) -> Iterator[list[Any]]:
    """Every binding (a list indexed by slot) that satisfies the query's filter.

    The same list is yielded each time, changed in place: read it before asking for more.
    """
    b: list[Any] = [None] * len(query.variables)
    start_pred = _all(compiler, p.filters)
    starts = _starts(graph, query, p)
    if not p.steps:
        return _scan(b, p.start, starts, start_pred)
    used: set[tuple[str, str]] = set()
    walkers = [_walker(graph, step, b, used) for step in p.steps]
    preds = [_all(compiler, step.filters) for step in p.steps]
    return _walk(b, p.start, starts, start_pred, walkers, preds)


def _scan(b: list[Any], slot: int, docs: Iterable[Any], pred: Fn | None) -> Iterator[list[Any]]:
    if pred is None:
        for doc in docs:
            b[slot] = doc
            yield b
        return
    for doc in docs:
        b[slot] = doc
        if pred(b) is True:
            yield b


def _walk(b: list[Any], slot: int, docs: Iterable[Any], pred: Fn | None,
          walkers: list[Callable[[], Iterator[None]]],
          preds: list[Fn | None]) -> Iterator[list[Any]]:
    last = len(walkers)

    def expand(i: int) -> Iterator[list[Any]]:
        if i == last:
            yield b
            return
        keep = preds[i]
        for _ in walkers[i]():
            if keep is None or keep(b) is True:
                yield from expand(i + 1)

    for _ in _scan(b, slot, docs, pred):
        yield from expand(0)


def _all(compiler: Compiler, terms: Sequence[Expr]) -> Fn | None:
    if not terms:
        return None
    fns = [compiler.expr(t) for t in terms]
    every = fns[0]
    for f in fns[1:]:
        every = _both(every, f)
    return every


def _both(f: Fn, g: Fn) -> Fn:
    return lambda b: f(b) is True and g(b) is True


def _starts(graph: GraphView, query: Query, p: Plan) -> Iterable[Any]:
    if p.anchors is None:
        return graph.relationships() if query.variables[p.start].kind == "rel" else graph.twins()
    ids = p.anchors
    if p.anchor_field == "$sourceId":
        return (r for i in ids for r in graph.outgoing(i))
    if p.anchor_field == "$targetId":
        return (r for i in ids for r in graph.incoming(i))
    return (t for t in (graph.twin(i) for i in ids) if t is not None)


def _neighbours(graph: GraphView, step: Step) -> Neighbours:
    names = step.edge.names
    one = names[0] if len(names) == 1 else None
    wanted = frozenset(names)
    out, inc = graph.outgoing, graph.incoming

    def rels(fetch: Callable[[str, str | None], Sequence[RelDoc]], x: str) -> Iterable[RelDoc]:
        if not names:
            return fetch(x, None)
        if one is not None:
            return fetch(x, one)
        return [r for r in fetch(x, None) if r["$relationshipName"] in wanted]

    if step.direction == "out":
        return lambda x: [(r, r["$targetId"]) for r in rels(out, x)]
    if step.direction == "in":
        return lambda x: [(r, r["$sourceId"]) for r in rels(inc, x)]

    def both(x: str) -> list[tuple[RelDoc, str]]:
        found = [(r, r["$targetId"]) for r in rels(out, x)]
        found += [(r, r["$sourceId"]) for r in rels(inc, x) if r["$sourceId"] != x]
        return found
    return both


def _walker(graph: GraphView, step: Step, b: list[Any],
            used: set[tuple[str, str]]) -> Callable[[], Iterator[None]]:
    """A generator factory that binds ``step.dst`` (and the relationship) once per match."""
    neighbours = _neighbours(graph, step)
    src, dst, check = step.src, step.dst, step.check
    rel_slot = step.edge.rel_slot
    unique = step.edge.unique
    lo, hi = step.edge.min_hops, step.edge.max_hops
    as_list = rel_slot is not None and step.edge.star
    twin = graph.twin

    def land(end: str) -> bool:
        if check:
            return bool(b[dst]["$dtId"] == end)
        doc: TwinDoc | None = twin(end)
        if doc is None:
            return False
        b[dst] = doc
        return True

    if not as_list and (lo, hi) == (1, 1):  # a JOIN, or a MATCH hop without '*'
        def one_hop() -> Iterator[None]:
            for r, end in neighbours(b[src]["$dtId"]):
                key = (r["$sourceId"], r["$relationshipId"])
                if unique and key in used:
                    continue
                if not land(end):
                    continue
                if rel_slot is not None:
                    b[rel_slot] = r
                if unique:
                    used.add(key)
                    yield None
                    used.discard(key)
                else:
                    yield None
        return one_hop

    reverse = step.reverse

    def paths(x: str, depth: int, path: list[RelDoc]) -> Iterator[str]:
        if depth >= lo:
            yield x
        if depth == hi:
            return
        for r, end in neighbours(x):
            key = (r["$sourceId"], r["$relationshipId"])
            if key in used:
                continue
            used.add(key)
            path.append(r)
            yield from paths(end, depth + 1, path)
            path.pop()
            used.discard(key)

    def many_hops() -> Iterator[None]:
        path: list[RelDoc] = []
        for end in paths(b[src]["$dtId"], 0, path):
            if not land(end):
                continue
            if rel_slot is not None:
                b[rel_slot] = path[::-1] if reverse else list(path)
            yield None
    return many_hops

