"""The graph's model repository: the DTDL documents it was given, parsed together.

A :class:`ModelRepository` is immutable. Adding or removing models returns a new repository
whose documents were re-parsed as one union, so references across files (``extends``,
component schemas, relationship targets) resolve, and a graph can swap repositories
atomically after the change was validated and persisted.

Versions live side by side: ``dtmi:ex:Reactor;2`` can be added beside ``dtmi:ex:Reactor;1``;
:meth:`ModelRepository.versions` lists them. Moving twins from one version to another is
:meth:`processtwin.graph.graph.TwinGraph.migrate` (see :mod:`processtwin.graph.migration`).

    >>> repo = ModelRepository.empty()
    >>> repo, added = repo.with_added([{"@context": "dtmi:dtdl:context;3",
    ...     "@id": "dtmi:ex:Tank;1", "@type": "Interface"}])
    >>> added, repo.versions("dtmi:ex:Tank;7")
    (['dtmi:ex:Tank;1'], ['dtmi:ex:Tank;1'])
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from processtwin.dtdl import DTDLValidationError, Dtmi, ModelSet, parse
from processtwin.dtdl.model import Interface
from processtwin.errors import ConflictError, InvalidInputError, NotFoundError
from processtwin.graph.frozen import FrozenDict, freeze, thaw
from processtwin.graph.validate import Validators

__all__ = ["ModelDocument", "ModelRepository", "split_documents"]

#: One DTDL model document as accepted: JSON text, or a parsed object or list of objects.
ModelDocument = str | bytes | Mapping[str, Any] | list[Any]


def split_documents(documents: Iterable[ModelDocument]) -> list[dict[str, Any]]:
    """Each top-level Interface object of ``documents`` (JSON text is decoded, arrays split).

    Raises :class:`DTDLValidationError` (via :func:`parse`) for text that is not JSON, and
    :class:`InvalidInputError` for a top-level element that is not an object with an ``@id``.
    """
    if isinstance(documents, str | bytes | Mapping):
        documents = [documents]
    out: list[dict[str, Any]] = []
    for i, doc in enumerate(documents):
        if isinstance(doc, str | bytes):
            try:
                doc = json.loads(doc)
            except ValueError:
                parse([doc])  # reports the JSON problem the way the parser does
                raise
        items = doc if isinstance(doc, list) else [doc]
        for item in items:
            if not isinstance(item, Mapping) or not isinstance(item.get("@id"), str):
                raise InvalidInputError(
                    f"model document {i}: every top-level element must be an Interface "
                    "object with an '@id'")
            out.append(thaw(item))
    return out


class ModelRepository:
    """DTDL model documents keyed by their top-level ``@id``, with the parsed ModelSet."""

    def __init__(self, documents: Mapping[str, Mapping[str, Any]], model_set: ModelSet,
                 *, allow_undefined_extensions: bool = False) -> None:
        """Use :meth:`empty` or :meth:`from_documents`; this trusts that ``model_set`` is
        the parse of ``documents``."""
        self.documents: Mapping[str, FrozenDict] = FrozenDict(
            {k: freeze(v) for k, v in documents.items()})
        self.model_set = model_set
        self.validators = Validators(model_set)
        self.allow_undefined_extensions = allow_undefined_extensions

    @classmethod
    def empty(cls, *, allow_undefined_extensions: bool = False) -> ModelRepository:
        """A repository without models."""
        return cls({}, ModelSet(), allow_undefined_extensions=allow_undefined_extensions)

    @classmethod
    def from_documents(cls, documents: Iterable[ModelDocument], *,
                       allow_undefined_extensions: bool = False) -> ModelRepository:
        """Parse ``documents`` together (raises DTDLValidationError with every problem)."""
        repo, _ = cls.empty(allow_undefined_extensions=allow_undefined_extensions).with_added(
            documents)
        return repo

    def _parse(self, docs: Mapping[str, Mapping[str, Any]]) -> ModelSet:
        return parse([dict(d) for d in docs.values()],
                     allow_undefined_extensions=self.allow_undefined_extensions,
                     names=list(docs))

    def with_added(self, documents: Iterable[ModelDocument]) -> tuple[ModelRepository, list[str]]:
        """A new repository holding these documents too, and the ``@id`` s added.

        Raises :class:`ConflictError` when an ``@id`` is already loaded (add a new version
        instead) or given twice, :class:`DTDLValidationError` when the union does not parse.
        """
        new = split_documents(documents)
        if not new:
            return self, []
        ids = [d["@id"] for d in new]
        clash = sorted({i for i in ids if i in self.documents}
                       | {i for i in ids if ids.count(i) > 1})
        if clash:
            raise ConflictError(f"model(s) already loaded or given twice: {', '.join(clash)}; "
                                "models are immutable, add a new version instead")
        docs: dict[str, Mapping[str, Any]] = dict(self.documents)
        docs.update(zip(ids, new, strict=True))
        model_set = self._parse(docs)
        repo = ModelRepository(docs, model_set,
                               allow_undefined_extensions=self.allow_undefined_extensions)
        return repo, ids

    def without(self, ids: Iterable[str]) -> ModelRepository:
        """A new repository without the documents ``ids``.

        Raises :class:`NotFoundError` for an unknown id and :class:`ConflictError` when other
        models still reference one of them (extends, component, relationship target).
        """
        gone = set(ids)
        missing = sorted(gone - set(self.documents))
        if missing:
            raise NotFoundError(f"no model(s) {', '.join(missing)}")
        docs = {k: v for k, v in self.documents.items() if k not in gone}
        users = sorted(k for k, v in docs.items()
                       if any(g in _references(v) for g in self._defined_by(gone)))
        if users:
            raise ConflictError(f"model(s) {', '.join(sorted(gone))} are referenced by "
                                f"{', '.join(users)}; delete those first")
        try:
            model_set = self._parse(docs)
        except DTDLValidationError as exc:
            raise ConflictError(f"removing {', '.join(sorted(gone))} leaves models that do not "
                                f"resolve: {exc}") from exc
        return ModelRepository(docs, model_set,
                               allow_undefined_extensions=self.allow_undefined_extensions)

    def _defined_by(self, top_ids: set[str]) -> set[str]:
        out: set[str] = set()
        for top in top_ids:
            out |= self.defined_by(top)
        return out

    def defined_by(self, top_id: str) -> set[str]:
        """Every Interface the document ``top_id`` defines (itself and nested ones)."""
        doc = self.documents.get(top_id)
        return _ids(doc) & set(self.model_set.interfaces) if doc is not None else set()

    def interface(self, dtmi: str) -> Interface:
        """The parsed Interface ``dtmi`` (raises :class:`NotFoundError`)."""
        iface = self.model_set.interfaces.get(dtmi)
        if iface is None:
            raise NotFoundError(f"no model {dtmi}")
        return iface

    def ancestors(self, dtmi: str) -> frozenset[str]:
        """``dtmi`` and every Interface it extends (empty when unknown)."""
        return self.validators.ancestors.get(dtmi, frozenset())

    def versions(self, dtmi: str) -> list[str]:
        """Every loaded Interface with the same versionless id as ``dtmi``, oldest first."""
        d = Dtmi.parse(dtmi)
        if d is None:
            return []
        found = [(p.complete_version, i) for i in self.model_set.interfaces
                 if (p := Dtmi.parse(i)) is not None and p.versionless == d.versionless]
        return [i for _, i in sorted(found)]


def _ids(value: Any) -> set[str]:
    """Every ``@id`` defined anywhere in a JSON value."""
    out: set[str] = set()
    if isinstance(value, Mapping):
        if isinstance(value.get("@id"), str):
            out.add(value["@id"])
        for v in value.values():
            out |= _ids(v)
    elif isinstance(value, list):
        for v in value:
            out |= _ids(v)
    return out


def _references(value: Any) -> set[str]:
    """Every string value (outside ``@id``) anywhere in a JSON value: a superset of the DTMIs
    it refers to."""
    out: set[str] = set()
    if isinstance(value, Mapping):
        for k, v in value.items():
            if k == "@id":
                continue
            if isinstance(v, str):
                out.add(v)
            else:
                out |= _references(v)
    elif isinstance(value, list):
        for v in value:
            out |= _references(v) if not isinstance(v, str) else {v}
    return out
