"""open_store builds the store a spec describes, and refuses specs that cannot work."""

from __future__ import annotations

from pathlib import Path

import pytest

from processtwin.errors import InvalidInputError
from processtwin.store import (
    BufferedStore,
    CommitPolicy,
    EmbeddedStore,
    MemoryStore,
    Retention,
    StoreSpec,
    open_store,
)
from tests.store.conftest import PG_DSN, need_pg


def test_embedded_and_memory(tmp_path: Path) -> None:
    s = open_store(StoreSpec(path="sub/h.duckdb", retention=Retention(raw_days=2)), tmp_path)
    assert isinstance(s, EmbeddedStore) and (tmp_path / "sub" / "h.duckdb").exists()
    assert s.retention.raw_days == 2
    s.close()
    assert isinstance(open_store(StoreSpec(kind="memory")), MemoryStore)
    b = open_store(StoreSpec(kind="memory", buffer=True))
    assert isinstance(b, BufferedStore) and isinstance(b.inner, MemoryStore)


def test_postgres_is_buffered_by_default() -> None:
    need_pg()
    from processtwin.store.postgres import PostgresStore

    s = open_store(StoreSpec(kind="postgres", dsn=PG_DSN, schema="ptwin_unused"))
    assert isinstance(s, BufferedStore) and isinstance(s.inner, PostgresStore)
    assert s.inner.schema == "ptwin_unused"  # nothing connected yet: no schema created


@pytest.mark.parametrize("kw", [{"kind": "postgres"}, {"kind": "sqlite"},
                                {"kind": "memory", "buffer": True,
                                 "commit": CommitPolicy(interval_s=1.0)}])
def test_bad_specs(kw: dict[str, object]) -> None:
    with pytest.raises(InvalidInputError):
        StoreSpec(**kw)  # type: ignore[arg-type]


def test_bad_policies() -> None:
    for make in (lambda: Retention(raw_days=0), lambda: Retention(raw_days=5, rollup_days=1),
                 lambda: Retention(rollup_days=1), lambda: CommitPolicy(interval_s=-1),
                 lambda: CommitPolicy(max_rows=0)):
        with pytest.raises(InvalidInputError):
            make()
