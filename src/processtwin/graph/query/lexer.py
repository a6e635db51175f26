"""Tokens of the twin query language.

Keywords are case-insensitive (their ``value`` is upper case); identifiers keep their case and
may start with ``$`` (``$dtId``). Strings take single or double quotes and the JSON escapes
(``\\n``, ``\\'``, ``\\u00e9``...). Numbers are unsigned: the parser applies a leading minus.
Every token carries its 0-based offset in the text, and every error raises
:class:`~processtwin.errors.QueryError` at the offending character.

    >>> [(t.kind, t.value) for t in tokenize("select T.$dtId from DIGITALTWINS T")][:4]
    [('KEYWORD', 'SELECT'), ('IDENT', 'T'), ('PUNCT', '.'), ('IDENT', '$dtId')]
    >>> tokenize("SELECT 'it\\\\'s'")[1].value
    "it's"
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from processtwin.errors import QueryError

__all__ = ["KEYWORDS", "MAX_QUERY_LENGTH", "Token", "tokenize"]

#: Longest query text accepted, in characters (the Azure Digital Twins limit).
MAX_QUERY_LENGTH = 8000

KEYWORDS = frozenset({
    "AND", "AS", "COUNT", "DIGITALTWINS", "DISTINCT", "FALSE", "FROM", "IN", "JOIN", "MATCH",
    "NIN", "NOT", "NULL", "OR", "RELATED", "RELATIONSHIPS", "SELECT", "TOP", "TRUE", "WHERE",
})

_TOKEN = re.compile(r"""
    (?P<ws>[ \t\r\n]+)
  | (?P<number>[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)
  | (?P<ident>[A-Za-z_$][A-Za-z0-9_]*)
  | (?P<punct>\.\.|!=|<=|>=|[().,\[\]*=<>\-|:])
  | (?P<quote>['"])
""", re.VERBOSE)

_ESCAPES = {"'": "'", '"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n",
            "r": "\r", "t": "\t"}
_MAX_DIGITS = 300  # far beyond any float; keeps int() clear of its digit limit


@dataclass(frozen=True, slots=True)
class Token:
    """One token: ``kind`` is KEYWORD, IDENT, STRING, NUMBER, PUNCT or EOF."""

    kind: str
    value: Any
    pos: int
    text: str = ""

    def is_(self, kind: str, value: Any = None) -> bool:
        """Whether this token is of ``kind`` (and has ``value`` when given)."""
        return self.kind == kind and (value is None or self.value == value)


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens ending with an EOF token; raise QueryError on bad input."""
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryError(f"the query is longer than {MAX_QUERY_LENGTH} characters",
                         MAX_QUERY_LENGTH, text)
    out: list[Token] = []
    pos, end = 0, len(text)
    while pos < end:
        m = _TOKEN.match(text, pos)
        if m is None:
            raise QueryError(f"unexpected character {text[pos]!r}", pos, text)
        kind = m.lastgroup
        raw = m.group()
        if kind == "ws":
            pass
        elif kind == "number":
            out.append(Token("NUMBER", _number(raw, pos, text), pos, raw))
        elif kind == "ident":
            up = raw.upper()
            if up in KEYWORDS:
                out.append(Token("KEYWORD", up, pos, raw))
            else:
                out.append(Token("IDENT", raw, pos, raw))
        elif kind == "punct":
            out.append(Token("PUNCT", raw, pos, raw))
        else:
            value, stop = _string(text, pos)
            out.append(Token("STRING", value, pos, text[pos:stop]))
            pos = stop
            continue
        pos = m.end()
    out.append(Token("EOF", None, end))
    return out


def _number(raw: str, pos: int, text: str) -> int | float:
    if len(raw) > _MAX_DIGITS:
        raise QueryError("number literal too long", pos, text)
    if "." in raw or "e" in raw or "E" in raw:
        value = float(raw)
        if not math.isfinite(value):
            raise QueryError("number literal out of range", pos, text)
        return value
    return int(raw)


def _string(text: str, start: int) -> tuple[str, int]:
    """The string literal opening at ``start`` and the offset after its closing quote."""
    quote = text[start]
    parts: list[str] = []
    i, end = start + 1, len(text)
    while i < end:
        c = text[i]
        if c == quote:
            return "".join(parts), i + 1
        if c != "\\":
            parts.append(c)
            i += 1
            continue
        if i + 1 >= end:
            break
        e = text[i + 1]
        if e in _ESCAPES:
            parts.append(_ESCAPES[e])
            i += 2
        elif e == "u":
            digits = text[i + 2:i + 6]
            if len(digits) != 4 or not all(d in "0123456789abcdefABCDEF" for d in digits):
                raise QueryError("bad \\u escape: expected four hex digits", i, text)
            parts.append(chr(int(digits, 16)))
            i += 6
        else:
            raise QueryError(f"unknown escape \\{e}", i, text)
    raise QueryError("unterminated string", start, text)
