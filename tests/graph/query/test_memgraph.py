"""MemoryGraph: the in-memory GraphView the query tests use."""

from __future__ import annotations

import pytest

from processtwin.errors import ConflictError, NotFoundError
from processtwin.graph.query import MemoryGraph
from processtwin.graph.types import GraphView


def test_is_a_graph_view() -> None:
    assert isinstance(MemoryGraph(), GraphView)


def test_indexes_both_ways_and_by_name() -> None:
    g = MemoryGraph()
    for t in ("a", "b", "c"):
        g.add_twin(t, "dtmi:x:T;1")
    g.add_relationship("a", "feeds", "b")
    g.add_relationship("a", "drains", "c", rel_id="x1", properties={"size": 3})
    g.add_relationship("c", "feeds", "b")
    assert [r["$targetId"] for r in g.outgoing("a")] == ["b", "c"]
    assert [r["$relationshipId"] for r in g.outgoing("a", "drains")] == ["x1"]
    assert [r["$sourceId"] for r in g.incoming("b", "feeds")] == ["a", "c"]
    assert g.incoming("a") == () and g.outgoing("zz", "feeds") == ()
    assert g.outgoing("a", "drains")[0]["size"] == 3
    assert len(g.relationships()) == 3 and len(g) == 3


def test_refuses_duplicates_and_dangling_relationships() -> None:
    g = MemoryGraph()
    g.add_twin("a", "dtmi:x:T;1")
    with pytest.raises(ConflictError):
        g.add_twin("a", "dtmi:x:T;1")
    with pytest.raises(NotFoundError):
        g.add_relationship("a", "feeds", "ghost")
    g.add_relationship("a", "self", "a")
    with pytest.raises(ConflictError):
        g.add_relationship("a", "self", "a")


def test_model_ancestors_are_closed_transitively() -> None:
    g = MemoryGraph(extends={"R": ["V"], "V": ["E"], "E": []})
    g.add_twin("r", "R")
    assert [g.is_of_model("r", m) for m in ("R", "V", "E", "X")] == [True, True, True, False]
    assert [g.is_of_model("r", m, exact=True) for m in ("R", "V")] == [True, False]
    assert not g.is_of_model("ghost", "R")


def test_live_values() -> None:
    g = MemoryGraph()
    g.set_live("a", "T", 1.5)
    assert g.live_value("a", "T") == 1.5
    g.set_live("a", "T", None)
    assert g.live_value("a", "T") is None
