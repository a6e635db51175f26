"""Sparkplug B host application over MQTT (Eclipse Sparkplug 3.0.0).

* :mod:`.payload` – the protobuf payload (:file:`sparkplug_b.proto`, generated
  :mod:`.sparkplug_b_pb2`), value decoding by datatype, encoding helpers.
* :mod:`.topics` – the ``spBv1.0`` topic namespace.
* :mod:`.registry` – births, aliases, seq, deaths and commands as a pure state machine.
* :mod:`.host` – :class:`SparkplugHost`, the connector (STATE, rebirth requests, writes).
* :mod:`.simulator` – :class:`EdgeNodeSimulator`, an edge node for tests and benchmarks.

Example:
    >>> from processtwin.connectors.sparkplug import SparkplugSettings
    >>> SparkplugSettings(name="spb", host_id="ptwin", groups=("plant",)).subscriptions()
    [('spBv1.0/plant/#', 1), ('spBv1.0/STATE/ptwin', 1)]
"""

from processtwin.connectors.sparkplug.host import MANIFEST, BirthCallback, SparkplugHost
from processtwin.connectors.sparkplug.payload import (
    DataType,
    decode_payload,
    encode_data,
    encode_payload,
    metric,
    metric_number,
)
from processtwin.connectors.sparkplug.registry import BirthMetric, Effects, Registry
from processtwin.connectors.sparkplug.settings import SparkplugSettings, point_name
from processtwin.connectors.sparkplug.simulator import EdgeNodeSimulator, SimMetric
from processtwin.connectors.sparkplug.topics import SpbTopic, parse_topic

__all__ = [
    "MANIFEST",
    "BirthCallback",
    "BirthMetric",
    "DataType",
    "EdgeNodeSimulator",
    "Effects",
    "Registry",
    "SimMetric",
    "SparkplugHost",
    "SparkplugSettings",
    "SpbTopic",
    "decode_payload",
    "encode_data",
    "encode_payload",
    "metric",
    "metric_number",
    "parse_topic",
    "point_name",
]
