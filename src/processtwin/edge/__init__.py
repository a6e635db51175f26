"""Edge store-and-forward: run a twin's sources near the plant, forward to the central twin.

:mod:`.codec` frames records (length + CRC, pure); :mod:`.log` is the bounded, crash-safe
segment-file buffer; :mod:`.payload` is the compact JSON batch the central ``kind: mqtt``
source ingests; :mod:`.forwarder` moves batches through the buffer to a :class:`Link`
(:mod:`.link`: MQTT, acknowledged at QoS 1); :mod:`.settings` is ``edge.yaml``;
:mod:`.runner` and :mod:`.cli` are ``ptwin edge CONFIG``.
"""

from processtwin.edge.codec import encode_record, scan
from processtwin.edge.forwarder import EdgeForwarder, EdgeStats, Link
from processtwin.edge.link import MqttLink
from processtwin.edge.log import FsyncPolicy, LogStats, SegmentLog
from processtwin.edge.payload import EDGE_FORMAT, edge_route, encode_batch, encode_readings
from processtwin.edge.settings import (
    BufferConfig,
    EdgeFile,
    EdgeSettings,
    LinkConfig,
    load_edge_config,
)

__all__ = [
    "EDGE_FORMAT",
    "BufferConfig",
    "EdgeFile",
    "EdgeForwarder",
    "EdgeSettings",
    "EdgeStats",
    "FsyncPolicy",
    "Link",
    "LinkConfig",
    "LogStats",
    "MqttLink",
    "SegmentLog",
    "edge_route",
    "encode_batch",
    "encode_readings",
    "encode_record",
    "load_edge_config",
    "scan",
]
