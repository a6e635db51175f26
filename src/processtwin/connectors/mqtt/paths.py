"""A small JSONPath subset for picking fields out of decoded JSON payloads.

Grammar (a strict subset of RFC 9535)::

    path  := ("$" | "@") step*
    step  := "." name | "['" name "']" | '["' name '"]' | "[" int "]" | "[*]" | ".*"

``$`` is the document root, ``@`` the current reading (the same node as ``$`` unless the
payload format selects an array of readings). ``[*]`` and ``.*`` iterate over a list's items
or an object's values; a path with a wildcard is *multi* and yields every match, in order.
Names may hold any character but ``.``, ``[``, ``]``, quotes and whitespace unless quoted.

Paths are compiled once (configuration time) into a getter; evaluation never raises.

Example:
    >>> p = compile_path("$.readings[*].v")
    >>> p.all({"readings": [{"v": 1}, {"v": 2}, {"w": 3}]})
    [1, 2]
    >>> compile_path("@.v").first({"v": 21.5})
    21.5
    >>> compile_path("$.a[0]").first({"a": []}) is MISSING
    True
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from processtwin.errors import InvalidInputError

__all__ = ["MISSING", "JsonPath", "compile_path"]


class _Missing:
    """The result of a path that selects nothing (distinct from JSON ``null``)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final = _Missing()


class _Wild:
    def __repr__(self) -> str:
        return "*"


_WILD: Final = _Wild()
Step = str | int | _Wild

_TOKEN = re.compile(
    r"""\.(?P<name>[^.\[\]'"\s*][^.\[\]'"\s]*)   # .name
      | \.\*                                      # .*
      | \[\*\]                                    # [*]
      | \[(?P<index>-?\d+)\]                      # [3]
      | \['(?P<sq>[^']*)'\]                       # ['name']
      | \["(?P<dq>[^"]*)"\]                       # ["name"]
    """,
    re.VERBOSE,
)


def _step_get(obj: Any, step: Step) -> Any:
    if type(step) is str:
        if type(obj) is dict:
            return obj.get(step, MISSING)
        return MISSING
    if type(step) is int:
        if type(obj) is list and -len(obj) <= step < len(obj):
            return obj[step]
        return MISSING
    return MISSING


def _expand(obj: Any) -> list[Any]:
    if type(obj) is list:
        return obj
    if type(obj) is dict:
        return list(obj.values())
    return []


@dataclass(frozen=True, slots=True)
class JsonPath:
    """A compiled path: ``first`` for single-valued paths, ``all`` for any path."""

    text: str
    from_root: bool
    steps: tuple[Step, ...]
    multi: bool
    first: Callable[[Any], Any]

    def all(self, doc: Any) -> list[Any]:
        """Every node the path selects, in document order (``[]`` when none)."""
        nodes = [doc]
        for step in self.steps:
            nxt: list[Any] = []
            if isinstance(step, _Wild):
                for n in nodes:
                    nxt.extend(_expand(n))
            else:
                for n in nodes:
                    v = _step_get(n, step)
                    if v is not MISSING:
                        nxt.append(v)
            nodes = nxt
            if not nodes:
                break
        return nodes


def _getter(steps: tuple[Step, ...]) -> Callable[[Any], Any]:
    if not steps:
        return lambda doc: doc
    if len(steps) == 1 and type(steps[0]) is str:
        key = steps[0]
        return lambda doc: doc.get(key, MISSING) if type(doc) is dict else MISSING
    if len(steps) == 2 and type(steps[0]) is str and type(steps[1]) is str:
        k0, k1 = steps[0], steps[1]

        def two(doc: Any) -> Any:
            if type(doc) is not dict:
                return MISSING
            mid = doc.get(k0, MISSING)
            return mid.get(k1, MISSING) if type(mid) is dict else MISSING

        return two

    def walk(doc: Any) -> Any:
        for step in steps:
            doc = _step_get(doc, step)
            if doc is MISSING:
                return MISSING
        return doc

    return walk


def compile_path(text: str) -> JsonPath:
    """Compile ``text``; raises :class:`InvalidInputError` saying where it fails to parse."""
    if not isinstance(text, str) or not text or text[0] not in "$@":
        raise InvalidInputError(f"JSON path {text!r}: must start with '$' or '@'")
    steps: list[Step] = []
    pos = 1
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise InvalidInputError(
                f"JSON path {text!r}: cannot parse at offset {pos} ({text[pos:pos + 10]!r})")
        if m.group("name") is not None:
            steps.append(m.group("name"))
        elif m.group("index") is not None:
            steps.append(int(m.group("index")))
        elif m.group("sq") is not None:
            steps.append(m.group("sq"))
        elif m.group("dq") is not None:
            steps.append(m.group("dq"))
        else:
            steps.append(_WILD)
        pos = m.end()
    frozen = tuple(steps)
    multi = any(isinstance(s, _Wild) for s in frozen)

    def no_first(doc: Any) -> Any:
        raise InvalidInputError(f"JSON path {text!r} has a wildcard: use all()")

    return JsonPath(text=text, from_root=text[0] == "$", steps=frozen, multi=multi,
                    first=no_first if multi else _getter(frozen))
