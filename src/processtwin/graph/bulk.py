"""Validating a bulk import as a whole before anything of it is applied.

:func:`plan_import` checks every twin and relationship of an import against the models (the
graph's plus those the import brings) and against the twins already in the graph, and returns
either every problem or the frozen documents to add. Import documents have the shape
:meth:`processtwin.graph.graph.TwinGraph.export` writes; ``$etag`` and ``$metadata`` timestamps in
them are ignored (the graph issues its own).

Beyond the validation codes: ``exists`` (the id is already in the graph), ``duplicate`` (given
twice in the import), ``source-missing``. Problems about an entry that is not even an object
name the twin ``<import>`` and point at ``/twins/<i>`` or ``/relationships/<i>``.

    >>> from processtwin.graph.validate import Validators
    >>> from processtwin.dtdl import ModelSet
    >>> plan = plan_import(Validators(ModelSet()), _Empty(), [{"$dtId": "a"}], [], now="t")
    >>> [p.code for p in plan.problems]
    ['unknown-model']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from processtwin.errors import TwinProblem
from processtwin.graph.documents import relationship_doc, twin_doc
from processtwin.graph.frozen import FrozenDict
from processtwin.graph.types import RelDoc, TwinDoc
from processtwin.graph.validate import Validators, id_problem
from processtwin.graph.values import describe, pointer

__all__ = ["ImportPlan", "TwinLookup", "plan_import"]

_TWIN_KEYS = frozenset({"$dtId", "$etag", "$metadata"})
_REL_KEYS = frozenset({"$relationshipId", "$etag", "$sourceId", "$targetId", "$relationshipName"})
_ANON = "<import>"


@dataclass(slots=True)
class ImportPlan:
    """Every problem of an import, or (when there are none) the documents to add."""

    problems: list[TwinProblem] = field(default_factory=list)
    twins: list[FrozenDict] = field(default_factory=list)
    relationships: list[FrozenDict] = field(default_factory=list)


class TwinLookup(Protocol):
    """The part of a graph an import is checked against."""

    def twin(self, dt_id: str) -> TwinDoc | None:
        """The twin document, or None."""

    def outgoing(self, dt_id: str, name: str | None = None) -> Sequence[RelDoc]:
        """Relationships whose source is ``dt_id``."""


class _Empty:
    """A graph without twins (for the example above)."""

    def twin(self, dt_id: str) -> TwinDoc | None:
        return None

    def outgoing(self, dt_id: str, name: str | None = None) -> Sequence[RelDoc]:
        return ()


def plan_import(validators: Validators, graph: TwinLookup,
                twins: Iterable[Any], relationships: Iterable[Any], *, now: str) -> ImportPlan:
    """Validate ``twins`` then ``relationships`` against ``validators``' models and ``graph``."""
    plan = ImportPlan()
    models: dict[str, str] = {}  # imported twin id -> model
    first: dict[str, int] = {}
    for i, doc in enumerate(twins):
        where = f"/twins/{i}"
        if not isinstance(doc, Mapping):
            plan.problems.append(TwinProblem(_ANON, where, "type",
                                             f"a twin must be an object, got {describe(doc)}"))
            continue
        dt_id = doc.get("$dtId")
        meta = doc.get("$metadata")
        model = meta.get("$model") if isinstance(meta, Mapping) else None
        values = {k: v for k, v in doc.items() if k not in _TWIN_KEYS}
        found = validators.twin(dt_id, model, values)
        plan.problems += found
        if not isinstance(dt_id, str) or id_problem(dt_id) is not None:
            continue
        if dt_id in first:
            plan.problems.append(TwinProblem(dt_id, "/$dtId", "duplicate",
                                             f"{where} repeats the twin of /twins/{first[dt_id]}"))
            continue
        first[dt_id] = i
        if graph.twin(dt_id) is not None:
            plan.problems.append(TwinProblem(dt_id, "/$dtId", "exists",
                                             f"twin '{dt_id}' is already in the graph"))
        if isinstance(model, str):
            models[dt_id] = model
        if not plan.problems and isinstance(model, str):
            iv = validators.interface(model)
            plan.twins.append(twin_doc(dt_id, model, 1, values, now,
                                       iv.components if iv is not None else ()))

    def model_of(dt_id: Any) -> str | None:
        if not isinstance(dt_id, str):
            return None
        if dt_id in models:
            return models[dt_id]
        existing = graph.twin(dt_id)
        return None if existing is None else str(existing["$metadata"]["$model"])

    counts: dict[tuple[str, str], int] = {}
    seen: dict[tuple[str, str], int] = {}
    for i, doc in enumerate(relationships):
        where = f"/relationships/{i}"
        if not isinstance(doc, Mapping):
            plan.problems.append(TwinProblem(
                _ANON, where, "type", f"a relationship must be an object, got {describe(doc)}"))
            continue
        source, rel_id = doc.get("$sourceId"), doc.get("$relationshipId")
        name, target = doc.get("$relationshipName"), doc.get("$targetId")
        source_model = model_of(source) if isinstance(source, str) else None
        if not isinstance(source, str) or source_model is None:
            why = id_problem(source, "source id") or f"there is no twin '{source}'"
            plan.problems.append(TwinProblem(
                source if isinstance(source, str) else _ANON,
                pointer("/relationships", str(rel_id)) if isinstance(source, str) else where,
                "source-missing", why))
            continue
        key = (source, str(rel_id))
        base = pointer("/relationships", str(rel_id))
        if key in seen:
            plan.problems.append(TwinProblem(source, base, "duplicate",
                                             f"{where} repeats /relationships/{seen[key]}"))
            continue
        seen[key] = i
        existing = graph.outgoing(source)
        if existing and any(r["$relationshipId"] == rel_id for r in existing):
            plan.problems.append(TwinProblem(source, base, "exists",
                                             f"'{source}' already has relationship '{rel_id}'"))
        count_key = (source, str(name))
        if count_key not in counts:
            counts[count_key] = sum(1 for r in existing if r["$relationshipName"] == name)
        values = {k: v for k, v in doc.items() if k not in _REL_KEYS}
        found = validators.relationship(source, source_model, rel_id, name, target,
                                        model_of(target), values, existing=counts[count_key])
        counts[count_key] += 1
        plan.problems += found
        if not plan.problems:
            plan.relationships.append(relationship_doc(
                source, str(rel_id), str(name), str(target), 1, values))
    if plan.problems:
        plan.twins.clear()
        plan.relationships.clear()
    return plan
