"""MQTT connector (paho-mqtt 2.x on asyncio): topic templates, JSON readings, QoS 0/1/2.

Configuration is data (:mod:`.settings`); payload decoding is pure and fuzzed
(:mod:`.decode`, :mod:`.paths`); :mod:`.session` drives paho on the event loop with
reconnects, TLS, auth, MQTT 5 sessions and flow control; :mod:`.connector` ties them to the
:class:`~processtwin.connectors.base.Connector` protocol.

Example:
    >>> from processtwin.connectors.mqtt import MqttRoute, MqttSettings, PayloadFormat
    >>> s = MqttSettings(name="plant", shared_group="twins", routes=(
    ...     MqttRoute(topic="plant/{twin}", qos=1, format=PayloadFormat(
    ...         readings="$.readings[*]", point="@.p", value="@.v", ts="$.ts")),))
    >>> s.subscriptions()
    [('$share/twins/plant/+', 1)]
"""

from processtwin.connectors.mqtt.columns import Columns, PointResolver
from processtwin.connectors.mqtt.connector import MANIFEST, MqttConnector
from processtwin.connectors.mqtt.decode import JsonDecoder, Router, Target
from processtwin.connectors.mqtt.delivery import Delivery, IngestStats
from processtwin.connectors.mqtt.paths import MISSING, JsonPath, compile_path
from processtwin.connectors.mqtt.session import MqttSession, Will
from processtwin.connectors.mqtt.settings import (
    BrokerSettings,
    MqttCommand,
    MqttRoute,
    MqttSettings,
    PayloadFormat,
    TlsSettings,
)
from processtwin.connectors.mqtt.topics import TopicTemplate, shared_filter

__all__ = [
    "MANIFEST",
    "MISSING",
    "BrokerSettings",
    "Columns",
    "Delivery",
    "IngestStats",
    "JsonDecoder",
    "JsonPath",
    "MqttCommand",
    "MqttConnector",
    "MqttRoute",
    "MqttSession",
    "MqttSettings",
    "PayloadFormat",
    "PointResolver",
    "Router",
    "Target",
    "TlsSettings",
    "TopicTemplate",
    "Will",
    "compile_path",
    "shared_filter",
]
