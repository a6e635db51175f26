"""Typed, frozen settings of the MQTT connector (and of the broker session Sparkplug reuses).

Every class validates itself once, in ``__post_init__``, and raises
:class:`~processtwin.errors.InvalidInputError` naming the field. Units are in the names:
``_s`` seconds.

Example:
    >>> s = MqttSettings(name="line1", routes=(
    ...     MqttRoute(topic="plant/{twin}/{point}", format=PayloadFormat(value="$.v")),))
    >>> s.routes[0].template.filter
    'plant/+/+'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from processtwin.connectors.mqtt.paths import JsonPath, compile_path
from processtwin.connectors.mqtt.topics import TopicTemplate, shared_filter, subscription_set
from processtwin.core.quality import Quality
from processtwin.errors import InvalidInputError

__all__ = [
    "DEFAULT_QUALITY_MAP",
    "BrokerSettings",
    "MqttCommand",
    "MqttRoute",
    "MqttSettings",
    "PayloadFormat",
    "TlsSettings",
]

#: How quality fields read by default: our levels by number or name, booleans as ok/not ok.
DEFAULT_QUALITY_MAP: Mapping[str, Quality] = MappingProxyType({
    "0": Quality.GOOD, "1": Quality.UNCERTAIN, "2": Quality.BAD,
    "good": Quality.GOOD, "uncertain": Quality.UNCERTAIN, "bad": Quality.BAD,
    "true": Quality.GOOD, "false": Quality.BAD,
})

TsUnit = Literal["s", "ms", "us", "ns", "auto"]


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsSettings:
    """TLS towards the broker. ``ca_file`` None trusts the system store."""

    ca_file: str | None = None
    cert_file: str | None = None  # client certificate (PEM) for mutual TLS
    key_file: str | None = None  # its private key (PEM); may be inside cert_file
    verify_hostname: bool = True

    def __post_init__(self) -> None:
        if self.key_file and not self.cert_file:
            raise InvalidInputError("tls.key_file given without tls.cert_file")


@dataclass(frozen=True, slots=True, kw_only=True)
class BrokerSettings:
    """One MQTT broker session: address, identity, auth, TLS, MQTT 5 session and backoff.

    ``session_expiry_s`` (MQTT 5) is how long the broker keeps the session and its queued
    QoS 1/2 messages after a disconnect (0: not at all); with ``clean_start=False`` a
    reconnect then resumes it. ``receive_maximum`` (MQTT 5) bounds the QoS 1/2 messages the
    broker sends before we acknowledge: the connector acknowledges a message only after its
    batch went to the sink, so this is the broker-side half of the backpressure.
    """

    host: str = "127.0.0.1"
    port: int = 1883
    client_id: str = ""  # "" → "ptwin-{name}-{random}"
    protocol: Literal["5", "3.1.1"] = "5"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: TlsSettings | None = None
    keepalive_s: int = 30
    clean_start: bool = True
    session_expiry_s: int = 0
    receive_maximum: int = 65535
    connect_timeout_s: float = 5.0
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 30.0

    def __post_init__(self) -> None:
        problems = []
        if not 0 < self.port < 65536:
            problems.append(f"port {self.port} outside 1..65535")
        if self.protocol not in ("5", "3.1.1"):
            problems.append(f"protocol {self.protocol!r}: '5' or '3.1.1'")
        if not 0 < self.keepalive_s <= 65535:
            problems.append("keepalive_s must be in 1..65535")
        if not 0 <= self.session_expiry_s <= 0xFFFFFFFF:
            problems.append("session_expiry_s must be in 0..4294967295")
        if not 1 <= self.receive_maximum <= 65535:
            problems.append("receive_maximum must be in 1..65535")
        if self.password is not None and self.username is None:
            problems.append("password given without username")
        if self.protocol == "3.1.1" and self.session_expiry_s:
            problems.append("session_expiry_s needs protocol '5' (3.1.1 sessions never "
                            "expire: use clean_start=False)")
        if not 0 < self.reconnect_min_s <= self.reconnect_max_s:
            problems.append("need 0 < reconnect_min_s <= reconnect_max_s")
        if self.connect_timeout_s <= 0:
            problems.append("connect_timeout_s must be > 0")
        if problems:
            raise InvalidInputError("broker settings: " + "; ".join(problems))


@dataclass(frozen=True, slots=True, kw_only=True)
class PayloadFormat:
    """Where the readings are in a JSON payload.

    ``readings`` selects an array of readings (``$.readings[*]``, ``$[*]``); without it the
    document is one reading. The other paths start at the reading (``@``) or the document
    root (``$``; the same node when there is no ``readings``), so a batch may share one
    root timestamp: ``readings="$.r[*]", value="@.v", ts="$.ts"``.

    ``point`` (optional) names the point inside a reading, as ``name`` (the twin coming
    from the topic or the route) or ``twin.name``. ``ts`` numbers are seconds since the
    epoch unless ``ts_unit`` says ``ms``/``us``/``ns`` (``auto`` guesses by magnitude);
    strings are ISO 8601 (no zone: UTC). A missing ``ts`` means arrival time unless
    ``require_ts``. ``quality`` values are looked up (as lower-case text) in
    ``quality_map``; ``unit``, when the reading has one, must equal the point's unit.
    """

    readings: str | None = None
    value: str = "@.v"
    ts: str | None = "@.ts"
    quality: str | None = None
    unit: str | None = None
    point: str | None = None
    ts_unit: TsUnit = "s"
    require_ts: bool = False
    quality_map: Mapping[str, Quality] = field(default_factory=lambda: DEFAULT_QUALITY_MAP)

    def __post_init__(self) -> None:
        for name in ("readings", "value", "ts", "quality", "unit", "point"):
            text = getattr(self, name)
            if text is None:
                continue
            p = compile_path(text)
            if name != "readings" and p.multi:
                raise InvalidInputError(f"payload.{name} {text!r}: no wildcard here")
        if self.ts_unit not in ("s", "ms", "us", "ns", "auto"):
            raise InvalidInputError(f"payload.ts_unit {self.ts_unit!r}: s, ms, us, ns or auto")
        if self.require_ts and self.ts is None:
            raise InvalidInputError("payload.require_ts needs payload.ts")
        object.__setattr__(self, "quality_map", MappingProxyType(
            {str(k).lower(): Quality(v) for k, v in self.quality_map.items()}))

    def path(self, name: str) -> JsonPath | None:
        text: str | None = getattr(self, name)
        return None if text is None else compile_path(text)


@dataclass(frozen=True, slots=True, kw_only=True)
class MqttRoute:
    """Topics to subscribe and how their messages map onto points.

    ``topic`` is a template (``plant/{twin}/{point}``, ``site/+/{twin}/#``) or a plain
    topic. ``twin``/``point`` fix what neither the topic nor the payload names; a plain
    topic with both set is an explicit topic→point binding.
    """

    topic: str
    twin: str | None = None
    point: str | None = None
    qos: int = 1
    format: PayloadFormat = field(default_factory=PayloadFormat)

    def __post_init__(self) -> None:
        if self.qos not in (0, 1, 2):
            raise InvalidInputError(f"route {self.topic!r}: qos {self.qos} not 0, 1 or 2")
        t = TopicTemplate.parse(self.topic)
        names = {n for n, _ in t.slots}
        if "twin" in names and self.twin is not None:
            raise InvalidInputError(f"route {self.topic!r}: twin both in topic and fixed")
        if "point" in names and self.point is not None:
            raise InvalidInputError(f"route {self.topic!r}: point both in topic and fixed")
        has_point = "point" in names or self.point is not None or self.format.point is not None
        if not has_point:
            raise InvalidInputError(
                f"route {self.topic!r}: no point: put {{point}} in the topic, set point, or "
                "give payload.point")
        if self.twin is not None and (not self.twin or "." in self.twin or "/" in self.twin):
            raise InvalidInputError(f"route {self.topic!r}: twin {self.twin!r} must be "
                                    "non-empty, without '.' or '/'")
        if self.point is not None:
            twin_known = self.twin is not None or "twin" in names
            dots = self.point.count(".")
            if not self.point or (twin_known and dots) or (not twin_known and dots != 1):
                raise InvalidInputError(
                    f"route {self.topic!r}: point {self.point!r} must be a name (with a "
                    "twin from the topic or route) or 'twin.point' (without)")

    @property
    def template(self) -> TopicTemplate:
        return TopicTemplate.parse(self.topic)


@dataclass(frozen=True, slots=True, kw_only=True)
class MqttCommand:
    """A writable twin input and the topic its gate-released values are published to.

    The payload is JSON ``{"twin", "input", "value", "ts", "verdict"}`` (``ts`` seconds
    since the epoch, ``verdict`` the gate verdict id).
    """

    twin: str
    input: str
    topic: str
    qos: int = 1
    retain: bool = False

    def __post_init__(self) -> None:
        if self.qos not in (0, 1, 2):
            raise InvalidInputError(f"command {self.twin}.{self.input}: qos {self.qos}")
        if not self.topic or any(c in self.topic for c in "+#\x00"):
            raise InvalidInputError(
                f"command {self.twin}.{self.input}: topic {self.topic!r} must be a plain topic")


@dataclass(frozen=True, slots=True, kw_only=True)
class MqttSettings:
    """One MQTT source: broker session, routes, commands, shared group and queue bounds.

    ``max_queued`` bounds the readings (plus dead letters) decoded but not yet taken by
    the sink; at that mark the connector stops reading the socket until the sink has
    drained half of it. ``batch_rows`` caps one batch.
    """

    name: str
    broker: BrokerSettings = field(default_factory=BrokerSettings)
    routes: tuple[MqttRoute, ...] = ()
    commands: tuple[MqttCommand, ...] = ()
    shared_group: str | None = None
    max_queued: int = 200_000
    batch_rows: int = 50_000
    write_timeout_s: float = 5.0

    def __post_init__(self) -> None:
        if not self.name:
            raise InvalidInputError("mqtt source: name is empty")
        if self.max_queued < 1 or self.batch_rows < 1:
            raise InvalidInputError(f"{self.name}: max_queued and batch_rows must be >= 1")
        if self.write_timeout_s <= 0:
            raise InvalidInputError(f"{self.name}: write_timeout_s must be > 0")
        seen: set[tuple[str, str]] = set()
        for c in self.commands:
            if (c.twin, c.input) in seen:
                raise InvalidInputError(f"{self.name}: command {c.twin}.{c.input} twice")
            seen.add((c.twin, c.input))
        filters = [r.template.filter for r in self.routes]
        if len(set(filters)) != len(filters):
            raise InvalidInputError(f"{self.name}: two routes subscribe the same filter")
        for f in filters:
            shared_filter(f, self.shared_group)  # validates the group name

    def subscriptions(self) -> list[tuple[str, int]]:
        """(filter, qos) pairs to subscribe, shared when ``shared_group`` is set.

        Filters another route's filter covers are left out (a broker may deliver once per
        matching subscription); the router still picks the right route per topic.
        """
        wanted = subscription_set([(r.template.filter, r.qos) for r in self.routes])
        return [(shared_filter(f, self.shared_group), q) for f, q in wanted]
