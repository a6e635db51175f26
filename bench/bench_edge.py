"""Edge disk buffer: the segment-file log against SQLite in WAL mode, the other candidate.

Workload: records of ``size`` bytes (an edge message of ~50 readings of compact JSON is about
2 KiB), appended one at a time as the forwarder does, then drained in order in reads of 64
records, each read acknowledged (deleted) as a whole. Medians of repeats, fresh folders.

* **append, no fsync**, records/s: ``SegmentLog.append`` (fsync ``never``) against SQLite
  ``INSERT`` + ``COMMIT`` per record (WAL, ``synchronous=OFF``): both leave durability to
  the OS.
* **append, fsync each**, records/s: fsync ``always`` (``fdatasync`` per record) against
  SQLite WAL ``synchronous=FULL`` (an fsync of the WAL per commit).
* **drain**, records/s: ``read`` + ``ack`` against ``SELECT ... ORDER BY seq LIMIT 64`` +
  ``DELETE`` + ``COMMIT``.

ratio = ours / SQLite (higher is better).
"""

from __future__ import annotations

import os
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from processtwin.edge.log import SegmentLog


def _records(n: int, size: int) -> list[bytes]:
    return [os.urandom(size // 2).hex().encode() for _ in range(n)]


def _median_rate(n: int, f: Callable[[Path], None], repeats: int) -> float:
    rates = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="ptwin-bench-edge-") as d:
            t = time.perf_counter()
            f(Path(d))
            rates.append(n / (time.perf_counter() - t))
    return statistics.median(rates)


def _sqlite(d: Path, sync: str) -> sqlite3.Connection:
    db = sqlite3.connect(d / "buf.sqlite", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={sync}")
    db.execute("CREATE TABLE log (seq INTEGER PRIMARY KEY, payload BLOB NOT NULL)")
    return db


def _seg_append(recs: list[bytes], fsync: str) -> Callable[[Path], None]:
    def run(d: Path) -> None:
        log = SegmentLog(d, max_bytes=1 << 30, fsync=fsync)  # type: ignore[arg-type]
        for r in recs:
            log.append(r)
        log.close()
    return run


def _sql_append(recs: list[bytes], sync: str) -> Callable[[Path], None]:
    def run(d: Path) -> None:
        db = _sqlite(d, sync)
        for r in recs:
            db.execute("BEGIN")
            db.execute("INSERT INTO log (payload) VALUES (?)", (r,))
            db.execute("COMMIT")
        db.close()
    return run


def _drain_rates(recs: list[bytes], repeats: int) -> tuple[float, float]:
    ours, theirs = [], []
    n = len(recs)
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="ptwin-bench-edge-") as d:
            log = SegmentLog(Path(d), max_bytes=1 << 30, fsync="never")
            for r in recs:
                log.append(r)
            t = time.perf_counter()
            seq, got = 1, 0
            while True:
                batch = log.read(seq, 64)
                if not batch:
                    break
                got += len(batch)
                seq = batch[-1][0] + 1
                log.ack(seq - 1)
            ours.append(got / (time.perf_counter() - t))
            log.close()
        with tempfile.TemporaryDirectory(prefix="ptwin-bench-edge-") as d:
            db = _sqlite(Path(d), "OFF")
            db.execute("BEGIN")
            db.executemany("INSERT INTO log (payload) VALUES (?)", [(r,) for r in recs])
            db.execute("COMMIT")
            t = time.perf_counter()
            seq, got = 1, 0
            while True:
                rows = db.execute("SELECT seq, payload FROM log WHERE seq >= ? ORDER BY seq "
                                  "LIMIT 64", (seq,)).fetchall()
                if not rows:
                    break
                got += len(rows)
                seq = rows[-1][0] + 1
                db.execute("BEGIN")
                db.execute("DELETE FROM log WHERE seq < ?", (seq,))
                db.execute("COMMIT")
            theirs.append(got / (time.perf_counter() - t))
            db.close()
    assert ours and theirs and n
    return statistics.median(ours), statistics.median(theirs)


def run(quick: bool = False) -> dict[str, Any]:
    size = 2048
    n = 2000 if quick else 20_000
    n_sync = 100 if quick else 500
    repeats = 3 if quick else 5
    recs = _records(n, size)
    few = recs[:n_sync]
    results = []

    def add(name: str, ours: float, base: str, theirs: float) -> None:
        results.append({"name": name, "value": ours, "unit": "records/s", "baseline": base,
                        "baseline_value": theirs, "ratio": ours / theirs})

    add("append, no fsync", _median_rate(n, _seg_append(recs, "never"), repeats),
        "SQLite WAL synchronous=OFF", _median_rate(n, _sql_append(recs, "OFF"), repeats))
    add("append, fsync each", _median_rate(n_sync, _seg_append(few, "always"), repeats),
        "SQLite WAL synchronous=FULL", _median_rate(n_sync, _sql_append(few, "FULL"),
                                                     repeats))
    ours, theirs = _drain_rates(recs, repeats)
    add("drain (read 64 + ack)", ours, "SQLite SELECT 64 + DELETE", theirs)
    return {"bench": "edge", "results": results,
            "notes": [f"{n} records of {size} B ({n_sync} with fsync each), medians of "
                      f"{repeats} repeats, fresh folders"]}
