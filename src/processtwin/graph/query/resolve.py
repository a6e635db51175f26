"""Semantic checks: every name known, every function called right, hops within limits.

Turns a :class:`~processtwin.graph.query.parser.RawQuery` into a
:class:`~processtwin.graph.query.syntax.Query`: variables get slots, paths get their slot and
kind, ``IS_OF_MODEL`` calls become :class:`IsOfModel` nodes, JOINs and MATCH hops become
:class:`Edge` s. Every problem raises :class:`~processtwin.errors.QueryError` at the offending
name.

    >>> from processtwin.graph.query.parser import parse
    >>> q = resolve(parse("SELECT CT FROM DIGITALTWINS T JOIN CT RELATED T.contains R"))
    >>> [(v.name, v.kind) for v in q.variables], q.edges[0].names
    ([('T', 'twin'), ('CT', 'twin'), ('R', 'rel')], ('contains',))
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from processtwin.errors import QueryError
from processtwin.graph.query.parser import Name, RawQuery, parse
from processtwin.graph.query.syntax import (
    And,
    Call,
    Compare,
    Edge,
    Expr,
    InList,
    IsOfModel,
    ListExpr,
    Literal,
    Not,
    Or,
    Path,
    Query,
    Select,
    SelectItem,
    Variable,
    VarKind,
)

__all__ = ["FUNCTIONS", "MAX_HOPS", "MAX_JOINS", "compile_query", "resolve"]

#: Most hops one MATCH pattern may walk (the sum of every hop's upper bound).
MAX_HOPS = 10
#: Most JOINs in one query (the Azure Digital Twins limit).
MAX_JOINS = 5

#: Function name → (fewest, most) arguments.
FUNCTIONS: dict[str, tuple[int, int]] = {
    "IS_OF_MODEL": (1, 3), "IS_DEFINED": (1, 1), "IS_NULL": (1, 1), "IS_BOOL": (1, 1),
    "IS_NUMBER": (1, 1), "IS_STRING": (1, 1), "IS_PRIMITIVE": (1, 1), "IS_OBJECT": (1, 1),
    "IS_ARRAY": (1, 1), "STARTSWITH": (2, 2), "ENDSWITH": (2, 2), "CONTAINS": (2, 2),
}


@dataclass(slots=True)
class _Scope:
    text: str
    variables: list[Variable]
    by_name: dict[str, Variable]
    implicit: Variable | None = None

    def add(self, name: Name | None, kind: VarKind, pos: int) -> Variable:
        if name is not None and name.text in self.by_name:
            raise QueryError(f"the name {name.text!r} is already taken", name.pos, self.text)
        var = Variable(name.text if name else None, kind, len(self.variables), pos)
        self.variables.append(var)
        if name is not None:
            self.by_name[name.text] = var
        return var

    def twin(self, name: Name) -> Variable:
        var = self.by_name.get(name.text)
        if var is None:
            raise QueryError(f"unknown alias {name.text!r}", name.pos, self.text)
        if var.kind != "twin":
            raise QueryError(f"{name.text!r} is a relationship, not a twin", name.pos, self.text)
        return var

    def twins(self) -> list[Variable]:
        return [v for v in self.variables if v.kind == "twin"]

    def error(self, message: str, pos: int) -> QueryError:
        return QueryError(message, pos, self.text)


def compile_query(text: str) -> Query:
    """Parse and check ``text``."""
    return resolve(parse(text))


def resolve(raw: RawQuery) -> Query:
    """Check ``raw`` and give every variable its slot."""
    scope = _Scope(raw.text, [], {})
    edges: list[Edge] = []
    if raw.match_pos is not None:
        _pattern(raw, scope, edges)
    elif raw.source == "relationships":
        var = scope.add(raw.alias, "rel", raw.alias.pos if raw.alias else 0)
        scope.implicit = var if raw.alias is None else None
    else:
        var = scope.add(raw.alias, "twin", raw.alias.pos if raw.alias else 0)
        if raw.alias is None and not raw.joins:
            scope.implicit = var
        _joins(raw, scope, edges)
    where = _expr(raw.where, scope) if raw.where is not None else None
    select = _select(raw.select, scope)
    return Query(raw.text, select, tuple(scope.variables),
                 "relationships" if raw.source == "relationships" else "twins",
                 tuple(edges), where)


def _joins(raw: RawQuery, scope: _Scope, edges: list[Edge]) -> None:
    if raw.joins and raw.alias is None:
        raise scope.error("name the twins of FROM DIGITALTWINS to JOIN them (FROM DIGITALTWINS T)",
                          raw.joins[0].pos)
    for n, join in enumerate(raw.joins):
        if n == MAX_JOINS:
            raise scope.error(f"at most {MAX_JOINS} JOINs are allowed", join.pos)
        source = scope.twin(join.source)
        target = scope.add(join.target, "twin", join.target.pos)
        rel = scope.add(join.rel_var, "rel", join.rel_var.pos) if join.rel_var else None
        edges.append(Edge(source.slot, target.slot, "out", (join.rel.text,), 1, 1,
                          rel.slot if rel else None, False, join.pos))


def _pattern(raw: RawQuery, scope: _Scope, edges: list[Edge]) -> None:
    nodes: list[int] = []
    for name in raw.nodes:
        existing = scope.by_name.get(name.text) if name else None
        if existing is not None and existing.kind == "twin":
            nodes.append(existing.slot)  # the same twin again: the pattern closes a cycle
        else:
            nodes.append(scope.add(name, "twin", name.pos if name else raw.match_pos or 0).slot)
    total = 0
    for i, hop in enumerate(raw.hops):
        total += hop.max_hops
        if total > MAX_HOPS:
            raise scope.error(f"a MATCH may walk at most {MAX_HOPS} hops in all", hop.range_pos)
        rel = None
        if hop.rel_var is not None:
            rel = scope.add(hop.rel_var, "rels" if hop.star else "rel", hop.rel_var.pos)
        edges.append(Edge(nodes[i], nodes[i + 1], hop.direction, hop.names, hop.min_hops,
                          hop.max_hops, rel.slot if rel else None, True, hop.pos, hop.star))


def _select(select: Select, scope: _Scope) -> Select:
    if select.star or select.count:
        return select
    items: list[SelectItem] = []
    seen: dict[str, int] = {}
    for item in select.items:
        if item.name in seen:
            raise scope.error(f"two columns are called {item.name!r}: rename one with AS",
                              item.pos)
        seen[item.name] = item.pos
        expr = _path(item.expr, scope)
        items.append(replace(item, expr=expr))
    return replace(select, items=tuple(items))


def _path(path: Path, scope: _Scope) -> Path:
    var = scope.by_name.get(path.name)
    if var is not None:
        return replace(path, slot=var.slot, kind=var.kind)
    if scope.implicit is not None:
        return replace(path, steps=(path.name, *path.steps), slot=scope.implicit.slot,
                       kind=scope.implicit.kind)
    raise scope.error(f"unknown alias {path.name!r}", path.pos)


def _expr(e: Expr, scope: _Scope) -> Expr:
    if isinstance(e, Path):
        return _path(e, scope)
    if isinstance(e, Literal | IsOfModel):
        return e
    if isinstance(e, ListExpr):
        return replace(e, items=tuple(_expr(x, scope) for x in e.items))
    if isinstance(e, Compare):
        return replace(e, left=_expr(e.left, scope), right=_expr(e.right, scope))
    if isinstance(e, InList):
        items = replace(e.items, items=tuple(_expr(x, scope) for x in e.items.items))
        return replace(e, operand=_expr(e.operand, scope), items=items)
    if isinstance(e, And | Or):
        return replace(e, left=_expr(e.left, scope), right=_expr(e.right, scope))
    if isinstance(e, Not):
        return replace(e, operand=_expr(e.operand, scope))
    return _call(e, scope)


def _call(call: Call, scope: _Scope) -> Expr:
    arity = FUNCTIONS.get(call.name)
    if arity is None:
        raise scope.error(f"unknown function {call.name}", call.pos)
    lo, hi = arity
    if not lo <= len(call.args) <= hi:
        want = str(lo) if lo == hi else f"{lo} to {hi}"
        raise scope.error(f"{call.name} takes {want} argument(s), got {len(call.args)}",
                          call.pos)
    if call.name == "IS_OF_MODEL":
        return _is_of_model(call, scope)
    return replace(call, args=tuple(_expr(a, scope) for a in call.args))


def _is_of_model(call: Call, scope: _Scope) -> IsOfModel:
    args = list(call.args)
    slot: int | None = None
    first = args[0]
    if isinstance(first, Path) and not first.steps:
        var = scope.by_name.get(first.name)
        if var is None:
            raise scope.error(f"unknown alias {first.name!r}", first.pos)
        if var.kind != "twin":
            raise scope.error(f"IS_OF_MODEL needs a twin; {first.name!r} is a relationship",
                              first.pos)
        slot = var.slot
        args.pop(0)
    elif not (isinstance(first, Literal) and isinstance(first.value, str)):
        raise scope.error("IS_OF_MODEL takes a twin alias and a model id", _pos(first))
    if not args:
        raise scope.error("IS_OF_MODEL needs the model id", call.pos)
    model = args.pop(0)
    if not (isinstance(model, Literal) and isinstance(model.value, str)):
        raise scope.error("the model must be a string literal ('dtmi:...;1')", _pos(model))
    exact = False
    if args:
        flag = args.pop(0)
        if not (isinstance(flag, Path) and not flag.steps and flag.name.lower() == "exact"):
            raise scope.error("the last argument of IS_OF_MODEL can only be 'exact'", _pos(flag))
        exact = True
    if args:
        raise scope.error("IS_OF_MODEL takes a twin alias, a model id and 'exact'",
                          _pos(args[0]))
    if slot is None:
        twins = scope.twins()
        if not twins:
            raise scope.error("IS_OF_MODEL needs a twin; this query has none", call.pos)
        if len(twins) > 1:
            raise scope.error("several twins are in scope: say which, IS_OF_MODEL(T, '...')",
                              call.pos)
        slot = twins[0].slot
    return IsOfModel(slot, model.value, exact, call.pos)


def _pos(e: Expr) -> int:
    return e.pos
