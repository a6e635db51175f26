"""The JetStream bus end to end: two twin worker processes against a bare nats-py consumer.

Method: **pre-fill, then drain.** Each run makes a fresh site stream on the NATS server at
``$PTWIN_BENCH_NATS`` (default ``nats://127.0.0.1:4222``; memory storage, 2 partitions) and
fills it through :class:`~processtwin.bus.BusPublisher` with batches of 500 readings of 100
points on 20 twins (so ~250-reading frames, 25 bytes a reading). Then two consumer
*processes*, one per partition, drain it; each reports the wall-clock time of its first fetch
and of its last commit (or ack), and the rate is readings / (last − first) over both.

* **ours**: ``python -m processtwin.bus twin.yaml --partition k --until-idle`` (the
  ``ptwin worker`` command): decode → :class:`~processtwin.pipeline.Pipeline` (range, rate of
  change, flatline, Hampel outliers, gaps) → PostgreSQL store (binary COPY, a schema of its
  own per run) committed → ack. The two processes share the store.
* **bare nats-py**: the same stream, the same consumer settings (pull, explicit ack, fetch
  64), each message acknowledged on receipt, nothing decoded or stored: the baseline.
  ratio = ours / bare (higher is better).
* **one worker, embedded**: one process owning both partitions into DuckDB (one process
  may write a DuckDB file), for reference.
* **publish**: readings/s of the pre-fill through BusPublisher (acknowledged by the stream).
* **pipeline alone**: :meth:`Pipeline.process` on fetch-sized batches in this process, no
  bus and no store: where a worker's time goes.

Run ``ptwin bench jetstream`` (``--quick`` for a smoke run). Needs NATS with JetStream and,
for the two-worker figure, PostgreSQL at ``$PTWIN_BENCH_PG``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

NATS = os.environ.get("PTWIN_BENCH_NATS", "nats://127.0.0.1:4222")
PG_DSN = os.environ.get("PTWIN_BENCH_PG", "host=127.0.0.1 port=5432 user=postgres dbname=test")
TWINS, POINTS, PER_BATCH, PARTS, FETCH = 20, 5, 500, 2, 64


def _yaml(d: Path, store: str) -> Path:
    lines = ["name: bench-jetstream", f"data_dir: {d / 'data'}", "twins:"]
    lines += [f'  - {{id: u{t}, model: "dtmi:x:Unit;1"}}' for t in range(TWINS)]
    lines += ["sources:", "  - name: plant", "    url: opc.tcp://127.0.0.1:1/none",
              "    bindings:"]
    lines += [f"      - {{node: u{t}.p{p}, twin: u{t}, point: p{p}, lo: 0, hi: 100, "
              f"max_roc: 50, flatline_s: 600}}" for t in range(TWINS) for p in range(POINTS)]
    lines.append(store)
    path = d / f"twin-{uuid.uuid4().hex[:6]}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _batches(n_rows: int) -> list[Any]:
    from processtwin.core import Batch

    n_points = TWINS * POINTS
    rng = np.random.default_rng(1)
    out = []
    per_point = PER_BATCH // n_points
    for b in range(n_rows // PER_BATCH):
        point = np.tile(np.arange(n_points, dtype=np.int32), per_point)
        ts = 1.7e9 + b * per_point + np.repeat(np.arange(per_point), n_points)
        out.append(Batch.of(point, ts.astype(float), 50 + rng.normal(0, 1, len(point))))
    return out


async def _fill(site: str, config: Path, n_rows: int) -> float:
    from processtwin.bus import BusPublisher, BusSettings
    from processtwin.runtime.config import load_config
    from processtwin.runtime.runtime import build_point_table

    table = build_point_table(load_config(config))
    s = BusSettings(url=NATS, site=site, partitions=PARTS, storage="memory",
                    max_bytes=1 << 30)
    batches = _batches(n_rows)
    async with BusPublisher(s, table) as pub:
        t0 = time.perf_counter()
        for i in range(0, len(batches), 20):  # 20 connector batches in flight at a time
            await asyncio.gather(*(pub.publish(b) for b in batches[i:i + 20]))
        return n_rows / (time.perf_counter() - t0)


async def _delete(site: str) -> None:
    import nats

    nc = await nats.connect(NATS)
    with contextlib.suppress(Exception):  # already gone
        await nc.jetstream().delete_stream(f"PTWIN_{site}")
    await nc.close()


def _drain(cmds: list[list[str]], n_rows: int) -> float:
    procs = [subprocess.Popen(c, stdout=subprocess.PIPE) for c in cmds]
    stats = []
    for p in procs:
        out, _ = p.communicate(timeout=600)
        if p.returncode != 0:
            raise RuntimeError(f"{p.args} exited {p.returncode}")
        stats.append(json.loads(out.decode().strip().splitlines()[-1]))
    first = min(s["first_fetch"] for s in stats if s["first_fetch"])
    last = max(s["last_commit"] for s in stats if s["last_commit"])
    stored = sum(s["stored"] for s in stats)
    if stored != n_rows:
        raise RuntimeError(f"{stored} of {n_rows} readings were stored")
    return n_rows / (last - first)


def _worker(config: Path, site: str, parts: list[int]) -> list[str]:
    cmd = [sys.executable, "-m", "processtwin.bus", str(config), "--site", site, "--url", NATS,
           "--partitions", str(PARTS), "--fetch-batch", str(FETCH), "--until-idle"]
    for p in parts:
        cmd += ["--partition", str(p)]
    return cmd


def _bare(site: str, part: int) -> list[str]:
    return [sys.executable, __file__, "bare", site, str(part)]


def _one(kind: str, d: Path, n_rows: int) -> tuple[float, float]:
    """(drain readings/s, publish readings/s) of one fresh run."""
    site = f"bench{uuid.uuid4().hex[:8]}"
    schema = f"ptwin_bench_js_{uuid.uuid4().hex[:8]}"
    store = (f'store: {{kind: postgres, dsn: "{PG_DSN}", schema: {schema}}}' if kind == "pg"
             else f"store: {{kind: embedded, path: {site}.duckdb}}")
    config = _yaml(d, store)
    try:
        pub = asyncio.run(_fill(site, config, n_rows))
        if kind == "pg":
            cmds = [_worker(config, site, [p]) for p in range(PARTS)]
        elif kind == "embedded":
            cmds = [_worker(config, site, list(range(PARTS)))]
        else:
            cmds = [_bare(site, p) for p in range(PARTS)]
        return _drain(cmds, n_rows), pub
    finally:
        asyncio.run(_delete(site))
        if kind == "pg":
            import psycopg

            with psycopg.connect(PG_DSN, autocommit=True) as cx:
                cx.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


async def bare_consumer(site: str, part: int) -> dict[str, Any]:
    """The baseline: drain one partition, ack on receipt; same shape of report as a worker."""
    import nats
    from nats.js import api

    nc = await nats.connect(NATS)
    js = nc.jetstream()
    stream, durable = f"PTWIN_{site}", f"bare-p{part}"
    await js.add_consumer(stream, api.ConsumerConfig(
        durable_name=durable, filter_subject=f"ptwin.{site}.ingest.{part}",
        ack_policy=api.AckPolicy.EXPLICIT, deliver_policy=api.DeliverPolicy.ALL,
        max_ack_pending=256, ack_wait=30))
    sub = await js.pull_subscribe_bind(durable=durable, stream=stream)
    first = last = None
    rows = 0
    while True:
        try:
            msgs = await sub.fetch(FETCH, timeout=1.0)
        except (TimeoutError, nats.errors.TimeoutError):
            info = await js.consumer_info(stream, durable)
            if info.num_pending == 0 and info.num_ack_pending == 0:
                break
            continue
        first = first or time.time()
        for m in msgs:
            rows += int.from_bytes(m.data[8:12], "little")  # the frame's row count
            await m.ack()
        last = time.time()
    await nc.flush()
    await nc.close()
    return {"first_fetch": first, "last_commit": last, "stored": rows}


def _pipeline_rate(d: Path, n_rows: int) -> float:
    """The worker's checks alone, in this process, on fetch-sized batches: its ceiling."""
    from processtwin.core import Batch
    from processtwin.pipeline.pipeline import Pipeline
    from processtwin.runtime.config import load_config, sampling_periods
    from processtwin.runtime.runtime import build_point_table

    cfg = load_config(_yaml(d, "store: {kind: memory}"))
    table = build_point_table(cfg)
    pipe = Pipeline.from_config(table, cfg.quality, periods=sampling_periods(cfg))
    bs = _batches(n_rows)
    per = FETCH // PARTS  # batches whose rows fill one fetch of 64 frames of ~250 readings
    chunks = [Batch.concat(bs[i:i + per]) for i in range(0, len(bs), per)]
    t0 = time.perf_counter()
    for c in chunks:
        pipe.process(c, [])
    return n_rows / (time.perf_counter() - t0)


def run(quick: bool = False) -> dict[str, Any]:
    n_rows = 100_000 if quick else 1_000_000
    repeats = 2 if quick else 3
    try:
        import psycopg

        with psycopg.connect(PG_DSN, connect_timeout=3):
            pg = True
    except Exception:
        pg = False
    figs: dict[str, list[float]] = {"bare": [], "pg": [], "embedded": [], "publish": [],
                                    "pipeline": []}
    with tempfile.TemporaryDirectory(prefix="ptwin-bench-js-") as d:
        for _ in range(repeats):
            figs["pipeline"].append(_pipeline_rate(Path(d), n_rows))
            for kind in ("bare", "pg", "embedded"):
                if kind == "pg" and not pg:
                    continue
                rate, pub = _one(kind, Path(d), n_rows)
                figs[kind].append(rate)
                figs["publish"].append(pub)
    med = {k: statistics.median(v) for k, v in figs.items() if v}
    notes = [f"{n_rows:,} readings of {TWINS * POINTS} points on {TWINS} twins, "
             f"{PARTS} partitions, fetch {FETCH}; medians of {repeats} runs",
             "rate = readings / (last commit or ack - first fetch) over both processes",
             "ratio: ours / bare (higher is better)"]
    results = []
    if "pg" in med:
        results.append({"name": "2 worker processes → PostgreSQL, committed",
                        "value": med["pg"], "unit": "readings/s",
                        "baseline": "bare nats-py pull consumers (2 processes, ack only)",
                        "baseline_value": med["bare"], "ratio": med["pg"] / med["bare"]})
    else:
        notes.append(f"PostgreSQL not reachable at {PG_DSN!r}: the two-worker figure is "
                     "left out")
    results.append({"name": "1 worker process (2 partitions) → DuckDB, committed",
                    "value": med["embedded"], "unit": "readings/s",
                    "baseline": "bare nats-py pull consumers (2 processes, ack only)",
                    "baseline_value": med["bare"], "ratio": med["embedded"] / med["bare"]})
    results.append({"name": "the worker's pipeline alone (1 process, no bus, no store)",
                    "value": med["pipeline"], "unit": "readings/s", "baseline": None,
                    "baseline_value": None, "ratio": None})
    results.append({"name": "BusPublisher pre-fill, acknowledged by the stream",
                    "value": med["publish"], "unit": "readings/s", "baseline": None,
                    "baseline_value": None, "ratio": None})
    return {"bench": "jetstream", "readings": n_rows, "runs": figs, "results": results,
            "notes": notes}


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "bare":
        print(json.dumps(asyncio.run(bare_consumer(sys.argv[2], int(sys.argv[3])))))
    else:
        print(json.dumps(run(quick="--quick" in sys.argv), indent=1))
