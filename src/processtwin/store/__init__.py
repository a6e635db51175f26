"""Time-series stores: the Protocol, an in-memory double, the embedded DuckDB backend, the
PostgreSQL backend (:mod:`processtwin.store.postgres`, needs ``psycopg``), an outage buffer
for any of them, and export to pandas, Polars and Parquet (:mod:`processtwin.store.export`)."""

from processtwin.store.base import (
    AGGREGATES,
    DEFAULT_MAX_QUALITY,
    INTERPOLATIONS,
    CommitPolicy,
    Retention,
    RetentionReport,
    Series,
    TimeSeriesStore,
)
from processtwin.store.buffered import BufferedStore, BufferPolicy, BufferStats
from processtwin.store.embedded import EmbeddedStore
from processtwin.store.factory import StoreSpec, open_store
from processtwin.store.memory import MemoryStore

__all__ = [
    "AGGREGATES",
    "DEFAULT_MAX_QUALITY",
    "INTERPOLATIONS",
    "BufferPolicy",
    "BufferStats",
    "BufferedStore",
    "CommitPolicy",
    "EmbeddedStore",
    "MemoryStore",
    "Retention",
    "RetentionReport",
    "Series",
    "StoreSpec",
    "TimeSeriesStore",
    "open_store",
]
