"""Store fixtures: one factory that opens any backend, and PostgreSQL schemas per test.

PostgreSQL tests need a server on 127.0.0.1:5432 (../shared/SERVICES.md). Where none answers
they skip, except under CI (``CI`` set), where a missing server is a failure.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from processtwin.core import PointSpec, PointTable
from processtwin.store import EmbeddedStore, MemoryStore, TimeSeriesStore

PG_DSN = os.environ.get("PTWIN_TEST_PG", "host=127.0.0.1 port=5432 user=postgres dbname=test")
TABLE = PointTable([PointSpec(twin="r", name="a"), PointSpec(twin="r", name="b"),
                    PointSpec(twin="r", name="c")])
BACKENDS = ["memory", "embedded", "postgres"]
DURABLE = ["embedded", "postgres"]

_pg_ok: bool | None = None


def pg_available() -> bool:
    global _pg_ok
    if _pg_ok is None:
        try:
            import psycopg

            with psycopg.connect(PG_DSN, connect_timeout=3):
                _pg_ok = True
        except Exception:
            _pg_ok = False
    return _pg_ok


def need_pg() -> None:
    if not pg_available():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is not reachable at {PG_DSN!r}")
        pytest.skip(f"PostgreSQL is not reachable at {PG_DSN!r}")


def drop_schema(schema: str) -> None:
    import psycopg

    with psycopg.connect(PG_DSN, autocommit=True) as cx:
        cx.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


Factory = Callable[..., TimeSeriesStore]


@pytest.fixture
def open_store(tmp_path: Path) -> Iterator[Factory]:
    """``open_store(kind, name="h", **settings)``: the same name reopens the same store."""
    opened: list[TimeSeriesStore] = []
    schemas: dict[str, str] = {}

    def factory(kind: str, name: str = "h", table: PointTable | None = TABLE,
                **kw: Any) -> TimeSeriesStore:
        s: TimeSeriesStore
        if kind == "memory":
            s = MemoryStore(**kw)
        elif kind == "embedded":
            s = EmbeddedStore(tmp_path / f"{name}.duckdb", **kw)
        else:
            need_pg()
            from processtwin.store.postgres import PostgresStore

            schema = schemas.setdefault(name, f"ptwin_t_{uuid.uuid4().hex[:12]}")
            s = PostgresStore(PG_DSN, schema=schema, **kw)
        if table is not None:
            s.register(table)
        opened.append(s)
        return s

    yield factory
    for s in opened:
        with contextlib.suppress(Exception):  # closing twice or after a failure is fine
            s.close()
    for schema in schemas.values():
        drop_schema(schema)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, open_store: Factory) -> TimeSeriesStore:
    return open_store(request.param)
