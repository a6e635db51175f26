from __future__ import annotations

import numpy as np
import pytest

from processtwin.errors import InvalidInputError
from processtwin.estimation import DelayedEKF, EKFConfig, ExtendedKalmanFilter
from processtwin.physics import rk4, van_de_vusse

CFG = EKFConfig(measurement_std={"T_R": 0.1, "T_K": 0.1, "C_b": 0.02},
                process_std={"C_a": 0.5, "C_b": 0.3, "T_R": 2.0, "T_K": 2.0},
                initial_std={"C_a": 0.5, "C_b": 0.5, "T_R": 1.0, "T_K": 1.0})


def simulate(steps: int, dt_s: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """True states and noisy temperatures under a stepping feed."""
    m = van_de_vusse()
    rng = np.random.default_rng(seed)
    x = m.steady_state(m.u0)
    xs, us = [], []
    for k in range(steps):
        u = m.u0 * (1.0 + (0.15 if (k // 200) % 2 else -0.1) * np.array([1.0, 0.0]))
        x = rk4(m, x, u, dt_s / 3600, substeps=1)
        xs.append(x)
        us.append(u)
    return np.array(xs), np.array(us) + rng.normal(0, [0.05, 5.0], (steps, 2))


def test_ekf_estimates_unmeasured_concentrations_from_temperatures() -> None:
    m = van_de_vusse()
    xs, us = simulate(1200, 5.0)
    rng = np.random.default_rng(1)
    x0 = m.x0.copy()
    x0[:2] *= [1.3, 0.7]  # a poor initial guess of the concentrations
    ekf = DelayedEKF(ExtendedKalmanFilter(m, CFG, x0=x0))
    est = []
    for k in range(len(xs)):
        y = {"T_R": xs[k, 2] + rng.normal(0, 0.05), "T_K": xs[k, 3] + rng.normal(0, 0.05)}
        ekf.step(k * 5.0, us[k], y)
        est.append(ekf.ekf.x.copy())
    est_arr = np.array(est)[300:]
    rmse_cb = float(np.sqrt(np.mean((est_arr[:, 1] - xs[300:, 1]) ** 2)))
    rmse_ca = float(np.sqrt(np.mean((est_arr[:, 0] - xs[300:, 0]) ** 2)))
    assert rmse_cb < 0.03, rmse_cb
    assert rmse_ca < 0.06, rmse_ca
    assert np.all(ekf.ekf.std > 0)


def test_late_measurement_equals_an_on_time_one() -> None:
    m = van_de_vusse()
    xs, us = simulate(60, 5.0)
    on_time = DelayedEKF(ExtendedKalmanFilter(m, CFG))
    late = DelayedEKF(ExtendedKalmanFilter(m, CFG))
    for k in range(60):
        y = {"T_R": xs[k, 2], "T_K": xs[k, 3]}
        y_on = {**y, "C_b": 0.95} if k == 20 else y
        on_time.step(k * 5.0, us[k], y_on)
        late.step(k * 5.0, us[k], y)
        if k == 35:
            assert late.late(20 * 5.0 + 1.0, {"C_b": 0.95})  # sampled just after step 20
    np.testing.assert_allclose(late.ekf.x, on_time.ekf.x, rtol=1e-9)
    np.testing.assert_allclose(late.ekf.P, on_time.ekf.P, rtol=1e-9, atol=1e-14)


def test_too_old_measurement_is_dropped_and_counted() -> None:
    ekf = DelayedEKF(ExtendedKalmanFilter(van_de_vusse(), CFG), horizon_s=10.0)
    for k in range(10):
        ekf.step(float(k * 5), van_de_vusse().u0, {"T_R": 134.1})
    assert not ekf.late(1.0, {"C_b": 0.9})
    assert ekf.late_dropped == 1


def test_uncertain_values_weigh_less() -> None:
    m = van_de_vusse()
    a, b = ExtendedKalmanFilter(m, CFG), ExtendedKalmanFilter(m, CFG)
    a.update({"T_R": 140.0})
    b.update({"T_R": 140.0}, weights={"T_R": 0.1})
    assert abs(a.x[2] - 140.0) < abs(b.x[2] - 140.0)


def test_misconfigured_filter_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="not states"):
        ExtendedKalmanFilter(van_de_vusse(), EKFConfig(measurement_std={"nope": 1.0}))
    e = DelayedEKF(ExtendedKalmanFilter(van_de_vusse(), CFG))
    e.step(1.0, van_de_vusse().u0, {})
    with pytest.raises(InvalidInputError, match="time must increase"):
        e.step(1.0, van_de_vusse().u0, {})
