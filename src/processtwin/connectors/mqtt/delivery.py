"""The bounded hand-over from socket callbacks to the sink, shared by MQTT and Sparkplug.

Decoders append to :attr:`Delivery.cols` (the open batch) from the session's message
callback. :meth:`Delivery.on_burst` seals the open batch at the end of a socket read burst
when the sink is idle, so light traffic goes out at once (no timer adds latency) and heavy
traffic gathers into larger batches while the sink works (capped at ``batch_rows``).

Sealed chunks wait in a queue bounded by ``max_queued`` readings plus dead letters; at that
mark the session stops reading the socket and reads on once the sink has drained half of it.
QoS 1/2 messages noted with :meth:`Delivery.note_ack` are acknowledged after the sink has
taken their batch, and only on the connection they came on (message ids restart with a new
connection, where the broker redelivers instead).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from processtwin.connectors.base import Sink
from processtwin.connectors.mqtt.columns import Columns
from processtwin.connectors.mqtt.session import MqttSession
from processtwin.core.batch import Batch, DeadLetter
from processtwin.core.quality import Quality

__all__ = ["Delivery", "IngestStats"]

_log = logging.getLogger(__name__)


@dataclass(slots=True)
class IngestStats:
    """Counters since start; ``dead`` counts dead letters by category."""

    messages: int = 0
    readings: int = 0
    batches: int = 0
    dead: Counter[str] = field(default_factory=Counter)
    pauses: int = 0
    peak_queued: int = 0


@dataclass(slots=True)
class _Chunk:
    batch: Batch
    dead: list[DeadLetter]
    acks: list[tuple[int, int]]
    generation: int


class Delivery:
    """Open batch, bounded chunk queue, deliverer task and acknowledgements of one source."""

    def __init__(self, name: str, source: str, *, max_queued: int, batch_rows: int) -> None:
        self.name = name
        self.cols = Columns(source)
        self.stats = IngestStats()
        self.max_queued = max_queued
        self.batch_rows = batch_rows
        self.session: MqttSession | None = None
        self.sink: Sink | None = None
        self.seen: set[int] = set()  # points delivered with a usable value
        self.stopping = False
        self._acks: list[tuple[int, int]] = []
        self._chunks: deque[_Chunk] = deque()
        self._queued = 0
        self._busy = False
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()

    @property
    def queued(self) -> int:
        """Readings and dead letters decoded but not yet taken by the sink."""
        return self._queued + self.cols.pending()

    # ------------------------------------------------------------------ decode side
    def note_ack(self, mid: int, qos: int) -> None:
        self._acks.append((mid, qos))

    def after_message(self) -> None:
        self.stats.messages += 1
        if len(self.cols) >= self.batch_rows:
            self.seal()

    def on_burst(self) -> None:
        if not self._busy:
            self.seal()

    def mark_bad(self, points: Iterable[int], ts: float, reason: int) -> None:
        """Add a bad, valueless reading at ``ts`` for each point (death, lost connection)."""
        bad = int(Quality.BAD)
        for idx in points:
            self.cols.add(idx, ts, math.nan, bad, reason)

    def seal(self) -> None:
        cols = self.cols
        if not cols.pending() and not self._acks:
            return
        batch, dead = cols.build()
        session = self.session
        gen = session.generation if session is not None else 0
        self._chunks.append(_Chunk(batch, dead, self._acks, gen))
        self._acks = []
        self._queued += len(batch) + len(dead)
        self.stats.peak_queued = max(self.stats.peak_queued, self._queued)
        self._wake.set()
        if self._queued >= self.max_queued and session is not None and not session.paused:
            session.pause_reading("queue")
            self.stats.pauses += 1

    # ------------------------------------------------------------------ sink side
    async def run(self) -> None:
        """The deliverer task: hand sealed chunks to the sink as they come."""
        while True:
            if not self._chunks and not self._busy:
                self.seal()  # take what gathered while the sink was busy
            if not self._chunks:
                self._wake.clear()
                await self._wake.wait()
                continue
            await self._deliver_queued()

    async def flush(self) -> None:
        """Hand everything decoded so far to the sink now."""
        self.seal()
        while self._chunks:
            await self._deliver_queued()

    async def _deliver_queued(self) -> None:
        async with self._lock:
            if not self._chunks:
                return
            chunks = list(self._chunks)
            self._chunks.clear()
            batch = Batch.concat([c.batch for c in chunks])
            dead = [d for c in chunks for d in c.dead]
            self._busy = True
            try:
                if self.sink is not None:
                    await self.sink(batch, dead)
            except Exception:  # the sink's own failures are the runtime's to report
                _log.exception("%s: sink failed", self.name)
            finally:
                self._busy = False
            self._after(chunks, batch, dead)

    def _after(self, chunks: list[_Chunk], batch: Batch, dead: list[DeadLetter]) -> None:
        session = self.session
        if session is not None and session.connected:
            gen = session.generation
            for c in chunks:
                if c.generation == gen:
                    for mid, qos in c.acks:
                        session.ack(mid, qos)
        n = len(batch)
        self.stats.readings += n
        self.stats.batches += 1
        if dead:
            self.stats.dead.update(d.category for d in dead)
        if n:
            usable = batch.point[batch.quality != Quality.BAD]
            if len(usable):
                self.seen.update(np.unique(usable).tolist())
        self._queued -= n + len(dead)
        if session is not None and session.paused and not self.stopping and \
                self._queued <= self.max_queued // 2:
            session.resume_reading("queue")
