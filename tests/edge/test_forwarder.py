"""Store-and-forward over a real Mosquitto: a broker outage loses nothing, keeps order."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import orjson
import pytest

from processtwin.connectors.mqtt.settings import BrokerSettings
from processtwin.core.batch import Batch, DeadLetter
from processtwin.edge import EdgeForwarder, EdgeSettings, MqttLink
from processtwin.edge.settings import BufferConfig, LinkConfig
from processtwin.errors import ConnectorError
from tests.connectors.test_mqtt_support import needs_broker, wait_until
from tests.edge.broker import RestartableBroker, Subscriber

KEYS = [f"r{i}.T" for i in range(5)]
T0 = 1_700_000_000.0
#: The broker outage, as the issue asks (the test then takes about 33 s); a shorter one
#: (PTWIN_EDGE_OUTAGE_S=5) exercises the same path: buffer, reconnect, replay, live.
OUTAGE_S = float(os.environ.get("PTWIN_EDGE_OUTAGE_S", "30"))


def rows(msgs: list[bytes]) -> list[tuple[str, float, float]]:
    return [(r["p"], r["t"], r["v"]) for m in msgs for r in orjson.loads(m)]


def feed_batch(k: int, n: int = 5) -> Batch:
    return Batch.of(list(range(n)), [T0 + k * 0.01] * n, [float(k * n + i) for i in range(n)])


def settings(port: int, max_bytes: int = 1 << 26, qos: int = 1) -> EdgeSettings:
    return EdgeSettings(name="e1", max_readings=3, link=LinkConfig(
        port=port, topic_prefix="ptwin-test-edge", qos=qos, window=16,  # type: ignore[arg-type]
        reconnect_min_s=0.1, reconnect_max_s=0.5, publish_timeout_s=5.0),
        buffer=BufferConfig(max_bytes=max_bytes, segment_bytes=4096, fsync="interval",
                            fsync_interval_s=0.2))


def link_for(s: EdgeSettings) -> MqttLink:
    return MqttLink(s.link.broker("edge-test"), name="edge-test", publish_timeout_s=5.0)


@pytest.mark.integration
@needs_broker
async def test_broker_restart_loses_nothing_and_keeps_order(tmp_path: Path) -> None:
    broker = RestartableBroker().start()
    sub = Subscriber(broker.port, "ptwin-test-edge/+")
    s = settings(broker.port)
    fwd = EdgeForwarder(s, KEYS, tmp_path / "buf", link_for(s))
    fed: list[tuple[str, float, float]] = []
    k = 0

    async def feed(until: float) -> None:
        nonlocal k
        while time.monotonic() < until:
            b = feed_batch(k)
            await fwd.sink(b, [])
            fed.extend((KEYS[p], t, v) for p, t, v in
                       zip(b.point.tolist(), b.ts.tolist(), b.value.tolist(), strict=True))
            k += 1
            await asyncio.sleep(0.02)

    try:
        await fwd.start()
        await wait_until(fwd.link.up.is_set)
        await feed(time.monotonic() + 1.0)
        await wait_until(lambda: fwd.stats.forwarded > 0)
        broker.stop()
        await feed(time.monotonic() + OUTAGE_S)
        during = fwd.snapshot()
        assert during["link"] == "down"
        assert during["buffered_records"] > 0
        broker.start()
        await feed(time.monotonic() + 1.5)
        assert await fwd.drain(30.0)
        await wait_until(lambda: len({(p, t) for p, t, _ in rows(sub.messages())})
                         >= len(fed), 30.0)
    finally:
        await fwd.stop()
        sub.close()
        broker.stop()
    got = rows(sub.messages())
    first: dict[tuple[str, float], float] = {}
    for p, t, v in got:
        first.setdefault((p, t), v)
    assert set(first) == {(p, t) for p, t, _ in fed}  # none lost, nothing invented
    assert list(first) == [(p, t) for p, t, _ in fed]  # in the order they were read
    assert all(first[(p, t)] == v for p, t, v in fed)
    assert len(got) - len(first) <= 16 * 3 * 4  # duplicates: at most a few windows re-sent
    snap = fwd.snapshot()
    assert snap["dropped_records"] == 0
    assert snap["forwarded"] >= len(fed)
    assert fwd.stats.link_changes >= 3  # live → down → (replaying →) live


class MemoryLink:
    """A link double: down until opened, then acknowledges every publish at once."""

    def __init__(self) -> None:
        self.up = asyncio.Event()
        self.sent: list[bytes] = []

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self.up.clear()

    async def publish(self, topic: str, payload: bytes, qos: int) -> None:
        if not self.up.is_set():
            raise ConnectorError("down")
        self.sent.append(payload)


async def test_overflow_while_down_drops_oldest_counts_and_forwards_the_newest(
        tmp_path: Path) -> None:
    s = settings(1883, max_bytes=8192)
    link = MemoryLink()
    fwd = EdgeForwarder(s, KEYS, tmp_path, link)
    await fwd.start()
    n = 400
    for k in range(n):
        await fwd.sink(feed_batch(k), [])
    snap = fwd.snapshot()
    assert snap["dropped_records"] > 0
    assert snap["buffered_bytes"] <= 8192
    assert snap["link"] == "down"
    link.up.set()
    assert await fwd.drain(10.0)
    await fwd.stop()
    got = rows(link.sent)
    fed = [(KEYS[i], T0 + k * 0.01, float(k * 5 + i)) for k in range(n) for i in range(5)]
    assert got == fed[len(fed) - len(got):]  # the newest, contiguous, in order
    assert len(got) < len(fed)
    assert fwd.snapshot()["dropped_records"] * 3 >= len(fed) - len(got) - 3


async def test_dead_letters_are_counted_and_empty_batches_ignored(tmp_path: Path) -> None:
    fwd = EdgeForwarder(settings(1883), KEYS, tmp_path, MemoryLink())
    await fwd.sink(Batch.empty(), [DeadLetter("s", "k", "x", "type: not a number")])
    assert fwd.stats.dead_letters == 1
    assert fwd.log.pending_records == 0
    fwd.log.close()


@pytest.mark.integration
@needs_broker
async def test_forwards_to_the_shared_broker_and_the_central_connector_ingests_it(
        tmp_path: Path) -> None:
    from processtwin.connectors.mqtt import MqttConnector, MqttSettings
    from processtwin.core import PointSpec, PointTable
    from processtwin.edge import edge_route
    from tests.connectors.test_mqtt_support import Collector, prefix

    pfx = prefix()
    table = PointTable([PointSpec(twin=f"r{i}", name="T", unit="degC") for i in range(5)])
    central = MqttConnector(MqttSettings(name="central", routes=(edge_route(pfx),)), table)
    sink = Collector()
    await central.start(sink)
    s = EdgeSettings(name="e2", link=LinkConfig(topic_prefix=pfx),
                     buffer=BufferConfig(max_bytes=1 << 20))
    fwd = EdgeForwarder(s, KEYS, tmp_path, MqttLink(BrokerSettings(), name="e2"))
    try:
        await fwd.start()
        for k in range(20):
            await fwd.sink(feed_batch(k), [])
        await wait_until(lambda: sink.rows() >= 100)
    finally:
        await fwd.stop()
        await central.stop()
    b = sink.all()
    assert not sink.dead
    assert sorted(zip(b.point.tolist(), b.ts.tolist(), b.value.tolist(), strict=True)) == \
        sorted((i, T0 + k * 0.01, float(k * 5 + i)) for k in range(20) for i in range(5))


async def test_a_restarted_edge_forwards_what_the_last_run_left_in_the_buffer(
        tmp_path: Path) -> None:
    s = settings(1883)
    first = EdgeForwarder(s, KEYS, tmp_path, MemoryLink())
    await first.start()
    for k in range(30):
        await first.sink(feed_batch(k), [])
    await first.stop()  # the link never came: everything stays on disk
    link = MemoryLink()
    link.up.set()
    second = EdgeForwarder(s, KEYS, tmp_path, link)
    assert second.snapshot()["buffered_records"] == first.snapshot()["buffered_records"] > 0
    await second.start()
    await second.sink(feed_batch(30), [])
    assert await second.drain(10.0)
    await second.stop()
    assert rows(link.sent) == [(KEYS[i], T0 + k * 0.01, float(k * 5 + i))
                               for k in range(31) for i in range(5)]


async def test_a_disk_failure_loses_readings_counted_without_raising(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from processtwin.errors import StoreError

    fwd = EdgeForwarder(settings(1883), KEYS, tmp_path, MemoryLink())

    def broken(payload: bytes) -> int:
        raise StoreError("disk full")

    monkeypatch.setattr(fwd.log, "append", broken)
    await fwd.sink(feed_batch(0), [])
    assert fwd.snapshot()["lost"] == 5
    fwd.log.close()
