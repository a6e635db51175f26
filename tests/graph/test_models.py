"""The model repository, model versions side by side, and migrating twins between them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from processtwin.dtdl import DTDLValidationError
from processtwin.dtdl.model import PrimitiveSchema
from processtwin.errors import ConflictError, InvalidInputError, NotFoundError
from processtwin.graph.graph import TwinGraph
from processtwin.graph.migration import Change, convert
from processtwin.graph.models import ModelRepository, split_documents
from tests.graph.plant import (
    AREA,
    CTX,
    EQUIPMENT,
    JACKET,
    PUMP,
    REACTOR,
    REACTOR2,
    FakeClock,
    models,
    reactor_v2,
    reactor_values,
)


def iface(dtmi: str, contents: list[dict[str, Any]] | None = None,
          extends: str | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"@context": CTX, "@id": dtmi, "@type": "Interface",
                           "contents": contents or []}
    if extends:
        doc["extends"] = extends
    return doc


# ------------------------------------------------------------------------ repository


def test_models_added_separately_resolve_across_documents() -> None:
    g = TwinGraph()
    assert g.add_models([iface("dtmi:t:Base;1", [
        {"@type": "Property", "name": "tag", "schema": "string"}])]) == ["dtmi:t:Base;1"]
    g.add_models([json.dumps(iface("dtmi:t:Derived;1", extends="dtmi:t:Base;1"))])
    assert "tag" in g.interface("dtmi:t:Derived;1").contents
    g.create_twin("d", "dtmi:t:Derived;1", {"tag": "x"})
    assert g.is_of_model("d", "dtmi:t:Base;1")
    assert g.list_models() == ["dtmi:t:Base;1", "dtmi:t:Derived;1"]


def test_an_array_document_is_split_into_its_interfaces() -> None:
    docs = split_documents([json.dumps([iface("dtmi:t:A;1"), iface("dtmi:t:B;1")])])
    assert [d["@id"] for d in docs] == ["dtmi:t:A;1", "dtmi:t:B;1"]
    with pytest.raises(InvalidInputError):
        split_documents([{"@type": "Interface"}])
    with pytest.raises(DTDLValidationError):
        split_documents(["{not json"])


def test_invalid_or_duplicate_models_change_nothing() -> None:
    g = TwinGraph()
    g.add_models(models())
    with pytest.raises(ConflictError):
        g.add_models([iface(PUMP)])
    with pytest.raises(ConflictError):
        g.add_models([iface("dtmi:t:X;1"), iface("dtmi:t:X;1")])
    with pytest.raises(DTDLValidationError) as exc:
        g.add_models([iface("dtmi:t:Y;1", [{"@type": "Property", "name": "p",
                                            "schema": "nah"}]),
                      iface("dtmi:t:Z;1", [{"@type": "Property", "name": "p",
                                            "schema": "nope"}])])
    assert {e.source for e in exc.value.errors} == {"dtmi:t:Y;1", "dtmi:t:Z;1"}
    with pytest.raises(DTDLValidationError):
        g.add_models([iface("dtmi:t:Y;1", extends="dtmi:t:Missing;1")])
    assert len(g.list_models()) == 5
    assert "dtmi:t:Y;1" not in g.model_set


def test_get_model_returns_a_copy_of_the_document() -> None:
    g = TwinGraph()
    g.add_models(models())
    doc = g.get_model(PUMP)
    assert doc == models()[4]
    doc["contents"].clear()
    assert g.get_model(PUMP)["contents"]
    with pytest.raises(NotFoundError):
        g.get_model("dtmi:t:Nope;1")
    with pytest.raises(NotFoundError):
        g.interface("dtmi:t:Nope;1")


def test_versions_live_side_by_side() -> None:
    g = TwinGraph()
    g.add_models(models())
    g.add_models([reactor_v2()])
    assert g.model_versions(REACTOR) == [REACTOR, REACTOR2]
    assert g.model_versions("dtmi:test:Reactor;9") == [REACTOR, REACTOR2]
    assert g.model_versions("not a dtmi") == []
    g.create_twin("r1", REACTOR, reactor_values())
    g.create_twin("r2", REACTOR2, {"volume": 10, "jacket": {"$metadata": {}}})
    assert g.is_of_model("r2", EQUIPMENT)
    assert not g.is_of_model("r2", REACTOR)


def test_deleting_models_in_use_or_referenced_is_refused() -> None:
    g = TwinGraph()
    g.add_models(models())
    g.create_twin("p1", PUMP, {})
    with pytest.raises(ConflictError, match="in use"):
        g.delete_model(PUMP)
    with pytest.raises(ConflictError, match="referenced"):
        g.delete_model(JACKET)  # Reactor's component
    with pytest.raises(ConflictError, match="referenced"):
        g.delete_model(EQUIPMENT)  # extended by Pump and Reactor
    with pytest.raises(NotFoundError):
        g.delete_model("dtmi:t:Nope;1")
    g.delete_twin("p1")
    g.delete_model(PUMP)
    assert PUMP not in g.list_models()
    assert PUMP not in g.model_set


def test_deleting_a_model_whose_nested_interface_is_in_use_is_refused() -> None:
    g = TwinGraph()
    g.add_models([iface("dtmi:t:Outer;1", [
        {"@type": "Component", "name": "inner", "schema": {
            "@id": "dtmi:t:Inner;1", "@type": "Interface", "contents": []}}])])
    g.create_twin("i", "dtmi:t:Inner;1", {})
    with pytest.raises(ConflictError, match="in use"):
        g.delete_model("dtmi:t:Outer;1")


def test_repository_is_immutable() -> None:
    empty = ModelRepository.empty()
    repo, added = empty.with_added(models())
    assert len(added) == 5
    assert len(empty.documents) == 0
    smaller = repo.without([PUMP])
    assert PUMP in repo.model_set and PUMP not in smaller.model_set
    assert repo.ancestors(REACTOR) == {REACTOR, EQUIPMENT}
    assert repo.ancestors("dtmi:t:Nope;1") == frozenset()


def test_models_persist_with_the_graph(tmp_path: Path) -> None:
    path = tmp_path / "g.db"
    with TwinGraph(path) as g:
        g.add_models(models())
        g.add_models([reactor_v2()])
        g.delete_model(REACTOR2)
    with TwinGraph(path) as again:
        assert again.list_models() == [d["@id"] for d in models()]
        assert again.get_model(REACTOR) == models()[3]


# ------------------------------------------------------------------------ migration


@pytest.fixture
def fleet() -> TwinGraph:
    """Reactors r1..r3 of ;1 (r3's volume cannot become an integer), Reactor;2 loaded, a pump
    feeding r1 and an area holding r2."""
    g = TwinGraph(clock=FakeClock())
    g.add_models(models())
    g.add_models([reactor_v2()])
    g.create_twin("r1", REACTOR, reactor_values(batches=7))
    g.create_twin("r2", REACTOR, reactor_values(volume=12.0, mode="man"))
    g.create_twin("r3", REACTOR, reactor_values(volume=10.5))
    g.create_twin("p1", PUMP, {})
    g.create_twin("a1", AREA, {})
    g.add_relationship("p1", "f", "feeds", "r1")
    g.add_relationship("r2", "in", "locatedIn", "a1")
    return g


def test_dry_run_reports_and_changes_nothing(fleet: TwinGraph) -> None:
    before = fleet.export()
    report = fleet.migrate(REACTOR, REACTOR2, dry_run=True, defaults={"capacity": 5.0},
                           renames={"batches": "batchCount"})
    assert report.dry_run
    assert report.migrated == ("r1", "r2")
    assert report.failed == ("r3",)
    assert fleet.export() == before


def test_migration_reports_every_change_per_twin(fleet: TwinGraph) -> None:
    report = fleet.migrate(REACTOR, REACTOR2, defaults={"capacity": 5.0},
                           renames={"batches": "batchCount"})
    by_id = {t.dt_id: t for t in report.twins}
    r1 = {(c.kind, c.path) for c in by_id["r1"].changes}
    assert r1 == {("renamed", "/batchCount"), ("added", "/capacity"),
                  ("converted", "/volume"), ("dropped", "/mode"), ("dropped", "/setpoints"),
                  ("dropped", "/alarms"), ("dropped", "/location")}
    converted = next(c for c in by_id["r1"].changes if c.kind == "converted")
    assert (converted.old, converted.new) == (10.0, 10)
    dropped = next(c for c in by_id["r2"].changes if c.path == "/mode")
    assert dropped.old == "man"
    assert [(p.path, p.code) for p in by_id["r3"].problems] == [("/volume", "type")]
    doc = fleet.get_twin("r1")
    assert doc["$metadata"]["$model"] == REACTOR2
    assert doc["$etag"] == 'W/"2"'
    assert (doc["volume"], doc["capacity"], doc["batchCount"]) == (10, 5.0, 7)
    assert "mode" not in doc and "mode" not in doc["$metadata"]
    assert doc["jacket"]["area"] == 2.1
    assert fleet.get_twin("r3")["$metadata"]["$model"] == REACTOR  # left behind, untouched
    assert fleet.get_twin("r3")["$etag"] == 'W/"1"'
    assert fleet.is_of_model("r2", REACTOR2, exact=True)
    assert [r["$targetId"] for r in fleet.outgoing("r2")] == ["a1"]


def test_report_is_json_and_readable(fleet: TwinGraph) -> None:
    report = fleet.migrate(REACTOR, REACTOR2, dry_run=True)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["summary"] == {"twins": 3, "migrated": 2, "failed": 1}
    assert data["twins"][2]["problems"][0]["code"] == "type"
    assert {"kind": "dropped", "path": "/mode", "old": "auto",
            "note": f"{REACTOR2} has no 'mode'"} in data["twins"][0]["changes"]
    text = str(report)
    assert "would migrate 2 of 3" in text and "r3: FAILED" in text


def test_relationships_that_would_break_keep_the_twin_behind() -> None:
    g = TwinGraph()
    g.add_models(models())
    g.add_models([reactor_v2()])
    g.create_twin("r1", REACTOR, reactor_values())
    g.create_twin("r2", REACTOR, reactor_values())
    g.create_twin("r3", REACTOR, reactor_values())
    # hasJacketSensor targets Reactor;1 exactly; Reactor;2 has no such relationship
    g.add_relationship("r1", "s", "hasJacketSensor", "r2")
    report = g.migrate(REACTOR, REACTOR2)
    by_id = {t.dt_id: t for t in report.twins}
    # r2 is the target of r1's relationship, declared against Reactor;1: a later version
    # of the target honours it, so r2 moves; r1 itself would lose the relationship
    assert report.migrated == ("r2", "r3")
    assert [p.code for p in by_id["r1"].problems] == ["relationship-name"]
    assert g.is_of_model("r1", REACTOR, exact=True)
    assert g.is_of_model("r2", REACTOR2, exact=True)


def test_components_are_completed_and_pruned() -> None:
    g = TwinGraph()
    jacket2 = iface("dtmi:test:Jacket;2", [
        {"@type": "Property", "name": "thickness", "schema": "double"}])
    old = iface("dtmi:test:Vessel;1", [
        {"@type": "Component", "name": "jacket", "schema": JACKET}])
    new = iface("dtmi:test:Vessel;2", [
        {"@type": "Component", "name": "jacket", "schema": "dtmi:test:Jacket;2"},
        {"@type": "Component", "name": "agitator", "schema": JACKET}])
    g.add_models([*models(), jacket2, old, new])
    g.create_twin("v", "dtmi:test:Vessel;1", {"jacket": {"$metadata": {}, "area": 2.0}})
    report = g.migrate("dtmi:test:Vessel;1", "dtmi:test:Vessel;2")
    assert {(c.kind, c.path) for c in report.twins[0].changes} == {
        ("dropped", "/jacket/area"), ("added", "/agitator")}
    doc = g.get_twin("v")
    assert dict(doc["jacket"]) == {"$metadata": {}}
    assert "agitator" in doc


def test_migrate_checks_its_arguments(fleet: TwinGraph) -> None:
    with pytest.raises(NotFoundError):
        fleet.migrate(REACTOR, "dtmi:test:Reactor;3")
    with pytest.raises(InvalidInputError):
        fleet.migrate(REACTOR, REACTOR2, defaults={"colour": "red"})
    with pytest.raises(InvalidInputError):
        fleet.migrate(REACTOR, REACTOR2, renames={"mode": "operatingMode"})


def test_a_default_that_does_not_validate_fails_the_twins(fleet: TwinGraph) -> None:
    report = fleet.migrate(REACTOR, REACTOR2, defaults={"capacity": "large"})
    assert report.migrated == ()
    assert all(("/capacity", "type") in {(p.path, p.code) for p in t.problems}
               for t in report.twins)


def test_then_the_old_version_can_be_deleted(fleet: TwinGraph) -> None:
    fleet.migrate(REACTOR, REACTOR2)
    with pytest.raises(ConflictError):
        fleet.delete_model(REACTOR)  # r3 is still on it
    fleet.delete_twin("r3")
    fleet.delete_model(REACTOR)
    assert fleet.model_versions(REACTOR2) == [REACTOR2]


def test_migration_persists(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    with TwinGraph(path) as g:
        g.add_models([*models(), reactor_v2()])
        g.create_twin("r1", REACTOR, reactor_values())
        g.migrate(REACTOR, REACTOR2)
        expected = g.export()
    with TwinGraph(path) as again:
        assert again.export() == expected
        assert again.is_of_model("r1", REACTOR2, exact=True)


@pytest.mark.parametrize(("value", "schema", "expected"), [
    (3.0, "integer", 3), ("12", "long", 12), (3, "double", 3.0), ("2.5", "float", 2.5),
    (True, "string", "true"), (1.5, "string", "1.5"), ("TRUE", "boolean", True),
    ("false", "boolean", False),
])
def test_conversions(value: Any, schema: str, expected: Any) -> None:
    got = convert(value, PrimitiveSchema("", schema))
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize(("value", "schema"), [
    (3.5, "integer"), ("x", "long"), ("nan", "double"), ([1], "string"), ("yes", "boolean"),
    (1, "date"),
])
def test_no_conversion(value: Any, schema: str) -> None:
    got = convert(value, PrimitiveSchema("", schema))
    assert not isinstance(got, int | float | str | bool)


def test_change_text() -> None:
    assert str(Change("dropped", "/mode", old="auto", note="gone")) == (
        "dropped /mode (was 'auto') (gone)")
    assert Change("added", "/c", new=1).to_dict() == {"kind": "added", "path": "/c", "new": 1}
