"""Focused tests of processtwin.dtdl: the model, the problems reported, the CLI, speed."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from processtwin.dtdl import DTDLValidationError, parse
from processtwin.dtdl.cli import app
from processtwin.dtdl.dtmi import Dtmi, user_id_problem
from processtwin.dtdl.model import (
    ArraySchema,
    Command,
    EnumSchema,
    MapSchema,
    ObjectSchema,
    PrimitiveSchema,
    Relationship,
)
from processtwin.errors import InvalidInputError

V3 = "dtmi:dtdl:context;3"
V2 = "dtmi:dtdl:context;2"


def iface(dtmi: str, *contents: dict[str, Any], ctx: Any = V3, **extra: Any) -> dict[str, Any]:
    return {"@context": ctx, "@id": dtmi, "@type": "Interface", "contents": list(contents),
            **extra}


def problems(docs: list[Any], **kw: Any) -> list[str]:
    with pytest.raises(DTDLValidationError) as info:
        parse(docs, **kw)
    return [p.validation_id.rsplit(":", 1)[-1] for p in info.value.errors]


# -- the resolved model --------------------------------------------------------------------

def test_parse_json_text_and_objects_together() -> None:
    base = json.dumps(
        iface("dtmi:ex:Base;1", {"@type": "Telemetry", "name": "t", "schema": "double"})
    )
    derived = iface("dtmi:ex:Pump;1", {"@type": "Property", "name": "sp", "schema": "float",
                                       "writable": True}, extends="dtmi:ex:Base;1")
    ms = parse([base, derived])
    pump = ms.interfaces["dtmi:ex:Pump;1"]
    assert set(pump.contents) == {"sp", "t"}
    assert pump.contents["t"].defined_in == "dtmi:ex:Base;1"
    assert pump.extends == ("dtmi:ex:Base;1",)
    assert pump.properties[0].writable is True
    assert pump.telemetries[0].schema == PrimitiveSchema("dtmi:dtdl:instance:Schema:double;3",
                                                         "double")
    assert "dtmi:ex:Base;1" in ms
    assert len(ms) == 2


def test_model_is_immutable() -> None:
    ms = parse([iface("dtmi:ex:A;1", {"@type": "Telemetry", "name": "t", "schema": "long"})])
    a = ms.interfaces["dtmi:ex:A;1"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.id = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        a.contents["u"] = a.contents["t"]  # type: ignore[index]
    with pytest.raises(TypeError):
        ms.interfaces["x"] = a  # type: ignore[index]


def test_complex_schemas_nested() -> None:
    schema = {
        "@type": "Object",
        "fields": [
            {"name": "tags", "schema": {"@type": "Array", "elementSchema": "string"}},
            {"name": "mode", "schema": {"@type": "Enum", "valueSchema": "integer",
                                        "enumValues": [{"name": "off", "enumValue": 0},
                                                       {"name": "on", "enumValue": 1}]}},
            {"name": "limits", "schema": {"@type": "Map",
                                          "mapKey": {"name": "k", "schema": "string"},
                                          "mapValue": {"name": "v", "schema": "double"}}},
        ],
    }
    ms = parse([iface("dtmi:ex:C;1", {"@type": "Telemetry", "name": "state", "schema": schema})])
    obj = ms.interfaces["dtmi:ex:C;1"].telemetries[0].schema
    assert isinstance(obj, ObjectSchema)
    tags, mode, limits = (f.schema for f in obj.fields)
    assert isinstance(tags, ArraySchema)
    assert tags.element_schema.id.endswith("string;3")
    assert isinstance(mode, EnumSchema)
    assert [v.value for v in mode.values] == [0, 1]
    assert isinstance(limits, MapSchema)
    assert limits.value.name == "v"


def test_reusable_schema_and_relationship_and_command() -> None:
    doc = iface(
        "dtmi:ex:R;1",
        {"@type": "Property", "name": "p", "schema": "dtmi:ex:R:Mode;1"},
        {"@type": "Relationship", "name": "feeds", "target": "dtmi:ex:R;1",
         "maxMultiplicity": 3, "properties": [{"@type": "Property", "name": "w", "schema": "int"
                                                "eger"}]},
        {"@type": "Command", "name": "start",
         "request": {"name": "speed", "schema": "double"},
         "response": {"name": "ok", "schema": "boolean"}},
        schemas=[{"@id": "dtmi:ex:R:Mode;1", "@type": "Enum", "valueSchema": "string",
                  "enumValues": [{"name": "a", "enumValue": "A"}]}],
    )
    r = parse([doc]).interfaces["dtmi:ex:R;1"]
    assert isinstance(r.contents["p"].schema, EnumSchema)  # type: ignore[union-attr]
    rel = r.contents["feeds"]
    assert isinstance(rel, Relationship)
    assert (rel.target, rel.max_multiplicity, rel.properties[0].name) == ("dtmi:ex:R;1", 3, "w")
    cmd = r.contents["start"]
    assert isinstance(cmd, Command)
    assert cmd.request is not None
    assert cmd.request.name == "speed"
    assert len(r.schemas) == 1


def test_semantic_types_and_units() -> None:
    v2 = iface("dtmi:ex:S;1", {"@type": ["Telemetry", "Temperature"], "name": "t",
                               "schema": "double", "unit": "degreeCelsius"}, ctx=V2)
    t = parse([v2]).interfaces["dtmi:ex:S;1"].telemetries[0]
    assert (t.semantic_type, t.unit) == ("Temperature", "degreeCelsius")
    v3 = iface("dtmi:ex:S;2", {"@type": ["Property", "Pressure"], "name": "p",
                               "schema": "float", "unit": "millibar"},
               ctx=[V3, "dtmi:dtdl:extension:quantitativeTypes;1"])
    p = parse([v3]).interfaces["dtmi:ex:S;2"].properties[0]
    assert (p.semantic_type, p.unit) == ("Pressure", "millibar")
    wrong = iface("dtmi:ex:S;3", {"@type": ["Telemetry", "Temperature"], "name": "t",
                                  "schema": "double", "unit": "metre"}, ctx=V2)
    assert problems([wrong]) == ["unitNotAllowed"]


def test_display_names_are_localized() -> None:
    doc = iface("dtmi:ex:L;1", displayName={"en": "Pump", "de": "Pumpe"},
                description="A pump")
    i = parse([doc]).interfaces["dtmi:ex:L;1"]
    assert dict(i.display_name) == {"en": "Pump", "de": "Pumpe"}
    assert dict(i.description) == {"en": "A pump"}


# -- problems ---------------------------------------------------------------------------------

def test_error_type_and_all_problems_reported() -> None:
    doc = iface("dtmi:ex:Bad;1",
                {"@type": "Property", "name": "1bad", "schema": "double"},
                {"@type": "Telemetry", "name": "t"},
                {"@type": "Relationship", "name": "r", "minMultiplicity": 1})
    with pytest.raises(InvalidInputError) as info:
        parse([doc])
    err = info.value
    assert isinstance(err, DTDLValidationError)
    ids = {p.validation_id for p in err.errors}
    assert ids == {
        "dtmi:dtdl:parsingError:patternMismatch",
        "dtmi:dtdl:parsingError:missingRequiredProperty",
        "dtmi:dtdl:parsingError:valueOutOfRange",
    }
    missing = [p for p in err.errors if p.property == "schema"]
    assert missing
    assert missing[0].element_id is not None


@pytest.mark.parametrize(
    ("bad_id", "version"),
    [("dtmi:foo:bar", V2), ("dtmi:foo:bar;3.14", V2), ("dtmi:foo::bar;1", V3),
     ("dtmi:dtdl:mine;1", V3), ("dtmi:ex:_hidden;1", V3), ("urn:x:y", V3)],
)
def test_invalid_ids(bad_id: str, version: str) -> None:
    assert problems([{"@context": version, "@id": bad_id, "@type": "Interface"}]) == ["invalidId"]


def test_versionless_ids_allowed_in_v3() -> None:
    parse([iface("dtmi:ex:A;1", {"@id": "dtmi:ex:A:t", "@type": "Telemetry", "name": "t",
                                 "schema": "date"})])


def test_duplicate_definition_across_documents() -> None:
    a = iface("dtmi:ex:Dup;1")
    assert problems([a, a]) == ["duplicateDefinition"]


def test_unresolved_reference_and_cycle() -> None:
    assert problems([iface("dtmi:ex:A;1", extends="dtmi:ex:Nope;1")]) == ["unresolvedReference"]
    cyc = [iface("dtmi:ex:A;1", extends="dtmi:ex:B;1"), iface("dtmi:ex:B;1", extends="dtmi:ex:A;1")]
    assert "recursiveStructure" in problems(cyc)


def test_extends_depth_limit() -> None:
    docs = [iface(f"dtmi:ex:L{i};1", extends=f"dtmi:ex:L{i + 1};1") for i in range(11)]
    docs.append(iface("dtmi:ex:L11;1"))
    assert "excessiveDepth" in problems(docs)
    parse(docs[1:])  # ten levels are fine


def test_v2_limits_differ_from_v3() -> None:
    long_name = "n" * 100
    assert problems([iface("dtmi:ex:N;1", {"@type": "Telemetry", "name": long_name,
                                           "schema": "double"}, ctx=V2)]) == ["stringTooLong"]
    parse([iface("dtmi:ex:N;1", {"@type": "Telemetry", "name": long_name, "schema": "double"})])


def test_undefined_extensions_option() -> None:
    doc = iface("dtmi:ex:U;1", {"@type": ["Telemetry", "Sparkly"], "name": "t",
                                "schema": "double", "sparkle": 3},
                ctx=[V3, "dtmi:acme:context;1"])
    assert problems([doc]) == ["undefinedExtension"]
    t = parse([doc], allow_undefined_extensions=True).interfaces["dtmi:ex:U;1"].telemetries[0]
    assert t.cotypes == ("Sparkly",)


def test_name_uniqueness_includes_inherited_contents() -> None:
    base = iface("dtmi:ex:B;1", {"@type": "Telemetry", "name": "t", "schema": "double"})
    derived = iface("dtmi:ex:D;1", {"@type": "Property", "name": "t", "schema": "double"},
                    extends="dtmi:ex:B;1")
    assert problems([base, derived]) == ["duplicateName"]


@pytest.mark.parametrize("doc", ["{not json", "42", "[1, 2]", "null", '{"@id": 3}'])
def test_garbage_documents(doc: str) -> None:
    with pytest.raises(DTDLValidationError):
        parse([doc])


def test_dtmi_helpers() -> None:
    d = Dtmi.parse("dtmi:com:example:Pump;2")
    assert d is not None
    assert d.labels == ("com", "example", "Pump")
    assert d.major_version == 2
    assert user_id_problem("dtmi:com:example:Pump;2", 2) is None
    assert user_id_problem("dtmi:standard:x;1", 3) is not None


# -- property test ----------------------------------------------------------------------------

_KEYS = st.sampled_from([
    "@context", "@id", "@type", "contents", "schema", "name", "extends", "schemas", "fields",
    "elementSchema", "enumValues", "enumValue", "valueSchema", "mapKey", "mapValue", "unit",
    "displayName", "writable", "target", "request", "response", "@value", "@language", "x",
])
_STRINGS = st.sampled_from([
    V2, V3, "dtmi:ex:a;1", "dtmi:ex:b;1", "Interface", "Telemetry", "Property", "Command",
    "Relationship", "Component", "Object", "Array", "Enum", "Map", "double", "string",
    "integer", "Temperature", "degreeCelsius", "en", "dtmi:foo//bar", "", "n",
]) | st.text(max_size=8)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.floats(allow_nan=False) | _STRINGS,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(_KEYS | st.text(max_size=5), children, max_size=6),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_JSON, max_size=3), st.booleans())
def test_arbitrary_json_never_crashes(docs: list[Any], allow: bool) -> None:
    try:
        parse(docs, allow_undefined_extensions=allow)
    except DTDLValidationError as exc:
        errors = exc.errors
        assert errors


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(_KEYS, _JSON, max_size=6), st.sampled_from([V2, V3]))
def test_arbitrary_interfaces_never_crash(body: dict[str, Any], ctx: str) -> None:
    doc = {"@context": ctx, "@id": "dtmi:ex:a;1", "@type": "Interface", **body}
    try:
        parse([doc])
    except DTDLValidationError as exc:
        errors = exc.errors
        assert errors


# -- performance ------------------------------------------------------------------------------

def _hierarchy(n: int) -> list[str]:
    docs = []
    for i in range(n):
        contents = [{"@type": "Telemetry", "name": f"t{i}_{k}", "schema": "double"}
                    for k in range(4)]
        contents.append({"@type": "Property", "name": f"p{i}", "writable": True,
                         "schema": {"@type": "Object", "fields": [
                             {"name": "a", "schema": "double"},
                             {"name": "b", "schema": {"@type": "Array",
                                                      "elementSchema": "string"}}]}})
        doc: dict[str, Any] = iface(f"dtmi:ex:plant:Unit{i};1", *contents)
        if i:
            doc["extends"] = [f"dtmi:ex:plant:Unit{(i - 1) // 2};1"]
        docs.append(json.dumps(doc))
    return docs


def test_hundreds_of_interfaces_load_fast() -> None:
    docs = _hierarchy(500)
    start = time.perf_counter()
    ms = parse(docs)
    elapsed = time.perf_counter() - start
    assert len(ms) == 500
    assert len(ms.interfaces["dtmi:ex:plant:Unit499;1"].contents) > 5
    assert elapsed < 1.0, f"took {elapsed:.2f}s"


# -- CLI --------------------------------------------------------------------------------------

def test_cli_validate(tmp_path: Path) -> None:
    good = tmp_path / "models"
    (good / "sub").mkdir(parents=True)
    (good / "a.json").write_text(json.dumps(iface("dtmi:ex:A;1", extends="dtmi:ex:B;1")))
    (good / "sub" / "b.json").write_text(json.dumps(iface("dtmi:ex:B;1")), encoding="utf-8-sig")
    runner = CliRunner()
    result = runner.invoke(app, ["validate", str(good)])
    assert result.exit_code == 0, result.output
    assert "2 interface(s)" in result.output

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(iface("dtmi:ex:C;1", {"@type": "Telemetry", "name": "x"})))
    result = runner.invoke(app, ["validate", "--json", str(good), str(bad)])
    assert result.exit_code == 1
    listed = json.loads(result.output)
    assert listed[0]["validation_id"] == "dtmi:dtdl:parsingError:missingRequiredProperty"
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 1
    assert "1 DTDL problem(s)" in result.output
