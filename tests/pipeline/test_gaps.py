"""Gap detection and imputation: per-value reference, batch-split invariance, behaviour."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from processtwin.core import Batch, PointSpec, PointTable, Quality, Reason
from processtwin.pipeline.config import QualityParams, QualitySettings
from processtwin.pipeline.gaps import GapState, find_gaps

TABLE = PointTable([PointSpec(twin="u", name=f"p{i}") for i in range(4)])
SETTINGS = [
    QualitySettings(period_s=1.0, gap_factor=2.0, fill="linear", max_fill_s=6.0),
    QualitySettings(period_s=0.5, gap_factor=3.0, fill="ffill", max_fill_s=100.0),
    QualitySettings(period_s=2.0, gap_factor=1.5, fill="off"),
    QualitySettings(),  # no period: gap detection off
]
PARAMS = QualityParams.of(TABLE, SETTINGS)
Row = tuple[int, float, float, bool]


def reference(rows: list[Row]) -> tuple[set[tuple[int, float, float]], list[tuple[int, float]]]:
    """Per-value reference: imputed (point, ts, value) and gaps (point, start)."""
    prev: dict[int, tuple[float, float, bool]] = {}
    imputed, gaps = set(), []
    for p, t, v, usable in rows:
        s = SETTINGS[p]
        if p in prev and s.period_s is not None:
            t0, v0, u0 = prev[p]
            if t - t0 > s.gap_factor * s.period_s:
                gaps.append((p, t0))
                fill = s.fill.value != "off" and t - t0 <= s.max_fill_s and u0 and (
                    s.fill.value == "ffill" or usable)
                k_rows = max(round((t - t0) / s.period_s) - 1, 0) if fill else 0
                for k in range(1, k_rows + 1):
                    tk = t0 + k * s.period_s
                    vk = v0 + (v - v0) * (tk - t0) / (t - t0) if s.fill.value == "linear" else v0
                    imputed.add((p, round(tk, 9), round(vk, 9)))
        prev[p] = (t, v, usable)
    return imputed, gaps


def run(rows: list[Row], state: GapState) -> tuple[Batch, list[tuple[int, float]]]:
    p, t, v, u = zip(*rows, strict=True)
    filled, gaps = find_gaps(Batch.of(p, t, v), np.array(u, dtype=bool), PARAMS, state)
    return filled, [(g.point, g.start) for g in gaps]


def as_set(b: Batch) -> set[tuple[int, float, float]]:
    return {(int(p), round(float(t), 9), round(float(v), 9))
            for p, t, v in zip(b.point, b.ts, b.value, strict=True)}


rows_strategy = st.lists(
    st.tuples(st.integers(0, 3), st.integers(0, 120).map(lambda k: k * 0.5),
              st.floats(-100, 100, allow_nan=False), st.sampled_from([True, True, False])),
    min_size=1, max_size=60, unique_by=lambda r: (r[0], r[1]))


@settings(max_examples=300, deadline=None)
@given(rows_strategy, st.integers(0, 60))
def test_gaps_match_reference_and_do_not_depend_on_batch_split(rows: list[Row], cut: int
                                                               ) -> None:
    ordered = sorted(rows, key=lambda r: (r[0], r[1]))
    filled, gaps = run(ordered, GapState(len(TABLE)))
    ref_imputed, ref_gaps = reference(ordered)
    assert as_set(filled) == ref_imputed
    assert len(filled) == len(ref_imputed)
    assert gaps == ref_gaps
    assert (filled.quality == Quality.UNCERTAIN).all()
    assert (filled.reason == Reason.IMPUTED).all()
    by_time = sorted(rows, key=lambda r: (r[1], r[0]))
    state = GapState(len(TABLE))
    split_imputed: set[tuple[int, float, float]] = set()
    split_gaps = []
    for part in (by_time[:cut], by_time[cut:]):
        if part:
            f, g = run(sorted(part, key=lambda r: (r[0], r[1])), state)
            split_imputed |= as_set(f)
            split_gaps += g
    assert split_imputed == ref_imputed
    assert sorted(split_gaps) == sorted(ref_gaps)


def _gap(fill: str, usable: list[bool], max_fill_s: float = 60.0) -> Batch:
    t = PointTable([PointSpec(twin="u", name="x")])
    p = QualityParams.uniform(t, QualitySettings(period_s=1.0, fill=fill,  # type: ignore[arg-type]
                                                 max_fill_s=max_fill_s))
    b = Batch.of([0, 0, 0], [0.0, 1.0, 6.0], [0.0, 10.0, 60.0])
    filled, gaps = find_gaps(b, np.array(usable), p, GapState(1))
    assert [(g.start, g.end) for g in gaps] == [(1.0, 6.0)]
    return filled


def test_linear_fill_interpolates_between_the_bounding_samples() -> None:
    f = _gap("linear", [True] * 3)
    assert f.ts.tolist() == [2.0, 3.0, 4.0, 5.0]
    assert f.value.tolist() == pytest.approx([20.0, 30.0, 40.0, 50.0])


def test_ffill_holds_the_last_value_even_when_the_next_is_unusable() -> None:
    assert _gap("ffill", [True, True, False]).value.tolist() == [10.0] * 4


@pytest.mark.parametrize(("fill", "usable", "max_fill_s"), [
    ("off", [True] * 3, 60.0),  # reported only
    ("linear", [True, True, False], 60.0),  # the end of the gap is unusable
    ("ffill", [True, False, True], 60.0),  # the start of the gap is unusable
    ("linear", [True] * 3, 4.0),  # longer than max_fill_s
])
def test_a_gap_is_reported_but_not_filled_when_filling_is_not_allowed(
        fill: str, usable: list[bool], max_fill_s: float) -> None:
    assert len(_gap(fill, usable, max_fill_s)) == 0


def test_a_gap_across_a_batch_boundary_is_found() -> None:
    t = PointTable([PointSpec(twin="u", name="x")])
    p = QualityParams.uniform(t, QualitySettings(period_s=1.0, fill="linear", max_fill_s=9))
    state = GapState(1)
    first, g1 = find_gaps(Batch.of([0, 0], [0.0, 1.0], [1.0, 1.0]), np.ones(2, bool), p, state)
    second, g2 = find_gaps(Batch.of([0], [5.0], [5.0]), np.ones(1, bool), p, state)
    assert len(first) == 0 and g1 == []
    assert second.ts.tolist() == [2.0, 3.0, 4.0] and second.value.tolist() == [2.0, 3.0, 4.0]
    assert g2[0].duration == 4.0 and g2[0].imputed == 3
