"""Publisher and workers over a real JetStream: exactly once in the store, per-twin order,
bad frames as dead letters, and the rewind after a worker died with frames unacknowledged."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from processtwin.bus import BusPublisher, BusSettings, IngestWorker
from processtwin.core import Batch
from processtwin.runtime.config import load_config
from processtwin.runtime.runtime import build_point_table
from processtwin.store import EmbeddedStore
from processtwin.store.base import TimeSeriesStore
from tests.bus.conftest import both_partitions_used, readings, twin_yaml
from tests.store.conftest import PG_DSN, drop_schema, need_pg

pytestmark = pytest.mark.integration


class Recording:
    """A store that remembers the batches it committed, in order (a failed append, which
    the worker retries, is not recorded)."""

    def __init__(self, inner: TimeSeriesStore, log: list[Batch]) -> None:
        self.inner, self.log = inner, log

    def append(self, batch: Batch) -> int:
        n = self.inner.append(batch)
        self.log.append(batch)
        return n

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def expected(batches: list[Batch]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    b = Batch.concat(batches).sorted()
    return {int(p): (b.ts[b.point == p], b.value[b.point == p]) for p in np.unique(b.point)}


def check_store(store: TimeSeriesStore, keys: list[str], batches: list[Batch]) -> None:
    """Every published reading is stored once, with its value."""
    want = expected(batches)
    assert store.count() == sum(len(b) for b in batches)
    for pid, (ts, value) in want.items():
        s = store.query(keys[pid])
        np.testing.assert_allclose(s.ts, ts, rtol=0, atol=1e-6)
        np.testing.assert_array_equal(s.value, value)


@pytest.fixture
def pg_schema() -> Iterator[str]:
    need_pg()
    schema = f"ptwin_bus_{uuid.uuid4().hex[:10]}"
    yield schema
    drop_schema(schema)


def test_two_workers_store_every_reading_once_in_order(
        tmp_path: Path, settings: BusSettings, pg_schema: str) -> None:
    assert both_partitions_used()
    cfg = load_config(twin_yaml(tmp_path, f'store: {{kind: postgres, dsn: "{PG_DSN}", '
                                           f"schema: {pg_schema}}}"))
    table = build_point_table(cfg)
    batches = readings(24, 150, seed=1)
    garbage = [b"", b"PTWB" + bytes(40), b"not a frame at all"]

    async def go() -> tuple[list[IngestWorker], list[list[Batch]]]:
        async with BusPublisher(settings, table) as pub:
            for i, b in enumerate(batches):
                rep = await pub.publish(b)
                assert rep.duplicates == 0
                if i % 8 == 3:  # malformed frames between valid ones, on both partitions
                    for p in range(settings.partitions):
                        await pub._js.publish(settings.subject(p), garbage[i // 8])
            again = await pub.publish(batches[5])  # a publisher retrying: deduplicated
            assert again.duplicates == again.messages > 0
        workers = [IngestWorker.from_config(cfg, settings, [p]) for p in (0, 1)]
        logs: list[list[Batch]] = [[], []]
        for w, log in zip(workers, logs, strict=True):
            w.store = Recording(w.store, log)  # type: ignore[assignment]
        await asyncio.gather(*(w.run(until_idle=True) for w in workers))
        return workers, logs

    workers, logs = asyncio.run(go())
    assert all(w.stats.stored > 0 for w in workers)
    assert sum(w.stats.codec_errors for w in workers) == 3 * settings.partitions
    for log in logs:  # per point, readings reached the store in source-time order
        b = Batch.concat(log)
        for pid in np.unique(b.point):
            assert np.all(np.diff(b.ts[b.point == pid]) > 0)
    from processtwin.store.postgres import PostgresStore

    store = PostgresStore(PG_DSN, schema=pg_schema)
    store.register(table)
    try:
        check_store(store, table.keys(), batches)
        dead = store.dead_letters(limit=100)
        assert sorted(d.category for d in dead) == ["codec"] * (3 * settings.partitions)
        assert all(d.reason.startswith("codec: ") for d in dead)
    finally:
        store.close()


class NoAck:
    """A delivered message whose acknowledgement never leaves (the worker 'dies' after commit)."""

    def __init__(self, msg: Any) -> None:
        self.data, self.subject, self.metadata = msg.data, msg.subject, msg.metadata

    async def ack(self) -> None:
        pass

    async def term(self) -> None:
        pass


def test_restart_rewinds_and_drops_committed_but_unacknowledged_rows(
        tmp_path: Path, settings: BusSettings) -> None:
    cfg = load_config(twin_yaml(tmp_path))
    table = build_point_table(cfg)
    batches = readings(10, 100, seed=2)

    async def go() -> tuple[int, IngestWorker]:
        async with BusPublisher(settings, table) as pub:
            for b in batches:
                await pub.publish(b)
        dying = IngestWorker.from_config(cfg, settings, [0])
        from processtwin.bus.publisher import connect

        nc = await connect(settings, "dying")
        sub = await dying._bind(nc.jetstream(), 0)
        msgs = await sub.fetch(3, timeout=5)
        await dying.handle(0, [NoAck(m) for m in msgs])  # committed, never acknowledged
        committed = dying.stats.stored
        await nc.close()
        dying.store.close()
        survivor = IngestWorker.from_config(cfg, settings, [0, 1])
        await survivor.run(until_idle=True)
        return committed, survivor

    committed, survivor = asyncio.run(go())
    assert committed > 0
    assert survivor.stats.duplicates == committed  # dropped by (point, source ts)
    assert survivor.stats.suspect >= 3
    store = EmbeddedStore(Path(cfg.data_dir) / cfg.store.path)
    store.register(table)
    try:
        check_store(store, table.keys(), batches)
    finally:
        store.close()
