"""The bus between ingest and twin workers: NATS JetStream, one stream per site.

The in-process path (connector → ``TwinRuntime.ingest``) stays the default. For scale, the
ingest side publishes batches instead and twin worker processes consume them, running the
same :class:`~processtwin.pipeline.Pipeline` and store code::

    connectors ─► BusPublisher.ingest ─► stream PTWIN_<site>          ─► IngestWorker(s)
                  split by twin,          subjects ptwin.<site>.ingest.<k>   pipeline → store,
                  Nats-Msg-Id             work queue, discard new           then ack

**Partitioning.** ``k = crc32(twin) mod N`` (:func:`~processtwin.bus.settings.partition_of`).
Each partition has one durable pull consumer ``ingest-p<k>`` filtering its own subject, and
is consumed by one worker at a time, so each twin's readings stay in order; a worker may own
several partitions, and N workers share the load. Subjects per partition (rather than one
subject and a server-side mapping) keep this working on any JetStream server (2.9 here) and
make a partition visible in every tool.

**Exactly once in the store.** The publisher sets ``Nats-Msg-Id`` to a digest of a frame's
(point, source timestamp) columns, so the stream drops a re-published frame within its
duplicate window. The worker acknowledges a frame only after its rows are committed; after a
crash the unacknowledged frames come again and rows the store already holds (by point and
source timestamp) are dropped (see :mod:`~processtwin.bus.worker`); the store's
last-write-wins on (point, ts) backs this up.

**Backpressure and memory.** ``max_ack_pending`` bounds the frames in flight per partition
(JetStream stops delivering at the cap), the subscription's pending limits follow it, and
``max_bytes`` caps the stream: when full it refuses new frames (discard new) and the
publisher raises, rather than dropping old readings.

**Limits.** Derived points, drift pairs and balances see only the points of their worker's
partitions: keep their inputs on one twin (or in one partition).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from processtwin.bus.codec import CodecError, Decoded, decode, encode, message_id
    from processtwin.bus.publisher import BusPublisher, PublishReport, ensure_stream
    from processtwin.bus.settings import BusSettings, partition_of, partition_table
    from processtwin.bus.worker import IngestWorker, WorkerStats

__all__ = [
    "BusPublisher",
    "BusSettings",
    "CodecError",
    "Decoded",
    "IngestWorker",
    "PublishReport",
    "WorkerStats",
    "decode",
    "encode",
    "ensure_stream",
    "message_id",
    "partition_of",
    "partition_table",
]

# Loaded on first use, so that ``ptwin`` (whose CLI names the worker command) starts fast.
_HOME = {
    "CodecError": "codec", "Decoded": "codec", "decode": "codec", "encode": "codec",
    "message_id": "codec", "BusPublisher": "publisher", "PublishReport": "publisher",
    "ensure_stream": "publisher", "BusSettings": "settings", "partition_of": "settings",
    "partition_table": "settings", "IngestWorker": "worker", "WorkerStats": "worker",
}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'processtwin.bus' has no attribute {name!r}")
    return getattr(importlib.import_module(f"processtwin.bus.{_HOME[name]}"), name)
