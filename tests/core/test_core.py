from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from processtwin.core import (
    Batch,
    BatchBuilder,
    LiveState,
    PointSpec,
    PointTable,
    Quality,
    Reason,
    from_opcua_status,
)
from processtwin.errors import InvalidInputError, UnknownPointError


def table(n: int = 3) -> PointTable:
    return PointTable([PointSpec(twin="t", name=f"p{i}") for i in range(n)])


def test_point_table_rejects_duplicates_and_bad_ranges() -> None:
    with pytest.raises(InvalidInputError, match="duplicate"):
        PointTable([PointSpec(twin="a", name="x"), PointSpec(twin="a", name="x")])
    with pytest.raises(InvalidInputError, match="lo"):
        PointTable([PointSpec(twin="a", name="x", lo=2, hi=1)])
    with pytest.raises(UnknownPointError):
        table().index("t.nope")


def test_builder_turns_non_numbers_into_dead_letters_and_keeps_the_rest() -> None:
    b = BatchBuilder("src")
    b.add(0, 1.0, 1)
    b.add(1, 1.0, "12")
    b.add(2, 1.0, True)
    b.add(0, float("nan"), 3.0)
    b.add(1, 2.0, None, Quality.BAD, Reason.COMM)
    batch, dead = b.build()
    assert batch.value[:2].tolist() == [1.0, 1.0]
    assert np.isnan(batch.value[2]) and batch.quality[2] == Quality.BAD
    assert [d.reason for d in dead] == ["type: not a number: str", "timestamp: not finite"]
    assert len(b) == 0  # build starts afresh


@pytest.mark.parametrize(
    ("code", "quality"),
    [(0, Quality.GOOD), (0x40000000, Quality.UNCERTAIN), (0x80000000, Quality.BAD),
     (0x808A0000, Quality.BAD)],
)
def test_opcua_status_mapping(code: int, quality: Quality) -> None:
    assert from_opcua_status(code)[0] is quality


def test_comm_failure_keeps_its_reason() -> None:
    assert from_opcua_status(0x80050000) == (Quality.BAD, Reason.COMM)


@given(st.lists(st.tuples(st.integers(0, 2), st.floats(0, 1e6), st.floats(-1e3, 1e3)),
                min_size=1, max_size=60))
def test_state_keeps_the_newest_by_source_time_whatever_the_arrival_order(
        rows: list[tuple[int, float, float]]) -> None:
    st_ = LiveState(table())
    half = len(rows) // 2
    for part in (rows[half:], rows[:half]):  # late data arrives second
        if part:
            p, t, v = zip(*part, strict=True)
            st_.apply(Batch.of(p, t, v), now=0.0)
    for point in {r[0] for r in rows}:
        newest = max(r[1] for r in rows if r[0] == point)
        assert st_.ts[point] == newest
        assert st_.value[point] in {r[2] for r in rows if r[0] == point and r[1] == newest}


@given(st.lists(st.tuples(st.integers(0, 2), st.floats(0, 100), st.floats(-1e3, 1e3)),
                min_size=1, max_size=40))
def test_presorted_apply_equals_the_sorting_one(rows: list[tuple[int, float, float]]) -> None:
    p, t, v = zip(*rows, strict=True)
    batch = Batch.of(p, t, v)
    a, b = LiveState(table()), LiveState(table())
    a.apply(batch, now=0.0)
    b.apply(batch.sorted(), now=0.0, presorted=True)
    np.testing.assert_array_equal(a.ts, b.ts)
    np.testing.assert_array_equal(a.value[np.isfinite(a.ts)], b.value[np.isfinite(b.ts)])
