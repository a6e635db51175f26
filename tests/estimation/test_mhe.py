from __future__ import annotations

import numpy as np
import pytest

from processtwin.errors import InvalidInputError, SolverError
from processtwin.estimation import (
    DelayedEstimator,
    EKFConfig,
    ExtendedKalmanFilter,
    MHEConfig,
    MovingHorizonEstimator,
)
from processtwin.physics import van_de_vusse
from tests.estimation.plant import DT_S, TUNING, plant_run

MODEL = van_de_vusse()
DT_H = DT_S / 3600


def test_first_solve_equals_the_kalman_update_of_a_linear_problem() -> None:
    # with one node and a linear (selection) measurement the MHE is the Kalman update
    mhe = MovingHorizonEstimator(MODEL, MHEConfig(**TUNING, horizon=5))
    ekf = ExtendedKalmanFilter(MODEL, EKFConfig(**TUNING))
    y = {"T_R": 135.0, "C_b": 0.95}
    mhe.update(y)
    ekf.update(y)
    assert np.all(np.abs(mhe.x - ekf.x) < 1e-4 * ekf.std)  # to IPOPT's tolerance
    np.testing.assert_allclose(mhe.P, ekf.P, rtol=1e-6, atol=1e-12)
    assert mhe.stats.solves == 1
    assert mhe.stats.last_solve_s > 0


def test_window_slides_and_stays_at_the_horizon() -> None:
    mhe = MovingHorizonEstimator(MODEL, MHEConfig(**TUNING, horizon=4))
    run = plant_run(10)
    for k in range(10):
        if k:
            mhe.predict(run.u_meas[k - 1], DT_H)
        mhe.update(run.y[k])
        assert mhe.window == min(k, 4)
    assert mhe.stats.solves == 10
    assert mhe.stats.failures == 0
    assert abs(mhe.x[2] - run.x[-1, 2]) < 0.3


def test_bounds_hold_even_against_the_data() -> None:
    # a (faulty) analyser reads C_b far above a bound the operator knows: the MHE stops
    # at the bound where a Kalman filter would follow the data
    cfg = MHEConfig(**TUNING, horizon=5, bounds={"C_b": (0.0, 1.0)})
    mhe = MovingHorizonEstimator(MODEL, cfg)
    for _ in range(3):
        mhe.predict(MODEL.u0, DT_H)
        mhe.update({"C_b": 1.6})
    assert mhe.x[1] <= 1.0 + 1e-6
    assert mhe.x[1] > 0.99  # pressed against the bound
    unbounded = MovingHorizonEstimator(MODEL, MHEConfig(**TUNING, horizon=5))
    for _ in range(3):
        unbounded.predict(MODEL.u0, DT_H)
        unbounded.update({"C_b": 1.6})
    assert unbounded.x[1] > 1.2


def test_warm_start_needs_fewer_iterations_than_a_cold_start() -> None:
    run = plant_run(80)
    its = {}
    for warm in (True, False):
        mhe = MovingHorizonEstimator(MODEL, MHEConfig(**TUNING, warm_start=warm))
        est = DelayedEstimator(mhe)
        per_step = []
        for k in range(80):
            est.step(k * DT_S, run.u_meas[k], run.y[k])
            per_step.append(mhe.stats.last_iterations)
        its[warm] = float(np.mean(per_step[25:]))
    assert its[True] < its[False], its


def test_solver_failure_falls_back_or_raises_as_configured() -> None:
    soft = MovingHorizonEstimator(MODEL, MHEConfig(**TUNING, horizon=3, max_iter=1))
    soft.predict(MODEL.u0, DT_H)
    predicted = soft.x.copy()
    soft.update({"T_R": 150.0, "T_K": 140.0})
    assert soft.stats.failures == 1
    assert soft.stats.last_status == "Maximum_Iterations_Exceeded"
    np.testing.assert_array_equal(soft.x, predicted)  # open-loop prediction kept
    hard = MovingHorizonEstimator(MODEL, MHEConfig(**TUNING, horizon=3, max_iter=1,
                                                   raise_on_failure=True))
    with pytest.raises(SolverError, match="Maximum_Iterations"):
        hard.update({"T_R": 150.0, "T_K": 140.0})


def test_stats_report_median_and_p99() -> None:
    mhe = MovingHorizonEstimator(MODEL, MHEConfig(**TUNING, horizon=3, keep_times=5))
    for _ in range(8):
        mhe.predict(MODEL.u0, DT_H)
        mhe.update({"T_R": 134.0})
    d = mhe.stats.to_dict()
    assert d["solves"] == 8
    assert len(mhe.stats.solve_times) == 5
    assert 0 < d["median_solve_s"] <= d["p99_solve_s"]


def test_setting_x_restarts_the_window() -> None:
    mhe = MovingHorizonEstimator(MODEL, MHEConfig(**TUNING, horizon=3))
    for _ in range(3):
        mhe.predict(MODEL.u0, DT_H)
        mhe.update({"T_R": 134.0})
    x0 = MODEL.x0 * 1.01
    mhe.x = x0
    assert mhe.window == 0
    np.testing.assert_allclose(mhe.x, x0)


@pytest.mark.parametrize("bad", [{"horizon": 0}, {"tol": 0.0},
                                 {"bounds": {"C_b": (1.0, 0.0)}}])
def test_bad_mhe_settings_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(InvalidInputError):
        MHEConfig(**TUNING, **bad)


def test_bounds_on_unknown_states_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="unknown states"):
        MovingHorizonEstimator(MODEL, MHEConfig(**TUNING, bounds={"nope": (0.0, 1.0)}))
