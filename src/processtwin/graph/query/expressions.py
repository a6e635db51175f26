"""Compile resolved expressions into plain Python closures over a row of bound variables.

A *binding* is a list indexed by variable slot (a twin document, a relationship document or
a list of them). Each compiled expression takes a binding and returns a value, ``True``/
``False``, or :data:`~processtwin.graph.query.semantics.UNDEFINED`. Common shapes
(``T.x > 100``, ``T.$dtId = 'a'``, ``IN`` over literals) get specialised closures.

**Live telemetry.** A property path on a twin whose document lacks the property asks
``graph.live_value(dt_id, name)``, where ``name`` is the path up to the missing property
(``T_R``, or ``jacket.T_K`` through a component); ``None`` there means undefined. ``$``-names
never fall back.

**IS_OF_MODEL** asks the graph once per distinct ``$metadata.$model`` during one run, so a
scan over 100k twins of a handful of models costs a handful of ``is_of_model`` calls.

    >>> from processtwin.graph.query import MemoryGraph, parse_query
    >>> g = MemoryGraph()
    >>> _ = g.add_twin("r1", "dtmi:ex:Reactor;1", {"volume": 3})
    >>> g.set_live("r1", "T_R", 150.0)
    >>> q = parse_query("SELECT * FROM DIGITALTWINS T WHERE T.T_R > 140 AND T.volume < 5")
    >>> Compiler(g).expr(q.where)([g.twin("r1")])
    True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from processtwin.graph.query.semantics import (
    ORDER_OPS,
    TYPE_TESTS,
    UNDEFINED,
    compare,
    equal,
    kind,
)
from processtwin.graph.query.syntax import (
    And,
    Call,
    Compare,
    Expr,
    InList,
    IsOfModel,
    ListExpr,
    Literal,
    Not,
    Or,
    Path,
)
from processtwin.graph.types import GraphView

__all__ = ["Compiler", "Fn", "slots_of"]

Fn = Callable[[list[Any]], Any]

_MISSING: Any = object()
_SWAP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "!=": "!="}
_SCALARS = ("boolean", "number", "string", "null")
_STRING_FUNCTIONS: dict[str, Callable[[str, str], bool]] = {
    "STARTSWITH": str.startswith, "ENDSWITH": str.endswith, "CONTAINS": str.__contains__}


def slots_of(e: Expr) -> frozenset[int]:
    """The variable slots ``e`` reads."""
    if isinstance(e, Path | IsOfModel):
        return frozenset({e.slot})
    if isinstance(e, Literal):
        return frozenset()
    if isinstance(e, ListExpr):
        return frozenset().union(*(slots_of(x) for x in e.items))
    if isinstance(e, Compare | And | Or):
        return slots_of(e.left) | slots_of(e.right)
    if isinstance(e, InList):
        return slots_of(e.operand) | slots_of(e.items)
    if isinstance(e, Not):
        return slots_of(e.operand)
    return frozenset().union(*(slots_of(x) for x in e.args))


class Compiler:
    """Compiles expressions for one run against ``graph``."""

    def __init__(self, graph: GraphView) -> None:
        self.graph = graph

    def expr(self, e: Expr) -> Fn:
        """A closure computing ``e`` on a binding."""
        if isinstance(e, Path):
            return self.path(e)
        if isinstance(e, Literal):
            value = e.value
            return lambda b: value
        if isinstance(e, ListExpr):
            if all(isinstance(x, Literal) for x in e.items):
                const = [x.value for x in e.items if isinstance(x, Literal)]
                return lambda b: const
            fns = [self.expr(x) for x in e.items]
            return lambda b: [f(b) for f in fns]
        if isinstance(e, Compare):
            return self.compare(e)
        if isinstance(e, InList):
            return self.in_list(e)
        if isinstance(e, And):
            return _and(self.expr(e.left), self.expr(e.right))
        if isinstance(e, Or):
            return _or(self.expr(e.left), self.expr(e.right))
        if isinstance(e, Not):
            return _not(self.expr(e.operand))
        if isinstance(e, IsOfModel):
            return self.is_of_model(e)
        return self.call(e)

    # ----------------------------------------------------------------- paths

    def path(self, p: Path) -> Fn:
        slot, steps = p.slot, p.steps
        if not steps:
            return lambda b: b[slot]
        live = self.graph.live_value
        fallbacks: list[str | None] = []
        ok = p.kind == "twin"
        for i, s in enumerate(steps):
            ok = ok and isinstance(s, str) and not s.startswith("$")
            fallbacks.append(".".join(str(x) for x in steps[:i + 1]) if ok else None)
        first = steps[0]
        if len(steps) == 1 and isinstance(first, str) and p.kind != "rels":
            if fallbacks[0] is None:
                return lambda b: b[slot].get(first, UNDEFINED)

            def get1(b: list[Any]) -> Any:
                d = b[slot]
                v = d.get(first, _MISSING)
                if v is _MISSING:
                    v = live(d["$dtId"], first)
                    return UNDEFINED if v is None else v
                return v
            return get1
        pairs = list(zip(steps, fallbacks, strict=True))

        def walk(b: list[Any]) -> Any:
            v = d = b[slot]
            can_fall_back = True
            for s, fb in pairs:
                if isinstance(s, str):
                    if not isinstance(v, Mapping):
                        return UNDEFINED
                    nv = v.get(s, _MISSING)
                    if nv is _MISSING:
                        if fb is None or not can_fall_back:
                            return UNDEFINED
                        nv = live(d["$dtId"], fb)
                        if nv is None:
                            return UNDEFINED
                        can_fall_back = False
                    v = nv
                elif kind(v) == "array" and s < len(v):
                    v = v[s]
                else:
                    return UNDEFINED
            return v
        return walk

    # ----------------------------------------------------------------- comparisons

    def compare(self, e: Compare) -> Fn:
        op, left, right = e.op, e.left, e.right
        if isinstance(left, Literal) and not isinstance(right, Literal):
            op, left, right = _SWAP[op], right, left
        if isinstance(right, Literal) and kind(right.value) in _SCALARS:
            return _against_constant(op, self.expr(left), right.value)
        lf, rf = self.expr(left), self.expr(right)
        return lambda b: compare(op, lf(b), rf(b))

    def in_list(self, e: InList) -> Fn:
        get = self.expr(e.operand)
        negated = e.negated
        items = e.items.items
        if all(isinstance(x, Literal) and kind(x.value) in _SCALARS for x in items):
            by_kind: dict[str, set[Any]] = {}
            for x in items:
                if isinstance(x, Literal):
                    by_kind.setdefault(kind(x.value), set()).add(x.value)

            def member(b: list[Any]) -> Any:
                v = get(b)
                k = kind(v)
                if k == "undefined":
                    return UNDEFINED
                values = by_kind.get(k)
                return (values is not None and v in values) != negated
            return member
        fns = [self.expr(x) for x in items]

        def member_any(b: list[Any]) -> Any:
            v = get(b)
            if v is UNDEFINED:
                return UNDEFINED
            found = any(equal(v, f(b)) is True for f in fns)
            return found != negated
        return member_any

    # ----------------------------------------------------------------- functions

    def is_of_model(self, e: IsOfModel) -> Fn:
        slot, model, exact = e.slot, e.model, e.exact
        ask = self.graph.is_of_model
        cache: dict[Any, bool] = {}

        def test(b: list[Any]) -> bool:
            d = b[slot]
            meta = d.get("$metadata")
            own = meta.get("$model") if isinstance(meta, Mapping) else None
            if not isinstance(own, str):
                return bool(ask(d["$dtId"], model, exact))
            hit = cache.get(own)
            if hit is None:
                hit = cache[own] = bool(ask(d["$dtId"], model, exact))
            return hit
        return test

    def call(self, e: Call) -> Fn:
        args = [self.expr(a) for a in e.args]
        test = TYPE_TESTS.get(e.name)
        if test is not None:
            arg = args[0]
            return lambda b: test(arg(b))
        fn = _STRING_FUNCTIONS[e.name]
        a, c = args

        def string_test(b: list[Any]) -> Any:
            x, y = a(b), c(b)
            if kind(x) == "string" and kind(y) == "string":
                return fn(x, y)
            return UNDEFINED
        return string_test


def _against_constant(op: str, get: Fn, c: Any) -> Fn:
    k = kind(c)
    if op in ORDER_OPS:
        if k not in ("number", "string"):
            return lambda b: UNDEFINED
        cmp = ORDER_OPS[op]
        fast = float if k == "number" else str

        def order(b: list[Any]) -> Any:
            v = get(b)
            t = type(v)
            if t is fast or (k == "number" and t is int):
                return cmp(v, c)
            if kind(v) == k:
                return bool(cmp(v, c))
            return UNDEFINED
        return order
    want = op == "="

    def eq(b: list[Any]) -> Any:
        v = get(b)
        if kind(v) != k:
            return UNDEFINED
        return bool(v == c) == want
    return eq


def _and(left: Fn, right: Fn) -> Fn:
    def both(b: list[Any]) -> Any:
        lv = left(b)
        if lv is False:
            return False
        rv = right(b)
        if rv is False:
            return False
        return True if lv is True and rv is True else UNDEFINED
    return both


def _or(left: Fn, right: Fn) -> Fn:
    def either(b: list[Any]) -> Any:
        lv = left(b)
        if lv is True:
            return True
        rv = right(b)
        if rv is True:
            return True
        return False if lv is False and rv is False else UNDEFINED
    return either


def _not(operand: Fn) -> Fn:
    def negate(b: list[Any]) -> Any:
        v = operand(b)
        if v is True:
            return False
        if v is False:
            return True
        return UNDEFINED
    return negate
