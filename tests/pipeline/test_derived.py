"""Derived points: units, alignment, quality, live = recomputed, configuration."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from processtwin.core import Batch, PointKind, PointSpec, PointTable, Quality, Reason
from processtwin.errors import ConfigError, InvalidInputError, UnitError
from processtwin.pipeline.align import Series
from processtwin.pipeline.derived import (
    DerivedConfig,
    DerivedEngine,
    DerivedPoint,
    compile_derived,
    derived_specs,
    recompute,
)

UNITS = {"u.F": "m3/h", "u.T1": "degC", "u.T2": "degC", "u.P": "barg"}
HEAT = {"rho": (1000.0, "kg/m3"), "cp": (4.18, "kJ/(kg*K)")}


def heat_duty(unit: str = "kW") -> DerivedPoint:
    return DerivedPoint.from_expression(
        "u.Q", "F * rho * cp * (T_out - T_in)", {"F": "u.F", "T_in": "u.T1", "T_out": "u.T2"},
        UNITS, unit, HEAT)


def test_heat_duty_is_computed_in_si_and_given_in_the_declared_unit() -> None:
    vals = {"F": np.array([36.0]), "T_in": np.array([20.0]), "T_out": np.array([30.0])}
    # 36 m3/h = 0.01 m3/s; 0.01 * 1000 * 4180 * 10 K = 418 kW
    assert heat_duty("kW").compute(vals)[0] == pytest.approx(418.0)
    assert heat_duty("MJ/h").compute(vals)[0] == pytest.approx(418.0 * 3.6)


def test_absolute_results_may_use_offset_units_and_differences_may_not() -> None:
    mean = DerivedPoint.from_expression("u.Tm", "(T1 + T2) / 2", {"T1": "u.T1", "T2": "u.T2"},
                                        UNITS, "degF")
    assert mean.compute({"T1": np.array([0.0]), "T2": np.array([100.0])})[0] == \
        pytest.approx(122.0)
    with pytest.raises(UnitError, match="a difference"):
        DerivedPoint.from_expression("u.dT", "T2 - T1", {"T1": "u.T1", "T2": "u.T2"}, UNITS,
                                     "degC")
    d = DerivedPoint.from_expression("u.dT", "T2 - T1", {"T1": "u.T1", "T2": "u.T2"}, UNITS,
                                     "delta_degF")
    assert d.compute({"T1": np.array([0.0]), "T2": np.array([10.0])})[0] == pytest.approx(18.0)
    with pytest.raises(UnitError, match="not an absolute"):
        DerivedPoint.from_expression("u.x", "T1 * T2 / T1 / 2", {"T1": "u.T1", "T2": "u.T2"},
                                     UNITS, "degC")
    p = DerivedPoint.from_expression("u.pa", "P", {"P": "u.P"}, UNITS, "bar")
    assert p.compute({"P": np.array([0.0])})[0] == pytest.approx(1.01325)


@pytest.mark.parametrize(("expr", "unit", "error", "match"), [
    ("F * rho * cp * (T_out - T_in)", "kJ", UnitError, "dimension"),
    ("F + T_in + T_out", "", UnitError, "cannot add"),
    ("F * zeta + T_in + T_out", "", InvalidInputError, "unknown name"),
    ("F", "m3/h", InvalidInputError, "not used"),
])
def test_bad_expressions_are_refused_when_built(expr: str, unit: str,
                                                error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        DerivedPoint.from_expression("u.Q", expr, {"F": "u.F", "T_in": "u.T1",
                                                   "T_out": "u.T2"}, UNITS, unit, HEAT)


TABLE = PointTable([PointSpec(twin="u", name=n, unit=UNITS.get(f"u.{n}", ""))
                    for n in ("F", "T1", "T2", "P")]
                   + [PointSpec(twin="u", name="Q", kind=PointKind.DERIVED, unit="kW"),
                      PointSpec(twin="u", name="Q2", kind=PointKind.DERIVED, unit="kW")])
Row = tuple[int, float, float, int]


def reference(rows: list[Row], dp: DerivedPoint, ids: dict[str, int]
              ) -> list[tuple[float, float, int, int]]:
    """Per-value reference: at every input timestamp, the newest sample of each input."""
    grid = sorted({t for p, t, _, _ in rows if p in ids.values()})
    out = []
    for t in grid:
        vals, q, r = {}, 0, 0
        for sym, key in dp.inputs.items():
            hist = [row for row in rows if row[0] == ids[key] and row[1] <= t]
            if not hist:
                break
            _, ts, v, qq = max(hist, key=lambda row: row[1])
            vals[sym] = np.array([v])
            q, r = max(q, qq), r | (Reason.SOURCE if qq else 0)
            if dp.max_age_s is not None and t - ts > dp.max_age_s:
                q, r = max(q, Quality.UNCERTAIN), r | Reason.STALE
        else:
            y = float(dp.compute(vals)[0])
            if not np.isfinite(y) and q != Quality.BAD:
                q, r = Quality.BAD, r | Reason.NAN
            out.append((t, y, int(q), int(r)))
    return out


rows_strategy = st.lists(
    st.tuples(st.integers(0, 3), st.integers(0, 60).map(lambda k: k * 0.5),
              st.floats(-50, 150, allow_nan=False), st.sampled_from([0, 0, 0, 1, 2])),
    min_size=1, max_size=50, unique_by=lambda r: (r[0], r[1]))


def _batch(rows: list[Row]) -> Batch:
    p, t, v, q = zip(*rows, strict=True)
    r = [Reason.SOURCE if x else 0 for x in q]
    return Batch.of(p, t, v, q, r).sorted()


@settings(max_examples=200, deadline=None)
@given(rows_strategy, st.integers(0, 60))
def test_live_equals_recomputed_equals_reference(rows: list[Row], cut: int) -> None:
    dp = DerivedPoint.from_expression(
        "u.Q", "F * rho * cp * (T_out - T_in)", {"F": "u.F", "T_in": "u.T1", "T_out": "u.T2"},
        UNITS, "kW", HEAT, max_age_s=2.0)
    ids = {"u.F": 0, "u.T1": 1, "u.T2": 2}
    want = reference(rows, dp, ids)
    series = {}
    for key, pid in ids.items():
        mine = sorted((r for r in rows if r[0] == pid), key=lambda r: r[1])
        series[key] = Series.of([r[1] for r in mine], [r[2] for r in mine],
                                [r[3] for r in mine],
                                [Reason.SOURCE if r[3] else 0 for r in mine])
    got = recompute(dp, series)
    assert got.ts.tolist() == [w[0] for w in want]
    np.testing.assert_allclose(got.value, [w[1] for w in want], rtol=1e-12)
    assert got.quality.tolist() == [w[2] for w in want]
    assert got.reason.tolist() == [w[3] for w in want]
    engine = DerivedEngine([dp], TABLE)
    by_time = sorted(rows, key=lambda r: r[1])
    parts = [p for p in (by_time[:cut], by_time[cut:]) if p]
    live = Batch.concat([engine.compute(_batch(p)) for p in parts])
    assert live.ts.tolist() == got.ts.tolist()
    np.testing.assert_allclose(live.value, got.value, rtol=1e-12)
    assert live.quality.tolist() == got.quality.tolist()
    assert (live.point == 4).all()


def test_a_fixed_grid_holds_the_newest_values_and_skips_times_before_all_inputs() -> None:
    dp = DerivedPoint.from_function("u.Q", lambda a, b: a + b, {"a": "u.F", "b": "u.T1"})
    s = recompute(dp, {"u.F": Series.of([1.0, 3.0], [10.0, 30.0]),
                       "u.T1": Series.of([2.0], [1.0], [Quality.UNCERTAIN])},
                  grid=[0.0, 1.5, 2.0, 2.5, 10.0])
    assert s.ts.tolist() == [2.0, 2.5, 10.0]
    assert s.value.tolist() == [11.0, 11.0, 31.0]
    assert s.quality.tolist() == [Quality.UNCERTAIN] * 3
    with pytest.raises(InvalidInputError, match="no series"):
        recompute(dp, {"u.F": Series.of([1.0], [1.0])})


def test_chained_derived_points_are_evaluated_in_order_and_cycles_refused() -> None:
    q = DerivedPoint.from_function("u.Q", lambda f: 2 * f, {"f": "u.F"})
    q2 = DerivedPoint.from_function("u.Q2", lambda q: q + 1, {"q": "u.Q"})
    out = DerivedEngine([q2, q], TABLE).compute(Batch.of([0, 0], [1.0, 2.0], [1.0, 5.0]))
    assert out.point.tolist() == [4, 4, 5, 5]
    assert out.value.tolist() == [2.0, 10.0, 3.0, 11.0]
    loop = DerivedPoint.from_function("u.Q", lambda q: q, {"q": "u.Q2"})
    with pytest.raises(InvalidInputError, match="cycle"):
        DerivedEngine([loop, q2], TABLE)


def test_compile_derived_reports_every_problem_with_its_place() -> None:
    cfgs = [
        DerivedConfig(twin="u", name="Q", unit="kW", expr="F * rho * cp * (T2 - T1)",
                      inputs={"F": "u.F", "T1": "u.T1", "T2": "u.T2"},
                      constants={"rho": {"value": 1000, "unit": "kg/m3"},  # type: ignore[dict-item]
                                 "cp": {"value": 4.18, "unit": "kJ/(kg*K)"}}),
        DerivedConfig(twin="u", name="Q2", unit="kW", expr="F + nope", inputs={"F": "u.F"}),
        DerivedConfig(twin="u", name="X", expr="a", inputs={"a": "u.missing"}),
    ]
    with pytest.raises(ConfigError) as err:
        compile_derived(cfgs, TABLE)
    paths = sorted(p.path for p in err.value.problems)
    assert paths == ["derived.1.expr", "derived.2.inputs", "derived.2.name"]
    built = compile_derived(cfgs[:1], TABLE)
    assert built[0].key == "u.Q"
    specs = derived_specs(cfgs[:1])
    assert specs[0].kind == PointKind.DERIVED and specs[0].unit == "kW"
    with pytest.raises(ValueError, match=r"no '\.'"):
        DerivedConfig(twin="u", name="a.b", expr="x", inputs={"x": "u.F"})


def test_imputed_samples_do_not_feed_derived_points_live_or_recomputed() -> None:
    dp = DerivedPoint.from_function("u.Q", lambda f: f, {"f": "u.F"})
    b = Batch.of([0, 0, 0], [1.0, 2.0, 3.0], [1.0, 99.0, 3.0], [0, 1, 0],
                 [0, Reason.IMPUTED, 0])
    live = DerivedEngine([dp], TABLE).compute(b)
    assert live.ts.tolist() == [1.0, 3.0] and live.value.tolist() == [1.0, 3.0]
    again = recompute(dp, {"u.F": Series(b.ts, b.value, b.quality, b.reason)})
    assert again.value.tolist() == [1.0, 3.0]
