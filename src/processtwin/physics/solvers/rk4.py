"""Classic fourth-order Runge–Kutta with a fixed step, vectorised over scenarios.

All scenarios share the step grid t_0, t_0 + dt, ... (the last step ends on the final
output time). Between steps the states are interpolated by the cubic Hermite polynomial
through y_n, y_{n+1} and their derivatives f_n, f_{n+1} (third order, and f_{n+1} is the
next step's first stage, so it costs nothing)::

    y(t_n + θh) = (2θ³ − 3θ² + 1)·y_n + (θ³ − 2θ² + θ)·h·f_n
                + (−2θ³ + 3θ²)·y_{n+1} + (θ³ − θ²)·h·f_{n+1}
                = y_n + θ·h·f_n + θ²·(3Δ − h·(2f_n + f_{n+1})) + θ³·(h·(f_n + f_{n+1}) − 2Δ),
    Δ = y_{n+1} − y_n

Source: E. Hairer, S. P. Nørsett, G. Wanner, *Solving Ordinary Differential Equations I*,
2nd ed., Springer 1993, II.1 (RK4) and II.6 (Hermite interpolation, eq. 6.7).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from processtwin.physics.solvers.core import ActiveSet, BatchRhs, OutputGrid

__all__ = ["rk4_fixed"]

F64 = npt.NDArray[np.float64]


def rk4_fixed(rhs: BatchRhs, x0: F64, grid: OutputGrid, *, dt: float) -> ActiveSet:
    """Integrate ``x0`` (nx, N) over ``grid.t`` with steps of ``dt``."""
    t = grid.t
    n = x0.shape[1]
    act = ActiveSet(n, float(t[0]), float(t[-1]))
    grid.x[:, 0, :] = x0.T
    y = np.array(x0, dtype=np.float64)
    f0 = rhs.f(y)
    t_now = float(t[0])
    everyone = np.arange(n)
    steps = 0
    while t_now < act.t_end:
        steps += 1
        h = min(dt, act.t_end - t_now)
        if act.t_end - (t_now + h) < 1e-12 * max(abs(act.t_end), 1.0):
            h = act.t_end - t_now
        k2 = rhs.f(y + 0.5 * h * f0)
        k3 = rhs.f(y + 0.5 * h * k2)
        k4 = rhs.f(y + h * k3)
        y_new = y + (h / 6.0) * (f0 + 2.0 * k2 + 2.0 * k3 + k4)
        f1 = rhs.f(y_new)

        coef = np.stack([h * f0, 3.0 * (y_new - y) - h * (2.0 * f0 + f1),
                         2.0 * (y - y_new) + h * (f0 + f1)])
        t_new = t_now + h
        grid.write(everyone, np.full(n, t_now), np.full(n, h), np.full(n, t_new), y, coef)
        y, f0, t_now = y_new, f1, t_new
    act.n_steps[:] = steps
    return act
