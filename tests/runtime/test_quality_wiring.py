"""The quality section, derived points and balances of twin.yaml, wired into a runtime:
derived values computed live, drift alarms raised as events, gross errors named by data
reconciliation, quality figures in the health and on /metrics."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import generate_latest

from processtwin.core.batch import Batch
from processtwin.errors import ConfigError, InvalidInputError
from processtwin.runtime.config import load_config, load_config_text
from processtwin.runtime.runtime import TwinRuntime
from processtwin.runtime.views import health

UNIT = {"@context": "dtmi:dtdl:context;3", "@id": "dtmi:test:Unit;1", "@type": "Interface",
        "contents": [{"@type": "Telemetry", "name": n, "schema": "double"}
                     for n in ("F1", "F2", "F3", "F4", "T", "T_B")]}

CONFIG = """
name: wiring
models: [unit.json]
twins: [{id: u1, model: "dtmi:test:Unit;1"}]
store: {kind: memory}
sources:
  - name: plant
    url: opc.tcp://127.0.0.1:1/never
    sampling_interval_ms: 1000
    bindings:
      - {node: "ns=2;s=F1", twin: u1, point: F1, unit: m3/h}
      - {node: "ns=2;s=F2", twin: u1, point: F2, unit: m3/h}
      - {node: "ns=2;s=F3", twin: u1, point: F3, unit: m3/h}
      - {node: "ns=2;s=F4", twin: u1, point: F4, unit: m3/h}
      - {node: "ns=2;s=T", twin: u1, point: T, unit: degC}
      - {node: "ns=2;s=TB", twin: u1, point: T_B, unit: degC}
quality:
  points: {u1.F1: {outlier: false}, u1.F2: {outlier: false}}
  drift:
    - {sensor: u1.T_B, reference: u1.T, sigma: 0.1, block_s: 1, warmup: 10}
derived:
  - {twin: u1, name: F_out, unit: m3/h, expr: "F3 + F4", inputs: {F3: u1.F3, F4: u1.F4}}
balances:
  - name: train
    measured: {F1: u1.F1, F2: u1.F2, F3: u1.F3, F4: u1.F4}
    sigma: {F1: 0.2, F2: 0.2, F3: 0.2, F4: 0.2}
    constraints: [{F1: 1, F2: -1}, {F2: 1, F3: -1, F4: -1}]
"""


@pytest.fixture
def runtime(tmp_path: Path) -> TwinRuntime:
    (tmp_path / "unit.json").write_text(json.dumps(UNIT))
    (tmp_path / "twin.yaml").write_text(CONFIG)
    return TwinRuntime(load_config(tmp_path / "twin.yaml"), data_dir=tmp_path)


def _feed(rt: TwinRuntime, values: dict[str, list[float]], t0: float, dt: float) -> Batch:
    pts, ts, vals = [], [], []
    for key, series in values.items():
        i = rt.table.index(key)
        for k, v in enumerate(series):
            pts.append(i)
            ts.append(t0 + k * dt)
            vals.append(v)
    return Batch.of(np.array(pts, dtype=np.int32), np.array(ts), np.array(vals))


async def test_derived_points_are_computed_live(runtime: TwinRuntime) -> None:
    await runtime.ingest(_feed(runtime, {"u1.F3": [4.0, 4.5], "u1.F4": [6.0, 6.5]},
                               1.7e9, 1.0), [])
    assert runtime.live_value("u1", "F_out") == pytest.approx(11.0)
    assert runtime.query("SELECT T.$dtId AS id FROM DIGITALTWINS T WHERE T.F_out > 10"
                         )["rows"] == [{"id": "u1"}]


async def test_reconciliation_names_the_biased_flowmeter(runtime: TwinRuntime) -> None:
    # true flows: F1 = F2 = 10, F3 = 4, F4 = 6; F1 reads 2 m3/h high (10 sigma)
    await runtime.ingest(_feed(runtime, {"u1.F1": [12.0], "u1.F2": [10.05], "u1.F3": [3.98],
                                         "u1.F4": [6.02]}, 1.7e9, 1.0), [])
    out = runtime.reconcile(runtime.cfg.balances[0])
    assert out is not None and out["gross_error"] is True
    assert [e["sensor"] for e in out["gross_errors"]] == ["u1.F1"]
    assert out["gross_errors"][0]["bias"] == pytest.approx(2.0, abs=0.1)
    rec = out["reconciled"]
    assert rec["F2"] == pytest.approx(rec["F3"] + rec["F4"], abs=1e-9)
    text = generate_latest(runtime.metrics.registry).decode()
    assert 'ptwin_gross_errors{balance="train",sensor="u1.F1"} 1.0' in text


async def test_drift_of_a_redundant_sensor_raises_an_event(runtime: TwinRuntime) -> None:
    rng = np.random.default_rng(3)
    n = 400
    t = rng.normal(80.0, 0.07, n)
    bias = np.where(np.arange(n) < 100, 0.0, 0.5)  # T_B reads 0.5 K high after 100 s
    tb = t + bias + rng.normal(0, 0.07, n)
    t0 = time.time() - n
    for k in range(0, n, 50):  # in batches, as a connector delivers them
        await runtime.ingest(_feed(runtime, {"u1.T": t[k:k + 50].tolist(),
                                             "u1.T_B": tb[k:k + 50].tolist()},
                                   t0 + k, 1.0), [])
    drift = [e for e in runtime.events if e["type"] == "drift"]
    assert drift and drift[0]["sensor"] == "u1.T_B"
    assert drift[0]["ts"] > t0 + 100  # not before the bias began
    status = runtime.pipeline.drift.status()  # type: ignore[union-attr]
    assert status[0].active and status[0].bias == pytest.approx(0.5, abs=0.15)
    h = health(runtime, "u1")
    assert h["quality"]["drifting"] == ["u1.T_B"]
    report = {p["key"]: p for p in runtime.quality_report("u1")}
    assert report["u1.T"]["good"] == pytest.approx(1.0) and report["u1.T"]["gaps"] == 0
    assert report["u1.T_B"]["drift"] is True
    assert report["u1.T_B"]["uncertain"] > 0  # values after the alarm carry the drift flag


def test_quality_config_problems_have_their_place(tmp_path: Path) -> None:
    (tmp_path / "unit.json").write_text(json.dumps(UNIT))
    text = CONFIG.replace("inputs: {F3: u1.F3, F4: u1.F4}", "inputs: {F3: u1.F3, F4: u1.F9}")
    text = text.replace("u1.F2: {outlier: false}", "u1.nope: {outlier: false}")
    with pytest.raises(ConfigError) as info:
        load_config_text(text, file="twin.yaml", base_dir=str(tmp_path))
    by_path = {p.path: p for p in info.value.problems}
    assert "quality.points.u1.nope" in by_path and "derived.0.inputs" in by_path
    assert all(p.line is not None for p in info.value.problems)


async def test_derived_points_are_recomputed_over_stored_history(runtime: TwinRuntime) -> None:
    f3 = [4.0, 4.5, 5.0, 5.5]
    f4 = [6.0, 6.5, 7.0, 7.5]
    await runtime.ingest(_feed(runtime, {"u1.F3": f3, "u1.F4": f4}, 1.7e9, 1.0), [])
    await runtime.flush()
    s = runtime.recompute_derived("u1.F_out", None, None, None)
    assert s.value.tolist() == pytest.approx([a + b for a, b in zip(f3, f4, strict=True)])
    grid = runtime.recompute_derived("u1.F_out", 1.7e9, 1.7e9 + 4, 2.0)
    assert grid.ts.tolist() == [1.7e9, 1.7e9 + 2]
    assert grid.value.tolist() == pytest.approx([10.0, 12.0])
    with pytest.raises(InvalidInputError):
        runtime.recompute_derived("u1.F3", None, None, None)
