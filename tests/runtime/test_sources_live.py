"""MQTT and Sparkplug B sources in a running twin, against the real Mosquitto."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from processtwin.api.app import create_app
from processtwin.connectors.sparkplug import DataType, EdgeNodeSimulator, SimMetric
from processtwin.core import Quality, Reason
from processtwin.runtime.births import GENERIC_MODEL
from processtwin.runtime.config import load_config
from processtwin.runtime.runtime import TwinRuntime
from tests.connectors.test_mqtt_support import Publisher, needs_broker, prefix, wait_until

pytestmark = [pytest.mark.integration, needs_broker]

PUMP = "dtmi:test:sources:Pump;1"
REACTOR = "dtmi:test:sources:Reactor;1"


def _models(tmp_path: Path) -> None:
    (tmp_path / "models.json").write_text(json.dumps([
        {"@context": "dtmi:dtdl:context;3", "@id": REACTOR, "@type": "Interface",
         "contents": [{"@type": "Telemetry", "name": n, "schema": "double"}
                      for n in ("T", "C")]},
        {"@context": "dtmi:dtdl:context;3", "@id": PUMP, "@type": "Interface",
         "contents": [{"@type": "Telemetry", "name": n, "schema": "double"}
                      for n in ("Flow", "Speed")]}]))


async def _runtime(tmp_path: Path, sources: str, twins: str = "") -> TwinRuntime:
    _models(tmp_path)
    (tmp_path / "twin.yaml").write_text(
        f"name: sources-test\nmodels: [models.json]\ntwins: [{twins}]\n"
        f"store: {{kind: memory, flush_interval_s: 0.05}}\nsources:\n{sources}")
    rt = TwinRuntime(load_config(tmp_path / "twin.yaml"), data_dir=tmp_path / "data")
    await rt.start()
    return rt


@pytest.fixture
def pub() -> Iterator[Publisher]:
    p = Publisher()
    yield p
    p.close()


def _mqtt_source(pfx: str) -> str:
    return f"""\
  - name: json
    kind: mqtt
    broker: {{host: 127.0.0.1, port: 1883, session_expiry_s: 0}}
    routes:
      - {{topic: "{pfx}/{{twin}}/{{point}}", qos: 1,
         payload: {{value: "$.v", ts: "$.ts", ts_unit: ms, quality: "$.q"}}}}
      - {{topic: "{pfx}/batch/{{twin}}/all",
         payload: {{readings: "$.r[*]", point: "@.p", value: "@.v", ts: "$.ts"}}}}
    points:
      - {{twin: r1, point: T, unit: degC, lo: 0, hi: 200}}
      - {{twin: r1, point: C, unit: mol/l}}
"""


async def test_mqtt_json_readings_reach_live_state_and_store(
        tmp_path: Path, pub: Publisher) -> None:
    pfx = prefix()
    rt = await _runtime(tmp_path, _mqtt_source(pfx), f"{{id: r1, model: '{REACTOR}'}}")
    try:
        t0 = round(time.time() - 60, 3)
        for k in range(10):
            pub.publish(f"{pfx}/r1/T", json.dumps(
                {"v": 100.0 + k, "ts": int((t0 + k) * 1000)}).encode())
        pub.publish(f"{pfx}/batch/r1/all", json.dumps(
            {"ts": t0 + 20, "r": [{"p": "C", "v": 0.5}, {"p": "T", "v": 150.0}]}).encode())
        pub.publish(f"{pfx}/r1/C", json.dumps(
            {"v": 0.7, "ts": int((t0 + 30) * 1000), "q": "uncertain"}).encode())
        await wait_until(lambda: rt.counts["ingested"] >= 13, 15)
        iT, iC = rt.table.index("r1.T"), rt.table.index("r1.C")
        assert rt.state.value[iT] == 150.0 and rt.state.ts[iT] == pytest.approx(t0 + 20)
        assert rt.state.value[iC] == 0.7 and rt.state.quality[iC] == Quality.UNCERTAIN
        await rt.flush()
        hist = rt.store.query("r1.T", max_quality=Quality.BAD)
        np.testing.assert_allclose(hist.value, [*(100.0 + k for k in range(10)), 150.0])
        np.testing.assert_allclose(hist.ts, [*(t0 + k for k in range(10)), t0 + 20])
        assert rt.store.query("r1.C", max_quality=Quality.BAD).value.tolist() == [0.5, 0.7]
    finally:
        await rt.stop()


async def test_bad_mqtt_input_is_dead_lettered_and_every_valid_reading_arrives(
        tmp_path: Path, pub: Publisher) -> None:
    pfx = prefix()
    rt = await _runtime(tmp_path, _mqtt_source(pfx), f"{{id: r1, model: '{REACTOR}'}}")
    try:
        t0 = time.time() - 60
        bad = [(f"{pfx}/r1/T", b"{not json"),  # malformed JSON
               (f"{pfx}/r1/T", b'{"v": "hot", "ts": 1}'),  # not a number
               (f"{pfx}/r1/T", b'{"ts": 1}'),  # no value
               (f"{pfx}/r1/nope", b'{"v": 1.0}'),  # a point no twin has
               (f"{pfx}/r9/T", b'{"v": 1.0}'),  # a twin that does not exist
               (f"{pfx}/r1/T", b'{"v": 900.0}'),  # out of range: bad value, dead letter
               (f"{pfx}/batch/r1/all", b'{"r": [{"p": "C", "v": 1}, {"p": "X", "v": 2}]}')]
        sent = []
        for k, (topic, payload) in enumerate(bad):
            v = 50.0 + k
            pub.publish(f"{pfx}/r1/T", json.dumps({"v": v, "ts": int((t0 + k) * 1000)}).encode())
            sent.append(v)
            pub.publish(topic, payload)
        await wait_until(lambda: rt.counts["rejected"] >= 7, 15)
        await wait_until(lambda: rt.counts["ingested"] >= len(sent) + 2, 15)
        await rt.flush()
        dead = rt.store.dead_letters(50)
        reasons = " | ".join(f"{d.key}: {d.reason}" for d in dead)
        cats = sorted(d.category for d in dead)
        assert cats.count("unknown") == 3, reasons  # r1.nope, r9.T, r1.X
        assert "range" in cats and "invalid" in cats, reasons
        assert len(dead) == 7, reasons
        assert all(d.reason for d in dead)
        assert any("not JSON" in d.reason for d in dead), reasons
        hist = rt.store.query("r1.T", max_quality=Quality.BAD)
        good = hist.value[hist.quality == Quality.GOOD]
        np.testing.assert_allclose(sorted(good), sent)  # every valid reading arrived
        assert hist.value[hist.quality == Quality.BAD].tolist() == [900.0]  # kept, as bad
        assert rt.store.query("r1.C").value.tolist() == [1.0]
    finally:
        await rt.stop()


async def test_sparkplug_births_create_twins_data_lands_death_marks_stale(
        tmp_path: Path) -> None:
    group = f"g{uuid.uuid4().hex[:8]}"
    rt = await _runtime(tmp_path, f"""\
  - name: spb
    kind: sparkplug
    broker: {{host: 127.0.0.1, port: 1883}}
    host_id: host-{group}
    groups: [{group}]
    device_twin: "{{edge}}-{{device}}"
    device_model: "{PUMP}"
    max_age_s: 60
""")
    sim = EdgeNodeSimulator(group=group, edge="edge1", devices={
        "pump1": [SimMetric("Flow", unit="m3/h", initial=10.0),
                  SimMetric("Speed", DataType.Int32, unit="rpm", initial=1500),
                  SimMetric("Mode", DataType.String)]},
        node_metrics=[SimMetric("Uptime", DataType.Int64, initial=7)])
    transport = httpx.ASGITransport(app=create_app(rt))
    try:
        assert "edge1-pump1.Flow" not in rt.table
        sim.connect()
        sim.birth()
        await wait_until(lambda: rt.graph.twin("edge1-pump1") is not None
                         and rt.graph.twin(f"{group}-edge1") is not None, 15)
        async with httpx.AsyncClient(transport=transport, base_url="http://twin") as c:
            twins = {t["id"]: t["model"] for t in (await c.get("/api/v1/twins")).json()["twins"]}
            assert twins == {"edge1-pump1": PUMP, f"{group}-edge1": GENERIC_MODEL}
            await wait_until(lambda: rt.live_value("edge1-pump1", "Flow") == 10.0, 10)
            detail = (await c.get("/api/v1/twins/edge1-pump1")).json()
        assert detail["telemetry"]["Flow"]["value"] == 10.0  # the birth's value
        assert detail["telemetry"]["Flow"]["unit"] == "m3/h"
        assert detail["telemetry"]["Speed"]["value"] == 1500
        assert "Mode" not in detail["telemetry"]  # a string metric is no point
        assert rt.live_value(f"{group}-edge1", "Uptime") == 7
        flow = rt.table.index("edge1-pump1.Flow")
        assert rt.table.spec(flow).max_age_s == 60
        assert len(rt.state.value) == len(rt.table) == 3
        t0 = int(time.time() * 1000)
        for k in range(5):  # distinct timestamps: the store keeps one row per (point, ts)
            sim.publish_data("pump1", {"Flow": 11.0 + k, "Speed": 1600 + k}, ts_ms=t0 + k)
        await wait_until(lambda: rt.live_value("edge1-pump1", "Flow") == 15.0, 10)
        assert rt.live_value("edge1-pump1", "Speed") == 1604
        await rt.flush()
        assert rt.store.query("edge1-pump1.Flow").value.tolist() == [
            10.0, 11.0, 12.0, 13.0, 14.0, 15.0]
        assert any(e["type"] == "birth" and e["twin"] == "edge1-pump1" for e in rt.events)
        sim.birth()  # a rebirth: same points, nothing new
        sim.publish_data("pump1", {"Flow": 20.0})  # newer than the rebirth values
        await wait_until(lambda: rt.live_value("edge1-pump1", "Flow") == 20.0, 10)
        assert len(rt.table) == 3
        sim.die()  # the broker publishes the NDEATH will
        pts = [rt.table.index(k) for k in ("edge1-pump1.Flow", "edge1-pump1.Speed",
                                           f"{group}-edge1.Uptime")]
        await wait_until(lambda: all(rt.state.quality[i] == Quality.BAD for i in pts), 15)
        for i in pts:
            assert rt.state.reason[i] & Reason.STALE and rt.state.reason[i] & Reason.COMM
        assert rt.live_value("edge1-pump1", "Flow") is None
    finally:
        sim.close()
        await rt.stop()
