"""Vectorised quality checks over a batch: NaN, range, rate of change and flatline.

All checks run with NumPy over whole batches (never per value in Python) and carry a small
per-point state across batches (:class:`CheckState`), so a batch boundary changes nothing.

* **NaN** – a non-finite value from a good source is bad (``nan``).
* **Range** – outside the point's hard ``[lo, hi]`` is bad (``range``).
* **Rate of change** – ``|Δv/Δt|`` above ``max_roc`` (unit/s) against the last *accepted*
  value is bad (``roc``). Two passes: a lone spike is flagged, the sample after it is not.
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
        self.ref_value: F64 = np.full(n, np.nan)  # last accepted value (for roc)
        self.ref_ts: F64 = np.full(n, np.nan)


def _prev_in_group(values: F64, first: npt.NDArray[np.bool_], carry: F64) -> F64:
    """The previous row's value within each point group; ``carry`` for a group's first row."""
    prev = np.empty_like(values)
    prev[1:] = values[:-1]
    prev[first] = carry[first]
    return prev


def _ffill(values: F64, valid: npt.NDArray[np.bool_]) -> F64:
    """Forward-fill ``values`` over rows where ``valid`` is False (NaN before the first)."""
    idx = np.where(valid, np.arange(len(values)), -1)
    np.maximum.accumulate(idx, out=idx)
    out = np.where(idx >= 0, values[np.maximum(idx, 0)], np.nan)
    return out


def _roc_flags(v: F64, ts: F64, pts: npt.NDArray[np.int32], first: npt.NDArray[np.bool_],
               usable: npt.NDArray[np.bool_], max_roc: F64, st: CheckState
               ) -> npt.NDArray[np.bool_]:
    n = len(v)
    limit = max_roc[pts]
    check = usable & np.isfinite(limit)
    if not check.any():
        return np.zeros(n, dtype=bool)
    rows = np.arange(n)
    group_start = np.maximum.accumulate(np.where(first, rows, 0))
    flagged = np.zeros(n, dtype=bool)
    for _ in range(2):
        accepted = usable & ~flagged
        # index of the last accepted row strictly before each row
        idx = np.where(accepted, rows, -1)
        prev_idx = np.empty(n, dtype=np.int64)
        prev_idx[0] = -1
        prev_idx[1:] = np.maximum.accumulate(idx)[:-1]
        in_group = prev_idx >= group_start
        safe = np.maximum(prev_idx, 0)
        ref_v = np.where(in_group, v[safe], st.ref_value[pts])
        ref_t = np.where(in_group, ts[safe], st.ref_ts[pts])
        dt = ts - ref_t
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = np.abs(v - ref_v) / dt
        new = check & (dt > 0) & np.isfinite(rate) & (rate > limit)
        if np.array_equal(new, flagged):
            break
        flagged = new
    return flagged


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
    prev_v = _prev_in_group(v, first, st.last_value[pts])
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
    acc = usable & ~roc
    if acc.any():
        ap, at, av = pts[acc], ts[acc], v[acc]
        alast = np.ones(len(ap), dtype=bool)
        alast[:-1] = ap[1:] != ap[:-1]
        st.ref_value[ap[alast]] = av[alast]
        st.ref_ts[ap[alast]] = at[alast]
    return Batch(pts, ts, v, q, r)
