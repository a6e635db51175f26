"""The outage buffer: against a store that fails on demand, and against PostgreSQL for real
(a cut network path, a terminated server session, a server away at start-up)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import numpy as np
import pytest

from processtwin.core import Batch, DeadLetter, PointTable
from processtwin.errors import InvalidInputError, StoreError
from processtwin.store import BufferedStore, BufferPolicy, MemoryStore
from tests.store.conftest import PG_DSN, TABLE, drop_schema, need_pg
from tests.store.proxy import TcpProxy


class Flaky(MemoryStore):
    """A memory store that raises StoreError on every write while ``down``."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.attempts = 0

    def _gate(self) -> None:
        self.attempts += 1
        if self.down:
            raise StoreError("backend away")

    def register(self, table: PointTable) -> None:
        self._gate()
        super().register(table)

    def append(self, batch: Batch) -> int:
        self._gate()
        return super().append(batch)

    def append_dead(self, items: list[DeadLetter]) -> None:  # type: ignore[override]
        self._gate()
        super().append_dead(items)


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def rows(k: int, n: int = 3, t0: float = 0.0) -> Batch:
    """Batch ``k``: n rows of point 0 at t0 + k*n + i, value k."""
    return Batch.of([0] * n, t0 + k * n + np.arange(n, dtype=float), [float(k)] * n)


@pytest.fixture
def flaky() -> tuple[Flaky, BufferedStore, Clock]:
    inner, clock = Flaky(), Clock()
    buf = BufferedStore(inner, BufferPolicy(max_rows=100, retry_initial_s=0.5,
                                            retry_max_s=2.0), clock=clock)
    buf.register(TABLE)
    return inner, buf, clock


def test_passes_through_while_the_backend_works(flaky: tuple[Flaky, BufferedStore, Clock]
                                                ) -> None:
    _, buf, _ = flaky
    assert buf.append(rows(0)) == 3
    st = buf.stats()
    assert st.available and st.buffered_rows == 0 and st.failures == 0
    assert buf.query("r.a").value.tolist() == [0.0] * 3


def test_buffers_in_order_and_delivers_on_recovery(flaky: tuple[Flaky, BufferedStore, Clock]
                                                   ) -> None:
    inner, buf, clock = flaky
    inner.down = True
    same_time = [Batch.of([0], [50.0], [float(k)]) for k in range(3)]  # order decides
    assert buf.append(rows(0)) == 0
    for b in same_time:
        assert buf.append(b) == 0
    assert inner.attempts == 2  # register + the first append; no retry before it is due
    st = buf.stats()
    assert not st.available and st.buffered_rows == 6 and st.buffered_batches == 4
    assert st.retry_in_s == pytest.approx(0.5) and st.last_error == "backend away"
    clock.t += 0.5
    assert buf.flush() == 0 and inner.attempts == 3  # retried, failed: backoff doubles
    assert buf.stats().retry_in_s == pytest.approx(1.0)
    inner.down = False
    clock.t += 0.9
    assert buf.flush() == 0  # not due yet
    clock.t += 0.1
    assert buf.append(rows(1)) == 6 + 3  # backlog first, then the new batch
    assert buf.query("r.a", start=50.0, end=51.0).value.tolist() == [2.0]  # the last write
    assert inner.count() == 3 + 1 + 3
    st = buf.stats()
    assert st.available and st.buffered_rows == 0
    assert st.delivered_rows == 6 + 3  # the new batch queued behind the backlog
    assert st.dropped_rows == 0 and st.failures == 2


def test_backoff_grows_to_its_cap(flaky: tuple[Flaky, BufferedStore, Clock]) -> None:
    inner, buf, clock = flaky
    inner.down = True
    buf.append(rows(0))
    delays = []
    for _ in range(4):
        delays.append(buf.stats().retry_in_s)
        clock.t += delays[-1] or 0.0
        buf.flush()
    assert delays == [0.5, 1.0, 2.0, 2.0]


def test_overflow_drops_the_oldest_rows_and_counts_them() -> None:
    inner, clock = Flaky(), Clock()
    buf = BufferedStore(inner, BufferPolicy(max_rows=5, retry_initial_s=1.0), clock=clock)
    buf.register(TABLE)
    inner.down = True
    for k in range(3):
        buf.append(rows(k))
    st = buf.stats()
    assert st.buffered_rows == 5 and st.dropped_rows == 4
    inner.down = False
    clock.t += 1.0
    assert buf.flush() == 5
    s = buf.query("r.a")
    assert s.ts.tolist() == [4.0, 5.0, 6.0, 7.0, 8.0]  # the newest five rows survive
    assert s.value.tolist() == [1.0, 1.0, 2.0, 2.0, 2.0]


def test_an_invalid_batch_is_refused_now_or_rejected_from_the_queue(
        flaky: tuple[Flaky, BufferedStore, Clock]) -> None:
    inner, buf, clock = flaky
    with pytest.raises(InvalidInputError):
        buf.append(Batch.of([9], [1.0], [1.0]))
    assert buf.stats().buffered_rows == 0
    inner.down = True
    buf.append(Batch.of([9], [1.0], [1.0]))
    buf.append(rows(0))
    inner.down = False
    clock.t += 1.0
    assert buf.flush() == 3
    st = buf.stats()
    assert st.rejected_rows == 1 and st.delivered_rows == 3 and inner.count() == 3


def test_dead_letters_wait_too(flaky: tuple[Flaky, BufferedStore, Clock]) -> None:
    inner, buf, clock = flaky
    inner.down = True
    buf.append_dead([DeadLetter("s", "k1", "x", "type", ts=1.0)])
    buf.append_dead([DeadLetter("s", "k2", "y", "type", ts=2.0)])
    assert buf.stats().buffered_dead == 2
    inner.down = False
    clock.t += 1.0
    buf.flush()
    assert [d.key for d in buf.dead_letters()] == ["k2", "k1"]
    assert buf.stats().buffered_dead == 0


def test_registration_waits_for_the_backend() -> None:
    inner, clock = Flaky(), Clock()
    inner.down = True
    buf = BufferedStore(inner, clock=clock)
    buf.register(TABLE)  # no exception: the buffer takes over
    assert not buf.stats().available
    assert buf.append(rows(0)) == 0
    inner.down = False
    clock.t += 1.0
    assert buf.flush() == 3
    assert buf.query("r.a").value.tolist() == [0.0] * 3


def test_close_counts_what_it_could_not_deliver(flaky: tuple[Flaky, BufferedStore, Clock]
                                                ) -> None:
    inner, buf, _ = flaky
    inner.down = True
    buf.append(rows(0))
    buf.close()
    st = buf.stats()
    assert st.dropped_rows == 3 and st.buffered_rows == 0


# ---------------------------------------------------------------- PostgreSQL for real
@pytest.fixture
def pg_schema() -> Iterator[str]:
    need_pg()
    schema = f"ptwin_t_{uuid.uuid4().hex[:12]}"
    yield schema
    drop_schema(schema)


def _pg(schema: str, dsn: str = PG_DSN):  # type: ignore[no-untyped-def]
    from processtwin.store.postgres import PostgresStore

    return PostgresStore(dsn, schema=schema, connect_timeout_s=1)


def _wait_and_flush(buf: BufferedStore, want: int, limit_s: float = 10.0) -> int:
    got, t_end = 0, time.monotonic() + limit_s
    while buf.stats().buffered_rows and time.monotonic() < t_end:
        time.sleep(0.05)
        got += buf.flush()
    assert got == want
    return got


def test_postgres_outage_on_the_network_path(pg_schema: str) -> None:
    proxy = TcpProxy(("127.0.0.1", 5432))
    proxy.start()
    dsn = f"host=127.0.0.1 port={proxy.port} user=postgres dbname=test"
    buf = BufferedStore(_pg(pg_schema, dsn), BufferPolicy(max_rows=2500, retry_initial_s=0.05,
                                                          retry_max_s=0.2))
    try:
        buf.register(TABLE)
        assert buf.append(rows(0, 1000)) == 1000
        proxy.stop()  # cuts the session and refuses new ones
        for k in range(1, 5):
            assert buf.append(rows(k, 1000)) == 0
        st = buf.stats()
        assert not st.available and st.buffered_rows == 2500 and st.dropped_rows == 1500
        proxy.start()
        _wait_and_flush(buf, 2500)
        assert buf.stats().available and buf.stats().delivered_rows == 2500
    finally:
        buf.close()
        proxy.stop()
    check = _pg(pg_schema)
    check.register(TABLE)
    s = check.query("r.a")
    assert len(s) == 3500
    kept = np.r_[np.arange(0, 1000), np.arange(2500, 5000)].astype(float)
    assert s.ts.tolist() == kept.tolist()  # batch 0, then the newest 2500 rows, in order
    assert np.bincount(s.value.astype(int)).tolist() == [1000, 0, 500, 1000, 1000]
    assert check.query("r.a", every=3600.0, agg="count_all", source="rollup"
                       ).value.sum() == 3500
    check.close()


def test_postgres_session_killed_by_the_server(pg_schema: str) -> None:
    import psycopg

    pg = _pg(pg_schema)
    buf = BufferedStore(pg, BufferPolicy(retry_initial_s=0.05))
    try:
        buf.register(TABLE)
        assert buf.append(rows(0, 100)) == 100
        pid = pg.backend_pid()
        with psycopg.connect(PG_DSN, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        assert buf.append(rows(1, 100)) == 0
        assert buf.stats().failures == 1
        _wait_and_flush(buf, 100)
        assert pg.backend_pid() != pid
        assert buf.count() == 200 and buf.stats().dropped_rows == 0
    finally:
        buf.close()


def test_postgres_away_at_start_up(pg_schema: str) -> None:
    proxy = TcpProxy(("127.0.0.1", 5432))  # not started: nothing listens on its port
    dsn = f"host=127.0.0.1 port={proxy.port} user=postgres dbname=test"
    buf = BufferedStore(_pg(pg_schema, dsn), BufferPolicy(retry_initial_s=0.05,
                                                          retry_max_s=0.1))
    try:
        buf.register(TABLE)
        assert buf.append(rows(0, 10)) == 0 and buf.append(rows(1, 10)) == 0
        assert "connect" in (buf.stats().last_error or "")
        proxy.start()
        _wait_and_flush(buf, 20)
        assert buf.query("r.a").value.tolist() == [0.0] * 10 + [1.0] * 10
    finally:
        buf.close()
        proxy.stop()
