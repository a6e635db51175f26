"""Gaps: missing samples against each point's expected period; filled only when asked, openly.

A point with expected sampling period ``T`` (``period_s``) has a **gap** between two
consecutive rows at ``t₀ < t₁`` when ``t₁ − t₀ > gap_factor · T``. Every gap is reported as a
:class:`Gap`. It is **filled** when the point's ``fill`` is ``linear`` or ``ffill``, the gap
lasts at most ``max_fill_s`` and its bounding rows are usable (finite and not bad; for
``ffill`` only the row before). Filling adds ``K = round((t₁ − t₀)/T) − 1`` rows at
``t₀ + k·T``, ``k = 1..K`` (so the last one is at least ``T/2`` before ``t₁``) with values

* linear: ``v(t) = v₀ + (v₁ − v₀)·(t − t₀)/(t₁ − t₀)``
* ffill:  ``v(t) = v₀``

and quality *uncertain* with the ``imputed`` reason. They are extra rows: a measured value
is never replaced. Gaps are found when the next sample arrives (a gap still open is what
staleness, ``max_age_s``, is for). The last row of each point is carried across batches, so
a gap that spans a batch boundary is found and filled like any other.

With report-by-exception sources (an OPC UA subscription with a deadband sends nothing while
a value is unchanged) set ``period_s`` to the longest interval the source guarantees, or a
quiet sensor will look like a gappy one.

Example:
    >>> import numpy as np
    >>> from processtwin.core import Batch, PointSpec, PointTable
    >>> from processtwin.pipeline.config import QualityParams, QualitySettings
    >>> t = PointTable([PointSpec(twin="r", name="T")])
    >>> p = QualityParams.uniform(t, QualitySettings(period_s=1, fill="linear", max_fill_s=10))
    >>> b = Batch.of([0, 0, 0], [0.0, 1.0, 5.0], [10.0, 11.0, 15.0])
    >>> filled, gaps = find_gaps(b, np.ones(3, bool), p, GapState(1))
    >>> filled.ts.tolist(), filled.value.tolist(), gaps[0].imputed
    ([2.0, 3.0, 4.0], [12.0, 13.0, 14.0], 3)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from processtwin.core.batch import Batch
from processtwin.core.quality import Quality, Reason
from processtwin.pipeline.config import QualityParams

__all__ = ["Gap", "GapState", "find_gaps"]

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Gap:
    """A stretch without samples: from the row at ``start`` to the row at ``end`` (s)."""

    point: int
    start: float
    end: float
    imputed: int  # rows added to fill it (0: reported only)

    @property
    def duration(self) -> float:
        return self.end - self.start


class GapState:
    """The newest row of each point: its ts, value and whether it was usable."""

    def __init__(self, n: int) -> None:
        self.ts: F64 = np.full(n, np.nan)
        self.value: F64 = np.full(n, np.nan)
        self.usable = np.zeros(n, dtype=bool)


def _prev(a: npt.NDArray[Any], first: npt.NDArray[np.bool_], carry: npt.NDArray[Any]
          ) -> npt.NDArray[Any]:
    out = np.empty_like(a)
    out[1:] = a[:-1]
    out[first] = carry[first]
    return out


def find_gaps(batch: Batch, usable: npt.NDArray[np.bool_], params: QualityParams,
              st: GapState) -> tuple[Batch, list[Gap]]:
    """Gaps in a batch sorted by (point, ts), and the imputed rows that fill them.

    ``usable`` marks rows fit to bound a fill. Returns the imputed rows (sorted by point, ts)
    and every gap found; ``st`` is updated with each point's newest row.
    """
    if len(batch) == 0:
        return Batch.empty(), []
    pts, ts, v = batch.point, batch.ts, batch.value
    first = np.ones(len(pts), dtype=bool)
    first[1:] = pts[1:] != pts[:-1]
    period = params.period_s[pts]
    t0 = _prev(ts, first, st.ts[pts])
    with np.errstate(invalid="ignore"):
        is_gap = (ts - t0) > params.gap_factor[pts] * period
    g = np.flatnonzero(is_gap)
    gaps: list[Gap] = []
    imputed = Batch.empty()
    if len(g):
        v0 = _prev(v, first, st.value[pts])[g]
        u0 = _prev(usable, first, st.usable[pts])[g]
        gp, gt0, gt1, gv1, gper = pts[g], t0[g], ts[g], v[g], period[g]
        method = params.fill[gp]
        fill = (method > 0) & (gt1 - gt0 <= params.max_fill_s[gp]) & u0 & \
            ((method == 2) | usable[g])
        k_rows = np.where(fill, np.maximum(np.rint((gt1 - gt0) / gper) - 1, 0), 0
                          ).astype(np.int64)
        gaps = [Gap(int(p), float(a), float(b), int(k))
                for p, a, b, k in zip(gp, gt0, gt1, k_rows, strict=True)]
        total = int(k_rows.sum())
        if total:
            rep = np.repeat(np.arange(len(g)), k_rows)
            offsets = np.concatenate(([0], np.cumsum(k_rows)[:-1]))
            k = (np.arange(total) - offsets[rep] + 1).astype(np.float64)
            t_new = gt0[rep] + k * gper[rep]
            frac = (t_new - gt0[rep]) / (gt1[rep] - gt0[rep])
            linear = v0[rep] + (gv1[rep] - v0[rep]) * frac
            v_new = np.where(method[rep] == 1, linear, v0[rep])
            imputed = Batch(gp[rep].astype(np.int32), t_new, v_new,
                            np.full(total, Quality.UNCERTAIN, np.uint8),
                            np.full(total, Reason.IMPUTED, np.uint32))
    last = np.ones(len(pts), dtype=bool)
    last[:-1] = pts[1:] != pts[:-1]
    lp = pts[last]
    newer = ~(ts[last] < st.ts[lp])  # late rows do not move a point's newest row back
    lp = lp[newer]
    st.ts[lp] = ts[last][newer]
    st.value[lp] = v[last][newer]
    st.usable[lp] = usable[last][newer]
    return imputed, gaps
