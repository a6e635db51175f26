"""Replay recorded tag values (CSV/Parquet) into MQTT, Sparkplug B or an OPC UA server.

:mod:`.recording` reads the file (long or wide layout; bad rows become dead letters);
:mod:`.engine` paces it at N× speed; :mod:`.targets` (MQTT JSON batches, Sparkplug B edge
node) and :mod:`.opcua` (the simulator's address space) deliver it; :mod:`.cli` is
``ptwin replay``.
"""

from processtwin.replay.engine import ReplayStats, ReplayTarget, replay
from processtwin.replay.opcua import OpcUaServerTarget, node_name
from processtwin.replay.recording import Recording, load_recording, read_recording
from processtwin.replay.targets import MqttTarget, SparkplugTarget, split_tag

__all__ = [
    "MqttTarget",
    "OpcUaServerTarget",
    "Recording",
    "ReplayStats",
    "ReplayTarget",
    "SparkplugTarget",
    "load_recording",
    "node_name",
    "read_recording",
    "replay",
    "split_tag",
]
