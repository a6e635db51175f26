"""Sparkplug B host application: births become twins, data becomes batches.

The host subscribes to ``spBv1.0/#`` (or its groups), publishes its STATE
(``spBv1.0/STATE/{host_id}``, retained, QoS 1, JSON ``{"online": true, "timestamp": ms}``
after connecting; the same with ``false`` as its will and when it stops, as Sparkplug 3.0
asks) and runs every message through the :class:`~.registry.Registry`.

Each birth is reported through ``on_birth(device_key, metrics)`` (``device_key`` is
``group/edge`` or ``group/edge/device``, ``metrics`` a tuple of
:class:`~.registry.BirthMetric`), so the caller can create or update the twin and its
points. When the callback is a coroutine the host stops reading the socket until it is done,
so no data of that device is decoded before its points exist; then the birth values are
emitted. Rebirth requests (``NCMD`` with ``Node Control/Rebirth = true``) go out at QoS 0.
Writes take gate-released commands only and go out as NCMD/DCMD to the metric of the twin
point, with the datatype and alias its birth declared.

Batching, backpressure and acknowledgements are the MQTT connector's
(:class:`~processtwin.connectors.mqtt.delivery.Delivery`); so is the session
(reconnects, TLS, auth).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from processtwin.connectors.base import ConnectorManifest, ConnectorStatus, Sink
from processtwin.connectors.mqtt.columns import PointResolver
from processtwin.connectors.mqtt.delivery import Delivery, IngestStats
from processtwin.connectors.mqtt.session import MqttSession, Will
from processtwin.connectors.sparkplug.registry import (
    BirthMetric,
    Effects,
    Registry,
    rebirth_request,
)
from processtwin.connectors.sparkplug.settings import SparkplugSettings
from processtwin.core.commands import ReleasedWrite
from processtwin.core.quality import Reason
from processtwin.errors import ConnectorError

__all__ = ["MANIFEST", "BirthCallback", "SparkplugHost"]

_log = logging.getLogger(__name__)
MANIFEST = ConnectorManifest(kind="sparkplug", read=True, subscribe=True, write=True,
                             requirements=("paho-mqtt==2.2.0", "protobuf==7.36.2"))

#: ``on_birth(device_key, metrics)``; may be a coroutine function.
BirthCallback = Callable[[str, tuple[BirthMetric, ...]], Awaitable[None] | None]


class SparkplugHost:
    """A Sparkplug B host application behind the :class:`Connector` protocol."""

    manifest = MANIFEST

    def __init__(self, settings: SparkplugSettings, points: PointResolver,
                 on_birth: BirthCallback | None = None) -> None:
        self.settings = settings
        self.source = f"sparkplug:{settings.name}"
        self.status = ConnectorStatus()
        self.registry = Registry(settings, points)
        self._on_birth = on_birth
        self._delivery = Delivery(settings.name, self.source, max_queued=settings.max_queued,
                                  batch_rows=settings.batch_rows)
        self._cols = self._delivery.cols
        self._fx = Effects()
        self._session: MqttSession | None = None
        self._deliverer: asyncio.Task[None] | None = None
        self._birth_tasks: set[asyncio.Task[None]] = set()
        self._state_topic = f"spBv1.0/STATE/{settings.host_id}"
        self._state_ts = 0

    @property
    def stats(self) -> IngestStats:
        return self._delivery.stats

    @property
    def queued(self) -> int:
        return self._delivery.queued

    @property
    def session(self) -> MqttSession | None:
        return self._session

    def set_points(self, points: PointResolver | None = None) -> None:
        """Use ``points`` (or re-read the same resolver) and re-resolve every born metric.

        Call after the point table changed or was replaced, e.g. from ``on_birth`` once the
        twin exists: the birth's values are emitted right after ``on_birth`` returns.
        """
        self.registry.rebind_all(points)
        self.status.bound = len(self.registry.all_points())

    # ------------------------------------------------------------------ lifecycle
    def _state(self, online: bool) -> Will:
        return Will(self._state_topic, orjson.dumps({"online": online,
                                                     "timestamp": self._state_ts}),
                    qos=1, retain=True)

    def _will(self) -> Will:
        self._state_ts = int(time.time() * 1000)
        return self._state(False)

    async def start(self, sink: Sink) -> None:
        d = self._delivery
        d.sink = sink
        d.stopping = False
        self._session = MqttSession(
            self.settings.broker, name=self.settings.name, status=self.status,
            on_message=self._on_message, on_burst=self._on_burst,
            on_connect=self._on_connect, on_disconnect=self._on_lost, will=self._will,
            manual_ack=True)
        d.session = self._session
        try:
            await self._session.start(self.settings.subscriptions())
        except ConnectorError as exc:
            self.status.last_error = str(exc)
            raise
        self._deliverer = asyncio.create_task(d.run(),
                                              name=f"spb-deliver-{self.settings.name}")

    async def stop(self) -> None:
        """Publish STATE offline, hand what was decoded to the sink, disconnect."""
        d = self._delivery
        if d.stopping:
            return
        d.stopping = True
        if self._session is not None:
            self._session.pause_reading("stop")
        for t in list(self._birth_tasks):
            t.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await t
        await d.flush()
        if self._deliverer is not None:
            self._deliverer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._deliverer
            self._deliverer = None
        if self._session is not None:
            await self._session.stop(last_words=[self._state(False)])
            self._session = None
        self.status.connected = False

    async def flush(self) -> None:
        await self._delivery.flush()

    # ------------------------------------------------------------------ events
    def _on_connect(self, session_present: bool) -> None:
        if self._session is not None:
            self._session.publish_nowait(*self._state_args(True))

    def _state_args(self, online: bool) -> tuple[str, bytes, int, bool]:
        w = self._state(online)
        return w.topic, w.payload, w.qos, w.retain

    def _on_lost(self, why: str) -> None:
        d = self._delivery
        d.mark_bad(self.registry.all_points(), time.time(), int(Reason.COMM | Reason.STALE))
        d.seal()

    def _on_burst(self) -> None:
        self.status.last_update = time.time()
        self._delivery.on_burst()

    def _on_message(self, topic_b: bytes, payload: bytes, qos: int, mid: int) -> None:
        d = self._delivery
        topic = topic_b.decode(errors="replace")
        if topic == self._state_topic:
            self._own_state(payload)
        else:
            fx = self._fx
            self.registry.handle(topic, payload, time.time(), self._cols, fx)
            if fx.rebirth:
                self._request_rebirths(fx.rebirth)
            if fx.births:
                for key, metrics in fx.births:
                    self._birth(key, metrics)
            fx.clear()
        if qos:
            d.note_ack(mid, qos)
        d.after_message()

    def _own_state(self, payload: bytes) -> None:
        """Another client declared us offline: say we are online (Sparkplug 3.0)."""
        try:
            doc: Any = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return
        if isinstance(doc, dict) and doc.get("online") is False and \
                self._session is not None and self._session.connected and \
                not self._delivery.stopping:
            self._session.publish_nowait(*self._state_args(True))

    def _request_rebirths(self, nodes: list[tuple[str, str]]) -> None:
        session = self._session
        if session is None or not session.connected:
            return
        now_ms = int(time.time() * 1000)
        for group, edge in nodes:
            topic, payload = rebirth_request(group, edge, now_ms)
            session.publish_nowait(topic, payload, 0)
            _log.info("%s: rebirth requested from %s/%s", self.settings.name, group, edge)

    def _birth(self, key: str, metrics: tuple[BirthMetric, ...]) -> None:
        cb = self._on_birth
        result = None
        if cb is not None:
            try:
                result = cb(key, metrics)
            except Exception:  # the callback's failure must not stop ingest
                _log.exception("%s: on_birth(%s) failed", self.settings.name, key)
        if result is not None and inspect.isawaitable(result):
            session = self._session
            hold = f"birth:{key}"
            if session is not None:
                session.pause_reading(hold)
            task = asyncio.ensure_future(self._await_birth(result, key, hold))
            self._birth_tasks.add(task)
            task.add_done_callback(self._birth_tasks.discard)
        else:
            self.registry.bind(key, self._cols)
            self.status.bound = len(self.registry.all_points())

    async def _await_birth(self, result: Awaitable[None], key: str, hold: str) -> None:
        try:
            await result
        except asyncio.CancelledError:
            raise
        except Exception:  # the callback's failure must not stop ingest
            _log.exception("%s: on_birth(%s) failed", self.settings.name, key)
        finally:
            self.registry.bind(key, self._cols)
            self.status.bound = len(self.registry.all_points())
            self._delivery.seal()
            if self._session is not None:
                self._session.resume_reading(hold)

    # ------------------------------------------------------------------ writes
    async def write(self, command: ReleasedWrite) -> None:
        if not isinstance(command, ReleasedWrite):
            raise PermissionError("Sparkplug commands take gate-released writes only")
        if self._session is None:
            raise ConnectorError(f"{self.settings.name}: not started")
        topic, payload = self.registry.command(command.twin, command.name, command.value,
                                               int(time.time() * 1000))
        await self._session.publish(topic, payload, self.settings.command_qos,
                                    timeout_s=self.settings.write_timeout_s)
