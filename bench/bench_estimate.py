"""Estimation as a live service: EKF/UKF update rates and MHE solve times on the CSTR.

The van de Vusse CSTR at 5 s steps, feed stepping ±10 %, T_R and T_K measured (σ 0.1 K).
One *update* is a predict over one step plus the measurement correction.

* EKF updates/s: ours (CasADi RK4 with its exact Jacobian, Joseph update) against a plain
  NumPy EKF with a forward-difference Jacobian (the model's vectorised NumPy rhs, all
  ``nx + 1`` perturbed RK4 steps in one batched call) — measured in the same run.
* UKF updates/s: ours (sigma points through one mapped CasADi RK4 call) against a plain
  NumPy UKF propagating the sigma points through the vectorised NumPy RK4.
* MHE solve time per step at horizon 20 (median and p99 of IPOPT wall time, after the
  window has filled): warm-started (shifted primal and dual solution) against the same
  estimator cold-started from an open-loop simulation of the window.

Timing figures are medians over repeats; ratio = ours / baseline, oriented higher-better
(rates: ours/baseline; times: baseline/ours).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from processtwin.estimation import (
    DelayedEstimator,
    EKFConfig,
    ExtendedKalmanFilter,
    MHEConfig,
    MovingHorizonEstimator,
    UKFConfig,
    UnscentedKalmanFilter,
)
from processtwin.physics import ProcessModel, van_de_vusse

DT_S = 5.0
TUNING: dict[str, Any] = {
    "measurement_std": {"T_R": 0.1, "T_K": 0.1},
    "process_std": {"C_a": 0.5, "C_b": 0.3, "T_R": 2.0, "T_K": 2.0},
    "initial_std": {"C_a": 0.5, "C_b": 0.5, "T_R": 1.0, "T_K": 1.0},
}


def _rk4(m: ProcessModel, x: np.ndarray, u: np.ndarray, dt: float, sub: int = 2) -> np.ndarray:
    h = dt / sub
    for _ in range(sub):
        k1 = m.f(x, u)
        k2 = m.f(x + 0.5 * h * k1, u)
        k3 = m.f(x + 0.5 * h * k2, u)
        k4 = m.f(x + h * k3, u)
        x = x + (h / 6.0) * (k1 + 2 * k2 + 2 * k3 + k4)
    return x


def _data(m: ProcessModel, steps: int) -> tuple[np.ndarray, list[dict[str, float]]]:
    rng = np.random.default_rng(0)
    x = m.steady_state(m.u0)
    us, ys = [], []
    for k in range(steps):
        u = m.u0 * np.array([1.0 + (0.1 if (k // 200) % 2 else -0.1), 1.0])
        x = _rk4(m, x, u, DT_S / 3600)
        us.append(u)
        ys.append({"T_R": float(x[2] + rng.normal(0, 0.1)),
                   "T_K": float(x[3] + rng.normal(0, 0.1))})
    return np.array(us), ys


class _NumpyEKF:
    """The obvious EKF: NumPy RK4, forward-difference Jacobian, plain Kalman update."""

    def __init__(self, m: ProcessModel) -> None:
        self.m = m
        self.x = m.x0.copy()
        self.P = np.diag([0.5, 0.5, 1.0, 1.0]) ** 2
        self.q = np.diag([0.5, 0.3, 2.0, 2.0]) ** 2
        self.r = np.diag([0.1, 0.1]) ** 2
        self.h = np.zeros((2, 4))
        self.h[0, 2] = self.h[1, 3] = 1.0

    def step(self, u: np.ndarray, dt: float, y: dict[str, float]) -> None:
        eps = 1e-6 * np.maximum(np.abs(self.x), 1.0)
        pts = np.vstack([self.x, self.x + np.diag(eps)])
        out = _rk4(self.m, pts, u, dt)
        a = ((out[1:] - out[0]) / eps[:, None]).T
        self.x = out[0]
        self.P = a @ self.P @ a.T + self.q * dt
        s = self.h @ self.P @ self.h.T + self.r
        k = self.P @ self.h.T @ np.linalg.inv(s)
        self.x = self.x + k @ (np.array([y["T_R"], y["T_K"]]) - self.h @ self.x)
        self.P = (np.eye(4) - k @ self.h) @ self.P


class _NumpyUKF:
    """The obvious UKF (α = 1, β = 2, κ = 0): NumPy Cholesky, vectorised NumPy RK4."""

    def __init__(self, m: ProcessModel) -> None:
        self.m = m
        self.x = m.x0.copy()
        self.P = np.diag([0.5, 0.5, 1.0, 1.0]) ** 2
        self.q = np.diag([0.5, 0.3, 2.0, 2.0]) ** 2
        self.r = np.diag([0.1, 0.1]) ** 2
        n = 4
        self.wm = np.full(2 * n + 1, 1 / (2 * n))
        self.wm[0] = 0.0
        self.wc = self.wm.copy()
        self.wc[0] = 2.0
        self.g = np.sqrt(n)

    def _sigma(self) -> np.ndarray:
        d = self.g * np.linalg.cholesky(self.P)
        return np.vstack([self.x, self.x + d.T, self.x - d.T])

    def step(self, u: np.ndarray, dt: float, y: dict[str, float]) -> None:
        pts = _rk4(self.m, self._sigma(), u, dt)
        self.x = self.wm @ pts
        dev = pts - self.x
        self.P = (dev.T * self.wc) @ dev + self.q * dt
        pts = self._sigma()
        ys = pts[:, 2:4]
        yh = self.wm @ ys
        dy, dx = ys - yh, pts - self.x
        pyy = (dy.T * self.wc) @ dy + self.r
        pxy = (dx.T * self.wc) @ dy
        k = pxy @ np.linalg.inv(pyy)
        self.x = self.x + k @ (np.array([y["T_R"], y["T_K"]]) - yh)
        self.P = self.P - k @ pyy @ k.T


def _rate(steps: int, make: Callable[[], Callable[[int], None]]) -> float:
    step = make()
    t = time.perf_counter()
    for k in range(steps):
        step(k)
    return steps / (time.perf_counter() - t)


def _mhe_times(m: ProcessModel, us: np.ndarray, ys: list[dict[str, float]], steps: int,
               warm: bool) -> tuple[list[float], list[int]]:
    mhe = MovingHorizonEstimator(m, MHEConfig(**TUNING, horizon=20, warm_start=warm))
    est = DelayedEstimator(mhe)
    times, its = [], []
    for k in range(steps):
        est.step(k * DT_S, us[k], ys[k])
        if k > 20:  # window full
            times.append(mhe.stats.last_solve_s)
            its.append(mhe.stats.last_iterations)
    return times, its


def run(quick: bool = False) -> dict[str, Any]:
    m = van_de_vusse()
    steps, mhe_steps, repeats = (1500, 150, 3) if quick else (6000, 600, 5)
    us, ys = _data(m, max(steps, mhe_steps))
    dt = DT_S / 3600

    def ours(kind: str) -> Callable[[], Callable[[int], None]]:
        def make() -> Callable[[int], None]:
            f = (ExtendedKalmanFilter(m, EKFConfig(**TUNING)) if kind == "ekf"
                 else UnscentedKalmanFilter(m, UKFConfig(**TUNING)))

            def step(k: int) -> None:
                f.predict(us[k], dt)
                f.update(ys[k])
            return step
        return make

    def base(cls: type[_NumpyEKF] | type[_NumpyUKF]) -> Callable[[], Callable[[int], None]]:
        def make() -> Callable[[int], None]:
            f = cls(m)
            return lambda k: f.step(us[k], dt, ys[k])
        return make

    rates: dict[str, list[float]] = {k: [] for k in ("ekf", "ekf_np", "ukf", "ukf_np")}
    for _ in range(repeats):
        rates["ekf"].append(_rate(steps, ours("ekf")))
        rates["ekf_np"].append(_rate(steps, base(_NumpyEKF)))
        rates["ukf"].append(_rate(steps, ours("ukf")))
        rates["ukf_np"].append(_rate(steps, base(_NumpyUKF)))
    med = {k: statistics.median(v) for k, v in rates.items()}
    warm_t, warm_it = _mhe_times(m, us, ys, mhe_steps, warm=True)
    cold_t, cold_it = _mhe_times(m, us, ys, mhe_steps, warm=False)
    w50, w99 = float(np.median(warm_t)), float(np.percentile(warm_t, 99))
    c50, c99 = float(np.median(cold_t)), float(np.percentile(cold_t, 99))
    return {
        "bench": "estimate",
        "results": [
            {"name": "EKF update (predict + correct), CSTR", "value": med["ekf"],
             "unit": "updates/s",
             "baseline": "NumPy EKF, forward-difference Jacobian (batched RK4)",
             "baseline_value": med["ekf_np"], "ratio": med["ekf"] / med["ekf_np"]},
            {"name": "UKF update (predict + correct), CSTR", "value": med["ukf"],
             "unit": "updates/s", "baseline": "NumPy UKF, vectorised NumPy RK4",
             "baseline_value": med["ukf_np"], "ratio": med["ukf"] / med["ukf_np"]},
            {"name": "MHE solve per step, horizon 20, median", "value": w50 * 1e3,
             "unit": "ms", "baseline": "cold start (open-loop initial guess)",
             "baseline_value": c50 * 1e3, "ratio": c50 / w50},
            {"name": "MHE solve per step, horizon 20, p99", "value": w99 * 1e3,
             "unit": "ms", "baseline": "cold start (open-loop initial guess)",
             "baseline_value": c99 * 1e3, "ratio": c99 / w99},
            {"name": "MHE IPOPT iterations per step, mean", "value": float(np.mean(warm_it)),
             "unit": "iterations", "baseline": "cold start",
             "baseline_value": float(np.mean(cold_it)),
             "ratio": float(np.mean(cold_it)) / float(np.mean(warm_it))},
        ],
        "notes": [f"van de Vusse CSTR, 4 states, 5 s steps, T_R and T_K measured; "
                  f"{steps} filter steps x {repeats} repeats (median); MHE over {mhe_steps} "
                  "steps, statistics after the window filled",
                  "MHE: multiple shooting with RK4 (2 substeps), CasADi SX + IPOPT (MUMPS), "
                  "arrival cost by an EKF step; solve time is IPOPT's call only",
                  "ratio = ours / baseline for rates, baseline / ours for times "
                  "(higher is better)"],
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(quick=True), indent=1))
