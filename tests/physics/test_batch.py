from __future__ import annotations

import pickle
from collections.abc import Mapping, Sequence
from typing import Any

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import given, settings
from scipy.integrate import solve_ivp

from processtwin.errors import InvalidInputError, SolverError
from processtwin.physics import (
    ProcessModel,
    Scenarios,
    Trajectory,
    Var,
    heat_exchanger,
    simulate,
    van_de_vusse,
)

VDV = van_de_vusse()


def _scenarios(n: int = 6, seed: int = 0) -> Scenarios:
    rng = np.random.default_rng(seed)
    return Scenarios.of(
        VDV, x0=VDV.x0 * rng.uniform(0.8, 1.2, (n, 4)),
        u=np.c_[rng.uniform(5, 35, n), rng.uniform(-8500, 0, n)],
        params={"alpha": rng.uniform(0.95, 1.05, n), "beta": 1.02})


def _bdf(model: ProcessModel, s: Scenarios, i: int, t: np.ndarray) -> np.ndarray:
    p = model.params_with({k: float(v[i]) for k, v in s.params.items()})
    sol = solve_ivp(lambda _, x: model.f(x, s.u[i], p), (t[0], t[-1]), s.x0[i],
                    method="BDF", rtol=1e-8, atol=1e-10 * model.x_scale, t_eval=t,
                    jac=lambda _, x: model.jacobian(x, s.u[i], p))
    assert sol.success
    return np.asarray(sol.y.T)


def _rel_err(a: np.ndarray, ref: np.ndarray, scale: np.ndarray) -> float:
    return float(np.max(np.abs(a - ref) / np.maximum(np.abs(ref), 1e-3 * scale)))


@pytest.mark.parametrize(("method", "options", "bound"), [
    ("dopri5", {"rtol": 1e-8}, 2e-6),
    ("ros23", {"rtol": 1e-6}, 5e-4),
    ("rk4", {"dt": 2e-3}, 5e-4),
])
def test_every_method_matches_scipy_bdf(method: str, options: dict[str, float],
                                        bound: float) -> None:
    s = _scenarios()
    t = np.linspace(0.0, 0.5, 181)
    tr = simulate(VDV, s, t, method=method, **options)  # type: ignore[arg-type]
    assert tr.x.shape == (s.n, len(t), 4)
    for i in range(s.n):
        assert _rel_err(tr.x[i], _bdf(VDV, s, i, t), VDV.x_scale) < bound


def test_tighter_tolerances_give_smaller_errors() -> None:
    s = _scenarios(3, seed=5)
    t = np.linspace(0.0, 0.3, 61)
    ref = np.stack([_bdf(VDV, s, i, t) for i in range(s.n)])
    for method in ("dopri5", "ros23"):
        errs = [_rel_err(simulate(VDV, s, t, method=method, rtol=r).x, ref, VDV.x_scale)
                for r in (1e-4, 1e-6)]
        assert errs[1] < errs[0] / 5


def test_dense_output_does_not_shrink_the_step() -> None:
    s = _scenarios()
    dense = simulate(VDV, s, np.linspace(0.0, 1.0, 3601), rtol=1e-6)
    ends = simulate(VDV, s, np.array([0.0, 1.0]), rtol=1e-6)
    np.testing.assert_array_equal(dense.n_steps, ends.n_steps)
    np.testing.assert_array_equal(dense.x[:, -1], ends.x[:, -1])
    assert dense.n_steps.max() < 3600 / 10


def test_each_scenario_steps_on_its_own() -> None:
    s = _scenarios(8, seed=2)
    t = np.linspace(0.0, 0.4, 41)
    batch = simulate(VDV, s, t, rtol=1e-6)
    assert len(set(batch.n_steps.tolist())) > 1
    for i in (0, 5):
        alone = simulate(VDV, s.take([i]), t, rtol=1e-6)
        np.testing.assert_array_equal(alone.x[0], batch.x[i])
        assert alone.n_steps[0] == batch.n_steps[i]


def test_numba_and_numpy_dense_output_agree() -> None:
    s = _scenarios(4)
    t = np.linspace(0.0, 0.5, 501)
    for method in ("dopri5", "ros23"):
        a = simulate(VDV, s, t, method=method, accelerate=True)  # type: ignore[arg-type]
        b = simulate(VDV, s, t, method=method, accelerate=False)  # type: ignore[arg-type]
        np.testing.assert_allclose(a.x, b.x, rtol=1e-13)


def test_stiff_exchanger_rosenbrock_takes_long_steps_and_stays_accurate() -> None:
    m = heat_exchanger(4)
    x0 = m.steady_state(m.u0, {"R_f_inf": 0.0})  # clean exchanger, now fouling starts
    s = Scenarios.of(m, x0=x0, u=np.array([m.u0, m.u0 * [1.5, 1.0, 0.8, 1.0]]))
    day = 86400.0
    t = np.linspace(0.0, 10 * day, 41)
    ros = simulate(m, s, t, method="ros23", rtol=1e-6)
    for i in range(s.n):
        assert _rel_err(ros.x[i], _bdf(m, s, i, t), m.x_scale) < 1e-4
    assert ros.n_steps.max() < 200
    # the explicit method is held to the fast thermal modes' stability limit
    shift = np.linspace(0.0, 6 * 3600.0, 5)
    dop = simulate(m, s, shift, method="dopri5", rtol=1e-6)
    ros_shift = simulate(m, s, shift, method="ros23", rtol=1e-6)
    assert dop.n_steps.min() > 10 * ros_shift.n_steps.max()
    np.testing.assert_allclose(dop.x[:, -1], ros_shift.x[:, -1], rtol=1e-4)


@settings(max_examples=15, deadline=None)
@given(st.lists(st.floats(0.0, 0.5, allow_nan=False), min_size=1, max_size=20))
def test_any_output_grid_gives_the_solution_at_those_times(times: list[float]) -> None:
    s = _scenarios(2, seed=7)
    t = np.unique(np.array([0.0, *times, 0.5]))
    tr = simulate(VDV, s, t, rtol=1e-8)
    for i in range(s.n):
        assert _rel_err(tr.x[i], _bdf(VDV, s, i, t), VDV.x_scale) < 2e-6


def test_a_single_output_time_returns_the_initial_state() -> None:
    s = _scenarios(3)
    tr = simulate(VDV, s, [0.25])
    np.testing.assert_array_equal(tr.x[:, 0], s.x0)
    assert tr.n_steps.tolist() == [0, 0, 0]


def test_measured_outputs_along_a_trajectory() -> None:
    s = _scenarios(3)
    tr = simulate(VDV, s, np.linspace(0, 0.1, 5))
    y = tr.outputs(VDV, s)
    assert y.shape == (3, 5, len(VDV.outputs))
    np.testing.assert_array_equal(y[:, :, 0], tr.x[:, :, 2])  # T_R
    np.testing.assert_array_equal(y[:, :, 2], np.broadcast_to(s.u[:, None, 0], (3, 5)))


def _blow_up() -> ProcessModel:
    def rhs(m: Any, x: Sequence[Any], u: Sequence[Any], p: Mapping[str, Any]) -> list[Any]:
        return [x[0] * x[0] * p["k"]]

    return ProcessModel(name="blow", states=(Var(name="x", unit="1", nominal=1.0),),
                        inputs=(), params=(Var(name="k", unit="1/s", nominal=1.0),),
                        rhs=rhs, time_unit="s")


@pytest.mark.parametrize("method", ["dopri5", "ros23"])
def test_a_solution_that_blows_up_is_a_solver_error(method: str) -> None:
    m = _blow_up()
    with pytest.raises(SolverError, match="scenarios \\[1\\]"):
        simulate(m, Scenarios.of(m, x0=[[0.1], [1.0]]), [0.0, 2.0],
                 method=method, max_steps=5000)  # type: ignore[arg-type]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"method": "rk4"}, "rk4 needs a positive fixed step"),
    ({"method": "euler"}, "unknown method"),
    ({"rtol": 0.0}, "rtol"),
    ({"t": [0.0, 1.0, 0.5]}, "non-decreasing"),
])
def test_invalid_requests_are_refused(kwargs: dict[str, Any], message: str) -> None:
    t = kwargs.pop("t", [0.0, 1.0])
    with pytest.raises(InvalidInputError, match=message):
        simulate(VDV, _scenarios(2), t, **kwargs)


def test_scenarios_broadcast_validate_and_pickle() -> None:
    s = Scenarios.of(VDV, n=4, params={"alpha": [1.0, 1.1, 1.2, 1.3], "beta": 0.9})
    assert s.x0.shape == (4, 4) and s.u.shape == (4, 2)
    assert s.params["beta"].tolist() == [0.9] * 4
    with pytest.raises(InvalidInputError) as err:
        Scenarios.of(VDV, x0=np.zeros((3, 4)), u=np.zeros((2, 2)), params={"nope": 1.0})
    assert "counts disagree" in str(err.value) and "unknown parameters" in str(err.value)
    s2 = pickle.loads(pickle.dumps(s))
    np.testing.assert_array_equal(s2.params["alpha"], s.params["alpha"])
    parts = s.chunks(3)
    assert [p.n for p in parts] == [3, 1]
    assert parts[1].params["alpha"].tolist() == [1.3]


def test_trajectories_concatenate_by_scenario() -> None:
    s = _scenarios(5)
    t = np.linspace(0, 0.1, 3)
    whole = simulate(VDV, s, t)
    joined = Trajectory.concat([simulate(VDV, c, t) for c in s.chunks(2)])
    np.testing.assert_array_equal(joined.x, whole.x)
    np.testing.assert_array_equal(joined.n_steps, whole.n_steps)
    with pytest.raises(InvalidInputError):
        Trajectory.concat([whole, simulate(VDV, s, t[:2])])
