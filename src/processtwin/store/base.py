"""The time-series store seam: :class:`TimeSeriesStore` and the :class:`Series` it returns.

Every backend (in-memory double, embedded DuckDB, PostgreSQL) implements the same Protocol and
passes one conformance suite (``tests/store/test_conformance.py``). Calls are synchronous; the
runtime makes them from one writer thread so the event loop never blocks on disk.

Time is float seconds since the Unix epoch (UTC). Downsampling averages the values whose
quality is not bad; a bucket's quality is the worst quality among the values it used (bad
when it had none).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from processtwin.core.batch import Batch, DeadLetter
from processtwin.core.points import PointTable

__all__ = ["AGGREGATES", "Series", "TimeSeriesStore"]

AGGREGATES = ("avg", "min", "max", "first", "last", "count")


@dataclass(frozen=True, slots=True)
class Series:
    """Aligned columns of one point's history."""

    ts: npt.NDArray[np.float64]
    value: npt.NDArray[np.float64]
    quality: npt.NDArray[np.uint8]
    reason: npt.NDArray[np.uint32]

    def __len__(self) -> int:
        return len(self.ts)

    @classmethod
    def empty(cls) -> Series:
        return cls(np.empty(0), np.empty(0), np.empty(0, np.uint8), np.empty(0, np.uint32))


@runtime_checkable
class TimeSeriesStore(Protocol):
    """History of every point, with quality."""

    def register(self, table: PointTable) -> None:
        """Declare the points; ids in later batches index this table."""

    def append(self, batch: Batch) -> int:
        """Durably commit a batch; return the number of rows written."""

    def append_dead(self, items: Sequence[DeadLetter]) -> None:
        """Persist dead letters."""

    def query(self, key: str, start: float | None = None, end: float | None = None,
              every: float | None = None, agg: str = "avg") -> Series:
        """Raw rows of ``key`` in [start, end), or per-``every``-second buckets."""

    def latest(self, key: str) -> Series:
        """The newest row of ``key`` by source timestamp (empty if none)."""

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        """The newest dead letters, newest first."""

    def count(self, key: str | None = None) -> int:
        """Rows stored, for one point or in all."""

    def close(self) -> None:
        """Flush and release the backend."""
