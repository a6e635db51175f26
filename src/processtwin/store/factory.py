"""Open the store a configuration asks for: :class:`StoreSpec` and :func:`open_store`.

The runtime maps its ``store:`` section of twin.yaml onto a :class:`StoreSpec` and calls
:func:`open_store`, so the choice of backend, retention, commit batching and the outage
buffer lives in one place.

Example:
    >>> from processtwin.store.factory import StoreSpec, open_store
    >>> store = open_store(StoreSpec(kind="memory"))
    >>> type(store).__name__
    'MemoryStore'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from processtwin.errors import InvalidInputError
from processtwin.store.base import CommitPolicy, Retention, TimeSeriesStore
from processtwin.store.buffered import BufferedStore, BufferPolicy
from processtwin.store.embedded import EmbeddedStore
from processtwin.store.memory import MemoryStore

__all__ = ["StoreSpec", "open_store"]


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreSpec:
    """Which store, where, and how it keeps and commits history.

    ``path`` (embedded) is relative to the data folder given to :func:`open_store`;
    ``dsn``/``schema`` are for PostgreSQL. ``buffer`` wraps the store in a
    :class:`~processtwin.store.buffered.BufferedStore` (the default for PostgreSQL, whose
    server can go away; then commits are not batched in the store, see CommitPolicy).
    """

    kind: Literal["embedded", "memory", "postgres"] = "embedded"
    path: str = "history.duckdb"
    dsn: str | None = None
    schema: str = "ptwin"
    timescale: bool | None = None
    retention: Retention = field(default_factory=Retention)
    commit: CommitPolicy = field(default_factory=CommitPolicy)
    buffer: bool | None = None  # None: buffer PostgreSQL only
    buffer_policy: BufferPolicy = field(default_factory=BufferPolicy)

    def __post_init__(self) -> None:
        problems = []
        if self.kind == "postgres" and not self.dsn:
            problems.append("a postgres store needs a dsn")
        if self.kind not in ("embedded", "memory", "postgres"):
            problems.append(f"unknown store kind {self.kind!r}")
        if self.buffered and self.commit.interval_s > 0:
            problems.append("a buffered store commits every append: set commit.interval_s 0")
        if problems:
            raise InvalidInputError("; ".join(problems))

    @property
    def buffered(self) -> bool:
        return self.kind == "postgres" if self.buffer is None else self.buffer


def open_store(spec: StoreSpec, data_dir: str | Path = ".") -> TimeSeriesStore:
    """The store ``spec`` describes (not yet registered)."""
    store: TimeSeriesStore
    if spec.kind == "memory":
        store = MemoryStore(retention=spec.retention)
    elif spec.kind == "embedded":
        store = EmbeddedStore(Path(data_dir) / spec.path, retention=spec.retention,
                              commit=spec.commit)
    else:
        from processtwin.store.postgres import PostgresStore  # psycopg is optional

        store = PostgresStore(spec.dsn or "", schema=spec.schema, retention=spec.retention,
                              commit=spec.commit, timescale=spec.timescale)
    return BufferedStore(store, spec.buffer_policy) if spec.buffered else store
