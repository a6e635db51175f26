"""Frozen documents refuse every change and copy back into plain JSON."""

from __future__ import annotations

import copy
import json
import pickle
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from processtwin.graph.frozen import FrozenDict, FrozenList, freeze, thaw

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20)

DICT_CHANGES: list[Callable[[Any], Any]] = [
    lambda d: d.__setitem__("a", 2), lambda d: d.__delitem__("a"), lambda d: d.clear(),
    lambda d: d.pop("a"), lambda d: d.popitem(), lambda d: d.setdefault("b", 1),
    lambda d: d.update(b=1), lambda d: d.__ior__({"b": 1}),
]
LIST_CHANGES: list[Callable[[Any], Any]] = [
    lambda x: x.__setitem__(0, 2), lambda x: x.__delitem__(0), lambda x: x.append(1),
    lambda x: x.extend([1]), lambda x: x.insert(0, 1), lambda x: x.pop(), lambda x: x.remove(1),
    lambda x: x.clear(), lambda x: x.sort(), lambda x: x.reverse(), lambda x: x.__iadd__([1]),
    lambda x: x.__imul__(2),
]


@pytest.mark.parametrize("change", DICT_CHANGES)
def test_frozen_dicts_refuse_changes(change: Callable[[Any], Any]) -> None:
    d = freeze({"a": 1})
    with pytest.raises(TypeError):
        change(d)
    assert d == {"a": 1}


@pytest.mark.parametrize("change", LIST_CHANGES)
def test_frozen_lists_refuse_changes(change: Callable[[Any], Any]) -> None:
    x = freeze([1, 2])
    with pytest.raises(TypeError):
        change(x)
    assert x == [1, 2]


@given(JSON)
def test_freeze_and_thaw_preserve_json(value: Any) -> None:
    frozen = freeze(value)
    assert frozen == value
    assert json.dumps(frozen) == json.dumps(value)
    plain = thaw(frozen)
    assert plain == value
    assert type(plain) in (dict, list) or not isinstance(plain, dict | list)
    assert copy.deepcopy(frozen) == value
    assert pickle.loads(pickle.dumps(frozen)) == value


def test_copies_are_plain_and_frozen_parts_are_shared() -> None:
    inner = freeze({"x": [1]})
    outer = freeze({"inner": inner, "t": (1, 2)})
    assert outer["inner"] is inner
    assert isinstance(outer["t"], FrozenList)
    assert type(copy.copy(outer)) is dict
    assert type(copy.deepcopy(outer)["inner"]["x"]) is list
    assert isinstance(pickle.loads(pickle.dumps(outer)), FrozenDict)
    with pytest.raises(TypeError):
        hash(outer)
