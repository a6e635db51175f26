"""Validation of twin documents and relationships against their DTDL Interfaces.

:class:`Validators` belongs to one :class:`~processtwin.dtdl.model.ModelSet` and builds one
:class:`InterfaceValidator` per Interface on first use, so validating a twin costs a dictionary
look-up per property. Every problem is collected as a :class:`~processtwin.errors.TwinProblem`
with a JSON Pointer into the document and a short code; nothing stops at the first one.

Codes beyond those of :mod:`processtwin.graph.values`: ``unknown-property``, ``not-settable``
(a telemetry, command or relationship name used as a property), ``reserved`` (a ``$`` key that
may not be set), ``component-missing``, ``unknown-model``, ``invalid-id``,
``relationship-name``, ``target-missing``, ``relationship-target``, ``multiplicity``.

Relationship problems name the source twin; their path is
``/relationships/<relationshipId>[/<property>]``.

    >>> from processtwin.dtdl import parse
    >>> ms = parse([{"@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:Tank;1",
    ...   "@type": "Interface", "contents": [
    ...     {"@type": "Property", "name": "volume", "schema": "double"},
    ...     {"@type": "Telemetry", "name": "level", "schema": "double"}]}])
    >>> for p in Validators(ms).twin("t1", "dtmi:ex:Tank;1", {"volume": "big", "level": 3}):
    ...     print(p)
    t1/volume: type: expected a double, got string 'big'
    t1/level: not-settable: 'level' is a telemetry of dtmi:ex:Tank;1, not a property
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from processtwin.dtdl.model import (
    Command,
    Component,
    Interface,
    ModelSet,
    Property,
    Relationship,
    Telemetry,
)
from processtwin.errors import TwinProblem
from processtwin.graph.values import Check, Problem, SchemaChecker, describe, pointer

__all__ = ["MAX_ID_LENGTH", "InterfaceValidator", "RelationshipRule", "Validators",
           "ancestor_sets", "id_problem"]

#: Longest twin or relationship id accepted (characters).
MAX_ID_LENGTH = 512


def id_problem(value: Any, what: str = "twin id") -> str | None:
    """Why ``value`` cannot be a twin or relationship id, or None when it can."""
    if not isinstance(value, str) or not value:
        return f"a {what} must be a non-empty string, got {describe(value)}"
    if len(value) > MAX_ID_LENGTH:
        return f"a {what} may have at most {MAX_ID_LENGTH} characters"
    if not value.isprintable() or value != value.strip():
        return f"a {what} may not hold control characters or surrounding spaces"
    return None


def ancestor_sets(model_set: ModelSet) -> dict[str, frozenset[str]]:
    """Each Interface's DTMI mapped to itself and every Interface it extends, at any depth."""
    memo: dict[str, frozenset[str]] = {}

    def walk(dtmi: str) -> frozenset[str]:
        found = memo.get(dtmi)
        if found is None:
            iface = model_set.interfaces.get(dtmi)
            bases = iface.extends if iface is not None else ()
            found = frozenset({dtmi}).union(*(walk(b) for b in bases))
            memo[dtmi] = found
        return found

    for dtmi in model_set.interfaces:
        walk(dtmi)
    return memo


@dataclass(frozen=True, slots=True)
class RelationshipRule:
    """What a relationship ``name`` of an Interface allows."""

    name: str
    target: str | None
    max_multiplicity: int | None
    properties: Mapping[str, Check]


class InterfaceValidator:
    """Checks property values against one Interface (its own and inherited contents)."""

    def __init__(self, interface: Interface, owner: Validators) -> None:
        self.id = interface.id
        self._owner = owner
        checker = owner.checker
        self.properties: dict[str, Check] = {}
        self.components: dict[str, str] = {}
        self.relationships: dict[str, RelationshipRule] = {}
        self.others: dict[str, str] = {}
        for name, content in interface.contents.items():
            if isinstance(content, Property):
                self.properties[name] = checker.compile(content.schema)
            elif isinstance(content, Component):
                self.components[name] = content.schema
            elif isinstance(content, Relationship):
                self.relationships[name] = RelationshipRule(
                    name, content.target, content.max_multiplicity,
                    {p.name: checker.compile(p.schema) for p in content.properties})
                self.others[name] = "relationship"
            elif isinstance(content, Telemetry):
                self.others[name] = "telemetry"
            elif isinstance(content, Command):
                self.others[name] = "command"

    def check(self, values: Mapping[str, Any], path: str, out: list[Problem]) -> None:
        """Append every problem of ``values`` (properties and components) to ``out``."""
        for name, value in values.items():
            sub = pointer(path, name)
            prop = self.properties.get(name)
            if prop is not None:
                prop(value, sub, out)
            elif name in self.components:
                self._component(name, value, sub, out)
            elif isinstance(name, str) and name.startswith("$"):
                out.append((sub, "reserved", f"'{name}' is reserved and cannot be set here"))
            elif name in self.others:
                out.append((sub, "not-settable",
                            f"'{name}' is a {self.others[name]} of {self.id}, not a property"))
            else:
                out.append((sub, "unknown-property", f"{self.id} has no property '{name}'"))
        for name in self.components:
            if name not in values:
                out.append((pointer(path, name), "component-missing",
                            f"component '{name}' ({self.components[name]}) must be present, "
                            'at least as {"$metadata": {}}'))

    def _component(self, name: str, value: Any, path: str, out: list[Problem]) -> None:
        if not isinstance(value, Mapping):
            out.append((path, "type", f"component '{name}' must be an object, got "
                        f"{describe(value)}"))
            return
        meta = value.get("$metadata", {})
        if not isinstance(meta, Mapping):
            out.append((pointer(path, "$metadata"), "type", "$metadata must be an object"))
        inner = self._owner.interface(self.components[name])
        if inner is None:  # cannot happen for a parsed ModelSet; kept for safety
            out.append((path, "unknown-model", f"no interface {self.components[name]}"))
            return
        inner.check({k: v for k, v in value.items() if k != "$metadata"}, path, out)

    def check_relationship_properties(
        self, rule: RelationshipRule, values: Mapping[str, Any], path: str, out: list[Problem]
    ) -> None:
        """Append every problem of a relationship's own property values to ``out``."""
        for name, value in values.items():
            sub = pointer(path, name)
            prop = rule.properties.get(name)
            if prop is not None:
                prop(value, sub, out)
            elif isinstance(name, str) and name.startswith("$"):
                out.append((sub, "reserved", f"'{name}' is reserved and cannot be set here"))
            else:
                out.append((sub, "unknown-property",
                            f"relationship '{rule.name}' of {self.id} has no property '{name}'"))


class Validators:
    """Validation for one ModelSet: an :class:`InterfaceValidator` per Interface, built lazily."""

    def __init__(self, model_set: ModelSet) -> None:
        self.model_set = model_set
        self.checker = SchemaChecker()
        self.ancestors = ancestor_sets(model_set)
        self._interfaces: dict[str, InterfaceValidator] = {}

    def interface(self, dtmi: str) -> InterfaceValidator | None:
        """The validator of Interface ``dtmi``, or None when the set has no such Interface."""
        found = self._interfaces.get(dtmi)
        if found is None:
            iface = self.model_set.interfaces.get(dtmi)
            if iface is None:
                return None
            found = InterfaceValidator(iface, self)
            self._interfaces[dtmi] = found
        return found

    def is_a(self, model: str, base: str) -> bool:
        """Whether Interface ``model`` is ``base`` or extends it."""
        return base in self.ancestors.get(model, ())

    def accepts_target(self, model: str, target: str) -> bool:
        """Whether a twin of ``model`` may be the target of a relationship declared with
        ``target``: it is ``target`` or extends it, *or a later version of either*.

        DTDL treats ``dtmi:x:Reactor;2`` as a different Interface from ``;1``; taken
        literally, no twin could move to ``;2`` while a relationship declared against
        ``;1`` points at it, and no model could be versioned one at a time. A later
        version of the same DTMI is taken to honour the earlier one's contract (the
        migration report still lists every content that changed).
        """
        if self.is_a(model, target):
            return True
        path, _, version = target.rpartition(";")
        if not version.isdigit():
            return False
        for anc in self.ancestors.get(model, ()):
            p, _, v = anc.rpartition(";")
            if p == path and v.isdigit() and int(v) >= int(version):
                return True
        return False

    def twin(self, dt_id: Any, model: Any, values: Mapping[str, Any]) -> list[TwinProblem]:
        """Every problem of a twin ``dt_id`` of ``model`` holding ``values``.

        ``values`` are the twin's properties and components, without ``$dtId``, ``$etag``
        and ``$metadata``.
        """
        problems: list[TwinProblem] = []
        owner = dt_id if isinstance(dt_id, str) else str(dt_id)
        why = id_problem(dt_id)
        if why is not None:
            problems.append(TwinProblem(owner, "/$dtId", "invalid-id", why))
        iv = self.interface(model) if isinstance(model, str) else None
        if iv is None:
            problems.append(TwinProblem(owner, "/$metadata/$model", "unknown-model",
                                        f"no model {model!r} is loaded"))
            return problems
        if not isinstance(values, Mapping):
            problems.append(TwinProblem(owner, "", "type",
                                        f"properties must be an object, got {describe(values)}"))
            return problems
        out: list[Problem] = []
        iv.check(values, "", out)
        problems.extend(TwinProblem(owner, p, c, m) for p, c, m in out)
        return problems

    def relationship(
        self,
        source: str,
        source_model: str,
        rel_id: Any,
        name: Any,
        target: Any,
        target_model: str | None,
        values: Mapping[str, Any],
        *,
        existing: int = 0,
    ) -> list[TwinProblem]:
        """Every problem of relationship ``rel_id`` called ``name`` from ``source`` to ``target``.

        ``target_model`` is None when the target twin does not exist. ``existing`` counts the
        other relationships called ``name`` the source already has (for ``maxMultiplicity``).
        """
        base = pointer("/relationships", rel_id if isinstance(rel_id, str) else str(rel_id))
        out: list[Problem] = []
        why = id_problem(rel_id, "relationship id")
        if why is not None:
            out.append((base, "invalid-id", why))
        if id_problem(target, "target id") is not None:
            out.append((pointer(base, "$targetId"), "invalid-id",
                        f"the target must be a twin id, got {describe(target)}"))
        elif target_model is None:
            out.append((pointer(base, "$targetId"), "target-missing",
                        f"there is no twin '{target}'"))
        iv = self.interface(source_model)
        rule = iv.relationships.get(name) if iv is not None and isinstance(name, str) else None
        if iv is None:
            out.append((base, "unknown-model", f"no model {source_model!r} is loaded"))
        elif rule is None:
            kind = iv.others.get(name) if isinstance(name, str) else None
            known = ", ".join(iv.relationships) or "none"
            what = f"is a {kind}, not a relationship" if kind else "is not a relationship"
            out.append((pointer(base, "$relationshipName"), "relationship-name",
                        f"{name!r} {what} of {iv.id} (relationships: {known})"))
        else:
            if (rule.target is not None and target_model is not None
                    and not self.accepts_target(target_model, rule.target)):
                out.append((pointer(base, "$targetId"), "relationship-target",
                            f"'{rule.name}' must target a {rule.target}; '{target}' is a "
                            f"{target_model}"))
            if rule.max_multiplicity is not None and existing + 1 > rule.max_multiplicity:
                out.append((pointer(base, "$relationshipName"), "multiplicity",
                            f"'{source}' may have at most {rule.max_multiplicity} "
                            f"'{rule.name}' relationship(s); it already has {existing}"))
            iv.check_relationship_properties(rule, values, base, out)
        return [TwinProblem(str(source), p, c, m) for p, c, m in out]
