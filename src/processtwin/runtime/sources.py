"""Build the connectors of a twin.yaml's ``sources`` (OPC UA today).

:func:`build_connectors` turns each source into a connector bound to the runtime's
:class:`~processtwin.core.points.PointTable`; it does not start them. The runtime (or
``ptwin edge``) starts each with its sink and registers its writes.

Example:
    >>> from processtwin.runtime.config import load_config_text
    >>> from processtwin.runtime.runtime import build_point_table
    >>> cfg = load_config_text("name: x\\n")
    >>> build_connectors(cfg, build_point_table(cfg), sim_url=None)
    []
"""

from __future__ import annotations

from processtwin.connectors.base import Connector
from processtwin.connectors.opcua.connector import OpcUaBinding, OpcUaConnector, OpcUaSettings
from processtwin.core.points import PointTable
from processtwin.errors import ConnectorError
from processtwin.runtime.config import SourceConfig, TwinFile

__all__ = ["SIMULATOR_URL", "build_connectors", "build_opcua"]

#: ``url: simulator`` in an OPC UA source means the built-in simulated plant.
SIMULATOR_URL = "simulator"


def build_opcua(s: SourceConfig, table: PointTable, *, sim_url: str | None) -> OpcUaConnector:
    """An OPC UA connector for one source; ``url: simulator`` takes ``sim_url``."""
    url = sim_url if s.url == SIMULATOR_URL else s.url
    if url is None:
        raise ConnectorError(f"source {s.name}: url 'simulator' but the simulator "
                             "is not enabled")
    bindings = [OpcUaBinding(node=b.node, point=table.index(f"{b.twin}.{b.point}"),
                             key=f"{b.twin}.{b.point}") for b in s.bindings]
    return OpcUaConnector(OpcUaSettings(
        name=s.name, url=url, sampling_interval_ms=s.sampling_interval_ms,
        publishing_interval_ms=s.publishing_interval_ms, queue_size=s.queue_size),
        bindings, {(w.twin, w.input): w.node for w in s.writes})


def build_connectors(cfg: TwinFile, table: PointTable, *, sim_url: str | None = None
                     ) -> list[tuple[SourceConfig, Connector]]:
    """One (unstarted) connector per source of ``cfg``, in file order."""
    return [(s, build_opcua(s, table, sim_url=sim_url)) for s in cfg.sources]
