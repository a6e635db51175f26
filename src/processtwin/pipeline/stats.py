"""Quality figures per point over a sliding window, for twin health and ``/metrics``.

Every row that leaves the pipeline falls in exactly one category::

    imputed    reason has the ``imputed`` bit (a filled gap; its quality is uncertain)
    good       quality good
    uncertain  quality uncertain (outlier, drift, source said so), not imputed
    bad        quality bad

Counts are kept in ``buckets`` time buckets of ``window_s/buckets`` seconds per point (a ring
indexed by ``floor(ts/width) mod buckets``, by *source* timestamp), so the window slides in
steps of one bucket and memory is fixed: ``points × buckets × 4`` counters. A share is the
category's count over all rows in the window (NaN with no rows). Alongside: each point's last
problem (the newest non-good row: its quality, reason bits and ts), the number of gaps found,
and the drift status fed from :class:`~processtwin.pipeline.drift.DriftMonitor`.

Example:
    >>> from processtwin.core import Batch, PointSpec, PointTable
    >>> st = QualityStats(PointTable([PointSpec(twin="r", name="T")]), window_s=60, buckets=6)
    >>> st.update(Batch.of([0, 0, 0, 0], [1, 2, 3, 4], [1, 2, 3, 4], [0, 0, 1, 2], [0, 0, 256, 2]))
    >>> q = st.point(0, now=4.0)
    >>> q.good, q.uncertain, q.bad, q.last_problem, q.last_problem_ts
    (0.5, 0.25, 0.25, 'bad: range', 4.0)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from processtwin.core.batch import Batch
from processtwin.core.points import PointTable
from processtwin.core.quality import Quality, Reason, describe
from processtwin.errors import InvalidInputError
from processtwin.pipeline.drift import DriftStatus
from processtwin.pipeline.gaps import Gap

__all__ = ["CATEGORIES", "PointQuality", "QualityStats"]

#: Category names in column order of :meth:`QualityStats.counts`.
CATEGORIES = ("good", "uncertain", "bad", "imputed")


@dataclass(frozen=True, slots=True)
class PointQuality:
    """The quality figures of one point (shares are NaN when the window holds no rows)."""

    key: str
    window_s: float
    rows: int
    good: float
    uncertain: float
    bad: float
    imputed: float
    last_problem: str | None
    last_problem_ts: float | None
    gaps: int
    drift: bool
    drift_bias: float | None

    def to_dict(self) -> dict[str, Any]:
        def share(x: float) -> float | None:
            return None if np.isnan(x) else x

        return {"key": self.key, "window_s": self.window_s, "rows": self.rows,
                "good": share(self.good), "uncertain": share(self.uncertain),
                "bad": share(self.bad), "imputed": share(self.imputed),
                "last_problem": self.last_problem, "last_problem_ts": self.last_problem_ts,
                "gaps": self.gaps, "drift": self.drift, "drift_bias": self.drift_bias}


class QualityStats:
    """Sliding-window quality figures of every point of a table."""

    def __init__(self, table: PointTable, window_s: float = 3600.0, buckets: int = 60) -> None:
        if not window_s > 0 or buckets < 1:
            raise InvalidInputError("window_s must be positive and buckets at least 1")
        n = len(table)
        self.table = table
        self.window_s = float(window_s)
        self.buckets = int(buckets)
        self.width = self.window_s / self.buckets
        self._counts = np.zeros(n * self.buckets * 4, dtype=np.int64)
        self._epoch = np.full(n * self.buckets, np.iinfo(np.int64).min, dtype=np.int64)
        self.newest = -np.inf
        self.problem_ts = np.full(n, -np.inf)
        self.problem_quality = np.zeros(n, dtype=np.uint8)
        self.problem_reason = np.zeros(n, dtype=np.uint32)
        self.gap_count = np.zeros(n, dtype=np.int64)
        self.drift_active = np.zeros(n, dtype=bool)
        self.drift_bias = np.full(n, np.nan)

    def update(self, batch: Batch) -> None:
        """Count a batch's rows (any order)."""
        if len(batch) == 0:
            return
        pts, ts, q = batch.point.astype(np.int64), batch.ts, batch.quality
        imputed = (batch.reason & np.uint32(Reason.IMPUTED)) != 0
        cat = np.where(imputed, 3, np.minimum(q, 2)).astype(np.int64)
        e = np.floor(ts / self.width).astype(np.int64)
        cell = pts * self.buckets + e % self.buckets
        before = self._epoch[cell].copy()
        np.maximum.at(self._epoch, cell, e)
        moved = np.unique(cell[self._epoch[cell] != before])
        if len(moved):  # a bucket now holds a newer period: forget its old counts
            self._counts.reshape(-1, 4)[moved] = 0
        current = e == self._epoch[cell]
        np.add.at(self._counts, cell[current] * 4 + cat[current], 1)
        self.newest = max(self.newest, float(ts.max()))

        prob = np.flatnonzero(q != Quality.GOOD)
        if len(prob):
            order = prob[np.lexsort((ts[prob], pts[prob]))]
            last = np.ones(len(order), dtype=bool)
            last[:-1] = pts[order][1:] != pts[order][:-1]
            rows = order[last]
            p = pts[rows]
            newer = ts[rows] >= self.problem_ts[p]
            rows, p = rows[newer], p[newer]
            self.problem_ts[p] = ts[rows]
            self.problem_quality[p] = q[rows]
            self.problem_reason[p] = batch.reason[rows]

    def record_gaps(self, gaps: Iterable[Gap]) -> None:
        for g in gaps:
            self.gap_count[g.point] += 1

    def set_drift(self, status: Iterable[DriftStatus]) -> None:
        """Take the drift status of each monitored sensor (active alarm and bias)."""
        self.drift_active[:] = False
        for s in status:
            i = self.table.get(s.sensor)
            if i is None:
                continue
            self.drift_active[i] |= s.active
            self.drift_bias[i] = s.bias if s.active else np.nan

    def counts(self, now: float | None = None) -> npt.NDArray[np.int64]:
        """Rows per point and category (columns :data:`CATEGORIES`) in the window ending now.

        ``now`` defaults to the newest source timestamp seen.
        """
        t = self.newest if now is None else now
        n = len(self.table)
        if not np.isfinite(t):
            return np.zeros((n, 4), dtype=np.int64)
        e_now = int(np.floor(t / self.width))
        epoch = self._epoch.reshape(n, self.buckets)
        live = (epoch > e_now - self.buckets) & (epoch <= e_now)
        c = self._counts.reshape(n, self.buckets, 4)
        return np.asarray((c * live[:, :, None]).sum(axis=1))

    def shares(self, now: float | None = None) -> npt.NDArray[np.float64]:
        c = self.counts(now)
        total = c.sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total > 0, c / np.maximum(total, 1), np.nan)

    def point(self, point: int | str, now: float | None = None) -> PointQuality:
        i = self.table.index(point) if isinstance(point, str) else int(point)
        return self.snapshot(now, [i])[0]

    def snapshot(self, now: float | None = None, points: Iterable[int] | None = None
                 ) -> list[PointQuality]:
        """Figures of the given points (all by default)."""
        c = self.counts(now)
        sh = self.shares(now)
        out = []
        for i in range(len(self.table)) if points is None else points:
            has = bool(np.isfinite(self.problem_ts[i]))
            out.append(PointQuality(
                self.table.spec(i).key, self.window_s, int(c[i].sum()),
                float(sh[i, 0]), float(sh[i, 1]), float(sh[i, 2]), float(sh[i, 3]),
                describe(int(self.problem_quality[i]), int(self.problem_reason[i]))
                if has else None,
                float(self.problem_ts[i]) if has else None,
                int(self.gap_count[i]), bool(self.drift_active[i]),
                None if np.isnan(self.drift_bias[i]) else float(self.drift_bias[i])))
        return out
