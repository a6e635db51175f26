"""A small in-memory :class:`~processtwin.graph.types.GraphView` for tests and benchmarks.

No validation, no persistence: documents are kept as given (ADT layout), indexed by id, by
source and by target (with a per-name index), so ``outgoing``/``incoming`` cost O(degree).
Model inheritance is a dict ``model → models it extends`` (direct parents or all ancestors:
it is closed transitively). Live values come from :meth:`MemoryGraph.set_live`.

    >>> g = MemoryGraph(extends={"dtmi:ex:Reactor;1": ["dtmi:ex:Vessel;1"]})
    >>> _ = g.add_twin("r1", "dtmi:ex:Reactor;1", {"volume": 2.0})
    >>> _ = g.add_twin("t1", "dtmi:ex:Vessel;1")
    >>> g.add_relationship("r1", "feeds", "t1")["$relationshipId"]
    'r1-feeds-t1'
    >>> g.is_of_model("r1", "dtmi:ex:Vessel;1"), g.is_of_model("r1", "dtmi:ex:Vessel;1", True)
    (True, False)
    >>> [r["$targetId"] for r in g.outgoing("r1", "feeds")]
    ['t1']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from processtwin.errors import ConflictError, NotFoundError
from processtwin.graph.types import RelDoc, TwinDoc

__all__ = ["MemoryGraph"]


class MemoryGraph:
    """Twins and relationships in dictionaries; implements ``GraphView``."""

    def __init__(self, *, extends: Mapping[str, Iterable[str]] | None = None) -> None:
        self._twins: dict[str, dict[str, Any]] = {}
        self._rels: dict[tuple[str, str], dict[str, Any]] = {}
        self._out: dict[str, list[dict[str, Any]]] = {}
        self._in: dict[str, list[dict[str, Any]]] = {}
        self._out_named: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._in_named: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._live: dict[tuple[str, str], Any] = {}
        self._ancestors = _closure(extends or {})

    # ----------------------------------------------------------------- building

    def add_twin(self, dt_id: str, model: str,
                 properties: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Add an ADT-shaped twin document and return it; ConflictError when the id exists."""
        doc = {"$dtId": dt_id, "$etag": 'W/"1"', "$metadata": {"$model": model},
               **(properties or {})}
        return self.put_twin(doc)

    def put_twin(self, doc: Mapping[str, Any]) -> dict[str, Any]:
        """Add a twin document as it is (it needs ``$dtId`` and ``$metadata.$model``)."""
        dt_id = doc["$dtId"]
        if dt_id in self._twins:
            raise ConflictError(f"twin {dt_id!r} already exists")
        self._twins[dt_id] = dict(doc)
        return self._twins[dt_id]

    def add_relationship(self, source: str, name: str, target: str, *,
                         rel_id: str | None = None,
                         properties: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Add a relationship (its id defaults to ``source-name-target``) and return it."""
        rid = rel_id if rel_id is not None else f"{source}-{name}-{target}"
        return self.put_relationship({"$relationshipId": rid, "$etag": 'W/"1"',
                                      "$sourceId": source, "$targetId": target,
                                      "$relationshipName": name, **(properties or {})})

    def put_relationship(self, doc: Mapping[str, Any]) -> dict[str, Any]:
        """Add a relationship document as it is; both twins must exist."""
        src, tgt, name = doc["$sourceId"], doc["$targetId"], doc["$relationshipName"]
        for end in (src, tgt):
            if end not in self._twins:
                raise NotFoundError(f"twin {end!r} does not exist")
        key = (src, doc["$relationshipId"])
        if key in self._rels:
            raise ConflictError(f"relationship {key[1]!r} of {src!r} already exists")
        rel = dict(doc)
        self._rels[key] = rel
        self._out.setdefault(src, []).append(rel)
        self._in.setdefault(tgt, []).append(rel)
        self._out_named.setdefault((src, name), []).append(rel)
        self._in_named.setdefault((tgt, name), []).append(rel)
        return rel

    def set_live(self, dt_id: str, name: str, value: Any) -> None:
        """Set the live value of a twin's point (None forgets it)."""
        if value is None:
            self._live.pop((dt_id, name), None)
        else:
            self._live[(dt_id, name)] = value

    # ----------------------------------------------------------------- GraphView

    def twin(self, dt_id: str) -> TwinDoc | None:
        return self._twins.get(dt_id)

    def twins(self) -> Sequence[TwinDoc]:
        return list(self._twins.values())

    def relationships(self) -> Sequence[RelDoc]:
        return list(self._rels.values())

    def outgoing(self, dt_id: str, name: str | None = None) -> Sequence[RelDoc]:
        if name is None:
            return self._out.get(dt_id, ())
        return self._out_named.get((dt_id, name), ())

    def incoming(self, dt_id: str, name: str | None = None) -> Sequence[RelDoc]:
        if name is None:
            return self._in.get(dt_id, ())
        return self._in_named.get((dt_id, name), ())

    def is_of_model(self, dt_id: str, model: str, exact: bool = False) -> bool:
        doc = self._twins.get(dt_id)
        if doc is None:
            return False
        own = doc["$metadata"]["$model"]
        if own == model:
            return True
        return not exact and model in self._ancestors.get(own, ())

    def live_value(self, dt_id: str, name: str) -> Any:
        return self._live.get((dt_id, name))

    def __len__(self) -> int:
        return len(self._twins)


def _closure(extends: Mapping[str, Iterable[str]]) -> dict[str, frozenset[str]]:
    parents = {m: tuple(p) for m, p in extends.items()}
    out: dict[str, frozenset[str]] = {}
    for model in parents:
        seen: set[str] = set()
        todo = list(parents[model])
        while todo:
            p = todo.pop()
            if p not in seen:
                seen.add(p)
                todo.extend(parents.get(p, ()))
        out[model] = frozenset(seen)
    return out
