"""An in-memory :class:`~processtwin.store.base.TimeSeriesStore` for tests of higher layers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from processtwin.core.batch import Batch, DeadLetter
from processtwin.core.points import PointTable
from processtwin.core.quality import Quality
from processtwin.errors import InvalidInputError, UnknownPointError
from processtwin.store.base import AGGREGATES, Series

__all__ = ["MemoryStore"]

_AGG: dict[str, Callable[[np.ndarray[Any, np.dtype[np.float64]]], Any]] = {
    "avg": np.mean, "min": np.min, "max": np.max,
    "first": lambda a: a[0], "last": lambda a: a[-1]}


class MemoryStore:
    """Keeps every batch in lists of arrays. Not durable, by design."""

    def __init__(self) -> None:
        self._table: PointTable | None = None
        self._parts: list[Batch] = []
        self._dead: list[DeadLetter] = []

    def register(self, table: PointTable) -> None:
        self._table = table

    def _idx(self, key: str) -> int:
        if self._table is None or key not in self._table:
            raise UnknownPointError(f"unknown point {key!r}")
        return self._table.index(key)

    def append(self, batch: Batch) -> int:
        if len(batch):
            self._parts.append(batch)
        return len(batch)

    def append_dead(self, items: Sequence[DeadLetter]) -> None:
        self._dead.extend(items)

    def _rows(self, key: str) -> Batch:
        idx = self._idx(key)
        b = Batch.concat(self._parts)
        sel = b.take(b.point == idx)
        return sel.take(np.argsort(sel.ts, kind="stable"))

    def query(self, key: str, start: float | None = None, end: float | None = None,
              every: float | None = None, agg: str = "avg") -> Series:
        if agg not in AGGREGATES:
            raise InvalidInputError(f"unknown aggregate {agg!r}; use one of {AGGREGATES}")
        if every is not None and every <= 0:
            raise InvalidInputError("every must be > 0 seconds")
        b = self._rows(key)
        mask = np.ones(len(b), dtype=bool)
        if start is not None:
            mask &= b.ts >= start
        if end is not None:
            mask &= b.ts < end
        b = b.take(mask)
        if every is None:
            return Series(b.ts, b.value, b.quality, b.reason)
        buckets = np.floor(b.ts / every) * every
        out_t, out_v, out_q = [], [], []
        for bt in np.unique(buckets):
            sel = (buckets == bt)
            use = sel & (b.quality != Quality.BAD) & np.isfinite(b.value)
            vals = b.value[use]
            if agg == "count":
                val = float(len(vals))
            elif len(vals) == 0:
                val = np.nan
            else:
                val = float(_AGG[agg](vals))
            out_t.append(bt)
            out_v.append(val)
            out_q.append(int(b.quality[use].max()) if use.any() else int(Quality.BAD))
        return Series(np.array(out_t, float), np.array(out_v, float),
                      np.array(out_q, np.uint8), np.zeros(len(out_t), np.uint32))

    def latest(self, key: str) -> Series:
        b = self._rows(key)
        if len(b) == 0:
            return Series.empty()
        i = np.array([len(b) - 1])
        return Series(b.ts[i], b.value[i], b.quality[i], b.reason[i])

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        return list(reversed(self._dead[-limit:]))

    def count(self, key: str | None = None) -> int:
        if key is None:
            return sum(len(b) for b in self._parts)
        return len(self._rows(key))

    def close(self) -> None:
        pass
