"""The DTDL metamodel: classes, their properties and the standard elements, per version.

The tables here drive the generic element parser in :mod:`processtwin.dtdl.parser`::

    >>> spec = metamodel(3)
    >>> spec.classes["Relationship"].props["minMultiplicity"].max_value
    0
    >>> spec.instances["dtmi:dtdl:instance:Schema:double;3"]
    ('Schema', 'double')
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from functools import cache

from processtwin.dtdl.limits import LIMITS

__all__ = [
    "COMPLEX_SCHEMAS",
    "CONTENT_CLASSES",
    "ClassSpec",
    "Kind",
    "Metamodel",
    "PropSpec",
    "metamodel",
]

NAME_PATTERN = re.compile(r"^[A-Za-z](?:[A-Za-z0-9_]*[A-Za-z0-9])?$")

COMPLEX_SCHEMAS: frozenset[str] = frozenset({"Array", "Enum", "Map", "Object"})
CONTENT_CLASSES: frozenset[str] = frozenset(
    {"Telemetry", "Property", "Command", "Relationship", "Component"}
)

_PRIMITIVES_V2: tuple[str, ...] = (
    "boolean", "date", "dateTime", "double", "duration", "float", "integer", "long", "string",
    "time",
)
_PRIMITIVES_V3: tuple[str, ...] = (
    *_PRIMITIVES_V2,
    "byte", "bytes", "decimal", "short", "unsignedByte", "unsignedInteger", "unsignedLong",
    "unsignedShort", "uuid",
)
_NUMERIC_V2 = frozenset({"double", "float", "integer", "long"})
_NUMERIC_V3 = _NUMERIC_V2 | frozenset(
    {"byte", "decimal", "short", "unsignedByte", "unsignedInteger", "unsignedLong",
     "unsignedShort"}
)
GEOSPATIAL = ("point", "multiPoint", "lineString", "multiLineString", "polygon", "multiPolygon")
_ABSTRACT_CLASSES: tuple[str, ...] = (
    "Entity", "NamedEntity", "Schema", "ComplexSchema", "PrimitiveSchema", "NumericSchema",
    "TemporalSchema", "Content", "SchemaField", "CommandType", "Unit", "UnitAttribute",
    "SemanticType", "SemanticUnit", "Boolean", "Date", "DateTime", "Double", "Duration", "Float",
    "Integer", "Long", "String", "Time",
)
_ABSTRACT_CLASSES_V3: tuple[str, ...] = (
    "Byte", "Bytes", "Decimal", "Short", "UnsignedByte", "UnsignedInteger", "UnsignedLong",
    "UnsignedShort", "Uuid", "LatentType", "NamedLatentType",
)


class Kind(Enum):
    """How the value of a property is written and interpreted."""

    STRING = "string"
    LANGSTRING = "langString"
    BOOLEAN = "boolean"
    INTEGER = "integer"
    ENUM_VALUE = "enumValue"  # string or integer, as the Enum's valueSchema says
    ELEMENT = "element"  # inline element objects or references to elements
    INSTANCE = "instance"  # a standard value such as a primitive schema or a unit
    IDENTIFIER = "identifier"  # a DTMI that need not resolve (Relationship.target)


@dataclass(frozen=True, slots=True)
class PropSpec:
    """One property of a metamodel class."""

    name: str
    kind: Kind
    min_count: int = 0
    max_count: int | None = 1
    classes: frozenset[str] = frozenset()
    implied_class: str | None = None
    instances: frozenset[str] = frozenset()  # allowed standard instance IRIs
    max_length: int | None = None
    pattern: re.Pattern[str] | None = None
    min_value: int | None = None
    max_value: int | None = None
    id_required: bool = False
    lower_versions: bool = False  # values may be elements of an earlier DTDL version

    @property
    def required(self) -> bool:
        """True when the property must be given."""
        return self.min_count > 0


@dataclass(frozen=True, slots=True)
class ClassSpec:
    """A concrete (material) metamodel class of one DTDL version."""

    name: str
    props: dict[str, PropSpec]
    semantic_cotypes: bool = False  # may be co-typed with a semantic type


@dataclass(frozen=True, slots=True)
class Metamodel:
    """Everything version specific the parser needs."""

    version: int
    classes: dict[str, ClassSpec]
    class_iris: dict[str, str]  # IRI of a material class -> class name
    terms: dict[str, str]  # context term -> IRI
    property_iris: dict[str, str]  # IRI -> property term
    instances: dict[str, tuple[str, str]]  # IRI -> (family, name)
    numeric_schemas: frozenset[str]
    geospatial: frozenset[str] = field(default_factory=frozenset)

    def iri(self, kind: str, name: str) -> str:
        """IRI of a DTDL term: ``kind`` is class, property or instance:<Family>."""
        if kind.startswith("instance:"):
            return f"dtmi:dtdl:instance:{kind[9:]}:{name};{self.version}"
        return f"dtmi:dtdl:{kind}:{name};{self.version}"


def _entity_props(v: int) -> dict[str, PropSpec]:
    lim = LIMITS[v]
    return {
        "comment": PropSpec("comment", Kind.STRING, max_length=lim.comment_length),
        "description": PropSpec(
            "description", Kind.LANGSTRING, max_count=None, max_length=lim.description_length
        ),
        "displayName": PropSpec(
            "displayName", Kind.LANGSTRING, max_count=None, max_length=lim.display_name_length
        ),
    }


def _named_props(v: int) -> dict[str, PropSpec]:
    props = _entity_props(v)
    props["name"] = PropSpec(
        "name",
        Kind.STRING,
        min_count=1,
        max_length=LIMITS[v].name_length,
        pattern=NAME_PATTERN,
    )
    return props


def _build(v: int) -> Metamodel:
    lim = LIMITS[v]
    primitives = _PRIMITIVES_V2 if v == 2 else _PRIMITIVES_V3
    instances: dict[str, tuple[str, str]] = {}
    terms: dict[str, str] = {}
    for p in primitives:
        iri = f"dtmi:dtdl:instance:Schema:{p};{v}"
        instances[iri] = ("Schema", p)
        terms[p] = iri
    for g in GEOSPATIAL:
        iri = f"dtmi:standard:schema:geospatial:{g};{v}"
        instances[iri] = ("Geospatial", g)
        terms[g] = iri
    for c in ("synchronous", "asynchronous"):
        iri = f"dtmi:dtdl:instance:CommandType:{c};{v}"
        instances[iri] = ("CommandType", c)
        terms[c] = iri
    schema_instances = frozenset(i for i, (f, _) in instances.items() if f != "CommandType")

    def schema_prop(name: str = "schema") -> PropSpec:
        return PropSpec(
            name, Kind.ELEMENT, min_count=1, classes=COMPLEX_SCHEMAS, instances=schema_instances,
            lower_versions=True,
        )

    def field_like() -> dict[str, PropSpec]:
        props = _named_props(v)
        props["schema"] = schema_prop()
        return props

    classes: dict[str, ClassSpec] = {}

    def add(name: str, props: dict[str, PropSpec], semantic: bool = False) -> None:
        classes[name] = ClassSpec(name, props, semantic)

    iface = _entity_props(v)
    iface["contents"] = PropSpec(
        "contents", Kind.ELEMENT, max_count=lim.contents_count, classes=CONTENT_CLASSES,
        lower_versions=True,
    )
    iface["extends"] = PropSpec(
        "extends", Kind.ELEMENT, max_count=lim.extends_count, classes=frozenset({"Interface"}),
        lower_versions=True,
    )
    iface["schemas"] = PropSpec(
        "schemas", Kind.ELEMENT, max_count=None, classes=COMPLEX_SCHEMAS, id_required=True
    )
    add("Interface", iface)

    add("Telemetry", field_like(), semantic=True)
    prop = field_like()
    prop["writable"] = PropSpec("writable", Kind.BOOLEAN)
    add("Property", prop, semantic=True)

    cmd = _named_props(v)
    cmd["commandType"] = PropSpec(
        "commandType",
        Kind.INSTANCE,
        instances=frozenset(i for i, (f, _) in instances.items() if f == "CommandType"),
    )
    if v == 2:
        cmd["request"] = PropSpec(
            "request", Kind.ELEMENT, classes=frozenset({"CommandPayload"}),
            implied_class="CommandPayload",
        )
        cmd["response"] = PropSpec(
            "response", Kind.ELEMENT, classes=frozenset({"CommandPayload"}),
            implied_class="CommandPayload",
        )
        add("CommandPayload", field_like())
    else:
        cmd["request"] = PropSpec(
            "request", Kind.ELEMENT, classes=frozenset({"CommandRequest"}),
            implied_class="CommandRequest",
        )
        cmd["response"] = PropSpec(
            "response", Kind.ELEMENT, classes=frozenset({"CommandResponse"}),
            implied_class="CommandResponse",
        )
        add("CommandRequest", field_like(), semantic=True)
        add("CommandResponse", field_like(), semantic=True)
    add("Command", cmd)

    rel = _named_props(v)
    rel["maxMultiplicity"] = PropSpec(
        "maxMultiplicity", Kind.INTEGER, min_value=1, max_value=lim.max_multiplicity
    )
    rel["minMultiplicity"] = PropSpec("minMultiplicity", Kind.INTEGER, min_value=0, max_value=0)
    rel["properties"] = PropSpec(
        "properties",
        Kind.ELEMENT,
        max_count=lim.relationship_properties_count,
        classes=frozenset({"Property"}),
        lower_versions=True,
    )
    rel["target"] = PropSpec("target", Kind.IDENTIFIER)
    rel["writable"] = PropSpec("writable", Kind.BOOLEAN)
    add("Relationship", rel)

    comp = _named_props(v)
    comp["schema"] = PropSpec(
        "schema", Kind.ELEMENT, min_count=1, classes=frozenset({"Interface"}),
        lower_versions=True,
    )
    add("Component", comp)

    arr = _entity_props(v)
    arr["elementSchema"] = schema_prop("elementSchema")
    add("Array", arr)

    enum = _entity_props(v)
    enum["enumValues"] = PropSpec(
        "enumValues",
        Kind.ELEMENT,
        min_count=1 if v == 2 else 0,
        max_count=lim.enum_values_count,
        classes=frozenset({"EnumValue"}),
        implied_class="EnumValue",
    )
    enum["valueSchema"] = PropSpec(
        "valueSchema",
        Kind.INSTANCE,
        min_count=1,
        instances=frozenset(
            {f"dtmi:dtdl:instance:Schema:integer;{v}", f"dtmi:dtdl:instance:Schema:string;{v}"}
        ),
    )
    add("Enum", enum)
    ev = _named_props(v)
    ev["enumValue"] = PropSpec("enumValue", Kind.ENUM_VALUE, min_count=1)
    add("EnumValue", ev)

    mp = _entity_props(v)
    mp["mapKey"] = PropSpec(
        "mapKey", Kind.ELEMENT, min_count=1, classes=frozenset({"MapKey"}), implied_class="MapKey"
    )
    mp["mapValue"] = PropSpec(
        "mapValue",
        Kind.ELEMENT,
        min_count=1,
        classes=frozenset({"MapValue"}),
        implied_class="MapValue",
    )
    add("Map", mp)
    mk = _named_props(v)
    mk["schema"] = PropSpec(
        "schema",
        Kind.INSTANCE,
        min_count=1,
        instances=frozenset({f"dtmi:dtdl:instance:Schema:string;{v}"}),
    )
    add("MapKey", mk)
    add("MapValue", field_like(), semantic=v >= 3)

    obj = _entity_props(v)
    obj["fields"] = PropSpec(
        "fields",
        Kind.ELEMENT,
        min_count=1 if v == 2 else 0,
        max_count=lim.fields_count,
        classes=frozenset({"Field"}),
        implied_class="Field",
    )
    add("Object", obj)
    add("Field", field_like(), semantic=v >= 3)

    class_iris: dict[str, str] = {}
    for name in classes:
        iri = f"dtmi:dtdl:class:{name};{v}"
        class_iris[iri] = name
        terms[name] = iri
    abstract = _ABSTRACT_CLASSES + (_ABSTRACT_CLASSES_V3 if v >= 3 else ())
    for name in abstract:
        terms.setdefault(name, f"dtmi:dtdl:class:{name};{v}")
    if v >= 3:
        terms.pop("CommandPayload", None)
    property_iris: dict[str, str] = {}
    all_props = {p for c in classes.values() for p in c.props}
    all_props |= {"unit", "languageMajorVersion", "baseUnit", "bottomUnit", "topUnit", "prefix"}
    all_props |= {"exponent", "symbol"}
    for p in all_props:
        iri = f"dtmi:dtdl:property:{p};{v}"
        property_iris[iri] = p
        terms[p] = iri
    return Metamodel(
        version=v,
        classes=classes,
        class_iris=class_iris,
        terms=terms,
        property_iris=property_iris,
        instances=instances,
        numeric_schemas=_NUMERIC_V2 if v == 2 else _NUMERIC_V3,
        geospatial=frozenset(GEOSPATIAL),
    )


@cache
def metamodel(version: int) -> Metamodel:
    """The (cached) metamodel of DTDL ``version`` (2, 3 or 4)."""
    return _build(version)
