"""Dormand–Prince 5(4), vectorised over scenarios, each with its own step size.

The explicit Runge–Kutta pair of order 5 with an embedded order-4 error estimate, first
same as last (the last stage is the next step's first), local extrapolation, and Shampine's
continuous extension of order 4 for dense output::

    k_s = f(y + h·Σ_j a_sj·k_j),  s = 1..7
    y_{n+1} = y_n + h·Σ_s b_s·k_s,           error estimate h·Σ_s e_s·k_s
    y(t_n + θh) = y_n + h·Σ_s k_s·Σ_{m=1..4} P_sm·θ^m

Every scenario steps at each iteration with its own h; a rejected scenario retries with a
smaller step while the others advance. Output times between t_n and t_{n+1} are
interpolated, so output spacing never limits the step.

Sources: J. R. Dormand and P. J. Prince, "A family of embedded Runge–Kutta formulae",
J. Comput. Appl. Math. 6 (1980) 19–26; L. F. Shampine, "Some practical Runge–Kutta
formulas", Math. Comp. 46 (1986) 135–150 (the dense-output coefficients, as in SciPy's
RK45); step control after Hairer, Nørsett & Wanner, *Solving ODEs I*, II.4.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from processtwin.physics.solvers.core import (
    ActiveSet,
    BatchRhs,
    OutputGrid,
    error_norm,
    initial_step,
    step_factor,
)

__all__ = ["dopri5"]

F64 = npt.NDArray[np.float64]

C = np.array([0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1])
A = [
    np.array([]),
    np.array([1 / 5]),
    np.array([3 / 40, 9 / 40]),
    np.array([44 / 45, -56 / 15, 32 / 9]),
    np.array([19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729]),
    np.array([9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656]),
]
B = np.array([35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84])
E = np.array([-71 / 57600, 0, 71 / 16695, -71 / 1920, 17253 / 339200, -22 / 525, 1 / 40])
P = np.array([
    [1, -8048581381 / 2820520608, 8663915743 / 2820520608, -12715105075 / 11282082432],
    [0, 0, 0, 0],
    [0, 131558114200 / 32700410799, -68118460800 / 10900136933,
     87487479700 / 32700410799],
    [0, -1754552775 / 470086768, 14199869525 / 1410260304, -10690763975 / 1880347072],
    [0, 127303824393 / 49829197408, -318862633887 / 49829197408,
     701980252875 / 199316789632],
    [0, -282668133 / 205662961, 2019193451 / 616988883, -1453857185 / 822651844],
    [0, 40617522 / 29380423, -110615467 / 29380423, 69997945 / 29380423],
])


def _combine(w: F64, k: list[F64]) -> F64:
    out: F64 = w[0] * k[0]
    for j in range(1, len(w)):
        if w[j] != 0.0:
            out += w[j] * k[j]
    return out


def dopri5(rhs: BatchRhs, x0: F64, grid: OutputGrid, *, rtol: float, atol: F64,
           max_step: float, max_steps: int) -> ActiveSet:
    """Integrate ``x0`` (nx, N) over ``grid.t``, writing the outputs into ``grid``."""
    t = grid.t
    act = ActiveSet(x0.shape[1], float(t[0]), float(t[-1]))
    grid.x[:, 0, :] = x0.T
    if t[-1] <= t[0]:
        return act
    y = np.array(x0, dtype=np.float64)
    k1 = rhs.f(y)
    h = np.minimum(initial_step(rhs, y, k1, 5, rtol, atol, float(t[-1] - t[0])), max_step)
    while act.gidx.size:
        h = act.clip(np.minimum(h, max_step))
        act.check(h, max_steps, "dopri5")
        k = [k1]
        for s in range(1, 6):
            k.append(rhs.f(y + h * _combine(A[s], k)))
        y_new = y + h * _combine(B, k)
        k7 = rhs.f(y_new)
        k.append(k7)
        err = error_norm(h * _combine(E, k), y, y_new, rtol, atol)
        acc = err <= 1.0
        act.record(acc)
        t_new = act.t + h
        if np.any(acc):
            ka = [kk[:, acc] for kk in k]
            ha = h[acc]
            coef = np.stack([_combine(P[:, m], ka) * ha for m in range(4)])
            grid.write(act.gidx[acc], act.t[acc], ha, t_new[acc], y[:, acc], coef)
            act.t = np.where(acc, t_new, act.t)
            y = np.where(acc, y_new, y)
            k1 = np.where(acc, k7, k1)
        h = h * step_factor(err, 5.0, acc)
        done = acc & (act.t >= act.t_end)
        if np.any(done):
            keep = ~done
            y, k1, h = y[:, keep], k1[:, keep], h[keep]
            act.t, act.gidx = act.t[keep], act.gidx[keep]
            rhs.select(act.gidx)
    return act
