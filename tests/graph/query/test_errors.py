"""Every malformed query raises QueryError at the offending token, and nothing else."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from processtwin.errors import InvalidInputError, QueryError
from processtwin.graph.query import (
    MAX_HOPS,
    MAX_JOINS,
    MAX_NESTING,
    MAX_QUERY_LENGTH,
    parse_query,
    run_query,
)
from tests.graph.query.plant import memory_plant


def error_at(text: str) -> tuple[int, str]:
    with pytest.raises(QueryError) as exc:
        parse_query(text)
    return exc.value.position, exc.value.reason


@pytest.mark.parametrize(("text", "marker", "reason"), [
    # syntax
    ("", "", "expected SELECT"),
    ("SELECT", "", "alias or property path"),
    ("SELECT * FROM", "", "DIGITALTWINS or RELATIONSHIPS"),
    ("SELECT * FROM TWINS", "TWINS", "DIGITALTWINS or RELATIONSHIPS"),
    ("SELECT TOP FROM DIGITALTWINS", "FROM", "expected ("),
    ("SELECT TOP() FROM DIGITALTWINS", ")", "whole number"),
    ("SELECT TOP(2.5) FROM DIGITALTWINS", "2.5", "whole number"),
    ("SELECT TOP(x) FROM DIGITALTWINS", "x)", "whole number"),
    ("SELECT COUNT(T) FROM DIGITALTWINS T", "T)", "COUNT takes no argument"),
    ("SELECT * FROM DIGITALTWINS WHERE T.x = 'abc", "'abc", "unterminated string"),
    ("SELECT * FROM DIGITALTWINS WHERE x = 'a\\qb'", "\\q", "unknown escape"),
    ("SELECT * FROM DIGITALTWINS WHERE x = '\\u12'", "\\u", "four hex digits"),
    ("SELECT * FROM DIGITALTWINS WHERE x = #", "#", "unexpected character"),
    ("SELECT * FROM DIGITALTWINS WHERE", "", "expected a value"),
    ("SELECT * FROM DIGITALTWINS WHERE x = ", "", "expected a value"),
    ("SELECT * FROM DIGITALTWINS WHERE (x = 1", "", "expected ')'"),
    ("SELECT * FROM DIGITALTWINS WHERE x IN 'a'", "'a'", "expected '['"),
    ("SELECT * FROM DIGITALTWINS WHERE x IN [1, 2", "", "',' or ']'"),
    ("SELECT * FROM DIGITALTWINS WHERE x = - 'a'", "'a'", "number after '-'"),
    ("SELECT * FROM DIGITALTWINS T extra", "extra", "unexpected"),
    ("SELECT * FROM DIGITALTWINS T WHERE T.x = 1 T.y = 2", "T.y", "unexpected"),
    ("SELECT T. FROM DIGITALTWINS T", "DIGITALTWINS", "expected FROM"),  # T.FROM is a name
    ("SELECT T. , T.y FROM DIGITALTWINS T", ",", "expected a name"),
    ("SELECT T.x AS FROM DIGITALTWINS T", "FROM", "column name"),
    ("SELECT T.tags[0] FROM DIGITALTWINS T", "T.tags", "name this column with AS"),
    ("SELECT * FROM DIGITALTWINS T JOIN CT T.contains", "T.contains", "expected related"),
    ("SELECT * FROM DIGITALTWINS T JOIN CT RELATED T", "", "relationship name"),
    ("SELECT * FROM DIGITALTWINS T MATCH (a)", "MATCH", "MATCH names its own"),
    ("SELECT * FROM DIGITALTWINS MATCH a", "a", "'('"),
    ("SELECT * FROM DIGITALTWINS MATCH (a)-[r:x]-(b", "", "expected )"),
    ("SELECT * FROM DIGITALTWINS MATCH (a)<-[r]->(b)", ">", "points one way"),
    ("SELECT * FROM DIGITALTWINS MATCH (a)-[*]->(b)", "]", "number of hops"),
    ("SELECT * FROM DIGITALTWINS MATCH (a)-[*2..]->(b)", "]", "upper bound"),
    ("SELECT * FROM DIGITALTWINS MATCH (a)-[*3..1]->(b)", "1]", "empty"),
    ("SELECT * FROM DIGITALTWINS MATCH (a)-[r:]->(b)", "]", "expected a name"),
    ("SELECT * FROM DIGITALTWINS MATCH (a)-[r x]->(b)", "x]", "expected ]"),
    # semantics
    ("SELECT X FROM DIGITALTWINS T", "X", "unknown alias 'X'"),
    ("SELECT T.x FROM DIGITALTWINS T WHERE U.y = 1", "U.y", "unknown alias 'U'"),
    ("SELECT * FROM DIGITALTWINS T JOIN CT RELATED X.contains", "X.", "unknown alias 'X'"),
    ("SELECT * FROM DIGITALTWINS T JOIN T RELATED T.contains", "T RELATED", "already taken"),
    ("SELECT * FROM DIGITALTWINS T JOIN C RELATED T.x R JOIN D RELATED R.y",
     "R.y", "is a relationship"),
    ("SELECT * FROM DIGITALTWINS JOIN C RELATED T.x", "JOIN", "name the twins"),
    ("SELECT * FROM DIGITALTWINS MATCH (a)-[a]->(b)", "a]", "already taken"),
    ("SELECT T.x, T.x FROM DIGITALTWINS T", "T.x FROM", "two columns"),
    ("SELECT * FROM DIGITALTWINS T WHERE FOO(T)", "FOO", "unknown function FOO"),
    ("SELECT * FROM DIGITALTWINS T WHERE IS_DEFINED()", "IS_DEFINED", "takes 1 argument"),
    ("SELECT * FROM DIGITALTWINS T WHERE STARTSWITH(T.x)", "STARTSWITH", "takes 2"),
    ("SELECT * FROM DIGITALTWINS T WHERE IS_OF_MODEL(T)", "IS_OF_MODEL", "needs the model"),
    ("SELECT * FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, 'm', 'x', 'y')", "IS_OF_MODEL",
     "takes 1 to 3"),
    ("SELECT * FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, T.m)", "T.m)", "string literal"),
    ("SELECT * FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, 'm', fast)", "fast", "'exact'"),
    ("SELECT * FROM DIGITALTWINS T WHERE IS_OF_MODEL(T.x, 'm')", "T.x", "twin alias"),
    ("SELECT * FROM DIGITALTWINS T WHERE IS_OF_MODEL(X, 'm')", "X,", "unknown alias"),
    ("SELECT * FROM DIGITALTWINS T JOIN C RELATED T.x R WHERE IS_OF_MODEL(R, 'm')", "R, ",
     "is a relationship"),
    ("SELECT * FROM DIGITALTWINS T JOIN C RELATED T.x WHERE IS_OF_MODEL('m')", "IS_OF_MODEL",
     "several twins"),
    ("SELECT * FROM RELATIONSHIPS R WHERE IS_OF_MODEL('m')", "IS_OF_MODEL", "has none"),
])
def test_error_positions(text: str, marker: str, reason: str | None) -> None:
    pos, why = error_at(text)
    want = text.index(marker) if marker else len(text)
    assert pos == want, (why, text[pos:])
    if reason is not None:
        assert reason.lower() in why.lower()


def test_error_line_and_column_for_multiline_queries() -> None:
    with pytest.raises(QueryError) as exc:
        parse_query("SELECT *\nFROM DIGITALTWINS T\nWHERE T.x == 1")
    assert (exc.value.line, exc.value.column) == (3, 12)


def test_query_length_limit() -> None:
    ok = "SELECT * FROM DIGITALTWINS WHERE x = '" + "a" * (MAX_QUERY_LENGTH - 40) + "'"
    parse_query(ok)
    text = "SELECT * FROM DIGITALTWINS WHERE x = '" + "a" * MAX_QUERY_LENGTH + "'"
    pos, why = error_at(text)
    assert (pos, str(MAX_QUERY_LENGTH)) == (MAX_QUERY_LENGTH, why.split()[-2])


def test_hop_limit_counts_the_whole_pattern() -> None:
    parse_query(f"SELECT * FROM DIGITALTWINS MATCH (a)-[*1..{MAX_HOPS}]->(b)")
    pos, why = error_at(f"SELECT * FROM DIGITALTWINS MATCH (a)-[*{MAX_HOPS + 1}]->(b)")
    assert (pos, "hops" in why) == (38, True)
    text = "SELECT * FROM DIGITALTWINS MATCH (a)-[*..6]->(b)-[*..4]->(c)-->(d)"
    assert error_at(text)[0] == text.index("-->")


def test_join_limit() -> None:
    joins = " ".join(f"JOIN C{i} RELATED T.x" for i in range(MAX_JOINS))
    parse_query(f"SELECT * FROM DIGITALTWINS T {joins}")
    text = f"SELECT * FROM DIGITALTWINS T {joins} JOIN Z RELATED T.x"
    assert error_at(text)[0] == text.index("JOIN Z")


def test_nesting_limit() -> None:
    ok = "SELECT * FROM DIGITALTWINS WHERE " + "(" * (MAX_NESTING - 1) + "x = 1" + ")" * (
        MAX_NESTING - 1)
    parse_query(ok)
    deep = "SELECT * FROM DIGITALTWINS WHERE " + "NOT " * 1000 + "x = 1"
    pos, why = error_at(deep)
    assert "nested" in why
    assert 0 <= pos <= len(deep)


def test_huge_numbers_are_query_errors() -> None:
    assert "too long" in error_at("SELECT TOP(" + "9" * 5000 + ") FROM DIGITALTWINS")[1]
    assert "out of range" in error_at("SELECT * FROM DIGITALTWINS WHERE x = 1e999")[1]


def test_non_text_queries_are_refused() -> None:
    with pytest.raises(InvalidInputError):
        parse_query(42)  # type: ignore[arg-type]


# ------------------------------------------------------------------ fuzzing

VALID = [
    "SELECT * FROM DIGITALTWINS",
    "SELECT T, CT FROM DIGITALTWINS T JOIN CT RELATED T.contains R WHERE R.x = 1",
    "SELECT TOP(3) T.name AS n FROM DIGITALTWINS T WHERE T.$dtId IN ['a', \"b\"]",
    "SELECT COUNT() FROM RELATIONSHIPS R WHERE R.$sourceId = 'r1'",
    "SELECT DISTINCT T.$metadata.$model FROM DIGITALTWINS T WHERE NOT T.x < -2.5e1",
    "SELECT a, b FROM DIGITALTWINS MATCH (a)-[r:feeds|drains*1..3]->(b)<-[*2]-(c) "
    "WHERE a.$dtId = 'p1' AND (IS_OF_MODEL(b, 'dtmi:x;1', exact) OR STARTSWITH(c.t, 'x'))",
    "SELECT * FROM DIGITALTWINS MATCH (a)-[]-()--(b) WHERE IS_NULL(a.x) OR b.y NIN [1, null]",
    "SELECT T.tags[0] AS t FROM DIGITALTWINS T WHERE T['x y'] != true",
]
VOCAB = ["SELECT", "FROM", "WHERE", "JOIN", "RELATED", "MATCH", "AND", "OR", "NOT", "IN", "NIN",
         "TOP", "COUNT", "DISTINCT", "AS", "DIGITALTWINS", "RELATIONSHIPS", "T", "CT", "R",
         "T.x", "$dtId", "IS_OF_MODEL", "exact", "(", ")", "[", "]", "-", "->", "<-", "*", "..",
         ",", ".", "=", "!=", "<", ">=", "|", ":", "'s'", "'unterminated", '"q\\"', "1", "2.5",
         "1e999", "-3", "null", "true", "#", "\\", "'\\u00'", "*1..3", "*..99", "([", "])",
         "IS_DEFINED(", "STARTSWITH(T.x,", " ", "\n"]
_SPLIT = re.compile(r"\s+|'[^']*'|\"[^\"]*\"|\$?\w+|\.\.|!=|<=|>=|\S")


def check(text: str) -> None:
    """Parse ``text``; when it parses, run it on the plant: only QueryError may come out."""
    position: int | None = None
    try:
        query = parse_query(text)
    except QueryError as exc:
        position = exc.position
    if position is not None:
        assert 0 <= position <= len(text), (position, text)
        return
    run_query(memory_plant(), query, limit=50)


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=120))
def test_random_text_parses_or_raises_query_error(text: str) -> None:
    check(text)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(VOCAB), max_size=30).map("".join))
def test_token_soup_parses_or_raises_query_error(text: str) -> None:
    check(text)


@st.composite
def mutated(draw: st.DrawFn) -> str:
    tokens = _SPLIT.findall(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["insert", "delete", "swap", "replace"]))
        i = draw(st.integers(0, max(0, len(tokens) - 1)))
        if op == "insert":
            tokens.insert(i, " " + draw(st.sampled_from(VOCAB)) + " ")
        elif op == "delete" and tokens:
            del tokens[i]
        elif op == "swap" and tokens:
            j = draw(st.integers(0, len(tokens) - 1))
            tokens[i], tokens[j] = tokens[j], tokens[i]
        elif tokens:
            tokens[i] = draw(st.sampled_from(VOCAB))
    return "".join(tokens)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_queries_parse_or_raise_query_error(text: str) -> None:
    check(text)


@pytest.mark.parametrize("text", VALID)
def test_the_fuzz_corpus_is_valid(text: str) -> None:
    parse_query(text)
