"""Plan a query: where the walk starts, which hops follow in which direction, and where
each filter applies.

* **Anchors.** A top-level ``AND`` term ``X.$dtId = 'id'`` or ``X.$dtId IN ['a', 'b']`` pins
  twin variable ``X``; the walk starts at the pinned variable with the fewest ids (one
  dictionary look-up each) instead of scanning every twin. For ``FROM RELATIONSHIPS R``,
  ``R.$sourceId``/``R.$targetId`` pins start from ``outgoing``/``incoming`` of those twins.
* **Start without an anchor**: the first twin variable that has a filter of its own (else
  the first variable) is scanned.
* **Hops** follow from bound variables outward; a hop reached from its right end is walked
  backwards (``incoming`` for ``->``), so a JOIN or MATCH anchored at its far end costs the
  same as one anchored at its start.
* **Filters** are split at top-level ``AND`` and each term runs as soon as every variable it
  reads is bound, so rows are dropped before further hops.

    >>> from processtwin.graph.query import parse_query
    >>> q = parse_query("SELECT a FROM DIGITALTWINS MATCH (a)-[:feeds]->(b) WHERE b.$dtId = 'p1'")
    >>> p = plan(q)
    >>> p.start, p.anchors, [(s.src, s.dst, s.direction) for s in p.steps]
    (1, ('p1',), [(1, 0, 'in')])
"""

from __future__ import annotations

from dataclasses import dataclass

from processtwin.graph.query.expressions import slots_of
from processtwin.graph.query.syntax import (
    And,
    Compare,
    Direction,
    Edge,
    Expr,
    InList,
    IsOfModel,
    Literal,
    Path,
    Query,
)

__all__ = ["Plan", "Step", "plan"]

_REVERSE: dict[Direction, Direction] = {"out": "in", "in": "out", "both": "both"}


@dataclass(frozen=True, slots=True)
class Step:
    """Walk ``edge`` from the bound twin ``src`` to ``dst`` (already bound when ``check``).

    ``direction`` is as walked from ``src``; ``reverse`` says the walk runs against the
    pattern's left-to-right order (a list-valued relationship variable is then reversed).
    ``filters`` run once the step has bound its variables.
    """

    edge: Edge
    src: int
    dst: int
    direction: Direction
    reverse: bool
    check: bool
    filters: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Plan:
    """Start at ``start`` (from ``anchors`` when given, else a scan), then take ``steps``.

    ``anchor_field`` is ``$dtId`` for a twin start, ``$sourceId``/``$targetId`` for a
    relationship start.
    """

    start: int
    anchors: tuple[str, ...] | None
    anchor_field: str
    filters: tuple[Expr, ...]
    steps: tuple[Step, ...]


def conjuncts(e: Expr | None) -> list[Expr]:
    """The terms of a top-level AND chain."""
    if e is None:
        return []
    if isinstance(e, And):
        return conjuncts(e.left) + conjuncts(e.right)
    return [e]


def _pinned(e: Expr) -> tuple[int, str, list[str]] | None:
    """(slot, field, ids) when ``e`` is ``X.<$field> = 'id'`` or ``X.<$field> IN [...]``."""
    if isinstance(e, Compare) and e.op == "=":
        for path, lit in ((e.left, e.right), (e.right, e.left)):
            if (isinstance(path, Path) and len(path.steps) == 1 and isinstance(lit, Literal)
                    and isinstance(lit.value, str) and path.kind != "rels"):
                return path.slot, str(path.steps[0]), [lit.value]
    if isinstance(e, InList) and not e.negated:
        path = e.operand
        values = [x.value for x in e.items.items if isinstance(x, Literal)]
        if (isinstance(path, Path) and len(path.steps) == 1 and path.kind != "rels"
                and len(values) == len(e.items.items)
                and all(isinstance(v, str) for v in values)):
            return path.slot, str(path.steps[0]), [str(v) for v in values]
    return None


def _anchors(query: Query, terms: list[Expr]) -> dict[tuple[int, str], tuple[str, ...]]:
    fields = {"twin": ("$dtId",), "rel": ("$sourceId", "$targetId")}
    out: dict[tuple[int, str], tuple[str, ...]] = {}
    for term in terms:
        pin = _pinned(term)
        if pin is None:
            continue
        slot, field, ids = pin
        var = query.variables[slot]
        if field not in fields.get(var.kind, ()):
            continue
        if var.kind == "rel" and query.edges:
            continue  # a JOIN's relationship is bound by its hop, never a start
        key = (slot, field)
        ids_t = tuple(dict.fromkeys(ids))
        out[key] = tuple(i for i in out[key] if i in ids_t) if key in out else ids_t
    return out


def plan(query: Query) -> Plan:
    """The plan for ``query`` (see the module docs)."""
    terms = conjuncts(query.where)
    anchors = _anchors(query, terms)
    if anchors:
        (start, field), ids = min(anchors.items(), key=lambda kv: (len(kv[1]), kv[0][0]))
        start_ids: tuple[str, ...] | None = ids
    else:
        start, field, start_ids = _scan_start(query, terms), "$dtId", None
    bound = {start}
    placed: list[tuple[Edge, int, int, Direction, bool, bool]] = []
    todo = list(query.edges)
    while todo:
        for edge in todo:
            if edge.left in bound or edge.right in bound:
                break
        else:  # unreachable for checked queries: JOINs and MATCH chains are connected
            raise ValueError("the query's variables are not connected")
        todo.remove(edge)
        if edge.left in bound:
            src, dst, direction, reverse = edge.left, edge.right, edge.direction, False
        else:
            src, dst, direction, reverse = edge.right, edge.left, _REVERSE[edge.direction], True
        placed.append((edge, src, dst, direction, reverse, dst in bound))
        bound.add(dst)
        if edge.rel_slot is not None:
            bound.add(edge.rel_slot)
    # each filter term runs at the first stage where all its variables are bound
    stage_of: list[set[int]] = [{start}]
    for edge, _src, dst, *_ in placed:
        rel = set() if edge.rel_slot is None else {edge.rel_slot}
        stage_of.append(stage_of[-1] | {dst} | rel)
    per_stage: list[list[Expr]] = [[] for _ in stage_of]
    for term in _cheap_first(terms):
        need = slots_of(term)
        stage = next(i for i, have in enumerate(stage_of) if need <= have)
        per_stage[stage].append(term)
    steps = tuple(Step(edge, src, dst, direction, reverse, check, tuple(per_stage[i + 1]))
                  for i, (edge, src, dst, direction, reverse, check) in enumerate(placed))
    return Plan(start, start_ids, field, tuple(per_stage[0]), steps)


def _scan_start(query: Query, terms: list[Expr]) -> int:
    if query.source == "relationships" or not query.edges:
        return 0
    twins = [v.slot for v in query.variables if v.kind == "twin"]
    filtered = {s for t in terms for s in slots_of(t) if len(slots_of(t)) == 1}
    return next((s for s in twins if s in filtered), twins[0])


def _cheap_first(terms: list[Expr]) -> list[Expr]:
    """IS_OF_MODEL terms first: one cached look-up each, and they spare live look-ups."""
    return sorted(terms, key=lambda t: 0 if isinstance(t, IsOfModel) else 1)
