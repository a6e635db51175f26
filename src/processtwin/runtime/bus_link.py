"""A running twin on the bus: ``bus: {kind: jetstream, site: ...}`` in twin.yaml.

:class:`BusLink` is the runtime's end of the NATS JetStream bus (:mod:`processtwin.bus`):

* its :class:`~processtwin.bus.publisher.BusPublisher` is the sink the connectors get instead
  of :meth:`TwinRuntime.ingest <processtwin.runtime.runtime.TwinRuntime.ingest>`, so a reading
  is durable in the site's stream before the connector takes the next one;
* its :class:`~processtwin.bus.worker.IngestWorker` consumes the partitions of
  ``bus.consume`` (all by default) with a :class:`~processtwin.bus.worker.Sink` that feeds
  each fetch through the runtime's own ingest path (pipeline → live state → store queue) and
  then commits it (:meth:`TwinRuntime.flush
  <processtwin.runtime.runtime.TwinRuntime.flush>`). Frames are acknowledged only after that
  commit; redelivered frames lose the rows the store already holds, and a restarted twin
  rewinds what its previous run left unacknowledged (the worker's code, not repeated here).

The store of a twin on the bus has no outage buffer (JetStream is the buffer): a failed
commit keeps the frames unacknowledged until the store is back. Partitions the twin does not
consume are left to ``ptwin worker`` processes (store only, no live state).

Sparkplug sources are refused: their births add points at run time, which the bus's point
table (fixed when publisher and workers start, checked by its fingerprint) cannot carry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from processtwin.core.batch import Batch, DeadLetter
from processtwin.errors import ConfigError, ConfigProblem, StoreError
from processtwin.runtime.config import SparkplugSourceConfig, TwinFile
from processtwin.store.factory import StoreSpec

if TYPE_CHECKING:
    from processtwin.bus.publisher import BusPublisher
    from processtwin.bus.worker import IngestWorker
    from processtwin.runtime.runtime import TwinRuntime

__all__ = ["BusLink", "store_spec"]

_log = logging.getLogger(__name__)

Sink = Callable[[Batch, list[DeadLetter]], Awaitable[None]]


def store_spec(cfg: TwinFile) -> StoreSpec:
    """The store twin.yaml describes; on the bus without the outage buffer."""
    spec = cfg.store.spec()
    return replace(spec, buffer=False) if cfg.bus.kind == "jetstream" else spec


class BusLink:
    """Publishes a runtime's connector batches and consumes its partitions into it."""

    def __init__(self, rt: TwinRuntime) -> None:
        from processtwin.bus.publisher import BusPublisher
        from processtwin.bus.worker import IngestWorker, Sink

        cfg = rt.cfg.bus
        if any(isinstance(s, SparkplugSourceConfig) for s in rt.cfg.sources):
            raise ConfigError([ConfigProblem(
                "bus.kind", "a jetstream bus cannot carry Sparkplug sources (births add "
                "points at run time); use kind: inprocess")])
        self.rt = rt
        self.settings = cfg.settings()
        self.publisher: BusPublisher = BusPublisher(self.settings, rt.table)
        self.worker: IngestWorker = IngestWorker(
            self.settings, cfg.consumed(), table=rt.table, pipeline=None, store=rt.store,
            sink=Sink(handle=rt.ingest, commit=self._commit))
        self._task: asyncio.Task[object] | None = None

    async def _commit(self) -> None:
        if not await self.rt.flush():
            raise StoreError("the store did not commit the rows; they are kept for a retry")

    async def start(self) -> Sink:
        """Connect, make or check the stream, start consuming; the connectors' sink."""
        await self.publisher.start()  # raises ConnectorError when NATS is not there
        self._task = asyncio.create_task(self.worker.run(), name="bus-consumer")
        self._task.add_done_callback(_report)
        return self.publisher.ingest

    async def stop_consuming(self) -> None:
        """Finish the frames in hand (commit, then acknowledge) and stop consuming; the
        runtime calls it before it stops its store loop, whose flush a commit may await."""
        self.worker.stop()
        if self._task is not None:
            with contextlib.suppress(Exception):  # reported by _report
                await self._task
            self._task = None

    async def stop(self) -> None:
        """Stop consuming, then disconnect the publisher (after the connectors stopped)."""
        await self.stop_consuming()
        await self.publisher.stop()


def _report(task: asyncio.Task[object]) -> None:
    if not task.cancelled() and task.exception() is not None:
        _log.error("the bus consumer stopped: %s", task.exception())
