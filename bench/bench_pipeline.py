"""Pipeline throughput: quality checks + live-state update + store commit, on columnar batches.

Baseline: the embedded store's bare bulk insert (DuckDB from Arrow) of the same rows, with no
checks and no state, measured in the same run. Figures are rows per second, medians of repeats.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from processtwin.core import Batch, LiveState, PointSpec, PointTable
from processtwin.pipeline import Pipeline
from processtwin.store import EmbeddedStore
from processtwin.store.embedded import _arrow


def _batches(n_points: int, rows: int, n_batches: int, seed: int = 0) -> list[Batch]:
    rng = np.random.default_rng(seed)
    out = []
    t0 = 1.7e9
    per = rows // n_points
    for k in range(n_batches):
        pts = np.repeat(np.arange(n_points, dtype=np.int32), per)
        ts = t0 + k * per + np.tile(np.arange(per, dtype=float), n_points)
        vals = 100 + rng.normal(0, 1, len(pts))
        out.append(Batch.of(pts, ts, vals))
    return out


def run(quick: bool = False) -> dict[str, Any]:
    n_points, rows, n_batches, repeats = (200, 20_000, 5, 3) if quick else (1000, 100_000, 10, 5)
    table = PointTable([PointSpec(twin="t", name=f"p{i}", lo=0, hi=200, max_roc=50,
                                  flatline_s=30) for i in range(n_points)])
    batches = _batches(n_points, rows, n_batches)
    ours, base, check_only = [], [], []
    with tempfile.TemporaryDirectory() as d:
        for r in range(repeats):
            store = EmbeddedStore(Path(d) / f"ours{r}.duckdb")
            store.register(table)
            pipe, state = Pipeline(table), LiveState(table)
            t = time.perf_counter()
            for b in batches:
                res = pipe.process(b, [])
                state.apply(res.batch, now=time.time(), presorted=True)
                store.append(res.batch)
            ours.append(rows * n_batches / (time.perf_counter() - t))
            store.close()

            pipe2 = Pipeline(table)
            t = time.perf_counter()
            for b in batches:
                pipe2.process(b, [])
            check_only.append(rows * n_batches / (time.perf_counter() - t))

            bare = EmbeddedStore(Path(d) / f"bare{r}.duckdb")
            bare.register(table)
            tables = [_arrow(b, np.arange(n_points, dtype=np.int32)) for b in batches]
            t = time.perf_counter()
            for tb in tables:
                bare.append_arrow(tb)
            base.append(rows * n_batches / (time.perf_counter() - t))
            bare.close()
    o, b_, c = statistics.median(ours), statistics.median(base), statistics.median(check_only)
    return {
        "bench": "pipeline",
        "results": [
            {"name": "pipeline end to end (checks + state + store commit)", "value": o,
             "unit": "rows/s", "baseline": "bare DuckDB bulk insert from Arrow",
             "baseline_value": b_, "ratio": o / b_},
            {"name": "quality checks only", "value": c, "unit": "values/s",
             "baseline": None, "baseline_value": None, "ratio": None},
        ],
        "notes": [f"{n_points} points, batches of {rows} rows, {n_batches} batches, "
                  f"median of {repeats} repeats", "ratio = ours / baseline (higher is better)"],
    }
