"""Building twin and relationship documents, ETags, timestamps and JSON Patch.

Documents follow Azure Digital Twins::

    {"$dtId": "r1", "$etag": "W/\\"2\\"",
     "$metadata": {"$model": "dtmi:ex:Reactor;1", "$lastUpdateTime": "2024-05-01T12:00:00.000000Z",
                   "volume": {"lastUpdateTime": "2024-05-01T11:00:00.000000Z"}},
     "volume": 10.0,
     "jacket": {"$metadata": {"area": {"lastUpdateTime": "..."}}, "area": 2.1}}

Each property's ``lastUpdateTime`` changes only when its value does. Every builder returns a
frozen document (see :mod:`processtwin.graph.frozen`).

    >>> etag(3), etag_number('W/"3"')
    ('W/"3"', 3)
"""

from __future__ import annotations

from collections.abc import Callable, Container, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import jsonpatch  # type: ignore[import-untyped]
import jsonpointer  # type: ignore[import-untyped]

from processtwin.errors import PreconditionFailedError, TwinProblem
from processtwin.graph.frozen import FrozenDict, freeze, thaw
from processtwin.graph.values import describe

__all__ = ["Clock", "apply_patch", "check_etag", "etag", "etag_number", "relationship_doc",
           "timestamp", "twin_doc", "user_values"]

#: A source of the current time (timezone-aware).
Clock = Callable[[], datetime]

_OPS = {"add", "remove", "replace", "move", "copy", "test"}
_MODEL_PATH = "/$metadata/$model"


def etag(n: int) -> str:
    """The weak ETag of version ``n`` of a document."""
    return f'W/"{n}"'


def etag_number(tag: Any) -> int:
    """The version number in an ETag this graph issued (0 when it is not one)."""
    if isinstance(tag, str) and tag.startswith('W/"') and tag.endswith('"'):
        digits = tag[3:-1]
        if digits.isdigit():
            return int(digits)
    return 0


def check_etag(what: str, current: Mapping[str, Any], if_match: str | None) -> None:
    """Raise :class:`PreconditionFailedError` unless ``if_match`` is None, ``"*"`` or the
    current ETag."""
    if if_match is not None and if_match != "*" and if_match != current["$etag"]:
        raise PreconditionFailedError(
            f"{what} changed: its ETag is {current['$etag']}, not {if_match}")


def timestamp(clock: Clock) -> str:
    """The clock's time as RFC 3339 UTC text with microseconds (``...T12:00:00.000000Z``)."""
    return clock().astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def user_values(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A twin's properties and components (a mutable copy), without its ``$`` members."""
    return {k: thaw(v) for k, v in doc.items() if not k.startswith("$")}


@lru_cache(maxsize=4)
def _stamp(now: str) -> FrozenDict:
    """One shared, frozen ``{"lastUpdateTime": now}`` per timestamp."""
    return FrozenDict({"lastUpdateTime": now})


def _stamped(values: Mapping[str, Any], old: Mapping[str, Any] | None,
             old_meta: Mapping[str, Any], now: str, meta: dict[str, Any]) -> None:
    stamp = _stamp(now)
    for name, value in values.items():
        if old is not None:
            before = old_meta.get(name)
            if before is not None and name in old and old[name] == value:
                meta[name] = before
                continue
        meta[name] = stamp


def twin_doc(dt_id: str, model: str, version: int, values: Mapping[str, Any], now: str,
             components: Container[str], old: Mapping[str, Any] | None = None) -> FrozenDict:
    """A frozen twin document; ``old`` (the previous version) keeps unchanged timestamps."""
    old_meta: Mapping[str, Any] = old["$metadata"] if old is not None else {}
    meta: dict[str, Any] = {"$model": model, "$lastUpdateTime": now}
    doc: dict[str, Any] = {"$dtId": dt_id, "$etag": etag(version), "$metadata": meta}
    plain: dict[str, Any] = {}
    for name, value in values.items():
        if name in components:
            inner = {k: v for k, v in value.items() if k != "$metadata"}
            before = old.get(name) if old is not None else None
            inner_meta: dict[str, Any] = {}
            if isinstance(before, Mapping):
                _stamped(inner, before, before.get("$metadata", {}), now, inner_meta)
            else:
                _stamped(inner, None, {}, now, inner_meta)
            doc[name] = {"$metadata": inner_meta, **inner}
        else:
            plain[name] = value
            doc[name] = value
    _stamped(plain, old, old_meta, now, meta)
    return freeze(doc)  # type: ignore[no-any-return]


def relationship_doc(source: str, rel_id: str, name: str, target: str, version: int,
                     values: Mapping[str, Any]) -> FrozenDict:
    """A frozen relationship document."""
    doc = {"$relationshipId": rel_id, "$etag": etag(version), "$sourceId": source,
           "$targetId": target, "$relationshipName": name}
    doc.update((k, v) for k, v in values.items())
    return freeze(doc)  # type: ignore[no-any-return]


def _reserved(op: Mapping[str, Any], allow_model: bool) -> str | None:
    """Why ``op`` may not touch its path, or None."""
    if op["op"] == "test":
        return None
    paths = [op["path"]] + ([op["from"]] if op["op"] == "move" else [])
    for path in paths:
        if path == "":
            return "the whole document cannot be replaced by a patch"
        if allow_model and path == _MODEL_PATH and op["op"] == "replace":
            continue
        parts = path.split("/")[1:]
        if parts[0].startswith("$") or "$metadata" in parts:
            return f"'{path}' is maintained by the graph" + (
                "; only /$metadata/$model can be replaced" if allow_model else "")
    return None


def apply_patch(
    owner: str, base: str, doc: Mapping[str, Any], ops: Any, *, allow_model: bool
) -> tuple[dict[str, Any] | None, list[TwinProblem]]:
    """Apply RFC 6902 ``ops`` to a mutable copy of ``doc``.

    Returns the patched copy, or None with every problem found in the operations (malformed
    operations, reserved paths, a failed ``test``, a path that does not exist). ``owner`` and
    ``base`` are the problems' twin and path prefix.
    """
    problems: list[TwinProblem] = []
    if not isinstance(ops, list | tuple):
        return None, [TwinProblem(owner, base, "patch",
                                  f"a JSON Patch is an array of operations, got {describe(ops)}")]
    for i, op in enumerate(ops):
        where = f"{base}/$patch/{i}" if base else f"/$patch/{i}"
        why = _malformed(op)
        if why is None:
            why = _reserved(op, allow_model)
            code = "reserved"
        else:
            code = "patch"
        if why is not None:
            problems.append(TwinProblem(owner, where, code, why))
    if problems:
        return None, problems
    work = thaw(doc)
    try:
        jsonpatch.JsonPatch([thaw(op) for op in ops]).apply(work, in_place=True)
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
        return None, [TwinProblem(owner, base, "patch", f"the patch does not apply: {exc}")]
    return work, []


def _malformed(op: Any) -> str | None:
    if not isinstance(op, Mapping):
        return f"an operation must be an object, got {describe(op)}"
    name = op.get("op")
    if name not in _OPS:
        return f"'op' must be one of {', '.join(sorted(_OPS))}, got {describe(name)}"
    keys = ["path"] + (["from"] if name in ("move", "copy") else [])
    for key in keys:
        path = op.get(key)
        if not isinstance(path, str) or (path and not path.startswith("/")):
            return f"'{key}' must be a JSON Pointer string, got {describe(path)}"
    if name in ("add", "replace", "test") and "value" not in op:
        return f"a '{name}' operation needs a 'value'"
    return None
