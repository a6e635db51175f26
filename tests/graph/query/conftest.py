"""The plant graph, as a MemoryGraph and as a TwinGraph: every query test runs on both."""

from __future__ import annotations

import pytest

from processtwin.graph.types import GraphView
from tests.graph.query.plant import memory_plant, twin_graph_plant


@pytest.fixture(params=["memory", "twingraph"])
def plant(request: pytest.FixtureRequest) -> GraphView:
    return memory_plant() if request.param == "memory" else twin_graph_plant()
