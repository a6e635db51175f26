"""A relationship declared against ``X;n`` accepts twins of a later version of ``X``."""

from __future__ import annotations

import pytest

from processtwin.errors import TwinValidationError
from processtwin.graph.graph import TwinGraph


def _iface(dtmi: str, extra: list[dict[str, object]] | None = None) -> dict[str, object]:
    return {"@context": "dtmi:dtdl:context;3", "@id": dtmi, "@type": "Interface",
            "contents": [{"@type": "Property", "name": "v", "schema": "double"},
                         *(extra or [])]}


@pytest.fixture
def graph() -> TwinGraph:
    g = TwinGraph()
    g.add_models([
        _iface("dtmi:ex:Tank;1"), _iface("dtmi:ex:Tank;2"), _iface("dtmi:ex:Tank;3"),
        _iface("dtmi:ex:Other;2"),
        _iface("dtmi:ex:Pump;1", [{"@type": "Relationship", "name": "feeds",
                                   "target": "dtmi:ex:Tank;2"}]),
    ])
    g.create_twin("p", "dtmi:ex:Pump;1")
    return g


@pytest.mark.parametrize(("model", "ok"), [
    ("dtmi:ex:Tank;2", True), ("dtmi:ex:Tank;3", True),
    ("dtmi:ex:Tank;1", False), ("dtmi:ex:Other;2", False)])
def test_later_versions_satisfy_a_declared_target(graph: TwinGraph, model: str,
                                                   ok: bool) -> None:
    graph.create_twin("t", model)
    if ok:
        assert graph.add_relationship("p", "r", "feeds", "t")["$targetId"] == "t"
    else:
        with pytest.raises(TwinValidationError) as info:
            graph.add_relationship("p", "r", "feeds", "t")
        assert [p.code for p in info.value.problems] == ["relationship-target"]


def test_migrating_a_target_to_a_later_version_keeps_its_incoming_relationships(
        graph: TwinGraph) -> None:
    graph.create_twin("t", "dtmi:ex:Tank;2", {"v": 1.0})
    graph.add_relationship("p", "r", "feeds", "t")
    report = graph.migrate("dtmi:ex:Tank;2", "dtmi:ex:Tank;3")
    assert report.migrated == ("t",) and report.failed == ()
    back = graph.migrate("dtmi:ex:Tank;3", "dtmi:ex:Tank;1", dry_run=True)
    assert back.failed == ("t",)
    assert graph.get_twin("t")["$metadata"]["$model"] == "dtmi:ex:Tank;3"
