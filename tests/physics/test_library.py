from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import scipy.linalg

from processtwin.errors import ModelDefinitionError
from processtwin.physics import (
    FOUR_TANK_P_PLUS,
    ProcessModel,
    centrifugal_pump,
    distillation_column,
    exothermic_cstr,
    four_tank,
    gravity_tank,
    heat_exchanger,
    van_de_vusse,
)

LIBRARY: dict[str, Callable[[], ProcessModel]] = {
    "van_de_vusse": van_de_vusse,
    "exothermic_cstr": exothermic_cstr,
    "gravity_tank": gravity_tank,
    "four_tank": four_tank,
    "heat_exchanger": lambda: heat_exchanger(4),
    "centrifugal_pump": centrifugal_pump,
    "distillation_column": lambda: distillation_column(11, 6),
}


def _points(m: ProcessModel, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    xs = m.x0 + 0.05 * m.x_scale * rng.standard_normal((n, m.nx))
    us = m.u0 * rng.uniform(0.95, 1.05, (n, m.nu))
    lo = np.array([v.lo for v in m.states])
    hi = np.array([v.hi for v in m.states])
    return np.clip(xs, lo, hi), us


@pytest.mark.parametrize("name", LIBRARY)
def test_numpy_casadi_and_batched_evaluations_agree(name: str) -> None:
    m = LIBRARY[name]()
    xs, us = _points(m, 6, 1)
    batch = m.f(xs, us)
    zb = m.z(xs, us)
    for i in range(len(xs)):
        sym = np.array(m.casadi_rhs(xs[i], us[i], m.param_vector())).ravel()
        np.testing.assert_allclose(batch[i], sym, rtol=1e-10, atol=1e-12 * np.abs(sym).max())
        zs = np.array(m.casadi_alg(xs[i], us[i], m.param_vector())).ravel()
        np.testing.assert_allclose(zb[i], zs, rtol=1e-10, atol=1e-14)
    soa = m.f_soa(np.ascontiguousarray(xs.T), list(us.T), m.params_with(None))
    np.testing.assert_allclose(soa.T, batch, rtol=1e-14)


@pytest.mark.parametrize("name", LIBRARY)
def test_jacobian_matches_central_differences(name: str) -> None:
    m = LIBRARY[name]()
    x, u = _points(m, 1, 2)
    x, u = x[0], u[0]
    j = m.jacobian(x, u)
    for k in range(m.nx):
        dx = np.zeros(m.nx)
        dx[k] = 1e-6 * m.x_scale[k]
        fd = (m.f(x + dx, u) - m.f(x - dx, u)) / (2 * dx[k])
        np.testing.assert_allclose(j[:, k], fd, rtol=1e-5, atol=1e-7 * np.abs(j).max())


def test_unknown_parameters_are_refused_by_every_builder() -> None:
    for build in (exothermic_cstr, gravity_tank, four_tank, centrifugal_pump):
        with pytest.raises(ModelDefinitionError, match="unknown parameters"):
            build(typo=1.0)
    with pytest.raises(ModelDefinitionError, match="feed_stage"):
        distillation_column(10, 10)
    with pytest.raises(ModelDefinitionError, match="n_cells"):
        heat_exchanger(0)


def test_gravity_tank_steady_level_is_torricelli() -> None:
    m = gravity_tank()
    p = m.nominal_params
    h = m.steady_state(m.u0)[0]
    assert h == pytest.approx((m.u0[0] / (p["c_d"] * p["a"])) ** 2 / (2 * p["g"]), rel=1e-10)
    q_out, vol = m.z([h], m.u0)
    assert q_out == pytest.approx(m.u0[0], rel=1e-10)
    assert vol == pytest.approx(p["A"] * h)


@pytest.mark.parametrize(
    ("overrides", "u", "levels", "zeros"),
    [({}, [3.0, 3.0], [12.4, 12.7, 1.8, 1.4], [-0.060, -0.018]),
     (FOUR_TANK_P_PLUS, [3.15, 3.15], [12.6, 13.0, 4.8, 4.9], [-0.056, 0.013])],
    ids=["P-", "P+"],
)
def test_four_tank_operating_points_and_zeros_match_johansson(
        overrides: dict[str, float], u: list[float], levels: list[float],
        zeros: list[float]) -> None:
    m = four_tank(**overrides)
    x = m.steady_state(u)
    np.testing.assert_allclose(x, levels, atol=0.2)
    # transmission zeros of the linearisation from y = k_c·(h1, h2) to (v1, v2)
    a, b, _ = (np.array(v) for v in m.sensitivity_fn(x, u, m.param_vector()))
    c = np.zeros((2, 4))
    c[0, 0] = c[1, 1] = m.nominal_params["k_c"]
    big = np.block([[a, b], [c, np.zeros((2, 2))]])
    e = np.block([[np.eye(4), np.zeros((4, 2))], [np.zeros((2, 6))]])
    z = scipy.linalg.eigvals(big, e)
    z = np.sort(z[np.isfinite(z)].real)
    np.testing.assert_allclose(z, sorted(zeros), atol=0.002)
    # minimum phase exactly when gamma1 + gamma2 > 1
    g = m.nominal_params["gamma1"] + m.nominal_params["gamma2"]
    assert bool(np.all(z < 0)) == (g > 1)


def _eps_ntu_cold_outlet(m: ProcessModel, ua: float) -> float:
    p = m.nominal_params
    m_h, th_in, m_c, tc_in = m.u0
    ch, cc = m_h * p["cp_h"], m_c * p["cp_c"]
    cmin, cmax = min(ch, cc), max(ch, cc)
    ntu, cr = ua / cmin, cmin / cmax
    eps = ntu / (1 + ntu) if cr == 1 else ((1 - np.exp(-ntu * (1 - cr)))
                                           / (1 - cr * np.exp(-ntu * (1 - cr))))
    return float(tc_in + eps * cmin * (th_in - tc_in) / cc)


def test_heat_exchanger_converges_to_eps_ntu_and_balances_energy() -> None:
    errors = []
    for n in (8, 40):
        m = heat_exchanger(n, R_f_inf=0.0)
        x = m.steady_state(m.u0)
        th_out, tc_out, q, ua = m.z(x, m.u0)
        p = m.nominal_params
        assert ua == pytest.approx(p["A"] * p["U_clean"])
        hot = m.u0[0] * p["cp_h"] * (m.u0[1] - th_out)
        assert hot == pytest.approx(q, rel=1e-9)
        errors.append(abs(tc_out - _eps_ntu_cold_outlet(m, ua)))
    assert errors[1] < 1.0
    assert errors[1] < errors[0] / 3  # first-order convergence in the number of cells


def test_fouling_is_slow_and_lowers_the_duty() -> None:
    m = heat_exchanger(6)
    x = m.steady_state(m.u0)  # fully fouled: R_f = R_f_inf
    assert x[-1] == pytest.approx(m.nominal_params["R_f_inf"])
    clean = heat_exchanger(6, R_f_inf=0.0)
    q_fouled = m.z(x, m.u0)[2]
    q_clean = clean.z(clean.steady_state(clean.u0), clean.u0)[2]
    assert q_fouled < 0.95 * q_clean
    ev = np.linalg.eigvals(m.jacobian(x, m.u0)).real
    assert ev.max() == pytest.approx(-1.0 / m.nominal_params["tau_f"], rel=1e-6)
    assert ev.min() / ev.max() > 1e4  # stiff: seconds against weeks


def test_pump_follows_the_affinity_laws() -> None:
    m = centrifugal_pump(K_sys=1.0e4)
    base = m.z([0.0], [1450.0, 0.0])
    for n in (725.0, 1160.0, 2000.0):
        s = n / 1450.0
        q, h, eta, power = m.z([0.0], [n, 0.0])
        assert q == pytest.approx(base[0] * s, rel=1e-12)
        assert h == pytest.approx(base[1] * s**2, rel=1e-12)
        assert eta == pytest.approx(base[2], rel=1e-12)
        assert power == pytest.approx(base[3] * s**3, rel=1e-12)


def test_pump_wear_lowers_head_and_grows_with_speed_cubed() -> None:
    m = centrifugal_pump()
    new, worn = m.z([0.0], m.u0), m.z([0.1], m.u0)
    assert worn[0] < new[0] and worn[2] < new[2]
    assert m.f([0.0], [2900.0, 22.0])[0] == pytest.approx(8 * m.f([0.0], [1450.0, 22.0])[0])
    # at the best-efficiency flow of a new pump the efficiency is eta_max
    p = m.nominal_params
    h_st = p["H0"] - (p["a_p"] + p["K_sys"]) * p["Q_bep0"] ** 2
    assert m.z([0.0], [1450.0, h_st])[2] == pytest.approx(p["eta_max"], rel=1e-12)


def test_distillation_column_a_matches_skogestad() -> None:
    m = distillation_column()
    x = m.steady_state(m.u0)
    assert (round(x[-1], 3), round(x[0], 3)) == (0.99, 0.01)
    d, b = m.z(x, m.u0)
    f, z_f = m.u0[2], m.u0[3]
    assert d + b == pytest.approx(f)
    assert d * x[-1] + b * x[0] == pytest.approx(f * z_f, rel=1e-9)
    # the dominant time constant of column A, about 194 min (Skogestad 1997)
    tau1 = -1.0 / np.max(np.linalg.eigvals(m.jacobian(x, m.u0)).real)
    assert tau1 == pytest.approx(194.0, rel=0.01)
    assert np.all(np.diff(x) > 0)  # lighter towards the top


def test_exothermic_cstr_nominal_point_is_the_cold_stable_state() -> None:
    m = exothermic_cstr()
    x = m.steady_state(m.u0)
    assert round(x[1], 1) == 318.3
    assert np.all(np.linalg.eigvals(m.jacobian(x, m.u0)).real < 0)
    conv, q_j, r = m.z(x, m.u0)
    p = m.nominal_params
    assert r == pytest.approx(m.u0[0] / p["V"] * (p["C_Af"] - x[0]), rel=1e-9)
    assert conv == pytest.approx(1 - x[0] / p["C_Af"])
    assert q_j == pytest.approx(p["UA"] * (x[1] - x[2]))
