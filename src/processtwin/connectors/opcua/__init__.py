"""OPC UA connector (asyncua)."""

from processtwin.connectors.opcua.connector import OpcUaBinding, OpcUaConnector, OpcUaSettings

__all__ = ["OpcUaBinding", "OpcUaConnector", "OpcUaSettings"]
