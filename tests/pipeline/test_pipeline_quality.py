"""The whole pipeline with every check: behaviour on a plant-like stream, split invariance."""

from __future__ import annotations

import numpy as np
import pytest

from processtwin.core import Batch, PointKind, PointSpec, PointTable, Quality, Reason
from processtwin.pipeline import (
    DerivedConfig,
    Pipeline,
    QualityConfig,
    compile_derived,
    derived_specs,
)

DERIVED = [DerivedConfig(twin="r", name="Q", unit="kW", expr="F * rho * cp * (T - T_in)",
                         inputs={"F": "r.F", "T": "r.T", "T_in": "r.T_in"},
                         constants={"rho": {"value": 1000, "unit": "kg/m3"},  # type: ignore[dict-item]
                                    "cp": {"value": 4.18, "unit": "kJ/(kg*K)"}},
                         lo=-1e6, hi=1e6)]
TABLE = PointTable([
    PointSpec(twin="r", name="T", unit="degC", lo=0, hi=200, max_roc=50),
    PointSpec(twin="r", name="T_B", unit="degC", lo=0, hi=200, max_roc=50),
    PointSpec(twin="r", name="T_in", unit="degC", lo=0, hi=200),
    PointSpec(twin="r", name="F", unit="m3/h", lo=0, hi=100),
    *derived_specs(DERIVED),
])
CONFIG = QualityConfig.model_validate({
    "points": {"r.F": {"period_s": 1.0, "max_fill_s": 10}},
    "drift": [{"sensor": "r.T_B", "reference": "r.T", "sigma": 0.05, "block_s": None,
               "h": 10}],
})
PERIODS = {"r.T": 1.0, "r.T_B": 1.0, "r.T_in": 1.0}


def plant(n: int = 400) -> Batch:
    """Four sensors at 1 Hz: a spike on T at 100, F silent 200..205, T_B drifting from 300."""
    rng = np.random.default_rng(0)
    t = np.arange(n, dtype=float)
    temp = 80 + 2 * np.sin(t / 40)
    cols = {
        0: temp + rng.normal(0, 0.03, n),
        1: temp + rng.normal(0, 0.03, n) + np.where(t >= 300, 0.2, 0.0),
        2: 20 + rng.normal(0, 0.03, n),
        3: 36 + rng.normal(0, 0.1, n),
    }
    cols[0][100] += 3.0
    rows = []
    for pid, v in cols.items():
        keep = ~((pid == 3) & (t > 200) & (t < 206))
        rows.append((np.full(keep.sum(), pid), t[keep], v[keep]))
    return Batch.of(np.concatenate([r[0] for r in rows]), np.concatenate([r[1] for r in rows]),
                    np.concatenate([r[2] for r in rows]))


def pipeline() -> Pipeline:
    return Pipeline.from_config(TABLE, CONFIG, periods=PERIODS,
                                derived=compile_derived(DERIVED, TABLE))


def rows_of(b: Batch) -> list[tuple[int, float, float, int, int]]:
    return [(int(p), float(t), round(float(v), 9), int(q), int(r))
            for p, t, v, q, r in zip(b.point, b.ts, b.value, b.quality, b.reason, strict=True)]


def test_every_check_acts_on_a_plant_like_stream() -> None:
    res = pipeline().process(plant(), [])
    out = res.batch
    order = np.lexsort((out.ts, out.point))
    assert (order == np.arange(len(out))).all()  # still sorted by (point, ts)
    spike = (out.point == 0) & (out.ts == 100.0)
    assert out.quality[spike].tolist() == [Quality.UNCERTAIN]
    assert out.reason[spike].tolist() == [Reason.OUTLIER]
    imputed = (out.reason & np.uint32(Reason.IMPUTED)) != 0
    assert not imputed[out.point == 4].any()  # derived points use measured values only
    assert out.ts[imputed].tolist() == [201.0, 202.0, 203.0, 204.0, 205.0]
    assert (out.point[imputed] == 3).all() and (out.quality[imputed] == Quality.UNCERTAIN).all()
    assert [(g.point, g.start, g.end, g.imputed) for g in res.gaps] == [(3, 200.0, 206.0, 5)]
    q = out.point == 4
    assert q.sum() == 400  # the union grid of the inputs' timestamps (all at whole seconds)
    assert np.median(out.value[q]) == pytest.approx(41.8 * 60, rel=0.05)  # 36 m3/h, 60 K
    assert [(a.sensor, a.reference) for a in res.alarms] == [("r.T_B", "r.T")]
    assert 300 <= res.alarms[0].ts < 320 and res.alarms[0].bias == pytest.approx(0.2, abs=0.1)
    drifting = (out.reason & np.uint32(Reason.DRIFT)) != 0
    assert set(out.point[drifting].tolist()) == {1} and out.ts[drifting].min() >= 300
    assert res.flags["outlier"] >= 1 and res.flags["imputed"] == 5
    assert res.flags["drift"] == int(drifting.sum())
    stats = pipeline()
    stats.process(plant(), [])
    assert stats.stats is not None
    f = stats.stats.point("r.F")
    assert f.imputed == pytest.approx(5 / 400) and f.gaps == 1
    assert f.last_problem == "uncertain: imputed" and f.last_problem_ts == 205.0
    assert stats.stats.point("r.T_B").drift


@pytest.mark.parametrize("cuts", [[137], [50, 201, 203, 390], list(range(10, 400, 10))])
def test_splitting_the_stream_into_batches_changes_nothing(cuts: list[int]) -> None:
    whole = pipeline().process(plant(), [])
    data = plant()
    p = pipeline()
    parts = []
    alarms = []
    for lo, hi in zip([0, *cuts], [*cuts, 10**9], strict=True):
        res = p.process(data.take(np.flatnonzero((data.ts >= lo) & (data.ts < hi))), [])
        parts.append(res.batch)
        alarms += res.alarms
    split = Batch.concat(parts).sorted()
    assert rows_of(split) == rows_of(whole.batch)
    assert [(a.sensor, a.ts) for a in alarms] == [(a.sensor, a.ts) for a in whole.alarms]


def test_quality_off_keeps_only_the_basic_checks() -> None:
    off = QualityConfig.model_validate({"enabled": False})
    res = Pipeline.from_config(TABLE, off).process(plant(), [])
    assert len(res.batch) == len(plant())
    assert not ((res.batch.reason & np.uint32(Reason.OUTLIER | Reason.IMPUTED)) != 0).any()
    assert res.gaps == () and res.alarms == ()
    assert TABLE.spec(4).kind == PointKind.DERIVED


def test_derived_rows_are_not_reported_twice_as_dead_letters_or_flags() -> None:
    data = plant(120).take(np.flatnonzero(plant(120).ts < 60))
    bad = (data.point == 3) & (data.ts == 10.0)
    data.value[bad] = 500.0  # F out of range: one dead letter, one flag
    res = pipeline().process(data, [])
    assert [d.key for d in res.dead] == ["r.F"]
    assert res.flags["range"] == 1
    q10 = (res.batch.point == 4) & (res.batch.ts == 10.0)
    assert res.batch.quality[q10].tolist() == [Quality.BAD]  # the derived value is bad too
