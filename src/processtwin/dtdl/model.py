"""The resolved, immutable object model that :func:`processtwin.dtdl.parse` returns.

Everything is a frozen dataclass; mappings are read-only views. An :class:`Interface`'s
``contents`` include what it inherits through ``extends``.

    >>> from processtwin.dtdl import parse
    >>> ms = parse([{"@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:T;1",
    ...              "@type": "Interface",
    ...              "contents": [{"@type": "Property", "name": "sp", "schema": "double"}]}])
    >>> ms.interfaces["dtmi:ex:T;1"].contents["sp"].schema
    PrimitiveSchema(id='dtmi:dtdl:instance:Schema:double;3', name='double')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = [
    "ArraySchema",
    "Command",
    "CommandPayload",
    "Component",
    "Content",
    "EnumSchema",
    "EnumValue",
    "Field",
    "Interface",
    "MapSchema",
    "ModelSet",
    "ObjectSchema",
    "PrimitiveSchema",
    "Property",
    "Relationship",
    "Schema",
    "Telemetry",
]



def _empty() -> Mapping[str, str]:
    return MappingProxyType({})



@dataclass(frozen=True, slots=True)
class PrimitiveSchema:
    """A standard schema such as ``double`` or ``dateTime`` (or a geospatial type)."""

    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Field:
    """A named, typed member of an Object (also used for Map keys and values)."""

    id: str
    name: str
    schema: Schema
    display_name: Mapping[str, str] = field(default_factory=_empty)
    description: Mapping[str, str] = field(default_factory=_empty)
    semantic_type: str | None = None
    unit: str | None = None


@dataclass(frozen=True, slots=True)
class ArraySchema:
    """A homogeneous list."""

    id: str
    element_schema: Schema
    display_name: Mapping[str, str] = field(default_factory=_empty)


@dataclass(frozen=True, slots=True)
class EnumValue:
    """One named value of an Enum."""

    id: str
    name: str
    value: str | int
    display_name: Mapping[str, str] = field(default_factory=_empty)
    description: Mapping[str, str] = field(default_factory=_empty)


@dataclass(frozen=True, slots=True)
class EnumSchema:
    """A set of named values of type ``value_schema`` (``integer`` or ``string``)."""

    id: str
    value_schema: str
    values: tuple[EnumValue, ...]
    display_name: Mapping[str, str] = field(default_factory=_empty)


@dataclass(frozen=True, slots=True)
class MapSchema:
    """A string-keyed dictionary."""

    id: str
    key: Field
    value: Field
    display_name: Mapping[str, str] = field(default_factory=_empty)


@dataclass(frozen=True, slots=True)
class ObjectSchema:
    """A record of named fields."""

    id: str
    fields: tuple[Field, ...]
    display_name: Mapping[str, str] = field(default_factory=_empty)


Schema = PrimitiveSchema | ArraySchema | EnumSchema | MapSchema | ObjectSchema


@dataclass(frozen=True, slots=True)
class Telemetry:
    """Data a twin emits."""

    id: str
    name: str
    schema: Schema
    defined_in: str
    display_name: Mapping[str, str] = field(default_factory=_empty)
    description: Mapping[str, str] = field(default_factory=_empty)
    comment: str | None = None
    semantic_type: str | None = None
    unit: str | None = None
    cotypes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Property:
    """State a twin holds; ``writable`` when it can be set from outside."""

    id: str
    name: str
    schema: Schema
    defined_in: str
    writable: bool = False
    display_name: Mapping[str, str] = field(default_factory=_empty)
    description: Mapping[str, str] = field(default_factory=_empty)
    comment: str | None = None
    semantic_type: str | None = None
    unit: str | None = None
    cotypes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CommandPayload:
    """The request or response of a Command."""

    id: str
    name: str
    schema: Schema
    display_name: Mapping[str, str] = field(default_factory=_empty)
    description: Mapping[str, str] = field(default_factory=_empty)
    semantic_type: str | None = None
    unit: str | None = None


@dataclass(frozen=True, slots=True)
class Command:
    """An operation that can be invoked on a twin."""

    id: str
    name: str
    defined_in: str
    request: CommandPayload | None = None
    response: CommandPayload | None = None
    command_type: str | None = None
    display_name: Mapping[str, str] = field(default_factory=_empty)
    description: Mapping[str, str] = field(default_factory=_empty)
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class Relationship:
    """A link to other twins, optionally restricted to a ``target`` Interface."""

    id: str
    name: str
    defined_in: str
    target: str | None = None
    min_multiplicity: int | None = None
    max_multiplicity: int | None = None
    writable: bool = False
    properties: tuple[Property, ...] = ()
    display_name: Mapping[str, str] = field(default_factory=_empty)
    description: Mapping[str, str] = field(default_factory=_empty)
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class Component:
    """A part of a twin whose model is another Interface (``schema`` is its DTMI)."""

    id: str
    name: str
    schema: str
    defined_in: str
    display_name: Mapping[str, str] = field(default_factory=_empty)
    description: Mapping[str, str] = field(default_factory=_empty)
    comment: str | None = None


Content = Telemetry | Property | Command | Relationship | Component


@dataclass(frozen=True, slots=True)
class Interface:
    """A DTDL Interface with its own and inherited contents resolved."""

    id: str
    dtdl_version: int
    extends: tuple[str, ...]
    contents: Mapping[str, Content]
    schemas: tuple[Schema, ...] = ()
    display_name: Mapping[str, str] = field(default_factory=_empty)
    description: Mapping[str, str] = field(default_factory=_empty)
    comment: str | None = None
    extensions: tuple[str, ...] = ()

    @property
    def telemetries(self) -> tuple[Telemetry, ...]:
        """Telemetry contents, own and inherited."""
        return tuple(c for c in self.contents.values() if isinstance(c, Telemetry))

    @property
    def properties(self) -> tuple[Property, ...]:
        """Property contents, own and inherited."""
        return tuple(c for c in self.contents.values() if isinstance(c, Property))

    @property
    def commands(self) -> tuple[Command, ...]:
        """Command contents, own and inherited."""
        return tuple(c for c in self.contents.values() if isinstance(c, Command))

    @property
    def relationships(self) -> tuple[Relationship, ...]:
        """Relationship contents, own and inherited."""
        return tuple(c for c in self.contents.values() if isinstance(c, Relationship))

    @property
    def components(self) -> tuple[Component, ...]:
        """Component contents, own and inherited."""
        return tuple(c for c in self.contents.values() if isinstance(c, Component))


@dataclass(frozen=True, slots=True)
class ModelSet:
    """A validated set of Interfaces, keyed by DTMI."""

    interfaces: Mapping[str, Interface] = field(default_factory=lambda: MappingProxyType({}))

    def __len__(self) -> int:
        return len(self.interfaces)

    def __contains__(self, dtmi: object) -> bool:
        return dtmi in self.interfaces

    def __getitem__(self, dtmi: str) -> Interface:
        return self.interfaces[dtmi]
