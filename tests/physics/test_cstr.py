from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from processtwin.errors import ModelDefinitionError
from processtwin.physics import rk4, van_de_vusse


def test_klatt_engell_operating_point() -> None:
    # Klatt & Engell (1998): T_in 104.9 °C, F/V 14.19 1/h, Q -1113.5 kJ/h (V_R taken as given)
    m = van_de_vusse(T_in=104.9)
    x = m.steady_state(np.array([14.19, -1113.5]))
    np.testing.assert_allclose(x, [2.14, 1.09, 114.2, 112.9], atol=0.01)


def test_numpy_and_casadi_rhs_agree() -> None:
    m = van_de_vusse()
    rng = np.random.default_rng(0)
    for _ in range(10):
        x = m.x0 * rng.uniform(0.8, 1.2, 4)
        u = m.u0 * rng.uniform(0.8, 1.2, 2)
        np.testing.assert_allclose(m.f(x, u), np.array(m.casadi_rhs(x, u, m.param_vector())
                                                       ).ravel(), rtol=1e-12)


def test_rhs_is_vectorised_over_scenarios() -> None:
    m = van_de_vusse()
    xs = np.array([m.x0 * s for s in (0.9, 1.0, 1.1)])
    batch = m.f(xs, m.u0)
    for i in range(3):
        np.testing.assert_allclose(batch[i], m.f(xs[i], m.u0))


def test_jacobian_matches_finite_differences() -> None:
    m = van_de_vusse()
    j = m.jacobian(m.x0, m.u0)
    eps = 1e-6
    for k in range(4):
        dx = np.zeros(4)
        dx[k] = eps * max(1.0, abs(m.x0[k]))
        fd = (m.f(m.x0 + dx, m.u0) - m.f(m.x0 - dx, m.u0)) / (2 * dx[k])
        np.testing.assert_allclose(j[:, k], fd, rtol=1e-5, atol=1e-6)


def test_rk4_matches_bdf_reference() -> None:
    m = van_de_vusse()
    x0 = np.array([0.8, 0.5, 134.14, 130.0])
    ref = solve_ivp(lambda t, x: m.f(x, m.u0), (0, 0.1), x0, method="BDF", rtol=1e-10,
                    atol=1e-12).y[:, -1]
    ours = rk4(m, x0, m.u0, 0.1, substeps=360)
    np.testing.assert_allclose(ours, ref, rtol=1e-6)


def test_unknown_parameter_is_an_error() -> None:
    with pytest.raises(ModelDefinitionError, match="unknown"):
        van_de_vusse(k_typo=1.0)


def test_setpoint_proposals_never_exceed_their_step_bounds() -> None:
    from processtwin.optimization import SetpointConfig, SetpointOptimizer

    m = van_de_vusse()
    opt = SetpointOptimizer(m, SetpointConfig(output="C_b", bounds={"F": (5, 100),
                            "Q": (-8500, 0)}, max_step={"F": 5.0, "Q": 800.0}))
    for target in (0.5, 0.8, 1.05):
        p = opt.propose(target, m.u0, m.x0, float(m.x0[1]))
        assert p.ok
        assert abs(p.inputs["F"] - m.u0[0]) <= 5.0
        assert abs(p.inputs["Q"] - m.u0[1]) <= 800.0
