"""As-of alignment of irregular series: the newest sample at or before each grid time.

Derived points and drift pairs combine points that are sampled at different times. Both use
the same rule (a zero-order hold, "last observation carried forward"): the value of a series
at time ``t`` is its newest sample with ``ts ≤ t``; before its first sample it has none.
:class:`Latest` carries each point's newest sample across batches so that live results equal
results recomputed over the whole history (when batches arrive in time order).

Example:
    >>> import numpy as np
    >>> asof_index(np.array([1.0, 3.0]), np.array([0.5, 1.0, 2.0, 4.0])).tolist()
    [-1, 0, 0, 1]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from processtwin.core.batch import Batch

__all__ = ["Latest", "Series", "asof_index", "point_slices"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Series:
    """One point's samples in time order: ts (s), value, quality, reason bits."""

    ts: F64
    value: F64
    quality: npt.NDArray[np.uint8]
    reason: npt.NDArray[np.uint32]

    def __post_init__(self) -> None:
        if not len(self.ts) == len(self.value) == len(self.quality) == len(self.reason):
            raise ValueError("series columns differ in length")

    def __len__(self) -> int:
        return len(self.ts)

    @classmethod
    def of(cls, ts: npt.ArrayLike, value: npt.ArrayLike, quality: npt.ArrayLike | None = None,
           reason: npt.ArrayLike | None = None) -> Series:
        t = np.asarray(ts, dtype=np.float64)
        n = len(t)
        return cls(t, np.asarray(value, dtype=np.float64),
                   np.zeros(n, np.uint8) if quality is None else np.asarray(quality, np.uint8),
                   np.zeros(n, np.uint32) if reason is None else np.asarray(reason, np.uint32))

    def take(self, idx: npt.NDArray[np.generic]) -> Series:
        return Series(self.ts[idx], self.value[idx], self.quality[idx], self.reason[idx])


def asof_index(ts: F64, grid: F64) -> I64:
    """Index of the newest ``ts`` at or before each grid time; -1 where there is none.

    ``ts`` must be sorted ascending; among equal timestamps the last one wins.
    """
    return np.searchsorted(ts, grid, side="right").astype(np.int64) - 1


def point_slices(batch: Batch, points: npt.NDArray[np.int32]) -> tuple[I64, I64]:
    """Row ranges ``[lo, hi)`` of each point in a batch sorted by (point, ts)."""
    lo = np.searchsorted(batch.point, points, side="left").astype(np.int64)
    hi = np.searchsorted(batch.point, points, side="right").astype(np.int64)
    return lo, hi


class Latest:
    """The newest sample of every point, carried across batches."""

    def __init__(self, n: int) -> None:
        self.ts: F64 = np.full(n, -np.inf)
        self.value: F64 = np.full(n, np.nan)
        self.quality = np.zeros(n, dtype=np.uint8)
        self.reason = np.zeros(n, dtype=np.uint32)

    def series(self, p: int) -> Series:
        """The carried sample of point ``p`` as a one-row series (empty when none)."""
        if not np.isfinite(self.ts[p]):
            return Series.of([], [])
        return Series(self.ts[p:p + 1].copy(), self.value[p:p + 1].copy(),
                      self.quality[p:p + 1].copy(), self.reason[p:p + 1].copy())

    def update(self, batch: Batch) -> None:
        """Take each point's last row of a batch sorted by (point, ts), unless older."""
        if len(batch) == 0:
            return
        pts = batch.point
        last = np.ones(len(pts), dtype=bool)
        last[:-1] = pts[1:] != pts[:-1]
        rows = np.flatnonzero(last)
        newer = batch.ts[rows] >= self.ts[pts[rows]]
        rows = rows[newer]
        p = pts[rows]
        self.ts[p] = batch.ts[rows]
        self.value[p] = batch.value[rows]
        self.quality[p] = batch.quality[rows]
        self.reason[p] = batch.reason[rows]
