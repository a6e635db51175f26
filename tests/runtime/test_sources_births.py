"""Sparkplug births in the runtime without a broker: append-only points, twins, ingest."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from processtwin.connectors.sparkplug.registry import BirthMetric
from processtwin.core import Batch, PointSpec, PointTable, Quality
from processtwin.errors import InvalidInputError
from processtwin.runtime.births import GENERIC_MODEL, BirthTwins
from processtwin.runtime.config import SparkplugSourceConfig, load_config
from processtwin.runtime.runtime import TwinRuntime

PUMP = "dtmi:test:births:Pump;1"


def metric(twin: str, name: str, *, numeric: bool = True, unit: str = "",
           lo: float | None = None, hi: float | None = None) -> BirthMetric:
    return BirthMetric(name=name, alias=None, datatype="Double" if numeric else "String",
                       unit=unit, twin=twin, point=name.replace(".", "_"), numeric=numeric,
                       lo=lo, hi=hi, value=1.0 if numeric else None)


@pytest.fixture
def rt(tmp_path: Path) -> TwinRuntime:
    (tmp_path / "m.json").write_text(json.dumps({
        "@context": "dtmi:dtdl:context;3", "@id": PUMP, "@type": "Interface",
        "contents": [{"@type": "Telemetry", "name": "Flow", "schema": "double"}]}))
    (tmp_path / "twin.yaml").write_text(f"""\
name: births
models: [m.json]
twins: [{{id: r1, model: '{PUMP}'}}, {{id: e1-p1, model: '{PUMP}'}}]
store: {{kind: memory}}
quality: {{enabled: true}}
sources:
  - name: m
    kind: mqtt
    routes: [{{topic: "x/{{twin}}/{{point}}"}}]
    points: [{{twin: r1, point: Flow, unit: m3/h, lo: 0, hi: 50}}]
  - name: spb
    kind: sparkplug
    host_id: h
    device_twin: "{{edge}}-{{device}}"
    device_model: '{PUMP}'
""")
    return TwinRuntime(load_config(tmp_path / "twin.yaml"), data_dir=tmp_path / "d")


def source(rt: TwinRuntime) -> SparkplugSourceConfig:
    s = rt.cfg.sources[1]
    assert isinstance(s, SparkplugSourceConfig)
    return s


async def test_a_birth_appends_points_and_the_data_path_takes_them(rt: TwinRuntime) -> None:
    births = BirthTwins(rt)
    before = rt.table.index("r1.Flow")
    await births("g/e1/p2", (metric("e1-p2", "Flow", unit="m3/h", lo=0, hi=10),
                             metric("e1-p2", "Mode", numeric=False),
                             metric("e1-p2", "Temp.In", unit="degC")), source=source(rt))
    assert rt.table.index("r1.Flow") == before  # old indices never move
    flow, temp = rt.table.index("e1-p2.Flow"), rt.table.index("e1-p2.Temp_In")
    assert (flow, temp) == (1, 2) and "e1-p2.Mode" not in rt.table
    assert (rt.table.spec(flow).unit, rt.table.lo[flow], rt.table.hi[flow]) == ("m3/h", 0, 10)
    assert len(rt.state.value) == len(rt.pipeline.table) == 3
    doc = rt.graph.twin("e1-p2")
    assert doc is not None and doc["$metadata"]["$model"] == PUMP
    now = time.time()
    await rt.ingest(Batch.of([before, flow, flow, temp], [now - 2, now - 1, now, now],
                             [3.0, 4.0, 99.0, 21.5]), [])
    assert rt.live_value("e1-p2", "Temp_In") == 21.5
    assert rt.state.quality[flow] == Quality.BAD  # 99 is outside the birth's engHigh
    dead = rt.store.dead_letters(10)
    assert [(d.key, d.category) for d in dead] == [("e1-p2.Flow", "range")]
    await rt.flush()
    assert rt.store.query("e1-p2.Flow").value.tolist() == [4.0, 99.0]
    report = {q["key"]: q for q in rt.quality_report("e1-p2")}  # figures cover new points
    assert report["e1-p2.Flow"]["rows"] == 2 and report["e1-p2.Flow"]["bad"] == 0.5
    rt.graph.close()
    rt.store.close()


async def test_a_rebirth_adds_only_what_is_new_and_known_twins_keep_their_model(
        rt: TwinRuntime) -> None:
    births = BirthTwins(rt)
    await births("g/e1/p1", (metric("e1-p1", "Flow"),), source=source(rt))
    n = len(rt.table)
    await births("g/e1/p1", (metric("e1-p1", "Flow", unit="l/s"),
                             metric("e1-p1", "Speed")), source=source(rt))
    assert len(rt.table) == n + 1 and rt.table.spec(rt.table.index("e1-p1.Flow")).unit == ""
    assert rt.graph.get_twin("e1-p1")["$metadata"]["$model"] == PUMP  # declared in twin.yaml
    await births("g/e2", (metric("g-e2", "Uptime"),), source=source(rt))
    assert rt.graph.get_twin("g-e2")["$metadata"]["$model"] == GENERIC_MODEL  # no node_model
    assert [e["new_points"] for e in rt.events if e["type"] == "birth"] == [
        ["Flow"], ["Speed"], ["Uptime"]]
    rt.graph.close()
    rt.store.close()


async def test_a_model_the_graph_lost_falls_back_to_the_generic_one(rt: TwinRuntime) -> None:
    s = source(rt).model_copy(update={"device_model": "dtmi:test:births:Gone;1"})
    await BirthTwins(rt)("g/e9/d", (metric("e9-d", "x"),), source=s)
    assert rt.graph.get_twin("e9-d")["$metadata"]["$model"] == GENERIC_MODEL
    rt.graph.close()
    rt.store.close()


def test_point_table_extend_is_all_or_nothing() -> None:
    t = PointTable([PointSpec(twin="a", name="x")])
    with pytest.raises(InvalidInputError, match=r"duplicate point 'b\.y'"):
        t.extend([PointSpec(twin="b", name="y"), PointSpec(twin="b", name="y")])
    with pytest.raises(InvalidInputError, match=r"lo 2\.0 > hi 1\.0"):
        t.extend([PointSpec(twin="b", name="z", lo=2.0, hi=1.0)])
    assert t.keys() == ["a.x"] and len(t.lo) == 1
    assert t.extend([PointSpec(twin="b", name="y", lo=-1.0)]) == [1]
    assert t.get("b.y") == 1 and np.array_equal(t.lo, [-np.inf, -1.0])
    assert not t.lo.flags.writeable
