"""The SQLite store writes each change set in one transaction."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from processtwin.errors import StoreError
from processtwin.graph.store import Changes, SqliteGraphStore


def test_changes_round_trip_in_order(tmp_path: Path) -> None:
    store = SqliteGraphStore(tmp_path / "s.db")
    store.apply(Changes(
        models_put=[("dtmi:a;1", {"@id": "dtmi:a;1"})],
        twins_put=[{"$dtId": "b", "v": 1}, {"$dtId": "a", "v": 1}],
        relationships_put=[{"$sourceId": "a", "$relationshipId": "r", "$targetId": "b"}]))
    store.apply(Changes(twins_put=[{"$dtId": "b", "v": 2}], twins_deleted=["a"],
                        relationships_deleted=[("a", "r")]))
    store.close()
    again = SqliteGraphStore(tmp_path / "s.db")
    snap = again.load()
    assert snap.models == [{"@id": "dtmi:a;1"}]
    assert snap.twins == [{"$dtId": "b", "v": 2}]
    assert snap.relationships == []
    again.close()


def test_a_failed_transaction_writes_nothing(tmp_path: Path) -> None:
    store = SqliteGraphStore(tmp_path / "s.db")
    store.apply(Changes(twins_put=[{"$dtId": "a"}]))
    with pytest.raises(StoreError):
        store.apply(Changes(twins_put=[{"$dtId": "b"}, {"$dtId": "c", "bad": float("nan")}]))
    assert store.load().twins == [{"$dtId": "a"}]
    store.close()


def test_wal_mode_and_newer_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    SqliteGraphStore(path).close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.execute("PRAGMA user_version=99")
    db.close()
    with pytest.raises(StoreError, match="version 99"):
        SqliteGraphStore(path)
