"""Quality checks: behaviour, batch-split invariance, and a per-value reference."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from processtwin.core import Batch, PointSpec, PointTable, Quality, Reason
from processtwin.pipeline import CheckState, Pipeline, apply_checks

TABLE = PointTable([
    PointSpec(twin="r", name="T", lo=0, hi=200, max_roc=5.0, flatline_s=3.0),
    PointSpec(twin="r", name="F", lo=0, hi=100, max_roc=50.0),
])


def reference(rows: list[tuple[int, float, float]]) -> list[int]:
    """Per-value reference implementation of the checks (slow and obvious)."""
    out = []
    last: dict[int, list[tuple[float, float, bool]]] = {}
    run: dict[int, tuple[float, float]] = {}
    for p, t, v in sorted(rows, key=lambda r: (r[0], r[1])):
        spec = TABLE.spec(p)
        bits = 0
        if not math.isfinite(v):
            bits |= Reason.NAN
        elif not spec.lo <= v <= spec.hi:
            bits |= Reason.RANGE
        else:
            hist = last.setdefault(p, [])
            flag = False
            if hist:
                pv, pt, pflag = hist[-1]
                if t > pt and abs(v - pv) / (t - pt) > spec.max_roc:
                    flag = True
                    if pflag and len(hist) >= 2:
                        qv, qt, _ = hist[-2]
                        if t > qt and abs(v - qv) / (t - qt) <= spec.max_roc:
                            flag = False
            hist.append((v, t, flag))
            if flag:
                bits |= Reason.ROC
        if math.isfinite(v):
            rv, rs = run.get(p, (math.nan, math.nan))
            if v != rv:
                run[p] = (v, t)
            elif spec.flatline_s is not None and t - rs >= spec.flatline_s:
                bits |= Reason.FLATLINE
        else:
            run[p] = (v, t)
        out.append(int(bits))
    return out


rows_strategy = st.lists(
    st.tuples(st.integers(0, 1), st.integers(0, 400).map(lambda k: k * 0.5),
              st.one_of(st.floats(-50, 300, allow_nan=False), st.sampled_from([100.0, 101.0]),
                        st.just(float("nan")))),
    min_size=1, max_size=80, unique_by=lambda r: (r[0], r[1]))


@settings(max_examples=300, deadline=None)
@given(rows_strategy, st.integers(0, 80))
def test_checks_match_reference_and_do_not_depend_on_batch_split(
        rows: list[tuple[int, float, float]], cut: int) -> None:
    rows = sorted(rows, key=lambda r: r[1])
    whole = apply_checks(Batch.of(*zip(*rows, strict=True)), TABLE, CheckState(len(TABLE)))
    st_ = CheckState(len(TABLE))
    parts = [rows[:cut], rows[cut:]]
    split = Batch.concat([apply_checks(Batch.of(*zip(*p, strict=True)), TABLE, st_)
                          for p in parts if p]).sorted()
    np.testing.assert_array_equal(whole.reason, split.reason)
    assert whole.reason.tolist() == reference(rows)


def test_a_lone_spike_is_flagged_but_the_recovery_is_not() -> None:
    out = apply_checks(Batch.of([0] * 4, [0, 1, 2, 3], [100, 140, 100.2, 100.4]), TABLE,
                       CheckState(len(TABLE)))
    assert out.reason.tolist() == [0, Reason.ROC, 0, 0]


def test_stuck_sensor_goes_bad_after_the_flatline_time() -> None:
    out = apply_checks(Batch.of([0] * 6, [0, 1, 2, 3, 4, 5], [100.0] * 6), TABLE,
                       CheckState(len(TABLE)))
    assert out.quality.tolist() == [0, 0, 0, 2, 2, 2]


def test_pipeline_reports_every_rejected_row_and_keeps_every_valid_one() -> None:
    p = Pipeline(TABLE)
    batch = Batch.of([0, 0, 1, 1, 0], [0, 1, 0, 1, 2], [100, float("nan"), 10, 999, 100.5])
    res = p.process(batch, [])
    assert len(res.batch) == 5  # nothing dropped: invalid rows stay as bad values
    assert sorted(d.category for d in res.dead) == ["nan", "range"]
    good = res.batch.quality == Quality.GOOD
    assert sorted(res.batch.value[good].tolist()) == [10.0, 100.0, 100.5]
    assert res.flags == {"nan": 1, "range": 1}


def test_source_bad_values_are_not_double_reported() -> None:
    res = Pipeline(TABLE).process(Batch.of([0], [0], [float("nan")], [Quality.BAD],
                                           [Reason.COMM]), [])
    assert res.dead == [] and res.batch.reason[0] == Reason.COMM
