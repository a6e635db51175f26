"""Live twin latency: plant source timestamp → value visible on the WebSocket stream.

Runs the demo twin in process (simulated plant over OPC UA on loopback, time scale 10) with
its HTTP service, and measures in the same run:

* ours: source timestamp → telemetry message received by a WebSocket client, per reading;
* baseline: source timestamp → data-change notification in a bare asyncua subscriber on the
  same server (what a user would write by hand, with no pipeline, state, store or API).

ratio = baseline p50 / our p50 (higher is better; 1.0 means the twin adds nothing). Also the
sustained ingest rate. The OPC UA publishing interval (50 ms) bounds both.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import websockets
from asyncua import Client

from processtwin.runtime.config import load_config
from processtwin.runtime.runtime import TwinRuntime
from processtwin.runtime.service import demo_config, http_service

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "cstr" / "twin.yaml"
SAME_TAGS = {"T_R", "T_K", "F"}  # TT101, TT201, FT101 (the analyser is late by design)


class _Bare:
    def __init__(self) -> None:
        self.lat: list[float] = []

    def datachange_notification(self, node: Any, val: Any, data: Any) -> None:
        ts = data.monitored_item.Value.SourceTimestamp
        if ts is not None:
            self.lat.append(time.time() - ts.timestamp())


async def _run(seconds: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as d:
        cfg = demo_config(load_config(EXAMPLE), data_dir=d)
        rt = TwinRuntime(cfg)
        await rt.start()
        async with http_service(rt, log_level="error") as addr:
            result = await _measure(rt, addr, seconds)
        await rt.stop()
    return result


async def _measure(rt: TwinRuntime, addr: str, seconds: float) -> dict[str, Any]:
    srv = rt.plant_server
    if srv is None:
        raise RuntimeError("the demo config must start the simulated plant")
    bare = _Bare()
    client = Client(srv.url)
    await client.connect()
    sub = await client.create_subscription(50, bare)
    await sub.subscribe_data_change([client.get_node(srv.node_id(t))
                                     for t in ("TT101", "TT201", "FT101")])
    ours: list[float] = []
    n0, t0 = rt.counts["ingested"], time.time()
    async with websockets.connect(f"ws://{addr}/api/v1/stream") as ws:
        end = time.time() + seconds
        while time.time() < end:
            msg = json.loads(await asyncio.wait_for(ws.recv(), 5))
            now = time.time()
            if msg["type"] == "telemetry":  # the same three tags the baseline watches
                ours.extend(now - row[0] for name, row in msg["points"].items()
                            if name in SAME_TAGS and row[0])
    rate = (rt.counts["ingested"] - n0) / (time.time() - t0)
    await client.disconnect()
    return {"ours": ours, "bare": bare.lat, "rate": rate}


def run(quick: bool = False) -> dict[str, Any]:
    seconds = 8.0 if quick else 30.0
    r = asyncio.run(_run(seconds))
    ours, bare = np.array(r["ours"]), np.array(r["bare"])
    o50, b50 = float(np.median(ours)), float(np.median(bare))
    return {
        "bench": "live",
        "results": [
            {"name": "source ts -> visible on WebSocket, p50", "value": o50 * 1e3, "unit": "ms",
             "baseline": "bare asyncua subscriber, p50", "baseline_value": b50 * 1e3,
             "ratio": b50 / o50},
            {"name": "source ts -> visible on WebSocket, p99",
             "value": float(np.percentile(ours, 99)) * 1e3, "unit": "ms",
             "baseline": "bare asyncua subscriber, p99",
             "baseline_value": float(np.percentile(bare, 99)) * 1e3,
             "ratio": float(np.percentile(bare, 99)) / float(np.percentile(ours, 99))},
            {"name": "sustained ingest (7 tags at 20 Hz)", "value": r["rate"],
             "unit": "readings/s", "baseline": None, "baseline_value": None, "ratio": None},
        ],
        "notes": [f"{seconds:g} s run, {len(ours)} readings timed on the WebSocket, "
                  f"{len(bare)} by the bare subscriber", "ratio = baseline / ours (higher is "
                  "better)", f"median of per-reading latencies; stdev ours "
                  f"{statistics.pstdev(ours.tolist()) * 1e3:.1f} ms"],
    }
