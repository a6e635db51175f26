"""The paho session driver's receive shortcuts against the real Mosquitto.

``_BufferedClient`` overrides two private paho-mqtt 2.2.0 methods (buffered reads, a direct
PUBLISH decoder); these tests pin what must still hold: every message arrives intact, in
order, whichever path decodes it.
"""

from __future__ import annotations

import asyncio
import os

import paho.mqtt.client as paho
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from processtwin.connectors.base import ConnectorStatus
from processtwin.connectors.mqtt import BrokerSettings, MqttSession
from tests.connectors.test_mqtt_support import Publisher, needs_broker, prefix, wait_until

pytestmark = [pytest.mark.integration, needs_broker]


class Got:
    def __init__(self) -> None:
        self.items: list[tuple[bytes, bytes, int, int]] = []

    def __call__(self, topic: bytes, payload: bytes, qos: int, mid: int) -> None:
        self.items.append((topic, payload, qos, mid))


async def session(got: Got, topic: str, qos: int, **broker: object) -> MqttSession:
    s = MqttSession(BrokerSettings(**broker), name="s", status=ConnectorStatus(),  # type: ignore[arg-type]
                    on_message=got, manual_ack=False)
    await s.start([(topic, qos)])
    return s


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
@pytest.mark.parametrize("qos", [0, 1, 2])
async def test_every_message_arrives_intact_and_in_order(protocol: str, qos: int) -> None:
    pfx = prefix()
    got = Got()
    s = await session(got, f"{pfx}/#", qos, protocol=protocol)
    pub = Publisher()
    sizes = [0, 1, 127, 128, 16_383, 16_384, 300_000, 2_100_000, 5]  # length-byte edges
    payloads = [os.urandom(n) for n in sizes] + [b"%d" % i for i in range(500)]
    for i, p in enumerate(payloads):
        pub.client.publish(f"{pfx}/t{i % 3}", p, qos)
    await wait_until(lambda: len(got.items) >= len(payloads), timeout_s=20)
    await s.stop()
    pub.close()
    assert [p for _, p, _, _ in got.items] == payloads
    assert [t for t, _, _, _ in got.items] == [f"{pfx}/t{i % 3}".encode()
                                               for i in range(len(payloads))]
    assert {q for _, _, q, _ in got.items} == {qos}


async def test_messages_with_properties_take_paho_path_unchanged() -> None:
    pfx = prefix()
    got = Got()
    s = await session(got, f"{pfx}/#", 1)
    pub = Publisher()
    for i in range(50):
        props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        props.UserProperty = ("k", str(i))
        props.ContentType = "application/json"
        pub.client.publish(f"{pfx}/p", b"%d" % i, 1, properties=props if i % 2 else None)
    await wait_until(lambda: len(got.items) >= 50)
    await s.stop()
    pub.close()
    assert [p for _, p, _, _ in got.items] == [b"%d" % i for i in range(50)]


async def test_retained_message_arrives_on_subscribe_and_pause_resume_keeps_order() -> None:
    pfx = prefix()
    pub = Publisher()
    pub.publish(f"{pfx}/state", b"retained", qos=1, retain=True)
    got = Got()
    s = await session(got, f"{pfx}/#", 1)
    await wait_until(lambda: len(got.items) >= 1)
    s.pause_reading("test")
    for i in range(300):
        pub.client.publish(f"{pfx}/x", b"%d" % i, 1)
    await asyncio.sleep(0.3)
    n_paused = len(got.items)
    s.resume_reading("test")
    await wait_until(lambda: len(got.items) >= 301)
    await s.stop()
    pub.publish(f"{pfx}/state", b"", qos=1, retain=True)  # clear the retained message
    pub.close()
    assert got.items[0][1] == b"retained"
    assert n_paused <= 2  # at most what was already in the buffer
    assert [p for _, p, _, _ in got.items[1:]] == [b"%d" % i for i in range(300)]


async def test_publish_waits_for_the_broker_and_fails_when_not_connected() -> None:
    pfx = prefix()
    got = Got()
    s = await session(got, f"{pfx}/#", 1)
    await s.publish(f"{pfx}/echo", b"hi", qos=1)
    await s.publish(f"{pfx}/echo", b"hi2", qos=2)
    await wait_until(lambda: len(got.items) >= 2)
    await s.stop()
    from processtwin.errors import ConnectorError

    with pytest.raises(ConnectorError, match="not connected"):
        await s.publish(f"{pfx}/echo", b"late", qos=1)
    assert paho.MQTT_ERR_SUCCESS == 0
