"""Run a twin and its HTTP service in one asyncio process."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import numpy as np
import uvicorn

from processtwin.runtime.config import TwinFile
from processtwin.runtime.runtime import SIMULATOR_URL, TwinRuntime, free_port

__all__ = ["demo_config", "http_service", "run"]


@contextlib.asynccontextmanager
async def http_service(rt: TwinRuntime, host: str = "127.0.0.1", port: int = 0,
                       log_level: str = "warning") -> AsyncIterator[str]:
    """Serve the API of a started runtime; yields ``host:port`` once it accepts connections."""
    from processtwin.api.app import create_app

    port = port or free_port(host)
    server = uvicorn.Server(uvicorn.Config(create_app(rt), host=host, port=port,
                                           log_level=log_level, lifespan="off"))
    serve = asyncio.create_task(server.serve(), name="http")
    while not server.started and not serve.done():  # noqa: ASYNC110 - uvicorn has no event
        await asyncio.sleep(0.02)
    if serve.done():
        serve.result()  # raises the bind error
        raise RuntimeError(f"HTTP service on {host}:{port} stopped at start")
    try:
        yield f"{host}:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await serve


def demo_config(cfg: TwinFile, *, data_dir: str | None = None, seed: int | None = None,
                time_scale: float | None = None) -> TwinFile:
    """The config with the built-in simulated plant switched on and every OPC UA source on it.

    MQTT and Sparkplug sources keep their brokers: the simulator serves OPC UA only.
    """
    sim = cfg.simulator.model_copy(update={
        "enabled": True, "port": 0,
        **({"seed": seed} if seed is not None else {}),
        **({"time_scale": time_scale} if time_scale is not None else {})})
    sources = tuple(s.model_copy(update={"url": SIMULATOR_URL}) if s.kind == "opcua" else s
                    for s in cfg.sources)
    update: dict[str, Any] = {"simulator": sim, "sources": sources}
    if cfg.estimator is not None and time_scale is not None:
        update["estimator"] = cfg.estimator.model_copy(update={"time_scale": time_scale})
    if data_dir is not None:
        update["data_dir"] = str(Path(data_dir).resolve())
    return cfg.model_copy(update=update)


class _TruthTracker:
    """Compares the estimator with the simulated plant's true state (demo only)."""

    def __init__(self, rt: TwinRuntime) -> None:
        self.rt = rt
        self.err: dict[str, list[float]] = {}

    def sample(self) -> None:
        rt, est = self.rt, self.rt.estimator
        if rt.plant_server is None or est is None or not est.initialised:
            return
        truth = rt.plant_server.plant.true_state()
        for s in est.cfg.estimates:
            i = est.model.state_names.index(s)
            self.err.setdefault(s, []).append(float(est.filter.ekf.x[i]) - truth[s])

    def rmse(self) -> dict[str, float]:
        return {s: float(np.sqrt(np.mean(np.square(e)))) for s, e in self.err.items() if e}


async def run(cfg: TwinFile, *, host: str, port: int, duration: float | None = None,
              on_ready: Callable[[str], None] | None = None,
              data_dir: str | None = None) -> dict[str, Any]:
    """Start the twin and the API; run ``duration`` seconds (or until a signal)."""
    rt = TwinRuntime(cfg, data_dir=data_dir)
    await rt.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    tracker = _TruthTracker(rt)
    try:
        async with http_service(rt, host, port) as addr:
            url = f"http://{addr}/"
            if on_ready:
                on_ready(url)
            t0 = time.time()
            while not stop.is_set():
                if duration is not None and time.time() - t0 >= duration:
                    break
                tracker.sample()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=1.0)
    finally:
        await rt.stop()
    elapsed = time.time() - t0
    summary: dict[str, Any] = {
        "duration_s": round(elapsed, 2),
        "readings_ingested": rt.counts["ingested"],
        "readings_rejected": rt.counts["rejected"],
        "quality_flags": rt.counts["flagged"],
        "rows_stored": rt.counts["stored"],
        "ingest_rate_per_s": round(rt.counts["ingested"] / elapsed, 1) if elapsed else None,
        "sync_latency_median_s": rt.sync_latency(),
        "estimator_steps": rt.estimator.steps if rt.estimator else 0,
        "proposals": rt.counts["proposals"],
        "commands_applied": rt.counts["commands_applied"],
        "commands_refused": rt.counts["commands_refused"],
        "gate_mode": rt.gate.mode.value,
        "url": url,
    }
    truth = tracker.rmse()
    if truth:
        summary["estimate_rmse_vs_truth"] = truth
    return summary


def summary_line(summary: dict[str, Any]) -> str:
    return json.dumps(summary, separators=(",", ":"), default=str)
