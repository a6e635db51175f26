"""A simulated noisy CSTR run shared by the estimation tests (not a test module)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from processtwin.estimation import DelayedEstimator
from processtwin.physics import rk4, van_de_vusse

DT_S = 5.0
SENSOR_STD = {"T_R": 0.1, "T_K": 0.1}
TUNING = {"measurement_std": {"T_R": 0.1, "T_K": 0.1, "C_b": 0.02},
          "process_std": {"C_a": 0.5, "C_b": 0.3, "T_R": 2.0, "T_K": 2.0},
          "initial_std": {"C_a": 0.5, "C_b": 0.5, "T_R": 1.0, "T_K": 1.0}}


@dataclass(frozen=True)
class Run:
    x: np.ndarray        # true states (steps, nx)
    u_meas: np.ndarray   # measured inputs (steps, nu), noisy
    y: list[dict[str, float]]
    kw: np.ndarray       # the true K_w per step


def plant_run(steps: int, *, seed: int = 0, kw_drift: float = 0.0, period: int = 200,
              disturbed: bool = False, analyser_every: int = 0,
              kw_scale: float = 1.0) -> Run:
    """Feed stepping ±10 % every ``period`` steps; K_w at ``kw_scale`` × nominal from the
    first step on, drifting by ``kw_drift`` (fraction) linearly over the run; temperatures
    measured with σ = 0.1 K; inputs with σ (0.05 1/h, 5 kJ/h).
    ``disturbed`` adds unmeasured Ornstein–Uhlenbeck disturbances (τ = 10 min) of the feed:
    C_A0 by 3 % and T_in by 2 K (stationary σ). ``analyser_every`` > 0 adds a C_b analyser
    value (σ 0.02 mol/l) every that many steps."""
    m = van_de_vusse()
    rng = np.random.default_rng(seed)
    x = m.steady_state(m.u0)
    kw0, ca0, t_in = (m.nominal_params[n] for n in ("K_w", "C_A0", "T_in"))
    xs, us, ys, kws = [], [], [], []
    a = np.exp(-DT_S / 600.0)
    d = np.zeros(2)
    for k in range(steps):
        if disturbed:
            d = a * d + np.sqrt(1 - a**2) * rng.normal(0, [0.03, 2.0])
        kw = kw0 * kw_scale * (1.0 + kw_drift * k / steps)
        u = m.u0 * np.array([1.0 + (0.1 if (k // period) % 2 else -0.1), 1.0])
        p = {"K_w": kw, "C_A0": ca0 * (1.0 + d[0]), "T_in": t_in + d[1]}
        x = rk4(m, x, u, DT_S / 3600, p, substeps=2)
        xs.append(x)
        us.append(u + rng.normal(0, [0.05, 5.0]))
        ys.append({n: float(x[i] + rng.normal(0, SENSOR_STD[n]))
                   for n, i in (("T_R", 2), ("T_K", 3))})
        if analyser_every and k % analyser_every == 0:
            ys[-1]["C_b"] = float(x[1] + rng.normal(0, 0.02))
        kws.append(kw)
    return Run(np.array(xs), np.array(us), ys, np.array(kws))


def track(est: DelayedEstimator, run: Run,
          on_step: Callable[[int], None] | None = None) -> np.ndarray:
    """Step ``est`` through ``run``; the posterior mean after each step."""
    out = []
    for k in range(len(run.x)):
        est.step(k * DT_S, run.u_meas[k], run.y[k])
        if on_step is not None:
            on_step(k)
        out.append(est.x.copy())
    return np.array(out)


def rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((a - b) ** 2)))
