"""``@context`` handling: DTDL language versions, known extensions and undefined extensions.

A :class:`Scope` is what an element sees of its context (inherited from its parents and
amended by its own ``@context``): the DTDL version, the terms in force, the extensions in
force and whether an *undefined* extension is in force (which makes undefined terms
tenable, as DTDLParser's ``AllowUndefinedExtensions`` does).

    >>> s = root_scope(3, ("dtmi:dtdl:extension:quantitativeTypes;1",), False)
    >>> s.semantic_types["dtmi:dtdl:extension:quantitativeTypes:v1:class:Temperature"]
    'Temperature'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import cache

from processtwin.dtdl.dtmi import Dtmi
from processtwin.dtdl.metamodel import metamodel
from processtwin.dtdl.units import (
    SEMANTIC_TYPES_V2,
    SEMANTIC_TYPES_V3,
    UNIT_TYPE_OF_SEMANTIC_TYPE,
    UNITS_OF_UNIT_TYPE,
    V2_UNITS,
)

__all__ = ["KNOWN_EXTENSIONS", "AdjunctType", "Extension", "Scope", "dtdl_version_of", "root_scope"]

_DTDL_CONTEXT = re.compile(r"^dtmi:dtdl:context;([0-9]+)$")
SUPPORTED_VERSIONS = frozenset({2, 3, 4})


@dataclass(frozen=True, slots=True)
class AdjunctType:
    """A co-type an extension defines (other than semantic types), with its properties."""

    name: str
    applies_to: frozenset[str]
    props: dict[str, tuple[str, bool]]  # property term -> (kind, required); kind: string|boolean


@dataclass(frozen=True, slots=True)
class Extension:
    """A language extension context known to the parser."""

    context: str
    dtdl_versions: frozenset[int]
    terms: dict[str, str] = field(default_factory=dict)
    semantic_types: dict[str, str] = field(default_factory=dict)  # IRI -> semantic type
    units: dict[str, str] = field(default_factory=dict)  # IRI -> unit name
    adjuncts: dict[str, AdjunctType] = field(default_factory=dict)  # IRI -> adjunct type
    schemas: dict[str, str] = field(default_factory=dict)  # IRI -> schema name (Object-like)
    affiliate: bool = False  # may precede the DTDL context


def _units_extension(
    context: str, versions: frozenset[int], class_prefix: str, unit_prefix: str,
    enum_prefix: str, semantic: frozenset[str], units: frozenset[str], unit_property: str,
) -> Extension:
    terms: dict[str, str] = {}
    sem: dict[str, str] = {}
    unit_iris: dict[str, str] = {}
    for t in semantic:
        iri = class_prefix.format(t)
        terms[t] = iri
        sem[iri] = t
    enums: dict[str, str] = {}
    for ut in {UNIT_TYPE_OF_SEMANTIC_TYPE[t] for t in semantic}:
        iri = enum_prefix.format(ut)
        terms[ut] = iri
        enums[iri] = ut
    for u in units:
        iri = unit_prefix.format(u)
        terms[u] = iri
        unit_iris[iri] = u
    terms["unit"] = unit_property
    return Extension(context, versions, terms, sem, unit_iris, schemas=enums)


_ALL_UNITS = frozenset().union(*UNITS_OF_UNIT_TYPE.values())

#: The semantic types and units built into DTDL v2's own context.
CORE_UNITS_V2 = replace(_units_extension(
    "dtmi:dtdl:context;2",
    frozenset({2}),
    "dtmi:standard:class:{};2",
    "dtmi:standard:unit:{};2",
    "dtmi:standard:class:{};2",
    SEMANTIC_TYPES_V2,
    V2_UNITS,
    "dtmi:dtdl:property:unit;2",
), schemas={})

_QUANT = _units_extension(
    "dtmi:dtdl:extension:quantitativeTypes;1",
    frozenset({3, 4}),
    "dtmi:dtdl:extension:quantitativeTypes:v1:class:{}",
    "dtmi:dtdl:extension:quantitativeTypes:v1:unit:{}",
    "dtmi:dtdl:extension:quantitativeTypes:v1:enum:{}",
    SEMANTIC_TYPES_V3,
    _ALL_UNITS,
    "dtmi:dtdl:extension:quantitativeTypes:v1:property:unit",
)

_HIST = Extension(
    "dtmi:dtdl:extension:historization;1",
    frozenset({3, 4}),
    terms={"Historized": "dtmi:dtdl:extension:historization:v1:Historized"},
    adjuncts={
        "dtmi:dtdl:extension:historization:v1:Historized": AdjunctType(
            "Historized", frozenset({"Property", "Telemetry"}), {}
        )
    },
)

_ANNOT = Extension(
    "dtmi:dtdl:extension:annotation;1",
    frozenset({3, 4}),
    terms={
        "ValueAnnotation": "dtmi:dtdl:extension:annotation:v1:ValueAnnotation",
        "annotates": "dtmi:dtdl:extension:annotation:v1:ValueAnnotation:annotates",
    },
    adjuncts={
        "dtmi:dtdl:extension:annotation:v1:ValueAnnotation": AdjunctType(
            "ValueAnnotation", frozenset({"Property", "Telemetry"}),
            {"annotates": ("string", True)},
        )
    },
)

_OVERRIDE = Extension(
    "dtmi:dtdl:extension:overriding;1",
    frozenset({3, 4}),
    terms={
        "Override": "dtmi:dtdl:extension:overriding:v1:Override",
        "overrides": "dtmi:dtdl:extension:overriding:v1:Override:overrides",
    },
    adjuncts={
        "dtmi:dtdl:extension:overriding:v1:Override": AdjunctType(
            "Override", frozenset({"Property", "Telemetry"}), {"overrides": ("string", True)}
        )
    },
)

def _mqtt(version: int) -> Extension:
    """The MQTT extension (versions 1-4): topics, payload format and command semantics."""
    base = f"dtmi:dtdl:extension:mqtt:v{version}:"
    topic = ("string", False)
    types: dict[str, tuple[frozenset[str], dict[str, tuple[str, bool]]]] = {
        "Mqtt": (frozenset({"Interface"}), {
            "payloadFormat": ("string", True), "telemetryTopic": topic, "commandTopic": topic,
            "propertyTopic": topic, "telemServiceGroupId": topic, "cmdServiceGroupId": topic,
        }),
        "Idempotent": (frozenset({"Command"}), {"ttl": ("string", False)}),
        "Cacheable": (frozenset({"Command"}), {"ttl": ("string", False)}),
        "Indexed": (frozenset({"Telemetry", "Field", "Command", "Property"}),
                    {"index": ("integer", True)}),
        "Transparent": (frozenset({"CommandRequest", "CommandResponse"}), {}),
    }
    for name in ("Result", "Error", "PropertyResult"):
        types[name] = (frozenset({"Object"}), {})
    for name in ("NormalResult", "ErrorResult", "ErrorMessage", "ErrorCode", "ErrorInfo",
                 "PropertyValue", "ReadError", "WriteError"):
        types[name] = (frozenset({"Field"}), {})
    terms: dict[str, str] = {}
    adjuncts: dict[str, AdjunctType] = {}
    for name, (applies, props) in types.items():
        iri = base + name
        terms[name] = iri
        adjuncts[iri] = AdjunctType(name, applies, props)
        for p in props:
            terms[p] = f"{base}{name}:{p}"
    versions = frozenset({3, 4}) if version == 4 else frozenset({3})
    return Extension(f"dtmi:dtdl:extension:mqtt;{version}", versions, terms, adjuncts=adjuncts)


_REQUIREMENT = Extension(
    "dtmi:dtdl:extension:requirement;1",
    frozenset({3, 4}),
    terms={"Required": "dtmi:dtdl:extension:requirement:v1:Required"},
    adjuncts={
        "dtmi:dtdl:extension:requirement:v1:Required": AdjunctType(
            "Required",
            frozenset({"Property", "Telemetry", "Component", "Relationship", "Field",
                       "MapValue", "CommandRequest", "CommandResponse"}),
            {},
        )
    },
)

_IOTC_TYPES = ("Event", "State", "Location", "AccelerationVector", "VelocityVector")
_IOTC_UNIT_TYPES = {"AccelerationVector": "AccelerationUnit", "VelocityVector": "VelocityUnit"}
_IOTC = Extension(
    "dtmi:iotcentral:context;2",
    frozenset({2}),
    terms={t: f"dtmi:iotcentral:class:{t};2" for t in _IOTC_TYPES}
    | {s: f"dtmi:iotcentral:schema:{s};2" for s in ("geopoint", "vector")},
    adjuncts={
        f"dtmi:iotcentral:class:{t};2": AdjunctType(
            t, frozenset({"Telemetry", "Property"}),
            {"unit": ("unit", False)} if t in _IOTC_UNIT_TYPES else {},
        )
        for t in _IOTC_TYPES
    },
    schemas={f"dtmi:iotcentral:schema:{s};2": s for s in ("geopoint", "vector")},
    affiliate=True,
)

def _alias(ext: Extension, context: str, versions: frozenset[int]) -> Extension:
    """A later version of an extension that defines the same terms."""
    return Extension(context, versions, ext.terms, ext.semantic_types, ext.units, ext.adjuncts,
                     ext.schemas, ext.affiliate)


_V3_V4 = frozenset({3, 4})
#: Extension contexts the parser knows, by context specifier.
KNOWN_EXTENSIONS: dict[str, Extension] = {
    e.context: e
    for e in (
        _QUANT, _HIST, _ANNOT, _OVERRIDE, _REQUIREMENT, _IOTC,
        _mqtt(1), _mqtt(2), _mqtt(3), _mqtt(4),
        _alias(_QUANT, "dtmi:dtdl:extension:quantitativeTypes;2", frozenset({4})),
        _alias(_QUANT, "dtmi:dtdl:extension:quantitativeTypes;3", frozenset({4})),
        _alias(_HIST, "dtmi:dtdl:extension:historization;2", _V3_V4),
        _alias(_ANNOT, "dtmi:dtdl:extension:annotation;2", _V3_V4),
        _alias(_OVERRIDE, "dtmi:dtdl:extension:overriding;2", _V3_V4),
        _alias(_REQUIREMENT, "dtmi:dtdl:extension:requirement;2", _V3_V4),
    )
}


@dataclass(frozen=True, slots=True)
class Scope:
    """The active context of an element."""

    version: int
    extensions: tuple[str, ...]
    undefined: bool
    terms: dict[str, str]
    semantic_types: dict[str, str]
    units: dict[str, str]
    adjuncts: dict[str, AdjunctType]
    schemas: dict[str, str]
    unit_property: str | None

    def with_context(self, extensions: tuple[str, ...], undefined: bool) -> Scope:
        """This scope amended by further extension contexts."""
        merged = tuple(dict.fromkeys(self.extensions + extensions))
        return root_scope(self.version, merged, self.undefined or undefined)


@cache
def root_scope(version: int, extensions: tuple[str, ...], undefined: bool) -> Scope:
    """The (cached) scope of DTDL ``version`` with the given known extensions."""
    mm = metamodel(version)
    terms = dict(mm.terms)
    sem: dict[str, str] = {}
    units: dict[str, str] = {}
    adjuncts: dict[str, AdjunctType] = {}
    schemas: dict[str, str] = {}
    unit_property: str | None = None
    exts = [KNOWN_EXTENSIONS[e] for e in extensions]
    if version == 2:
        exts.insert(0, CORE_UNITS_V2)
    for ext in exts:
        terms.update(ext.terms)
        sem.update(ext.semantic_types)
        units.update(ext.units)
        adjuncts.update(ext.adjuncts)
        schemas.update(ext.schemas)
        if ext.semantic_types:
            unit_property = ext.terms["unit"]
    return Scope(version, extensions, undefined, terms, sem, units, adjuncts, schemas,
                 unit_property)


def dtdl_version_of(specifier: str) -> int | None:
    """The DTDL version named by a ``dtmi:dtdl:context;N`` specifier, else ``None``."""
    m = _DTDL_CONTEXT.match(specifier)
    return int(m.group(1)) if m else None


def classify_context(specifier: str) -> str:
    """``dtdl``, ``known``, ``undefined`` (a versioned DTMI we do not know) or ``invalid``."""
    if dtdl_version_of(specifier) is not None:
        return "dtdl"
    if specifier in KNOWN_EXTENSIONS:
        return "known"
    d = Dtmi.parse(specifier)
    if d is not None and d.has_version and not d.fragment:
        return "undefined"
    return "invalid"
