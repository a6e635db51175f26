"""Time-series stores: the Protocol, an in-memory double and the embedded DuckDB backend."""

from processtwin.store.base import AGGREGATES, Series, TimeSeriesStore
from processtwin.store.embedded import EmbeddedStore
from processtwin.store.memory import MemoryStore

__all__ = ["AGGREGATES", "EmbeddedStore", "MemoryStore", "Series", "TimeSeriesStore"]
