"""One conformance suite for every TimeSeriesStore backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from processtwin.core import Batch, DeadLetter, PointSpec, PointTable, Quality
from processtwin.errors import InvalidInputError, UnknownPointError
from processtwin.store import EmbeddedStore, MemoryStore, TimeSeriesStore

TABLE = PointTable([PointSpec(twin="r", name="a"), PointSpec(twin="r", name="b")])
BACKENDS = ["memory", "embedded"]


def make(kind: str, tmp: Path) -> TimeSeriesStore:
    s: TimeSeriesStore = MemoryStore() if kind == "memory" else EmbeddedStore(tmp / "h.duckdb")
    s.register(TABLE)
    return s


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TimeSeriesStore]:
    s = make(request.param, tmp_path)
    yield s
    s.close()


def test_is_a_store(store: TimeSeriesStore) -> None:
    assert isinstance(store, TimeSeriesStore)


def test_append_query_latest_count(store: TimeSeriesStore) -> None:
    store.append(Batch.of([0, 1, 0], [10.0, 10.0, 11.5], [1.0, 2.0, 3.0], [0, 0, 1]))
    s = store.query("r.a")
    assert s.ts.tolist() == [10.0, 11.5] and s.value.tolist() == [1.0, 3.0]
    assert s.quality.tolist() == [0, 1]
    assert store.latest("r.a").value.tolist() == [3.0]
    assert store.count() == 3 and store.count("r.b") == 1
    assert store.query("r.a", start=11.0).value.tolist() == [3.0]
    assert store.query("r.a", end=11.0).value.tolist() == [1.0]


def test_backfill_out_of_order_is_ordered_by_source_time(store: TimeSeriesStore) -> None:
    store.append(Batch.of([0], [20.0], [2.0]))
    store.append(Batch.of([0], [10.0], [1.0]))  # late data
    assert store.query("r.a").value.tolist() == [1.0, 2.0]
    assert store.latest("r.a").ts.tolist() == [20.0]


def test_downsampling_skips_bad_values_and_reports_worst_quality(store: TimeSeriesStore) -> None:
    store.append(Batch.of([0] * 5, [0.0, 0.5, 1.0, 1.5, 2.2], [1, 3, 5, 100, 7],
                          [0, 1, 0, Quality.BAD, Quality.BAD]))
    s = store.query("r.a", every=1.0)
    assert s.ts.tolist() == [0.0, 1.0, 2.0]
    assert s.value[:2].tolist() == [2.0, 5.0] and np.isnan(s.value[2])
    assert s.quality.tolist() == [1, 0, 2]
    assert store.query("r.a", every=1.0, agg="count").value.tolist() == [2.0, 1.0, 0.0]
    assert store.query("r.a", every=1.0, agg="max").value[0] == 3.0
    assert store.query("r.a", every=1.0, agg="first").value[0] == 1.0


def test_bad_queries_are_clear_errors(store: TimeSeriesStore) -> None:
    with pytest.raises(UnknownPointError):
        store.query("r.zz")
    with pytest.raises(InvalidInputError):
        store.query("r.a", agg="median")
    with pytest.raises(InvalidInputError):
        store.query("r.a", every=0)


def test_dead_letters_round_trip(store: TimeSeriesStore) -> None:
    store.append_dead([DeadLetter("s", "k1", "'x'", "type", ts=1.0),
                       DeadLetter("s", "k2", "9", "range", ts=2.0)])
    assert [d.key for d in store.dead_letters()] == ["k2", "k1"]


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 40), st.floats(-1e3, 1e3)), min_size=1, max_size=50,
                unique_by=lambda r: r[0]),
       st.sampled_from([1.0, 2.5, 10.0]))
def test_backends_agree_on_downsampling(tmp_path_factory: pytest.TempPathFactory,
                                        rows: list[tuple[int, float]], every: float) -> None:
    d = tmp_path_factory.mktemp("agree")
    a, b = make("memory", d), make("embedded", d)
    batch = Batch.of([0] * len(rows), [r[0] * 0.5 for r in rows], [r[1] for r in rows])
    for s in (a, b):
        s.append(batch)
    for agg in ("avg", "min", "max", "first", "last", "count"):
        ra, rb = a.query("r.a", every=every, agg=agg), b.query("r.a", every=every, agg=agg)
        np.testing.assert_allclose(ra.ts, rb.ts)
        np.testing.assert_allclose(ra.value, rb.value, rtol=1e-12)
    b.close()


def test_embedded_store_persists_across_restarts(tmp_path: Path) -> None:
    s = EmbeddedStore(tmp_path / "h.duckdb")
    s.register(TABLE)
    s.append(Batch.of([0, 1], [1.0, 2.0], [3.0, 4.0]))
    s.close()
    again = EmbeddedStore(tmp_path / "h.duckdb")
    again.register(PointTable([PointSpec(twin="r", name="b"), PointSpec(twin="r", name="a"),
                               PointSpec(twin="r", name="c")]))  # new order, new point
    assert again.query("r.a").value.tolist() == [3.0]
    again.append(Batch.of([2], [5.0], [6.0]))
    assert again.query("r.c").value.tolist() == [6.0]
    again.close()
