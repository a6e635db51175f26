"""Time-series store: bulk append and 1-minute downsampling, ours against bare engines.

Data: ``points`` points at 1 Hz, in batches of 100 s x all points sorted by (point, ts), as
the pipeline hands them over; values random, 2 % uncertain and 1 % bad. Measured in the
same run (medians of repeats, fresh files or schemas per repeat):

* **append**, rows/s: ``EmbeddedStore.append`` (de-duplication check, dirty minutes, one
  transaction per batch) against a bare DuckDB ``INSERT ... SELECT`` from Arrow into a plain
  table; SQLite ``executemany`` (WAL, synchronous=NORMAL) into the same columns, the
  embedded alternative; ``PostgresStore.append`` (binary COPY built with NumPy, day
  partitions, dirty minutes) against a bare binary COPY of the same pre-encoded bytes into an
  identical table (partitioned, primary key, BRIN), and psycopg's ``write_row`` COPY, what one
  writes by hand. ratio = ours / bare (goal >= 0.8).
* **downsampling** of all rows to 1-minute averages of every point, seconds, returned to
  Python: ours (``query_many(every=60)``, served by the roll-up) against the bare raw
  ``GROUP BY`` in DuckDB, SQLite and PostgreSQL (``date_bin``); ours from raw rows too.
  ratio = bare / ours (higher is better). Goals: embedded <= 0.2 s, PostgreSQL <= 1 s.
  The roll-up's own cost (``rollup()`` over all rows once) is reported beside it.

Flat keys (``embedded_append_rows_s``, ``pg_downsample_1m_s``, ...) sit beside the runner's
``results`` list. PostgreSQL figures need a server (``PTWIN_BENCH_PG``, default
``host=127.0.0.1 user=postgres dbname=test``); without one they are left out with a note.
"""

from __future__ import annotations

import os
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from processtwin.core import Batch, PointSpec, PointTable
from processtwin.store import EmbeddedStore
from processtwin.store.embedded import _arrow

PG_DSN = os.environ.get("PTWIN_BENCH_PG", "host=127.0.0.1 port=5432 user=postgres dbname=test")
T0 = 1_700_006_400.0
PER_BATCH_S = 100


def batches(n_points: int, rows: int, seed: int = 0) -> Iterator[Batch]:
    """``rows`` rows as batches of PER_BATCH_S seconds of every point."""
    rng = np.random.default_rng(seed)
    per = PER_BATCH_S * n_points
    pts = np.repeat(np.arange(n_points, dtype=np.int32), PER_BATCH_S)
    offs = np.tile(np.arange(PER_BATCH_S, dtype=float), n_points)
    for k in range(rows // per):
        u = rng.random(per)
        q = np.where(u < 0.01, 2, np.where(u < 0.03, 1, 0)).astype(np.uint8)
        yield Batch.of(pts, T0 + k * PER_BATCH_S + offs, 100 + rng.normal(0, 1, per), q)


def _table(n: int) -> PointTable:
    return PointTable([PointSpec(twin="b", name=f"p{i}") for i in range(n)])


def _rate(rows: int, f: Callable[[], None]) -> float:
    t = time.perf_counter()
    f()
    return rows / (time.perf_counter() - t)


def _append_all(store: Any, data: list[Batch]) -> None:
    for b in data:
        store.append(b)


def _secs(f: Callable[[], Any], repeats: int) -> float:
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        f()
        out.append(time.perf_counter() - t)
    return statistics.median(out)


_BARE_DDL = ("CREATE TABLE readings (point INTEGER NOT NULL, ts TIMESTAMPTZ NOT NULL, "
             "value DOUBLE, quality UTINYINT NOT NULL, reason UINTEGER NOT NULL)")


# ---------------------------------------------------------------------- embedded
def embedded(d: Path, n_points: int, ingest_rows: int, total: int, repeats: int
             ) -> dict[str, float]:
    table = _table(n_points)
    data = list(batches(n_points, ingest_rows))
    arrows = [_arrow(b, np.arange(n_points, dtype=np.int32)) for b in data]
    sq_rows = [list(zip(b.point.tolist(), np.round(b.ts * 1e6).astype(np.int64).tolist(),
                        b.value.tolist(), b.quality.tolist(), b.reason.tolist(), strict=True))
               for b in data]
    ours, bare, lite = [], [], []
    for r in range(repeats):
        store = EmbeddedStore(d / f"ours{r}.duckdb")
        store.register(table)
        ours.append(_rate(ingest_rows, lambda s=store: _append_all(s, data)))
        store.close()
        con = duckdb.connect(str(d / f"bare{r}.duckdb"))
        con.execute(_BARE_DDL)

        def bare_insert(con: duckdb.DuckDBPyConnection = con) -> None:
            for tb in arrows:
                con.register("b", tb)
                con.execute("INSERT INTO readings SELECT * FROM b")
                con.unregister("b")

        bare.append(_rate(ingest_rows, bare_insert))
        con.close()
        lite.append(_rate(ingest_rows, lambda r=r: _sqlite_insert(d / f"l{r}.db", sq_rows)))
    out = {"embedded_append_rows_s": statistics.median(ours),
           "embedded_append_bare_rows_s": statistics.median(bare),
           "sqlite_append_rows_s": statistics.median(lite)}

    # downsampling over `total` rows
    store = EmbeddedStore(d / "q.duckdb")
    store.register(table)
    con = duckdb.connect(str(d / "qbare.duckdb"))
    con.execute(_BARE_DDL)
    lite_con = _sqlite(d / "q.db")
    for b in batches(n_points, total, seed=1):
        store.append(b)
        con.register("b", _arrow(b, np.arange(n_points, dtype=np.int32)))
        con.execute("INSERT INTO readings SELECT * FROM b")
        con.unregister("b")
        with lite_con:
            lite_con.executemany("INSERT INTO readings VALUES (?, ?, ?, ?, ?)", zip(
                b.point.tolist(), np.round(b.ts * 1e6).astype(np.int64).tolist(),
                b.value.tolist(), b.quality.tolist(), b.reason.tolist(), strict=True))
    t = time.perf_counter()
    store.rollup()
    out["embedded_rollup_s"] = time.perf_counter() - t
    out["embedded_downsample_1m_s"] = _secs(lambda: store.query_many(None, every=60.0),
                                            repeats + 2)
    out["embedded_downsample_1m_twa_s"] = _secs(
        lambda: store.query_many(None, every=60.0, agg="twa"), repeats)
    out["embedded_downsample_1m_raw_s"] = _secs(
        lambda: store.query_many(None, every=60.0, source="raw"), repeats)
    out["embedded_downsample_1m_bare_s"] = _secs(lambda: con.execute(
        "SELECT point, floor(epoch_us(ts) / 60000000) * 60 AS b, avg(value) AS v "
        "FROM readings WHERE quality < 2 GROUP BY ALL ORDER BY 1, 2").fetchnumpy(), repeats + 2)
    out["sqlite_downsample_1m_s"] = _secs(lambda: lite_con.execute(
        "SELECT point, ts / 60000000 AS b, avg(value) FROM readings WHERE quality < 2 "
        "GROUP BY point, b ORDER BY point, b").fetchall(), 1)
    store.close()
    con.close()
    lite_con.close()
    return out


def _sqlite(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("CREATE TABLE IF NOT EXISTS readings (point INTEGER NOT NULL, ts INTEGER NOT "
                "NULL, value REAL, quality INTEGER NOT NULL, reason INTEGER NOT NULL)")
    return con


def _sqlite_insert(path: Path, data: list[list[tuple[Any, ...]]]) -> None:
    con = _sqlite(path)
    for rows in data:
        with con:
            con.executemany("INSERT INTO readings VALUES (?, ?, ?, ?, ?)", rows)
    con.close()


# ---------------------------------------------------------------------- PostgreSQL
def postgres(n_points: int, ingest_rows: int, total: int, repeats: int) -> dict[str, float]:
    import psycopg

    from processtwin.store._pgcopy import encode
    from processtwin.store.postgres import PostgresStore, _schema_sql

    table = _table(n_points)
    data = list(batches(n_points, ingest_rows))
    out: dict[str, float] = {}
    ours, bare, by_row = [], [], []
    schemas: list[str] = []
    admin = psycopg.connect(PG_DSN, autocommit=True)
    try:
        for _ in range(repeats):
            s = f"ptwin_bench_{uuid.uuid4().hex[:10]}"
            schemas.append(s)
            store = PostgresStore(PG_DSN, schema=s)
            store.register(table)
            ours.append(_rate(ingest_rows, lambda st=store: _append_all(st, data)))
            store.close()

            b_schema = f"ptwin_bare_{uuid.uuid4().hex[:10]}"
            schemas.append(b_schema)
            for stmt in _schema_sql(b_schema, False)[:3]:  # schema, points, readings
                admin.execute(stmt.encode())
            days = {int(T0 // 86_400) + i for i in range(3 + total // n_points // 86_400)}
            for day in days:
                admin.execute(f"CREATE TABLE {b_schema}.p{day} PARTITION OF {b_schema}."
                              f"readings FOR VALUES FROM (to_timestamp({day * 86_400})) TO "
                              f"(to_timestamp({(day + 1) * 86_400}))".encode())
            admin.execute(f"CREATE INDEX ON {b_schema}.readings USING brin (ts)".encode())
            payloads = [encode([(b.point, "int4"),
                                (np.round(b.ts * 1e6).astype(np.int64), "timestamptz"),
                                (b.value, "float8"), (b.quality.astype(np.int16), "int2"),
                                (b.reason, "int4")]) for b in data]
            cx = psycopg.connect(PG_DSN)

            def bare_copy(cx: psycopg.Connection[Any] = cx, s: str = b_schema,
                          payloads: list[bytes] = payloads) -> None:
                for p in payloads:
                    with cx.cursor() as cur, cur.copy(
                            f"COPY {s}.readings FROM STDIN (FORMAT BINARY)".encode()) as cp:
                        cp.write(p)
                    cx.commit()

            bare.append(_rate(ingest_rows, bare_copy))
            admin.execute(f"TRUNCATE {b_schema}.readings".encode())
            small = data[: max(1, len(data) // 5)]

            def write_row(cx: psycopg.Connection[Any] = cx, s: str = b_schema,
                          small: list[Batch] = small) -> None:
                for b in small:
                    with cx.cursor() as cur, cur.copy(
                            f"COPY {s}.readings FROM STDIN (FORMAT BINARY)".encode()) as cp:
                        cp.set_types(["int4", "timestamptz", "float8", "int2", "int4"])
                        for p, t, v, q, r in zip(b.point.tolist(), _datetimes(b.ts),
                                                 b.value.tolist(), b.quality.tolist(),
                                                 b.reason.tolist(), strict=True):
                            cp.write_row((p, t, v, q, r))
                    cx.commit()

            by_row.append(_rate(sum(len(b) for b in small), write_row))
            cx.close()
        out["pg_append_rows_s"] = statistics.median(ours)
        out["pg_append_bare_copy_rows_s"] = statistics.median(bare)
        out["pg_append_write_row_rows_s"] = statistics.median(by_row)

        s = f"ptwin_bench_{uuid.uuid4().hex[:10]}"
        schemas.append(s)
        store = PostgresStore(PG_DSN, schema=s)
        store.register(table)
        for b in batches(n_points, total, seed=1):
            store.append(b)
        admin.execute(f"VACUUM ANALYZE {s}.readings".encode())
        t = time.perf_counter()
        store.rollup()
        out["pg_rollup_s"] = time.perf_counter() - t
        admin.execute(f"VACUUM ANALYZE {s}.readings_1m".encode())
        out["pg_downsample_1m_s"] = _secs(lambda: store.query_many(None, every=60.0),
                                          repeats + 2)
        cx = psycopg.connect(PG_DSN)
        out["pg_downsample_1m_bare_s"] = _secs(lambda: cx.execute(
            f"SELECT point, date_bin('1 minute', ts, 'epoch') AS b, avg(value) FROM "
            f"{s}.readings WHERE quality < 2 GROUP BY 1, 2 ORDER BY 1, 2".encode()).fetchall(),
            repeats)
        cx.close()
        store.close()
    finally:
        for s in schemas:
            admin.execute(f"DROP SCHEMA IF EXISTS {s} CASCADE".encode())
        admin.close()
    return out


def _datetimes(ts: np.ndarray[Any, Any]) -> list[Any]:
    from datetime import UTC, datetime

    return [datetime.fromtimestamp(t, UTC) for t in ts.tolist()]


def _pg_ok() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_DSN, connect_timeout=3):
            return True
    except Exception:
        return False


# ---------------------------------------------------------------------- report
def run(quick: bool = False) -> dict[str, Any]:
    n_points = 1000
    total = 1_000_000 if quick else 10_000_000
    ingest = 1_000_000 if quick else 2_000_000
    repeats = 3
    flat: dict[str, Any] = {"points": n_points, "rows": total, "ingest_rows": ingest}
    notes = [f"{n_points} points at 1 Hz, batches of {PER_BATCH_S * n_points} rows; append "
             f"over {ingest:,} rows, downsampling over {total:,} rows; medians of "
             f"{repeats}+ repeats", "ratio: ours/bare for rates, bare/ours for times "
             "(higher is better)"]
    with tempfile.TemporaryDirectory() as d:
        flat |= embedded(Path(d), n_points, ingest, total, repeats)
    if _pg_ok():
        flat |= postgres(n_points, ingest, total, repeats)
    else:
        notes.append(f"PostgreSQL not reachable at {PG_DSN!r}: its figures are left out")
    flat["embedded_append_ratio"] = flat["embedded_append_rows_s"] / flat[
        "embedded_append_bare_rows_s"]
    flat["embedded_downsample_ratio"] = flat["embedded_downsample_1m_bare_s"] / flat[
        "embedded_downsample_1m_s"]
    if "pg_append_rows_s" in flat:
        flat["pg_append_ratio"] = flat["pg_append_rows_s"] / flat["pg_append_bare_copy_rows_s"]
        flat["pg_downsample_ratio"] = flat["pg_downsample_1m_bare_s"] / flat[
            "pg_downsample_1m_s"]

    def res(name: str, key: str, unit: str, base: str | None = None,
            base_key: str | None = None, ratio: str | None = None) -> dict[str, Any]:
        return {"name": name, "value": flat[key], "unit": unit, "baseline": base,
                "baseline_value": flat.get(base_key) if base_key else None,
                "ratio": flat.get(ratio) if ratio else None}

    results = [
        res("embedded append (DuckDB)", "embedded_append_rows_s", "rows/s",
            "bare DuckDB insert from Arrow", "embedded_append_bare_rows_s",
            "embedded_append_ratio"),
        res("SQLite executemany (the alternative)", "sqlite_append_rows_s", "rows/s"),
        res("embedded 1-min downsampling, roll-up", "embedded_downsample_1m_s", "s",
            "bare DuckDB GROUP BY on raw rows", "embedded_downsample_1m_bare_s",
            "embedded_downsample_ratio"),
        res("embedded 1-min downsampling, raw rows", "embedded_downsample_1m_raw_s", "s"),
        res("embedded 1-min time-weighted avg, roll-up", "embedded_downsample_1m_twa_s", "s"),
        res("embedded roll-up of every row", "embedded_rollup_s", "s"),
        res("SQLite 1-min downsampling (GROUP BY)", "sqlite_downsample_1m_s", "s"),
    ]
    if "pg_append_rows_s" in flat:
        results += [
            res("PostgreSQL append", "pg_append_rows_s", "rows/s", "bare binary COPY",
                "pg_append_bare_copy_rows_s", "pg_append_ratio"),
            res("psycopg write_row COPY (by hand)", "pg_append_write_row_rows_s", "rows/s"),
            res("PostgreSQL 1-min downsampling, roll-up", "pg_downsample_1m_s", "s",
                "bare date_bin GROUP BY on raw rows", "pg_downsample_1m_bare_s",
                "pg_downsample_ratio"),
            res("PostgreSQL roll-up of every row", "pg_rollup_s", "s"),
        ]
    return {"bench": "store", **flat, "results": results, "notes": notes}


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run(quick="--quick" in sys.argv), indent=1))
