"""Validation of twin values and relationships against DTDL Interfaces."""

from __future__ import annotations

import base64
import string
from datetime import UTC
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from processtwin.dtdl import parse
from processtwin.dtdl.model import (
    ArraySchema,
    EnumSchema,
    MapSchema,
    ObjectSchema,
    PrimitiveSchema,
    Property,
    Schema,
)
from processtwin.errors import TwinProblem
from processtwin.graph.validate import Validators, ancestor_sets, id_problem
from processtwin.graph.values import Problem, SchemaChecker, describe, pointer
from tests.graph.plant import (
    AREA,
    CTX,
    EQUIPMENT,
    JACKET,
    PUMP,
    REACTOR,
    models,
    reactor_values,
)


@pytest.fixture(scope="module")
def validators() -> Validators:
    return Validators(parse(models()))


def codes(problems: list[TwinProblem]) -> list[tuple[str, str]]:
    return [(p.path, p.code) for p in problems]


def check_primitive(name: str, value: Any) -> list[Problem]:
    out: list[Problem] = []
    SchemaChecker().compile(PrimitiveSchema(f"dtmi:dtdl:instance:Schema:{name};3", name))(
        value, "/p", out)
    return out


# ------------------------------------------------------------------------ primitives

GOOD: list[tuple[str, Any]] = [
    ("boolean", True), ("boolean", False),
    ("integer", 0), ("integer", -(2**31)), ("integer", 2**31 - 1),
    ("long", 2**63 - 1), ("long", -(2**63)),
    ("byte", -128), ("short", 32767), ("unsignedByte", 255), ("unsignedShort", 65535),
    ("unsignedInteger", 2**32 - 1), ("unsignedLong", 2**64 - 1),
    ("double", 1.5), ("double", 3), ("double", -1e300), ("float", 3.4e38), ("float", 2),
    ("decimal", 1.25), ("decimal", "-12.50"), ("decimal", "1e-3"),
    ("string", ""), ("string", "Grüße"),
    ("date", "2024-02-29"),
    ("dateTime", "2024-05-01T12:00:00Z"), ("dateTime", "2024-05-01T12:00:00.123+02:00"),
    ("dateTime", "2024-05-01t12:00:00z"),
    ("time", "23:59:59"), ("time", "08:00:00.5Z"), ("time", "08:00:00-05:00"),
    ("duration", "PT5M"), ("duration", "P1Y2M3DT4H5M6.5S"), ("duration", "P2W"),
    ("duration", "-P1D"),
    ("uuid", "123e4567-e89b-12d3-a456-426614174000"),
    ("bytes", ""), ("bytes", "aGVsbG8="),
]
BAD: list[tuple[str, Any, str]] = [
    ("boolean", 1, "type"), ("boolean", "true", "type"),
    ("integer", True, "type"), ("integer", 1.0, "type"), ("integer", "1", "type"),
    ("integer", 2**31, "range"), ("long", 2**63, "range"), ("byte", 128, "range"),
    ("unsignedByte", -1, "range"), ("unsignedLong", 2**64, "range"),
    ("double", "1.0", "type"), ("double", False, "type"), ("double", float("nan"), "range"),
    ("double", float("inf"), "range"), ("float", 1e39, "range"),
    ("decimal", "1.2.3", "format"), ("decimal", [1], "type"),
    ("string", 5, "type"), ("string", None, "type"),
    ("date", "2024-02-30", "format"), ("date", "2024-2-1", "format"), ("date", 20240201, "type"),
    ("dateTime", "2024-05-01T12:00:00", "format"), ("dateTime", "2024-05-01", "format"),
    ("dateTime", "2024-05-01T25:00:00Z", "format"), ("dateTime", "2024-05-01T12:00:00+25:00",
                                                       "format"),
    ("time", "24:00:00", "format"), ("time", "12:00", "format"),
    ("duration", "P", "format"), ("duration", "PT", "format"), ("duration", "5 minutes",
                                                                "format"),
    ("duration", "P1H", "format"),
    ("uuid", "123e4567e89b12d3a456426614174000", "format"),
    ("bytes", "aGVsbG8", "format"), ("bytes", "!!!!", "format"),
]


@pytest.mark.parametrize(("schema", "value"), GOOD)
def test_primitive_values_that_match_are_accepted(schema: str, value: Any) -> None:
    assert check_primitive(schema, value) == []


@pytest.mark.parametrize(("schema", "value", "code"), BAD)
def test_primitive_values_that_do_not_match_are_refused(schema: str, value: Any,
                                                        code: str) -> None:
    problems = check_primitive(schema, value)
    assert [(p, c) for p, c, _ in problems] == [("/p", code)]
    assert problems[0][2]  # a message


GEO_GOOD: list[tuple[str, Any]] = [
    ("point", {"type": "Point", "coordinates": [8.5, 47.4]}),
    ("point", {"type": "Point", "coordinates": [8.5, 47.4, 410.0]}),
    ("multiPoint", {"type": "MultiPoint", "coordinates": [[0, 0], [1, 1]]}),
    ("lineString", {"type": "LineString", "coordinates": [[0, 0], [1, 1]]}),
    ("multiLineString", {"type": "MultiLineString", "coordinates": [[[0, 0], [1, 1]]]}),
    ("polygon", {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}),
    ("multiPolygon", {"type": "MultiPolygon",
                      "coordinates": [[[[0, 0], [1, 0], [1, 1], [0, 0]]]]}),
]
GEO_BAD: list[tuple[str, Any, list[tuple[str, str]]]] = [
    ("point", [8.5, 47.4], [("/p", "type")]),
    ("point", {"type": "Point", "coordinates": [200, 0]}, [("/p/coordinates/0", "range")]),
    ("point", {"type": "Point", "coordinates": [0, 95]}, [("/p/coordinates/1", "range")]),
    ("point", {"type": "Point", "coordinates": ["a", 0]}, [("/p/coordinates/0", "type")]),
    ("point", {"type": "LineString", "coordinates": [0, 0]}, [("/p/type", "type")]),
    ("point", {"coordinates": [0, 0]}, [("/p/type", "missing-field")]),
    ("point", {"type": "Point"}, [("/p/coordinates", "missing-field")]),
    ("point", {"type": "Point", "coordinates": [0, 0], "x": 1}, [("/p/x", "unknown-field")]),
    ("lineString", {"type": "LineString", "coordinates": [[0, 0]]},
     [("/p/coordinates", "range")]),
    ("polygon", {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]},
     [("/p/coordinates/0", "format")]),
]


@pytest.mark.parametrize(("schema", "value"), GEO_GOOD)
def test_geojson_values_are_accepted(schema: str, value: Any) -> None:
    out: list[Problem] = []
    SchemaChecker().compile(PrimitiveSchema(f"dtmi:standard:schema:geospatial:{schema};3",
                                            schema))(value, "/p", out)
    assert out == []


@pytest.mark.parametrize(("schema", "value", "expected"), GEO_BAD)
def test_bad_geojson_is_refused_where_it_is_wrong(schema: str, value: Any,
                                                  expected: list[tuple[str, str]]) -> None:
    out: list[Problem] = []
    SchemaChecker().compile(PrimitiveSchema(f"dtmi:standard:schema:geospatial:{schema};3",
                                            schema))(value, "/p", out)
    assert [(p, c) for p, c, _ in out] == expected


def test_pointer_escapes_and_describe_clips() -> None:
    assert pointer("", "a/b~c") == "/a~1b~0c"
    assert pointer("/x", 3) == "/x/3"
    assert describe("y" * 100).endswith("...")
    assert describe({"a": 1}) == "object"


# ------------------------------------------------------------------------ twins


def test_a_valid_twin_has_no_problems(validators: Validators) -> None:
    assert validators.twin("r1", REACTOR, reactor_values()) == []


def test_every_problem_is_reported_with_its_pointer(validators: Validators) -> None:
    values = reactor_values(
        volume="big", mode="turbo", limits={"lo": "cold", "mid": 1.0},
        setpoints={"TIC101": "hot"}, alarms=["HH", 3], T_R=120.0, start=True, colour="red",
        jacket={"$metadata": {}, "area": "x", "T_K": 4.0, "depth": 1})
    problems = validators.twin("r1", REACTOR, values)
    assert sorted(codes(problems)) == sorted([
        ("/volume", "type"), ("/mode", "enum"), ("/limits/lo", "type"),
        ("/limits/mid", "unknown-field"), ("/setpoints/TIC101", "type"), ("/alarms/1", "type"),
        ("/T_R", "not-settable"), ("/start", "not-settable"), ("/colour", "unknown-property"),
        ("/jacket/area", "type"), ("/jacket/T_K", "not-settable"),
        ("/jacket/depth", "unknown-property")])
    assert all(p.twin == "r1" for p in problems)


def test_relationship_names_are_not_properties(validators: Validators) -> None:
    problems = validators.twin("r1", REACTOR, reactor_values(feeds="p1"))
    assert codes(problems) == [("/feeds", "not-settable")]
    assert "relationship" in problems[0].message


def test_components_must_be_present_objects(validators: Validators) -> None:
    values = reactor_values()
    del values["jacket"]
    assert codes(validators.twin("r1", REACTOR, values)) == [("/jacket", "component-missing")]
    assert codes(validators.twin("r1", REACTOR, reactor_values(jacket=3))) == [
        ("/jacket", "type")]
    assert codes(validators.twin("r1", REACTOR, reactor_values(
        jacket={"$metadata": 1}))) == [("/jacket/$metadata", "type")]
    assert validators.twin("r1", REACTOR, reactor_values(jacket={})) == []


def test_reserved_keys_null_values_and_unknown_models(validators: Validators) -> None:
    assert codes(validators.twin("r1", REACTOR, reactor_values(**{"$etag": "x"}))) == [
        ("/$etag", "reserved")]
    assert codes(validators.twin("r1", REACTOR, reactor_values(volume=None))) == [
        ("/volume", "type")]
    assert codes(validators.twin("r1", "dtmi:test:Nope;1", {})) == [
        ("/$metadata/$model", "unknown-model")]
    assert codes(validators.twin("", PUMP, {"rpm": "x"})) == [("/$dtId", "invalid-id"),
                                                              ("/rpm", "type")]


def test_inherited_properties_validate(validators: Validators) -> None:
    assert validators.twin("p1", PUMP, {"tag": "P-1", "rpm": 1450, "running": True}) == []
    assert codes(validators.twin("p1", PUMP, {"tag": 1})) == [("/tag", "type")]


@pytest.mark.parametrize("bad", [None, 3, "", " x", "a\nb", "x" * 513])
def test_id_problem_refuses_unusable_ids(bad: Any) -> None:
    assert id_problem(bad) is not None


def test_ancestor_sets_are_transitive() -> None:
    deep: list[dict[str, object]] = [
        {"@context": CTX, "@id": f"dtmi:t:L{i};1", "@type": "Interface",
         **({"extends": f"dtmi:t:L{i - 1};1"} if i else {})} for i in range(4)]
    anc = ancestor_sets(parse(deep))
    assert anc["dtmi:t:L3;1"] == {f"dtmi:t:L{i};1" for i in range(4)}
    assert anc["dtmi:t:L0;1"] == {"dtmi:t:L0;1"}


# ------------------------------------------------------------------------ relationships


def rel(validators: Validators, name: str, target_model: str | None, values: Any = None,
        existing: int = 0, source_model: str = PUMP) -> list[tuple[str, str]]:
    return codes(validators.relationship("p1", source_model, "r1", name, "t1", target_model,
                                         values or {}, existing=existing))


def test_relationship_target_may_extend_the_declared_target(validators: Validators) -> None:
    assert rel(validators, "feeds", REACTOR, {"since": "2024-01-01T00:00:00Z"}) == []
    assert rel(validators, "feeds", EQUIPMENT) == []
    assert rel(validators, "relatesTo", JACKET) == []  # no declared target: anything


def test_relationship_problems_are_all_reported(validators: Validators) -> None:
    assert rel(validators, "feeds", AREA, {"since": "yesterday", "lineSize": 2.5, "x": 1}) == [
        ("/relationships/r1/$targetId", "relationship-target"),
        ("/relationships/r1/since", "format"), ("/relationships/r1/lineSize", "type"),
        ("/relationships/r1/x", "unknown-property")]
    assert rel(validators, "feeds", None) == [("/relationships/r1/$targetId", "target-missing")]
    assert rel(validators, "drives", REACTOR) == [
        ("/relationships/r1/$relationshipName", "relationship-name")]
    assert rel(validators, "rpm", REACTOR) == [
        ("/relationships/r1/$relationshipName", "relationship-name")]


def test_max_multiplicity_counts_existing_relationships(validators: Validators) -> None:
    assert rel(validators, "locatedIn", AREA, existing=0) == []
    assert rel(validators, "locatedIn", AREA, existing=1) == [
        ("/relationships/r1/$relationshipName", "multiplicity")]


# ------------------------------------------------------------------------ property tests

NAMES = st.text(string.ascii_lowercase, min_size=1, max_size=6)
PRIMITIVES = ["boolean", "date", "dateTime", "double", "duration", "float", "integer", "long",
              "string", "time", "byte", "bytes", "decimal", "short", "unsignedByte",
              "unsignedInteger", "unsignedLong", "unsignedShort", "uuid", "point", "lineString",
              "polygon"]


def _enum(draw: st.DrawFn) -> dict[str, Any]:
    integer = draw(st.booleans())
    names = draw(st.lists(NAMES, min_size=1, max_size=4, unique=True))
    return {"@type": "Enum", "valueSchema": "integer" if integer else "string",
            "enumValues": [{"name": n, "enumValue": i if integer else f"v{n}"}
                           for i, n in enumerate(names)]}


@st.composite
def dtdl_schemas(draw: st.DrawFn, depth: int = 0) -> Any:
    kinds = ["primitive"] if depth >= 3 else ["primitive", "object", "enum", "map", "array"]
    kind = draw(st.sampled_from(kinds))
    if kind == "primitive":
        return draw(st.sampled_from(PRIMITIVES))
    if kind == "enum":
        return _enum(draw)
    if kind == "object":
        names = draw(st.lists(NAMES, min_size=1, max_size=3, unique=True))
        return {"@type": "Object", "fields": [
            {"name": n, "schema": draw(dtdl_schemas(depth + 1))} for n in names]}
    if kind == "map":
        return {"@type": "Map", "mapKey": {"name": "key", "schema": "string"},
                "mapValue": {"name": "value", "schema": draw(dtdl_schemas(depth + 1))}}
    return {"@type": "Array", "elementSchema": draw(dtdl_schemas(depth + 1))}


_INT = {"byte": 7, "short": 15, "integer": 31, "long": 63}
_UINT = {"unsignedByte": 8, "unsignedShort": 16, "unsignedInteger": 32, "unsignedLong": 64}
LON = st.floats(-180, 180)
LAT = st.floats(-90, 90)
POSITION = st.tuples(LON, LAT).map(list)


def _ring(draw: st.DrawFn) -> list[list[float]]:
    pts = draw(st.lists(POSITION, min_size=3, max_size=5))
    return [*pts, pts[0]]


def values_for(schema: Schema) -> st.SearchStrategy[Any]:
    """Values that match ``schema``."""
    if isinstance(schema, ObjectSchema):
        return st.fixed_dictionaries({}, optional={f.name: values_for(f.schema)
                                                   for f in schema.fields})
    if isinstance(schema, EnumSchema):
        return st.sampled_from([v.value for v in schema.values])
    if isinstance(schema, MapSchema):
        return st.dictionaries(NAMES, values_for(schema.value.schema), max_size=3)
    if isinstance(schema, ArraySchema):
        return st.lists(values_for(schema.element_schema), max_size=3)
    assert isinstance(schema, PrimitiveSchema)
    n = schema.name
    if n in _INT:
        return st.integers(-(2 ** _INT[n]), 2 ** _INT[n] - 1)
    if n in _UINT:
        return st.integers(0, 2 ** _UINT[n] - 1)
    simple: dict[str, st.SearchStrategy[Any]] = {
        "boolean": st.booleans(),
        "double": st.floats(allow_nan=False, allow_infinity=False),
        "float": st.floats(width=32, allow_nan=False, allow_infinity=False),
        "decimal": st.decimals(allow_nan=False, allow_infinity=False).map(str),
        "string": st.text(max_size=10),
        "date": st.dates().map(lambda d: d.isoformat()),
        "dateTime": st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()),
        "time": st.times().map(lambda t: t.isoformat()),
        "duration": st.tuples(st.integers(0, 400), st.integers(0, 23)).map(
            lambda t: f"P{t[0]}DT{t[1]}H"),
        "uuid": st.uuids().map(str),
        "bytes": st.binary(max_size=12).map(lambda b: base64.b64encode(b).decode()),
        "point": POSITION.map(lambda p: {"type": "Point", "coordinates": p}),
        "lineString": st.lists(POSITION, min_size=2, max_size=4).map(
            lambda c: {"type": "LineString", "coordinates": c}),
        "polygon": st.builds(lambda r: {"type": "Polygon", "coordinates": [r]},
                             st.composite(_ring)()),
    }
    return simple[n]


def bad_values(schema: Schema) -> list[Any]:
    """Values that can never match ``schema``: other JSON kinds, and wrong strings."""
    kinds: list[Any] = [True, 42, 1.5, "text", [1], {"k": 1}, None]
    if isinstance(schema, ObjectSchema | MapSchema):
        return [k for k in kinds if not isinstance(k, dict)]
    if isinstance(schema, ArraySchema):
        return [k for k in kinds if not isinstance(k, list)]
    if isinstance(schema, EnumSchema):
        integer = schema.value_schema == "integer"
        return [10**6 if integer else "no-such-value",
                *(k for k in kinds if not (isinstance(k, int) if integer else isinstance(k, str))
                  or isinstance(k, bool))]
    assert isinstance(schema, PrimitiveSchema)
    n = schema.name
    if n == "boolean":
        return [k for k in kinds if not isinstance(k, bool)]
    if n in _INT or n in _UINT:
        return [k for k in kinds if isinstance(k, bool) or not isinstance(k, int)] + [2**64 + 1]
    if n in ("double", "float", "decimal"):
        return [k for k in kinds if isinstance(k, bool) or not isinstance(k, int | float)]
    if n == "string":
        return [k for k in kinds if not isinstance(k, str)]
    return [k for k in kinds if k != "text"] + ["@@ not valid @@"]


@st.composite
def mutated(draw: st.DrawFn, schema: Schema, value: Any, path: str = "") -> tuple[Any, str]:
    """``value`` with one part replaced by something invalid, and that part's pointer."""
    children: list[tuple[str | int, Schema]] = []
    if isinstance(schema, ObjectSchema) and isinstance(value, dict):
        by_name = {f.name: f.schema for f in schema.fields}
        children = [(k, by_name[k]) for k in value]
    elif isinstance(schema, MapSchema):
        children = [(k, schema.value.schema) for k in value]
    elif isinstance(schema, ArraySchema):
        children = [(i, schema.element_schema) for i in range(len(value))]
    deeper: bool = draw(st.booleans())
    if children and deeper:
        key, sub = draw(st.sampled_from(children))
        new, where = draw(mutated(sub, value[key], pointer(path, key)))
        copy = list(value) if isinstance(value, list) else dict(value)
        copy[key] = new  # type: ignore[index]
        return copy, where
    if isinstance(schema, ObjectSchema) and draw(st.booleans()):
        extra = "zz" + "".join(f.name for f in schema.fields)
        return {**value, extra: 1}, pointer(path, extra)
    return draw(st.sampled_from(bad_values(schema))), path


@st.composite
def schema_and_value(draw: st.DrawFn) -> tuple[Validators, Schema, Any]:
    raw = draw(dtdl_schemas())
    ms = parse([{"@context": CTX, "@id": "dtmi:hyp:T;1", "@type": "Interface",
                 "contents": [{"@type": "Property", "name": "p", "schema": raw}]}])
    prop = ms.interfaces["dtmi:hyp:T;1"].contents["p"]
    assert isinstance(prop, Property)
    return Validators(ms), prop.schema, draw(values_for(prop.schema))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schema_and_value())
def test_values_generated_from_a_schema_are_accepted(case: tuple[Validators, Schema, Any]
                                                     ) -> None:
    validators, _, value = case
    assert validators.twin("t", "dtmi:hyp:T;1", {"p": value}) == []


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_a_mutated_value_is_refused_where_it_was_mutated(data: st.DataObject) -> None:
    validators, schema, value = data.draw(schema_and_value())
    bad, where = data.draw(mutated(schema, value, "/p"))
    problems = validators.twin("t", "dtmi:hyp:T;1", {"p": bad})
    assert problems, f"{bad!r} was accepted"
    assert any(p.path == where or p.path.startswith(where + "/") for p in problems), (
        where, problems)


@pytest.mark.parametrize("name", PRIMITIVES)
def test_every_other_json_kind_is_refused_for_every_primitive(name: str) -> None:
    iri = (f"dtmi:standard:schema:geospatial:{name};3" if name in ("point", "lineString",
                                                                   "polygon")
           else f"dtmi:dtdl:instance:Schema:{name};3")
    schema = PrimitiveSchema(iri, name)
    check = SchemaChecker().compile(schema)
    for bad in bad_values(schema):
        out: list[Problem] = []
        check(bad, "/p", out)
        assert out, f"{name} accepted {bad!r}"
