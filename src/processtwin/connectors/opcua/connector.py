"""OPC UA client connector (asyncua): subscribe to bound nodes, deliver columnar batches.

A binding names its node by node id or by browse path (``0:Objects/2:CSTR/2:TT101``); paths
are resolved once per connection. Each bound node is monitored with a sampling interval,
a queue size and an optional absolute or percent deadband (a ``DataChangeFilter``). Without
a deadband the ``StatusValueTimestamp`` trigger is used, so a sensor that repeats the same
value with fresh timestamps is still reported (that is how a stuck sensor is seen). Values
are stamped with their source timestamp (or the server's, as configured; the other one is
the fallback) and OPC UA status codes are mapped onto our quality codes
(:mod:`processtwin.connectors.opcua.status`). The notifications of one publish response
are flushed to the sink as one batch right after it (``flush_interval_s`` is a backstop).

The client reconnects with exponential backoff (asyncua's supervisor, capped at
``reconnect_max_delay_s``) and transfers or re-creates its subscriptions; while it is down,
every bound point is marked bad with reasons ``comm`` and ``stale``, and ``status.reconnects``
counts the losses. Security: a policy and mode with client certificate and key, and an
optional user name whose password comes from an environment variable. Writes accept only
gate-released commands.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np
from asyncua import Client, ua

from processtwin.connectors.base import ConnectorManifest, ConnectorStatus, Sink
from processtwin.connectors.opcua.browse import resolve_nodes
from processtwin.connectors.opcua.security import (
    AUTH_REFUSED,
    ClientSecurity,
    apply_client_security,
)
from processtwin.connectors.opcua.status import quality_of, status_name
from processtwin.core.batch import BatchBuilder
from processtwin.core.commands import ReleasedWrite
from processtwin.core.quality import Quality, Reason
from processtwin.errors import ConfigError, ConnectorError, InvalidInputError

__all__ = ["Deadband", "OpcUaBinding", "OpcUaConnector", "OpcUaSettings"]

_log = logging.getLogger(__name__)
MANIFEST = ConnectorManifest(kind="opcua", read=True, subscribe=True, write=True,
                             requirements=("asyncua==2.1.0",))


@dataclass(frozen=True, slots=True, kw_only=True)
class Deadband:
    """A data-change deadband: ``absolute`` in the value's unit, ``percent`` of its EURange."""

    kind: Literal["absolute", "percent"]
    value: float

    def __post_init__(self) -> None:
        if self.kind not in ("absolute", "percent"):
            raise InvalidInputError(f"deadband kind must be absolute or percent, not {self.kind}")
        if not self.value >= 0 or (self.kind == "percent" and self.value > 100):
            raise InvalidInputError(f"{self.kind} deadband out of range: {self.value}")

    def filter(self) -> ua.DataChangeFilter:
        flt = ua.DataChangeFilter()
        flt.Trigger = ua.DataChangeTrigger.StatusValue
        flt.DeadbandType = (ua.DeadbandType.Absolute if self.kind == "absolute"
                            else ua.DeadbandType.Percent)
        flt.DeadbandValue = float(self.value)
        return flt


@dataclass(frozen=True, slots=True, kw_only=True)
class OpcUaBinding:
    """A node (id or browse path) bound to a point (``point``: id in the runtime's table).

    ``deadband`` overrides the source's default for this node.
    """

    node: str
    point: int
    key: str
    deadband: Deadband | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OpcUaSettings:
    """Connection and subscription settings for one OPC UA server."""

    name: str
    url: str
    sampling_interval_ms: float = 100.0
    publishing_interval_ms: float = 100.0
    queue_size: int = 10
    deadband: Deadband | None = None
    timestamps: Literal["source", "server"] = "source"
    flush_interval_s: float = 0.05
    timeout_s: float = 4.0
    reconnect_max_delay_s: float = 30.0
    security: ClientSecurity = field(default_factory=ClientSecurity)


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
        refs: set[str] = set()
        for b in self.bindings:
            ref = b.node.strip()
            if ref in refs:
                raise InvalidInputError(f"{settings.name}: node {b.node} bound twice")
            refs.add(ref)
        self._by_node: dict[str, OpcUaBinding] = {}
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
        self._stopping = False
        s = self.settings
        client = Client(s.url, timeout=s.timeout_s, auto_reconnect=True,
                        reconnect_max_delay=s.reconnect_max_delay_s)
        client.connection_lost_callback = self._on_lost
        try:
            await apply_client_security(client, s.security)
            await client.connect()
        except ConfigError:
            raise
        except ua.UaStatusCodeError as exc:
            self.status.last_error = f"connect: {status_name(exc.code)}"
            if exc.code in AUTH_REFUSED:
                who = f"user {s.security.username!r}" if s.security.username else "anonymous"
                raise ConnectorError(
                    f"{s.name}: {s.url} refused the connection ({status_name(exc.code)}): "
                    f"check the credentials ({who}) and the security policy "
                    f"{s.security.policy}/{s.security.mode}") from exc
            raise ConnectorError(f"{s.name}: cannot connect to {s.url}: "
                                 f"{status_name(exc.code)}") from exc
        except (TimeoutError, OSError, ua.UaError) as exc:
            self.status.last_error = f"connect: {exc!r}"
            if "No matching endpoints" in str(exc):
                raise ConnectorError(
                    f"{s.name}: {s.url} refused the connection: it offers no endpoint with "
                    f"security {s.security.policy}/{s.security.mode}") from exc
            raise ConnectorError(f"{s.name}: cannot connect to {s.url}: {exc!r}") from exc
        self._client = client
        try:
            await self._subscribe(client)
        except (TimeoutError, OSError, ua.UaError, InvalidInputError) as exc:
            with contextlib.suppress(Exception):
                await client.disconnect()
            self._client = None
            self._by_node.clear()
            if isinstance(exc, InvalidInputError):
                raise
            raise ConnectorError(f"{s.name}: cannot subscribe: {exc!r}") from exc
        self.status.connected = True
        self._flusher = asyncio.create_task(self._flush_loop(), name=f"opcua-flush-{s.name}")

    async def _subscribe(self, client: Client) -> None:
        s = self.settings
        params = ua.CreateSubscriptionParameters()
        params.RequestedPublishingInterval = s.publishing_interval_ms
        params.RequestedLifetimeCount = 10000
        params.RequestedMaxKeepAliveCount = 100
        params.MaxNotificationsPerPublish = 0
        params.PublishingEnabled = True
        params.Priority = 0
        sub = await client.create_subscription(params, _Handler(self))
        resolved = await resolve_nodes(client, [b.node.strip() for b in self.bindings])
        unbound: list[str] = []
        groups: dict[Deadband | None, list[tuple[OpcUaBinding, ua.NodeId]]] = {}
        for b in self.bindings:
            nid = resolved[b.node.strip()]
            if nid is None:
                unbound.append(b.node)
                self._builder.reject(b.node, None, "unknown node: no node at browse path",
                                     category="unknown")
                continue
            if nid.to_string() in self._by_node:
                raise InvalidInputError(f"{s.name}: node {nid.to_string()} bound twice "
                                        f"({b.node})")
            self._by_node[nid.to_string()] = b
            groups.setdefault(b.deadband or s.deadband, []).append((b, nid))
        for deadband, members in groups.items():
            if deadband is None:
                flt = ua.DataChangeFilter()
                flt.Trigger = ua.DataChangeTrigger.StatusValueTimestamp
            else:
                flt = deadband.filter()
            results = await sub._subscribe(  # public API lacks the trigger filter
                [client.get_node(nid) for _, nid in members], ua.AttributeIds.Value, flt,
                s.queue_size, ua.MonitoringMode.Reporting, s.sampling_interval_ms)
            for (b, nid), res in zip(members, results, strict=True):
                if isinstance(res, ua.StatusCode):
                    unbound.append(b.node)
                    del self._by_node[nid.to_string()]
                    self._builder.reject(b.node, None, f"unknown node: {status_name(res.value)}"
                                         if res.value in _UNKNOWN else
                                         f"not monitored: {status_name(res.value)}",
                                         category="unknown")
        self.status.bound = len(self.bindings) - len(unbound)
        self.status.unbound = unbound

    def _on_change(self, node: Any, val: Any, data: Any) -> None:
        b = self._by_node.get(node.nodeid.to_string())
        dv = data.monitored_item.Value
        if b is None:
            self._builder.reject(node.nodeid.to_string(), val, "unknown node", category="unknown")
            return
        src, srv = _epoch(dv.SourceTimestamp), _epoch(dv.ServerTimestamp)
        first, second = (src, srv) if self.settings.timestamps == "source" else (srv, src)
        ts = first or second or time.time()
        code = dv.StatusCode.value if dv.StatusCode is not None else 0
        q, r = quality_of(code)
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
        for b in self._by_node.values():
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
        ref = self.writes.get((command.twin, command.name))
        if ref is None:
            raise InvalidInputError(
                f"{self.settings.name}: no write binding for {command.twin}.{command.name}")
        if self._client is None:
            raise ConnectorError(f"{self.settings.name}: not connected")
        try:
            nid = (await resolve_nodes(self._client, [ref]))[ref]
            if nid is None:
                raise ConnectorError(f"{self.settings.name}: no node at {ref!r} to write")
            await self._client.get_node(nid).write_value(
                ua.DataValue(ua.Variant(command.value, ua.VariantType.Double)))
        except ua.UaStatusCodeError as exc:
            raise ConnectorError(f"{self.settings.name}: write {ref} refused: "
                                 f"{status_name(exc.code)}") from exc
        except (TimeoutError, OSError, ua.UaError, ConnectionError) as exc:
            raise ConnectorError(f"{self.settings.name}: write {ref} failed: {exc!r}") from exc

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
        self._by_node.clear()
        self.status.connected = False


_UNKNOWN = frozenset({ua.StatusCodes.BadNodeIdUnknown, ua.StatusCodes.BadNodeIdInvalid,
                      ua.StatusCodes.BadAttributeIdInvalid})
