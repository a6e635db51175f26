"""OPC UA client connector (asyncua): subscribe to bound nodes, deliver columnar batches.

Each bound node is monitored with the ``StatusValueTimestamp`` trigger, so a sensor that
repeats the same value with fresh timestamps is still reported (that is how a stuck sensor is
seen). Source timestamps are kept (server timestamps as fallback) and OPC UA status codes are
mapped onto our quality codes. The notifications of one publish response are flushed to
the sink as one batch right after it (``flush_interval_s`` is only a backstop). The client
reconnects with backoff and re-creates its subscriptions (asyncua's supervisor); while it is
down, every bound point is marked bad with reason ``comm``. Writes accept only gate-released
commands.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from asyncua import Client, ua

from processtwin.connectors.base import ConnectorManifest, ConnectorStatus, Sink
from processtwin.core.batch import BatchBuilder
from processtwin.core.commands import ReleasedWrite
from processtwin.core.quality import Quality, Reason, from_opcua_status
from processtwin.errors import ConnectorError, InvalidInputError

__all__ = ["OpcUaBinding", "OpcUaConnector", "OpcUaSettings"]

_log = logging.getLogger(__name__)
MANIFEST = ConnectorManifest(kind="opcua", read=True, subscribe=True, write=True,
                             requirements=("asyncua==2.1.0",))


@dataclass(frozen=True, slots=True, kw_only=True)
class OpcUaBinding:
    """A node bound to a point (``point`` is the point id in the runtime's table)."""

    node: str
    point: int
    key: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OpcUaSettings:
    """Connection and subscription settings for one OPC UA server."""

    name: str
    url: str
    sampling_interval_ms: float = 100.0
    publishing_interval_ms: float = 100.0
    queue_size: int = 10
    flush_interval_s: float = 0.05
    timeout_s: float = 4.0
    reconnect_max_delay_s: float = 30.0


def _epoch(dt: datetime | None) -> float | None:
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


class _Handler:
    def __init__(self, owner: OpcUaConnector) -> None:
        self._owner = owner

    def datachange_notification(self, node: Any, val: Any, data: Any) -> None:
        self._owner._on_change(node, val, data)

    def status_change_notification(self, status: Any) -> None:
        self._owner._mark_down(f"subscription status {status}")


class OpcUaConnector:
    """Subscribes to an OPC UA server and writes gate-released commands."""

    manifest = MANIFEST

    def __init__(self, settings: OpcUaSettings, bindings: list[OpcUaBinding],
                 writes: Mapping[tuple[str, str], str] | None = None) -> None:
        self.settings = settings
        self.bindings = list(bindings)
        self.writes = dict(writes or {})
        self.status = ConnectorStatus(bound=0)
        self._by_node: dict[str, OpcUaBinding] = {}
        for b in self.bindings:
            nid = ua.NodeId.from_string(b.node).to_string()
            if nid in self._by_node:
                raise InvalidInputError(f"{settings.name}: node {b.node} bound twice")
            self._by_node[nid] = b
        self._builder = BatchBuilder(source=f"opcua:{settings.name}")
        self._client: Client | None = None
        self._sink: Sink | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._stopping = False
        self._flush_soon = False
        self._inflight: set[asyncio.Future[None]] = set()
        self.notifications = 0

    async def start(self, sink: Sink) -> None:
        self._sink = sink
        client = Client(self.settings.url, timeout=self.settings.timeout_s, auto_reconnect=True,
                        reconnect_max_delay=self.settings.reconnect_max_delay_s)
        client.connection_lost_callback = self._on_lost
        try:
            await client.connect()
        except (TimeoutError, OSError, ua.UaError) as exc:
            self.status.last_error = f"connect: {exc!r}"
            raise ConnectorError(f"{self.settings.name}: cannot connect to "
                                 f"{self.settings.url}: {exc!r}") from exc
        self._client = client
        await self._subscribe(client)
        self.status.connected = True
        self._flusher = asyncio.create_task(self._flush_loop(),
                                            name=f"opcua-flush-{self.settings.name}")

    async def _subscribe(self, client: Client) -> None:
        params = ua.CreateSubscriptionParameters()
        params.RequestedPublishingInterval = self.settings.publishing_interval_ms
        params.RequestedLifetimeCount = 10000
        params.RequestedMaxKeepAliveCount = 100
        params.MaxNotificationsPerPublish = 0
        params.PublishingEnabled = True
        params.Priority = 0
        sub = await client.create_subscription(params, _Handler(self))
        nodes = [client.get_node(b.node) for b in self.bindings]
        flt = ua.DataChangeFilter()
        flt.Trigger = ua.DataChangeTrigger.StatusValueTimestamp
        results = await sub._subscribe(  # public API lacks the trigger filter
            nodes, ua.AttributeIds.Value, flt, self.settings.queue_size,
            ua.MonitoringMode.Reporting, self.settings.sampling_interval_ms,
        )
        unbound = []
        for b, res in zip(self.bindings, results, strict=True):
            if isinstance(res, ua.StatusCode):
                unbound.append(b.node)
                self._builder.reject(b.node, None, f"unknown node: {res.name}", category="unknown")
        self.status.bound = len(self.bindings) - len(unbound)
        self.status.unbound = unbound

    def _on_change(self, node: Any, val: Any, data: Any) -> None:
        b = self._by_node.get(node.nodeid.to_string())
        dv = data.monitored_item.Value
        if b is None:
            self._builder.reject(node.nodeid.to_string(), val, "unknown node", category="unknown")
            return
        ts = _epoch(dv.SourceTimestamp) or _epoch(dv.ServerTimestamp) or time.time()
        code = dv.StatusCode.value if dv.StatusCode is not None else 0
        q, r = from_opcua_status(code)
        self._builder.add(b.point, ts, val, q, r, key=b.key)
        self.notifications += 1
        if not self._flush_soon:
            # asyncua delivers one publish response's notifications in one go: flush right
            # after them, so a batch is one publish response and no timer adds latency
            self._flush_soon = True
            asyncio.get_running_loop().call_soon(self._kick)
        if not self.status.connected:
            _log.info("%s: receiving data again", self.settings.name)
        self.status.connected = True
        self.status.last_update = time.time()

    def _kick(self) -> None:
        self._flush_soon = False
        task = asyncio.ensure_future(self.flush())
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def _on_lost(self, exc: Exception) -> None:
        self._mark_down(repr(exc))

    def _mark_down(self, why: str) -> None:
        if self._stopping:
            return
        if self.status.connected:
            _log.warning("%s: connection lost: %s", self.settings.name, why)
            self.status.reconnects += 1
        self.status.connected = False
        self.status.last_error = why
        now = time.time()
        for b in self.bindings:
            self._builder.add(b.point, now, np.nan, Quality.BAD, Reason.COMM | Reason.STALE,
                              key=b.key)

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.flush_interval_s)
            await self.flush()

    async def flush(self) -> None:
        """Hand what has been gathered to the sink now."""
        if self._sink is None:
            return
        if len(self._builder) == 0 and not self._builder._dead:
            return
        batch, dead = self._builder.build()
        try:
            await self._sink(batch, dead)
        except Exception:  # the sink's own failures are the runtime's to report
            _log.exception("%s: sink failed", self.settings.name)

    async def write(self, command: ReleasedWrite) -> None:
        if not isinstance(command, ReleasedWrite):
            raise PermissionError("OPC UA writes take gate-released commands only")
        node_id = self.writes.get((command.twin, command.name))
        if node_id is None:
            raise InvalidInputError(
                f"{self.settings.name}: no write binding for {command.twin}.{command.name}")
        if self._client is None:
            raise ConnectorError(f"{self.settings.name}: not connected")
        try:
            await self._client.get_node(node_id).write_value(
                ua.DataValue(ua.Variant(command.value, ua.VariantType.Double)))
        except (TimeoutError, OSError, ua.UaError, ConnectionError) as exc:
            raise ConnectorError(f"{self.settings.name}: write {node_id} failed: {exc!r}") from exc

    async def stop(self) -> None:
        self._stopping = True
        if self._flusher:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
            self._flusher = None
        if self._client:
            with contextlib.suppress(Exception):
                await self._client.disconnect()
            self._client = None
        self.status.connected = False

