"""The REST API and the WebSocket stream over real HTTP (uvicorn on loopback)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import websockets

from processtwin.control import Mode
from processtwin.runtime.config import load_config
from processtwin.runtime.runtime import TwinRuntime
from processtwin.runtime.service import demo_config, http_service

pytestmark = pytest.mark.integration


@pytest.fixture
async def service(example_path: Path, tmp_path: Path) -> AsyncIterator[tuple[str, TwinRuntime]]:
    cfg = demo_config(load_config(example_path), data_dir=str(tmp_path), time_scale=30)
    cfg = cfg.model_copy(update={"gate": cfg.gate.model_copy(update={"mode": Mode.APPROVE}),
                                 "optimizer": cfg.optimizer.model_copy(update={"period_s": 1.0})
                                 if cfg.optimizer else None})
    rt = TwinRuntime(cfg)
    await rt.start()
    try:
        async with http_service(rt) as addr:
            yield addr, rt
    finally:
        await rt.stop()


async def wait_for(pred: object, limit_s: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + limit_s
    while loop.time() < end:
        if pred():  # type: ignore[operator]
            return
        await asyncio.sleep(0.1)
    raise AssertionError("condition not met in time")


async def test_rest_endpoints(service: tuple[str, TwinRuntime]) -> None:
    addr, rt = service
    async with httpx.AsyncClient(base_url=f"http://{addr}", timeout=10) as c:
        assert (await c.get("/healthz")).json()["status"] == "ok"
        twins = (await c.get("/api/v1/twins")).json()["twins"]
        assert {t["id"] for t in twins} >= {"reactor1", "jacket1", "pump1"}
        await wait_for(lambda: rt.estimator is not None and rt.estimator.steps > 3)
        r1 = (await c.get("/api/v1/twins/reactor1")).json()
        assert r1["fidelity"]["level"] == "L3"
        assert set(r1["telemetry"]["T_R"]) >= {"value", "ts", "quality"}
        assert r1["estimates"]["C_b"]["std"] > 0
        assert {"sync_latency_s", "staleness_s", "sensor_coverage", "model"} <= set(r1["health"])
        assert r1["health"]["quality"]["good"] > 0.5
        q = (await c.get("/api/v1/quality", params={"twin": "reactor1"})).json()
        tr = next(p for p in q["points"] if p["key"] == "reactor1.T_R")
        assert tr["rows"] > 0 and tr["good"] > 0.5
        assert (await c.get("/api/v1/quality", params={"twin": "nope"})).status_code == 404
        dt = r1["derived"]["dT_jacket"]
        assert dt["unit"] == "K" and 0 < dt["value"] < 30  # derived live from T_R and T_K
        metrics_text = (await c.get("/metrics")).text
        assert 'ptwin_point_quality_share{category="good",point="reactor1.T_R"}' in metrics_text
        await asyncio.sleep(1.5)
        h = (await c.get("/api/v1/twins/reactor1/history/T_R")).json()["points"]
        assert len(h) > 5 and h[0][0].endswith("+00:00") and h[-1][2] == "good"
        down = (await c.get("/api/v1/twins/reactor1/history/T_R",
                            params={"every": "1s", "start": h[0][0]})).json()
        assert down["every"] == 1.0 and 1 <= len(down["points"]) < len(h)
        # bad calls: clear problem+json, never a crash
        r = await c.get("/api/v1/twins/nope")
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
        assert (await c.get("/api/v1/twins/reactor1/history/nope")).status_code == 404
        assert (await c.get("/api/v1/twins/reactor1/history/T_R",
                            params={"every": "soon"})).status_code == 400
        assert (await c.get("/api/v1/twins/reactor1/history/T_R",
                            params={"start": "yesterday"})).status_code == 400
        assert (await c.post("/api/v1/twins/reactor1/commands/F", json={"value": "x"})
                ).status_code == 422
        # a command the twin does not have: 404 before the gate, no verdict in the audit
        n_audit = len(rt.audit.recent(1000))
        r = await c.post("/api/v1/twins/jacket1/commands/F", json={"value": 20})
        assert r.status_code == 404 and "has no command" in r.json()["detail"]
        assert len(rt.audit.recent(1000)) == n_audit
        # a refused command: 409 with every reason, and nothing written
        r = await c.post("/api/v1/twins/reactor1/commands/F", json={"value": 1000},
                         headers={"X-User": "alice"})
        assert r.status_code == 409 and r.json()["verdict"]["outcome"] == "refused"
        assert rt.plant_server is not None and rt.plant_server.stats.setpoint_writes == 0
        # approve a pending proposal over HTTP
        await wait_for(lambda: any(p.status == "pending" for p in rt.proposals.values()))
        props = (await c.get("/api/v1/proposals", params={"status": "pending"})).json()
        pid = props["proposals"][0]["id"]
        r = await c.post(f"/api/v1/proposals/{pid}/approve", headers={"X-User": "bob"})
        assert r.status_code == 200 and r.json()["status"] == "applied"
        again = await c.post(f"/api/v1/proposals/{pid}/approve")
        assert again.status_code == 400
        audit = (await c.get("/api/v1/audit")).json()["entries"]
        assert any(e["kind"] == "applied" for e in audit)
        m = (await c.get("/metrics")).text
        assert "ptwin_readings_ingested_total" in m and 'outcome="refused"' in m
        assert (await c.put("/api/v1/gate", json={"mode": "closed"})).json()["mode"] == "closed"
        assert (await c.put("/api/v1/gate", json={"mode": "yolo"})).status_code == 422
        page = await c.get("/")
        assert page.status_code == 200 and "plotly.min.js" in page.text
        js = await c.get("/static/plotly.min.js")
        assert js.status_code == 200 and len(js.content) > 1_000_000
        assert (await c.get("/static/..%2F..%2Fapi%2Fapp.py")).status_code == 404


async def test_websocket_streams_live_updates(service: tuple[str, TwinRuntime]) -> None:
    addr, _ = service
    async with websockets.connect(f"ws://{addr}/api/v1/stream") as ws:
        first = json.loads(await ws.recv())
        assert first["type"] == "snapshot"
        kinds: dict[str, int] = {}
        loop = asyncio.get_running_loop()
        end = loop.time() + 4
        while loop.time() < end:
            msg = json.loads(await asyncio.wait_for(ws.recv(), 2))
            kinds[msg["type"]] = kinds.get(msg["type"], 0) + 1
        assert kinds.get("telemetry", 0) >= 8  # several updates a second
        assert kinds.get("estimates", 0) >= 3
        assert kinds.get("health", 0) >= 2
