"""The live state of all twins: latest value, source timestamp and quality per point.

The state is a set of NumPy columns over a :class:`~processtwin.core.points.PointTable`.
:meth:`LiveState.apply` merges a batch vectorised; the latest value per point is decided by
*source* timestamp, not arrival, so backfilled or late data never overwrites newer values.

Example:
    >>> from processtwin.core.points import PointSpec, PointTable
    >>> from processtwin.core.batch import Batch
    >>> st = LiveState(PointTable([PointSpec(twin="t", name="x")]))
    >>> _ = st.apply(Batch.of([0, 0], [2.0, 1.0], [20.0, 10.0]), now=3.0)
    >>> float(st.value[0]), float(st.ts[0])
    (20.0, 2.0)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from processtwin.core.batch import Batch
from processtwin.core.points import PointTable
from processtwin.core.quality import describe

__all__ = ["LiveState", "PointValue"]


@dataclass(frozen=True, slots=True)
class PointValue:
    """A snapshot of one point."""

    value: float | None
    ts: float | None
    quality: int
    reason: int
    std: float | None = None
    received: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "ts": self.ts,
            "quality": describe(self.quality, self.reason),
            "std": self.std,
        }


class LiveState:
    """Latest value per point, updated from batches."""

    def __init__(self, table: PointTable) -> None:
        n = len(table)
        self.table = table
        self.value: npt.NDArray[np.float64] = np.full(n, np.nan)
        self.std: npt.NDArray[np.float64] = np.full(n, np.nan)
        self.ts: npt.NDArray[np.float64] = np.full(n, -np.inf)
        self.received: npt.NDArray[np.float64] = np.full(n, -np.inf)
        self.quality = np.full(n, 2, dtype=np.uint8)
        self.reason = np.zeros(n, dtype=np.uint32)
        self.version = 0

    def grow(self) -> int:
        """Add columns for points appended to the table since; returns how many.

        New points start as bad and without a value, like every point at the start.

        Example:
            >>> from processtwin.core.points import PointSpec, PointTable
            >>> t = PointTable([PointSpec(twin="t", name="x")])
            >>> st = LiveState(t)
            >>> _ = t.extend([PointSpec(twin="t", name="y")])
            >>> st.grow(), len(st.value), int(st.quality[1])
            (1, 2, 2)
        """
        k = len(self.table) - len(self.value)
        if k <= 0:
            return 0
        self.value = np.concatenate([self.value, np.full(k, np.nan)])
        self.std = np.concatenate([self.std, np.full(k, np.nan)])
        self.ts = np.concatenate([self.ts, np.full(k, -np.inf)])
        self.received = np.concatenate([self.received, np.full(k, -np.inf)])
        self.quality = np.concatenate([self.quality, np.full(k, 2, dtype=np.uint8)])
        self.reason = np.concatenate([self.reason, np.zeros(k, dtype=np.uint32)])
        self.version += 1
        return k

    def apply(
        self,
        batch: Batch,
        now: float,
        std: npt.NDArray[np.float64] | None = None,
        *,
        presorted: bool = False,
    ) -> npt.NDArray[np.int32]:
        """Merge a batch; return the ids of the points whose latest value changed.

        ``presorted`` says the rows are already ordered by (point, ts), as the pipeline's
        output is, which saves a sort on the ingest path.
        """
        if len(batch) == 0:
            return np.empty(0, np.int32)
        # The last row per point after ordering by (point, ts) is that point's newest.
        order = (np.arange(len(batch)) if presorted
                 else np.lexsort((batch.ts, batch.point)))
        p_sorted = batch.point[order]
        last = np.ones(len(order), dtype=bool)
        last[:-1] = p_sorted[1:] != p_sorted[:-1]
        rows = order[last]
        pts = batch.point[rows]
        newer = batch.ts[rows] >= self.ts[pts]
        rows, pts = rows[newer], pts[newer]
        self.value[pts] = batch.value[rows]
        self.ts[pts] = batch.ts[rows]
        self.quality[pts] = batch.quality[rows]
        self.reason[pts] = batch.reason[rows]
        self.received[pts] = now
        if std is not None:
            self.std[pts] = std[rows]
        if len(pts):
            self.version += 1
        return pts.astype(np.int32)

    def get(self, idx: int) -> PointValue:
        has = bool(np.isfinite(self.ts[idx]))
        v = float(self.value[idx])
        s = float(self.std[idx])
        return PointValue(
            value=v if has and np.isfinite(v) else None,
            ts=float(self.ts[idx]) if has else None,
            quality=int(self.quality[idx]),
            reason=int(self.reason[idx]),
            std=s if np.isfinite(s) else None,
            received=float(self.received[idx]) if has else None,
        )

    def age(self, idxs: list[int], now: float) -> float:
        """Seconds since the newest source timestamp among ``idxs`` (inf when none)."""
        if not idxs:
            return float("inf")
        newest = float(np.max(self.ts[idxs]))
        return now - newest if np.isfinite(newest) else float("inf")
