"""OPC UA connector (asyncua)."""

from processtwin.connectors.opcua.connector import (
    Deadband,
    OpcUaBinding,
    OpcUaConnector,
    OpcUaSettings,
)

__all__ = ["Deadband", "OpcUaBinding", "OpcUaConnector", "OpcUaSettings"]
