"""A small Sparkplug B edge node for tests, demos and benchmarks (a real MQTT client).

It connects with its NDEATH (``bdSeq``) as will, publishes NBIRTH (with ``bdSeq`` and
``Node Control/Rebirth``) and a DBIRTH per device, then DDATA/NDATA with the running
``seq``. It answers rebirth requests, records the commands it receives, can skip sequence
numbers, let a device die and die itself uncleanly (the broker then publishes its will).

Example (needs a broker)::

    sim = EdgeNodeSimulator(group="plant", edge="edge1",
                            devices={"pump1": [SimMetric("Flow", unit="m3/h")]})
    sim.connect(); sim.birth()
    sim.publish_data("pump1", {"Flow": 12.5})
    sim.die()
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from processtwin.connectors.sparkplug.payload import (
    BD_SEQ,
    REBIRTH_METRIC,
    DataType,
    Payload,
    decode_payload,
    encode_payload,
    metric,
)
from processtwin.connectors.sparkplug.topics import topic_for
from processtwin.errors import ConnectorError, InvalidInputError

__all__ = ["EdgeNodeSimulator", "SimMetric"]


@dataclass(frozen=True, slots=True)
class SimMetric:
    """A metric of the simulated node or device."""

    name: str
    datatype: DataType = DataType.Double
    unit: str = ""
    initial: float = 0.0


class EdgeNodeSimulator:
    """One Sparkplug B edge node with devices; thread-safe, synchronous API."""

    def __init__(self, *, group: str, edge: str,
                 devices: Mapping[str, Sequence[SimMetric]] | None = None,
                 node_metrics: Sequence[SimMetric] = (), host: str = "127.0.0.1",
                 port: int = 1883, aliases: bool = True, answer_rebirth: bool = True) -> None:
        self.group, self.edge = group, edge
        self.devices = {d: tuple(ms) for d, ms in (devices or {}).items()}
        self.node_metrics = tuple(node_metrics)
        self.host, self.port = host, port
        self.answer_rebirth = answer_rebirth
        self.bd_seq = 0
        self.seq = 0
        self.commands: list[tuple[str, Payload]] = []
        self.rebirth_requests = 0
        self._lock = threading.RLock()
        self._alias: dict[tuple[str | None, str], int] = {}
        next_alias = 1
        for dev, ms in [(None, self.node_metrics), *self.devices.items()]:
            for m in ms:
                if aliases:
                    self._alias[(dev, m.name)] = next_alias
                    next_alias += 1
        self._client: paho.Client | None = None
        self._connected = threading.Event()

    # ------------------------------------------------------------------ connection
    def connect(self, timeout_s: float = 5.0) -> None:
        """Connect with the NDEATH will (next ``bdSeq``) and subscribe to commands."""
        c = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"sim-{self.group}-{self.edge}",
                        protocol=MQTTProtocolVersion.MQTTv311, clean_session=True)
        now = int(time.time() * 1000)
        c.will_set(topic_for("NDEATH", self.group, self.edge),
                   encode_payload([metric(BD_SEQ, self.bd_seq, DataType.Int64)], seq=None,
                                  timestamp_ms=now), qos=1)
        c.on_connect = self._on_connect
        c.on_message = self._on_command
        self._connected.clear()
        try:
            c.connect(self.host, self.port, keepalive=30)
        except OSError as exc:
            raise ConnectorError(f"simulator {self.edge}: cannot connect: {exc!r}") from exc
        c.loop_start()
        self._client = c
        if not self._connected.wait(timeout_s):
            raise ConnectorError(f"simulator {self.edge}: no CONNACK")

    def _on_connect(self, client: paho.Client, userdata: Any, flags: Any, rc: Any,
                    props: Any) -> None:
        client.subscribe([(topic_for("NCMD", self.group, self.edge), 0),
                          (topic_for("DCMD", self.group, self.edge, "+"), 0)])
        self._connected.set()

    def _on_command(self, client: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
        try:
            p = decode_payload(bytes(msg.payload))
        except InvalidInputError:
            return
        with self._lock:
            self.commands.append((msg.topic, p))
        if any(m.name == REBIRTH_METRIC and m.boolean_value for m in p.metrics):
            self.rebirth_requests += 1
            if self.answer_rebirth:  # not on paho's network thread: birth() waits on it
                threading.Thread(target=self.birth, name=f"rebirth-{self.edge}",
                                 daemon=True).start()

    def _client_or_fail(self) -> paho.Client:
        if self._client is None:
            raise ConnectorError(f"simulator {self.edge}: not connected")
        return self._client

    def _publish(self, topic: str, payload: bytes, qos: int = 0) -> None:
        info = self._client_or_fail().publish(topic, payload, qos)
        info.wait_for_publish(5.0)

    def _next_seq(self) -> int:
        self.seq = (self.seq + 1) % 256
        return self.seq

    # ------------------------------------------------------------------ messages
    def _birth_metrics(self, dev: str | None, ms: Sequence[SimMetric], now: int
                       ) -> list[Payload.Metric]:
        return [metric(m.name, m.initial, m.datatype, alias=self._alias.get((dev, m.name)),
                       timestamp_ms=now, unit=m.unit or None) for m in ms]

    def birth(self) -> None:
        """NBIRTH (seq 0) and then a DBIRTH per device."""
        with self._lock:
            now = int(time.time() * 1000)
            self.seq = 0
            ms = [metric(BD_SEQ, self.bd_seq, DataType.Int64, timestamp_ms=now),
                  metric(REBIRTH_METRIC, False, DataType.Boolean, timestamp_ms=now),
                  *self._birth_metrics(None, self.node_metrics, now)]
            self._publish(topic_for("NBIRTH", self.group, self.edge),
                          encode_payload(ms, seq=0, timestamp_ms=now))
            for dev, dms in self.devices.items():
                self._publish(topic_for("DBIRTH", self.group, self.edge, dev),
                              encode_payload(self._birth_metrics(dev, dms, now),
                                             seq=self._next_seq(), timestamp_ms=now))

    def publish_data(self, device: str | None, values: Mapping[str, float],
                     ts_ms: int | None = None) -> int:
        """DDATA (NDATA when ``device`` is None) with the given values; returns its seq."""
        with self._lock:
            now = int(time.time() * 1000) if ts_ms is None else ts_ms
            defs = {m.name: m for m in (self.node_metrics if device is None
                                        else self.devices[device])}
            ms = []
            for name, v in values.items():
                d = defs[name]
                alias = self._alias.get((device, name))
                ms.append(metric(None if alias is not None else name, v, d.datatype,
                                 alias=alias, timestamp_ms=now))
            seq = self._next_seq()
            kind = "NDATA" if device is None else "DDATA"
            self._publish(topic_for(kind, self.group, self.edge, device),
                          encode_payload(ms, seq=seq, timestamp_ms=now))
            return seq

    def skip_seq(self, n: int = 1) -> None:
        """Lose the next ``n`` sequence numbers (as if messages were dropped)."""
        with self._lock:
            self.seq = (self.seq + n) % 256

    def device_death(self, device: str) -> None:
        with self._lock:
            now = int(time.time() * 1000)
            self._publish(topic_for("DDEATH", self.group, self.edge, device),
                          encode_payload([], seq=self._next_seq(), timestamp_ms=now))

    def die(self) -> None:
        """Drop the connection without DISCONNECT: the broker publishes our NDEATH will."""
        c = self._client_or_fail()
        sock = c.socket()
        c.loop_stop()
        if isinstance(sock, socket.socket):
            sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self._client = None
        self.bd_seq = (self.bd_seq + 1) % 256

    def close(self) -> None:
        """Clean stop: publish NDEATH ourselves, then DISCONNECT."""
        c = self._client
        if c is None:
            return
        with self._lock:
            now = int(time.time() * 1000)
            self._publish(topic_for("NDEATH", self.group, self.edge), encode_payload(
                [metric(BD_SEQ, self.bd_seq, DataType.Int64)], seq=None, timestamp_ms=now), 1)
        c.disconnect()
        c.loop_stop()
        self._client = None
        self.bd_seq = (self.bd_seq + 1) % 256
