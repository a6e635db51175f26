"""One conformance suite every recursive estimator (EKF, UKF, MHE) passes."""

from __future__ import annotations

import numpy as np
import pytest

from processtwin.errors import InvalidInputError
from processtwin.estimation import (
    DelayedEstimator,
    RecursiveEstimator,
    config_for,
    make_estimator,
    make_filter,
)
from processtwin.physics import van_de_vusse
from tests.estimation.plant import DT_S, TUNING, plant_run

KINDS = ["ekf", "ukf", "mhe"]
DT_H = DT_S / 3600


def build(kind: str, **extra: object) -> RecursiveEstimator:
    return make_filter(van_de_vusse(), config_for(kind, **TUNING, **extra))


@pytest.mark.parametrize("kind", KINDS)
def test_is_a_recursive_estimator_with_consistent_shapes(kind: str) -> None:
    est = build(kind)
    assert isinstance(est, RecursiveEstimator)
    nx = est.model.nx
    est.predict(est.model.u0, DT_H)
    est.update({"T_R": 134.5, "T_K": 129.0})
    assert est.x.shape == (nx,)
    assert est.P.shape == (nx, nx)
    np.testing.assert_allclose(est.P, est.P.T, atol=1e-12)
    assert np.all(np.linalg.eigvalsh(est.P) > 0)
    np.testing.assert_allclose(est.std, np.sqrt(np.diag(est.P)))


@pytest.mark.parametrize("kind", KINDS)
def test_measurement_pulls_the_estimate_and_shrinks_its_std(kind: str) -> None:
    est = build(kind)
    before_x, before_sd = est.x[2], est.std[2]
    est.update({"T_R": before_x + 1.0})
    assert before_x < est.x[2] < before_x + 1.0
    assert est.std[2] < before_sd


@pytest.mark.parametrize("kind", KINDS)
def test_bad_or_missing_values_change_nothing(kind: str) -> None:
    est = build(kind)
    est.predict(est.model.u0, DT_H)
    x, p = est.x.copy(), est.P.copy()
    est.update({})
    est.update({"T_R": float("nan")})
    est.update({"T_R": 140.0}, weights={"T_R": 0.0})  # quality bad
    np.testing.assert_array_equal(est.x, x)
    np.testing.assert_array_equal(est.P, p)


@pytest.mark.parametrize("kind", KINDS)
def test_uncertain_values_weigh_less(kind: str) -> None:
    a, b = build(kind), build(kind)
    a.update({"T_R": 140.0})
    b.update({"T_R": 140.0}, weights={"T_R": 0.1})
    assert abs(a.x[2] - 140.0) < abs(b.x[2] - 140.0)
    c = build(kind)
    c.update({"T_R": 140.0}, variance={"T_R": 0.1**2 / 0.1})  # same as weight 0.1
    np.testing.assert_allclose(c.x, b.x, rtol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_predict_state_does_not_touch_the_estimate(kind: str) -> None:
    est = build(kind)
    x = est.x.copy()
    ahead = est.predict_state(est.model.u0 * [1.2, 1.0], 10 * DT_H)
    np.testing.assert_array_equal(est.x, x)
    assert not np.allclose(ahead, x)
    est.predict(est.model.u0 * [1.2, 1.0], 10 * DT_H)
    np.testing.assert_allclose(est.x, ahead, rtol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_snapshot_restore_round_trips(kind: str) -> None:
    est = build(kind)
    est.predict(est.model.u0, DT_H)
    snap = est.snapshot()
    x, p = est.x.copy(), est.P.copy()
    est.update({"T_R": 138.0})
    est.predict(est.model.u0, DT_H)
    est.restore(snap)
    np.testing.assert_array_equal(est.x, x)
    np.testing.assert_array_equal(est.P, p)
    with pytest.raises(InvalidInputError):
        est.restore("not a snapshot")


@pytest.mark.parametrize("kind", KINDS)
def test_unconfigured_sensor_is_refused(kind: str) -> None:
    est = make_filter(van_de_vusse(), config_for(kind, measurement_std={"T_R": 0.1}))
    with pytest.raises(InvalidInputError, match="no measurement noise"):
        est.update({"T_K": 120.0})


@pytest.mark.parametrize("kind", KINDS)
def test_late_value_equals_an_on_time_one(kind: str) -> None:
    run = plant_run(40)
    m = van_de_vusse()
    on_time = make_estimator(m, config_for(kind, **TUNING))
    late = make_estimator(m, config_for(kind, **TUNING))
    for k in range(40):
        y_on = {**run.y[k], "C_b": 0.95} if k == 20 else run.y[k]
        on_time.step(k * DT_S, run.u_meas[k], y_on)
        late.step(k * DT_S, run.u_meas[k], run.y[k])
        if k == 30:
            assert late.late(20 * DT_S + 1.0, {"C_b": 0.95})  # sampled just after step 20
    assert late.late_applied == 1
    if kind == "mhe":
        # equal up to the arrival cost's linearisation points (the on-time run's smoothed
        # estimates of the dropped nodes already saw the value): a tiny fraction of a σ
        assert np.all(np.abs(late.x - on_time.x) < 0.01 * on_time.std)
        assert abs(late.x[1] - 0.95) < abs(plant_no_cb(kind) - 0.95)
    else:  # a Kalman filter's replay is exact
        np.testing.assert_allclose(late.x, on_time.x, rtol=1e-9)
        np.testing.assert_allclose(late.P, on_time.P, rtol=1e-7, atol=1e-14)


def plant_no_cb(kind: str) -> float:
    """C_b estimated over the same run without the analyser value."""
    run = plant_run(40)
    est = make_estimator(van_de_vusse(), config_for(kind, **TUNING))
    for k in range(40):
        est.step(k * DT_S, run.u_meas[k], run.y[k])
    return float(est.x[1])


def test_mhe_drops_a_value_older_than_its_horizon() -> None:
    est = make_estimator(van_de_vusse(), config_for("mhe", **TUNING, horizon=5))
    for k in range(12):
        est.step(k * DT_S, van_de_vusse().u0, {"T_R": 134.1})
    x = est.x.copy()
    assert not est.late(2 * DT_S, {"C_b": 0.9})  # 10 steps back, horizon 5
    assert est.late_dropped == 1
    np.testing.assert_array_equal(est.x, x)
    assert est.late(9 * DT_S, {"C_b": 0.9})
    assert not np.allclose(est.x, x)


def test_delayed_estimator_reports_state_and_refuses_time_going_back() -> None:
    est = make_estimator(van_de_vusse(), config_for("ukf", **TUNING))
    est.step(1.0, van_de_vusse().u0, {"T_R": 134.0})
    s = est.state()
    assert s["names"] == ["C_a", "C_b", "T_R", "T_K"]
    assert np.array(s["P"]).shape == (4, 4)
    assert s["t"] == 1.0
    with pytest.raises(InvalidInputError, match="time must increase"):
        est.step(1.0, van_de_vusse().u0, {})
    assert isinstance(est, DelayedEstimator)


def test_unknown_kind_and_settings_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="unknown estimator kind"):
        config_for("pf", **TUNING)
    with pytest.raises(InvalidInputError, match="unknown settings"):
        config_for("ekf", **TUNING, horizon=10)
