"""Replay targets: MQTT (the edge's JSON batches) and Sparkplug B (as an edge node).

:class:`MqttTarget` publishes the payload :mod:`processtwin.edge.payload` defines (a JSON
array of ``{"p", "t", "v", "q"}``), so the central twin ingests a replay through the same
``kind: mqtt`` route as an edge; each message waits for the broker's acknowledgement at
QoS 1/2. :class:`SparkplugTarget` is a Sparkplug B edge node
(:class:`~processtwin.connectors.sparkplug.simulator.EdgeNodeSimulator`): a tag
``device.metric`` is metric ``metric`` of device ``device`` (a tag without a dot belongs to
device ``default_device``); it sends NBIRTH, a DBIRTH per device (with each tag's first
value), then DDATA stamped with the reading's time, and NDEATH at the end. Sparkplug has no
per-reading quality in the simulator's payloads: readings without a number are skipped.
"""

from __future__ import annotations

import asyncio
import math
from collections import defaultdict

import numpy as np
import numpy.typing as npt

from processtwin.connectors.base import ConnectorStatus
from processtwin.connectors.mqtt.session import MqttSession
from processtwin.connectors.mqtt.settings import BrokerSettings
from processtwin.connectors.sparkplug.simulator import EdgeNodeSimulator, SimMetric
from processtwin.edge.payload import encode_readings
from processtwin.errors import ConnectorError
from processtwin.replay.recording import Recording

__all__ = ["MqttTarget", "SparkplugTarget", "split_tag"]


class MqttTarget:
    """Publishes JSON batches to one topic."""

    coalesce = True

    def __init__(self, broker: BrokerSettings, topic: str, *, qos: int = 1,
                 timeout_s: float = 10.0) -> None:
        self.broker = broker
        self.topic = topic
        self.qos = qos
        self.timeout_s = timeout_s
        self.status = ConnectorStatus()
        self._session: MqttSession | None = None

    async def open(self, rec: Recording) -> None:
        self._session = MqttSession(self.broker, name="replay", status=self.status,
                                    on_message=lambda *_: None)
        await self._session.start()

    async def send(self, rec: Recording, lo: int, hi: int, ts: npt.NDArray[np.float64]
                   ) -> None:
        if self._session is None:
            raise ConnectorError("replay: MQTT target not open")
        tags = rec.tags
        rows = [(tags[i], t, v, q) for i, t, v, q in zip(
            rec.tag[lo:hi].tolist(), ts.tolist(), rec.value[lo:hi].tolist(),
            rec.quality[lo:hi].tolist(), strict=True)]
        await self._session.publish(self.topic, encode_readings(rows), self.qos,
                                    timeout_s=self.timeout_s)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.stop()
            self._session = None


def split_tag(tag: str, default_device: str) -> tuple[str, str]:
    """``device.metric`` → (device, metric); a tag without a dot → (default, tag)."""
    device, dot, name = tag.partition(".")
    return (device, name) if dot and device and name else (default_device, tag)


class SparkplugTarget:
    """A Sparkplug B edge node publishing the recording as DDATA."""

    coalesce = False

    def __init__(self, *, host: str, port: int, group: str, edge: str,
                 default_device: str = "replay") -> None:
        self.host, self.port = host, port
        self.group, self.edge = group, edge
        self.default_device = default_device
        self._sim: EdgeNodeSimulator | None = None
        self._where: list[tuple[str, str]] = []

    async def open(self, rec: Recording) -> None:
        self._where = [split_tag(t, self.default_device) for t in rec.tags]
        first = rec.first_values()
        devices: dict[str, list[SimMetric]] = defaultdict(list)
        for tag, (dev, name) in zip(rec.tags, self._where, strict=True):
            v = first.get(tag, 0.0)
            devices[dev].append(SimMetric(name, initial=0.0 if math.isnan(v) else v))
        sim = EdgeNodeSimulator(group=self.group, edge=self.edge, devices=devices,
                                host=self.host, port=self.port)
        await asyncio.to_thread(sim.connect)
        await asyncio.to_thread(sim.birth)
        self._sim = sim

    async def send(self, rec: Recording, lo: int, hi: int, ts: npt.NDArray[np.float64]
                   ) -> None:
        sim = self._sim
        if sim is None:
            raise ConnectorError("replay: Sparkplug target not open")
        per_device: dict[str, dict[str, float]] = defaultdict(dict)
        for i, v in zip(rec.tag[lo:hi].tolist(), rec.value[lo:hi].tolist(), strict=True):
            if not math.isnan(v):
                dev, name = self._where[i]
                per_device[dev][name] = v
        ts_ms = round(float(ts[0]) * 1000)
        for dev, values in per_device.items():
            await asyncio.to_thread(sim.publish_data, dev, values, ts_ms)

    async def close(self) -> None:
        sim = self._sim
        if sim is not None:
            await asyncio.to_thread(sim.close)
        self._sim = None
