"""PostgreSQL specifics: day partitions with a BRIN index, the views Grafana reads, and
failures mapped to the error hierarchy."""

from __future__ import annotations

import psycopg
import pytest

from processtwin.core import Batch
from processtwin.errors import InvalidInputError, StoreError
from processtwin.store import TimeSeriesStore
from tests.store.conftest import PG_DSN, TABLE, Factory

D = 1_700_006_400.0  # 2023-11-15 00:00 UTC


def test_layout_and_views_grafana_reads(open_store: Factory) -> None:
    store = open_store("postgres")
    store.append(Batch.of([0, 0, 0, 1], [D + 10, D + 20, D + 86_400 + 5, D], [1.0, 3.0, 5.0, 7.0],
                          [0, 0, 1, 0]))
    store.rollup()
    schema = store.schema  # type: ignore[attr-defined]
    with psycopg.connect(PG_DSN) as cx:
        parts = [r[0] for r in cx.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = %s::regclass ORDER BY 1", [f"{schema}.readings"])]
        assert parts == ["readings_p20231115", "readings_p20231116"]
        idx = cx.execute("SELECT indexdef FROM pg_indexes WHERE schemaname = %s AND "
                         "tablename = 'readings'", [schema]).fetchall()
        assert any("brin (ts)" in r[0] for r in idx)
        # the docstring's Grafana queries, with the macros expanded as Grafana would
        raw = cx.execute(
            f"SELECT date_bin('1 minute', time, 'epoch') AS time, avg(value) AS \"T\" "
            f"FROM {schema}.history WHERE key = 'r.a' AND quality < 2 "
            "AND time BETWEEN to_timestamp(%s) AND to_timestamp(%s) GROUP BY 1 ORDER BY 1",
            [D, D + 2 * 86_400]).fetchall()
        assert [r[1] for r in raw] == [2.0, 5.0]
        minute = cx.execute(f"SELECT time, avg, count, quality FROM {schema}.minute WHERE "
                            "key = 'r.a' ORDER BY 1").fetchall()
        assert [(r[1], r[2], r[3]) for r in minute] == [(2.0, 2, 0), (5.0, 1, 1)]
        latest = cx.execute(f"SELECT key, value FROM {schema}.latest ORDER BY key").fetchall()
        assert latest == [("r.a", 5.0), ("r.b", 7.0)]


def test_failures_map_to_the_error_hierarchy(open_store: Factory) -> None:
    from processtwin.store.postgres import PostgresStore

    open_store("postgres")  # skips cleanly without a server
    with pytest.raises(InvalidInputError):
        PostgresStore(PG_DSN, schema="Robert'); DROP TABLE x")
    away = PostgresStore("host=127.0.0.1 port=1 user=postgres dbname=test",
                         connect_timeout_s=1)
    with pytest.raises(StoreError, match="cannot connect"):
        away.register(TABLE)
    with pytest.raises(StoreError):
        away.count()
    with psycopg.connect(PG_DSN) as cx:
        has_ts = cx.execute("SELECT 1 FROM pg_available_extensions "
                            "WHERE name = 'timescaledb'").fetchone()
    if has_ts is None:  # required but absent is an error, not a silent fallback
        with pytest.raises(StoreError, match="TimescaleDB"):
            open_store("postgres", name="ts", timescale=True)
    else:
        assert open_store("postgres", name="ts", timescale=True).timescale  # type: ignore[attr-defined]
    plain = open_store("postgres", name="plain", timescale=False)
    assert plain.timescale is False  # type: ignore[attr-defined]


def test_two_writers_of_one_schema_create_a_new_day_without_racing(open_store: Factory) -> None:
    import threading

    a, b = open_store("postgres"), open_store("postgres")  # same name: same schema
    errors: list[BaseException] = []
    go = threading.Barrier(2)

    def write(store: TimeSeriesStore, day: int, point: int) -> None:
        try:
            go.wait()
            store.append(Batch.of([point], [D + day * 86_400 + 1.0], [float(day)], [0]))
        except BaseException as exc:  # the test reports every failure
            errors.append(exc)

    for day in range(3, 11):  # each round: both writers meet a day neither has created
        ts = [threading.Thread(target=write, args=(s, day, p)) for p, s in ((0, a), (1, b))]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    assert errors == []
    assert a.count() == 16
