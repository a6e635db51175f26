"""The ingest side of the bus: :class:`BusPublisher` and :func:`ensure_stream`.

:meth:`BusPublisher.ingest` has the signature of
:meth:`~processtwin.runtime.runtime.TwinRuntime.ingest` (``batch, dead``), so a connector
feeds the bus exactly as it feeds the in-process runtime. It splits the batch by partition
(the twin of each point, :func:`~processtwin.bus.settings.partition_of`), keeping the rows'
order within each partition, cuts it into frames of at most ``max_rows_per_msg`` readings and
publishes them asynchronously, each with a ``Nats-Msg-Id`` derived from its
(point, source timestamp) columns. It returns once JetStream has acknowledged every frame,
i.e. once the readings are durable in the stream.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from processtwin.bus.codec import encode, message_id, table_fingerprint
from processtwin.bus.settings import BusSettings, partition_of, partition_table
from processtwin.core.batch import Batch, DeadLetter
from processtwin.core.points import PointTable
from processtwin.errors import ConnectorError, InvalidInputError

__all__ = ["BusPublisher", "PublishReport", "connect", "ensure_stream"]

_log = logging.getLogger(__name__)


async def connect(settings: BusSettings, name: str) -> Any:
    """A NATS connection; a failure becomes :class:`ConnectorError`."""
    import nats

    try:
        return await nats.connect(settings.url, name=name, connect_timeout=5,
                                  max_reconnect_attempts=-1, allow_reconnect=True)
    except Exception as exc:
        raise ConnectorError(f"cannot connect to NATS at {settings.url}: {exc}") from exc


async def ensure_stream(js: Any, settings: BusSettings) -> None:
    """Create the site's stream, or check that the existing one has our partition count.

    The stream is a *work queue* (a message is removed once a worker acknowledges it; each
    partition's consumer filters its own subject, so the filters never overlap), with
    *discard new* at ``max_bytes``: a full stream refuses, it never drops readings.
    """
    from nats.js import api
    from nats.js.errors import NotFoundError

    try:
        info = await js.stream_info(settings.stream)
    except NotFoundError:
        cfg = api.StreamConfig(
            name=settings.stream, description=settings.description,
            subjects=[settings.subjects], retention=api.RetentionPolicy.WORK_QUEUE,
            discard=api.DiscardPolicy.NEW, max_bytes=settings.max_bytes,
            max_msg_size=settings.max_msg_size,
            storage=api.StorageType(settings.storage),
            duplicate_window=settings.duplicate_window_s)
        try:
            await js.add_stream(cfg)
        except Exception as exc:
            raise ConnectorError(f"cannot create stream {settings.stream}: {exc}") from exc
        return
    except Exception as exc:
        raise ConnectorError(f"cannot read stream {settings.stream}: {exc}") from exc
    m = re.search(r"partitions=(\d+)", info.config.description or "")
    if m is None or int(m.group(1)) != settings.partitions:
        raise InvalidInputError(
            f"stream {settings.stream} was made for {m.group(1) if m else '?'} partitions, "
            f"not {settings.partitions}: every publisher and worker must use the same count")


@dataclass(frozen=True, slots=True)
class PublishReport:
    """What one :meth:`BusPublisher.publish` call sent."""

    messages: int
    rows: int
    duplicates: int  # frames the stream had already stored (same Nats-Msg-Id)


class BusPublisher:
    """Publishes batches to the site's stream, partitioned by twin."""

    def __init__(self, settings: BusSettings, table: PointTable) -> None:
        self.settings = settings
        self.table = table
        self.fingerprint = table_fingerprint(table.keys())
        self._part = partition_table(table, settings.partitions)
        self._twins = {s.twin for s in table}
        self._nc: Any = None
        self._js: Any = None
        self.counts = {"messages": 0, "rows": 0, "duplicates": 0}

    async def start(self) -> None:
        self._nc = await connect(self.settings, "ptwin-publisher")
        self._js = self._nc.jetstream(publish_async_max_pending=self.settings.publish_max_pending)
        await ensure_stream(self._js, self.settings)

    async def stop(self) -> None:
        if self._nc is not None:
            await self._nc.drain()
            self._nc = self._js = None

    async def __aenter__(self) -> BusPublisher:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def ingest(self, batch: Batch, dead: list[DeadLetter]) -> None:
        """The connector sink: same signature as ``TwinRuntime.ingest``."""
        await self.publish(batch, dead)

    def _dead_partition(self, d: DeadLetter) -> int:
        twin = d.key.split(".", 1)[0]
        return partition_of(twin if twin in self._twins else d.source, self.settings.partitions)

    def frames(self, batch: Batch, dead: Sequence[DeadLetter] = ()
               ) -> list[tuple[int, bytes, str]]:
        """(partition, frame, message id) for every frame ``batch`` and ``dead`` make."""
        out: list[tuple[int, bytes, str]] = []
        fp, size = self.fingerprint, self.settings.max_rows_per_msg
        if len(batch):
            parts = self._part[batch.point]
            for p in np.unique(parts).tolist():
                rows = np.flatnonzero(parts == p)
                for i in range(0, len(rows), size):
                    sub = batch.take(rows[i:i + size])
                    out.append((p, encode(sub, fingerprint=fp), message_id(sub, fingerprint=fp)))
        by_part: dict[int, list[DeadLetter]] = {}
        for d in dead:
            by_part.setdefault(self._dead_partition(d), []).append(d)
        empty = Batch.empty()
        for p, items in sorted(by_part.items()):
            out.append((p, encode(empty, items, fingerprint=fp),
                        message_id(empty, items, fingerprint=fp)))
        return out

    async def _diagnose(self) -> str:
        """Why a publish may have failed: a full stream (nats-py 2.16 leaves the future of a
        refused publish unresolved, so the failure shows as a timeout)."""
        try:
            info = await self._js.stream_info(self.settings.stream)
        except Exception:
            return ""
        used, cap = info.state.bytes, self.settings.max_bytes
        if used + self.settings.max_rows_per_msg * 25 + 64 > cap:
            return (f": the stream is full ({used} of {cap} bytes), the workers are behind")
        return ""

    async def publish(self, batch: Batch, dead: Sequence[DeadLetter] = ()) -> PublishReport:
        """Publish and wait for the stream's acknowledgements; raise ConnectorError."""
        if self._js is None:
            raise ConnectorError("the publisher is not started")
        frames = self.frames(batch, dead)
        if not frames:
            return PublishReport(0, 0, 0)
        futs = []
        try:
            for p, data, mid in frames:
                futs.append(await self._js.publish_async(
                    self.settings.subject(p), data, headers={"Nats-Msg-Id": mid},
                    wait_stall=self.settings.ack_wait_s))
            acks = await asyncio.wait_for(asyncio.gather(*futs),
                                          timeout=self.settings.ack_wait_s)
        except Exception as exc:
            for f in futs:
                f.cancel()
            why = await self._diagnose()
            raise ConnectorError(f"publish to {self.settings.stream} failed "
                                 f"({type(exc).__name__}: {exc}){why}") from exc
        dup = sum(1 for a in acks if a.duplicate)
        report = PublishReport(len(frames), len(batch), dup)
        self.counts["messages"] += report.messages
        self.counts["rows"] += report.rows
        self.counts["duplicates"] += dup
        return report
