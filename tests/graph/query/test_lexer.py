"""Tokens, strings, numbers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from processtwin.errors import QueryError
from processtwin.graph.query.lexer import tokenize


def kinds(text: str) -> list[tuple[str, object]]:
    return [(t.kind, t.value) for t in tokenize(text)[:-1]]


def test_keywords_are_case_insensitive_identifiers_are_not() -> None:
    assert kinds("sElEcT Foo $dtId") == [("KEYWORD", "SELECT"), ("IDENT", "Foo"),
                                         ("IDENT", "$dtId")]


def test_positions() -> None:
    toks = tokenize("SELECT  T.x\n<= 1")
    assert [t.pos for t in toks] == [0, 8, 9, 10, 12, 15, 16]
    assert toks[-1].kind == "EOF"


@pytest.mark.parametrize(("text", "value"), [
    ("'a'", "a"), ('"a"', "a"), ("'it\\'s'", "it's"), ('"say \\"hi\\""', 'say "hi"'),
    ("'a\"b'", 'a"b'), ("'\\\\'", "\\"), ("'\\n\\t\\r\\b\\f\\/'", "\n\t\r\b\f/"),
    ("'\\u00e9'", "é"), ("''", ""),
])
def test_strings(text: str, value: str) -> None:
    assert kinds(text) == [("STRING", value)]


@pytest.mark.parametrize(("text", "value"), [
    ("0", 0), ("42", 42), ("2.5", 2.5), ("1e3", 1000.0), ("1E-2", 0.01), ("3.0e+1", 30.0),
])
def test_numbers(text: str, value: float) -> None:
    ((kind, got),) = kinds(text)
    assert kind == "NUMBER"
    assert got == value
    assert type(got) is type(value)


def test_a_hop_range_is_not_a_decimal() -> None:
    assert kinds("*1..3") == [("PUNCT", "*"), ("NUMBER", 1), ("PUNCT", ".."), ("NUMBER", 3)]


def test_arrows_are_separate_characters() -> None:
    assert [v for _, v in kinds("<-->")] == ["<", "-", "-", ">"]
    assert [v for _, v in kinds("x<-5")] == ["x", "<", "-", 5]


@given(st.text(alphabet=st.characters(blacklist_characters="'\\"), max_size=20))
def test_any_plain_string_round_trips(s: str) -> None:
    assert kinds(f"'{s}'") == [("STRING", s)]


def test_bad_characters_report_their_position() -> None:
    with pytest.raises(QueryError) as exc:
        tokenize("SELECT é")
    assert exc.value.position == 7
