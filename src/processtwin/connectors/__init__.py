"""Plant connectors: one package per protocol, all behind :class:`~.base.Connector`."""

from processtwin.connectors.base import Connector, ConnectorManifest, ReleasedWrite, Sink

__all__ = ["Connector", "ConnectorManifest", "ReleasedWrite", "Sink"]
