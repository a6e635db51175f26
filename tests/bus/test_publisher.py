"""The publisher against a real JetStream: partitions by twin, the stream's limits, and
connector dead letters carried to the worker's store."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from processtwin.bus import BusPublisher, BusSettings, IngestWorker, partition_of
from processtwin.bus.codec import decode
from processtwin.core import Batch, DeadLetter
from processtwin.errors import ConnectorError, InvalidInputError
from processtwin.runtime.config import load_config
from processtwin.runtime.runtime import build_point_table
from processtwin.store import EmbeddedStore
from tests.bus.conftest import readings, twin_yaml

pytestmark = pytest.mark.integration


def test_frames_hold_one_partition_each_in_order(tmp_path: Path, settings: BusSettings) -> None:
    table = build_point_table(load_config(twin_yaml(tmp_path)))
    pub = BusPublisher(settings.model_copy(update={"max_rows_per_msg": 50}), table)
    batch = readings(1, 400, seed=5)[0]
    frames = pub.frames(batch)
    assert sum(len(decode(f).batch) for _, f, _ in frames) == len(batch)
    for part, frame, _ in frames:
        b = decode(frame).batch
        assert len(b) <= 50
        assert {partition_of(table.spec(int(p)).twin, 2) for p in b.point} == {part}
    for part in (0, 1):  # concatenated in publish order, a partition is the batch's rows
        got = Batch.concat([decode(f).batch for p, f, _ in frames if p == part])
        mask = pub._part[batch.point] == part
        np.testing.assert_array_equal(got.ts, batch.ts[mask])


def test_a_full_stream_refuses_and_the_publisher_raises(
        tmp_path: Path, settings: BusSettings) -> None:
    table = build_point_table(load_config(twin_yaml(tmp_path)))
    small = settings.model_copy(update={"max_bytes": 1 << 16, "ack_wait_s": 1.0})

    async def go() -> None:
        async with BusPublisher(small, table) as pub:
            for b in readings(20, 1000, seed=6):  # 25 kB frames into a 64 kB stream
                await pub.publish(b)

    with pytest.raises(ConnectorError, match="the stream is full"):
        asyncio.run(go())


def test_another_partition_count_is_refused(tmp_path: Path, settings: BusSettings) -> None:
    table = build_point_table(load_config(twin_yaml(tmp_path)))

    async def go() -> None:
        async with BusPublisher(settings, table):
            pass
        with pytest.raises(InvalidInputError, match="partitions"):
            async with BusPublisher(settings.model_copy(update={"partitions": 3}), table):
                pass

    asyncio.run(go())


def test_connector_dead_letters_reach_the_store(tmp_path: Path, settings: BusSettings) -> None:
    cfg = load_config(twin_yaml(tmp_path))
    table = build_point_table(cfg)
    dead = [DeadLetter("plant", "unit1.T", "'x'", "type: not a number: str", ts=1.0),
            DeadLetter("plant", "ns=2;s=odd", "None", "unknown node", ts=2.0)]

    async def go() -> None:
        async with BusPublisher(settings, table) as pub:
            await pub.ingest(readings(1, 10)[0], dead)
        await IngestWorker.from_config(cfg, settings, [0, 1]).run(until_idle=True)

    asyncio.run(go())
    store = EmbeddedStore(Path(cfg.data_dir) / cfg.store.path)
    try:
        assert store.count() == 10
        got = sorted((d.key, d.reason) for d in store.dead_letters())
        assert got == sorted((d.key, d.reason) for d in dead)
    finally:
        store.close()
