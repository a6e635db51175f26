"""Value semantics: undefined, JSON types, three-valued logic."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from processtwin.graph.query.semantics import UNDEFINED, Undefined, compare, equal, kind

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                    | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=3), inner, max_size=3), max_leaves=8)


@pytest.mark.parametrize(("value", "expected"), [
    (None, "null"), (True, "boolean"), (np.bool_(False), "boolean"), (1, "number"),
    (1.5, "number"), (np.float64(2.0), "number"), (np.int32(3), "number"), ("x", "string"),
    ({}, "object"), ([], "array"), ((1,), "array"), (UNDEFINED, "undefined"),
    (b"x", "other"), (object(), "other"),
])
def test_kind(value: object, expected: str) -> None:
    assert kind(value) == expected


def test_undefined_is_a_falsy_singleton() -> None:
    assert Undefined() is UNDEFINED
    assert not UNDEFINED
    assert repr(UNDEFINED) == "UNDEFINED"


@pytest.mark.parametrize(("op", "a", "b", "expected"), [
    ("=", 1, 1.0, True), ("=", 1, True, UNDEFINED), ("!=", 1, "1", UNDEFINED),
    ("=", None, None, True), ("!=", None, None, False), ("=", [1, "a"], [1, "a"], True),
    ("=", [1], [True], False), ("=", {"a": 1}, {"a": 1}, True), ("=", {"a": 1}, {"b": 1}, False),
    ("<", 1, 2, True), ("<", "a", "b", True), (">=", "b", "b", True), ("<", True, False, UNDEFINED),
    ("<", None, 1, UNDEFINED), ("<", [1], [2], UNDEFINED), ("<", UNDEFINED, 1, UNDEFINED),
    ("=", UNDEFINED, UNDEFINED, UNDEFINED), (">", np.float64(3), 2, True),
])
def test_compare(op: str, a: object, b: object, expected: object) -> None:
    assert compare(op, a, b) is expected


@given(JSON, JSON)
def test_equality_is_symmetric_and_never_raises(a: object, b: object) -> None:
    assert equal(a, b) is equal(b, a)
    ne = compare("!=", a, b)
    eq = equal(a, b)
    assert ne is UNDEFINED if eq is UNDEFINED else ne is (not eq)


@given(JSON)
def test_every_json_value_equals_itself(a: object) -> None:
    assert equal(a, a) is True


@given(st.one_of(st.integers(), st.floats(allow_nan=False)),
       st.one_of(st.integers(), st.floats(allow_nan=False)))
def test_ordering_of_numbers_matches_python(a: float, b: float) -> None:
    assert compare("<", a, b) is (a < b)
    assert compare(">=", a, b) is (a >= b)
