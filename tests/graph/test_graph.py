"""TwinGraph: twins, relationships, ETags, JSON Patch, indexes, thread safety."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from processtwin.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    TwinValidationError,
)
from processtwin.graph.frozen import thaw
from processtwin.graph.graph import TwinGraph
from processtwin.graph.types import GraphView
from tests.graph.plant import (
    AREA,
    EQUIPMENT,
    PUMP,
    REACTOR,
    FakeClock,
    models,
    reactor_values,
)

EXAMPLE_MODELS = Path(__file__).resolve().parents[2] / "examples" / "cstr" / "models"


@pytest.fixture
def g() -> TwinGraph:
    graph = TwinGraph(clock=FakeClock())
    graph.add_models(models())
    return graph


@pytest.fixture
def plant(g: TwinGraph) -> TwinGraph:
    """r1 (reactor), p1 and p2 (pumps), a1 (area); p1 feeds r1, p2 feeds r1, r1 in a1."""
    g.create_twin("r1", REACTOR, reactor_values())
    g.create_twin("p1", PUMP, {"tag": "P-1", "rpm": 1450})
    g.create_twin("p2", PUMP, {"tag": "P-2"})
    g.create_twin("a1", AREA, {"name": "North"})
    g.add_relationship("p1", "f1", "feeds", "r1", {"since": "2024-01-01T00:00:00Z"})
    g.add_relationship("p2", "f1", "feeds", "r1")
    g.add_relationship("r1", "in", "locatedIn", "a1")
    return g


def problem_codes(exc: pytest.ExceptionInfo[TwinValidationError]) -> list[tuple[str, str, str]]:
    return [(p.twin, p.path, p.code) for p in exc.value.problems]


# ------------------------------------------------------------------------ twins


def test_the_graph_is_a_graph_view(g: TwinGraph) -> None:
    assert isinstance(g, GraphView)


def test_create_returns_an_adt_shaped_document(g: TwinGraph) -> None:
    doc = g.create_twin("r1", REACTOR, reactor_values())
    assert doc["$dtId"] == "r1"
    assert doc["$etag"] == 'W/"1"'
    assert doc["$metadata"]["$model"] == REACTOR
    assert doc["$metadata"]["$lastUpdateTime"] == "2024-05-01T12:00:01.000000Z"
    assert doc["$metadata"]["volume"] == {"lastUpdateTime": "2024-05-01T12:00:01.000000Z"}
    assert doc["volume"] == 10.0
    assert doc["jacket"]["area"] == 2.1
    assert doc["jacket"]["$metadata"]["area"]["lastUpdateTime"].startswith("2024-05-01")
    assert g.get_twin("r1") is doc
    assert g.twin("r1") is doc
    assert "r1" in g
    assert len(g) == 1


def test_documents_are_read_only_and_thaw_into_plain_copies(g: TwinGraph) -> None:
    doc = g.create_twin("r1", REACTOR, reactor_values())
    with pytest.raises(TypeError):
        doc["volume"] = 1.0  # type: ignore[index]
    with pytest.raises(TypeError):
        doc["alarms"].append("X")
    with pytest.raises(TypeError):
        doc["$metadata"].pop("$model")
    copy = thaw(doc)
    copy["volume"] = 1.0
    assert g.get_twin("r1")["volume"] == 10.0
    assert json.loads(json.dumps(doc)) == copy | {"volume": 10.0}


def test_the_caller_keeps_its_own_properties_dict(g: TwinGraph) -> None:
    values = reactor_values()
    g.create_twin("r1", REACTOR, values)
    values["alarms"].append("mutated later")
    assert g.get_twin("r1")["alarms"] == ["HH", "LL"]


def test_invalid_twin_is_refused_with_every_problem_and_nothing_changes(g: TwinGraph) -> None:
    with pytest.raises(TwinValidationError) as exc:
        g.create_twin("r1", REACTOR, reactor_values(volume="x", T_R=3.0, colour="red"))
    assert sorted(problem_codes(exc)) == [("r1", "/T_R", "not-settable"),
                                          ("r1", "/colour", "unknown-property"),
                                          ("r1", "/volume", "type")]
    assert g.twin("r1") is None
    assert list(g.twins()) == []


def test_unknown_model_is_a_validation_error(g: TwinGraph) -> None:
    with pytest.raises(TwinValidationError) as exc:
        g.create_twin("x", "dtmi:test:Missing;1", {})
    assert problem_codes(exc) == [("x", "/$metadata/$model", "unknown-model")]


def test_create_replaces_unless_if_none_match(g: TwinGraph) -> None:
    g.create_twin("p1", PUMP, {"rpm": 1})
    doc = g.create_twin("p1", PUMP, {"rpm": 2})
    assert doc["$etag"] == 'W/"2"'
    assert doc["rpm"] == 2
    with pytest.raises(ConflictError):
        g.create_twin("p1", PUMP, {"rpm": 3}, if_none_match=True)
    assert g.get_twin("p1")["rpm"] == 2


def test_missing_twins_raise_not_found(g: TwinGraph) -> None:
    for call in (lambda: g.get_twin("nope"), lambda: g.delete_twin("nope"),
                 lambda: g.patch_twin("nope", []), lambda: g.list_relationships("nope"),
                 lambda: g.list_incoming("nope")):
        with pytest.raises(NotFoundError):
            call()


# ------------------------------------------------------------------------ patch


def test_patch_applies_and_bumps_the_etag(g: TwinGraph) -> None:
    g.create_twin("r1", REACTOR, reactor_values())
    doc = g.patch_twin("r1", [
        {"op": "replace", "path": "/volume", "value": 12.5},
        {"op": "add", "path": "/alarms/-", "value": "H"},
        {"op": "remove", "path": "/mode"},
        {"op": "add", "path": "/setpoints/FIC7", "value": 3.0},
        {"op": "replace", "path": "/jacket/area", "value": 2.5},
    ])
    assert doc["$etag"] == 'W/"2"'
    assert (doc["volume"], doc["alarms"], "mode" in doc) == (12.5, ["HH", "LL", "H"], False)
    assert doc["setpoints"] == {"TIC101": 120.5, "FIC7": 3.0}
    assert doc["jacket"]["area"] == 2.5
    assert "mode" not in doc["$metadata"]


def test_patch_keeps_timestamps_of_unchanged_properties(g: TwinGraph) -> None:
    first = g.create_twin("r1", REACTOR, reactor_values())
    doc = g.patch_twin("r1", [{"op": "replace", "path": "/volume", "value": 11.0}])
    assert doc["$metadata"]["$lastUpdateTime"] > first["$metadata"]["$lastUpdateTime"]
    assert doc["$metadata"]["volume"] != first["$metadata"]["volume"]
    assert doc["$metadata"]["tag"] == first["$metadata"]["tag"]
    assert doc["jacket"]["$metadata"]["area"] == first["jacket"]["$metadata"]["area"]


def test_a_patch_is_refused_whole_when_any_result_is_invalid(g: TwinGraph) -> None:
    before = g.create_twin("r1", REACTOR, reactor_values())
    with pytest.raises(TwinValidationError) as exc:
        g.patch_twin("r1", [{"op": "replace", "path": "/volume", "value": 12.0},
                            {"op": "replace", "path": "/mode", "value": "turbo"},
                            {"op": "add", "path": "/T_R", "value": 1.0},
                            {"op": "remove", "path": "/jacket"}])
    assert sorted(problem_codes(exc)) == [("r1", "/T_R", "not-settable"),
                                          ("r1", "/jacket", "component-missing"),
                                          ("r1", "/mode", "enum")]
    assert g.get_twin("r1") is before


@pytest.mark.parametrize(("ops", "code"), [
    ([{"op": "replace", "path": "/$dtId", "value": "x"}], "reserved"),
    ([{"op": "replace", "path": "/$etag", "value": "x"}], "reserved"),
    ([{"op": "remove", "path": "/$metadata/volume"}], "reserved"),
    ([{"op": "add", "path": "/jacket/$metadata/x", "value": 1}], "reserved"),
    ([{"op": "replace", "path": "", "value": {}}], "reserved"),
    ([{"op": "move", "from": "/$metadata", "path": "/x"}], "reserved"),
    ([{"op": "frobnicate", "path": "/volume"}], "patch"),
    ([{"op": "add", "path": "volume", "value": 1}], "patch"),
    ([{"op": "add", "path": "/volume"}], "patch"),
    (["not an op"], "patch"),
    ([{"op": "remove", "path": "/nothing"}], "patch"),
    ([{"op": "test", "path": "/volume", "value": 99.0}], "patch"),
])
def test_bad_patches_are_refused(g: TwinGraph, ops: list[Any], code: str) -> None:
    before = g.create_twin("r1", REACTOR, reactor_values())
    with pytest.raises(TwinValidationError) as exc:
        g.patch_twin("r1", ops)
    assert {p.code for p in exc.value.problems} == {code}
    assert g.get_twin("r1") is before


def test_patch_that_is_not_a_list_is_refused(g: TwinGraph) -> None:
    g.create_twin("p1", PUMP, {})
    with pytest.raises(TwinValidationError):
        g.patch_twin("p1", {"op": "add"})  # type: ignore[arg-type]


def test_a_test_op_may_check_the_etag(g: TwinGraph) -> None:
    g.create_twin("p1", PUMP, {"rpm": 1})
    doc = g.patch_twin("p1", [{"op": "test", "path": "/$etag", "value": 'W/"1"'},
                              {"op": "replace", "path": "/rpm", "value": 2}])
    assert doc["rpm"] == 2


def test_if_match_guards_against_stale_writes(g: TwinGraph) -> None:
    g.create_twin("p1", PUMP, {"rpm": 1})
    g.patch_twin("p1", [{"op": "replace", "path": "/rpm", "value": 2}], if_match='W/"1"')
    with pytest.raises(ConflictError):
        g.patch_twin("p1", [{"op": "replace", "path": "/rpm", "value": 3}], if_match='W/"1"')
    with pytest.raises(ConflictError):
        g.delete_twin("p1", if_match='W/"1"')
    g.patch_twin("p1", [{"op": "replace", "path": "/rpm", "value": 4}], if_match="*")
    assert g.get_twin("p1")["$etag"] == 'W/"3"'
    g.delete_twin("p1", if_match='W/"3"')
    assert g.twin("p1") is None


def test_replacing_the_model_by_patch_validates_against_the_new_one(g: TwinGraph) -> None:
    g.create_twin("e1", EQUIPMENT, {"tag": "E"})
    doc = g.patch_twin("e1", [{"op": "replace", "path": "/$metadata/$model", "value": PUMP},
                              {"op": "add", "path": "/rpm", "value": 900}])
    assert doc["$metadata"]["$model"] == PUMP
    assert g.is_of_model("e1", PUMP, exact=True)
    with pytest.raises(TwinValidationError) as exc:
        g.patch_twin("e1", [{"op": "replace", "path": "/$metadata/$model", "value": AREA}])
    assert {p.code for p in exc.value.problems} == {"unknown-property"}


# ------------------------------------------------------------------------ delete


def test_delete_is_refused_while_relationships_remain(plant: TwinGraph) -> None:
    with pytest.raises(ConflictError):
        plant.delete_twin("r1")  # incoming and outgoing
    with pytest.raises(ConflictError):
        plant.delete_twin("a1")  # incoming only
    assert plant.twin("r1") is not None


def test_cascade_delete_removes_relationships_in_both_directions(plant: TwinGraph) -> None:
    plant.delete_twin("r1", cascade=True)
    assert plant.twin("r1") is None
    assert plant.outgoing("p1") == ()
    assert plant.incoming("a1") == ()
    assert plant.relationships() == ()
    plant.delete_twin("a1")


# ------------------------------------------------------------------------ relationships


def test_relationships_are_indexed_both_ways(plant: TwinGraph) -> None:
    feeds = plant.incoming("r1", "feeds")
    assert sorted(r["$sourceId"] for r in feeds) == ["p1", "p2"]
    assert plant.incoming("r1", "locatedIn") == ()
    assert [r["$targetId"] for r in plant.outgoing("r1")] == ["a1"]
    assert plant.outgoing("r1", "feeds") == ()
    assert plant.outgoing("nobody") == ()
    rel = plant.get_relationship("p1", "f1")
    assert rel == {"$relationshipId": "f1", "$etag": 'W/"1"', "$sourceId": "p1",
                   "$targetId": "r1", "$relationshipName": "feeds",
                   "since": "2024-01-01T00:00:00Z"}
    assert plant.list_relationships("p1") == (rel,)
    assert len(plant.list_incoming("r1")) == 2
    assert len(plant.relationships()) == 3


def test_relationship_ids_are_unique_per_source(plant: TwinGraph) -> None:
    assert plant.get_relationship("p1", "f1")["$sourceId"] == "p1"
    assert plant.get_relationship("p2", "f1")["$sourceId"] == "p2"
    with pytest.raises(ConflictError):
        plant.add_relationship("p1", "f1", "feeds", "r1", if_none_match=True)
    doc = plant.add_relationship("p1", "f1", "feeds", "p2", {"lineSize": 50})
    assert doc["$etag"] == 'W/"2"'
    assert [r["$targetId"] for r in plant.outgoing("p1")] == ["p2"]
    assert [r["$sourceId"] for r in plant.incoming("r1")] == ["p2"]
    assert [r["$sourceId"] for r in plant.incoming("p2")] == ["p1"]


def test_invalid_relationships_are_refused_with_every_problem(plant: TwinGraph) -> None:
    with pytest.raises(TwinValidationError) as exc:
        plant.add_relationship("p1", "bad", "feeds", "a1", {"since": "now", "x": 1})
    assert sorted(problem_codes(exc)) == [
        ("p1", "/relationships/bad/$targetId", "relationship-target"),
        ("p1", "/relationships/bad/since", "format"),
        ("p1", "/relationships/bad/x", "unknown-property")]
    with pytest.raises(TwinValidationError) as exc:
        plant.add_relationship("p1", "bad", "hasJacketSensor", "ghost")
    assert sorted(p.code for p in exc.value.problems) == ["relationship-name", "target-missing"]
    with pytest.raises(NotFoundError):
        plant.add_relationship("ghost", "bad", "feeds", "r1")
    assert plant.outgoing("p1", "feeds")[0]["$relationshipId"] == "f1"
    assert len(plant.relationships()) == 3


def test_max_multiplicity_is_enforced_on_add_but_not_on_replace(plant: TwinGraph) -> None:
    plant.create_twin("a2", AREA, {})
    with pytest.raises(TwinValidationError) as exc:
        plant.add_relationship("r1", "in2", "locatedIn", "a2")
    assert [p.code for p in exc.value.problems] == ["multiplicity"]
    plant.add_relationship("r1", "in", "locatedIn", "a2")  # replacing the one it has
    assert [r["$targetId"] for r in plant.outgoing("r1", "locatedIn")] == ["a2"]
    assert plant.incoming("a1") == ()


def test_patch_and_delete_relationship(plant: TwinGraph) -> None:
    doc = plant.patch_relationship("p1", "f1", [{"op": "add", "path": "/lineSize", "value": 80},
                                                {"op": "remove", "path": "/since"}])
    assert (doc["lineSize"], "since" in doc, doc["$etag"]) == (80, False, 'W/"2"')
    assert plant.incoming("r1", "feeds")[0] is doc or plant.incoming("r1", "feeds")[1] is doc
    with pytest.raises(TwinValidationError):
        plant.patch_relationship("p1", "f1", [{"op": "replace", "path": "/lineSize",
                                               "value": "wide"}])
    with pytest.raises(TwinValidationError):
        plant.patch_relationship("p1", "f1", [{"op": "replace", "path": "/$targetId",
                                               "value": "p2"}])
    with pytest.raises(ConflictError):
        plant.patch_relationship("p1", "f1", [], if_match='W/"1"')
    with pytest.raises(ConflictError):
        plant.delete_relationship("p1", "f1", if_match='W/"1"')
    plant.delete_relationship("p1", "f1")
    with pytest.raises(NotFoundError):
        plant.get_relationship("p1", "f1")
    with pytest.raises(NotFoundError):
        plant.delete_relationship("p1", "f1")
    assert [r["$sourceId"] for r in plant.incoming("r1")] == ["p2"]


def test_changing_a_twins_model_checks_its_relationships(plant: TwinGraph) -> None:
    # r1 is the target of 'feeds' (target Equipment): an Area cannot be fed
    with pytest.raises(TwinValidationError) as exc:
        plant.create_twin("r1", AREA, {})
    assert {p.code for p in exc.value.problems} == {"relationship-name",
                                                   "relationship-target"}
    assert plant.is_of_model("r1", REACTOR, exact=True)


# ------------------------------------------------------------------------ reads


def test_is_of_model_follows_extends(plant: TwinGraph) -> None:
    assert plant.is_of_model("r1", REACTOR)
    assert plant.is_of_model("r1", EQUIPMENT)
    assert not plant.is_of_model("r1", EQUIPMENT, exact=True)
    assert not plant.is_of_model("r1", PUMP)
    assert not plant.is_of_model("ghost", EQUIPMENT)


def test_twins_keep_creation_order_and_snapshots_refresh(plant: TwinGraph) -> None:
    first = plant.twins()
    assert [t["$dtId"] for t in first] == ["r1", "p1", "p2", "a1"]
    assert plant.twins() is first  # cached
    plant.create_twin("p3", PUMP, {})
    plant.create_twin("p1", PUMP, {"rpm": 5})  # replaced in place
    assert [t["$dtId"] for t in plant.twins()] == ["r1", "p1", "p2", "a1", "p3"]
    assert [t["$dtId"] for t in first] == ["r1", "p1", "p2", "a1"]  # old snapshot unchanged


def test_live_value_uses_the_hook() -> None:
    calls: list[tuple[str, str]] = []

    def live(dt_id: str, name: str) -> Any:
        calls.append((dt_id, name))
        return 140.5 if name == "T_R" else None

    g = TwinGraph(live=live)
    assert g.live_value("r1", "T_R") == 140.5
    assert g.live_value("r1", "level") is None
    assert calls == [("r1", "T_R"), ("r1", "level")]
    assert TwinGraph().live_value("r1", "T_R") is None


def test_the_example_plant_models_build_a_graph() -> None:
    g = TwinGraph()
    g.add_models([p.read_text() for p in sorted(EXAMPLE_MODELS.glob("*.json"))])
    ex = "dtmi:processtwin:example:"
    g.create_twin("R1", ex + "Reactor;1", {"volume": 10.0, "cb_target": 0.9})
    g.create_twin("J1", ex + "CoolingJacket;1", {})
    g.create_twin("P1", ex + "Pump;1", {"running": True})
    g.create_twin("TT101", ex + "TemperatureSensor;1", {"tag": "TT101",
                                                         "calibrationDue": "2025-01-31"})
    g.add_relationship("R1", "j", "hasJacket", "J1")
    g.add_relationship("J1", "c", "cools", "R1")
    g.add_relationship("P1", "f", "feeds", "R1")
    g.add_relationship("TT101", "m", "measures", "R1")
    assert g.is_of_model("TT101", ex + "Sensor;1")
    with pytest.raises(TwinValidationError):
        g.add_relationship("P1", "f2", "feeds", "J1")
    with pytest.raises(TwinValidationError):
        g.create_twin("TT102", ex + "TemperatureSensor;1", {"calibrationDue": "soon"})


# ------------------------------------------------------------------------ bulk


def bulk_docs(n: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    twins = [{"$dtId": f"p{i}", "$metadata": {"$model": PUMP}, "rpm": i} for i in range(n)]
    rels = [{"$relationshipId": "next", "$sourceId": f"p{i}", "$targetId": f"p{(i + 1) % n}",
             "$relationshipName": "feeds", "lineSize": 50} for i in range(n)]
    return twins, rels


def test_bulk_import_adds_models_twins_and_relationships() -> None:
    g = TwinGraph()
    twins, rels = bulk_docs(2000)
    result = g.bulk_import(models=models(), twins=twins, relationships=rels)
    assert (len(result.models), result.twins, result.relationships) == (5, 2000, 2000)
    assert len(g) == 2000
    assert [r["$targetId"] for r in g.outgoing("p1999")] == ["p0"]
    assert [r["$sourceId"] for r in g.incoming("p0")] == ["p1999"]
    assert g.get_twin("p7")["$etag"] == 'W/"1"'


def test_bulk_import_is_atomic_and_reports_every_problem(g: TwinGraph) -> None:
    g.create_twin("p0", PUMP, {})
    twins, rels = bulk_docs(50)
    twins = twins[1:]  # p0 exists already
    twins[3]["rpm"] = "fast"
    twins.append({"$dtId": "p5", "$metadata": {"$model": PUMP}})  # duplicate
    twins.append({"$dtId": "x", "$metadata": {"$model": "dtmi:test:Gone;1"}})
    twins.append("not a twin")  # type: ignore[arg-type]
    rels[10]["$targetId"] = "ghost"
    rels[11]["$sourceId"] = "ghost"
    rels.append(dict(rels[20]))  # duplicate relationship id
    with pytest.raises(TwinValidationError) as exc:
        g.bulk_import(twins=twins, relationships=rels)
    assert sorted(problem_codes(exc)) == sorted([
        ("p4", "/rpm", "type"),
        ("p5", "/$dtId", "duplicate"),
        ("x", "/$metadata/$model", "unknown-model"),
        ("<import>", "/twins/51", "type"),
        ("p10", "/relationships/next/$targetId", "target-missing"),
        ("ghost", "/relationships/next", "source-missing"),
        ("p20", "/relationships/next", "duplicate"),
    ])
    assert [t["$dtId"] for t in g.twins()] == ["p0"]
    assert g.relationships() == ()


def test_bulk_import_refuses_existing_ids(plant: TwinGraph) -> None:
    with pytest.raises(TwinValidationError) as exc:
        plant.bulk_import(twins=[{"$dtId": "p1", "$metadata": {"$model": PUMP}}],
                          relationships=[{"$relationshipId": "f1", "$sourceId": "p2",
                                          "$targetId": "r1", "$relationshipName": "feeds"}])
    assert sorted(problem_codes(exc)) == [("p1", "/$dtId", "exists"),
                                          ("p2", "/relationships/f1", "exists")]


def test_bulk_import_checks_multiplicity_across_the_import(plant: TwinGraph) -> None:
    with pytest.raises(TwinValidationError) as exc:
        plant.bulk_import(relationships=[
            {"$relationshipId": f"s{i}", "$sourceId": "r1", "$targetId": "r1",
             "$relationshipName": "hasJacketSensor"} for i in range(3)])
    assert [(p.path, p.code) for p in exc.value.problems] == [
        ("/relationships/s2/$relationshipName", "multiplicity")]


def test_bulk_import_with_bad_models_changes_nothing() -> None:
    from processtwin.dtdl import DTDLValidationError

    g = TwinGraph()
    bad = models()
    bad[1]["contents"][0]["schema"] = "no-such-schema"
    twins, _ = bulk_docs(3)
    with pytest.raises(DTDLValidationError):
        g.bulk_import(models=bad, twins=twins)
    assert g.list_models() == []
    assert len(g) == 0


def test_export_round_trips_through_bulk_import(plant: TwinGraph) -> None:
    plant.patch_twin("p1", [{"op": "replace", "path": "/rpm", "value": 1000}])
    exported = plant.export()
    json.dumps(exported)  # plain JSON
    copy = TwinGraph()
    copy.bulk_import(**exported)

    def stable(e: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        def strip(d: Any) -> Any:
            if isinstance(d, dict):
                return {k: strip(v) for k, v in d.items()
                        if k not in ("$etag", "$lastUpdateTime", "lastUpdateTime")}
            return d
        return {k: [strip(d) for d in v] for k, v in e.items()}

    assert stable(copy.export()) == stable(exported)
    assert [t["$dtId"] for t in copy.twins()] == [t["$dtId"] for t in plant.twins()]


# ------------------------------------------------------------------------ persistence


def test_a_file_graph_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "twins.db"
    with TwinGraph(path, clock=FakeClock()) as g:
        g.add_models(models())
        g.create_twin("r1", REACTOR, reactor_values())
        g.create_twin("p1", PUMP, {"rpm": 1})
        g.create_twin("gone", PUMP, {})
        g.add_relationship("p1", "f1", "feeds", "r1")
        g.add_relationship("gone", "f1", "feeds", "r1")
        g.patch_twin("p1", [{"op": "replace", "path": "/rpm", "value": 2}])
        g.patch_relationship("p1", "f1", [{"op": "add", "path": "/lineSize", "value": 3}])
        g.delete_twin("gone", cascade=True)
        expected = g.export()
    with TwinGraph(path) as again:
        assert again.export() == expected
        assert again.get_twin("p1")["$etag"] == 'W/"2"'
        assert [r["$sourceId"] for r in again.incoming("r1")] == ["p1"]
        assert again.is_of_model("r1", EQUIPMENT)
        doc = again.patch_twin("p1", [{"op": "replace", "path": "/rpm", "value": 3}])
        assert doc["$etag"] == 'W/"3"'


def test_refused_operations_leave_nothing_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "twins.db"
    with TwinGraph(path) as g:
        g.add_models(models())
        g.create_twin("p1", PUMP, {"rpm": 1})
        expected = g.export()
        with pytest.raises(TwinValidationError):
            g.create_twin("p2", PUMP, {"rpm": "x"})
        with pytest.raises(TwinValidationError):
            g.patch_twin("p1", [{"op": "replace", "path": "/rpm", "value": 2},
                                {"op": "add", "path": "/colour", "value": "red"}])
        with pytest.raises(TwinValidationError):
            g.bulk_import(models=[{"@context": "dtmi:dtdl:context;3",
                                   "@id": "dtmi:test:New;1", "@type": "Interface"}],
                          twins=[{"$dtId": "n1", "$metadata": {"$model": "dtmi:test:New;1"}},
                                 {"$dtId": "n2", "$metadata": {"$model": PUMP}, "rpm": 1.5}])
        with pytest.raises(ConflictError):
            g.delete_twin("p1", if_match='W/"9"')
        assert g.export() == expected
    with TwinGraph(path) as again:
        assert again.export() == expected


def test_bulk_import_to_a_file_is_restored(tmp_path: Path) -> None:
    path = tmp_path / "bulk.db"
    twins, rels = bulk_docs(500)
    with TwinGraph(path) as g:
        g.bulk_import(models=models(), twins=twins, relationships=rels)
        expected = g.export()
    with TwinGraph(path) as again:
        assert again.export() == expected
        assert [r["$sourceId"] for r in again.incoming("p0")] == ["p499"]


def test_an_unusable_path_is_a_store_error(tmp_path: Path) -> None:
    from processtwin.errors import StoreError

    with pytest.raises(StoreError):
        TwinGraph(tmp_path)  # a directory


# ------------------------------------------------------------------------ threads


def test_readers_see_whole_documents_while_writers_patch(g: TwinGraph) -> None:
    g.create_twin("p1", PUMP, {"rpm": 0, "tag": "0"})
    g.create_twin("hub", PUMP, {})
    stop = threading.Event()
    errors: list[str] = []

    def writer() -> None:
        for i in range(1, 300):
            g.patch_twin("p1", [{"op": "replace", "path": "/rpm", "value": i},
                                {"op": "replace", "path": "/tag", "value": str(i)}])
            g.create_twin(f"s{i}", PUMP, {})
            g.add_relationship(f"s{i}", "f", "feeds", "hub")
        stop.set()

    def reader() -> None:
        while not stop.is_set():
            doc = g.twin("p1")
            if doc is None or str(doc["rpm"]) != doc["tag"]:
                errors.append(f"torn document {doc}")
            n = len(g.incoming("hub"))
            if len(g.twins()) < n:
                errors.append("relationship without its source")
            for r in g.relationships():
                if g.twin(r["$sourceId"]) is None:
                    errors.append("dangling")

    threads = [threading.Thread(target=writer)] + [threading.Thread(target=reader)
                                                    for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert len(g.incoming("hub")) == 299


def test_migrate_arguments_are_checked(g: TwinGraph) -> None:
    with pytest.raises(InvalidInputError):
        g.migrate(PUMP, PUMP)
