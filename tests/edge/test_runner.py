"""ptwin edge end to end: OPC UA source (a replay server) → edge → Mosquitto → subscriber."""

from __future__ import annotations

import asyncio
import contextlib
import json
import urllib.request
from pathlib import Path

import orjson
import pytest

from processtwin.edge import EdgeForwarder, load_edge_config
from processtwin.edge.runner import run_edge
from processtwin.replay import OpcUaServerTarget, load_recording, replay
from tests.connectors.test_mqtt_support import (
    Publisher,
    free_port,
    needs_broker,
    prefix,
    wait_until,
)

T0 = 1_714_557_600.0


@pytest.mark.integration
@needs_broker
async def test_edge_runs_the_twin_sources_and_forwards_them(tmp_path: Path) -> None:
    rec_path = tmp_path / "rec.csv"
    rec_path.write_text("timestamp,CSTR.TT101,CSTR.FT101\n" + "".join(
        f"{T0 + k},{100 + k},{20 + k}\n" for k in range(10)))
    rec = load_recording(rec_path)
    server = OpcUaServerTarget(port=free_port(), keep_serving=True)
    await server.open(rec)
    pfx = prefix()
    (tmp_path / "twin.yaml").write_text(
        "name: edge-test\ntwins: [{id: r1, model: 'dtmi:a:b;1'}]\nsources:\n"
        f"  - {{name: plant, url: '{server.url}', sampling_interval_ms: 20, "
        "publishing_interval_ms: 20, queue_size: 50, bindings: [\n"
        "      {node: 'ns=2;s=CSTR.TT101', twin: r1, point: T},\n"
        "      {node: 'ns=2;s=CSTR.FT101', twin: r1, point: F}]}\n")
    mport = free_port()
    (tmp_path / "edge.yaml").write_text(
        f"twin: twin.yaml\nedge:\n  name: e1\n  link: {{topic_prefix: {pfx}}}\n"
        f"  buffer: {{dir: buf, max_bytes: 1048576}}\n  metrics_port: {mport}\n")
    cfg = load_edge_config(tmp_path / "edge.yaml")
    sub = Publisher()
    sub.watch(f"{pfx}/+")
    ready: list[EdgeForwarder] = []
    task = asyncio.create_task(run_edge(cfg, on_ready=ready.append))

    def rows() -> list[tuple[str, float, float]]:
        return [(r["p"], r["t"], r["v"]) for m in sub.messages(pfx)
                for r in orjson.loads(m.payload) if r["q"] == 0]  # (not the initial Bad)

    try:
        await wait_until(lambda: bool(ready), 15)
        await replay(rec, server, speed=20)
        await wait_until(lambda: ("r1.T", T0 + 9, 109.0) in rows() and
                         ("r1.F", T0 + 9, 29.0) in rows(), 15)
        metrics = await asyncio.to_thread(http_get, f"http://127.0.0.1:{mport}/metrics")
        status = json.loads(await asyncio.to_thread(
            http_get, f"http://127.0.0.1:{mport}/status"))
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        sub.close()
        await server.shutdown()
    for key, base in (("r1.T", 100.0), ("r1.F", 20.0)):
        got = [(t, v) for p, t, v in rows() if p == key]
        assert got == sorted(set(got))  # in order (the OPC UA subscription may merge)
        assert all(v == base + (t - T0) for t, v in got)  # each value with its own time
    assert (tmp_path / "buf").is_dir()
    assert 'ptwin_edge_link_state{edge="e1",state="live"} 1' in metrics
    assert 'ptwin_edge_dropped_records{edge="e1"} 0' in metrics
    assert status["forwarded"] >= 20 and status["link"] == "live"


def http_get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as r:
        return str(r.read().decode())
