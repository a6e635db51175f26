"""An outage buffer around any store: :class:`BufferedStore`.

When the backend fails (it raises :class:`~processtwin.errors.StoreError`, which the
backends map connection errors to), appended batches wait in a bounded in-memory queue, in
arrival order. Delivery is retried with exponential backoff, on the next ``append`` or
``flush`` that finds a retry due; on recovery the queue is written in order, before any newer
batch, so the backend sees the rows as they came. When the queue holds more than
``max_rows``, the oldest rows are dropped and counted: a long outage keeps the newest
history. Dead letters wait in a second, smaller queue.

The buffer logs once when the backend fails and once when it recovers (with what it
delivered and dropped), never on every retry. :meth:`BufferedStore.stats` exposes the
counters for metrics. Reads pass straight through: during an outage they raise
``StoreError``, and they never see rows still waiting in the buffer.

``append`` returns the rows committed to the backend by the call: 0 while they wait, and
the backlog too on the call that delivers it. A batch the backend refuses as invalid
(:class:`~processtwin.errors.InvalidInputError`) is raised to the caller when it is new and
dropped and counted (``rejected_rows``) when it comes from the queue, so one bad batch
cannot block the queue.

Example:
    >>> from processtwin.core import Batch, PointSpec, PointTable
    >>> from processtwin.store import BufferedStore, MemoryStore
    >>> store = BufferedStore(MemoryStore())
    >>> store.register(PointTable([PointSpec(twin="t", name="x")]))
    >>> store.append(Batch.of([0], [1.0], [2.0]))
    1
    >>> store.stats().buffered_rows
    0
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from processtwin.core.batch import Batch, DeadLetter
from processtwin.core.points import PointTable
from processtwin.errors import InvalidInputError, StoreError
from processtwin.store.base import (
    DEFAULT_MAX_QUALITY,
    RetentionReport,
    Series,
    Source,
    TimeSeriesStore,
)

__all__ = ["BufferPolicy", "BufferStats", "BufferedStore"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class BufferPolicy:
    """Bounds of the outage buffer and the retry schedule (seconds)."""

    max_rows: int = 1_000_000
    max_dead: int = 10_000
    retry_initial_s: float = 0.5
    retry_max_s: float = 30.0
    retry_factor: float = 2.0

    def __post_init__(self) -> None:
        problems = []
        if self.max_rows < 1 or self.max_dead < 1:
            problems.append("max_rows and max_dead must be >= 1")
        if not (math.isfinite(self.retry_initial_s) and self.retry_initial_s > 0):
            problems.append("retry_initial_s must be > 0")
        if not (math.isfinite(self.retry_max_s) and self.retry_max_s >= self.retry_initial_s):
            problems.append("retry_max_s must be >= retry_initial_s")
        if not (math.isfinite(self.retry_factor) and self.retry_factor >= 1):
            problems.append("retry_factor must be >= 1")
        if problems:
            raise InvalidInputError("; ".join(problems))


@dataclass(frozen=True, slots=True)
class BufferStats:
    """Counters of a :class:`BufferedStore` (rows unless named otherwise)."""

    available: bool  # the last attempt reached the backend
    buffered_rows: int
    buffered_batches: int
    delivered_rows: int  # rows committed from the queue after an outage
    dropped_rows: int  # oldest rows dropped on overflow, or still queued at close
    rejected_rows: int  # queued rows the backend refused as invalid
    failures: int  # failed attempts
    buffered_dead: int
    dropped_dead: int
    last_error: str | None
    retry_in_s: float | None  # until the next attempt, while buffering


class BufferedStore:
    """Wraps ``inner``; see the module docstring. ``clock`` is monotonic seconds."""

    def __init__(self, inner: TimeSeriesStore, policy: BufferPolicy = BufferPolicy(), *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.inner = inner
        self.policy = policy
        self._clock = clock
        self._lock = threading.RLock()
        self._queue: deque[Batch] = deque()
        self._rows = 0
        self._dead: deque[DeadLetter] = deque()
        self._table: PointTable | None = None
        self._registered = True
        self._available = True
        self._next_try = 0.0
        self._delay = policy.retry_initial_s
        self._delivered = self._dropped = self._rejected = self._failures = 0
        self._dropped_dead = 0
        self._last_error: str | None = None

    # ------------------------------------------------------------------ bookkeeping
    def stats(self) -> BufferStats:
        with self._lock:
            retry = None if self._available else max(0.0, self._next_try - self._clock())
            return BufferStats(self._available, self._rows, len(self._queue),
                               self._delivered, self._dropped, self._rejected,
                               self._failures, len(self._dead), self._dropped_dead,
                               self._last_error, retry)

    def _fail(self, exc: StoreError) -> None:
        self._failures += 1
        self._last_error = str(exc)
        if self._available:
            _log.warning("store unavailable, buffering up to %d rows: %s",
                         self.policy.max_rows, exc)
            self._available = False
            self._delay = self.policy.retry_initial_s
        else:
            self._delay = min(self._delay * self.policy.retry_factor, self.policy.retry_max_s)
        self._next_try = self._clock() + self._delay

    def _recovered(self, delivered: int) -> None:
        if not self._available:
            _log.warning("store available again: %d buffered rows delivered, %d dropped, "
                         "%d rejected", delivered, self._dropped, self._rejected)
        self._available = True
        self._delay = self.policy.retry_initial_s

    def _enqueue(self, batch: Batch) -> None:
        if len(batch) == 0:
            return
        self._queue.append(batch)
        self._rows += len(batch)
        while self._rows > self.policy.max_rows:
            excess = self._rows - self.policy.max_rows
            oldest = self._queue[0]
            if len(oldest) <= excess:
                self._queue.popleft()
                cut = len(oldest)
            else:
                self._queue[0] = oldest.take(np.arange(excess, len(oldest)))
                cut = excess
            self._rows -= cut
            self._dropped += cut

    def _enqueue_dead(self, items: Sequence[DeadLetter]) -> None:
        self._dead.extend(items)
        while len(self._dead) > self.policy.max_dead:
            self._dead.popleft()
            self._dropped_dead += 1

    def _drain(self, force: bool = False) -> int:
        """Deliver the queue in order if a retry is due; rows committed."""
        if self._available and not self._queue and not self._dead and self._registered:
            return 0
        if not force and self._clock() < self._next_try:
            return 0
        committed = delivered = 0
        try:
            if not self._registered and self._table is not None:
                self.inner.register(self._table)
                self._registered = True
            while self._queue:
                batch = self._queue[0]
                try:
                    n = self.inner.append(batch)
                except InvalidInputError as exc:
                    _log.error("dropping %d buffered rows the store refused: %s", len(batch),
                               exc)
                    self._rejected += len(batch)
                    delivered -= len(batch)
                    n = 0
                self._queue.popleft()
                self._rows -= len(batch)
                delivered += len(batch)
                committed += n
            n_dead = len(self._dead)
            if n_dead:
                self.inner.append_dead(list(self._dead))
                self._dead.clear()
            committed += self.inner.flush()
        except StoreError as exc:
            self._delivered += delivered
            self._fail(exc)
            return committed
        self._delivered += delivered
        self._recovered(delivered)
        return committed

    # ------------------------------------------------------------------ writes
    def register(self, table: PointTable) -> None:
        with self._lock:
            self._table = table
            try:
                self.inner.register(table)
                self._registered = True
            except StoreError as exc:
                self._registered = False
                self._fail(exc)

    def append(self, batch: Batch) -> int:
        with self._lock:
            if self._queue or not self._available or not self._registered:
                self._enqueue(batch)
                return self._drain()
            try:
                return self.inner.append(batch)
            except StoreError as exc:
                self._fail(exc)
                self._enqueue(batch)
                return 0

    def flush(self) -> int:
        """Deliver the backlog if a retry is due, then flush the backend."""
        with self._lock:
            if self._queue or self._dead or not self._available or not self._registered:
                return self._drain()
            try:
                return self.inner.flush()
            except StoreError as exc:
                self._fail(exc)
                return 0

    def append_dead(self, items: Sequence[DeadLetter]) -> None:
        if not items:
            return
        with self._lock:
            if self._dead or not self._available:
                self._enqueue_dead(items)
                self._drain()
                return
            try:
                self.inner.append_dead(items)
            except StoreError as exc:
                self._fail(exc)
                self._enqueue_dead(items)

    def close(self) -> None:
        """One last delivery attempt, then close the backend; what is left is dropped."""
        with self._lock:
            self._drain(force=True)
            if self._rows or self._dead:
                _log.error("closing with %d rows and %d dead letters undelivered",
                           self._rows, len(self._dead))
                self._dropped += self._rows
                self._dropped_dead += len(self._dead)
                self._queue.clear()
                self._dead.clear()
                self._rows = 0
            try:
                self.inner.close()
            except StoreError as exc:
                _log.error("closing the store failed: %s", exc)

    # ------------------------------------------------------------------ reads
    def query(self, key: str, start: float | None = None, end: float | None = None,
              every: float | None = None, agg: str = "avg", *,
              max_quality: int = DEFAULT_MAX_QUALITY, source: Source = "auto") -> Series:
        return self.inner.query(key, start, end, every, agg, max_quality=max_quality,
                                source=source)

    def query_many(self, keys: Sequence[str] | None = None, start: float | None = None,
                   end: float | None = None, every: float | None = None, agg: str = "avg",
                   *, max_quality: int = DEFAULT_MAX_QUALITY,
                   source: Source = "auto") -> dict[str, Series]:
        return self.inner.query_many(keys, start, end, every, agg, max_quality=max_quality,
                                     source=source)

    def interpolate(self, key: str, start: float, end: float, every: float,
                    method: str = "linear", *,
                    max_quality: int = DEFAULT_MAX_QUALITY) -> Series:
        return self.inner.interpolate(key, start, end, every, method, max_quality=max_quality)

    def latest(self, key: str) -> Series:
        return self.inner.latest(key)

    def rollup(self) -> int:
        return self.inner.rollup()

    def retain(self, now: float | None = None) -> RetentionReport:
        return self.inner.retain(now)

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        return self.inner.dead_letters(limit)

    def count(self, key: str | None = None) -> int:
        return self.inner.count(key)
