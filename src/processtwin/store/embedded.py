"""The embedded store: one DuckDB file in the project folder (the default backend).

Why DuckDB rather than SQLite: the queries a historian answers most are columnar scans and
aggregates (downsampling, roll-ups, exports), and ingest arrives in columnar batches.
``ptwin bench store`` measures both engines in the same run: DuckDB appends from Arrow at
millions of rows/s where SQLite's ``executemany`` manages about a million, and DuckDB
downsamples 10M rows per minute and point in a fraction of a second where SQLite takes
seconds. SQLite would win at many tiny single-row transactions, which the batched data path
never makes.

Durability: each commit is one DuckDB transaction, written to its write-ahead log before it
returns, so a crash (even ``kill -9``) loses nothing committed; reopening replays the log.
:class:`~processtwin.store.base.CommitPolicy` sets how often rows are committed (every append
by default). One process may write a file at a time (DuckDB locks it).

Roll-up: :meth:`EmbeddedStore.rollup` recomputes the summaries of the minutes that changed
since the last roll-up, from the raw rows; queries the roll-up serves, and retention, run it
first, so it is never stale. Rows newer than the newest row the roll-up has seen of their
point (the common, in-order case) need no bookkeeping: after a restart they are found by
comparing the two. A commit that writes at or before a point's newest row (backfill,
rewrites) records the range it touched in ``rollup_dirty``, in the same transaction.

Schema (any SQL client, or Grafana's DuckDB plug-in, can read it directly)::

    points(id INTEGER PRIMARY KEY, key VARCHAR UNIQUE, twin, name, unit, kind)
    readings(point INTEGER, ts TIMESTAMPTZ, value DOUBLE, quality UTINYINT, reason UINTEGER)
    readings_1m(point, minute TIMESTAMPTZ, n_all, n_bad, n, sum, min, max, ...)
        -- the 1-minute summaries, columns in processtwin.store.sql
    rollup_dirty(point INTEGER, lo TIMESTAMPTZ, hi TIMESTAMPTZ)  -- out-of-order writes
    dead_letters(ts TIMESTAMPTZ, source, key, value, reason, category VARCHAR)
    meta(key VARCHAR PRIMARY KEY, value VARCHAR)   -- schema version, retention horizons
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from processtwin.core.batch import Batch, DeadLetter
from processtwin.core.points import PointTable
from processtwin.errors import InvalidInputError, StoreError
from processtwin.store._sqlstore import Pending, PointIds, dead_rows, split_series
from processtwin.store.base import (
    DEFAULT_MAX_QUALITY,
    INTERPOLATIONS,
    ROLLUP_SECONDS,
    CommitPolicy,
    QuerySpec,
    Retention,
    RetentionReport,
    Series,
    Source,
    grid,
)
from processtwin.store.compute import (
    Rows,
    interpolate,
    merge_ranges,
    normalize,
    too_old,
)
from processtwin.store.sql import DUCKDB, Tables, ts_lit

__all__ = ["EmbeddedStore"]

SCHEMA_VERSION = "2"
_DAY = 86_400.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS points (
    id INTEGER PRIMARY KEY, key VARCHAR UNIQUE NOT NULL, twin VARCHAR, name VARCHAR,
    unit VARCHAR, kind VARCHAR);
CREATE TABLE IF NOT EXISTS readings (
    point INTEGER NOT NULL, ts TIMESTAMPTZ NOT NULL, value DOUBLE,
    quality UTINYINT NOT NULL, reason UINTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS readings_1m (
    point INTEGER NOT NULL, minute TIMESTAMPTZ NOT NULL, n_all INTEGER, n_bad INTEGER,
    n INTEGER, sum DOUBLE, min DOUBLE, max DOUBLE, first_t DOUBLE, first_v DOUBLE,
    last_t DOUBLE, last_v DOUBLE, q UTINYINT, r UINTEGER, twa_int DOUBLE, twa_dur DOUBLE,
    fa_t DOUBLE, la_t DOUBLE, la_v DOUBLE, la_u BOOLEAN, la_q UTINYINT, la_r UINTEGER);
CREATE TABLE IF NOT EXISTS rollup_dirty (point INTEGER, lo TIMESTAMPTZ, hi TIMESTAMPTZ);
CREATE TABLE IF NOT EXISTS dead_letters (
    ts TIMESTAMPTZ, source VARCHAR, key VARCHAR, value VARCHAR, reason VARCHAR,
    category VARCHAR);
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);
"""

_TABLES = Tables(DUCKDB, "readings", "readings_1m")
_INSERT = "INSERT INTO readings SELECT * FROM ptwin_batch"
# per point: the newest raw row, and the rows newer than what the roll-up has seen
_OPEN_SCAN = """
SELECT r.point, max(epoch_us(r.ts)) AS newest,
       min(epoch_us(r.ts)) FILTER (WHERE m.w IS NULL OR epoch_us(r.ts) >= m.w) AS lo,
       max(epoch_us(r.ts)) FILTER (WHERE m.w IS NULL OR epoch_us(r.ts) >= m.w) AS hi
FROM readings r LEFT JOIN (SELECT point, max(round(la_t * 1e6))::BIGINT AS w
                           FROM readings_1m GROUP BY point) m ON m.point = r.point
GROUP BY r.point"""


def _ts(us: np.ndarray[Any, np.dtype[np.int64]]) -> pa.Array:
    return pa.array(us, pa.timestamp("us", tz="UTC"))


def _arrow(batch: Batch, ids: np.ndarray[Any, np.dtype[np.int32]] | None = None, *,
           us: np.ndarray[Any, np.dtype[np.int64]] | None = None) -> pa.Table:
    """A batch as the Arrow table ``readings`` takes (``ids`` maps table index to id;
    ``us`` its times in microseconds, when already computed)."""
    if us is None:
        us = np.round(batch.ts * 1e6).astype(np.int64)
    return pa.table({
        "point": pa.array(batch.point if ids is None else ids[batch.point], pa.int32()),
        "ts": _ts(us),
        "value": pa.array(batch.value, pa.float64()),
        "quality": pa.array(batch.quality, pa.uint8()),
        "reason": pa.array(batch.reason, pa.uint32()),
    })


class _Track:
    """Per point id (µs): the newest raw row, and the range of rows the roll-up has not seen
    (empty when lo > hi)."""

    def __init__(self) -> None:
        self.newest = np.empty(0, np.int64)
        self.lo = np.empty(0, np.int64)
        self.hi = np.empty(0, np.int64)

    def _grow(self, n: int) -> None:
        if n > len(self.newest):
            k = n - len(self.newest)
            lo, hi = np.iinfo(np.int64).min, np.iinfo(np.int64).max
            self.newest = np.r_[self.newest, np.full(k, lo)]
            self.lo = np.r_[self.lo, np.full(k, hi)]
            self.hi = np.r_[self.hi, np.full(k, lo)]

    def newest_of(self, pts: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        self._grow(int(pts.max()) + 1 if len(pts) else 0)
        out: np.ndarray[Any, Any] = self.newest[pts]
        return out

    def update(self, pts: np.ndarray[Any, Any], newest: np.ndarray[Any, Any],
               lo: np.ndarray[Any, Any], hi: np.ndarray[Any, Any], unseen: bool = True) -> None:
        """Record rows of distinct points ``pts``."""
        if len(pts) == 0:
            return
        self._grow(int(pts.max()) + 1)
        self.newest[pts] = np.maximum(self.newest[pts], newest)
        if unseen:
            self.lo[pts] = np.minimum(self.lo[pts], lo)
            self.hi[pts] = np.maximum(self.hi[pts], hi)

    def unseen(self) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        p = np.flatnonzero(self.lo <= self.hi)
        return p.astype(np.int64), self.lo[p], self.hi[p]

    def seen(self) -> None:
        self.lo[:] = np.iinfo(np.int64).max
        self.hi[:] = np.iinfo(np.int64).min


class EmbeddedStore:
    """A DuckDB file store. ``path=":memory:"`` gives a throwaway database."""

    def __init__(self, path: str | Path = ".ptwin/history.duckdb", *,
                 retention: Retention = Retention(),
                 commit: CommitPolicy = CommitPolicy()) -> None:
        self.path = str(path)
        self.retention = retention
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._points = PointIds()
        self._pending = Pending(commit)
        try:
            self._con = duckdb.connect(self.path)
            self._con.execute("SET TimeZone = 'UTC'")
            self._con.execute(_SCHEMA)
            self._set_meta("schema", SCHEMA_VERSION)
            self._track = _Track()
            for p, newest, lo, hi in self._con.execute(_OPEN_SCAN).fetchall():
                self._track.update(np.array([p]), np.array([newest], np.int64),
                                   np.array([newest if lo is None else lo], np.int64),
                                   np.array([newest if hi is None else hi], np.int64),
                                   unseen=lo is not None)
            self._dirty = bool(len(self._track.unseen()[0])) or bool(
                self._one("SELECT count(*) FROM rollup_dirty"))
            self._horizon = self._meta_float("raw_horizon")
            self._rollup_horizon = self._meta_float("rollup_horizon")
            self._points.load(self._known(), None)
        except duckdb.Error as exc:
            raise StoreError(f"cannot open store {self.path}: {exc}") from exc

    # ------------------------------------------------------------------ helpers
    def _one(self, sql: str) -> Any:
        # fetchall, not fetchone: a half-read result keeps the connection busy, and the next
        # Arrow append then fails with "connection has an unfinished result".
        rows = self._con.execute(sql).fetchall()
        return rows[0][0] if rows else None

    def _meta_float(self, key: str) -> float | None:
        rows = self._con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchall()
        return float(rows[0][0]) if rows else None

    def _set_meta(self, key: str, value: str) -> None:
        self._con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, value])

    def _known(self) -> dict[str, int]:
        return {str(k): int(i) for k, i in
                self._con.execute("SELECT key, id FROM points").fetchall()}

    # ------------------------------------------------------------------ writes
    def register(self, table: PointTable) -> None:
        with self._lock:
            try:
                known = self._known()
                next_id = max(known.values(), default=-1) + 1
                for spec in table.specs:
                    if spec.key not in known:
                        self._con.execute(
                            "INSERT INTO points VALUES (?, ?, ?, ?, ?, ?)",
                            [next_id, spec.key, spec.twin, spec.name, spec.unit,
                             spec.kind.value])
                        known[spec.key] = next_id
                        next_id += 1
            except duckdb.Error as exc:
                raise StoreError(f"cannot register points: {exc}") from exc
            self._points.load(known, table)

    def append(self, batch: Batch) -> int:
        with self._lock:
            mapped = self._points.map(batch)
            if self._pending.add(mapped):
                return self._flush()
            return 0

    def flush(self) -> int:
        with self._lock:
            return self._flush()

    def _flush(self) -> int:
        if not self._pending.rows:
            return 0
        batch = self._pending.take()
        self._pending.done()  # on failure the caller keeps its rows (see CommitPolicy)
        return self._commit(batch)

    def _commit(self, batch: Batch) -> int:
        b, dead = too_old(normalize(batch), self._horizon, self._points.key)
        if len(b) == 0 and not dead:
            return 0
        st = np.r_[0, np.flatnonzero(np.diff(b.point)) + 1] if len(b) else np.empty(0, int)
        pts = b.point[st]
        us = np.round(b.ts * 1e6).astype(np.int64)
        first, newest = us[st], us[np.r_[st[1:], len(b)] - 1] if len(b) else us
        prior = self._track.newest_of(pts)
        overlap = first <= prior
        con = self._con
        try:
            if len(b):
                con.register("ptwin_batch", _arrow(b, us=us))
            if dead or overlap.any():
                con.begin()
                if dead:
                    con.executemany("INSERT INTO dead_letters VALUES (to_timestamp(?), ?, ?, "
                                    "?, ?, ?)", dead_rows(dead))
                if overlap.any():
                    self._delete_overlap(b, us, pts[overlap], prior[overlap])
                    con.register("ptwin_dirty", pa.table({
                        "point": pa.array(pts[overlap], pa.int32()),
                        "lo": _ts(first[overlap]), "hi": _ts(newest[overlap])}))
                    con.execute("INSERT INTO rollup_dirty SELECT * FROM ptwin_dirty")
                if len(b):
                    con.execute(_INSERT)
                con.commit()
            else:  # the common case: one statement, one transaction
                con.execute(_INSERT)
        except duckdb.Error as exc:
            with contextlib.suppress(duckdb.Error):
                con.rollback()
            raise StoreError(f"append failed: {exc}") from exc
        finally:
            for name in ("ptwin_batch", "ptwin_dirty"):
                with contextlib.suppress(duckdb.Error, KeyError):
                    con.unregister(name)
        self._track.update(pts, newest, first, newest)
        self._dirty = self._dirty or bool(len(b))
        return len(b)

    def _delete_overlap(self, b: Batch, us: np.ndarray[Any, Any], pts: np.ndarray[Any, Any],
                        prior: np.ndarray[Any, Any]) -> None:
        """Last write wins: remove stored rows the batch rewrites (same point and time)."""
        cap = np.full(int(b.point.max()) + 1, np.iinfo(np.int64).min)
        cap[pts] = prior
        sel = us <= cap[b.point]
        self._con.register("ptwin_overlap", pa.table({
            "point": pa.array(b.point[sel], pa.int32()), "ts": _ts(us[sel])}))
        self._con.execute(
            "DELETE FROM readings USING ptwin_overlap o WHERE readings.point = o.point "
            f"AND readings.ts = o.ts AND readings.ts >= {ts_lit(int(us[sel].min()))} "
            f"AND readings.ts <= {ts_lit(int(us[sel].max()))}")
        self._con.unregister("ptwin_overlap")

    def append_arrow(self, tbl: pa.Table) -> int:
        """Bare bulk insert of an already-mapped Arrow table: the benchmarks' baseline.

        It skips de-duplication and roll-up bookkeeping; do not mix it with :meth:`append`.
        """
        with self._lock:
            self._con.register("ptwin_bare", tbl)
            self._con.execute("INSERT INTO readings SELECT * FROM ptwin_bare")
            self._con.unregister("ptwin_bare")
        return int(tbl.num_rows)

    def append_dead(self, items: Sequence[DeadLetter]) -> None:
        if not items:
            return
        with self._lock:
            try:
                self._con.executemany(
                    "INSERT INTO dead_letters VALUES (to_timestamp(?), ?, ?, ?, ?, ?)",
                    dead_rows(items))
            except duckdb.Error as exc:
                raise StoreError(f"cannot store dead letters: {exc}") from exc

    # ------------------------------------------------------------------ roll-up, retention
    def rollup(self) -> int:
        with self._lock:
            self._flush()
            return self._rollup()

    def _rollup(self) -> int:
        if not self._dirty:
            return 0
        con = self._con
        try:
            con.begin()
            rows = con.execute("SELECT point, epoch_us(lo) AS lo, epoch_us(hi) AS hi "
                               "FROM rollup_dirty").fetchnumpy()
            lp, llo, lhi = self._track.unseen()
            p, lo, hi = merge_ranges(np.r_[np.asarray(rows["point"], np.int64), lp],
                                     np.r_[np.asarray(rows["lo"], np.int64), llo],
                                     np.r_[np.asarray(rows["hi"], np.int64), lhi])
            n = 0
            if len(p):
                con.register("ptwin_ranges", pa.table({
                    "point": pa.array(p, pa.int32()), "lo": _ts(lo), "hi": _ts(hi)}))
                con.execute(_TABLES.rollup_delete("ptwin_ranges g"))
                res = con.execute(_TABLES.rollup_insert(
                    "ptwin_ranges g", int(lo.min()), int(hi.max()))).fetchone()
                n = int(res[0]) if res else 0
                con.unregister("ptwin_ranges")
            con.execute("DELETE FROM rollup_dirty")
            con.commit()
        except duckdb.Error as exc:
            with contextlib.suppress(duckdb.Error, KeyError):
                con.rollback()
            raise StoreError(f"roll-up failed: {exc}") from exc
        self._dirty = False
        self._track.seen()
        return n

    def retain(self, now: float | None = None) -> RetentionReport:
        now = time.time() if now is None else now
        pol = self.retention
        with self._lock:
            self._flush()
            self._rollup()
            raw = roll = 0
            con = self._con
            try:
                con.begin()
                if pol.raw_days is not None:
                    cut = _minute_floor(now - pol.raw_days * _DAY)
                    lit = ts_lit(round(cut * 1e6))
                    raw = int(self._one(f"SELECT count(*) FROM readings WHERE ts < {lit}"))
                    con.execute(f"DELETE FROM readings WHERE ts < {lit}")
                    self._horizon = max(cut, self._horizon or -math.inf)
                    self._set_meta("raw_horizon", repr(self._horizon))
                if pol.rollup_days is not None:
                    rcut = _minute_floor(now - pol.rollup_days * _DAY)
                    lit = ts_lit(round(rcut * 1e6))
                    roll = int(self._one(f"SELECT count(*) FROM readings_1m WHERE minute < {lit}"))
                    con.execute(f"DELETE FROM readings_1m WHERE minute < {lit}")
                    self._rollup_horizon = max(rcut, self._rollup_horizon or -math.inf)
                    self._set_meta("rollup_horizon", repr(self._rollup_horizon))
                con.commit()
            except duckdb.Error as exc:
                with contextlib.suppress(duckdb.Error, KeyError):
                    con.rollback()
                raise StoreError(f"retention failed: {exc}") from exc
        return RetentionReport(raw, roll, self._horizon, self._rollup_horizon)

    # ------------------------------------------------------------------ reads
    def _fetch(self, sql: str) -> dict[str, Any]:
        try:
            return dict(self._con.execute(sql).fetchnumpy())
        except duckdb.Error as exc:
            raise StoreError(f"query failed: {exc}") from exc

    def query(self, key: str, start: float | None = None, end: float | None = None,
              every: float | None = None, agg: str = "avg", *,
              max_quality: int = DEFAULT_MAX_QUALITY, source: Source = "auto") -> Series:
        got = self.query_many([key], start, end, every, agg, max_quality=max_quality,
                              source=source)
        return got.get(key, Series.empty())

    def query_many(self, keys: Sequence[str] | None = None, start: float | None = None,
                   end: float | None = None, every: float | None = None, agg: str = "avg",
                   *, max_quality: int = DEFAULT_MAX_QUALITY,
                   source: Source = "auto") -> dict[str, Series]:
        spec = QuerySpec.make(start, end, every, agg, max_quality, source)
        with self._lock:
            ids = self._points.resolve(keys)
            self._flush()
            if spec.every is None:
                r = self._fetch(_TABLES.raw(ids, spec))
                return split_series(r["point"], r["t"], r["value"], r["quality"],
                                    r["reason"], self._points)
            if spec.rollup:
                self._rollup()
            r = self._fetch(_TABLES.aggregate(ids, spec))
        return split_series(r["point"], r["b"], r["v"], r["q"], r["r"], self._points)

    def interpolate(self, key: str, start: float, end: float, every: float,
                    method: str = "linear", *,
                    max_quality: int = DEFAULT_MAX_QUALITY) -> Series:
        if method not in INTERPOLATIONS:
            raise InvalidInputError(f"unknown method {method!r}; use one of {INTERPOLATIONS}")
        QuerySpec.make(start, end, None, "avg", max_quality, "raw")
        g = np.round(grid(start, end, every) * 1e6) / 1e6
        with self._lock:
            pid = self._points.id(key)
            self._flush()
            r = self._fetch(_TABLES.neighbourhood(pid, round(start * 1e6), round(end * 1e6)))
        rows = Rows(np.asarray(r["t"], np.float64), np.asarray(r["value"], np.float64),
                    np.asarray(r["quality"], np.uint8), np.asarray(r["reason"], np.uint32))
        return interpolate(rows, g, method, max_quality)

    def latest(self, key: str) -> Series:
        with self._lock:
            pid = self._points.id(key)
            self._flush()
            r = self._fetch("SELECT epoch_us(ts) / 1e6 AS t, value, quality, reason "
                            f"FROM readings WHERE point = {pid} ORDER BY ts DESC LIMIT 1")
            if len(r["t"]) == 0:
                r = self._fetch(_TABLES.latest_rollup(pid))
        return Series(np.asarray(r["t"], np.float64), np.asarray(r["value"], np.float64),
                      np.asarray(r["quality"], np.uint8), np.asarray(r["reason"], np.uint32))

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        with self._lock:
            self._flush()
            rows = self._con.execute(
                "SELECT epoch_us(ts) / 1e6, source, key, value, reason, category "
                "FROM dead_letters ORDER BY ts DESC LIMIT ?", [max(0, int(limit))]).fetchall()
        return [DeadLetter(r[1], r[2], r[3], r[4], ts=float(r[0]), category=r[5]) for r in rows]

    def count(self, key: str | None = None) -> int:
        with self._lock:
            self._flush()
            if key is None:
                return int(self._one("SELECT count(*) FROM readings"))
            return int(self._one(
                f"SELECT count(*) FROM readings WHERE point = {self._points.id(key)}"))

    def close(self) -> None:
        with self._lock:
            try:
                self._flush()
            finally:
                with contextlib.suppress(duckdb.Error, KeyError):
                    self._con.execute("CHECKPOINT")
                self._con.close()


def _minute_floor(t: float) -> float:
    return float(math.floor(t / ROLLUP_SECONDS) * ROLLUP_SECONDS)
