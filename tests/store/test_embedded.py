"""Embedded-store specifics: a crash (SIGKILL) loses nothing committed and leaves a file that
opens, and a file from before the roll-up is summarised on first open."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import pytest

from processtwin.core import Batch, PointSpec, PointTable
from processtwin.store import EmbeddedStore

WRITER = Path(__file__).with_name("crash_writer.py")


@pytest.mark.parametrize("interval_s", [0.0, 0.05])
def test_kill_9_loses_nothing_committed(tmp_path: Path, interval_s: float) -> None:
    path = tmp_path / "crash.duckdb"
    proc = subprocess.Popen([sys.executable, str(WRITER), str(path), str(interval_s)],
                            stdout=subprocess.PIPE, text=True)
    committed = -1
    commits = 0
    deadline = time.monotonic() + 60
    try:
        assert proc.stdout is not None
        while commits < 25 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            committed = int(line.split()[1])
            commits += 1
    finally:
        os.kill(proc.pid, signal.SIGKILL)  # mid-stream, likely inside a transaction
        proc.wait(timeout=30)
    assert commits == 25, "the writer stopped before it was killed"
    store = EmbeddedStore(path)  # replays the write-ahead log
    try:
        store.register(PointTable([PointSpec(twin="w", name=f"p{i}") for i in range(5)]))
        n = store.count()
        assert n >= (committed + 1) * 500 and n % 500 == 0  # whole transactions only
        for i in range(5):
            s = store.query(f"w.p{i}")
            got = np.bincount(s.value.astype(int))
            assert (got[: committed + 1] == 100).all() and set(got.tolist()) <= {100}
        # raw rows and their roll-up bookkeeping were committed together
        total = store.query_many(None, every=86_400.0, agg="count_all", source="rollup")
        assert sum(float(v.value.sum()) for v in total.values()) == n
        store.append(Batch.of([0], [1.0], [1.0]))  # and the file takes new writes
    finally:
        store.close()


def test_a_file_from_before_the_rollup_is_summarised(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE points (id INTEGER PRIMARY KEY, key VARCHAR UNIQUE NOT NULL, "
                "twin VARCHAR, name VARCHAR, unit VARCHAR, kind VARCHAR)")
    con.execute("CREATE TABLE readings (point INTEGER NOT NULL, ts TIMESTAMPTZ NOT NULL, "
                "value DOUBLE, quality UTINYINT NOT NULL, reason UINTEGER NOT NULL)")
    con.execute("INSERT INTO points VALUES (0, 'r.a', 'r', 'a', '', 'telemetry')")
    con.execute("INSERT INTO readings VALUES (0, to_timestamp(0), 1, 0, 0), "
                "(0, to_timestamp(30), 3, 0, 0), (0, to_timestamp(90), 5, 0, 0)")
    con.close()
    store = EmbeddedStore(path)
    try:
        store.register(PointTable([PointSpec(twin="r", name="a")]))
        s = store.query("r.a", every=60.0, agg="avg", source="rollup")
        assert s.value.tolist() == [2.0, 5.0]
    finally:
        store.close()


def test_append_after_a_count_works(tmp_path: Path) -> None:
    table = PointTable([PointSpec(twin="r", name="a")])
    store = EmbeddedStore(tmp_path / "c.duckdb")
    store.register(table)
    from processtwin.core import Batch

    for i in range(3):
        store.append(Batch.of([0], [float(i)], [1.0], [0]))
        assert store.count() == i + 1  # a half-read result must not block the next append
    store.close()
