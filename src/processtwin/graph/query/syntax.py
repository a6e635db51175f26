"""The parsed form of a query: frozen dataclasses, each node with its 0-based text offset.

The parser builds expressions with variable *names*; :mod:`.resolve` checks them and returns
a :class:`Query` whose paths carry the *slot* of their variable, ready to plan and run.

    >>> from processtwin.graph.query import parse_query
    >>> q = parse_query("SELECT T.name AS n FROM DIGITALTWINS T WHERE T.$dtId = 'r1'")
    >>> q.select.items[0].name, q.variables[0].name, q.variables[0].kind
    ('n', 'T', 'twin')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from typing import Literal as TypingLiteral

__all__ = [
    "And", "Call", "Compare", "Edge", "Expr", "InList", "IsOfModel", "ListExpr", "Literal",
    "Not", "Or", "Path", "Query", "Select", "SelectItem", "VarKind", "Variable",
]

#: ``twin``: a twin document; ``rel``: one relationship document; ``rels``: the list of
#: relationships of a variable-length hop.
VarKind = TypingLiteral["twin", "rel", "rels"]
Direction = TypingLiteral["out", "in", "both"]


@dataclass(frozen=True, slots=True)
class Literal:
    """A string, number, boolean or null literal."""

    value: Any
    pos: int


@dataclass(frozen=True, slots=True)
class ListExpr:
    """``[a, b, ...]``."""

    items: tuple[Expr, ...]
    pos: int


@dataclass(frozen=True, slots=True)
class Path:
    """``T``, ``T.a.b``, ``T.tags[0]``, ``T['odd name']``; ``slot`` is -1 until resolved.

    Before resolution ``name`` is the first identifier; for a query with one unnamed variable
    (``SELECT * FROM DIGITALTWINS WHERE $dtId = 'x'``) resolution moves it into ``steps``.
    """

    name: str
    steps: tuple[str | int, ...]
    pos: int
    slot: int = -1
    kind: VarKind = "twin"


@dataclass(frozen=True, slots=True)
class Compare:
    """``left op right`` with op one of ``= != < <= > >=``."""

    op: str
    left: Expr
    right: Expr
    pos: int


@dataclass(frozen=True, slots=True)
class InList:
    """``operand IN [...]`` (or ``NIN`` / ``NOT IN`` when ``negated``)."""

    operand: Expr
    items: ListExpr
    negated: bool
    pos: int


@dataclass(frozen=True, slots=True)
class And:
    left: Expr
    right: Expr
    pos: int


@dataclass(frozen=True, slots=True)
class Or:
    left: Expr
    right: Expr
    pos: int


@dataclass(frozen=True, slots=True)
class Not:
    operand: Expr
    pos: int


@dataclass(frozen=True, slots=True)
class Call:
    """A function call; ``name`` is upper case."""

    name: str
    args: tuple[Expr, ...]
    pos: int


@dataclass(frozen=True, slots=True)
class IsOfModel:
    """``IS_OF_MODEL`` resolved: the twin in ``slot`` is of ``model`` (exactly, or extends)."""

    slot: int
    model: str
    exact: bool
    pos: int


Expr = Literal | ListExpr | Path | Compare | InList | And | Or | Not | Call | IsOfModel


@dataclass(frozen=True, slots=True)
class SelectItem:
    """One projection: ``expr`` under the output key ``name``."""

    name: str
    expr: Path
    pos: int


@dataclass(frozen=True, slots=True)
class Select:
    """The SELECT clause. ``star`` and ``count`` exclude ``items``."""

    items: tuple[SelectItem, ...]
    star: bool = False
    count: bool = False
    distinct: bool = False
    top: int | None = None
    pos: int = 0


@dataclass(frozen=True, slots=True)
class Variable:
    """A query variable; ``name`` is None for an unnamed one (``()`` or a bare FROM)."""

    name: str | None
    kind: VarKind
    slot: int
    pos: int


@dataclass(frozen=True, slots=True)
class Edge:
    """A hop between two twin variables, as written: ``left -[names*lo..hi]-> right``.

    ``direction`` is seen from ``left``. ``rel_slot`` holds the relationship (or the list of
    them when ``star``: the hop was written with ``*``). ``unique``: the relationships of one
    result row are pairwise distinct across every unique edge (MATCH); JOINs are plain joins.
    """

    left: int
    right: int
    direction: Direction
    names: tuple[str, ...]
    min_hops: int
    max_hops: int
    rel_slot: int | None
    unique: bool
    pos: int
    star: bool = False


@dataclass(frozen=True, slots=True)
class Query:
    """A checked query: variables by slot, the hops between them, the filter and projection.

    ``source`` tells what slot 0 ranges over when no anchor applies: every twin, or (FROM
    RELATIONSHIPS) every relationship.
    """

    text: str
    select: Select
    variables: tuple[Variable, ...]
    source: TypingLiteral["twins", "relationships"]
    edges: tuple[Edge, ...]
    where: Expr | None
