"""Store-and-forward: connector batches → disk log → the central twin's broker, in order.

Data path (all on the event loop thread)::

    connectors ─ sink(batch) ─ encode_batch (JSON arrays) ─ SegmentLog.append (write-through)
    sender ─ SegmentLog.read(next) ─ publish QoS 1, up to ``window`` in flight
           ─ PUBACK of the oldest in flight ─ SegmentLog.ack(seq) ─ segment deleted when done

Every message goes through the disk log, also while the link is up: order is then one
sequence for the whole run (and across restarts), and a crash loses nothing the log had
flushed. While the link is up and the sender has caught up the log is a short hop through
the page cache (state ``live``); while it is down messages pile up on disk (``down``), and
when it returns the sender replays the backlog from the oldest unacknowledged record
(``replaying``) until it has caught up. A record is acknowledged (and so may be deleted)
only after the broker's PUBACK; a message in flight when the link dropped is sent again, so
the central twin may see a reading twice (at-least-once), never out of its first order.

The log is bounded in bytes; past the bound the oldest records are dropped, counted in
:attr:`EdgeStats.dropped` and logged once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from processtwin.core.batch import Batch, DeadLetter
from processtwin.edge.log import SegmentLog
from processtwin.edge.payload import encode_batch
from processtwin.edge.settings import EdgeSettings
from processtwin.errors import ConnectorError, StoreError

__all__ = ["EdgeForwarder", "EdgeStats", "Link"]

_log = logging.getLogger(__name__)
_COUNT = struct.Struct("<I")


class Link(Protocol):
    """Where forwarded messages go (an MQTT broker; see :class:`~.link.MqttLink`)."""

    up: asyncio.Event

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, topic: str, payload: bytes, qos: int) -> None:
        """Return once the broker acknowledged (QoS 1/2); raise ConnectorError otherwise."""


@dataclass(slots=True)
class EdgeStats:
    """Counters of one forwarder (readings unless named otherwise)."""

    received: int = 0
    lost: int = 0  # readings the disk buffer could not take (disk full, I/O error)
    dead_letters: int = 0
    forwarded: int = 0
    forwarded_messages: int = 0
    resent_messages: int = 0
    link: str = "down"
    link_changes: int = 0


class EdgeForwarder:
    """Buffers connector batches on disk and forwards them over a :class:`Link`."""

    def __init__(self, settings: EdgeSettings, keys: Sequence[str], buffer_dir: str | Path,
                 link: Link) -> None:
        b = settings.buffer
        self.settings = settings
        self.keys = list(keys)
        self.topic = settings.link.topic(settings.name)
        self.log = SegmentLog(buffer_dir, max_bytes=b.max_bytes, segment_bytes=b.segment_bytes,
                              fsync=b.fsync, fsync_interval_s=b.fsync_interval_s)
        self.link = link
        self.stats = EdgeStats()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._sent_upto = 0  # highest seq ever published (to count resends)

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Start the link (it connects in the background) and the sender."""
        self._stopping = False
        await self.link.start()
        self._tasks = [asyncio.create_task(self._send_loop(), name="edge-sender"),
                       asyncio.create_task(self._sync_loop(), name="edge-sync")]

    async def stop(self) -> None:
        """Stop sending and close the log (what is not acknowledged stays on disk)."""
        if self._stopping:
            return
        self._stopping = True
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._tasks.clear()
        await self.link.stop()
        self.log.close()
        self._set_link("down")

    async def drain(self, timeout_s: float) -> bool:
        """Wait until every buffered record was acknowledged; False on timeout."""
        deadline = time.monotonic() + timeout_s
        while self.log.pending_records:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.02)
        return True

    # ------------------------------------------------------------------ intake
    async def sink(self, batch: Batch, dead: list[DeadLetter]) -> None:
        """The connectors' sink: append the batch to the log as messages."""
        if dead:
            if not self.stats.dead_letters:
                _log.warning("edge %s: dead letter from %s: %s (further ones only counted)",
                             self.settings.name, dead[0].source, dead[0].reason)
            self.stats.dead_letters += len(dead)
        if not len(batch):
            return
        self.append(batch)

    def append(self, batch: Batch) -> None:
        """Encode and buffer a batch; a disk failure loses it (counted, logged once)."""
        for n, payload in encode_batch(batch, self.keys, self.settings.max_readings):
            self.stats.received += n
            try:
                self.log.append(_COUNT.pack(n) + payload)
            except StoreError as exc:
                if not self.stats.lost:
                    _log.error("edge %s: %s; readings are lost until the disk recovers "
                               "(counted in 'lost')", self.settings.name, exc)
                self.stats.lost += n
        self._wake.set()

    # ------------------------------------------------------------------ sender
    def _set_link(self, state: str) -> None:
        if state != self.stats.link:
            if state == "replaying" or (state == "live" and self.stats.link == "replaying"):
                _log.info("edge %s: link %s (%d records buffered)", self.settings.name, state,
                          self.log.pending_records)
            self.stats.link = state
            self.stats.link_changes += 1

    async def _send_loop(self) -> None:
        link, log, stats = self.link, self.log, self.stats
        qos = self.settings.link.qos
        window = self.settings.link.window
        while True:
            self._set_link("down")
            await link.up.wait()
            nxt = log.acked + 1
            inflight: deque[tuple[int, int, asyncio.Task[None]]] = deque()
            try:
                while link.up.is_set():
                    if len(inflight) < window:
                        for seq, rec in log.read(nxt, window - len(inflight)):
                            (n,) = _COUNT.unpack_from(rec)
                            if seq <= self._sent_upto:
                                stats.resent_messages += 1
                            self._sent_upto = max(self._sent_upto, seq)
                            inflight.append((seq, n, asyncio.ensure_future(
                                link.publish(self.topic, rec[_COUNT.size:], qos))))
                            nxt = seq + 1
                    if not inflight:
                        self._set_link("live")
                        self._wake.clear()
                        if log.next_seq <= nxt:
                            with contextlib.suppress(TimeoutError):
                                await asyncio.wait_for(self._wake.wait(), 0.5)
                        continue
                    self._set_link("live" if log.next_seq - nxt <= window else "replaying")
                    seq, n, task = inflight[0]
                    await task
                    inflight.popleft()
                    log.ack(seq)
                    stats.forwarded += n
                    stats.forwarded_messages += 1
            except ConnectorError as exc:
                _log.debug("edge %s: send failed: %s", self.settings.name, exc)
            except StoreError as exc:  # cannot read the buffer: retry, do not die
                _log.error("edge %s: %s", self.settings.name, exc)
                await asyncio.sleep(1.0)
            finally:
                for _, _, t in inflight:
                    t.cancel()
                for _, _, t in inflight:
                    with contextlib.suppress(asyncio.CancelledError, ConnectorError):
                        await t
            if link.up.is_set():  # a publish timed out on a live connection: try again
                await asyncio.sleep(self.settings.link.reconnect_min_s)

    async def _sync_loop(self) -> None:
        period = self.settings.buffer.fsync_interval_s
        while True:
            await asyncio.sleep(period)
            try:
                self.log.sync()
            except StoreError as exc:
                _log.error("edge %s: %s", self.settings.name, exc)

    # ------------------------------------------------------------------ metrics
    def snapshot(self) -> dict[str, Any]:
        """Counters and gauges: buffered bytes/records, dropped, forwarded, link state."""
        s, ls = self.stats, self.log.stats
        return {"edge": self.settings.name, "link": s.link, "received": s.received,
                "forwarded": s.forwarded, "lost": s.lost,
                "forwarded_messages": s.forwarded_messages,
                "resent_messages": s.resent_messages, "dead_letters": s.dead_letters,
                "buffered_records": self.log.pending_records,
                "buffered_bytes": self.log.pending_bytes, "dropped_records": ls.dropped,
                "dropped_bytes": ls.dropped_bytes, "torn_bytes": ls.torn_bytes,
                "fsyncs": ls.fsyncs}

    def prometheus(self) -> str:
        """The gauges and counters in Prometheus text format."""
        snap = self.snapshot()
        name = snap.pop("edge")
        link = snap.pop("link")
        lines = [f'ptwin_edge_{k}{{edge="{name}"}} {v}' for k, v in snap.items()]
        lines += [f'ptwin_edge_link_state{{edge="{name}",state="{st}"}} {int(st == link)}'
                  for st in ("down", "replaying", "live")]
        return "\n".join(lines) + "\n"
