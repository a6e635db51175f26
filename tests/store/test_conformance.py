"""One conformance suite for every TimeSeriesStore backend (memory, embedded, PostgreSQL).

Hand-computed examples pin the conventions of store/base.py; property tests compare every
backend, raw and roll-up, with the loop-by-loop model in ``reference.py``.
"""

from __future__ import annotations

import itertools
import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from processtwin.core import Batch, DeadLetter, PointSpec, PointTable, Quality, Reason
from processtwin.errors import InvalidInputError, UnknownPointError
from processtwin.store import AGGREGATES, Retention, TimeSeriesStore
from tests.store.conftest import BACKENDS, DURABLE, Factory
from tests.store.reference import Reference

D = 1_700_006_400.0  # a midnight, UTC
DAY = 86_400.0
U, B = int(Quality.UNCERTAIN), int(Quality.BAD)


def assert_series(got: object, want: list[tuple[float, float, int, int]]) -> None:
    ts, value = np.asarray(got.ts), np.asarray(got.value)  # type: ignore[attr-defined]
    assert ts.tolist() == pytest.approx([w[0] for w in want], rel=0, abs=1e-6)
    np.testing.assert_allclose(value, [w[1] for w in want], rtol=1e-9, atol=1e-9,
                               equal_nan=True)
    assert got.quality.tolist() == [w[2] for w in want]  # type: ignore[attr-defined]
    assert got.reason.tolist() == [w[3] for w in want]  # type: ignore[attr-defined]


def test_is_a_store(store: TimeSeriesStore) -> None:
    assert isinstance(store, TimeSeriesStore)


def test_append_query_latest_count(store: TimeSeriesStore) -> None:
    assert store.append(Batch.of([0, 1, 0], [10.0, 10.0, 11.5], [1.0, 2.0, 3.0], [0, 0, 1],
                                 [0, 0, int(Reason.SOURCE)])) == 3
    s = store.query("r.a")
    assert s.ts.tolist() == [10.0, 11.5] and s.value.tolist() == [1.0, 3.0]
    assert s.quality.tolist() == [0, 1] and s.reason.tolist() == [0, int(Reason.SOURCE)]
    assert store.latest("r.a").value.tolist() == [3.0]
    assert len(store.latest("r.c")) == 0
    assert store.count() == 3 and store.count("r.b") == 1
    assert store.query("r.a", start=11.0).value.tolist() == [3.0]
    assert store.query("r.a", end=11.0).value.tolist() == [1.0]
    assert store.query("r.a", start=10.0, end=10.0).value.tolist() == []


def test_backfill_out_of_order_keeps_latest_by_source_time(store: TimeSeriesStore) -> None:
    store.append(Batch.of([0], [20.0], [2.0]))
    store.append(Batch.of([0, 0], [15.0, 10.0], [1.5, 1.0]))  # late data, itself unordered
    assert store.query("r.a").value.tolist() == [1.0, 1.5, 2.0]
    latest = store.latest("r.a")
    assert latest.ts.tolist() == [20.0] and latest.value.tolist() == [2.0]


def test_duplicates_last_write_wins(store: TimeSeriesStore) -> None:
    store.append(Batch.of([0, 0, 0, 1], [1.0, 2.0, 1.0, 1.0], [10.0, 20.0, 11.0, 5.0]))
    assert store.query("r.a").value.tolist() == [11.0, 20.0]  # the later row of the batch
    store.append(Batch.of([0], [2.0], [21.0], [U], [int(Reason.ROC)]))  # rewrite the newest
    store.append(Batch.of([0], [1.0 + 2e-7], [12.0]))  # the same microsecond
    s = store.query("r.a")
    assert s.value.tolist() == [12.0, 21.0] and s.quality.tolist() == [0, U]
    assert store.count() == 3 and store.count("r.a") == 2
    latest = store.latest("r.a")
    assert latest.value.tolist() == [21.0] and latest.reason.tolist() == [int(Reason.ROC)]
    assert store.query("r.a", every=60.0, agg="count_all").value.tolist() == [2.0]


def test_downsampling_skips_bad_values_and_reports_worst_quality(
        store: TimeSeriesStore) -> None:
    store.append(Batch.of([0] * 5, [0.0, 0.5, 1.0, 1.5, 2.2], [1, 3, 5, 100, 7],
                          [0, U, 0, B, B], [0, 1, 0, 2, 2]))
    s = store.query("r.a", every=1.0)
    assert s.ts.tolist() == [0.0, 1.0, 2.0]
    assert s.value[:2].tolist() == [2.0, 5.0] and np.isnan(s.value[2])
    assert s.quality.tolist() == [U, 0, B] and s.reason.tolist() == [1, 0, 0]
    assert store.query("r.a", every=1.0, agg="count").value.tolist() == [2.0, 1.0, 0.0]
    assert store.query("r.a", every=1.0, agg="count_all").value.tolist() == [2.0, 2.0, 1.0]
    assert store.query("r.a", every=1.0, agg="count_bad").value.tolist() == [0.0, 1.0, 1.0]
    assert store.query("r.a", every=1.0, agg="max").value[0] == 3.0
    assert store.query("r.a", every=1.0, agg="first").value[0] == 1.0
    assert store.query("r.a", every=1.0, agg="last").value[1] == 5.0


def test_quality_filter_can_be_narrowed_or_widened(store: TimeSeriesStore) -> None:
    store.append(Batch.of([0] * 4, [0.0, 1.0, 2.0, 3.0], [1.0, 2.0, 4.0, math.nan],
                          [0, U, B, B]))
    good = store.query("r.a", every=10.0, max_quality=Quality.GOOD)
    assert good.value.tolist() == [1.0] and good.quality.tolist() == [0]
    assert store.query("r.a", every=10.0).value.tolist() == [1.5]
    every_finite = store.query("r.a", every=10.0, max_quality=Quality.BAD)
    assert every_finite.value.tolist() == [7 / 3] and every_finite.quality.tolist() == [B]
    assert store.query("r.a", every=10.0, agg="count", max_quality=Quality.BAD
                       ).value.tolist() == [3.0]


def test_time_weighted_average_holds_the_previous_value(store: TimeSeriesStore) -> None:
    store.append(Batch.of([0] * 5, [D, D + 30, D + 45, D + 50, D + 70],
                          [10.0, 20.0, 99.0, 40.0, 0.0], [0, 0, B, 0, 0]))
    s = store.query("r.a", every=60.0, agg="twa")
    # 10 for 30 s, 20 for 15 s, bad for 5 s (left out), 40 for 10 s up to the bucket's end;
    # then 40 carried into the next bucket for 10 s; the newest row holds no time
    np.testing.assert_allclose(s.value, [1000 / 55, 40.0])
    assert s.ts.tolist() == [D, D + 60]
    assert store.query("r.a", start=D + 30, every=60.0, agg="twa").value[0] == \
        pytest.approx(700 / 25)
    # the hold before the first row in range comes from the row before start
    assert store.query("r.a", start=D + 40, every=60.0, agg="twa").value[0] == \
        pytest.approx(500 / 15)
    assert store.query("r.a", every=60.0, agg="avg").value[0] == pytest.approx(70 / 3)


def test_a_lone_newest_row_has_no_time_weighted_average(store: TimeSeriesStore) -> None:
    store.append(Batch.of([0], [D + 5], [1.0]))
    s = store.query("r.a", every=60.0, agg="twa")
    assert np.isnan(s.value).tolist() == [True] and s.quality.tolist() == [0]


def test_interpolation_linear_and_previous(store: TimeSeriesStore) -> None:
    store.append(Batch.of([0] * 4, [0.0, 10.0, 20.0, 30.0], [0.0, 10.0, math.nan, 30.0],
                          [0, 0, B, U], [0, 0, int(Reason.NAN), int(Reason.SOURCE)]))
    nan, imp, src, nr = math.nan, int(Reason.IMPUTED), int(Reason.SOURCE), int(Reason.NAN)
    lin = store.interpolate("r.a", -5.0, 40.0, 5.0, "linear")
    assert_series(lin, [(-5, nan, B, 0), (0, 0, 0, 0), (5, 5, 0, imp), (10, 10, 0, 0),
                        (15, nan, B, nr), (20, nan, B, nr), (25, nan, B, nr | src),
                        (30, 30, U, src), (35, nan, B, src)])
    prev = store.interpolate("r.a", -5.0, 40.0, 5.0, "previous")
    assert_series(prev, [(-5, nan, B, 0), (0, 0, 0, 0), (5, 0, 0, imp), (10, 10, 0, 0),
                         (15, 10, 0, imp), (20, nan, B, nr), (25, nan, B, nr),
                         (30, 30, U, src), (35, 30, U, src | imp)])
    good_only = store.interpolate("r.a", 30.0, 31.0, 1.0, "previous", max_quality=0)
    assert np.isnan(good_only.value).all() and good_only.quality.tolist() == [B]


def test_bad_requests_are_clear_errors(store: TimeSeriesStore) -> None:
    with pytest.raises(UnknownPointError):
        store.query("r.zz")
    with pytest.raises(UnknownPointError):
        store.latest("r.zz")
    for kwargs in ({"agg": "median", "every": 1.0}, {"every": 0}, {"every": math.nan},
                   {"start": 5.0, "end": 1.0}, {"every": 30.0, "source": "rollup"},
                   {"every": 60.0, "start": 1.0, "source": "rollup"},
                   {"every": 60.0, "max_quality": 0, "source": "rollup"},
                   {"every": 60.0, "max_quality": 7}):
        with pytest.raises(InvalidInputError):
            store.query("r.a", **kwargs)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        store.interpolate("r.a", 0.0, 10.0, 1.0, "cubic")
    with pytest.raises(InvalidInputError):
        store.interpolate("r.a", 0.0, 1e12, 1e-3)
    with pytest.raises(InvalidInputError):
        store.append(Batch.of([7], [1.0], [1.0]))  # no such point in the table
    assert store.count() == 0


def test_dead_letters_round_trip(store: TimeSeriesStore) -> None:
    store.append_dead([DeadLetter("s", "k1", "'x'", "type", ts=1.0),
                       DeadLetter("s", "k2", "9", "range", ts=2.0)])
    got = store.dead_letters()
    assert [d.key for d in got] == ["k2", "k1"] and got[0].reason == "range"
    assert [d.key for d in store.dead_letters(1)] == ["k2"]


def test_query_many(store: TimeSeriesStore) -> None:
    store.append(Batch.of([0, 1, 0, 1], [D, D, D + 61, D + 1], [1.0, 2.0, 3.0, 4.0]))
    got = store.query_many(None, every=60.0, agg="max")
    assert sorted(got) == ["r.a", "r.b"]  # r.c has no rows
    assert got["r.a"].value.tolist() == [1.0, 3.0] and got["r.b"].value.tolist() == [4.0]
    raw = store.query_many(["r.b", "r.c"])
    assert list(raw) == ["r.b"] and raw["r.b"].value.tolist() == [2.0, 4.0]
    with pytest.raises(UnknownPointError):
        store.query_many(["r.zz"])


def _day_rows() -> Batch:
    t = D + np.arange(0, 3 * DAY, 600.0)
    k = np.arange(len(t))
    q = np.where(k % 11 == 0, B, np.where(k % 7 == 0, U, 0))
    return Batch.of(np.zeros(len(t), np.int32), t, k * 1.5, q, k % 4)


@pytest.mark.parametrize("kind", BACKENDS)
def test_retention_keeps_rollups_longer_than_raw_rows(open_store: Factory, kind: str) -> None:
    store = open_store(kind, retention=Retention(raw_days=1, rollup_days=2))
    store.append(_day_rows())
    store.append(Batch.of([1, 2], [D + DAY + 100, D + 100], [7.0, 8.0], [U, 0], [2, 0]))
    before = {agg: store.query("r.a", start=D + DAY, every=3600.0, agg=agg, source="raw")
              for agg in AGGREGATES}
    report = store.retain(now=D + 3 * DAY)
    assert report.raw_horizon == D + 2 * DAY and report.rollup_horizon == D + DAY
    assert report.raw_rows == 2 * 144 + 2
    assert report.rollup_rows == 144 + 1
    assert store.count() == 144
    assert store.query("r.a").ts.min() == D + 2 * DAY
    for agg in AGGREGATES:  # hourly buckets are still answered, now from the roll-up
        assert_series(store.query("r.a", start=D + DAY, every=3600.0, agg=agg),
                      list(zip(before[agg].ts.tolist(), before[agg].value.tolist(),
                               before[agg].quality.tolist(), before[agg].reason.tolist(),
                               strict=True)))
    assert len(store.query("r.a", start=D, end=D + DAY, every=3600.0)) == 0
    latest_b = store.latest("r.b")  # raw rows gone: the roll-up still knows the last row
    assert latest_b.ts.tolist() == [D + DAY + 100] and latest_b.value.tolist() == [7.0]
    assert latest_b.quality.tolist() == [U] and latest_b.reason.tolist() == [2]
    assert len(store.latest("r.c")) == 0
    # rows older than the raw horizon are refused into the dead letters, not lost silently
    assert store.append(Batch.of([0, 0], [D + DAY + 5, D + 3 * DAY], [1.0, 2.0])) == 1
    dead = store.dead_letters(5)
    assert dead[0].category == "retention" and dead[0].key == "r.a"
    assert store.count("r.a") == 145
    again = store.retain(now=D + 3 * DAY)
    assert again.raw_rows == 0 and again.rollup_rows == 0


# ---------------------------------------------------------------- property tests
ROWS = st.lists(st.tuples(st.integers(0, 1199), st.one_of(st.floats(-1e3, 1e3), st.just(math.nan)),
                          st.sampled_from([0, 0, 0, 1, 2]), st.integers(0, 3)),
                min_size=1, max_size=40)
PROPS = settings(max_examples=int(os.environ.get("PTWIN_STORE_EXAMPLES", "25")), deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])


def _load(open_store: Factory, kind: str, rows: list[tuple[int, float, int, int]],
          n: int) -> tuple[TimeSeriesStore, Reference]:
    ref = Reference()
    data = [(0, D + r[0] * 0.5, r[1], r[2], r[3]) for r in rows]
    ref.append(data)
    store = open_store(kind, name=f"p{n}")
    half = len(data) // 2  # two appends: the second one may rewrite or backfill the first
    for part in (data[:half], data[half:]):
        if part:
            store.append(Batch.of(*zip(*part, strict=True)))
    return store, ref


_counter = itertools.count()


@pytest.mark.parametrize("kind", BACKENDS)
@PROPS
@given(rows=ROWS, every=st.sampled_from([1.0, 2.5, 7.0, 60.0]),
       start=st.one_of(st.none(), st.integers(0, 600)),
       length=st.one_of(st.none(), st.integers(0, 600)), mq=st.sampled_from([0, 1, 2]))
def test_raw_aggregates_match_the_reference(open_store: Factory, kind: str,
                                            rows: list[tuple[int, float, int, int]],
                                            every: float, start: int | None,
                                            length: int | None, mq: int) -> None:
    store, ref = _load(open_store, kind, rows, next(_counter))
    s0 = None if start is None else D + start
    e0 = None if length is None else (s0 or D) + length
    for agg in AGGREGATES:
        got = store.query("r.a", s0, e0, every, agg, max_quality=mq, source="raw")
        want = ref.aggregate(0, every, agg, -math.inf if s0 is None else s0,
                             math.inf if e0 is None else e0, mq)
        assert_series(got, want)
    store.close()


@pytest.mark.parametrize("kind", BACKENDS)
@PROPS
@given(rows=ROWS, every=st.sampled_from([60.0, 120.0, 300.0]),
       start=st.sampled_from([None, 60, 120]), end=st.sampled_from([None, 300, 540]))
def test_rollup_agrees_with_raw_rows(open_store: Factory, kind: str,
                                     rows: list[tuple[int, float, int, int]], every: float,
                                     start: int | None, end: int | None) -> None:
    store, ref = _load(open_store, kind, rows, next(_counter))
    s0 = None if start is None else D + start
    e0 = None if end is None else D + end
    for agg in AGGREGATES:
        raw = store.query("r.a", s0, e0, every, agg, source="raw")
        roll = store.query("r.a", s0, e0, every, agg, source="rollup")
        want = ref.aggregate(0, every, agg, -math.inf if s0 is None else s0,
                             math.inf if e0 is None else e0)
        assert_series(raw, want)
        assert_series(roll, want)
    store.close()


@pytest.mark.parametrize("kind", BACKENDS)
@PROPS
@given(rows=ROWS, every=st.sampled_from([0.5, 3.0, 45.0]), start=st.integers(-20, 600),
       method=st.sampled_from(["linear", "previous"]), mq=st.sampled_from([0, 1, 2]))
def test_interpolation_matches_the_reference(open_store: Factory, kind: str,
                                             rows: list[tuple[int, float, int, int]],
                                             every: float, start: int, method: str,
                                             mq: int) -> None:
    store, ref = _load(open_store, kind, rows, next(_counter))
    s0 = D + start
    got = store.interpolate("r.a", s0, s0 + 40 * every, every, method, max_quality=mq)
    assert_series(got, ref.interpolate(0, got.ts.tolist(), method, mq))
    assert len(got) == 40
    latest = ref.latest(0)
    assert latest is not None
    assert store.latest("r.a").ts.tolist() == pytest.approx([latest[0]], abs=1e-6)
    store.close()


# ---------------------------------------------------------------- durable backends
@pytest.mark.parametrize("kind", DURABLE)
def test_history_persists_across_restarts(open_store: Factory, kind: str) -> None:
    s = open_store(kind)
    s.append(Batch.of([0, 1], [D + 1, D + 2], [3.0, 4.0]))
    s.append_dead([DeadLetter("s", "k", "1", "range", ts=1.0)])
    s.close()
    again = open_store(kind, table=PointTable([PointSpec(twin="r", name="b"),
                                               PointSpec(twin="r", name="a"),
                                               PointSpec(twin="r", name="d")]))
    assert again.query("r.a").value.tolist() == [3.0]
    assert again.query("r.c").value.tolist() == []  # known from before, though not declared
    again.append(Batch.of([2, 1], [D + 5, D + 3], [6.0, 5.0]))  # new order, new point
    assert again.query("r.d").value.tolist() == [6.0]
    assert again.query("r.a").value.tolist() == [3.0, 5.0]
    assert again.query("r.a", every=60.0, agg="last", source="rollup").value.tolist() == [5.0]
    assert [d.key for d in again.dead_letters()] == ["k"]


@pytest.mark.parametrize("kind", DURABLE)
def test_commits_can_be_batched(open_store: Factory, kind: str) -> None:
    from processtwin.store import CommitPolicy

    s = open_store(kind, commit=CommitPolicy(interval_s=3600.0, max_rows=5))
    assert s.append(Batch.of([0, 0], [D, D + 1], [1.0, 2.0])) == 0  # waiting
    assert s.append(Batch.of([0, 0, 0], [D + 2, D + 3, D + 4], [3.0, 4.0, 5.0])) == 5
    assert s.append(Batch.of([0], [D + 5], [6.0])) == 0
    assert s.flush() == 1 and s.flush() == 0
    s.append(Batch.of([1], [D], [9.0]))
    assert s.query("r.b").value.tolist() == [9.0]  # a read commits what is waiting
    s.close()
    assert open_store(kind).count() == 7


@pytest.mark.parametrize("kind", DURABLE)
def test_rollup_bookkeeping_survives_a_restart(open_store: Factory, kind: str) -> None:
    s = open_store(kind)
    s.append(Batch.of([0] * 4, [D, D + 70, D + 130, D + 190], [1.0, 2.0, 3.0, 4.0]))
    s.rollup()
    s.append(Batch.of([0, 0], [D + 250, D + 310], [5.0, 6.0]))  # in order, after the roll-up
    s.append(Batch.of([0, 0], [D + 75, D + 130], [7.0, 8.0]))  # backfill and a rewrite
    s.close()  # as a crash would: nothing rolled up since
    again = open_store(kind)
    for agg in AGGREGATES:
        raw = again.query("r.a", every=120.0, agg=agg, source="raw")
        roll = again.query("r.a", every=120.0, agg=agg, source="rollup")
        assert_series(roll, list(zip(raw.ts.tolist(), raw.value.tolist(),
                                     raw.quality.tolist(), raw.reason.tolist(), strict=True)))
    assert again.query("r.a", every=60.0, agg="last", source="rollup").value.tolist() == \
        [1.0, 7.0, 8.0, 4.0, 5.0, 6.0]
