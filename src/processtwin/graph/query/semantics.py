"""Value semantics of the query language, as in Azure Digital Twins and Cosmos DB.

A path that leads nowhere is :data:`UNDEFINED` (not ``null``). A comparison with an undefined
value, or between values of different JSON types, is undefined too, and so is ``NOT`` of it:
only a condition that is exactly ``true`` keeps a row. ``AND``/``OR`` follow three-valued
logic (``false AND undefined`` is false, ``true OR undefined`` is true). Ordering (``<`` ...)
applies to two numbers or two strings; ``=``/``!=`` to any two values of one JSON type
(deep equality for arrays and objects). Booleans are not numbers.

    >>> compare("<", 1, 2.5), compare("=", 1, True) is UNDEFINED, compare("!=", "a", 1)
    (True, True, UNDEFINED)
    >>> kind(None), kind([1]), kind(UNDEFINED)
    ('null', 'array', 'undefined')
"""

from __future__ import annotations

import numbers
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

__all__ = ["ORDER_OPS", "TYPE_TESTS", "UNDEFINED", "Undefined", "compare", "equal", "kind"]


class Undefined:
    """The one value of a path that leads nowhere."""

    _instance: Undefined | None = None

    def __new__(cls) -> Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNDEFINED"

    def __bool__(self) -> bool:
        return False


UNDEFINED: Final = Undefined()

_KINDS: dict[type, str] = {bool: "boolean", int: "number", float: "number", str: "string",
                           type(None): "null", dict: "object", list: "array", tuple: "array",
                           Undefined: "undefined"}

ORDER_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def kind(value: Any) -> str:
    """The JSON type of ``value``: boolean, number, string, null, object, array or undefined.

    Anything else (a value a live source may hand over) is ``other`` and compares with
    nothing.
    """
    k = _KINDS.get(type(value))
    if k is None:
        k = _KINDS[type(value)] = _slow_kind(value)
    return k


def _slow_kind(value: Any) -> str:
    if isinstance(value, bool) or type(value).__name__ in ("bool", "bool_"):  # numpy.bool
        return "boolean"
    if isinstance(value, numbers.Real):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        return "array"
    return "other"


def equal(a: Any, b: Any) -> bool | Undefined:
    """``a = b``: undefined for undefined operands or operands of different JSON types."""
    ka, kb = kind(a), kind(b)
    if ka != kb or ka in ("undefined", "other"):
        return UNDEFINED
    return _same(a, b, ka)


def _same(a: Any, b: Any, k: str) -> bool:
    if k == "array":
        return len(a) == len(b) and all(
            (ka := kind(x)) == kind(y) and ka not in ("undefined", "other") and _same(x, y, ka)
            for x, y in zip(a, b, strict=True))
    if k == "object":
        return a.keys() == b.keys() and all(
            (ka := kind(a[key])) == kind(b[key]) and ka not in ("undefined", "other")
            and _same(a[key], b[key], ka) for key in a)
    return bool(a == b)


def compare(op: str, a: Any, b: Any) -> bool | Undefined:
    """``a op b`` for op in ``= != < <= > >=``, with the rules above."""
    if op == "=":
        return equal(a, b)
    if op == "!=":
        eq = equal(a, b)
        return eq if eq is UNDEFINED else not eq
    ka = kind(a)
    if ka != kind(b) or ka not in ("number", "string"):
        return UNDEFINED
    return bool(ORDER_OPS[op](a, b))


TYPE_TESTS: dict[str, Callable[[Any], bool]] = {
    "IS_DEFINED": lambda v: v is not UNDEFINED,
    "IS_NULL": lambda v: v is None,
    "IS_BOOL": lambda v: kind(v) == "boolean",
    "IS_NUMBER": lambda v: kind(v) == "number",
    "IS_STRING": lambda v: kind(v) == "string",
    "IS_PRIMITIVE": lambda v: kind(v) in ("boolean", "number", "string", "null"),
    "IS_OBJECT": lambda v: kind(v) == "object",
    "IS_ARRAY": lambda v: kind(v) == "array",
}
