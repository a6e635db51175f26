"""Write-through SQLite persistence of a twin graph (stdlib :mod:`sqlite3`, WAL mode).

The graph keeps everything in memory and writes each change through before applying it: one
:class:`Changes` is one transaction, so a refused or failed operation leaves the file as it
was. Reopening the file restores models, twins and relationships in their original order.

One process writes a file at a time; the graph's lock serialises writers within it.
``synchronous=NORMAL`` in WAL mode keeps the file consistent after a crash; the last
transactions before a power loss may be lost.

    >>> store = SqliteGraphStore(":memory:")
    >>> store.apply(Changes(twins_put=[{"$dtId": "t1", "$etag": 'W/"1"'}]))
    >>> store.load().twins
    [{'$dtId': 't1', '$etag': 'W/"1"'}]
    >>> store.close()
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from processtwin.errors import StoreError

__all__ = ["Changes", "Snapshot", "SqliteGraphStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS models (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS twins (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS relationships (
    source TEXT NOT NULL, id TEXT NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (source, id));
"""
_VERSION = 1


@dataclass(slots=True)
class Changes:
    """Everything one graph operation writes; applied in one transaction."""

    models_put: Sequence[tuple[str, Mapping[str, Any]]] = ()
    models_deleted: Sequence[str] = ()
    twins_put: Sequence[Mapping[str, Any]] = ()
    twins_deleted: Sequence[str] = ()
    relationships_put: Sequence[Mapping[str, Any]] = ()
    relationships_deleted: Sequence[tuple[str, str]] = ()


@dataclass(slots=True)
class Snapshot:
    """What a store holds, in insertion order."""

    models: list[dict[str, Any]] = field(default_factory=list)
    twins: list[dict[str, Any]] = field(default_factory=list)
    relationships: list[dict[str, Any]] = field(default_factory=list)


def _dump(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


class SqliteGraphStore:
    """A graph's documents in one SQLite file (``":memory:"`` for a throw-away database)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, _VERSION):
                raise StoreError(f"{self.path}: graph file version {version} is not supported "
                                 f"(this processtwin writes version {_VERSION})")
            self._db.executescript(_SCHEMA)
            self._db.execute(f"PRAGMA user_version={_VERSION}")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the graph file {self.path}: {exc}") from exc

    def load(self) -> Snapshot:
        """Every stored document."""
        try:
            def rows(table: str) -> list[dict[str, Any]]:
                cur = self._db.execute(f"SELECT doc FROM {table} ORDER BY rowid")
                return [json.loads(r[0]) for r in cur]
            return Snapshot(rows("models"), rows("twins"), rows("relationships"))
        except (sqlite3.Error, ValueError) as exc:
            raise StoreError(f"cannot read the graph file {self.path}: {exc}") from exc

    def apply(self, changes: Changes) -> None:
        """Write ``changes`` in one transaction (all or nothing); raises :class:`StoreError`."""
        db = self._db
        try:
            payload = (
                [(i, _dump(d)) for i, d in changes.models_put],
                [(d["$dtId"], _dump(d)) for d in changes.twins_put],
                [(d["$sourceId"], d["$relationshipId"], _dump(d))
                 for d in changes.relationships_put],
            )
        except (TypeError, ValueError) as exc:
            raise StoreError(f"a document cannot be stored as JSON: {exc}") from exc
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany("DELETE FROM relationships WHERE source = ? AND id = ?",
                               changes.relationships_deleted)
                db.executemany("DELETE FROM twins WHERE id = ?",
                               [(i,) for i in changes.twins_deleted])
                db.executemany("DELETE FROM models WHERE id = ?",
                               [(i,) for i in changes.models_deleted])
                db.executemany("INSERT INTO models (id, doc) VALUES (?, ?) ON CONFLICT (id) "
                               "DO UPDATE SET doc = excluded.doc", payload[0])
                db.executemany("INSERT INTO twins (id, doc) VALUES (?, ?) ON CONFLICT (id) "
                               "DO UPDATE SET doc = excluded.doc", payload[1])
                db.executemany("INSERT INTO relationships (source, id, doc) VALUES (?, ?, ?) "
                               "ON CONFLICT (source, id) DO UPDATE SET doc = excluded.doc",
                               payload[2])
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write the graph file {self.path}: {exc}") from exc

    def close(self) -> None:
        """Close the file."""
        try:
            self._db.close()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot close the graph file {self.path}: {exc}") from exc
