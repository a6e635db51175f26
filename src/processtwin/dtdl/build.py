"""Build the public, immutable :mod:`processtwin.dtdl.model` from validated raw elements."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from processtwin.dtdl.elements import RawElement
from processtwin.dtdl.metamodel import metamodel
from processtwin.dtdl.model import (
    ArraySchema,
    Command,
    CommandPayload,
    Component,
    Content,
    EnumSchema,
    EnumValue,
    Field,
    Interface,
    MapSchema,
    ModelSet,
    ObjectSchema,
    PrimitiveSchema,
    Property,
    Relationship,
    Schema,
    Telemetry,
)
from processtwin.dtdl.validate import Validator

__all__ = ["build_model_set"]


def _lang(el: RawElement, prop: str) -> Mapping[str, str]:
    value = el.literals.get(prop)
    return MappingProxyType(dict(value)) if isinstance(value, dict) else MappingProxyType({})


def _opt_str(el: RawElement, prop: str) -> str | None:
    value = el.literals.get(prop)
    return value if isinstance(value, str) else None


class _Builder:
    def __init__(self, v: Validator) -> None:
        self.v = v
        self.schemas: dict[int, Schema] = {}
        # an inherited content is built once and shared by every descendant Interface
        self._contents: dict[tuple[str, str], Content] = {}

    def first(self, el: RawElement, prop: str) -> RawElement | str | None:
        vals = el.refs.get(prop, [])
        return vals[0] if vals else None

    def unit(self, el: RawElement) -> str | None:
        ref = self.first(el, "unit")
        return el.scope.units.get(ref) if isinstance(ref, str) else None

    def schema(self, ref: RawElement | str | None, owner: RawElement) -> Schema:
        if ref is None:
            return PrimitiveSchema("", "")
        node = self.v.deref(ref)
        if node is None:
            iri = str(ref)
            mm = metamodel(owner.version)
            name = mm.instances.get(iri, ("", owner.scope.schemas.get(iri, iri)))[1]
            return PrimitiveSchema(iri, name)
        key = id(node)
        if key not in self.schemas:
            self.schemas[key] = self._complex(node)
        return self.schemas[key]

    def field(self, el: RawElement) -> Field:
        return Field(
            id=el.id,
            name=str(el.literals.get("name", "")),
            schema=self.schema(self.first(el, "schema"), el),
            display_name=_lang(el, "displayName"),
            description=_lang(el, "description"),
            semantic_type=el.semantic_types[0] if el.semantic_types else None,
            unit=self.unit(el),
        )

    def _complex(self, node: RawElement) -> Schema:
        dn = _lang(node, "displayName")
        if node.cls == "Array":
            return ArraySchema(node.id, self.schema(self.first(node, "elementSchema"), node), dn)
        if node.cls == "Enum":
            vs = self.first(node, "valueSchema")
            values = tuple(
                EnumValue(ev.id, str(ev.literals.get("name", "")), ev.literals.get("enumValue", ""),
                          _lang(ev, "displayName"), _lang(ev, "description"))
                for ev in self.v._targets(node, "enumValues")
            )
            name = str(vs).split(":")[-1].split(";")[0] if vs else "string"
            return EnumSchema(node.id, name, values, dn)
        if node.cls == "Map":
            key = self.v._targets(node, "mapKey")[0]
            value = self.v._targets(node, "mapValue")[0]
            return MapSchema(node.id, self.field(key), self.field(value), dn)
        fields = tuple(self.field(f) for f in self.v._targets(node, "fields"))
        return ObjectSchema(node.id, fields, dn)

    def payload(self, el: RawElement, prop: str) -> CommandPayload | None:
        targets = self.v._targets(el, prop)
        if not targets:
            return None
        p = targets[0]
        return CommandPayload(
            p.id, str(p.literals.get("name", "")), self.schema(self.first(p, "schema"), p),
            _lang(p, "displayName"), _lang(p, "description"),
            p.semantic_types[0] if p.semantic_types else None, self.unit(p),
        )

    def content(self, c: RawElement, owner: str) -> Content:
        common: dict[str, Any] = {
            "id": c.id,
            "name": str(c.literals.get("name", "")),
            "defined_in": owner,
            "display_name": _lang(c, "displayName"),
            "description": _lang(c, "description"),
            "comment": _opt_str(c, "comment"),
        }
        if c.cls == "Telemetry":
            return Telemetry(
                schema=self.schema(self.first(c, "schema"), c),
                semantic_type=c.semantic_types[0] if c.semantic_types else None,
                unit=self.unit(c), cotypes=tuple(c.undefined_types), **common,
            )
        if c.cls == "Property":
            return self.property(c, owner)
        if c.cls == "Command":
            ct = self.first(c, "commandType")
            return Command(
                request=self.payload(c, "request"), response=self.payload(c, "response"),
                command_type=str(ct).split(":")[-1].split(";")[0] if ct else None, **common,
            )
        if c.cls == "Relationship":
            return Relationship(
                target=_opt_str(c, "target"),
                min_multiplicity=c.literals.get("minMultiplicity"),
                max_multiplicity=c.literals.get("maxMultiplicity"),
                writable=bool(c.literals.get("writable", False)),
                properties=tuple(self.property(p, owner) for p in self.v._targets(c, "properties")),
                **common,
            )
        target = self.v._targets(c, "schema")
        return Component(schema=target[0].id if target else "", **common)

    def property(self, c: RawElement, owner: str) -> Property:
        return Property(
            id=c.id, name=str(c.literals.get("name", "")), defined_in=owner,
            schema=self.schema(self.first(c, "schema"), c),
            writable=bool(c.literals.get("writable", False)),
            display_name=_lang(c, "displayName"), description=_lang(c, "description"),
            comment=_opt_str(c, "comment"),
            semantic_type=c.semantic_types[0] if c.semantic_types else None,
            unit=self.unit(c), cotypes=tuple(c.undefined_types),
        )

    def interface(self, el: RawElement) -> Interface:
        contents: dict[str, Content] = {}
        for node in [el, *self.v.ancestors(el)]:
            for ref in node.refs.get("contents", []):
                target = self.v.deref(ref)
                if target is not None:
                    name = str(target.literals.get("name", ""))
                    if name not in contents:
                        key = (target.id, node.id)
                        built = self._contents.get(key)
                        if built is None:
                            built = self._contents[key] = self.content(target, node.id)
                        contents[name] = built
        return Interface(
            id=el.id,
            dtdl_version=el.version,
            extends=tuple(b.id for b in self.v.bases(el)),
            contents=MappingProxyType(contents),
            schemas=tuple(self.schema(r, el) for r in el.refs.get("schemas", [])),
            display_name=_lang(el, "displayName"),
            description=_lang(el, "description"),
            comment=_opt_str(el, "comment"),
            extensions=el.scope.extensions,
        )


def build_model_set(v: Validator) -> ModelSet:
    """Assemble the :class:`ModelSet` of every Interface the validator indexed."""
    b = _Builder(v)
    interfaces = {
        el.id: b.interface(el) for el in v.elements if el.cls == "Interface"
    }
    return ModelSet(MappingProxyType(interfaces))
