"""The twin graph: twins and relationships validated against DTDL models, indexed in memory
and written through to SQLite.

:class:`TwinGraph` implements :class:`~processtwin.graph.types.GraphView` for the query engine:
``twin()`` is a dictionary look-up, ``outgoing()``/``incoming()`` return a prepared tuple (one
more pass over the twin's relationships when a name is given), ``is_of_model()`` a set
membership test against each model's precomputed ancestors, and ``twins()``/
``relationships()`` a cached tuple.

Writes take one lock, are validated completely first (a refused write changes nothing and
reports every problem), are written to the file in one transaction, and only then replace the
in-memory documents. Documents are frozen: readers may keep them. Readers take no lock: each
document they get is whole, but a reader walking several documents while a write is applied
may see some from before it and some from after.

    >>> g = TwinGraph()
    >>> _ = g.add_models([{"@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:Tank;1",
    ...     "@type": "Interface", "contents": [
    ...         {"@type": "Property", "name": "volume", "schema": "double"},
    ...         {"@type": "Relationship", "name": "feeds"}]}])
    >>> g.create_twin("t1", "dtmi:ex:Tank;1", {"volume": 2.0})["$etag"]
    'W/"1"'
    >>> g.patch_twin("t1", [{"op": "replace", "path": "/volume", "value": 3.0}])["volume"]
    3.0
    >>> _ = g.create_twin("t2", "dtmi:ex:Tank;1")
    >>> g.add_relationship("t1", "r1", "feeds", "t2")["$targetId"]
    't2'
    >>> [r["$sourceId"] for r in g.incoming("t2")]
    ['t1']
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from processtwin.dtdl import ModelSet
from processtwin.dtdl.model import Interface
from processtwin.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    TwinProblem,
    TwinValidationError,
)
from processtwin.graph.bulk import plan_import
from processtwin.graph.documents import (
    Clock,
    apply_patch,
    check_etag,
    etag_number,
    relationship_doc,
    timestamp,
    twin_doc,
)
from processtwin.graph.frozen import FrozenDict, freeze, thaw
from processtwin.graph.migration import MigrationReport, plan_migration, relationship_problems
from processtwin.graph.models import ModelDocument, ModelRepository
from processtwin.graph.store import Changes, SqliteGraphStore
from processtwin.graph.types import RelDoc, TwinDoc

__all__ = ["ImportResult", "LiveHook", "TwinGraph"]

#: ``live(dt_id, name)``: the newest live value of a twin's telemetry point, or None.
LiveHook = Callable[[str, str], Any]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many acyclic documents.

    Hundreds of thousands of new containers would otherwise trigger repeated full
    collections (about a third of a large import's time). Documents hold no cycles, so
    nothing is left for the collector to find; its previous state is restored.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What :meth:`TwinGraph.bulk_import` added."""

    models: tuple[str, ...]
    twins: int
    relationships: int


class TwinGraph:
    """Twins and relationships of DTDL models, in memory, optionally persisted to SQLite.

    ``path`` is the SQLite file (created when missing, restored when present); None keeps the
    graph in memory only. ``live`` answers :meth:`live_value`. ``clock`` stamps
    ``$lastUpdateTime`` (UTC now by default).
    """

    def __init__(self, path: str | Path | None = None, *, live: LiveHook | None = None,
                 clock: Clock | None = None, allow_undefined_extensions: bool = False) -> None:
        self._lock = threading.RLock()
        self._live = live
        self._clock: Clock = clock or _utc_now
        self._repo = ModelRepository.empty(allow_undefined_extensions=allow_undefined_extensions)
        self._twins: dict[str, FrozenDict] = {}
        self._rels: dict[tuple[str, str], FrozenDict] = {}
        self._out: dict[str, tuple[FrozenDict, ...]] = {}
        self._in: dict[str, tuple[FrozenDict, ...]] = {}
        self._model_count: dict[str, int] = {}
        self._twin_list: tuple[FrozenDict, ...] | None = None
        self._rel_list: tuple[FrozenDict, ...] | None = None
        self._store = SqliteGraphStore(path) if path is not None else None
        if self._store is not None:
            self._restore(self._store)

    def _restore(self, store: SqliteGraphStore) -> None:
        with _gc_paused():
            self._restore_all(store)

    def _restore_all(self, store: SqliteGraphStore) -> None:
        snap = store.load()
        if snap.models:
            self._repo, _ = self._repo.with_added(snap.models)
        self._apply(Changes(twins_put=[freeze(d) for d in snap.twins],
                            relationships_put=[freeze(d) for d in snap.relationships]))

    # ----------------------------------------------------------------- lifecycle

    def close(self) -> None:
        """Close the SQLite file (the in-memory graph stays readable)."""
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None

    def __enter__(self) -> TwinGraph:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __len__(self) -> int:
        return len(self._twins)

    def __contains__(self, dt_id: object) -> bool:
        return dt_id in self._twins

    # ----------------------------------------------------------------- GraphView

    def twin(self, dt_id: str) -> TwinDoc | None:
        """The twin document, or None."""
        return self._twins.get(dt_id)

    def twins(self) -> Sequence[TwinDoc]:
        """Every twin, in creation order."""
        snap = self._twin_list
        if snap is None:
            with self._lock:
                snap = self._twin_list
                if snap is None:
                    snap = self._twin_list = tuple(self._twins.values())
        return snap

    def relationships(self) -> Sequence[RelDoc]:
        """Every relationship, in creation order."""
        snap = self._rel_list
        if snap is None:
            with self._lock:
                snap = self._rel_list
                if snap is None:
                    snap = self._rel_list = tuple(self._rels.values())
        return snap

    def outgoing(self, dt_id: str, name: str | None = None) -> Sequence[RelDoc]:
        """Relationships whose source is ``dt_id`` (called ``name`` when given)."""
        rels = self._out.get(dt_id, ())
        if name is None:
            return rels
        return tuple(r for r in rels if r["$relationshipName"] == name)

    def incoming(self, dt_id: str, name: str | None = None) -> Sequence[RelDoc]:
        """Relationships whose target is ``dt_id`` (called ``name`` when given)."""
        rels = self._in.get(dt_id, ())
        if name is None:
            return rels
        return tuple(r for r in rels if r["$relationshipName"] == name)

    def is_of_model(self, dt_id: str, model: str, exact: bool = False) -> bool:
        """Whether the twin's model is ``model`` or (unless ``exact``) extends it."""
        doc = self._twins.get(dt_id)
        if doc is None:
            return False
        own = doc["$metadata"]["$model"]
        if exact:
            return bool(own == model)
        return model in self._repo.validators.ancestors.get(own, ())

    def live_value(self, dt_id: str, name: str) -> Any:
        """The live hook's newest value of ``dt_id``'s point ``name``; None without a hook."""
        return None if self._live is None else self._live(dt_id, name)

    # ----------------------------------------------------------------- models

    @property
    def model_set(self) -> ModelSet:
        """Every Interface loaded, parsed together."""
        return self._repo.model_set

    def add_models(self, documents: Iterable[ModelDocument]) -> list[str]:
        """Add DTDL documents (JSON text or objects); return the top-level ids added.

        The union with the loaded models is parsed again, so references across documents
        resolve. Raises :class:`~processtwin.dtdl.DTDLValidationError` with every problem, or
        :class:`ConflictError` for an id already loaded (models are immutable: add ``;2``).
        """
        with self._lock:
            repo, ids = self._repo.with_added(documents)
            self._write(Changes(models_put=[(i, repo.documents[i]) for i in ids]))
            self._repo = repo
            return ids

    def list_models(self) -> list[str]:
        """The top-level ids of the model documents, in the order they were added."""
        return list(self._repo.documents)

    def get_model(self, dtmi: str) -> dict[str, Any]:
        """A copy of the DTDL document ``dtmi`` as it was added (raises NotFoundError)."""
        doc = self._repo.documents.get(dtmi)
        if doc is None:
            raise NotFoundError(f"no model document {dtmi}")
        return thaw(doc)  # type: ignore[no-any-return]

    def interface(self, dtmi: str) -> Interface:
        """The parsed Interface ``dtmi``, inherited contents included."""
        return self._repo.interface(dtmi)

    def model_versions(self, dtmi: str) -> list[str]:
        """Every loaded version of ``dtmi`` (any version given), oldest first."""
        return self._repo.versions(dtmi)

    def delete_model(self, dtmi: str) -> None:
        """Remove the model document ``dtmi``.

        Refused with :class:`ConflictError` while a twin uses an Interface it defines or
        another model refers to it.
        """
        with self._lock:
            if dtmi not in self._repo.documents:
                raise NotFoundError(f"no model document {dtmi}")
            used = sorted(m for m in self._repo.defined_by(dtmi) if self._model_count.get(m))
            if used:
                raise ConflictError(f"model {dtmi} is in use by twins of {', '.join(used)}; "
                                    "migrate or delete them first")
            repo = self._repo.without([dtmi])
            self._write(Changes(models_deleted=[dtmi]))
            self._repo = repo

    # ----------------------------------------------------------------- twins

    def get_twin(self, dt_id: str) -> TwinDoc:
        """The twin document (read-only; :func:`~processtwin.graph.frozen.thaw` to edit)."""
        doc = self._twins.get(dt_id)
        if doc is None:
            raise NotFoundError(f"no twin '{dt_id}'")
        return doc

    def create_twin(self, dt_id: str, model: str, properties: Mapping[str, Any] | None = None,
                    *, if_none_match: bool = False) -> TwinDoc:
        """Create twin ``dt_id`` of ``model``, or replace it (new ETag) when it exists.

        ``properties`` holds property values and components (each ``{"$metadata": {}, ...}``;
        every component of the model must be present). With ``if_none_match`` an existing
        twin is a :class:`ConflictError`. Raises :class:`TwinValidationError` with every
        problem; replacing a twin with one of another model also checks its relationships.
        """
        values = thaw(properties) if properties is not None else {}
        with self._lock:
            old = self._twins.get(dt_id)
            if old is not None and if_none_match:
                raise ConflictError(f"twin '{dt_id}' already exists")
            problems = self._repo.validators.twin(dt_id, model, values)
            if not problems and old is not None and old["$metadata"]["$model"] != model:
                problems = self._model_change_problems(dt_id, model)
            if problems:
                raise TwinValidationError(problems)
            doc = self._twin_doc(dt_id, model, values, old)
            self._commit(Changes(twins_put=[doc]))
            return doc

    def patch_twin(self, dt_id: str, patch: Sequence[Mapping[str, Any]], *,
                   if_match: str | None = None) -> TwinDoc:
        """Apply an RFC 6902 JSON Patch to the twin; return the new document.

        Paths are those of the twin document (``/volume``, ``/jacket/area``); ``$`` members
        are maintained by the graph, except that replacing ``/$metadata/$model`` moves the
        twin to another model. The result must validate completely or nothing changes.
        ``if_match`` (an ETag or ``"*"``) guards against concurrent changes.
        """
        with self._lock:
            old = self.get_twin(dt_id)
            check_etag(f"twin '{dt_id}'", old, if_match)
            work, problems = apply_patch(dt_id, "", old, patch, allow_model=True)
            if work is None:
                raise TwinValidationError(problems)
            model = work.get("$metadata", {}).get("$model")
            values = {k: v for k, v in work.items() if not k.startswith("$")}
            problems = self._repo.validators.twin(dt_id, model, values)
            if not problems and model != old["$metadata"]["$model"]:
                problems = self._model_change_problems(dt_id, model)
            if problems:
                raise TwinValidationError(problems)
            doc = self._twin_doc(dt_id, model, values, old)
            self._commit(Changes(twins_put=[doc]))
            return doc

    def delete_twin(self, dt_id: str, *, if_match: str | None = None,
                    cascade: bool = False) -> None:
        """Delete the twin. Refused (:class:`ConflictError`) while relationships start or end
        at it, unless ``cascade`` deletes those too."""
        with self._lock:
            old = self.get_twin(dt_id)
            check_etag(f"twin '{dt_id}'", old, if_match)
            rels = {id(r): r for r in (*self._out.get(dt_id, ()), *self._in.get(dt_id, ()))}
            if rels and not cascade:
                raise ConflictError(f"twin '{dt_id}' still has {len(rels)} relationship(s); "
                                    "delete them first or pass cascade=True")
            self._commit(Changes(twins_deleted=[dt_id], relationships_deleted=[
                (r["$sourceId"], r["$relationshipId"]) for r in rels.values()]))

    def _twin_doc(self, dt_id: str, model: str, values: Mapping[str, Any],
                  old: Mapping[str, Any] | None) -> FrozenDict:
        iv = self._repo.validators.interface(model)
        version = etag_number(old["$etag"]) + 1 if old is not None else 1
        return twin_doc(dt_id, model, version, values, timestamp(self._clock),
                        iv.components if iv is not None else (), old)

    def _model_change_problems(self, dt_id: str, model: str) -> list[TwinProblem]:
        def model_of(x: str) -> str | None:
            if x == dt_id:
                return model
            d = self._twins.get(x)
            return None if d is None else str(d["$metadata"]["$model"])
        return relationship_problems(self._repo.validators, self, dt_id, model, model_of,
                                     {dt_id})

    # ----------------------------------------------------------------- relationships

    def get_relationship(self, source: str, rel_id: str) -> RelDoc:
        """The relationship ``rel_id`` of twin ``source`` (raises NotFoundError)."""
        doc = self._rels.get((source, rel_id))
        if doc is None:
            raise NotFoundError(f"twin '{source}' has no relationship '{rel_id}'")
        return doc

    def list_relationships(self, source: str, name: str | None = None) -> Sequence[RelDoc]:
        """The relationships of twin ``source`` (raises NotFoundError for an unknown twin)."""
        self.get_twin(source)
        return self.outgoing(source, name)

    def list_incoming(self, target: str, name: str | None = None) -> Sequence[RelDoc]:
        """The relationships ending at twin ``target`` (NotFoundError for an unknown twin)."""
        self.get_twin(target)
        return self.incoming(target, name)

    def add_relationship(self, source: str, rel_id: str, name: str, target: str,
                         properties: Mapping[str, Any] | None = None, *,
                         if_none_match: bool = False) -> RelDoc:
        """Create relationship ``rel_id`` (unique per source) or replace it when it exists.

        ``name`` must be a relationship of the source's model, the target must exist and be
        of the declared target Interface (or extend it), ``maxMultiplicity`` holds and the
        relationship's own properties validate. Raises :class:`TwinValidationError` with
        every problem, :class:`ConflictError` with ``if_none_match`` when it exists.
        """
        values = thaw(properties) if properties is not None else {}
        with self._lock:
            src = self.get_twin(source)
            old = self._rels.get((source, rel_id))
            if old is not None and if_none_match:
                raise ConflictError(f"twin '{source}' already has relationship '{rel_id}'")
            others = sum(1 for r in self._out.get(source, ())
                         if r["$relationshipName"] == name and r is not old)
            target_doc = self._twins.get(target) if isinstance(target, str) else None
            problems = self._repo.validators.relationship(
                source, src["$metadata"]["$model"], rel_id, name, target,
                None if target_doc is None else target_doc["$metadata"]["$model"], values,
                existing=others)
            if problems:
                raise TwinValidationError(problems)
            version = etag_number(old["$etag"]) + 1 if old is not None else 1
            doc = relationship_doc(source, rel_id, name, target, version, values)
            self._commit(Changes(relationships_put=[doc]))
            return doc

    def patch_relationship(self, source: str, rel_id: str, patch: Sequence[Mapping[str, Any]],
                           *, if_match: str | None = None) -> RelDoc:
        """Apply an RFC 6902 JSON Patch to the relationship's own properties."""
        with self._lock:
            old = self.get_relationship(source, rel_id)
            check_etag(f"relationship '{rel_id}' of '{source}'", old, if_match)
            base = f"/relationships/{rel_id}"
            work, problems = apply_patch(source, base, old, patch, allow_model=False)
            if work is None:
                raise TwinValidationError(problems)
            values = {k: v for k, v in work.items() if not k.startswith("$")}
            return self.add_relationship(source, rel_id, old["$relationshipName"],
                                         old["$targetId"], values)

    def delete_relationship(self, source: str, rel_id: str, *,
                            if_match: str | None = None) -> None:
        """Delete relationship ``rel_id`` of twin ``source``."""
        with self._lock:
            old = self.get_relationship(source, rel_id)
            check_etag(f"relationship '{rel_id}' of '{source}'", old, if_match)
            self._commit(Changes(relationships_deleted=[(source, rel_id)]))

    # ----------------------------------------------------------------- bulk

    def bulk_import(self, *, models: Iterable[ModelDocument] = (),
                    twins: Iterable[Mapping[str, Any]] = (),
                    relationships: Iterable[Mapping[str, Any]] = ()) -> ImportResult:
        """Add models, then twins, then relationships, all or nothing, in one transaction.

        Every twin and relationship is validated first (against the loaded models plus
        ``models``); any problem raises one :class:`TwinValidationError` listing all of them,
        or the DTDL error of ``models``, and nothing is applied. Documents have the shape
        :meth:`export` returns; ids already in the graph are refused (``exists``).
        """
        with self._lock, _gc_paused():
            repo, ids = self._repo.with_added(models)
            plan = plan_import(repo.validators, self, twins, relationships,
                               now=timestamp(self._clock))
            if plan.problems:
                raise TwinValidationError(plan.problems)
            changes = Changes(models_put=[(i, repo.documents[i]) for i in ids],
                              twins_put=plan.twins, relationships_put=plan.relationships)
            self._write(changes)
            self._repo = repo
            self._apply(changes)
            return ImportResult(tuple(ids), len(plan.twins), len(plan.relationships))

    def export(self) -> dict[str, list[dict[str, Any]]]:
        """Every model document, twin and relationship as plain JSON-shaped copies.

        ``bulk_import(**graph.export())`` into an empty graph recreates this one (with new
        ETags and timestamps).
        """
        with self._lock:
            return {"models": [thaw(d) for d in self._repo.documents.values()],
                    "twins": [thaw(d) for d in self._twins.values()],
                    "relationships": [thaw(d) for d in self._rels.values()]}

    # ----------------------------------------------------------------- versioning

    def migrate(self, from_model: str, to_model: str, *, dry_run: bool = False,
                defaults: Mapping[str, Any] | None = None,
                renames: Mapping[str, str] | None = None) -> MigrationReport:
        """Move every twin of exactly ``from_model`` to ``to_model``; report what changed.

        Per twin: properties the new model lacks are dropped, ``renames`` (old name -> new
        name) are applied, ``defaults`` (name -> value) fill properties and components the
        twin lacks, values that no longer validate are converted when a conversion exists
        (see :mod:`processtwin.graph.migration`). A twin whose values or relationships do not
        validate under ``to_model`` stays on ``from_model``; the others move in one
        transaction. ``dry_run`` only reports.
        """
        defaults = dict(defaults or {})
        renames = dict(renames or {})
        with self._lock:
            repo = self._repo
            for m in (from_model, to_model):
                repo.interface(m)
            if from_model == to_model:
                raise InvalidInputError("from_model and to_model are the same")
            iv = repo.validators.interface(to_model)
            settable = set(iv.properties) | set(iv.components) if iv is not None else set()
            wrong = sorted({*defaults, *renames.values()} - settable)
            if wrong:
                raise InvalidInputError(f"{to_model} has no property or component "
                                        f"{', '.join(wrong)} (named in defaults/renames)")
            ids = [t["$dtId"] for t in self._twins.values()
                   if t["$metadata"]["$model"] == from_model]
            plan = plan_migration(repo.validators, self, ids, from_model, to_model,
                                  defaults=defaults, renames=renames)
            report = MigrationReport(from_model, to_model, dry_run, plan.report.twins)
            if dry_run or not plan.values:
                return report
            docs = [self._twin_doc(t, to_model, v, self._twins[t]) for t, v in plan.values.items()]
            self._commit(Changes(twins_put=docs))
            return report

    # ----------------------------------------------------------------- internals

    def _write(self, changes: Changes) -> None:
        if self._store is not None:
            self._store.apply(changes)

    def _commit(self, changes: Changes) -> None:
        self._write(changes)
        self._apply(changes)

    def _apply(self, changes: Changes) -> None:
        """Apply written changes to the in-memory documents and indexes (lock held).

        Snapshots are dropped first, so a reader asking for one waits for the whole change.
        """
        if changes.twins_put or changes.twins_deleted:
            self._twin_list = None
        if changes.relationships_put or changes.relationships_deleted:
            self._rel_list = None
        dropped = [d for key in changes.relationships_deleted
                   if (d := self._rels.pop(key, None)) is not None]
        if dropped:
            self._unlink(dropped)
        for dt_id in changes.twins_deleted:
            gone = self._twins.pop(dt_id, None)
            if gone is not None:
                self._count(gone, -1)
            self._out.pop(dt_id, None)
            self._in.pop(dt_id, None)
        for doc in changes.twins_put:
            before = self._twins.get(doc["$dtId"])
            if before is not None:
                self._count(before, -1)
            self._twins[doc["$dtId"]] = freeze(doc)
            self._count(doc, 1)
        if len(changes.relationships_put) > 16:
            self._link_many(changes.relationships_put)
        else:
            for doc in changes.relationships_put:
                self._link(freeze(doc))

    def _count(self, doc: Mapping[str, Any], step: int) -> None:
        model = doc["$metadata"]["$model"]
        self._model_count[model] = self._model_count.get(model, 0) + step

    def _unlink(self, docs: Sequence[Mapping[str, Any]]) -> None:
        """Drop relationships from the adjacency tuples, each affected twin's tuple once."""
        ids = {id(d) for d in docs}
        for index, end in ((self._out, "$sourceId"), (self._in, "$targetId")):
            for dt_id in {d[end] for d in docs}:
                kept = tuple(r for r in index.get(dt_id, ()) if id(r) not in ids)
                if kept:
                    index[dt_id] = kept
                else:
                    index.pop(dt_id, None)

    def _link(self, doc: FrozenDict) -> None:
        src, tgt = doc["$sourceId"], doc["$targetId"]
        key = (src, doc["$relationshipId"])
        old = self._rels.get(key)
        self._rels[key] = doc
        if old is None:
            self._out[src] = (*self._out.get(src, ()), doc)
            self._in[tgt] = (*self._in.get(tgt, ()), doc)
            return
        self._out[src] = tuple(doc if r is old else r for r in self._out[src])
        if old["$targetId"] == tgt:
            self._in[tgt] = tuple(doc if r is old else r for r in self._in[tgt])
        else:
            old_tgt = old["$targetId"]
            self._in[old_tgt] = tuple(r for r in self._in.get(old_tgt, ()) if r is not old)
            self._in[tgt] = (*self._in.get(tgt, ()), doc)

    def _link_many(self, docs: Sequence[Mapping[str, Any]]) -> None:
        """Add many new relationships, building each twin's tuples once."""
        out: dict[str, list[FrozenDict]] = {}
        inc: dict[str, list[FrozenDict]] = {}
        for doc in docs:
            key = (doc["$sourceId"], doc["$relationshipId"])
            frozen: FrozenDict = freeze(doc)
            if key in self._rels:  # a replacement: rare, done one by one
                self._link(frozen)
                continue
            self._rels[key] = frozen
            out.setdefault(frozen["$sourceId"], []).append(frozen)
            inc.setdefault(frozen["$targetId"], []).append(frozen)
        for src, new in out.items():
            self._out[src] = (*self._out.get(src, ()), *new)
        for tgt, new in inc.items():
            self._in[tgt] = (*self._in.get(tgt, ()), *new)

