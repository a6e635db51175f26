"""Pure NumPy functions the stores share: normalising batches, 1-minute summaries, bucket
aggregates, time-weighted averages and grid interpolation.

The in-memory store answers every query with these; the SQL backends use them to prepare
batches, merge dirty ranges and interpolate, and compute the same aggregates in SQL. The
conventions are those of :mod:`processtwin.store.base`. Every function here takes one
point's rows sorted by time with unique timestamps (see :func:`normalize`).

Example:
    >>> import numpy as np
    >>> from processtwin.store.compute import Rows, aggregate
    >>> rows = Rows(np.array([0.0, 10.0, 30.0]), np.array([1.0, 3.0, 5.0]),
    ...             np.zeros(3, np.uint8), np.zeros(3, np.uint32))
    >>> s = aggregate(rows, every=60.0, agg="twa")
    >>> float(s.value[0])  # 1 held 10 s, 3 held 20 s; the newest row holds no time
    2.3333333333333335
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import numpy.typing as npt

from processtwin.core.batch import Batch, DeadLetter
from processtwin.core.quality import Quality, Reason
from processtwin.store.base import DEFAULT_MAX_QUALITY, ROLLUP_SECONDS, Series

__all__ = [
    "Rows",
    "Summary",
    "aggregate",
    "aggregate_summary",
    "interpolate",
    "merge_ranges",
    "normalize",
    "point_ranges",
    "round_us",
    "summarize",
    "too_old",
]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
BAD = int(Quality.BAD)


def round_us(ts: F64) -> F64:
    """Round epoch seconds to whole microseconds (the stores' resolution)."""
    return np.round(np.asarray(ts, np.float64) * 1e6) / 1e6


def normalize(batch: Batch) -> Batch:
    """Round times to microseconds, sort by (point, ts) and keep the last write of each
    duplicate (point, ts). Cheap when the batch is already sorted without duplicates."""
    ts = round_us(batch.ts)
    p = batch.point
    b = Batch(p, ts, batch.value, batch.quality, batch.reason)
    if len(p) < 2:
        return b
    dp = np.diff(p)
    if bool(np.all((dp > 0) | ((dp == 0) & (np.diff(ts) > 0)))):
        return b
    order = np.lexsort((ts, p))  # stable: equal (point, ts) keep their arrival order
    ps, tss = p[order], ts[order]
    last = np.ones(len(order), dtype=bool)
    last[:-1] = (ps[1:] != ps[:-1]) | (tss[1:] != tss[:-1])
    return b.take(order[last])


@dataclass(frozen=True, slots=True)
class Rows:
    """One point's rows, sorted by time, unique timestamps."""

    ts: F64
    value: F64
    quality: npt.NDArray[np.uint8]
    reason: npt.NDArray[np.uint32]

    def __len__(self) -> int:
        return len(self.ts)

    def used(self, max_quality: int) -> npt.NDArray[np.bool_]:
        return (self.quality <= max_quality) & np.isfinite(self.value)

    def window(self, start: float, end: float) -> tuple[int, int]:
        return (int(np.searchsorted(self.ts, start, "left")),
                int(np.searchsorted(self.ts, end, "left")))


@dataclass(frozen=True, slots=True)
class Summary:
    """1-minute summaries of one point under the default quality filter (one row a minute
    that holds at least one row). Times are epoch seconds; NaN where nothing was used.

    ``twa_int``/``twa_dur`` hold the time-weighting inside the minute (between its first and
    last row); ``fa_t`` is its first row's time and ``la_*`` its last row, from which the
    hold into the next minute with a row is computed when summaries are combined.
    """

    minute: F64
    n_all: I64
    n_bad: I64
    n: I64
    sum: F64
    min: F64
    max: F64
    first_t: F64
    first_v: F64
    last_t: F64
    last_v: F64
    q: I64  # -1 when nothing was used
    r: I64
    twa_int: F64
    twa_dur: F64
    fa_t: F64
    la_t: F64
    la_v: F64
    la_u: npt.NDArray[np.bool_]
    la_q: I64
    la_r: I64

    def __len__(self) -> int:
        return len(self.minute)

    def take(self, idx: Any) -> Summary:
        return Summary(*(getattr(self, f.name)[idx] for f in fields(self)))

    @staticmethod
    def concat(parts: list[Summary]) -> Summary:
        return Summary(*(np.concatenate([getattr(p, f.name) for p in parts])
                         for f in fields(Summary)))


def _groups(keys: F64) -> npt.NDArray[np.intp]:
    """Start index of each run of equal values in a sorted array."""
    if len(keys) == 0:
        return np.empty(0, np.intp)
    return np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])


def _pick(values: npt.NDArray[Any], idx: npt.NDArray[np.int64], fill: Any) -> Any:
    out = np.full(len(idx), fill, dtype=np.result_type(values.dtype, np.asarray(fill).dtype))
    ok = idx >= 0
    out[ok] = values[idx[ok]]
    return out


def summarize(rows: Rows) -> Summary:
    """The 1-minute summaries of one point's rows (default quality filter)."""
    t, v = rows.ts, rows.value
    n_rows = len(t)
    minute = np.floor(t / ROLLUP_SECONDS) * ROLLUP_SECONDS
    st = _groups(minute)
    u = rows.used(DEFAULT_MAX_QUALITY)
    idx = np.arange(n_rows, dtype=np.int64)
    ends = np.r_[st[1:], n_rows] - 1 if n_rows else np.empty(0, np.int64)
    n = np.add.reduceat(u.astype(np.int64), st) if n_rows else np.empty(0, np.int64)
    vu = np.where(u, v, 0.0)
    first_i = np.minimum.reduceat(np.where(u, idx, n_rows), st) if n_rows else idx
    last_i = np.maximum.reduceat(np.where(u, idx, -1), st) if n_rows else idx
    first_i = np.where(first_i == n_rows, -1, first_i)
    # the hold of each row until the next row in the same minute
    same = np.zeros(n_rows, dtype=bool)
    if n_rows > 1:
        same[:-1] = minute[1:] == minute[:-1]
    dt = np.zeros(n_rows)
    dt[:-1] = np.diff(t)
    hold = u & same
    empty = n == 0

    def red(ufunc: Any, a: npt.NDArray[Any]) -> Any:
        return ufunc.reduceat(a, st) if n_rows else a[:0]

    return Summary(
        minute=minute[st],
        n_all=(np.diff(np.r_[st, n_rows])).astype(np.int64),
        n_bad=red(np.add, (rows.quality == BAD).astype(np.int64)),
        n=n,
        sum=np.where(empty, np.nan, red(np.add, vu)),
        min=np.where(empty, np.nan, red(np.minimum, np.where(u, v, np.inf))),
        max=np.where(empty, np.nan, red(np.maximum, np.where(u, v, -np.inf))),
        first_t=_pick(t, first_i, np.nan),
        first_v=_pick(v, first_i, np.nan),
        last_t=_pick(t, last_i, np.nan),
        last_v=_pick(v, last_i, np.nan),
        q=red(np.maximum, np.where(u, rows.quality.astype(np.int64), -1)),
        r=red(np.bitwise_or, np.where(u, rows.reason.astype(np.int64), 0)),
        twa_int=red(np.add, np.where(hold, v * dt, 0.0)),
        twa_dur=red(np.add, np.where(hold, dt, 0.0)),
        fa_t=t[st],
        la_t=t[ends],
        la_v=v[ends],
        la_u=u[ends],
        la_q=rows.quality[ends].astype(np.int64),
        la_r=rows.reason[ends].astype(np.int64),
    )


def _as_summary(rows: Rows, max_quality: int) -> Summary:
    """Each raw row as a summary of itself, so one combiner serves raw rows and roll-ups."""
    u = rows.used(max_quality)
    v, t = rows.value, rows.ts
    nan = np.where(u, v, np.nan)
    tu = np.where(u, t, np.nan)
    qi = rows.quality.astype(np.int64)
    ri = rows.reason.astype(np.int64)
    zero = np.zeros(len(t))
    return Summary(
        minute=t, n_all=np.ones(len(t), np.int64), n_bad=(qi == BAD).astype(np.int64),
        n=u.astype(np.int64), sum=nan, min=nan, max=nan, first_t=tu, first_v=nan,
        last_t=tu, last_v=nan, q=np.where(u, qi, -1), r=np.where(u, ri, 0),
        twa_int=zero, twa_dur=zero, fa_t=t, la_t=t, la_v=v, la_u=u, la_q=qi, la_r=ri)


def _combine(s: Summary, lo: int, hi: int, start: float, end: float, every: float,
             agg: str) -> Series:
    """Bucket aggregates over summaries ``s[lo:hi]`` (the window); rows outside the window
    only lend their hold to the time-weighted average."""
    w = s.take(slice(lo, hi))
    if len(w) == 0:
        return Series.empty()
    b = np.floor(w.minute / every) * every
    st = _groups(b)
    used = w.n > 0
    n = np.add.reduceat(w.n, st)
    none = n == 0
    if agg == "avg":
        val = np.add.reduceat(np.nan_to_num(w.sum), st) / np.where(none, 1, n)
    elif agg == "min":
        val = np.minimum.reduceat(np.where(used, w.min, np.inf), st)
    elif agg == "max":
        val = np.maximum.reduceat(np.where(used, w.max, -np.inf), st)
    elif agg in ("first", "last"):
        i = np.arange(len(w), dtype=np.int64)
        if agg == "first":
            k = np.minimum.reduceat(np.where(used, i, len(w)), st)
            val = _pick(w.first_v, np.where(k == len(w), -1, k), np.nan)
        else:
            val = _pick(w.last_v, np.maximum.reduceat(np.where(used, i, -1), st), np.nan)
    elif agg == "count":
        val = n.astype(np.float64)
    elif agg == "count_all":
        val = np.add.reduceat(w.n_all, st).astype(np.float64)
    elif agg == "count_bad":
        val = np.add.reduceat(w.n_bad, st).astype(np.float64)
    else:
        val = _twa(s, lo, hi, b, st, start, end, every)
    if agg not in ("count", "count_all", "count_bad"):
        val = np.where(none, np.nan, val)
    q = np.maximum.reduceat(w.q, st)
    r = np.bitwise_or.reduceat(w.r, st)
    return Series(b[st].astype(np.float64), np.asarray(val, np.float64),
                  np.where(q < 0, BAD, q).astype(np.uint8), r.astype(np.uint32))


def _twa(s: Summary, lo: int, hi: int, b: F64, st: npt.NDArray[np.intp], start: float,
         end: float, every: float) -> F64:
    i = np.arange(lo, hi)
    has_next = i + 1 < len(s)
    nfa = np.where(has_next, s.fa_t[np.minimum(i + 1, len(s) - 1)], np.nan)
    has_prev = i >= 1
    j = np.maximum(i - 1, 0)
    pla_t = np.where(has_prev, s.la_t[j], np.nan)
    pla_v, pla_u = s.la_v[j], has_prev & s.la_u[j]
    be = np.minimum(b + every, end)
    bs = np.maximum(b, start)
    la_u, la_t, la_v = s.la_u[lo:hi], s.la_t[lo:hi], s.la_v[lo:hi]
    out_ok = la_u & has_next
    out_d = np.where(out_ok, np.minimum(nfa, be) - la_t, 0.0)
    out_i = np.where(out_ok, la_v * out_d, 0.0)
    in_ok = pla_u & (pla_t < bs)
    in_d = np.where(in_ok, s.fa_t[lo:hi] - np.maximum(pla_t, bs), 0.0)
    in_i = np.where(in_ok, pla_v * in_d, 0.0)
    integral = np.add.reduceat(s.twa_int[lo:hi] + out_i + in_i, st)
    dur = np.add.reduceat(s.twa_dur[lo:hi] + out_d + in_d, st)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(dur > 0, integral / np.where(dur > 0, dur, 1.0), np.nan)


def aggregate(rows: Rows, *, every: float, agg: str, start: float = -math.inf,
              end: float = math.inf, max_quality: int = DEFAULT_MAX_QUALITY) -> Series:
    """Bucket aggregates of raw rows in [start, end) (rows outside lend their hold to twa)."""
    lo, hi = rows.window(start, end)
    return _combine(_as_summary(rows, max_quality), lo, hi, start, end, every, agg)


def aggregate_summary(s: Summary, *, every: float, agg: str, start: float = -math.inf,
                      end: float = math.inf) -> Series:
    """Bucket aggregates from 1-minute summaries (``every`` a multiple of 60 s)."""
    lo = int(np.searchsorted(s.minute, start, "left"))
    hi = int(np.searchsorted(s.minute, end, "left"))
    return _combine(s, lo, hi, start, end, every, agg)


def interpolate(rows: Rows, grid: F64, method: str,
                max_quality: int = DEFAULT_MAX_QUALITY) -> Series:
    """Values on ``grid`` by ``linear`` or ``previous`` interpolation (base conventions)."""
    n = len(rows)
    u = rows.used(max_quality)
    j = np.searchsorted(rows.ts, grid, "right") - 1  # last row at or before each grid time
    has_j = j >= 0
    jj = np.clip(j, 0, max(n - 1, 0))
    value: npt.NDArray[Any] = np.full(len(grid), np.nan)
    quality: npt.NDArray[Any] = np.full(len(grid), BAD, np.int64)
    reason: npt.NDArray[Any] = np.zeros(len(grid), np.int64)
    if n == 0:
        return Series(grid, value, quality.astype(np.uint8), reason.astype(np.uint32))
    tj, vj = rows.ts[jj], rows.value[jj]
    qj, rj = rows.quality[jj].astype(np.int64), rows.reason[jj].astype(np.int64)
    uj = has_j & u[jj]
    exact = has_j & (tj == grid)
    imputed = int(Reason.IMPUTED)
    if method == "previous":
        value = np.where(uj, vj, np.nan)
        quality = np.where(uj, qj, BAD)
        reason = np.where(has_j, rj, 0) | np.where(uj & ~exact, imputed, 0)
    else:
        k = jj + 1
        has_k = has_j & (k < n)
        kk = np.minimum(k, n - 1)
        tk, vk = rows.ts[kk], rows.value[kk]
        uk = has_k & u[kk]
        both = uj & uk & ~exact
        with np.errstate(invalid="ignore", divide="ignore"):
            lin = vj + (vk - vj) * ((grid - tj) / (tk - tj))
        value = np.where(exact & uj, vj, np.where(both, lin, np.nan))
        quality = np.where(exact & uj, qj,
                           np.where(both, np.maximum(qj, rows.quality[kk]), BAD))
        rk = np.where(has_k, rows.reason[kk].astype(np.int64), 0)
        reason = np.where(exact, rj, np.where(has_j, rj, 0) | rk) | np.where(both, imputed, 0)
    return Series(np.asarray(grid, np.float64), np.asarray(value, np.float64),
                  quality.astype(np.uint8), reason.astype(np.uint32))


def merge_ranges(point: npt.NDArray[np.int64], lo: I64, hi: I64
                 ) -> tuple[npt.NDArray[np.int64], I64, I64]:
    """The dirty minutes: times ``[lo, hi]`` (µs, inclusive) per point, widened to whole
    minutes ``[lo', hi')`` and merged where they overlap or touch."""
    if len(point) == 0:
        return point, lo, hi
    m = ROLLUP_SECONDS * 1_000_000
    lo = np.floor_divide(lo, m) * m
    hi = np.floor_divide(hi, m) * m + m
    order = np.lexsort((lo, point))
    p, a, z = point[order], lo[order], hi[order]
    out_p, out_a, out_z = [int(p[0])], [int(a[0])], [int(z[0])]
    for pi, ai, zi in zip(p[1:].tolist(), a[1:].tolist(), z[1:].tolist(), strict=True):
        if pi == out_p[-1] and ai <= out_z[-1]:
            out_z[-1] = max(out_z[-1], zi)
        else:
            out_p.append(pi)
            out_a.append(ai)
            out_z.append(zi)
    return (np.array(out_p, np.int64), np.array(out_a, np.int64), np.array(out_z, np.int64))


def point_ranges(batch: Batch) -> tuple[npt.NDArray[np.int64], I64, I64, F64]:
    """Per point of a normalised batch: id, oldest and newest time (µs) and newest ts (s)."""
    st = _groups(batch.point.astype(np.float64))
    ends = np.r_[st[1:], len(batch)] - 1
    lo = np.round(batch.ts[st] * 1e6).astype(np.int64)
    hi = np.round(batch.ts[ends] * 1e6).astype(np.int64)
    return batch.point[st].astype(np.int64), lo, hi, batch.ts[ends]


def too_old(batch: Batch, horizon: float | None, key_of: Callable[[int], str]
            ) -> tuple[Batch, list[DeadLetter]]:
    """Split off the rows older than the raw horizon, as dead letters (category retention)."""
    if horizon is None or len(batch) == 0:
        return batch, []
    old = batch.ts < horizon
    if not old.any():
        return batch, []
    dead = [DeadLetter("store", key_of(int(p)), repr(float(v)),
                       f"retention: {t} is older than the raw horizon {horizon}",
                       category="retention")
            for p, t, v in zip(batch.point[old], batch.ts[old], batch.value[old], strict=True)]
    return batch.take(~old), dead
