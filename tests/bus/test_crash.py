"""kill -9 a real worker process mid-stream, restart it: nothing acknowledged is lost and
nothing is stored twice."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

import pytest

from processtwin.bus import BusPublisher, BusSettings
from processtwin.runtime.config import load_config
from processtwin.runtime.runtime import build_point_table
from processtwin.store import EmbeddedStore
from tests.bus.conftest import readings, twin_yaml
from tests.bus.test_worker import check_store

pytestmark = pytest.mark.integration


def _worker_cmd(config: Path, s: BusSettings, *extra: str) -> list[str]:
    return [sys.executable, "-m", "processtwin.bus", str(config), "--site", s.site,
            "--url", s.url, "--partitions", str(s.partitions), "--partition", "0",
            "--partition", "1", "--fetch-batch", "2", "--ack-wait", "5", *extra]


def test_kill_9_during_ingest_loses_nothing_and_stores_nothing_twice(
        tmp_path: Path, settings: BusSettings) -> None:
    config = twin_yaml(tmp_path)
    cfg = load_config(config)
    table = build_point_table(cfg)
    first, second = readings(60, 1000, seed=3), readings(30, 1000, seed=4, t0=1.8e9)

    async def go() -> tuple[int, int, dict[str, int]]:
        """Return the frames published before the kill, those left unacknowledged at the
        kill, and the restarted worker's counts."""
        async with BusPublisher(settings, table) as pub:
            frames = sum([(await pub.publish(b)).messages for b in first])
            proc = await asyncio.create_subprocess_exec(*_worker_cmd(config, settings),
                                                        stdout=asyncio.subprocess.PIPE)
            js = pub._js
            while True:  # wait until the worker is part-way through the backlog
                left = (await js.stream_info(settings.stream)).state.messages
                if left <= frames - 10 or proc.returncode is not None:
                    break
                await asyncio.sleep(0.005)
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
            left = (await js.stream_info(settings.stream)).state.messages
            for b in second:  # ingest goes on while no worker runs
                await pub.publish(b)
        again = await asyncio.create_subprocess_exec(
            *_worker_cmd(config, settings, "--until-idle"), stdout=asyncio.subprocess.PIPE)
        out, _ = await asyncio.wait_for(again.communicate(), timeout=90)
        assert again.returncode == 0
        return frames, left, json.loads(out.decode().strip().splitlines()[-1])

    frames, left_at_kill, stats = asyncio.run(go())
    assert 0 < left_at_kill < frames  # killed part-way: some acknowledged, some not
    assert stats["stored"] > 0
    store = EmbeddedStore(Path(cfg.data_dir) / cfg.store.path)
    store.register(table)
    try:
        check_store(store, table.keys(), first + second)  # each reading once, its value
    finally:
        store.close()

