"""Bus fixtures: a unique site (stream) per test, deleted afterwards, and a small twin.yaml.

Integration tests need NATS with JetStream on 127.0.0.1:4222 (../shared/SERVICES.md). Where
none answers they skip, except under CI (``CI`` set), where a missing server is a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from processtwin.bus.settings import BusSettings, partition_of
from processtwin.core import Batch

NATS_URL = os.environ.get("PTWIN_TEST_NATS", "nats://127.0.0.1:4222")
TWINS = [f"unit{i}" for i in range(6)]
POINTS = ["T", "P"]

_ok: bool | None = None


def nats_available() -> bool:
    global _ok
    if _ok is None:
        async def probe() -> bool:
            import nats

            try:
                nc = await nats.connect(NATS_URL, connect_timeout=2, max_reconnect_attempts=0,
                                        allow_reconnect=False)
            except Exception:
                return False
            try:
                await nc.jetstream().account_info()
                return True
            except Exception:
                return False
            finally:
                await nc.close()

        _ok = asyncio.run(probe())
    return _ok


def need_nats() -> None:
    if not nats_available():
        if os.environ.get("CI"):
            pytest.fail(f"NATS JetStream is not reachable at {NATS_URL}")
        pytest.skip(f"NATS JetStream is not reachable at {NATS_URL}")


def delete_stream(name: str) -> None:
    async def go() -> None:
        import nats

        nc = await nats.connect(NATS_URL)
        with contextlib.suppress(Exception):
            await nc.jetstream().delete_stream(name)
        await nc.close()

    asyncio.run(go())


@pytest.fixture
def settings() -> Iterator[BusSettings]:
    """Settings for a site of its own, two partitions; the stream is deleted afterwards."""
    need_nats()
    s = BusSettings(url=NATS_URL, site=f"t{uuid.uuid4().hex[:10]}", partitions=2,
                    storage="memory", max_bytes=64 << 20, ack_wait_s=5.0, fetch_batch=8)
    yield s
    delete_stream(s.stream)


def twin_yaml(tmp_path: Path, store: str = "") -> Path:
    """A twin.yaml with TWINS × POINTS (wide ranges); ``store`` is its store section."""
    lines = ["name: bus-test", f"data_dir: {tmp_path / 'data'}", "twins:"]
    lines += [f'  - {{id: {t}, model: "dtmi:x:Unit;1"}}' for t in TWINS]
    lines += ["sources:", "  - name: plant", "    url: opc.tcp://127.0.0.1:1/none",
              "    bindings:"]
    lines += [f"      - {{node: {t}.{p}, twin: {t}, point: {p}, lo: -1e12, hi: 1e12}}"
              for t in TWINS for p in POINTS]
    if store:
        lines.append(store)
    path = tmp_path / "twin.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def readings(n_batches: int, rows: int, *, seed: int = 0, t0: float = 1.7e9) -> list[Batch]:
    """Batches over every point, each point's timestamps increasing across batches."""
    rng = np.random.default_rng(seed)
    n_points = len(TWINS) * len(POINTS)
    out = []
    for b in range(n_batches):
        point = rng.integers(0, n_points, rows).astype(np.int32)
        ts = t0 + b * 10.0 + np.arange(rows) * 0.001
        out.append(Batch.of(point, ts, rng.normal(50.0, 1.0, rows)))
    return out


def both_partitions_used() -> bool:
    return {partition_of(t, 2) for t in TWINS} == {0, 1}
