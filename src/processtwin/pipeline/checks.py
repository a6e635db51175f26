"""Vectorised quality checks over a batch: NaN, range, rate of change and flatline.

All checks run with NumPy over whole batches (never per value in Python) and carry a small
per-point state across batches (:class:`CheckState`), so a batch boundary changes nothing.

* **NaN** – a non-finite value from a good source is bad (``nan``).
* **Range** – outside the point's hard ``[lo, hi]`` is bad (``range``).
* **Rate of change** – ``|Δv/Δt|`` above ``max_roc`` (unit/s) against the previous usable
  value is bad (``roc``). A lone spike is flagged and the sample after it is not; a real step
  costs one flagged sample.
* **Flatline** – a value exactly unchanged for at least ``flatline_s`` seconds is bad
  (``flatline``): a healthy noisy sensor never repeats itself exactly.

Example:
    >>> import numpy as np
    >>> from processtwin.core import Batch, PointSpec, PointTable
    >>> t = PointTable([PointSpec(twin="r", name="T", lo=0, hi=200, max_roc=5.0)])
    >>> st = CheckState(len(t))
    >>> out = apply_checks(Batch.of([0, 0, 0, 0], [0, 1, 2, 3], [100, 101, 150, 101.5]), t, st)
    >>> out.quality.tolist(), out.reason.tolist()
    ([0, 0, 2, 0], [0, 0, 4, 0])
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from processtwin.core.batch import Batch
from processtwin.core.points import PointTable
from processtwin.core.quality import Quality, Reason

__all__ = ["CheckState", "apply_checks"]

F64 = npt.NDArray[np.float64]
_BAD = np.uint8(Quality.BAD)


class CheckState:
    """Per-point memory the checks need between batches."""

    def __init__(self, n: int) -> None:
        self.last_value: F64 = np.full(n, np.nan)  # last value seen (for flatline)
        self.run_start: F64 = np.full(n, np.nan)  # ts at which last_value first appeared
        self.last_v: F64 = np.full(n, np.nan)  # last usable value and its ts (for roc)
        self.last_t: F64 = np.full(n, np.nan)
        self.last_flag = np.zeros(n, dtype=bool)  # was that value roc-flagged?
        self.prev_v: F64 = np.full(n, np.nan)  # the usable value before it
        self.prev_t: F64 = np.full(n, np.nan)


def _ffill(values: F64, valid: npt.NDArray[np.bool_]) -> F64:
    """Forward-fill ``values`` over rows where ``valid`` is False (NaN before the first)."""
    idx = np.where(valid, np.arange(len(values)), -1)
    np.maximum.accumulate(idx, out=idx)
    out = np.where(idx >= 0, values[np.maximum(idx, 0)], np.nan)
    return out


def _shift(a: npt.NDArray[Any], first: npt.NDArray[np.bool_], carry: npt.NDArray[Any]
           ) -> npt.NDArray[Any]:
    out = np.empty_like(a)
    out[1:] = a[:-1]
    out[first] = carry[first]
    return out


def _roc_flags(v: F64, ts: F64, pts: npt.NDArray[np.int32], first: npt.NDArray[np.bool_],
               usable: npt.NDArray[np.bool_], max_roc: F64, st: CheckState
               ) -> npt.NDArray[np.bool_]:
    """Rate-of-change flags over the usable rows.

    A row is flagged when its rate against the previous usable row exceeds the limit, unless
    that previous row was itself flagged and the rate against the row before it is within
    the limit: that is the return from a lone spike, which is good. A real step therefore
    costs exactly one flagged sample and the new level is accepted from the next one.
    """
    flags = np.zeros(len(v), dtype=bool)
    u = np.flatnonzero(usable)
    if len(u) == 0:
        return flags
    pu, vu, tu = pts[u], v[u], ts[u]
    fu = np.ones(len(u), dtype=bool)
    fu[1:] = pu[1:] != pu[:-1]
    limit = max_roc[pu]
    prev_v = _shift(vu, fu, st.last_v[pu])
    prev_t = _shift(tu, fu, st.last_t[pu])
    prev2_v = _shift(prev_v, fu, st.prev_v[pu])
    prev2_t = _shift(prev_t, fu, st.prev_t[pu])
    with np.errstate(invalid="ignore", divide="ignore"):
        r1 = np.abs(vu - prev_v) / (tu - prev_t)
        r2 = np.abs(vu - prev2_v) / (tu - prev2_t)
    f1 = (tu > prev_t) & (r1 > limit)
    back_ok = (tu > prev2_t) & (r2 <= limit)
    # f[i] = f1[i] and not (f[i-1] and back_ok[i]): within a run of f1, the flags alternate
    # from an anchor (a row whose predecessor is not flagged, or with no way back), so the
    # recurrence is solved with a running anchor index and its parity.
    idx = np.arange(len(u))
    prev_f1 = _shift(f1, fu, np.zeros(len(u), dtype=bool))
    anchor = ~f1 | ~back_ok | (~fu & ~prev_f1) | (fu & ~st.last_flag[pu])
    virtual = f1 & back_ok & fu & st.last_flag[pu]  # the carried flag sits just before
    pos = np.where(anchor, idx, np.where(virtual, idx - 1, -(10**9)))
    last_anchor = np.maximum.accumulate(pos)
    f = f1 & ((idx - last_anchor) % 2 == 0)
    last = np.ones(len(u), dtype=bool)
    last[:-1] = pu[1:] != pu[:-1]
    lp = pu[last]
    st.prev_v[lp] = prev_v[last]
    st.prev_t[lp] = prev_t[last]
    st.last_v[lp] = vu[last]
    st.last_t[lp] = tu[last]
    st.last_flag[lp] = f[last]
    flags[u] = f
    return flags


def apply_checks(batch: Batch, table: PointTable, st: CheckState) -> Batch:
    """Return the batch sorted by (point, ts) with quality and reasons set by the checks."""
    if len(batch) == 0:
        return batch
    b = batch.sorted()
    pts, ts, v = b.point, b.ts, b.value
    q = b.quality.copy()
    r = b.reason.copy()
    first = np.ones(len(pts), dtype=bool)
    first[1:] = pts[1:] != pts[:-1]
    finite = np.isfinite(v)
    source_ok = q == Quality.GOOD

    nan_rows = ~finite & source_ok
    r[nan_rows] |= np.uint32(Reason.NAN)
    q[nan_rows] = _BAD

    out_of_range = finite & ((v < table.lo[pts]) | (v > table.hi[pts]))
    r[out_of_range] |= np.uint32(Reason.RANGE)
    q[out_of_range] = _BAD

    usable = finite & ~out_of_range & (q != _BAD)
    roc = _roc_flags(v, ts, pts, first, usable, table.max_roc, st)
    r[roc] |= np.uint32(Reason.ROC)
    q[roc] = _BAD

    # flatline: how long has the value been exactly the same?
    prev_v = _shift(v, first, st.last_value[pts])
    changed = ~(v == prev_v)
    run_ts = np.where(changed, ts, np.nan)
    run_ts[first & ~changed] = st.run_start[pts[first & ~changed]]
    starts = changed | first
    run_start = _ffill(run_ts, starts)
    stuck = finite & ((ts - run_start) >= table.flatline_s[pts])
    r[stuck] |= np.uint32(Reason.FLATLINE)
    q[stuck] = _BAD

    # carry state to the next batch: last row per point, last accepted row per point
    last = np.ones(len(pts), dtype=bool)
    last[:-1] = pts[1:] != pts[:-1]
    lp = pts[last]
    st.last_value[lp] = v[last]
    st.run_start[lp] = run_start[last]
    return Batch(pts, ts, v, q, r)
