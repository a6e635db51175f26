"""Read-only JSON documents: ``dict`` and ``list`` subclasses that refuse to be changed.

The graph hands its stored documents to readers without copying them. Freezing makes the
"a writer replaces a document, it never edits one in place" contract enforceable: a reader
that tries to edit one gets a ``TypeError`` instead of silently corrupting the graph. They
stay ``dict``/``list`` instances, so ``isinstance`` checks and :func:`json.dumps` work.

A deep copy (:func:`copy.deepcopy` or :func:`thaw`) is a plain, mutable copy.

    >>> doc = freeze({"a": [1, {"b": 2}]})
    >>> doc["a"][1]["b"]
    2
    >>> try:
    ...     doc["a"].append(3)
    ... except TypeError as exc:
    ...     print(exc)
    this document is read-only; copy it (thaw) to change it
    >>> thaw(doc) == {"a": [1, {"b": 2}]}, type(thaw(doc)["a"])
    (True, <class 'list'>)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn

__all__ = ["FrozenDict", "FrozenList", "freeze", "thaw"]

_SCALARS = frozenset({str, int, float, bool, type(None)})
_MESSAGE = "this document is read-only; copy it (thaw) to change it"


def _refuse(*_args: object, **_kwargs: object) -> NoReturn:
    raise TypeError(_MESSAGE)


class FrozenDict(dict[str, Any]):
    """A ``dict`` whose mutating methods raise ``TypeError``."""

    __slots__ = ()

    __setitem__ = _refuse
    __delitem__ = _refuse
    __ior__ = _refuse
    clear = _refuse
    pop = _refuse
    popitem = _refuse
    setdefault = _refuse
    update = _refuse

    def __copy__(self) -> dict[str, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        return thaw(self)  # type: ignore[no-any-return]

    def __reduce__(self) -> tuple[type[FrozenDict], tuple[dict[str, Any]]]:
        return (FrozenDict, (dict(self),))


class FrozenList(list[Any]):
    """A ``list`` whose mutating methods raise ``TypeError``."""

    __slots__ = ()

    __setitem__ = _refuse
    __delitem__ = _refuse
    __iadd__ = _refuse
    __imul__ = _refuse
    append = _refuse
    clear = _refuse
    extend = _refuse
    insert = _refuse
    pop = _refuse
    remove = _refuse
    reverse = _refuse
    sort = _refuse

    def __copy__(self) -> list[Any]:
        return list(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> list[Any]:
        return thaw(self)  # type: ignore[no-any-return]

    def __reduce__(self) -> tuple[type[FrozenList], tuple[list[Any]]]:
        return (FrozenList, (list(self),))


def freeze(value: Any) -> Any:
    """A read-only deep copy of a JSON-shaped value (objects, arrays, tuples, scalars).

    Already frozen parts are shared, not copied.
    """
    t = type(value)
    if t in _SCALARS or t is FrozenDict or t is FrozenList:
        return value
    if t is dict or (t is not FrozenDict and isinstance(value, Mapping)):
        return FrozenDict({k: v if type(v) in _SCALARS else freeze(v) for k, v in value.items()})
    if t is list or t is tuple or isinstance(value, list | tuple):
        return FrozenList([v if type(v) in _SCALARS else freeze(v) for v in value])
    return value


def thaw(value: Any) -> Any:
    """A plain, mutable deep copy of a JSON-shaped value."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [thaw(v) for v in value]
    return value
