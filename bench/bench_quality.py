"""Data-quality throughput: every check over batches of interleaved points, in values/s.

"All checks" is :class:`~processtwin.pipeline.Pipeline` with quality parameters: NaN
(validation), range, rate of change, flatline, Hampel outliers (window 31) and gaps (with
linear filling), state carried across batches. The stream holds Gaussian noise with spikes,
NaNs, out-of-range values and dropouts so that every path runs.

Baselines, measured in the same run on the same batches:

* the bare NumPy range check alone (``(v < lo[p]) | (v > hi[p])``): the floor of any check;
* the obvious NumPy Hampel filter: per point, ``sliding_window_view`` + ``np.median`` along
  the window axis, same causal definition, outliers only.

Figures are medians over repeats; ratio = ours / baseline (higher is better).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from processtwin.core import Batch, PointSpec, PointTable
from processtwin.pipeline import (
    DerivedPoint,
    DriftMonitor,
    DriftPairConfig,
    Pipeline,
    QualityParams,
    QualitySettings,
    QualityStats,
)

WINDOW = 31


def _batches(n_points: int, rows: int, n_batches: int, seed: int = 0) -> list[Batch]:
    rng = np.random.default_rng(seed)
    per = rows // n_points
    out = []
    for k in range(n_batches):
        pts = np.repeat(np.arange(n_points, dtype=np.int32), per)
        ts = 1.7e9 + k * per + np.tile(np.arange(per, dtype=float), n_points)
        vals = 100 + rng.normal(0, 1, len(pts))
        spikes = rng.random(len(pts)) < 0.001
        vals[spikes] += 15.0
        vals[rng.random(len(pts)) < 0.0005] = np.nan
        vals[rng.random(len(pts)) < 0.0005] = 500.0
        keep = rng.random(len(pts)) > 0.002  # dropouts make gaps
        out.append(Batch.of(pts[keep], ts[keep], vals[keep]))
    return out


def _timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def _naive_hampel(batches: list[Batch], n_points: int) -> None:
    """Per point: trailing window by sliding_window_view, median and MAD by np.median."""
    tails = [np.empty(0) for _ in range(n_points)]
    for b in batches:
        s = b.sorted()
        bounds = np.searchsorted(s.point, np.arange(n_points + 1))
        for p in range(n_points):
            v = s.value[bounds[p]:bounds[p + 1]]
            v = v[np.isfinite(v)]
            ext = np.concatenate([tails[p], v])
            if len(ext) > WINDOW:
                win = sliding_window_view(ext, WINDOW)[:-1]
                cur = ext[WINDOW:]
                med = np.median(win, axis=1)
                mad = np.median(np.abs(win - med[:, None]), axis=1)
                _ = np.abs(cur - med) > 5.0 * 1.4826 * mad
            tails[p] = ext[-WINDOW:]


def run(quick: bool = False) -> dict[str, Any]:
    n_points, rows, n_batches, repeats = (200, 20_000, 4, 3) if quick else (1000, 100_000, 10, 5)
    table = PointTable([PointSpec(twin="t", name=f"p{i}", lo=0, hi=200, max_roc=50,
                                  flatline_s=30) for i in range(n_points)]
                       + [PointSpec(twin="t", name="duty", lo=-1e9, hi=1e9)])
    params = QualityParams.uniform(table, QualitySettings(
        window=WINDOW, k=5, period_s=1.0, fill="linear", max_fill_s=10))
    batches = _batches(n_points, rows, n_batches)
    values = sum(len(b) for b in batches)
    duty = DerivedPoint.from_expression("t.duty", "a * (b - c)",
                                        {"a": "t.p0", "b": "t.p1", "c": "t.p2"},
                                        {}, "")
    pairs = [DriftPairConfig(sensor=f"t.p{2 * i}", reference=f"t.p{2 * i + 1}", sigma=0.2)
             for i in range(min(20, n_points // 2))]

    def all_checks() -> None:
        p = Pipeline(table, quality=params)
        for b in batches:
            p.process(b, [])

    def basic() -> None:
        p = Pipeline(table)
        for b in batches:
            p.process(b, [])

    def everything() -> None:
        p = Pipeline(table, quality=params, derived=[duty],
                     drift=DriftMonitor(pairs, table), stats=QualityStats(table))
        for b in batches:
            p.process(b, [])

    lo, hi = table.lo, table.hi

    def range_only() -> None:
        for b in batches:
            _ = (b.value < lo[b.point]) | (b.value > hi[b.point])

    timings: dict[str, list[float]] = {k: [] for k in ("all", "basic", "everything", "range",
                                                       "naive")}
    for _ in range(repeats):
        timings["all"].append(values / _timed(all_checks))
        timings["basic"].append(values / _timed(basic))
        timings["everything"].append(values / _timed(everything))
        timings["range"].append(values / _timed(range_only))
        timings["naive"].append(values / _timed(lambda: _naive_hampel(batches, n_points)))
    med = {k: statistics.median(v) for k, v in timings.items()}
    ours = med["all"]
    return {
        "bench": "quality",
        "results": [
            {"name": "all checks (nan, range, roc, flatline, hampel outliers, gaps+fill)",
             "value": ours, "unit": "values/s", "baseline": "bare NumPy range check",
             "baseline_value": med["range"], "ratio": ours / med["range"]},
            {"name": "all checks", "value": ours, "unit": "values/s",
             "baseline": "per-point NumPy Hampel (sliding_window_view + np.median), outliers "
                         "only", "baseline_value": med["naive"], "ratio": ours / med["naive"]},
            {"name": "basic checks only (nan, range, roc, flatline)", "value": med["basic"],
             "unit": "values/s", "baseline": None, "baseline_value": None, "ratio": None},
            {"name": "all checks + derived point + 20 drift pairs + quality stats",
             "value": med["everything"], "unit": "values/s", "baseline": None,
             "baseline_value": None, "ratio": None},
        ],
        "notes": [f"{n_points} interleaved points, batches of ~{rows} rows, {n_batches} "
                  f"batches ({values} values), Hampel window {WINDOW}, median of {repeats} "
                  "repeats", "goal: all checks >= 1e6 values/s",
                  "ratio = ours / baseline (higher is better)"],
    }
