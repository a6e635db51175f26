"""Moving twins from one model version to another, with a report of what changes.

:func:`plan_migration` is pure: it reads the graph and returns, for every twin of the old
model, the values it would hold under the new model, the :class:`Change` s that got it there
(properties dropped because the new version lacks them, added from defaults, renamed,
converted to a new type) and the problems that stop it (values that neither validate nor
convert, relationships that no longer validate). Twins with problems stay on the old version;
:meth:`processtwin.graph.graph.TwinGraph.migrate` moves the others.

Conversions, tried only when a value no longer validates: integral numbers and numeric strings
to integer types, numbers and numeric strings to ``double``/``float``/``decimal``, numbers and
booleans to ``string``, ``"true"``/``"false"`` to ``boolean``, an enum value's name to its value.

    >>> c = Change("converted", "/speed", old="12", new=12, note="string -> integer")
    >>> c.to_dict()["new"]
    12
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from processtwin.dtdl.model import EnumSchema, PrimitiveSchema, Property, Schema
from processtwin.errors import TwinProblem
from processtwin.graph.documents import user_values
from processtwin.graph.frozen import thaw
from processtwin.graph.types import GraphView
from processtwin.graph.validate import InterfaceValidator, Validators
from processtwin.graph.values import Problem, describe, pointer

__all__ = ["Change", "MigrationPlan", "MigrationReport", "TwinMigration", "convert",
           "plan_migration", "relationship_problems"]

_INTEGERS = {"byte", "short", "integer", "long", "unsignedByte", "unsignedShort",
             "unsignedInteger", "unsignedLong"}
_REALS = {"double", "float", "decimal"}
_NO = object()


@dataclass(frozen=True, slots=True)
class Change:
    """One change to a twin: ``kind`` is dropped, added, renamed or converted."""

    kind: str
    path: str
    old: Any = None
    new: Any = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-shaped dict (``old``/``new`` only where they apply)."""
        out: dict[str, Any] = {"kind": self.kind, "path": self.path}
        if self.kind != "added":
            out["old"] = self.old
        if self.kind != "dropped":
            out["new"] = self.new
        if self.note:
            out["note"] = self.note
        return out

    def __str__(self) -> str:
        text = {"dropped": f"dropped {self.path} (was {self.old!r})",
                "added": f"added {self.path} = {self.new!r}",
                "renamed": f"renamed to {self.path}",
                "converted": f"converted {self.path}: {self.old!r} -> {self.new!r}"}
        return text.get(self.kind, f"{self.kind} {self.path}") + (
            f" ({self.note})" if self.note else "")


@dataclass(frozen=True, slots=True)
class TwinMigration:
    """What migrating one twin does, or why it cannot."""

    dt_id: str
    migrated: bool
    changes: tuple[Change, ...] = ()
    problems: tuple[TwinProblem, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-shaped dict."""
        return {"dtId": self.dt_id, "migrated": self.migrated,
                "changes": [c.to_dict() for c in self.changes],
                "problems": [{"twin": p.twin, "path": p.path, "code": p.code,
                              "message": p.message} for p in self.problems]}


@dataclass(frozen=True, slots=True)
class MigrationReport:
    """The outcome of :meth:`~processtwin.graph.graph.TwinGraph.migrate`, one entry per twin.

    With ``dry_run`` nothing was changed and ``migrated`` says what *would* move.
    """

    from_model: str
    to_model: str
    dry_run: bool
    twins: tuple[TwinMigration, ...] = ()

    @property
    def migrated(self) -> tuple[str, ...]:
        """Twins that moved (or would move) to ``to_model``."""
        return tuple(t.dt_id for t in self.twins if t.migrated)

    @property
    def failed(self) -> tuple[str, ...]:
        """Twins left on ``from_model`` because of their problems."""
        return tuple(t.dt_id for t in self.twins if not t.migrated)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-shaped dict with a summary and every twin's changes and problems."""
        return {"fromModel": self.from_model, "toModel": self.to_model, "dryRun": self.dry_run,
                "summary": {"twins": len(self.twins), "migrated": len(self.migrated),
                            "failed": len(self.failed)},
                "twins": [t.to_dict() for t in self.twins]}

    def __str__(self) -> str:
        verb = "would migrate" if self.dry_run else "migrated"
        lines = [f"{self.from_model} -> {self.to_model}: {verb} {len(self.migrated)} of "
                 f"{len(self.twins)} twin(s), {len(self.failed)} failed"]
        for t in self.twins:
            lines.append(f"  {t.dt_id}: {'ok' if t.migrated else 'FAILED'}")
            lines.extend(f"    {c}" for c in t.changes)
            lines.extend(f"    ! {p.path or '/'}: {p.code}: {p.message}" for p in t.problems)
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class MigrationPlan:
    """A report plus the values each migrating twin gets."""

    report: MigrationReport
    values: Mapping[str, dict[str, Any]] = field(default_factory=dict)


def convert(value: Any, schema: Schema) -> Any:
    """``value`` converted to ``schema``, or the sentinel ``_NO`` when there is no conversion."""
    if isinstance(schema, EnumSchema):
        for ev in schema.values:
            if value == ev.name and not isinstance(value, bool):
                return ev.value
        return _NO
    if not isinstance(schema, PrimitiveSchema):
        return _NO
    name = schema.name
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if name in _INTEGERS:
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                return _NO
    elif name in _REALS:
        if number:
            return float(value)
        if isinstance(value, str):
            try:
                f = float(value.strip())
            except ValueError:
                return _NO
            return f if math.isfinite(f) else _NO
    elif name == "string":
        if isinstance(value, bool) or number:
            return json.dumps(value)
    elif (name == "boolean" and isinstance(value, str)
          and value.strip().lower() in ("true", "false")):
        return value.strip().lower() == "true"
    return _NO


def _fit(values: dict[str, Any], iv: InterfaceValidator, schemas: Mapping[str, Schema],
         validators: Validators, path: str, changes: list[Change]) -> None:
    """Drop, convert and complete ``values`` (one twin or component level) for ``iv``."""
    for name in list(values):
        sub = pointer(path, name)
        value = values[name]
        if name in iv.properties:
            out: list[Problem] = []
            iv.properties[name](value, sub, out)
            if out:
                new = convert(value, schemas[name])
                if new is not _NO:
                    again: list[Problem] = []
                    iv.properties[name](new, sub, again)
                    if not again:
                        values[name] = new
                        changes.append(Change("converted", sub, value, new,
                                              f"{describe(value)} -> {describe(new)}"))
        elif name in iv.components:
            inner = validators.interface(iv.components[name])
            if isinstance(value, dict) and inner is not None:
                _fit(value, inner, _schemas(validators, inner.id), validators, sub, changes)
        elif not name.startswith("$"):
            kind = iv.others.get(name)
            why = f"it is a {kind} in {iv.id}" if kind else f"{iv.id} has no '{name}'"
            changes.append(Change("dropped", sub, value, note=why))
            del values[name]
    for name, model in iv.components.items():
        if name not in values:
            values[name] = {"$metadata": {}}
            changes.append(Change("added", pointer(path, name), new={"$metadata": {}},
                                  note=f"new component of model {model}"))


def _schemas(validators: Validators, dtmi: str) -> dict[str, Schema]:
    iface = validators.model_set.interfaces[dtmi]
    return {p.name: p.schema for p in iface.contents.values() if isinstance(p, Property)}


def relationship_problems(
    validators: Validators, view: GraphView, dt_id: str, new_model: str,
    model_of: Callable[[str], str | None], moving: Container[str],
) -> list[TwinProblem]:
    """Problems of ``dt_id``'s relationships once it (and the twins in ``moving``) change model.

    ``model_of`` gives every twin's model after the change (None when it does not exist).
    Incoming relationships from a twin in ``moving`` are left to that twin's own check.
    """
    problems: list[TwinProblem] = []
    counts: dict[str, int] = {}
    for rel in view.outgoing(dt_id):
        name = rel["$relationshipName"]
        target = rel["$targetId"]
        values = {k: v for k, v in rel.items() if not k.startswith("$")}
        problems += validators.relationship(
            dt_id, new_model, rel["$relationshipId"], name, target, model_of(target), values,
            existing=counts.get(name, 0))
        counts[name] = counts.get(name, 0) + 1
    for rel in view.incoming(dt_id):
        source = rel["$sourceId"]
        if source in moving:
            continue
        source_model = model_of(source)
        iv = validators.interface(source_model) if source_model is not None else None
        rule = iv.relationships.get(rel["$relationshipName"]) if iv is not None else None
        if rule is not None and rule.target is not None and not validators.accepts_target(
                new_model, rule.target):
            problems.append(TwinProblem(
                source, pointer(pointer("/relationships", rel["$relationshipId"]), "$targetId"),
                "relationship-target",
                f"'{rule.name}' of '{source}' must target a {rule.target}; '{dt_id}' would be "
                f"a {new_model}"))
    return problems


def plan_migration(
    validators: Validators, view: GraphView, twin_ids: Sequence[str], from_model: str,
    to_model: str, *, defaults: Mapping[str, Any], renames: Mapping[str, str],
) -> MigrationPlan:
    """Plan moving the twins ``twin_ids`` (all of ``from_model``) to ``to_model``.

    ``validators`` must know both models; ``defaults`` and ``renames`` name top-level
    properties or components of ``to_model`` (the caller checks that).
    """
    iv = validators.interface(to_model)
    if iv is None:
        raise KeyError(to_model)
    schemas = _schemas(validators, to_model)
    fitted: dict[str, dict[str, Any]] = {}
    changes: dict[str, list[Change]] = {}
    own: dict[str, list[TwinProblem]] = {}
    for dt_id in twin_ids:
        doc = view.twin(dt_id)
        if doc is None:
            continue
        values = user_values(doc)
        log: list[Change] = []
        clash: list[TwinProblem] = []
        for old, new in renames.items():
            if old not in values:
                continue
            if new in values:
                clash.append(TwinProblem(dt_id, pointer("", new), "rename-clash",
                                         f"cannot rename /{old} to /{new}: /{new} is set"))
                continue
            values[new] = values.pop(old)
            log.append(Change("renamed", pointer("", new), values[new], values[new],
                              f"from /{old}"))
        for name, value in defaults.items():
            if name not in values:
                values[name] = thaw(value)
                log.append(Change("added", pointer("", name), new=value, note="default"))
        _fit(values, iv, schemas, validators, "", log)
        fitted[dt_id] = values
        changes[dt_id] = log
        own[dt_id] = clash + validators.twin(dt_id, to_model, values)
    moving = {t for t in fitted if not own[t]}
    stuck: dict[str, list[TwinProblem]] = {}

    def model_of(x: str) -> str | None:
        if x in moving:
            return to_model
        d = view.twin(x)
        return None if d is None else str(d["$metadata"]["$model"])

    while True:  # a twin that stays behind can break its neighbours' relationships in turn
        found = {t: p for t in moving
                 if (p := relationship_problems(validators, view, t, to_model, model_of, moving))}
        if not found:
            break
        stuck.update(found)
        moving -= found.keys()
    report = tuple(TwinMigration(t, t in moving, tuple(changes[t]),
                                 tuple(own[t] + stuck.get(t, []))) for t in fitted)
    return MigrationPlan(MigrationReport(from_model, to_model, False, report),
                         {t: fitted[t] for t in moving})
