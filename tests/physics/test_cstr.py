from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from processtwin.errors import ModelDefinitionError
from processtwin.physics import KLATT_ENGELL_1998, KLATT_ENGELL_INPUTS, rk4, van_de_vusse


@pytest.mark.parametrize("v_r", [10.0, 10.01], ids=["klatt_engell", "do_mpc"])
def test_klatt_engell_operating_point_to_the_stated_digits(v_r: float) -> None:
    # Klatt & Engell (1998): T_in 104.9 °C, F/V_R 14.19 1/h, Q -1113.5 kJ/h:
    # C_a 2.14, C_b 1.09 mol/l, T_R 114.2, T_K 112.9 °C, with their V_R and do-mpc's
    m = van_de_vusse(**{**KLATT_ENGELL_1998, "V_R": v_r})
    c_a, c_b, t_r, t_k = m.steady_state(np.array(KLATT_ENGELL_INPUTS))
    assert (round(c_a, 2), round(c_b, 2), round(t_r, 1), round(t_k, 1)) == (
        2.14, 1.09, 114.2, 112.9)
    assert m.f([c_a, c_b, t_r, t_k], KLATT_ENGELL_INPUTS) == pytest.approx(np.zeros(4), abs=1e-8)


def test_do_mpc_and_klatt_engell_differ_only_in_the_jacket_term() -> None:
    ke = van_de_vusse(**KLATT_ENGELL_1998)
    dm = van_de_vusse(T_in=104.9)
    diff = {k for k in ke.nominal_params if ke.nominal_params[k] != dm.nominal_params[k]}
    assert diff == {"V_R"}
    x_ke = ke.steady_state(np.array(KLATT_ENGELL_INPUTS))
    x_dm = dm.steady_state(np.array(KLATT_ENGELL_INPUTS))
    # 0.1 % in V_R: a few mK and 1e-4 mol/l, below the paper's digits, but not nothing
    assert 1e-4 < abs(x_dm[2] - x_ke[2]) < 1e-2
    assert abs(x_dm[0] - x_ke[0]) < 1e-3


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
