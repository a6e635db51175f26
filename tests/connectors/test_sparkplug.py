"""Sparkplug B host application and edge-node simulator against the real Mosquitto."""

from __future__ import annotations

import asyncio
import json
import math

import pytest

from processtwin.connectors.base import Connector
from processtwin.connectors.mqtt import BrokerSettings
from processtwin.connectors.sparkplug import (
    BirthMetric,
    DataType,
    EdgeNodeSimulator,
    SimMetric,
    SparkplugHost,
    SparkplugSettings,
    decode_payload,
    metric_number,
)
from processtwin.core import PointSpec, Quality, Reason
from processtwin.errors import ConnectorError, InvalidInputError
from tests.connectors.test_mqtt_support import (
    Collector,
    PrivateBroker,
    Publisher,
    needs_broker,
    prefix,
    released,
    wait_until,
)

pytestmark = [pytest.mark.integration, needs_broker]

DEVICES = {"pump1": [SimMetric("Flow", unit="m3/h", initial=10.0),
                     SimMetric("Speed", DataType.Int32, unit="rpm", initial=1500),
                     SimMetric("Mode", DataType.String)],
           "tank1": [SimMetric("Level", DataType.Float, unit="%", initial=50.0)]}


class Twins:
    """What the coordinator does on a birth: create the twin's points (a growing table)."""

    def __init__(self) -> None:
        self.specs: list[PointSpec] = []
        self.index: dict[str, int] = {}
        self.births: list[tuple[str, tuple[BirthMetric, ...]]] = []

    async def on_birth(self, device_key: str, metrics: tuple[BirthMetric, ...]) -> None:
        self.births.append((device_key, metrics))
        await asyncio.sleep(0.05)  # creating a twin takes I/O; data must wait for it
        for m in metrics:
            if m.numeric and m.key not in self.index:
                self.index[m.key] = len(self.specs)
                self.specs.append(PointSpec(twin=m.twin, name=m.point, unit=m.unit))

    def get(self, key: str) -> int | None:
        return self.index.get(key)

    def spec(self, idx: int) -> PointSpec:
        return self.specs[idx]


async def start(group: str, twins: Twins, sink: Collector, port: int = 1883,
                **kw: object) -> SparkplugHost:
    host = SparkplugHost(SparkplugSettings(
        name="spb", host_id=f"{group}-host", groups=(group,), broker=BrokerSettings(port=port),
        **kw), twins, twins.on_birth)  # type: ignore[arg-type]
    assert isinstance(host, Connector)
    await host.start(sink)
    return host


def sim(group: str, port: int = 1883) -> EdgeNodeSimulator:
    s = EdgeNodeSimulator(group=group, edge="edge1", devices=DEVICES, port=port,
                          node_metrics=[SimMetric("Uptime", DataType.Int64)])
    s.connect()
    return s


async def test_births_create_points_and_aliased_data_lands_on_them() -> None:
    group, twins, sink = prefix(), Twins(), Collector()
    host = await start(group, twins, sink)
    node = sim(group)
    node.birth()
    for k in range(20):  # right behind the births: must wait for the points
        node.publish_data("pump1", {"Flow": 11.0 + k, "Speed": 1400 + k})
        node.publish_data("tank1", {"Level": 40.0 + k})
    await wait_until(lambda: sink.rows() >= 4 + 60)
    await host.stop()
    node.close()
    assert [k for k, _ in twins.births] == [f"{group}/edge1", f"{group}/edge1/pump1",
                                            f"{group}/edge1/tank1"]
    pump = {m.name: m for m in twins.births[1][1]}
    assert (pump["Flow"].datatype, pump["Flow"].unit, pump["Flow"].twin) == (
        "Double", "m3/h", f"{group}-edge1-pump1")
    assert (pump["Speed"].datatype, pump["Speed"].unit) == ("Int32", "rpm")
    assert pump["Mode"].numeric is False
    assert sink.dead == []  # nothing arrived before its point existed
    b = sink.all()
    flow = b.value[b.point == twins.index[f"{group}-edge1-pump1.Flow"]].tolist()
    assert flow == [10.0] + [11.0 + k for k in range(20)]  # birth value, then data in order
    level = b.value[b.point == twins.index[f"{group}-edge1-tank1.Level"]].tolist()
    assert level == [50.0] + [40.0 + k for k in range(20)]
    assert host.registry.seq_gaps == 0 and host.stats.dead == {}


async def test_seq_gap_and_data_before_birth_request_rebirth_on_the_broker() -> None:
    group, twins, sink = prefix(), Twins(), Collector()
    watcher = Publisher()
    watcher.watch(f"spBv1.0/{group}/NCMD/#")
    host = await start(group, twins, sink, rebirth_interval_s=0)
    node = sim(group)
    node.publish_data("pump1", {"Flow": 1.0})  # before any birth
    await wait_until(lambda: node.rebirth_requests >= 1)  # the node answers with births
    await wait_until(lambda: len(twins.births) >= 3)
    node.publish_data("pump1", {"Flow": 2.0})
    node.skip_seq(3)
    node.publish_data("pump1", {"Flow": 3.0})
    await wait_until(lambda: node.rebirth_requests >= 2)
    await wait_until(lambda: len(twins.births) >= 6)
    node.publish_data("pump1", {"Flow": 4.0})
    await wait_until(lambda: 4.0 in sink.all().value.tolist())
    await host.stop()
    node.close()
    requests = watcher.messages("/NCMD/edge1")
    watcher.close()
    assert len(requests) == 2
    m = decode_payload(requests[0].payload).metrics[0]
    assert (m.name, m.datatype, m.boolean_value) == ("Node Control/Rebirth",
                                                     DataType.Boolean, True)
    cats = [d.category for d in sink.dead]
    assert cats == ["unknown", "sequence"]
    assert "expected seq" in sink.dead[1].reason and "rebirth requested" in sink.dead[1].reason
    flow = sink.all().value[sink.all().point == twins.index[f"{group}-edge1-pump1.Flow"]]
    assert {2.0, 3.0, 4.0} <= set(flow.tolist())  # values after a gap still count


async def test_deaths_mark_points_bad_and_stale() -> None:
    group, twins, sink = prefix(), Twins(), Collector()
    host = await start(group, twins, sink)
    node = sim(group)
    node.birth()
    node.publish_data("tank1", {"Level": 42.0})
    await wait_until(lambda: 42.0 in sink.all().value.tolist())
    node.device_death("tank1")
    await wait_until(lambda: (sink.all().quality == Quality.BAD).any())
    bad = sink.all().take(sink.all().quality == Quality.BAD)
    assert bad.point.tolist() == [twins.index[f"{group}-edge1-tank1.Level"]]
    n_bad = len(bad)
    node.die()  # unclean: the broker publishes the NDEATH will (bdSeq of the birth)
    await wait_until(lambda: int((sink.all().quality == Quality.BAD).sum()) >= n_bad + 4)
    await host.stop()
    b = sink.all()
    bad = b.take(b.quality == Quality.BAD)
    assert set(bad.point.tolist()) == set(twins.index.values())  # node and all devices
    assert set(bad.reason.tolist()) == {Reason.STALE | Reason.COMM}
    assert all(math.isnan(v) for v in bad.value)
    assert not host.registry.nodes[f"{group}/edge1"].online


async def test_commands_go_out_from_released_writes_only() -> None:
    group, twins, sink = prefix(), Twins(), Collector()
    host = await start(group, twins, sink)
    node = sim(group)
    node.birth()
    await wait_until(lambda: len(twins.births) >= 3 and sink.rows() >= 4)
    await host.write(released(f"{group}-edge1-pump1", "Speed", 1600.0, current=1500.0))
    await host.write(released(f"{group}-edge1", "Uptime", 0.0, current=10.0))
    with pytest.raises(PermissionError):
        await host.write((f"{group}-edge1-pump1", "Speed", 1.0))  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="not a Int32"):
        await host.write(released(f"{group}-edge1-pump1", "Speed", 1.5, current=1.0))
    with pytest.raises(InvalidInputError, match="no Sparkplug metric"):
        await host.write(released(f"{group}-edge1-pump1", "Nope", 1.0, current=1.0))
    await wait_until(lambda: len(node.commands) >= 2)
    node.die()
    await wait_until(lambda: not host.registry.nodes[f"{group}/edge1"].online)
    with pytest.raises(ConnectorError, match="offline"):
        await host.write(released(f"{group}-edge1-pump1", "Speed", 1.0, current=1.0))
    await host.stop()
    (t1, p1), (t2, p2) = node.commands[:2]
    assert t1 == f"spBv1.0/{group}/DCMD/edge1/pump1" and t2 == f"spBv1.0/{group}/NCMD/edge1"
    m = p1.metrics[0]
    assert (m.name, m.datatype, metric_number(m, m.datatype)) == ("Speed", DataType.Int32,
                                                                  1600.0)
    assert m.HasField("alias")
    assert (p2.metrics[0].name, p2.metrics[0].datatype) == ("Uptime", DataType.Int64)


async def test_state_birth_retained_and_will_on_unclean_loss() -> None:
    broker = PrivateBroker().start()
    try:
        group, twins, sink = prefix(), Twins(), Collector()
        host = await start(group, twins, sink, port=broker.port)
        watcher = Publisher(port=broker.port)
        watcher.watch(f"spBv1.0/STATE/{group}-host")
        await wait_until(lambda: len(watcher.messages("STATE")) >= 1)
        first = json.loads(watcher.messages("STATE")[0].payload)
        assert first["online"] is True and first["timestamp"] > 1.6e12
        assert watcher.messages("STATE")[0].retain  # retained: late subscribers see it
        assert host.session is not None
        sock = host.session._client.socket()
        assert sock is not None
        sock.shutdown(2)  # the host's connection dies without DISCONNECT
        await wait_until(lambda: any(not json.loads(m.payload)["online"]
                                     for m in watcher.messages("STATE")))
        will = next(json.loads(m.payload) for m in watcher.messages("STATE")
                    if not json.loads(m.payload)["online"])
        assert will["timestamp"] == first["timestamp"]  # the will pairs with its birth
        await wait_until(lambda: host.status.connected, timeout_s=15)  # reconnects
        await wait_until(lambda: json.loads(watcher.messages("STATE")[-1].payload)["online"])
        await host.stop()
        await wait_until(lambda: not json.loads(watcher.messages("STATE")[-1].payload)[
            "online"])
        assert host.status.reconnects == 1
        watcher.close()
    finally:
        broker.stop()
