"""The PostgreSQL store (psycopg 3): the history backend for plants and several processes.

Ingest is one binary ``COPY`` per commit, built with NumPy (no Python loop per row). A
rewrite of an existing (point, ts) makes the COPY fail on the primary key; that commit then
goes through a staging table and ``INSERT ... ON CONFLICT DO UPDATE`` (last write wins).

Tables live in one schema (``ptwin`` by default), and Grafana's PostgreSQL data source can
read them directly::

    points(id int PRIMARY KEY, key text UNIQUE, twin, name, unit, kind text)
    readings(point int, ts timestamptz, value float8, quality int2, reason int4,
             PRIMARY KEY (point, ts))       -- partitioned by day (readings_pYYYYMMDD),
                                            -- BRIN index on ts; a hypertable under TimescaleDB
    readings_1m(point, minute timestamptz, n_all, n_bad, n, sum, min, max, first_t, first_v,
                last_t, last_v, q, r, twa_int, twa_dur, fa_t, la_t, la_v, la_u, la_q, la_r,
                PRIMARY KEY (point, minute))   -- 1-minute summaries (processtwin.store.sql)
    rollup_dirty(point, lo, hi)             -- minutes waiting for rollup()
    dead_letters(ts, source, key, value, reason, category)
    meta(key PRIMARY KEY, value)            -- retention horizons
    views: history(key, time, value, quality, reason)
           minute(key, time, avg, min, max, first, last, count, count_bad, quality)
           latest(key, time, value, quality, reason)

``quality`` is 0 good, 1 uncertain, 2 bad; ``reason`` the bit set of
:class:`processtwin.core.quality.Reason`. Example Grafana queries (time series panel)::

    -- raw values, good and uncertain only, downsampled by Grafana's interval
    SELECT $__timeGroupAlias(time, $__interval), avg(value) AS "T_R"
    FROM ptwin.history
    WHERE key = 'reactor1.T_R' AND quality < 2 AND $__timeFilter(time)
    GROUP BY 1 ORDER BY 1

    -- long ranges from the 1-minute roll-up
    SELECT time, avg AS "T_R" FROM ptwin.minute
    WHERE key = 'reactor1.T_R' AND $__timeFilter(time) ORDER BY 1

Roll-up: each commit records the minutes it touched in ``rollup_dirty``, in the same
transaction. :meth:`PostgresStore.rollup` (run before every query the roll-up serves, and
before retention) recomputes those minutes from the raw rows, so summaries are exact, also
after backfill. Several writers may share a schema; an advisory lock serialises roll-ups.

TimescaleDB: when the extension can be created (``timescale=None`` tries), ``readings``
becomes a hypertable with one-day chunks and retention drops chunks. The roll-up stays the
table above rather than a continuous aggregate: a continuous aggregate cannot hold the
time-weighting terms (they need window functions) and lags its refresh policy, while the
roll-up here must agree with the raw rows at every query.

Retention drops whole days of raw rows (partitions or chunks), so the raw horizon is a
midnight (UTC); summaries are deleted by the minute.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import numpy as np
import psycopg
from psycopg import sql as pgsql

from processtwin.core.batch import Batch, DeadLetter
from processtwin.core.points import PointTable
from processtwin.errors import InvalidInputError, StoreError, UnknownPointError
from processtwin.store._pgcopy import decode, encode
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
from processtwin.store.compute import Rows, interpolate, merge_ranges, normalize, point_ranges
from processtwin.store.compute import too_old as split_too_old
from processtwin.store.sql import POSTGRES, Tables, ts_lit

__all__ = ["PostgresStore"]

_DAY = 86_400
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,47}$")
_READINGS_COLS = "point, ts, value, quality, reason"
_ROW_KINDS = ["int4", "timestamptz", "float8", "int2", "int4"]
_OUT_KINDS = ["int4", "float8", "float8", "int2", "int4"]


def _schema_sql(s: str, timescale: bool) -> list[str]:
    part = "" if timescale else " PARTITION BY RANGE (ts)"
    out = [
        f"CREATE SCHEMA IF NOT EXISTS {s}",
        f"CREATE TABLE IF NOT EXISTS {s}.points (id integer PRIMARY KEY, key text UNIQUE "
        "NOT NULL, twin text, name text, unit text, kind text)",
        f"CREATE TABLE IF NOT EXISTS {s}.readings (point integer NOT NULL, ts timestamptz "
        "NOT NULL, value double precision, quality smallint NOT NULL, reason integer "
        f"NOT NULL, PRIMARY KEY (point, ts)){part}",
        f"CREATE TABLE IF NOT EXISTS {s}.readings_1m (point integer NOT NULL, minute "
        "timestamptz NOT NULL, n_all integer, n_bad integer, n integer, sum float8, "
        "min float8, max float8, first_t float8, first_v float8, last_t float8, "
        "last_v float8, q smallint, r integer, twa_int float8, twa_dur float8, fa_t float8, "
        "la_t float8, la_v float8, la_u boolean, la_q smallint, la_r integer, "
        "PRIMARY KEY (point, minute))",
        f"CREATE TABLE IF NOT EXISTS {s}.rollup_dirty (point integer, lo timestamptz, "
        "hi timestamptz)",
        f"CREATE TABLE IF NOT EXISTS {s}.dead_letters (ts timestamptz, source text, key text, "
        "value text, reason text, category text)",
        f"CREATE INDEX IF NOT EXISTS dead_letters_ts ON {s}.dead_letters (ts)",
        f"CREATE TABLE IF NOT EXISTS {s}.meta (key text PRIMARY KEY, value text)",
        f"CREATE OR REPLACE VIEW {s}.history AS SELECT p.key, r.ts AS time, r.value, "
        f"r.quality, r.reason FROM {s}.readings r JOIN {s}.points p ON p.id = r.point",
        f"CREATE OR REPLACE VIEW {s}.minute AS SELECT p.key, m.minute AS time, "
        "m.sum / nullif(m.n, 0) AS avg, m.min, m.max, m.first_v AS first, m.last_v AS last, "
        "m.n AS count, m.n_bad AS count_bad, coalesce(m.q, 2) AS quality "
        f"FROM {s}.readings_1m m JOIN {s}.points p ON p.id = m.point",
        f"CREATE OR REPLACE VIEW {s}.latest AS SELECT p.key, l.ts AS time, l.value, "
        f"l.quality, l.reason FROM {s}.points p CROSS JOIN LATERAL (SELECT ts, value, "
        f"quality, reason FROM {s}.readings WHERE point = p.id ORDER BY ts DESC LIMIT 1) l",
    ]
    if timescale:
        out.append(f"SELECT create_hypertable('{s}.readings', 'ts', chunk_time_interval => "
                   "INTERVAL '1 day', if_not_exists => TRUE)")
    else:
        out.append(f"CREATE INDEX IF NOT EXISTS readings_ts_brin ON {s}.readings USING brin (ts)")
    return out


def _day_name(day: int) -> str:
    return "readings_p" + datetime.fromtimestamp(day * _DAY, UTC).strftime("%Y%m%d")


class PostgresStore:
    """A PostgreSQL store in ``schema``; connects on first use and again after a failure.

    ``dsn`` is a libpq connection string or URL. ``timescale``: True requires the
    TimescaleDB extension, False never uses it, None uses it when it can be created.
    """

    def __init__(self, dsn: str, *, schema: str = "ptwin", retention: Retention = Retention(),
                 commit: CommitPolicy = CommitPolicy(), timescale: bool | None = None,
                 connect_timeout_s: float = 5.0) -> None:
        if not _NAME.match(schema):
            raise InvalidInputError(f"schema {schema!r} must match {_NAME.pattern}")
        self.dsn = dsn
        self.schema = schema
        self.retention = retention
        self.connect_timeout_s = connect_timeout_s
        self._want_timescale = timescale
        self.timescale = False
        self._lock = threading.RLock()
        self._cx: psycopg.Connection[Any] | None = None
        self._table: PointTable | None = None
        self._points = PointIds()
        self._pending = Pending(commit)
        self._partitions: set[str] = set()
        self._horizon: float | None = None
        self._rollup_horizon: float | None = None
        self._t = Tables(POSTGRES, f"{schema}.readings", f"{schema}.readings_1m")
        self._lock_key = int.from_bytes(schema.encode()[:8].ljust(8, b"\0"), "big") >> 1

    # ------------------------------------------------------------------ connection
    def _conn(self) -> psycopg.Connection[Any]:
        cx = self._cx
        if cx is not None and not cx.closed and not cx.broken:
            return cx
        self._cx = None
        try:
            cx = psycopg.connect(self.dsn, connect_timeout=max(1, round(self.connect_timeout_s)))
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to PostgreSQL: {exc}") from exc
        try:
            cx.execute("SET TIME ZONE 'UTC'")
            cx.commit()
            self._cx = cx
            self._setup(cx)
        except psycopg.Error as exc:
            self._cx = None
            cx.close()
            raise StoreError(f"cannot set up the store schema {self.schema}: {exc}") from exc
        return cx

    def _setup(self, cx: psycopg.Connection[Any]) -> None:
        s = self.schema
        with cx.transaction():
            cx.execute("SELECT pg_advisory_xact_lock(%s)", [self._lock_key])
            self.timescale = self._use_timescale(cx)
            for stmt in _schema_sql(s, self.timescale):
                cx.execute(stmt.encode())
            cx.execute(f"CREATE TEMP TABLE IF NOT EXISTS ptwin_stage (LIKE {s}.readings) "
                       "ON COMMIT DELETE ROWS".encode())
            meta = dict(cx.execute(f"SELECT key, value FROM {s}.meta".encode()).fetchall())
            self._horizon = float(meta["raw_horizon"]) if "raw_horizon" in meta else None
            self._rollup_horizon = (float(meta["rollup_horizon"])
                                    if "rollup_horizon" in meta else None)
            if not self.timescale:
                self._partitions = {r[0] for r in cx.execute(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                    "WHERE i.inhparent = %s::regclass", [f"{s}.readings"]).fetchall()}
            if self._table is not None:
                self._register(cx, self._table)
            else:
                self._points.load(self._known(cx), None)

    def _use_timescale(self, cx: psycopg.Connection[Any]) -> bool:
        if self._want_timescale is False:
            return False
        has = cx.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
        if has is None:
            try:
                with cx.transaction():
                    cx.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
                has = (1,)
            except psycopg.Error as exc:
                if self._want_timescale:
                    raise StoreError(f"TimescaleDB was required but is missing: {exc}") from exc
        if has is None:
            return False
        # an existing schema keeps the layout it was made with
        kind = cx.execute("SELECT c.relkind FROM pg_class c JOIN pg_namespace n ON "
                          "n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = "
                          "'readings'", [self.schema]).fetchone()
        return kind is None or kind[0] != "p"

    @contextmanager
    def _tx(self, what: str) -> Iterator[psycopg.Connection[Any]]:
        """A transaction on a live connection; psycopg errors become StoreError."""
        cx = self._conn()
        try:
            with cx.transaction():
                yield cx
        except psycopg.Error as exc:
            if cx.broken or cx.closed:
                self._cx = None
            raise StoreError(f"{what} failed: {exc}") from exc

    def _known(self, cx: psycopg.Connection[Any]) -> dict[str, int]:
        rows = cx.execute(f"SELECT key, id FROM {self.schema}.points".encode()).fetchall()
        return {str(k): int(i) for k, i in rows}

    def backend_pid(self) -> int | None:
        """The server process of the current connection (for tests and diagnostics)."""
        cx = self._cx
        return None if cx is None or cx.closed else int(cx.info.backend_pid)

    # ------------------------------------------------------------------ writes
    def register(self, table: PointTable) -> None:
        with self._lock:
            self._table = table
            with self._tx("register") as cx:
                self._register(cx, table)

    def _register(self, cx: psycopg.Connection[Any], table: PointTable) -> None:
        cx.execute("SELECT pg_advisory_xact_lock(%s)", [self._lock_key])
        known = self._known(cx)
        next_id = max(known.values(), default=-1) + 1
        new = []
        for spec in table.specs:
            if spec.key not in known:
                known[spec.key] = next_id
                new.append((next_id, spec.key, spec.twin, spec.name, spec.unit,
                            spec.kind.value))
                next_id += 1
        if new:
            with cx.cursor() as cur:
                cur.executemany(f"INSERT INTO {self.schema}.points VALUES (%s, %s, %s, %s, %s, "
                                "%s)".encode(), new)
        self._points.load(known, table)

    def append(self, batch: Batch) -> int:
        with self._lock:
            if self._table is None:
                raise InvalidInputError("register a point table before appending")
            if len(self._points.ids) != len(self._table):
                self._conn()  # registered while the server was away: map ids on reconnect
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
        s = self.schema
        b, dead = split_too_old(normalize(batch), self._horizon, self._points.key)
        if len(b) == 0 and not dead:
            return 0
        us = np.round(b.ts * 1e6).astype(np.int64)
        payload = encode([(b.point, "int4"), (us, "timestamptz"), (b.value, "float8"),
                          (b.quality.astype(np.int16), "int2"), (b.reason, "int4")])
        with self._tx("append") as cx:
            if dead:
                with cx.cursor() as cur:
                    cur.executemany(f"INSERT INTO {s}.dead_letters VALUES (to_timestamp(%s), "
                                    "%s, %s, %s, %s, %s)".encode(), dead_rows(dead))
            if len(b):
                self._ensure_partitions(cx, us)
                try:
                    with cx.transaction(), cx.cursor() as cur, cur.copy(
                            f"COPY {s}.readings ({_READINGS_COLS}) FROM STDIN "
                            "(FORMAT BINARY)".encode()) as cp:
                        cp.write(payload)
                except psycopg.errors.UniqueViolation:
                    self._upsert(cx, payload)
                pts, lo, hi, _ = point_ranges(b)
                cx.execute(f"INSERT INTO {s}.rollup_dirty SELECT p, 'epoch'::timestamptz + "
                           "lo * INTERVAL '1 microsecond', 'epoch'::timestamptz + hi * "
                           "INTERVAL '1 microsecond' FROM unnest(%s::int[], %s::int8[], "
                           "%s::int8[]) AS u(p, lo, hi)".encode(),
                           [pts.tolist(), lo.tolist(), hi.tolist()])
        return len(b)

    def _upsert(self, cx: psycopg.Connection[Any], payload: bytes) -> None:
        """Last write wins for rows that rewrite stored (point, ts)."""
        with cx.cursor() as cur:
            with cur.copy(f"COPY ptwin_stage ({_READINGS_COLS}) FROM STDIN (FORMAT BINARY)"
                          .encode()) as cp:
                cp.write(payload)
            cur.execute(f"INSERT INTO {self.schema}.readings SELECT {_READINGS_COLS} FROM "
                        "ptwin_stage ON CONFLICT (point, ts) DO UPDATE SET value = "
                        "excluded.value, quality = excluded.quality, reason = excluded.reason"
                        .encode())
            cur.execute(b"TRUNCATE ptwin_stage")

    def _ensure_partitions(self, cx: psycopg.Connection[Any], us: np.ndarray[Any, Any]) -> None:
        if self.timescale:
            return
        days = np.unique(np.floor_divide(us, _DAY * 1_000_000)).tolist()
        locked = False
        for day in days:
            name = _day_name(int(day))
            if name in self._partitions:
                continue
            if not locked:  # writers of one schema create a day's partition one at a time
                cx.execute(b"SELECT pg_advisory_xact_lock(hashtext(%s))",
                           [f"ptwin-partitions:{self.schema}"])
                locked = True
            lo, hi = int(day) * _DAY * 1_000_000, (int(day) + 1) * _DAY * 1_000_000
            cx.execute(f"CREATE TABLE IF NOT EXISTS {self.schema}.{name} PARTITION OF "
                       f"{self.schema}.readings FOR VALUES FROM ({ts_lit(lo)}) "
                       f"TO ({ts_lit(hi)})".encode())
            self._partitions.add(name)

    def append_dead(self, items: Sequence[DeadLetter]) -> None:
        if not items:
            return
        with self._lock, self._tx("storing dead letters") as cx, cx.cursor() as cur:
            cur.executemany(f"INSERT INTO {self.schema}.dead_letters VALUES "
                            "(to_timestamp(%s), %s, %s, %s, %s, %s)".encode(),
                            dead_rows(items))

    # ------------------------------------------------------------------ roll-up, retention
    def rollup(self) -> int:
        with self._lock:
            self._flush()
            return self._rollup()

    def _rollup(self) -> int:
        s = self.schema
        with self._tx("roll-up") as cx:
            cx.execute("SELECT pg_advisory_xact_lock(%s)", [self._lock_key + 1])
            rows = cx.execute(
                f"DELETE FROM {s}.rollup_dirty RETURNING point, "
                "(extract(epoch FROM lo) * 1000000)::int8, "
                "(extract(epoch FROM hi) * 1000000)::int8".encode()).fetchall()
            if not rows:
                return 0
            a = np.array(rows, dtype=np.int64)
            p, lo, hi = merge_ranges(a[:, 0], a[:, 1], a[:, 2])
            ranges = ("(SELECT u.point, 'epoch'::timestamptz + u.lo * INTERVAL '1 microsecond'"
                      " AS lo, 'epoch'::timestamptz + u.hi * INTERVAL '1 microsecond' AS hi "
                      f"FROM unnest(ARRAY[{','.join(map(str, p.tolist()))}]::int[], "
                      f"ARRAY[{','.join(map(str, lo.tolist()))}]::int8[], "
                      f"ARRAY[{','.join(map(str, hi.tolist()))}]::int8[]) AS u(point, lo, hi))"
                      " g")
            cx.execute(self._t.rollup_delete(ranges).encode())
            cur = cx.execute(self._t.rollup_insert(ranges, int(lo.min()), int(hi.max()))
                             .encode())
            return max(cur.rowcount, 0)

    def retain(self, now: float | None = None) -> RetentionReport:
        now = time.time() if now is None else now
        pol, s = self.retention, self.schema
        raw = roll = 0
        with self._lock:
            self._flush()
            self._rollup()
            with self._tx("retention") as cx:
                if pol.raw_days is not None:
                    cut = math.floor((now - pol.raw_days * _DAY) / _DAY) * _DAY
                    lit = ts_lit(cut * 1_000_000)
                    raw = int(_scalar(cx, f"SELECT count(*) FROM {s}.readings WHERE ts < {lit}"))
                    if self.timescale:
                        cx.execute(f"SELECT drop_chunks('{s}.readings', older_than => {lit})"
                                   .encode())
                        cx.execute(f"DELETE FROM {s}.readings WHERE ts < {lit}".encode())
                    else:
                        for name in sorted(self._partitions):
                            day = datetime.strptime(name[-8:], "%Y%m%d").replace(tzinfo=UTC)
                            if day.timestamp() + _DAY <= cut:
                                cx.execute(f"DROP TABLE IF EXISTS {s}.{name}".encode())
                                self._partitions.discard(name)
                    self._horizon = max(float(cut), self._horizon or -math.inf)
                    self._set_meta(cx, "raw_horizon", repr(self._horizon))
                if pol.rollup_days is not None:
                    rcut = math.floor((now - pol.rollup_days * _DAY) / ROLLUP_SECONDS)
                    rcut *= ROLLUP_SECONDS
                    cur = cx.execute(f"DELETE FROM {s}.readings_1m WHERE minute < "
                                     f"{ts_lit(rcut * 1_000_000)}".encode())
                    roll = max(cur.rowcount, 0)
                    self._rollup_horizon = max(float(rcut), self._rollup_horizon or -math.inf)
                    self._set_meta(cx, "rollup_horizon", repr(self._rollup_horizon))
        return RetentionReport(raw, roll, self._horizon, self._rollup_horizon)

    def _set_meta(self, cx: psycopg.Connection[Any], key: str, value: str) -> None:
        cx.execute(f"INSERT INTO {self.schema}.meta VALUES (%s, %s) ON CONFLICT (key) DO "
                   "UPDATE SET value = excluded.value".encode(), [key, value])

    # ------------------------------------------------------------------ reads
    def _copy_out(self, query: str, cols: str) -> list[np.ndarray[Any, Any]]:
        with self._tx("query") as cx, cx.cursor() as cur:
            sql = f"COPY (SELECT {cols} FROM ({query}) z ORDER BY 1, 2) TO STDOUT (FORMAT BINARY)"
            with cur.copy(sql.encode()) as cp:
                data = b"".join(bytes(chunk) for chunk in cp)
        return decode(data, _OUT_KINDS)

    def _ids(self, keys: Sequence[str] | None) -> list[int]:
        try:
            return self._points.resolve(keys)
        except UnknownPointError:  # another process may have added it
            with self._tx("loading points") as cx:
                self._points.load(self._known(cx), self._table)
            return self._points.resolve(keys)

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
            self._conn()
            ids = self._ids(keys)
            self._flush()
            if spec.every is None:
                cols = "point::int4, t::float8, value::float8, quality::int2, reason::int4"
                p, t, v, q, r = self._copy_out(self._t.raw(ids, spec), cols)
            else:
                if spec.rollup:
                    self._rollup()
                cols = "point::int4, b::float8, v::float8, q::int2, r::int4"
                p, t, v, q, r = self._copy_out(self._t.aggregate(ids, spec), cols)
        return split_series(p, t, v, q, r, self._points)

    def interpolate(self, key: str, start: float, end: float, every: float,
                    method: str = "linear", *,
                    max_quality: int = DEFAULT_MAX_QUALITY) -> Series:
        if method not in INTERPOLATIONS:
            raise InvalidInputError(f"unknown method {method!r}; use one of {INTERPOLATIONS}")
        QuerySpec.make(start, end, None, "avg", max_quality, "raw")
        g = np.round(grid(start, end, every) * 1e6) / 1e6
        with self._lock:
            self._conn()
            pid = self._ids([key])[0]
            self._flush()
            with self._tx("query") as cx:
                rows = cx.execute(self._t.neighbourhood(pid, round(start * 1e6),
                                                        round(end * 1e6)).encode()).fetchall()
        return interpolate(_rows(rows), g, method, max_quality)

    def latest(self, key: str) -> Series:
        with self._lock:
            self._conn()
            pid = self._ids([key])[0]
            self._flush()
            with self._tx("query") as cx:
                rows = cx.execute(f"SELECT date_part('epoch', ts), value, quality, reason FROM "
                                  f"{self.schema}.readings WHERE point = {pid} ORDER BY ts "
                                  "DESC LIMIT 1".encode()).fetchall()
                if not rows:
                    rows = cx.execute(self._t.latest_rollup(pid).encode()).fetchall()
        r = _rows(rows)
        return Series(r.ts, r.value, r.quality, r.reason)

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        with self._lock:
            self._flush()
            with self._tx("query") as cx:
                rows = cx.execute(f"SELECT date_part('epoch', ts), source, key, value, reason, "
                                  f"category FROM {self.schema}.dead_letters ORDER BY ts DESC "
                                  "LIMIT %s".encode(), [max(0, int(limit))]).fetchall()
        return [DeadLetter(r[1], r[2], r[3], r[4], ts=float(r[0]), category=r[5]) for r in rows]

    def count(self, key: str | None = None) -> int:
        with self._lock:
            self._conn()
            where = "" if key is None else f" WHERE point = {self._ids([key])[0]}"
            self._flush()
            with self._tx("query") as cx:
                return int(_scalar(cx, f"SELECT count(*) FROM {self.schema}.readings{where}"))

    def close(self) -> None:
        with self._lock:
            try:
                if self._pending.rows:
                    self._flush()
            finally:
                if self._cx is not None:
                    self._cx.close()
                    self._cx = None

    def drop(self) -> None:
        """Remove the whole schema: every table of this store (tests, benchmarks)."""
        with self._lock, self._tx("drop") as cx:
            cx.execute(pgsql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                pgsql.Identifier(self.schema)))
            self._partitions.clear()


def _scalar(cx: psycopg.Connection[Any], query: str) -> Any:
    row = cx.execute(query.encode()).fetchone()
    return None if row is None else row[0]


def _rows(rows: list[tuple[Any, ...]]) -> Rows:
    a = np.array([(float(t), float(v) if v is not None else math.nan, int(q), int(r))
                  for t, v, q, r in rows], dtype=float).reshape(-1, 4)
    return Rows(a[:, 0].copy(), a[:, 1].copy(), a[:, 2].astype(np.uint8),
                (a[:, 3].astype(np.int64) & 0xFFFFFFFF).astype(np.uint32))
