"""MQTT connector: subscribe to topic templates, decode JSON readings into columnar batches.

Data path (all on the event loop thread)::

    socket ─ paho packet parser ─ _on_message: Router (topic → route, point; cached)
           ─ JsonDecoder (orjson → paths → checks) ─ Columns (open batch)
    end of a read burst, sink idle → seal ─ bounded chunk queue ─ deliverer ─ sink(batch, dead)
                                                                      └ then ack QoS 1/2

Batches adapt to load: when the sink is idle the readings of one socket read burst go out at
once (no timer adds latency); while it is busy they gather into one larger batch (capped at
``batch_rows``).

Backpressure: the chunk queue holds at most ``max_queued`` readings plus dead letters. At
that mark the connector stops reading the socket (:meth:`MqttSession.pause_reading`) and
reads on when the sink has drained half of it, so memory stays bounded whatever the
publishers do; the TCP window then closes and the broker holds (QoS 1/2, up to its queue
limits) or drops (QoS 0, by its policy) what it cannot deliver. With MQTT 5, QoS 1/2
messages are acknowledged only after the sink has taken their batch (at-least-once; a
message redelivered after a reconnect may be ingested twice), and ``receive_maximum``
bounds how many the broker sends ahead of those acknowledgements.

While the connection is down every point this connector has delivered is marked bad with
reasons ``comm`` and ``stale``; the session reconnects with backoff and logs once on loss
and once on recovery. Writes accept only gate-released commands and publish to the
command's topic, waiting for the broker's acknowledgement at QoS 1/2.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time

import orjson

from processtwin.connectors.base import ConnectorManifest, ConnectorStatus, Sink
from processtwin.connectors.mqtt.columns import PointResolver
from processtwin.connectors.mqtt.decode import Router
from processtwin.connectors.mqtt.delivery import Delivery, IngestStats
from processtwin.connectors.mqtt.session import MqttSession
from processtwin.connectors.mqtt.settings import MqttCommand, MqttSettings
from processtwin.core.commands import ReleasedWrite
from processtwin.core.quality import Reason
from processtwin.errors import ConnectorError, InvalidInputError

__all__ = ["MANIFEST", "MqttConnector"]

MANIFEST = ConnectorManifest(kind="mqtt", read=True, subscribe=True, write=True,
                             requirements=("paho-mqtt==2.2.0", "orjson==3.8.3"))


class MqttConnector:
    """Subscribes to an MQTT broker, delivers batches to a sink, publishes released writes."""

    manifest = MANIFEST

    def __init__(self, settings: MqttSettings, points: PointResolver) -> None:
        self.settings = settings
        self.source = f"mqtt:{settings.name}"
        self.status = ConnectorStatus(bound=len(settings.routes))
        self._router = Router(settings.routes, points)
        self._commands: dict[tuple[str, str], MqttCommand] = {
            (c.twin, c.input): c for c in settings.commands}
        self._delivery = Delivery(settings.name, self.source, max_queued=settings.max_queued,
                                  batch_rows=settings.batch_rows)
        self._cols = self._delivery.cols
        self._session: MqttSession | None = None
        self._deliverer: asyncio.Task[None] | None = None
        self._manual_ack = settings.broker.protocol == "5" and any(
            r.qos > 0 for r in settings.routes)

    @property
    def stats(self) -> IngestStats:
        return self._delivery.stats

    @property
    def queued(self) -> int:
        """Readings and dead letters decoded but not yet taken by the sink."""
        return self._delivery.queued

    @property
    def session(self) -> MqttSession | None:
        return self._session

    def set_points(self, points: PointResolver | None = None) -> None:
        """Use ``points`` (or re-read the same resolver) from the next message on.

        Call after the point table changed or was replaced; cached lookups are dropped.
        """
        self._router.clear(points)

    # ------------------------------------------------------------------ lifecycle
    async def start(self, sink: Sink) -> None:
        d = self._delivery
        d.sink = sink
        d.stopping = False
        self._session = MqttSession(
            self.settings.broker, name=self.settings.name, status=self.status,
            on_message=self._on_message, on_burst=self._on_burst,
            on_disconnect=self._on_lost, manual_ack=self._manual_ack)
        d.session = self._session
        try:
            await self._session.start(self.settings.subscriptions())
        except ConnectorError as exc:
            self.status.last_error = str(exc)
            raise
        self._deliverer = asyncio.create_task(d.run(),
                                              name=f"mqtt-deliver-{self.settings.name}")

    async def stop(self) -> None:
        """Stop reading, hand what was decoded to the sink, acknowledge it, disconnect."""
        d = self._delivery
        if d.stopping:
            return
        d.stopping = True
        if self._session is not None:
            self._session.pause_reading("stop")
        await d.flush()
        if self._deliverer is not None:
            self._deliverer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._deliverer
            self._deliverer = None
        if self._session is not None:
            await self._session.stop()
            self._session = None
        self.status.connected = False

    async def flush(self) -> None:
        """Hand everything decoded so far to the sink now."""
        await self._delivery.flush()

    # ------------------------------------------------------------------ hot path
    def _on_message(self, topic: bytes, payload: bytes, qos: int, mid: int) -> None:
        cols = self._cols
        hit = self._router.route(topic)
        if isinstance(hit, str):
            cols.reject(topic.decode(errors="replace"), payload, hit,
                        hit.partition(":")[0])
        else:
            dec, target = hit
            dec.decode(payload, target, time.time(), cols)
        if qos and self._manual_ack:
            self._delivery.note_ack(mid, qos)
        self._delivery.after_message()

    def _on_burst(self) -> None:
        self.status.last_update = time.time()
        self._delivery.on_burst()

    def _on_lost(self, why: str) -> None:
        d = self._delivery
        d.mark_bad(sorted(d.seen), time.time(), int(Reason.COMM | Reason.STALE))
        d.seal()

    # ------------------------------------------------------------------ writes
    async def write(self, command: ReleasedWrite) -> None:
        if not isinstance(command, ReleasedWrite):
            raise PermissionError("MQTT writes take gate-released commands only")
        cmd = self._commands.get((command.twin, command.name))
        if cmd is None:
            raise InvalidInputError(
                f"{self.settings.name}: no command topic for {command.twin}.{command.name}")
        if not math.isfinite(command.value):
            raise InvalidInputError(f"{self.settings.name}: value {command.value} not finite")
        if self._session is None:
            raise ConnectorError(f"{self.settings.name}: not started")
        payload = orjson.dumps({"twin": command.twin, "input": command.name,
                                "value": command.value, "ts": time.time(),
                                "verdict": command.verdict_id})
        await self._session.publish(cmd.topic, payload, cmd.qos, cmd.retain,
                                    timeout_s=self.settings.write_timeout_s)
