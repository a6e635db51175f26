"""MQTT connector against the real Mosquitto (127.0.0.1:1883, or a private one)."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter

import orjson
import pytest

from processtwin.connectors.base import Connector
from processtwin.connectors.mqtt import (
    BrokerSettings,
    MqttCommand,
    MqttConnector,
    MqttRoute,
    MqttSettings,
    PayloadFormat,
    TlsSettings,
)
from processtwin.core import PointSpec, PointTable, Quality, Reason
from processtwin.errors import ConnectorError, InvalidInputError
from tests.connectors.test_mqtt_support import (
    Collector,
    PrivateBroker,
    Publisher,
    free_port,
    needs_broker,
    prefix,
    released,
    wait_until,
)

pytestmark = [pytest.mark.integration, needs_broker]

TABLE = PointTable([PointSpec(twin=f"r{i}", name=n, unit=u) for i in range(4)
                    for n, u in (("T", "degC"), ("F", "m3/h"), ("L", "%"))])
TS = 1_700_000_000.0


def reading(v: float, k: int = 0, unit: str | None = None) -> bytes:
    doc: dict[str, object] = {"v": v, "ts": TS + k}
    if unit is not None:
        doc["u"] = unit
    return orjson.dumps(doc)


def settings(pfx: str, *routes: MqttRoute, **kw: object) -> MqttSettings:
    return MqttSettings(name="t", routes=routes, **kw)  # type: ignore[arg-type]


@pytest.fixture
def pub() -> Publisher:
    p = Publisher()
    yield p  # type: ignore[misc]
    p.close()


async def test_maps_topics_to_points_and_dead_letters_every_bad_message(pub: Publisher) -> None:
    pfx = prefix()
    conn = MqttConnector(settings(
        pfx,
        MqttRoute(topic=f"{pfx}/{{twin}}/{{point}}", format=PayloadFormat(unit="@.u")),
        MqttRoute(topic=f"{pfx}/legacy/tank3", twin="r3", point="L",
                  format=PayloadFormat(value="$.level", ts=None))), TABLE)
    assert isinstance(conn, Connector)
    sink = Collector()
    await conn.start(sink)
    valid = 0
    for k in range(300):
        pub.publish(f"{pfx}/r{k % 3}/{'TF'[k % 2]}", reading(float(k), k), qos=1)
        valid += 1
    pub.publish(f"{pfx}/legacy/tank3", b'{"level": 42.5}')
    bad = {
        f"{pfx}/r1/T": [b"{broken", b'{"v": "hot"}', reading(1.0, unit="K"), b'{"x": 1}'],
        f"{pfx}/r9/T": [reading(1.0)],  # no twin r9
        f"{pfx}/r1/nope": [reading(1.0)],
    }
    for topic, payloads in bad.items():
        for p in payloads:
            pub.publish(topic, p)
    await wait_until(lambda: sink.rows() >= valid + 1 and len(sink.dead) >= 6)
    await asyncio.sleep(0.2)
    await conn.stop()
    b = sink.all()
    assert len(b) == valid + 1
    assert (b.quality == Quality.GOOD).all()
    t_r1 = b.value[b.point == TABLE.index("r1.T")]
    assert sorted(t_r1.tolist()) == [float(k) for k in range(300) if k % 3 == 1 and k % 2 == 0]
    assert b.value[b.point == TABLE.index("r3.L")].tolist() == [42.5]
    cats = Counter(d.category for d in sink.dead)
    assert cats == {"invalid": 2, "type": 1, "unit": 1, "unknown": 2}
    assert conn.stats.dead == cats
    assert conn.stats.messages == valid + 1 + 6 and conn.stats.readings == valid + 1
    reasons = {d.reason for d in sink.dead}
    assert "unknown: no point 'r9.T'" in reasons
    assert "unknown: no point 'r1.nope'" in reasons
    assert "unit: 'K' but r1.T is in 'degC'" in reasons


async def test_qos1_delivers_everything_and_a_persistent_session_keeps_what_came_offline(
        pub: Publisher) -> None:
    pfx = prefix()
    broker = BrokerSettings(client_id=f"{pfx}-c", clean_start=False, session_expiry_s=60)
    s = settings(pfx, MqttRoute(topic=f"{pfx}/{{twin}}/{{point}}", qos=1), broker=broker)
    sink = Collector()
    conn = MqttConnector(s, TABLE)
    await conn.start(sink)
    for k in range(2000):
        pub.publish(f"{pfx}/r0/T", reading(float(k), k), qos=1)
    await wait_until(lambda: sink.rows() >= 2000)
    await conn.stop()
    for k in range(2000, 2500):  # nobody listening: the broker keeps the session's queue
        pub.publish(f"{pfx}/r0/T", reading(float(k), k), qos=1)
    conn2 = MqttConnector(s, TABLE)
    await conn2.start(sink)
    assert conn2.session is not None and conn2.session.session_present
    await wait_until(lambda: sink.rows() >= 2500)
    await asyncio.sleep(0.2)
    await conn2.stop()
    assert sorted(sink.all().value.tolist()) == [float(k) for k in range(2500)]  # no loss,
    # no duplicate: every QoS 1 message was acknowledged once its batch reached the sink
    clean = MqttConnector(settings(pfx, MqttRoute(topic=f"{pfx}/{{twin}}/{{point}}"),
                                   broker=BrokerSettings(client_id=f"{pfx}-c")), TABLE)
    await clean.start(Collector())  # clean start: ends the stored session
    await clean.stop()


@pytest.mark.parametrize("qos", [0, 2])
async def test_qos0_and_qos2(pub: Publisher, qos: int) -> None:
    pfx = prefix()
    sink = Collector()
    conn = MqttConnector(settings(pfx, MqttRoute(topic=f"{pfx}/{{twin}}/{{point}}", qos=qos)),
                         TABLE)
    await conn.start(sink)
    for k in range(200):
        pub.publish(f"{pfx}/r2/F", reading(float(k), k), qos=qos)
    await wait_until(lambda: sink.rows() >= 200)
    await asyncio.sleep(0.2)
    await conn.stop()
    assert sorted(sink.all().value.tolist()) == [float(k) for k in range(200)]


async def test_arrays_of_readings_arrive_as_batches(pub: Publisher) -> None:
    pfx = prefix()
    sink = Collector()
    conn = MqttConnector(settings(pfx, MqttRoute(topic=f"{pfx}/{{twin}}", format=PayloadFormat(
        readings="$.readings[*]", point="@.p", value="@.v", ts="$.ts"))), TABLE)
    await conn.start(sink)
    for k in range(50):
        doc = {"ts": TS + k, "readings": [{"p": p, "v": k * 10 + i}
                                          for i, p in enumerate(["T", "F", "L"] * 33)]}
        pub.publish(f"{pfx}/r1", json.dumps(doc).encode(), qos=1)
    await wait_until(lambda: sink.rows() >= 50 * 99)
    await conn.stop()
    b = sink.all()
    assert len(b) == 50 * 99 and not sink.dead
    assert set(b.point.tolist()) == {TABLE.index(f"r1.{p}") for p in "TFL"}
    assert sink.calls < 50  # several messages per batch
    assert max(len(x) for x in sink.batches) >= 99


async def test_shared_subscription_spreads_messages_over_workers(pub: Publisher) -> None:
    pfx = prefix()
    route = MqttRoute(topic=f"{pfx}/{{twin}}/{{point}}", qos=1)
    sinks = [Collector(), Collector()]
    conns = [MqttConnector(settings(pfx, route, shared_group=f"{pfx}-workers"), TABLE)
             for _ in sinks]
    for c, s in zip(conns, sinks, strict=True):
        await c.start(s)
    for k in range(400):
        pub.publish(f"{pfx}/r{k % 4}/T", reading(float(k), k), qos=1)
    await wait_until(lambda: sum(s.rows() for s in sinks) >= 400)
    await asyncio.sleep(0.2)
    for c in conns:
        await c.stop()
    values = [v for s in sinks for v in s.all().value.tolist()]
    assert sorted(values) == [float(k) for k in range(400)]  # each once, none lost
    assert all(s.rows() > 50 for s in sinks)  # both workers took a share


async def test_backpressure_stops_reading_and_loses_nothing(pub: Publisher) -> None:
    pfx = prefix()
    slow = Collector(delay_s=0.03)
    conn = MqttConnector(settings(pfx, MqttRoute(topic=f"{pfx}/{{twin}}/{{point}}", qos=1),
                                  max_queued=300, batch_rows=100), TABLE)
    await conn.start(slow)
    for k in range(4000):
        pub.client.publish(f"{pfx}/r0/F", reading(float(k), k), qos=1)
    await wait_until(lambda: slow.rows() >= 4000, timeout_s=30)
    await conn.stop()
    assert sorted(slow.all().value.tolist()) == [float(k) for k in range(4000)]
    assert conn.stats.pauses >= 1
    assert conn.stats.peak_queued <= 300 + 100  # bounded: max_queued + one open batch


async def test_writes_take_gate_released_commands_only(pub: Publisher) -> None:
    pfx = prefix()
    pub.watch(f"{pfx}/cmd/#")
    conn = MqttConnector(settings(pfx, MqttRoute(topic=f"{pfx}/{{twin}}/{{point}}"),
                                  commands=(MqttCommand(twin="r1", input="F_SP",
                                                        topic=f"{pfx}/cmd/r1/F_SP"),)), TABLE)
    await conn.start(Collector())
    write = released("r1", "F_SP", 42.0, current=40.0)
    await conn.write(write)
    with pytest.raises(PermissionError):
        await conn.write(("r1", "F_SP", 1.0))  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="no command topic"):
        await conn.write(released("r1", "T", 1.0, current=1.0))
    await wait_until(lambda: len(pub.messages("/cmd/")) == 1)
    await conn.stop()
    with pytest.raises(ConnectorError, match="not started"):
        await conn.write(write)
    msg = pub.messages("/cmd/")[0]
    doc = json.loads(msg.payload)
    assert msg.topic == f"{pfx}/cmd/r1/F_SP"
    assert doc["value"] == 42.0 and doc["verdict"] == write.verdict_id
    assert doc["twin"] == "r1" and doc["input"] == "F_SP"
    assert abs(doc["ts"] - time.time()) < 5


async def test_reconnects_with_backoff_and_marks_points_bad_while_down() -> None:
    broker = PrivateBroker().start()
    try:
        pfx = prefix()
        pub = Publisher(port=broker.port)
        sink = Collector()
        conn = MqttConnector(settings(
            pfx, MqttRoute(topic=f"{pfx}/{{twin}}/{{point}}"),
            broker=BrokerSettings(port=broker.port, reconnect_min_s=0.1, keepalive_s=5)),
            TABLE)
        await conn.start(sink)
        pub.publish(f"{pfx}/r0/T", reading(1.0))
        await wait_until(lambda: sink.rows() >= 1)
        pub.client.loop_stop()
        broker.stop()
        await wait_until(lambda: not conn.status.connected)
        await wait_until(lambda: any((b.quality == Quality.BAD).any() for b in sink.batches))
        bad = sink.all().take(sink.all().quality == Quality.BAD)
        assert bad.point.tolist() == [TABLE.index("r0.T")]
        assert int(bad.reason[0]) == Reason.COMM | Reason.STALE
        assert conn.status.last_error is not None
        broker.start()  # same port
        await wait_until(lambda: conn.status.connected, timeout_s=15)
        assert conn.status.reconnects == 1
        pub2 = Publisher(port=broker.port)
        pub2.publish(f"{pfx}/r0/T", reading(2.0, 1))
        await wait_until(lambda: 2.0 in sink.all().value.tolist())
        await conn.stop()
        pub2.close()
    finally:
        broker.stop()


async def test_tls_with_client_certificate_and_password() -> None:
    broker = PrivateBroker(tls=True, users={"twin": "s3cret"}).start()
    try:
        pfx = prefix()
        tls = TlsSettings(ca_file=broker.file("ca.crt"), cert_file=broker.file("client.crt"),
                          key_file=broker.file("client.key"))
        good = BrokerSettings(host="localhost", port=broker.port, tls=tls, username="twin",
                              password="s3cret")
        sink = Collector()
        conn = MqttConnector(settings(pfx, MqttRoute(topic=f"{pfx}/{{twin}}/{{point}}"),
                                      broker=good), TABLE)
        await conn.start(sink)
        # publish through the connector's own session (the broker wants TLS and a user)
        assert conn.session is not None
        await conn.session.publish(f"{pfx}/r2/L", reading(55.0), qos=1)
        await wait_until(lambda: sink.rows() >= 1)
        await conn.stop()
        assert sink.all().value.tolist() == [55.0]

        for broker_settings, why in [
            (BrokerSettings(host="localhost", port=broker.port, tls=tls, username="twin",
                            password="wrong", connect_timeout_s=2), "refused"),
            (BrokerSettings(host="localhost", port=broker.port, username="twin",
                            password="s3cret", connect_timeout_s=1), "cannot connect"),  # no TLS
            (BrokerSettings(host="localhost", port=broker.port, tls=TlsSettings(
                ca_file=broker.file("ca.crt")), username="twin", password="s3cret",
                            connect_timeout_s=2), "cannot connect"),  # no client certificate
            (BrokerSettings(host="localhost", port=broker.port, tls=TlsSettings(
                ca_file=broker.file("client.crt"), cert_file=broker.file("client.crt"),
                key_file=broker.file("client.key")), username="twin", password="s3cret",
                            connect_timeout_s=2), "cannot connect"),  # server not trusted
        ]:
            c = MqttConnector(settings(pfx, MqttRoute(topic=f"{pfx}/{{twin}}/{{point}}"),
                                       broker=broker_settings), TABLE)
            with pytest.raises(ConnectorError, match=why):
                await c.start(Collector())
            assert c.status.last_error
    finally:
        broker.stop()


async def test_unreachable_broker_is_a_connector_error() -> None:
    conn = MqttConnector(settings("x", MqttRoute(topic="x/{twin}/{point}"), broker=BrokerSettings(
        port=free_port(), connect_timeout_s=1)), TABLE)
    with pytest.raises(ConnectorError, match="cannot connect"):
        await conn.start(Collector())
    assert conn.status.connected is False and conn.status.last_error


async def test_points_created_later_are_picked_up(pub: Publisher) -> None:
    pfx = prefix()
    sink = Collector()
    conn = MqttConnector(settings(pfx, MqttRoute(topic=f"{pfx}/{{twin}}/{{point}}")),
                         PointTable([]))
    await conn.start(sink)
    pub.publish(f"{pfx}/r0/T", reading(1.0))
    await wait_until(lambda: len(sink.dead) == 1)
    conn.set_points(TABLE)  # e.g. the twin was created meanwhile
    pub.publish(f"{pfx}/r0/T", reading(2.0, 1))
    await wait_until(lambda: sink.rows() == 1)
    await conn.stop()
    assert sink.dead[0].reason == "unknown: no point 'r0.T'"
    assert sink.all().value.tolist() == [2.0]
