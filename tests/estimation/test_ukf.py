from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from processtwin.errors import InvalidInputError
from processtwin.estimation import EKFConfig, ExtendedKalmanFilter, UKFConfig, UnscentedKalmanFilter
from processtwin.estimation.ukf import merwe_weights, robust_cholesky
from processtwin.physics import van_de_vusse
from tests.estimation.plant import TUNING

MODEL = van_de_vusse()


def spd(seed: int, n: int = 4, cond: float = 1e3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    return (q * np.geomspace(1.0, 1.0 / cond, n)) @ q.T


@given(n=st.integers(1, 8), alpha=st.floats(0.05, 1.0), beta=st.floats(0.0, 3.0),
       kappa=st.floats(0.0, 3.0))
def test_merwe_weights_sum_to_one_and_reproduce_mean_and_covariance(
        n: int, alpha: float, beta: float, kappa: float) -> None:
    gamma, wm, wc = merwe_weights(n, alpha, beta, kappa)
    assert wm.sum() == pytest.approx(1.0)
    p = spd(n, n)
    x = np.arange(n, dtype=float)
    d = gamma * np.linalg.cholesky(p)
    pts = np.concatenate([x[:, None], x[:, None] + d, x[:, None] - d], axis=1)
    np.testing.assert_allclose(pts @ wm, x, atol=1e-9 * max(1.0, abs(wm[0])))
    dev = pts - x[:, None]
    np.testing.assert_allclose((dev * wc) @ dev.T, p, atol=1e-9)


def test_merwe_weights_refuse_a_degenerate_spread() -> None:
    with pytest.raises(InvalidInputError, match="n \\+ λ"):
        merwe_weights(3, 1.0, 2.0, -3.0)


@settings(max_examples=40)
@given(seed=st.integers(0, 10_000), mask=st.lists(st.booleans(), min_size=4, max_size=4),
       w=st.floats(0.05, 1.0))
def test_ukf_update_equals_the_kalman_update_for_linear_sensors(
        seed: int, mask: list[bool], w: float) -> None:
    names = [n for n, keep in zip(MODEL.state_names, mask, strict=True) if keep]
    rng = np.random.default_rng(seed)
    p = spd(seed) * np.outer([0.5, 0.5, 2.0, 2.0], [0.5, 0.5, 2.0, 2.0])
    x = MODEL.x0 + rng.normal(0, 0.1, 4)
    std = {"C_a": 0.05, "C_b": 0.02, "T_R": 0.1, "T_K": 0.1}
    ukf = UnscentedKalmanFilter(MODEL, UKFConfig(measurement_std=std), x0=x)
    ekf = ExtendedKalmanFilter(MODEL, EKFConfig(measurement_std=std), x0=x)
    ukf.P, ekf.P = p.copy(), p.copy()
    y = {n: float(x[MODEL.state_names.index(n)] + rng.normal(0, 0.2)) for n in names}
    ukf.update(y, {n: w for n in names})
    ekf.update(y, {n: w for n in names})
    np.testing.assert_allclose(ukf.x, ekf.x, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ukf.P, ekf.P, rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize(("spread", "lo", "hi"), [(0.001, 0.0, 1e-5), (1.0, 0.02, 0.5)])
def test_ukf_and_ekf_agree_for_a_narrow_prior_and_part_for_a_wide_one(
        spread: float, lo: float, hi: float) -> None:
    # the UKF's mean differs from the EKF's by O(σ²·f''): negligible for a narrow prior,
    # a visible fraction of σ for a wide one over the CSTR's Arrhenius terms
    cfg = {k: TUNING[k] for k in ("measurement_std", "process_std")}
    init = {"C_a": 0.4 * spread, "C_b": 0.4 * spread, "T_R": 8.0 * spread,
            "T_K": 8.0 * spread}
    u = UnscentedKalmanFilter(MODEL, UKFConfig(**cfg, initial_std=init))
    e = ExtendedKalmanFilter(MODEL, EKFConfig(**cfg, initial_std=init))
    u.predict(MODEL.u0, 0.01)
    e.predict(MODEL.u0, 0.01)
    gap = float(np.max(np.abs(u.x - e.x) / u.std))
    assert lo <= gap < hi, gap


def test_robust_cholesky_repairs_an_indefinite_matrix_and_counts_it() -> None:
    p = spd(1)
    l0, k0 = robust_cholesky(p, 1e-9)
    assert k0 == 0
    np.testing.assert_allclose(l0 @ l0.T, p, atol=1e-12)
    bad = p.copy()
    w, v = np.linalg.eigh(bad)
    bad = (v * np.r_[-1e-6, w[1:]]) @ v.T  # one slightly negative eigenvalue
    lb, kb = robust_cholesky(bad, 1e-9)
    assert kb > 0
    np.testing.assert_allclose(lb @ lb.T, bad, atol=1e-4)
    ukf = UnscentedKalmanFilter(MODEL, UKFConfig(**TUNING))
    ukf.P = bad * 0.01
    ukf.predict(MODEL.u0, 1e-3)
    assert ukf.jitter_events == 1
    assert np.all(np.isfinite(ukf.P))


def test_sigma_points_are_clipped_to_the_state_bounds() -> None:
    # a 250 K spread puts sigma points below absolute zero, where exp(−E/(T+273.15))
    # overflows; clipped to the model's bounds (50–180 °C) the step stays finite
    cfg = {**TUNING, "initial_std": {**TUNING["initial_std"], "T_R": 250.0}}
    ukf = UnscentedKalmanFilter(MODEL, UKFConfig(**cfg))
    assert ukf.sigma_points()[2].min() < -273.15
    ukf.predict(MODEL.u0, 1e-3)
    assert np.all(np.isfinite(ukf.x))
    assert np.all(np.isfinite(ukf.P))
    assert 50.0 <= ukf.x[2] <= 180.0


@pytest.mark.parametrize("bad", [{"alpha": 0.0}, {"alpha": 1.5}, {"beta": -1.0},
                                 {"jitter": 0.0}, {"substeps": 0}])
def test_bad_ukf_settings_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(InvalidInputError):
        UKFConfig(measurement_std={"T_R": 0.1}, **bad)
