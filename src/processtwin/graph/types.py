"""The read side of a twin graph, as the query engine and the API see it.

Documents are plain JSON-shaped mappings in the Azure Digital Twins layout::

    twin:          {"$dtId": "reactor1", "$etag": "W/\"3\"",
                    "$metadata": {"$model": "dtmi:ex:Reactor;1", "$lastUpdateTime": "..."},
                    "volume": 10.0, "jacket": {"$metadata": {}, "area": 2.1}}
    relationship:  {"$relationshipId": "r-17", "$etag": "W/\"1\"", "$sourceId": "pump1",
                    "$targetId": "reactor1", "$relationshipName": "feeds", "since": "..."}

They are read-only to readers: a writer replaces a document, it never edits one in place, so
a reader may hold on to one safely.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

__all__ = ["GraphView", "RelDoc", "TwinDoc"]

TwinDoc = Mapping[str, Any]
RelDoc = Mapping[str, Any]


@runtime_checkable
class GraphView(Protocol):
    """What a query needs from a graph. ``TwinGraph`` implements it; tests use small ones."""

    def twin(self, dt_id: str) -> TwinDoc | None:
        """The twin document, or None when there is no such twin."""

    def twins(self) -> Iterable[TwinDoc]:
        """Every twin document, in a stable order."""

    def relationships(self) -> Iterable[RelDoc]:
        """Every relationship document."""

    def outgoing(self, dt_id: str, name: str | None = None) -> Sequence[RelDoc]:
        """Relationships whose source is ``dt_id`` (only those called ``name`` when given)."""

    def incoming(self, dt_id: str, name: str | None = None) -> Sequence[RelDoc]:
        """Relationships whose target is ``dt_id`` (only those called ``name`` when given)."""

    def is_of_model(self, dt_id: str, model: str, exact: bool = False) -> bool:
        """Whether the twin's model is ``model`` or, unless ``exact``, extends it (any depth)."""

    def live_value(self, dt_id: str, name: str) -> Any:
        """The newest live telemetry value of the twin's point ``name``; None when unknown.

        Queries fall back to this when a twin document has no property of that name, so that
        ``WHERE reactor.T_R > 140`` filters on live data.
        """
