"""Recursive-descent parser: query text → :class:`RawQuery` (names not yet checked).

Grammar (keywords case-insensitive; ``[..]`` optional, ``{..}`` repeated)::

    query   := SELECT [DISTINCT] [TOP '(' int ')'] [proj] FROM source [WHERE expr]
    proj    := '*' | COUNT '(' ')' | path [AS ident] {',' path [AS ident]}
    source  := DIGITALTWINS [[AS] ident] {JOIN ident RELATED ident '.' name [[AS] ident]}
             | DIGITALTWINS MATCH node {hop node}
             | RELATIONSHIPS [[AS] ident]
    node    := '(' [ident] ')'
    hop     := '-' [bracket] '-' ['>'] | '<' '-' [bracket] '-'
    bracket := '[' [ident] [':' name {'|' name}] ['*' [int] ['..' int]] ']'
    expr    := and {OR and};  and := not {AND not};  not := NOT not | cmp
    cmp     := operand [('='|'!='|'<'|'<='|'>'|'>=') operand | [NOT] IN list | NIN list]
    operand := literal | '-' number | list | '(' expr ')' | ident '(' [expr {',' expr}] ')'
             | ident {'.' name | '[' (string | int) ']'}

    >>> raw = parse("SELECT TOP(2) FROM DIGITALTWINS MATCH (a)-[r:feeds*1..2]->(b)")
    >>> raw.select.top, [(h.names, h.min_hops, h.max_hops) for h in raw.hops]
    (2, [(('feeds',), 1, 2)])
"""

from __future__ import annotations

from dataclasses import dataclass, field

from processtwin.errors import QueryError
from processtwin.graph.query.lexer import Token, tokenize
from processtwin.graph.query.syntax import (
    And,
    Call,
    Compare,
    Direction,
    Expr,
    InList,
    ListExpr,
    Literal,
    Not,
    Or,
    Path,
    Select,
    SelectItem,
)

__all__ = ["MAX_NESTING", "Hop", "Join", "Name", "RawQuery", "parse"]

#: Deepest nesting of parentheses, NOT and brackets in an expression.
MAX_NESTING = 64

_COMPARE = frozenset({"=", "!=", "<", "<=", ">", ">="})


@dataclass(frozen=True, slots=True)
class Name:
    """An identifier and where it is."""

    text: str
    pos: int


@dataclass(frozen=True, slots=True)
class Join:
    """``JOIN target RELATED source.rel [rel_var]``."""

    target: Name
    source: Name
    rel: Name
    rel_var: Name | None
    pos: int


@dataclass(frozen=True, slots=True)
class Hop:
    """One ``-[...]->`` of a MATCH; ``star`` when the bracket had a ``*`` (r binds a list).

    ``range_pos`` is where the ``*`` is (the hop's start without one).
    """

    rel_var: Name | None
    names: tuple[str, ...]
    min_hops: int
    max_hops: int
    star: bool
    direction: Direction
    pos: int
    range_pos: int


@dataclass(slots=True)
class RawQuery:
    """The query as written; :func:`processtwin.graph.query.resolve.resolve` checks it."""

    text: str
    select: Select
    source: str = "twins"
    alias: Name | None = None
    joins: list[Join] = field(default_factory=list)
    nodes: list[Name | None] = field(default_factory=list)
    hops: list[Hop] = field(default_factory=list)
    match_pos: int | None = None
    where: Expr | None = None


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = tokenize(text)
        self.i = 0
        self.depth = 0

    # ----------------------------------------------------------------- helpers

    @property
    def tok(self) -> Token:
        return self.toks[self.i]

    def peek(self, k: int = 1) -> Token:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def advance(self) -> Token:
        t = self.toks[self.i]
        if t.kind != "EOF":
            self.i += 1
        return t

    def error(self, message: str, tok: Token | None = None) -> QueryError:
        t = tok or self.tok
        return QueryError(message, t.pos, self.text)

    def describe(self, t: Token) -> str:
        return "the end of the query" if t.kind == "EOF" else repr(t.text)

    def accept(self, kind: str, value: str | None = None) -> Token | None:
        if self.tok.is_(kind, value):
            return self.advance()
        return None

    def expect(self, kind: str, value: str | None = None, what: str | None = None) -> Token:
        if self.tok.is_(kind, value):
            return self.advance()
        wanted = what or (value if value is not None else kind.lower())
        raise self.error(f"expected {wanted}, found {self.describe(self.tok)}")

    def keyword(self, value: str) -> Token | None:
        return self.accept("KEYWORD", value)

    def punct(self, value: str) -> Token | None:
        return self.accept("PUNCT", value)

    def ident(self, what: str) -> Name:
        t = self.tok
        if t.kind != "IDENT":
            extra = " (a reserved word)" if t.kind == "KEYWORD" else ""
            raise self.error(f"expected {what}, found {self.describe(t)}{extra}")
        self.advance()
        return Name(str(t.value), t.pos)

    def member(self) -> str:
        """A property or relationship name: any identifier, keywords included."""
        t = self.tok
        if t.kind in ("IDENT", "KEYWORD"):
            self.advance()
            return t.text
        raise self.error(f"expected a name, found {self.describe(t)}")

    def integer(self, what: str) -> int:
        t = self.tok
        if t.kind != "NUMBER" or not isinstance(t.value, int):
            raise self.error(f"expected {what}, found {self.describe(t)}")
        self.advance()
        return t.value

    def nest(self) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise self.error(f"expression nested deeper than {MAX_NESTING} levels")

    # ----------------------------------------------------------------- clauses

    def query(self) -> RawQuery:
        self.expect("KEYWORD", "SELECT")
        raw = RawQuery(self.text, self.select())
        self.expect("KEYWORD", "FROM")
        self.source(raw)
        if self.keyword("WHERE"):
            raw.where = self.expr()
        if self.tok.kind != "EOF":
            raise self.error(f"unexpected {self.describe(self.tok)}")
        return raw

    def select(self) -> Select:
        pos = self.tok.pos
        distinct = self.keyword("DISTINCT") is not None
        top: int | None = None
        if self.keyword("TOP"):
            self.expect("PUNCT", "(")
            top = self.integer("a whole number of rows")
            self.expect("PUNCT", ")")
        if self.punct("*"):
            return Select((), star=True, distinct=distinct, top=top, pos=pos)
        if self.keyword("COUNT"):
            self.expect("PUNCT", "(")
            self.expect("PUNCT", ")", what="')' (COUNT takes no argument)")
            return Select((), count=True, distinct=distinct, top=top, pos=pos)
        if top is not None and self.tok.is_("KEYWORD", "FROM"):
            return Select((), star=True, distinct=distinct, top=top, pos=pos)
        items = [self.select_item()]
        while self.punct(","):
            items.append(self.select_item())
        return Select(tuple(items), distinct=distinct, top=top, pos=pos)

    def select_item(self) -> SelectItem:
        t = self.tok
        if t.kind != "IDENT":
            raise self.error(f"expected an alias or property path, found {self.describe(t)}")
        path = self.path()
        if self.keyword("AS"):
            name = self.ident("a column name").text
        else:
            last = path.steps[-1] if path.steps else path.name
            if not isinstance(last, str):
                raise self.error("name this column with AS", t)
            name = last
        return SelectItem(name, path, t.pos)

    def source(self, raw: RawQuery) -> None:
        if self.keyword("RELATIONSHIPS"):
            raw.source = "relationships"
            raw.alias = self.alias()
            return
        self.expect("KEYWORD", "DIGITALTWINS", what="DIGITALTWINS or RELATIONSHIPS")
        if self.tok.is_("KEYWORD", "MATCH"):
            raw.match_pos = self.advance().pos
            self.pattern(raw)
            return
        raw.alias = self.alias()
        if self.tok.is_("KEYWORD", "MATCH"):
            raise self.error("MATCH names its own variables: write FROM DIGITALTWINS MATCH")
        while self.tok.is_("KEYWORD", "JOIN"):
            pos = self.advance().pos
            target = self.ident("the alias of the joined twin")
            self.expect("KEYWORD", "RELATED")
            source = self.ident("the alias the relationship starts from")
            self.expect("PUNCT", ".", what="'.' and a relationship name")
            rel_pos = self.tok.pos
            rel = Name(self.member(), rel_pos)
            raw.joins.append(Join(target, source, rel, self.alias(), pos))

    def alias(self) -> Name | None:
        if self.keyword("AS"):
            return self.ident("an alias")
        if self.tok.kind == "IDENT":
            return self.ident("an alias")
        return None

    # ----------------------------------------------------------------- MATCH

    def pattern(self, raw: RawQuery) -> None:
        raw.nodes.append(self.node())
        while self.tok.is_("PUNCT", "-") or self.tok.is_("PUNCT", "<"):
            raw.hops.append(self.hop())
            raw.nodes.append(self.node())

    def node(self) -> Name | None:
        self.expect("PUNCT", "(", what="'(' opening a twin of the pattern")
        name = self.ident("a variable name or ')'") if self.tok.kind == "IDENT" else None
        self.expect("PUNCT", ")")
        return name

    def hop(self) -> Hop:
        pos = self.tok.pos
        left = self.punct("<") is not None
        self.expect("PUNCT", "-")
        var: Name | None = None
        names: tuple[str, ...] = ()
        lo, hi, star, range_pos = 1, 1, False, pos
        if self.tok.is_("PUNCT", "["):
            var, names, lo, hi, range_pos = self.bracket()
            star = range_pos >= 0
            range_pos = range_pos if star else pos
        self.expect("PUNCT", "-", what="'-' closing the relationship")
        right = self.tok.is_("PUNCT", ">")
        if right:
            if left:
                raise self.error("a hop points one way (<-[]-, -[]->) or none (-[]-)")
            self.advance()
        direction: Direction = "in" if left else "out" if right else "both"
        return Hop(var, names, lo, hi, star, direction, pos, range_pos)

    def bracket(self) -> tuple[Name | None, tuple[str, ...], int, int, int]:
        """Variable, names, hop range and where its ``*`` is (-1 without one)."""
        self.expect("PUNCT", "[")
        var = self.ident("a variable name") if self.tok.kind == "IDENT" else None
        names: list[str] = []
        if self.punct(":"):
            names.append(self.member())
            while self.punct("|"):
                names.append(self.member())
        lo, hi, star_pos = 1, 1, -1
        if self.tok.is_("PUNCT", "*"):
            star_pos = self.advance().pos
            lo, hi = self.hop_range()
        self.expect("PUNCT", "]")
        return var, tuple(dict.fromkeys(names)), lo, hi, star_pos

    def hop_range(self) -> tuple[int, int]:
        if self.tok.kind == "NUMBER":
            lo = self.integer("a whole number of hops")
            if not self.punct(".."):
                return lo, lo
        elif self.punct(".."):
            lo = 1
        else:
            raise self.error("give the number of hops: *2, *1..3 or *..3")
        if self.tok.kind != "NUMBER":
            raise self.error("give an upper bound for the hops (*1..3)")
        hi_tok = self.tok
        hi = self.integer("a whole number of hops")
        if hi < lo:
            raise self.error(f"the hop range {lo}..{hi} is empty", hi_tok)
        return lo, hi

    # ----------------------------------------------------------------- expressions

    def expr(self) -> Expr:
        left = self.conj()
        while t := self.keyword("OR"):
            left = Or(left, self.conj(), t.pos)
        return left

    def conj(self) -> Expr:
        left = self.negation()
        while t := self.keyword("AND"):
            left = And(left, self.negation(), t.pos)
        return left

    def negation(self) -> Expr:
        if t := self.keyword("NOT"):
            self.nest()
            operand = self.negation()
            self.depth -= 1
            return Not(operand, t.pos)
        return self.comparison()

    def comparison(self) -> Expr:
        left = self.operand()
        t = self.tok
        if t.kind == "PUNCT" and t.value in _COMPARE:
            self.advance()
            return Compare(str(t.value), left, self.operand(), t.pos)
        if t.is_("KEYWORD", "IN") or t.is_("KEYWORD", "NIN"):
            self.advance()
            return InList(left, self.in_list(), t.value == "NIN", t.pos)
        if t.is_("KEYWORD", "NOT") and self.peek().is_("KEYWORD", "IN"):
            self.advance()
            self.advance()
            return InList(left, self.in_list(), True, t.pos)
        return left

    def in_list(self) -> ListExpr:
        if not self.tok.is_("PUNCT", "["):
            raise self.error(f"expected '[' opening a list, found {self.describe(self.tok)}")
        return self.list_expr()

    def list_expr(self) -> ListExpr:
        pos = self.expect("PUNCT", "[").pos
        self.nest()
        items: list[Expr] = []
        if not self.tok.is_("PUNCT", "]"):
            items.append(self.expr())
            while self.punct(","):
                items.append(self.expr())
        self.expect("PUNCT", "]", what="',' or ']'")
        self.depth -= 1
        return ListExpr(tuple(items), pos)

    def operand(self) -> Expr:
        t = self.tok
        if t.kind in ("STRING", "NUMBER"):
            self.advance()
            return Literal(t.value, t.pos)
        if t.kind == "KEYWORD" and t.value in ("TRUE", "FALSE", "NULL"):
            self.advance()
            return Literal({"TRUE": True, "FALSE": False, "NULL": None}[t.value], t.pos)
        if t.is_("PUNCT", "-"):
            self.advance()
            n = self.tok
            if n.kind != "NUMBER":
                raise self.error(f"expected a number after '-', found {self.describe(n)}")
            self.advance()
            return Literal(-n.value, t.pos)
        if t.is_("PUNCT", "["):
            return self.list_expr()
        if t.is_("PUNCT", "("):
            self.advance()
            self.nest()
            inner = self.expr()
            self.expect("PUNCT", ")", what="')'")
            self.depth -= 1
            return inner
        if t.kind == "IDENT":
            if self.peek().is_("PUNCT", "("):
                return self.call()
            return self.path()
        raise self.error(f"expected a value, found {self.describe(t)}")

    def call(self) -> Call:
        name = self.advance()
        self.advance()  # '('
        self.nest()
        args: list[Expr] = []
        if not self.tok.is_("PUNCT", ")"):
            args.append(self.expr())
            while self.punct(","):
                args.append(self.expr())
        self.expect("PUNCT", ")", what="',' or ')'")
        self.depth -= 1
        return Call(str(name.value).upper(), tuple(args), name.pos)

    def path(self) -> Path:
        head = self.ident("an alias or property name")
        steps: list[str | int] = []
        while True:
            if self.punct("."):
                steps.append(self.member())
            elif self.tok.is_("PUNCT", "["):
                self.advance()
                t = self.tok
                if t.kind == "STRING":
                    steps.append(str(t.value))
                elif t.kind == "NUMBER" and isinstance(t.value, int):
                    steps.append(t.value)
                else:
                    raise self.error("expected a 'name' or an index in [...]")
                self.advance()
                self.expect("PUNCT", "]")
            else:
                return Path(head.text, tuple(steps), head.pos)


def parse(text: str) -> RawQuery:
    """Parse ``text``; raise :class:`~processtwin.errors.QueryError` where it goes wrong."""
    return _Parser(text).query()
