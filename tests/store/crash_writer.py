"""Appends to an embedded store until killed; prints ``committed K`` once batches 0..K are
committed (run by test_embedded.py, which kills it with SIGKILL mid-stream)."""

from __future__ import annotations

import sys

import numpy as np

from processtwin.core import Batch, PointSpec, PointTable
from processtwin.store import CommitPolicy, EmbeddedStore

ROWS = 500  # per batch: 5 points x 100 rows


def batch(k: int) -> Batch:
    pts = np.repeat(np.arange(5, dtype=np.int32), 100)
    ts = 1_700_006_400.0 + k * 100 + np.tile(np.arange(100, dtype=float), 5)
    return Batch.of(pts, ts, np.full(ROWS, float(k)))


def main(path: str, interval_s: float) -> None:
    store = EmbeddedStore(path, commit=CommitPolicy(interval_s=interval_s))
    store.register(PointTable([PointSpec(twin="w", name=f"p{i}") for i in range(5)]))
    k = 0
    while True:
        if store.append(batch(k)):
            print(f"committed {k}", flush=True)
        k += 1


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]))
