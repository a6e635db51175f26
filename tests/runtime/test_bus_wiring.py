"""``bus: {kind: jetstream}`` in twin.yaml: a running twin's connectors publish to the site's
stream and the twin consumes it into live state and store, acknowledging after commit.

Integration tests use the real NATS JetStream (127.0.0.1:4222) and Mosquitto (1883), one
site (stream) of their own each, deleted afterwards.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from processtwin.bus import BusSettings
from processtwin.core import Batch
from processtwin.errors import ConfigError, StoreError
from processtwin.runtime.config import load_config, load_config_text
from processtwin.runtime.runtime import TwinRuntime
from processtwin.store import EmbeddedStore
from processtwin.store.base import TimeSeriesStore
from tests.bus.conftest import (
    NATS_URL,
    POINTS,
    TWINS,
    both_partitions_used,
    delete_stream,
    need_nats,
    readings,
)
from tests.connectors.test_mqtt_support import Publisher, needs_broker, prefix, wait_until


class Recording:
    """A store that logs every committed row's (point, source ts); ``down`` fails appends."""

    def __init__(self, inner: TimeSeriesStore, log: list[tuple[int, int]],
                 down: bool = False) -> None:
        self.inner, self.log, self.down = inner, log, down

    def append(self, batch: Batch) -> int:
        if self.down:
            raise StoreError("the store is down (test)")
        n = self.inner.append(batch)
        us = np.round(batch.ts * 1e6).astype(np.int64)
        self.log.extend(zip(batch.point.tolist(), us.tolist(), strict=True))
        return n

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
def site() -> Iterator[str]:
    need_nats()
    s = f"t{uuid.uuid4().hex[:10]}"
    yield s
    delete_stream(BusSettings(site=s).stream)


def twin_yaml(tmp_path: Path, site: str, pfx: str) -> Path:
    """TWINS × POINTS fed by one MQTT source, on a two-partition JetStream bus."""
    (tmp_path / "models.json").write_text(json.dumps({
        "@context": "dtmi:dtdl:context;3", "@id": "dtmi:x:Unit;1", "@type": "Interface",
        "contents": [{"@type": "Telemetry", "name": p, "schema": "double"} for p in POINTS]}))
    lines = ["name: bus-wiring", f"data_dir: {tmp_path / 'data'}", "models: [models.json]",
             "store: {flush_interval_s: 0.05}",
             f"bus: {{kind: jetstream, url: '{NATS_URL}', site: {site}, partitions: 2, "
             "storage: memory, max_bytes: 67108864, ack_wait_s: 5, fetch_batch: 4}",
             "twins:"]
    lines += [f'  - {{id: {t}, model: "dtmi:x:Unit;1"}}' for t in TWINS]
    lines += ["sources:", "  - name: json", "    kind: mqtt",
              "    broker: {host: 127.0.0.1, port: 1883, session_expiry_s: 0}",
              f'    routes: [{{topic: "{pfx}/{{twin}}/{{point}}", qos: 1, '
              'payload: {value: "$.v", ts: "$.ts", ts_unit: ms}}]',
              "    points:"]
    lines += [f"      - {{twin: {t}, point: {p}, lo: -1e12, hi: 1e12}}"
              for t in TWINS for p in POINTS]
    path = tmp_path / "twin.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def runtime(path: Path, log: list[tuple[int, int]], *, down: bool = False) -> TwinRuntime:
    cfg = load_config(path)
    store = EmbeddedStore(Path(cfg.base_dir) / cfg.data_dir / cfg.store.path)
    return TwinRuntime(cfg, store=Recording(store, log, down))  # type: ignore[arg-type]


async def messages_in(site: str) -> int:
    import nats

    nc = await nats.connect(NATS_URL)
    try:
        return int((await nc.jetstream().stream_info(f"PTWIN_{site}")).state.messages)
    finally:
        await nc.close()


def last_values(batches: list[Batch]) -> dict[int, float]:
    b = Batch.concat(batches).sorted()
    return {int(p): float(b.value[b.point == p][-1]) for p in np.unique(b.point)}


@pytest.mark.integration
@needs_broker
async def test_connector_readings_go_over_the_bus_into_state_and_store_once(
        tmp_path: Path, site: str) -> None:
    assert both_partitions_used()
    pfx = prefix()
    log: list[tuple[int, int]] = []
    rt = runtime(twin_yaml(tmp_path, site, pfx), log)
    batches = readings(6, 100, seed=3)
    total = sum(len(b) for b in batches)
    await rt.start()
    pub = Publisher()
    try:
        assert rt.bus is not None
        for b in batches:  # the connectors' sink, called directly
            await rt.bus.publisher.ingest(b, [])
        t_mqtt = 1.7e9 + 1000.0  # after every reading above
        for k, twin in enumerate(TWINS):  # and through the MQTT connector
            pub.publish(f"{pfx}/{twin}/T", json.dumps(
                {"v": 7.0 + k, "ts": int((t_mqtt + k) * 1000)}).encode())
        await wait_until(lambda: len(log) == total + len(TWINS), timeout_s=30)
        assert rt.bus.publisher.counts["rows"] == total + len(TWINS)
        for pid, value in last_values(batches).items():
            spec = rt.table.spec(pid)
            if spec.name != "T":
                assert rt.live_value(spec.twin, spec.name) == value
        for k, twin in enumerate(TWINS):
            assert rt.live_value(twin, "T") == 7.0 + k
        await wait_until(lambda: rt.bus is not None and rt.bus.worker.stats.stored
                         == total + len(TWINS), timeout_s=30)  # acknowledged after commit
    finally:
        pub.close()
        await rt.stop()
    assert len(set(log)) == len(log) == total + len(TWINS)  # each reading committed once
    assert rt.counts["ingested"] == total + len(TWINS)
    await wait_until_empty(site)  # all acknowledged (work queue)


@pytest.mark.integration
async def test_restart_before_commit_redelivers_without_duplicates(
        tmp_path: Path, site: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from nats.aio.msg import Msg

    path = twin_yaml(tmp_path, site, prefix())
    batches = readings(6, 100, seed=4)
    total = sum(len(b) for b in batches)
    log: list[tuple[int, int]] = []

    # 1. the store is down: readings reach live state, nothing is committed or acknowledged
    down = runtime(path, log, down=True)
    await down.start()
    try:
        assert down.bus is not None
        for b in batches:
            await down.bus.publisher.ingest(b, [])
        await wait_until(lambda: down.bus is not None
                         and down.bus.worker.stats.commit_retries > 0, timeout_s=30)
        assert down.counts["ingested"] > 0
    finally:
        await down.stop()
    assert log == []
    assert await messages_in(site) == len(batches) * 2

    # 2. the store commits, but the acknowledgements are lost (a crash right after commit)
    async def lost(self: Msg, *a: Any) -> None:
        return None

    monkeypatch.setattr(Msg, "ack", lost)
    crash = runtime(path, log)
    await crash.start()
    try:
        await wait_until(lambda: len(log) >= total, timeout_s=30)
        for pid, value in last_values(batches).items():
            spec = crash.table.spec(pid)
            assert crash.live_value(spec.twin, spec.name) == value
    finally:
        await crash.stop()
    monkeypatch.undo()
    assert await messages_in(site) == len(batches) * 2  # all still unacknowledged

    # 3. a restart rewinds, drops what the store already holds, acknowledges all
    again = runtime(path, log)
    await again.start()
    try:
        assert again.bus is not None
        await wait_until(lambda: again.bus is not None
                         and again.bus.worker.stats.duplicates == total, timeout_s=30)
        await wait_until(lambda: again.bus is not None
                         and again.bus.worker.stats.messages >= len(batches) * 2,
                         timeout_s=30)
    finally:
        await again.stop()
    assert again.counts["ingested"] == 0
    assert len(set(log)) == len(log) == total  # every reading committed exactly once
    await wait_until_empty(site)


async def wait_until_empty(site: str) -> None:
    """The stream holds nothing (acknowledgements are asynchronous); fail after 30 s."""
    for _ in range(300):
        if await messages_in(site) == 0:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"PTWIN_{site} still holds {await messages_in(site)} messages")


@pytest.mark.parametrize(("bus", "place", "words"), [
    ("{kind: jetstream}", "bus.site", "needs a site"),
    ("{kind: jetstream, site: s1, partitions: 2, consume: [0, 2]}", "bus.consume", "[0, 2)"),
    ("{kind: kafka, site: s1}", "bus.kind", "jetstream"),
    ("{kind: jetstream, site: 'a b'}", "bus.site", "pattern"),
    ("{kind: jetstream, site: s1, partitions: 0}", "bus.partitions", "greater"),
    ("{kind: jetstream, site: s1, max_ack_pending: 1, fetch: 3}", "bus.fetch", "not permitted"),
])
def test_bad_bus_settings_are_config_errors_with_their_place(
        bus: str, place: str, words: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_config_text(f"name: x\nbus: {bus}\n", file="twin.yaml")
    [p] = exc.value.problems
    assert (p.path, p.file, p.line) == (place, "twin.yaml", 2)
    assert words in p.message


def test_bus_defaults_to_in_process_and_maps_onto_bus_settings() -> None:
    assert load_config_text("name: x\n").bus.kind == "inprocess"
    bus = load_config_text("name: x\nbus: {kind: jetstream, site: s1, partitions: 3, "
                           "consume: [2, 0], max_bytes: 1048576}\n").bus
    assert bus.consumed() == [0, 2]
    s = bus.settings()
    assert (s.stream, s.partitions, s.max_bytes) == ("PTWIN_s1", 3, 1 << 20)


def test_a_twin_with_sparkplug_sources_is_refused_on_the_bus(tmp_path: Path) -> None:
    text = ("name: x\nstore: {kind: memory}\nbus: {kind: jetstream, site: s1}\n"
            "sources:\n  - name: sp\n    kind: sparkplug\n    host_id: h\n")
    with pytest.raises(ConfigError) as exc:  # refused when the file loads: nothing opened
        load_config_text(text, file="twin.yaml", base_dir=str(tmp_path))
    [p] = exc.value.problems
    assert (p.path, p.line) == ("bus.kind", 3)
    assert "Sparkplug" in p.message
    assert list(tmp_path.iterdir()) == []
