"""An in-memory :class:`~processtwin.store.base.TimeSeriesStore` for tests of higher layers.

It follows every convention of :mod:`processtwin.store.base` (last write wins, latest by
source time, roll-up and retention) with the NumPy functions of
:mod:`processtwin.store.compute`, and is not durable, by design. Appends are O(1); the rows
are merged, sorted and de-duplicated on the next read.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence

import numpy as np

from processtwin.core.batch import Batch, DeadLetter
from processtwin.core.points import PointTable
from processtwin.errors import InvalidInputError, UnknownPointError
from processtwin.store.base import (
    DEFAULT_MAX_QUALITY,
    INTERPOLATIONS,
    ROLLUP_SECONDS,
    QuerySpec,
    Retention,
    RetentionReport,
    Series,
    Source,
    grid,
)
from processtwin.store.compute import (
    Rows,
    Summary,
    aggregate,
    aggregate_summary,
    interpolate,
    normalize,
    summarize,
    too_old,
)

__all__ = ["MemoryStore"]

_DAY = 86_400.0


class MemoryStore:
    """Keeps every row in NumPy arrays. Not durable, by design."""

    def __init__(self, *, retention: Retention = Retention()) -> None:
        self.retention = retention
        self._lock = threading.RLock()
        self._key_id: dict[str, int] = {}
        self._keys: list[str] = []
        self._ids = np.empty(0, np.int32)
        self._parts: list[Batch] = []
        self._rows = Batch.empty()  # normalised: sorted by (id, ts), unique
        self._frozen: dict[int, Summary] = {}  # summaries of minutes whose raw rows expired
        self._horizon: float | None = None
        self._rollup_horizon: float | None = None
        self._dead: list[DeadLetter] = []

    def register(self, table: PointTable) -> None:
        with self._lock:
            for key in (s.key for s in table.specs):
                if key not in self._key_id:
                    self._key_id[key] = len(self._keys)
                    self._keys.append(key)
            self._ids = np.array([self._key_id[s.key] for s in table.specs], np.int32)

    def _id(self, key: str) -> int:
        try:
            return self._key_id[key]
        except KeyError:
            raise UnknownPointError(f"unknown point {key!r}") from None

    def append(self, batch: Batch) -> int:
        if len(batch) == 0:
            return 0
        with self._lock:
            if len(self._ids) == 0 or int(batch.point.max()) >= len(self._ids) or \
                    int(batch.point.min()) < 0:
                raise InvalidInputError("batch point ids do not index the registered table")
            mapped = Batch(self._ids[batch.point], batch.ts, batch.value, batch.quality,
                           batch.reason)
            keep, dead = too_old(normalize(mapped), self._horizon, self._keys.__getitem__)
            self._dead.extend(dead)
            if len(keep):
                self._parts.append(keep)
            return len(keep)

    def flush(self) -> int:
        return 0

    def append_dead(self, items: Sequence[DeadLetter]) -> None:
        with self._lock:
            self._dead.extend(items)

    def _compact(self) -> Batch:
        if self._parts:
            self._rows = normalize(Batch.concat([self._rows, *self._parts]))
            self._parts = []
        return self._rows

    def _point_rows(self, pid: int) -> Rows:
        b = self._compact()
        lo = int(np.searchsorted(b.point, pid, "left"))
        hi = int(np.searchsorted(b.point, pid, "right"))
        return Rows(b.ts[lo:hi], b.value[lo:hi], b.quality[lo:hi], b.reason[lo:hi])

    def _summary(self, pid: int, rows: Rows) -> Summary:
        live = summarize(rows)
        frozen = self._frozen.get(pid)
        return live if frozen is None else Summary.concat([frozen, live])

    def query(self, key: str, start: float | None = None, end: float | None = None,
              every: float | None = None, agg: str = "avg", *,
              max_quality: int = DEFAULT_MAX_QUALITY, source: Source = "auto") -> Series:
        spec = QuerySpec.make(start, end, every, agg, max_quality, source)
        with self._lock:
            return self._query(self._id(key), spec)

    def _query(self, pid: int, spec: QuerySpec) -> Series:
        rows = self._point_rows(pid)
        if spec.every is None:
            lo, hi = rows.window(spec.start, spec.end)
            return Series(rows.ts[lo:hi], rows.value[lo:hi], rows.quality[lo:hi],
                          rows.reason[lo:hi])
        if spec.rollup:
            return aggregate_summary(self._summary(pid, rows), every=spec.every, agg=spec.agg,
                                     start=spec.start, end=spec.end)
        return aggregate(rows, every=spec.every, agg=spec.agg, start=spec.start,
                         end=spec.end, max_quality=spec.max_quality)

    def query_many(self, keys: Sequence[str] | None = None, start: float | None = None,
                   end: float | None = None, every: float | None = None, agg: str = "avg",
                   *, max_quality: int = DEFAULT_MAX_QUALITY,
                   source: Source = "auto") -> dict[str, Series]:
        spec = QuerySpec.make(start, end, every, agg, max_quality, source)
        with self._lock:
            names = list(self._keys) if keys is None else list(keys)
            ids = [self._id(k) for k in names]
            out = {k: self._query(pid, spec) for k, pid in zip(names, ids, strict=True)}
        return {k: s for k, s in out.items() if len(s)}

    def interpolate(self, key: str, start: float, end: float, every: float,
                    method: str = "linear", *,
                    max_quality: int = DEFAULT_MAX_QUALITY) -> Series:
        if method not in INTERPOLATIONS:
            raise InvalidInputError(f"unknown method {method!r}; use one of {INTERPOLATIONS}")
        QuerySpec.make(start, end, None, "avg", max_quality, "raw")
        g = grid(start, end, every)
        with self._lock:
            rows = self._point_rows(self._id(key))
        return interpolate(rows, np.round(g * 1e6) / 1e6, method, max_quality)

    def latest(self, key: str) -> Series:
        with self._lock:
            pid = self._id(key)
            rows = self._point_rows(pid)
            if len(rows):
                i = slice(len(rows) - 1, len(rows))
                return Series(rows.ts[i], rows.value[i], rows.quality[i], rows.reason[i])
            frozen = self._frozen.get(pid)
            if frozen is None or len(frozen) == 0:
                return Series.empty()
            i = slice(len(frozen) - 1, len(frozen))
            return Series(frozen.la_t[i], frozen.la_v[i], frozen.la_q[i].astype(np.uint8),
                          frozen.la_r[i].astype(np.uint32))

    def rollup(self) -> int:
        return 0  # summaries are computed on demand from the raw rows

    def retain(self, now: float | None = None) -> RetentionReport:
        now = time.time() if now is None else now
        raw_rows = roll_rows = 0
        with self._lock:
            b = self._compact()
            if self.retention.raw_days is not None:
                cut = math.floor((now - self.retention.raw_days * _DAY) / ROLLUP_SECONDS)
                cut *= ROLLUP_SECONDS
                old = b.ts < cut
                raw_rows = int(old.sum())
                if raw_rows:
                    for pid in np.unique(b.point[old]).tolist():
                        sel = old & (b.point == pid)
                        rows = Rows(b.ts[sel], b.value[sel], b.quality[sel], b.reason[sel])
                        s = summarize(rows)
                        prev = self._frozen.get(pid)
                        self._frozen[pid] = s if prev is None else Summary.concat([prev, s])
                    self._rows = b.take(~old)
                self._horizon = max(cut, self._horizon or -math.inf)
            if self.retention.rollup_days is not None:
                rcut = now - self.retention.rollup_days * _DAY
                rcut = math.floor(rcut / ROLLUP_SECONDS) * ROLLUP_SECONDS
                for pid, s in list(self._frozen.items()):
                    keep = s.minute >= rcut
                    roll_rows += int((~keep).sum())
                    self._frozen[pid] = s.take(keep)
                self._rollup_horizon = max(rcut, self._rollup_horizon or -math.inf)
        return RetentionReport(raw_rows, roll_rows, self._horizon, self._rollup_horizon)

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        with self._lock:
            return list(reversed(self._dead[-limit:])) if limit > 0 else []

    def count(self, key: str | None = None) -> int:
        with self._lock:
            if key is None:
                return len(self._compact())
            return len(self._point_rows(self._id(key)))

    def close(self) -> None:
        pass
