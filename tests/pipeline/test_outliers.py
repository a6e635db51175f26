"""Hampel outlier filter: per-value reference, batch-split invariance, behaviour."""

from __future__ import annotations

import statistics

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from processtwin.core import Batch, PointSpec, PointTable, Quality, Reason
from processtwin.pipeline.config import QualityParams, QualitySettings
from processtwin.pipeline.outliers import (
    MAD_TO_SIGMA,
    HampelState,
    hampel_flags,
    median_network,
    sorting_network,
)

TABLE = PointTable([PointSpec(twin="u", name=f"p{i}") for i in range(3)])
SETTINGS = [QualitySettings(window=3, k=2.0), QualitySettings(window=4, k=3.0, min_scale=0.5),
            QualitySettings(window=5, k=2.5, outlier=False)]
PARAMS = QualityParams.of(TABLE, SETTINGS)


def reference(rows: list[tuple[int, float, float, bool]]) -> list[bool]:
    """Per-value causal Hampel filter (slow and obvious), rows in (point, ts) order."""
    hist: dict[int, list[float]] = {}
    out = []
    for p, _, v, usable in rows:
        s = SETTINGS[p]
        if not usable or not s.outlier:
            out.append(False)
            continue
        h = hist.setdefault(p, [])
        flag = False
        if len(h) >= s.window:
            win = h[-s.window:]
            m = statistics.median(win)
            mad = statistics.median([abs(x - m) for x in win])
            scale = max(MAD_TO_SIGMA * mad, float(PARAMS.min_scale[p]))
            flag = abs(v - m) > s.k * scale
        h.append(v)
        out.append(flag)
    return out


def run(rows: list[tuple[int, float, float, bool]], state: HampelState) -> np.ndarray:
    p, t, v, u = zip(*rows, strict=True)
    b = Batch.of(p, t, v)
    return hampel_flags(b, np.array(u, dtype=bool), PARAMS, state)


rows_strategy = st.lists(
    st.tuples(st.integers(0, 2), st.integers(0, 200).map(float),
              st.one_of(st.floats(-100, 100, allow_nan=False), st.sampled_from([1.0, 2.0])),
              st.sampled_from([True, True, True, False])),
    min_size=1, max_size=120, unique_by=lambda r: (r[0], r[1]))


@settings(max_examples=300, deadline=None)
@given(rows_strategy, st.integers(0, 120))
def test_hampel_matches_reference_and_does_not_depend_on_batch_split(
        rows: list[tuple[int, float, float, bool]], cut: int) -> None:
    by_time = sorted(rows, key=lambda r: (r[1], r[0]))
    ordered = sorted(rows, key=lambda r: (r[0], r[1]))
    whole = run(ordered, HampelState(len(TABLE), 5))
    assert whole.tolist() == reference(ordered)
    state = HampelState(len(TABLE), 5)
    parts = [sorted(part, key=lambda r: (r[0], r[1]))
             for part in (by_time[:cut], by_time[cut:]) if part]
    flagged = {(r[0], r[1]) for part in parts for r, f in zip(part, run(part, state),
                                                               strict=True) if f}
    assert flagged == {(r[0], r[1]) for r, f in zip(ordered, whole, strict=True) if f}


@given(st.integers(2, 40))
def test_sorting_network_sorts_and_median_network_finds_the_median(n: int) -> None:
    rng = np.random.default_rng(n)
    cols = [rng.normal(size=64) for _ in range(n)]
    ref = np.sort(np.array(cols), axis=0)
    work = [c.copy() for c in cols]
    for i, j in sorting_network(n):
        lo = np.minimum(work[i], work[j])
        work[j] = np.maximum(work[i], work[j])
        work[i] = lo
    np.testing.assert_array_equal(np.array(work), ref)
    work = [c.copy() for c in cols]
    for i, j in median_network(n):
        lo = np.minimum(work[i], work[j])
        work[j] = np.maximum(work[i], work[j])
        work[i] = lo
    np.testing.assert_array_equal(work[n // 2], ref[n // 2])
    np.testing.assert_array_equal(work[(n - 1) // 2], ref[(n - 1) // 2])
    assert len(median_network(n)) <= len(sorting_network(n))


def _one(settings_: QualitySettings, values: list[float]) -> list[bool]:
    t = PointTable([PointSpec(twin="u", name="x", lo=0, hi=1000)])
    p = QualityParams.uniform(t, settings_)
    b = Batch.of([0] * len(values), np.arange(len(values), dtype=float), values)
    return hampel_flags(b, np.ones(len(values), bool), p,
                        HampelState(1, settings_.window)).tolist()


def test_a_spike_in_noise_is_flagged_and_its_neighbours_are_not() -> None:
    rng = np.random.default_rng(4)
    v = 100 + rng.normal(0, 0.1, 200)
    v[150] += 5.0
    flags = _one(QualitySettings(window=31, k=5, min_scale_span=0), v.tolist())
    assert flags[150]
    assert sum(flags) == 1


def test_a_real_step_costs_about_half_a_window_then_is_accepted() -> None:
    rng = np.random.default_rng(5)
    v = np.r_[100 + rng.normal(0, 0.1, 60), 110 + rng.normal(0, 0.1, 60)]
    flags = _one(QualitySettings(window=31, k=5, min_scale_span=0), v.tolist())
    # the new level holds the window's majority after 31 // 2 + 1 = 16 samples
    assert [i for i, f in enumerate(flags) if f] == list(range(60, 76))


def test_nothing_is_tested_until_the_window_is_full() -> None:
    flags = _one(QualitySettings(window=5, k=1, min_scale_span=0), [1, 1, 1, 1, 1000, 1000])
    assert flags == [False] * 5 + [True]  # the first 1000 has only four values before it


def test_min_scale_keeps_a_quantised_signal_quiet() -> None:
    v = [50.0] * 40 + [50.1] * 40
    loud = _one(QualitySettings(window=11, k=5, min_scale_span=0), v)
    quiet = _one(QualitySettings(window=11, k=5, min_scale_span=0.001), v)  # 1.0 of span
    assert any(loud) and not any(quiet)


def test_bad_rows_neither_get_tested_nor_enter_the_window() -> None:
    t = PointTable([PointSpec(twin="u", name="x")])
    p = QualityParams.uniform(t, QualitySettings(window=3, k=3, min_scale_span=0))
    st_ = HampelState(1, 3)
    b = Batch.of([0] * 6, range(6), [1.0, 1.1, 0.9, 999.0, 1.0, 1.05],
                 [0, 0, 0, Quality.BAD, 0, 0], [0, 0, 0, Reason.RANGE, 0, 0])
    usable = b.quality != Quality.BAD
    assert hampel_flags(b, usable, p, st_).tolist() == [False] * 6
    assert st_.buf[0].tolist() == [0.9, 1.0, 1.05]
