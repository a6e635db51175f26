"""The consuming side of the bus: :class:`IngestWorker`, a twin worker process.

A worker owns one or more partitions of a site's stream. For each it binds the durable pull
consumer ``ingest-p<k>`` (filter ``ptwin.<site>.ingest.<k>``), fetches up to
``fetch_batch`` frames, decodes them, runs them through the same
:class:`~processtwin.pipeline.Pipeline` the in-process runtime uses, commits the result to the
store (opened from twin.yaml's ``store:``), and only then acknowledges the frames.

* **Ack after commit.** The store is opened *without* the outage buffer and with commits on
  every append (JetStream is the buffer): when a commit fails, the worker keeps the frames
  unacknowledged, tells JetStream it is still working on them (``in_progress``) and retries;
  a killed worker's frames stay in the stream.
* **Order.** One worker consumes a partition at a time; frames arrive in stream order and the
  pipeline sorts each fetch by (point, source timestamp), so every twin's readings are
  processed in order.
* **Crash recovery.** On start, a consumer that still has unacknowledged frames (its previous
  worker died) is rewound: deleted and made again. The stream is a work queue, so it still
  holds exactly the unacknowledged frames, and they come again at once, in order (rather
  than after ``ack_wait``, behind newer frames). Frames up to the highest stream sequence
  the old consumer had delivered are *suspect*, as is any frame JetStream redelivers
  (``num_delivered > 1``): their rows whose (point, source timestamp) the store already
  holds are dropped before the pipeline (the dead worker committed them but could not ack).
  The store's last-write-wins on (point, ts) is the second line of defence.
* **Bad frames.** A frame that does not decode becomes a dead letter (category ``codec``,
  with the reason), is counted, and is terminated (``term``): never retried, never fatal.

* **In a running twin.** Given a :class:`Sink`, the worker hands each fetch's decoded (and
  de-duplicated) rows to ``sink.handle`` instead of its own pipeline, then calls
  ``sink.commit`` (retried like a store commit) and acknowledges after it returned: a
  :class:`~processtwin.runtime.runtime.TwinRuntime` with ``bus: {kind: jetstream}`` consumes
  its site this way (:mod:`processtwin.runtime.bus_link`). The store then stays the sink's
  and is used only to find duplicates.

Partitions per worker are the unit of scale: ``ptwin worker twin.yaml --site S
--partition 0 --partition 1`` in one process, or one process per partition.
Run as ``python -m processtwin.bus`` or ``ptwin worker``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from processtwin.bus.codec import CodecError, decode, table_fingerprint
from processtwin.bus.publisher import connect, ensure_stream
from processtwin.bus.settings import BusSettings, partition_table
from processtwin.core.batch import Batch, DeadLetter
from processtwin.core.points import PointTable
from processtwin.pipeline.pipeline import Pipeline, PipelineResult
from processtwin.runtime.metrics import Metrics
from processtwin.store.base import CommitPolicy, TimeSeriesStore

if TYPE_CHECKING:
    from processtwin.runtime.config import TwinFile

__all__ = ["IngestWorker", "Sink", "WorkerStats"]

_log = logging.getLogger(__name__)


@dataclass
class WorkerStats:
    """Counts of one worker run; times are Unix seconds (comparable across processes)."""

    messages: int = 0
    rows: int = 0
    stored: int = 0
    duplicates: int = 0
    dead: int = 0
    codec_errors: int = 0
    suspect: int = 0
    commit_retries: int = 0
    first_fetch: float | None = None
    last_commit: float | None = None
    partitions: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True, slots=True)
class Sink:
    """Where a worker's frames go instead of its own pipeline and store.

    ``handle(batch, dead)`` takes one fetch's rows (decoded, duplicates dropped, not yet
    through a pipeline) once; ``commit()`` returns once they are durable and raises when
    the commit failed (the worker keeps the frames, retries ``commit`` and acknowledges
    only after it returned).
    """

    handle: Callable[[Batch, list[DeadLetter]], Awaitable[None]]
    commit: Callable[[], Awaitable[None]]


class IngestWorker:
    """Consumes partitions of a site's stream into a store through the pipeline (or into
    a :class:`Sink`; then ``store`` serves only to find duplicates and is not closed)."""

    def __init__(self, settings: BusSettings, partitions: Sequence[int], *,
                 table: PointTable, pipeline: Pipeline | None, store: TimeSeriesStore,
                 sink: Sink | None = None, fetch_timeout_s: float = 1.0) -> None:
        if (pipeline is None) == (sink is None):
            raise ValueError("a worker needs a pipeline or a sink, not both")
        self.settings = settings
        self.partitions = settings.check_partitions(partitions)
        self.table = table
        self.pipeline = pipeline
        self.store = store
        self.sink = sink
        self.fingerprint = table_fingerprint(table.keys())
        self.fetch_timeout_s = fetch_timeout_s
        self.metrics = Metrics()
        self.stats = WorkerStats(partitions=list(self.partitions))
        self._suspect: dict[int, int] = {}
        self._stop = asyncio.Event()
        self._store_lock = asyncio.Lock()  # one store call at a time across partitions
        self._warned = False

    @classmethod
    def from_config(cls, cfg: TwinFile, settings: BusSettings, partitions: Sequence[int], *,
                    data_dir: str | Path | None = None, **kw: Any) -> IngestWorker:
        """A worker with the point table, pipeline and store twin.yaml describes."""
        from processtwin.pipeline.derived import compile_derived
        from processtwin.runtime.config import sampling_periods
        from processtwin.runtime.runtime import build_point_table
        from processtwin.store.factory import open_store

        table = build_point_table(cfg)
        pipeline = Pipeline.from_config(table, cfg.quality, periods=sampling_periods(cfg),
                                        derived=compile_derived(cfg.derived, table))
        spec = replace(cfg.store.spec(), buffer=False, commit=CommitPolicy())
        store = open_store(spec, Path(data_dir) if data_dir else
                           Path(cfg.base_dir) / cfg.data_dir)
        store.register(table)
        return cls(settings, partitions, table=table, pipeline=pipeline, store=store, **kw)

    def stop(self) -> None:
        """Ask the worker to finish the frames in hand and return from :meth:`run`."""
        self._stop.set()

    # ------------------------------------------------------------------ consumers
    async def _bind(self, js: Any, p: int) -> Any:
        from nats.js import api
        from nats.js.errors import NotFoundError

        s, durable = self.settings, self.settings.durable(p)
        info: Any = None
        try:
            info = await js.consumer_info(s.stream, durable)
        except NotFoundError:
            # first start, or a crash between a rewind's delete and add: when the store holds
            # rows already, every frame in the stream may have been committed before
            if await asyncio.to_thread(self._holds_rows, p):
                self._suspect[p] = (await js.stream_info(s.stream)).state.last_seq
        if info is not None and info.num_ack_pending:
            self._suspect[p] = info.delivered.stream_seq
            _log.warning("partition %d: rewinding %d unacknowledged frames of a previous "
                         "worker", p, info.num_ack_pending)
            await js.delete_consumer(s.stream, durable)
            info = None
        if info is None:
            await js.add_consumer(s.stream, api.ConsumerConfig(
                durable_name=durable, description=f"processtwin worker, partition {p}",
                filter_subject=s.subject(p), ack_policy=api.AckPolicy.EXPLICIT,
                deliver_policy=api.DeliverPolicy.ALL, ack_wait=s.ack_wait_s,
                max_ack_pending=s.max_ack_pending, max_deliver=-1))
        return await js.pull_subscribe_bind(
            durable=durable, stream=s.stream, pending_msgs_limit=s.max_ack_pending,
            pending_bytes_limit=s.max_ack_pending * s.max_msg_size)

    async def run(self, *, until_idle: bool = False) -> WorkerStats:
        """Consume until :meth:`stop` (or, with ``until_idle``, until the partitions are
        empty); then close the store and return the counts."""
        nc = await connect(self.settings, f"ptwin-worker-{self.partitions}")
        try:
            js = nc.jetstream()
            await ensure_stream(js, self.settings)
            subs = {p: await self._bind(js, p) for p in self.partitions}
            tasks = [asyncio.create_task(self._consume(js, p, sub, until_idle),
                                         name=f"partition-{p}") for p, sub in subs.items()]
            stopper = asyncio.create_task(self._stop.wait())
            pending: set[asyncio.Task[Any]] = set(tasks)
            while pending and not self._stop.is_set():
                _, pending = await asyncio.wait(pending | {stopper},
                                                return_when=asyncio.FIRST_COMPLETED)
                pending.discard(stopper)
            self._stop.set()
            await asyncio.gather(*tasks)
            stopper.cancel()
        finally:
            with contextlib.suppress(Exception):
                await nc.flush()  # the last acknowledgements
            with contextlib.suppress(Exception):
                await nc.close()
            if self.sink is None:
                await asyncio.to_thread(self.store.close)
        return self.stats

    async def _consume(self, js: Any, p: int, sub: Any, until_idle: bool) -> None:
        import nats.errors

        timeouts = (nats.errors.TimeoutError, asyncio.TimeoutError)
        committing: asyncio.Task[None] | None = None  # the previous fetch's commit and acks
        try:
            while not self._stop.is_set():
                try:
                    msgs = await sub.fetch(self.settings.fetch_batch,
                                           timeout=self.fetch_timeout_s)
                except timeouts:
                    if committing is not None:
                        await committing
                        committing = None
                    if until_idle:
                        info = await js.consumer_info(self.settings.stream,
                                                      self.settings.durable(p))
                        if info.num_pending == 0 and info.num_ack_pending == 0:
                            return
                    continue
                prepared = await self._prepare(p, msgs)  # overlaps the previous commit
                if committing is not None:
                    await committing  # commits stay in stream order
                committing = asyncio.create_task(self._finish(*prepared))
        finally:
            if committing is not None:
                await committing

    def _holds_rows(self, p: int) -> bool:
        """Whether the store holds a row of any point of partition ``p``."""
        part = partition_table(self.table, self.settings.partitions)
        return any(len(self.store.latest(self.table.spec(i).key).ts)
                   for i in np.flatnonzero(part == p).tolist())

    # ------------------------------------------------------------------ one fetch
    def _unstored(self, batch: Batch) -> Batch:
        """``batch`` less the rows whose (point, source ts) the store already holds."""
        keep = np.ones(len(batch), bool)
        us = np.round(batch.ts * 1e6).astype(np.int64)
        for pid in np.unique(batch.point).tolist():
            rows = np.flatnonzero(batch.point == pid)
            lo, hi = float(batch.ts[rows].min()), float(batch.ts[rows].max())
            have = self.store.query(self.table.spec(pid).key, lo, hi + 1e-6)
            if len(have.ts):
                stored = np.round(have.ts * 1e6).astype(np.int64)
                keep[rows] = ~np.isin(us[rows], stored)
        return batch if keep.all() else batch.take(keep)

    async def handle(self, p: int, msgs: Sequence[Any]) -> None:
        """Decode, check, commit, then acknowledge one fetch of frames."""
        await self._finish(*await self._prepare(p, msgs))

    async def _prepare(self, p: int, msgs: Sequence[Any]
                       ) -> tuple[Batch, list[DeadLetter], Sequence[Any], list[Any], list[Any]]:
        """Decode and check a fetch (through the pipeline unless a sink takes it):
        (rows, dead letters, frames, good frames, bad frames)."""
        st = self.stats
        if st.first_fetch is None:
            st.first_fetch = time.time()
        batches: list[Batch] = []
        dead: list[DeadLetter] = []
        good: list[Any] = []
        bad: list[Any] = []
        for m in msgs:
            try:
                dec = decode(m.data, n_points=len(self.table), fingerprint=self.fingerprint)
            except CodecError as exc:
                dead.append(DeadLetter("bus", m.subject, repr(bytes(m.data[:48])),
                                       f"codec: {exc}", category="codec"))
                st.codec_errors += 1
                bad.append(m)
                continue
            b = dec.batch
            md = m.metadata
            if md.num_delivered > 1 or md.sequence.stream <= self._suspect.get(p, 0):
                st.suspect += 1
                n0 = len(b)
                async with self._store_lock:
                    b = await asyncio.to_thread(self._unstored, b)
                st.duplicates += n0 - len(b)
            batches.append(b)
            dead.extend(dec.dead)
            good.append(m)
        st.messages += len(msgs)
        batch = Batch.concat(batches)
        st.rows += len(batch)
        if self.pipeline is not None:
            res: PipelineResult = self.pipeline.process(batch, dead)
            batch, dead = res.batch, res.dead
        return batch, dead, msgs, good, bad

    async def _finish(self, batch: Batch, dead: list[DeadLetter], msgs: Sequence[Any],
                      good: list[Any], bad: list[Any]) -> None:
        """Commit a prepared fetch, then acknowledge its frames (terminate the bad ones)."""
        async with self._store_lock:
            if self.sink is None:
                committed = await self._commit(batch, dead, msgs)
            else:
                await self.sink.handle(batch, dead)
                committed = await self._retry(self._sink_commit(self.sink, len(batch)), msgs)
        if not committed:
            return  # stopping before the store came back: the frames stay in the stream
        for m in good:
            await m.ack()
        for m in bad:
            await m.term()

    def _sink_commit(self, sink: Sink, rows: int) -> Callable[[], Awaitable[None]]:
        async def attempt() -> None:
            await sink.commit()
            self.stats.stored += rows

        return attempt

    async def _commit(self, batch: Batch, dead: list[DeadLetter], msgs: Sequence[Any]) -> bool:
        async def attempt() -> None:
            nonlocal dead
            if dead:
                await asyncio.to_thread(self.store.append_dead, dead)
                for d in dead:
                    self.metrics.rejected.labels(d.category).inc()
                self.stats.dead += len(dead)
                dead = []  # not again on a retry of the rows
            if len(batch):
                await asyncio.to_thread(self.store.append, batch)
                await asyncio.to_thread(self.store.flush)
                self.metrics.stored.inc(len(batch))
                self.stats.stored += len(batch)

        return await self._retry(attempt, msgs)

    async def _retry(self, attempt: Callable[[], Awaitable[None]], msgs: Sequence[Any]) -> bool:
        """Run ``attempt`` until it returns (True) or the worker stops (False), keeping the
        frames in progress meanwhile."""
        delay = 0.1
        while True:
            try:
                await attempt()
                self.stats.last_commit = time.time()
                if self._warned:
                    _log.warning("store commits again")
                    self._warned = False
                return True
            except Exception as exc:  # the store failed: keep the frames, retry
                self.stats.commit_retries += 1
                if not self._warned:
                    _log.warning("store commit failed, frames kept unacknowledged: %s", exc)
                    self._warned = True
                for m in msgs:
                    with contextlib.suppress(Exception):
                        await m.in_progress()
                if self._stop.is_set():
                    return False
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

