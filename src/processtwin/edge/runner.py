"""Run an edge: the sources of a twin.yaml, forwarded to the central twin (``ptwin edge``).

Only the connectors run here: no pipeline, store or analytics. Their batches go to an
:class:`~processtwin.edge.forwarder.EdgeForwarder`, which buffers on disk and forwards over
MQTT.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from processtwin.connectors.base import Connector
from processtwin.core.points import PointTable
from processtwin.edge.forwarder import EdgeForwarder
from processtwin.edge.link import MqttLink
from processtwin.edge.metrics import serve_metrics
from processtwin.edge.settings import EdgeFile
from processtwin.errors import ConfigError, ConfigProblem
from processtwin.runtime.config import TwinFile

__all__ = ["build_edge_connectors", "run_edge"]

_log = logging.getLogger(__name__)


def build_edge_connectors(twin: TwinFile, table: PointTable) -> list[Connector]:
    """The connectors of the twin's sources (every kind the runtime builds)."""
    from processtwin.runtime.sources import SIMULATOR_URL, build_connectors

    for i, s in enumerate(twin.sources):
        if getattr(s, "url", None) == SIMULATOR_URL:
            raise ConfigError([ConfigProblem(f"sources.{i}.url", "an edge needs a real url, "
                                             "not 'simulator'")])
    return [conn for _, conn in build_connectors(twin, table)]


async def run_edge(cfg: EdgeFile, *, duration: float | None = None,
                   connectors: list[Connector] | None = None,
                   on_ready: Callable[[EdgeForwarder], None] | None = None) -> dict[str, Any]:
    """Run until cancelled (or ``duration`` seconds); returns the forwarder's snapshot."""
    from processtwin.runtime.config import load_config
    from processtwin.runtime.runtime import build_point_table

    twin = load_config(cfg.twin_path())
    table = build_point_table(twin)
    if connectors is None:
        connectors = build_edge_connectors(twin, table)
    e = cfg.edge
    link = MqttLink(e.link.broker(f"edge-{e.name}"), name=f"edge-{e.name}",
                    publish_timeout_s=e.link.publish_timeout_s)
    fwd = EdgeForwarder(e, table.keys(), cfg.buffer_dir(), link)
    await fwd.start()
    started: list[Connector] = []
    metrics = None
    try:
        if e.metrics_port is not None:
            metrics = await serve_metrics(fwd, e.metrics_host, e.metrics_port)
        for c in connectors:
            await c.start(fwd.sink)
            started.append(c)
        if on_ready is not None:
            on_ready(fwd)
        if duration is None:
            await asyncio.Event().wait()
        else:
            await asyncio.sleep(duration)
    finally:
        if metrics is not None:
            metrics.close()
        for c in started:
            try:
                await c.stop()
            except Exception as exc:  # one connector failing to stop must not keep the rest
                _log.warning("edge: stopping a connector failed: %r", exc)
        await fwd.drain(2.0)
        await fwd.stop()
    return fwd.snapshot()
