"""Replay into the real Mosquitto (JSON and Sparkplug B) and into the OPC UA server."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pytest
from asyncua import Client, ua

from processtwin.connectors.mqtt.settings import BrokerSettings
from processtwin.connectors.sparkplug.payload import decode_payload
from processtwin.replay import (
    MqttTarget,
    OpcUaServerTarget,
    SparkplugTarget,
    load_recording,
    replay,
)
from tests.connectors.test_mqtt_support import (
    Publisher,
    free_port,
    needs_broker,
    prefix,
    wait_until,
)

pytestmark = [pytest.mark.integration]

T0 = 1_714_557_600.0
N = 2000


def long_frame() -> pd.DataFrame:
    k = np.arange(N)
    return pd.DataFrame({"timestamp": T0 + k // 4 * 0.5, "tag": [f"u{i % 4}.x" for i in k],
                         "value": k * 1.5, "quality": k % 3})


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@needs_broker
async def test_file_to_mqtt_at_full_speed_arrives_complete_and_in_order(
        tmp_path: Path, fmt: str) -> None:
    df = long_frame()
    path = tmp_path / f"rec.{fmt}"
    if fmt == "csv":
        df.to_csv(path, index=False)
    else:
        df.to_parquet(path)
    rec = load_recording(path)
    topic = f"{prefix()}/replay"
    sub = Publisher()
    sub.watch(topic)
    seen: list[int] = []
    try:
        stats = await replay(rec, MqttTarget(BrokerSettings(), topic), speed=0,
                             progress=seen.append)

        def rows() -> list[tuple[str, float, float, int]]:
            return [(r["p"], r["t"], r["v"], r["q"]) for m in sub.messages(topic)
                    for r in orjson.loads(m.payload)]

        await wait_until(lambda: len(rows()) >= N)
    finally:
        sub.close()
    want = list(zip(df["tag"], df["timestamp"], df["value"], df["quality"], strict=True))
    assert rows() == want  # complete, in order, no duplicates, original timestamps
    assert stats.readings == N and seen[-1] == N
    assert stats.sends < N / 100  # speed 0 coalesces timestamps into large messages


@needs_broker
async def test_sparkplug_births_then_data_with_recorded_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "w.csv"
    path.write_text("timestamp,pump1.Flow,pump1.Speed,Level\n"
                    f"{T0},1.0,10,50\n{T0 + 1},2.0,,51\n{T0 + 2},3.0,12,\n")
    group = prefix()
    sub = Publisher()
    sub.watch(f"spBv1.0/{group}/#")
    try:
        await replay(load_recording(path), SparkplugTarget(
            host="127.0.0.1", port=1883, group=group, edge="rp"), speed=0)
        await wait_until(lambda: any("NDEATH" in m.topic for m in sub.messages()))
    finally:
        sub.close()
    msgs = [(m.topic.split("/")[2], m.topic.split("/")[-1], decode_payload(m.payload))
            for m in sub.messages()]
    kinds = [k for k, _, _ in msgs]
    assert kinds[0] == "NBIRTH"
    assert kinds.count("DBIRTH") == 2 and kinds[-1] == "NDEATH"
    assert max(i for i, k in enumerate(kinds) if k == "DBIRTH") < kinds.index("DDATA")
    births = {dev: {m.name: m.double_value for m in p.metrics}
              for k, dev, p in msgs if k == "DBIRTH"}
    assert births == {"pump1": {"Flow": 1.0, "Speed": 10.0}, "replay": {"Level": 50.0}}
    flows = [(m.timestamp, m.double_value) for k, dev, p in msgs if k == "DDATA" and
             dev == "pump1" for m in p.metrics if m.double_value in (1.0, 2.0, 3.0)]
    assert flows == [(int(T0 * 1000 + 1000 * i), float(i + 1)) for i in range(3)]


async def test_file_into_the_simulated_opcua_server_changes_its_nodes(tmp_path: Path) -> None:
    path = tmp_path / "sim.csv"
    path.write_text("timestamp,tag,value,quality\n"
                    f"{T0},CSTR.TT101,120.0,good\n{T0},FT101,18.0,good\n"
                    f"{T0 + 1},CSTR.TT101,121.5,good\n{T0 + 1},FT101,19.0,uncertain\n")
    rec = load_recording(path)
    target = OpcUaServerTarget(port=free_port(), keep_serving=True)
    try:
        await replay(rec, target, speed=0)
        async with Client(target.url, timeout=4) as client:
            tt = await client.get_node("ns=2;s=CSTR.TT101").read_data_value(
                raise_on_bad_status=False)
            ft = await client.get_node(target.node_id("FT101")).read_data_value(
                raise_on_bad_status=False)
    finally:
        await target.shutdown()
    assert target.node_id("FT101") == "ns=2;s=CSTR.FT101"  # the simulator's node ids
    assert tt.Value.Value == 121.5 and tt.StatusCode.is_good()
    assert tt.SourceTimestamp.timestamp() == pytest.approx(T0 + 1)
    assert ft.Value.Value == 19.0
    assert ft.StatusCode.value == ua.StatusCodes.Uncertain


async def test_paced_replay_follows_the_recorded_spacing(tmp_path: Path) -> None:
    """Paced, each timestamp goes out on its own; restamped, the spacing shrinks by N."""
    path = tmp_path / "p.csv"
    path.write_text("".join(["timestamp,tag,value\n"] +
                            [f"{T0 + k * 0.25},a,{k}\n" for k in range(5)]))
    sent: list[float] = []

    class Target:
        coalesce = True

        async def open(self, rec: object) -> None: ...

        async def send(self, rec: object, lo: int, hi: int, ts: np.ndarray) -> None:
            sent.extend(ts.tolist())

        async def close(self) -> None: ...

    stats = await replay(load_recording(path), Target(), speed=10, restamp=True)
    assert stats.sends == 5  # one per timestamp when paced, even if the target coalesces
    assert np.allclose(np.diff(sent), 0.025)  # restamped: spacing divided by the speed
