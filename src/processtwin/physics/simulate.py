"""Numerical helpers over a :class:`ProcessModel`: vectorised RK4 and steady states.

:func:`steady_state` solves f(x, u, p) = 0 with Newton's method on the exact CasADi
Jacobian, damped by Deuflhard's natural monotonicity test: a step Δx = −J(x)⁻¹·f(x) is
accepted with damping λ when the simplified next step J(x)⁻¹·f(x + λΔx) is shorter than
(1 − λ/2)·|Δx|. Both the step and the test are invariant under scaling of equations and
states, which matters for models mixing time constants of seconds and weeks. Convergence:
|Δx_i| ≤ 1e-10·(|x_i| + scale_i) for every state. MINPACK's hybrid method is the fallback.

Source: P. Deuflhard, *Newton Methods for Nonlinear Problems*, Springer 2004, section 3.3
(the NLEQ-ERR global Newton method).

Example:
    >>> import numpy as np
    >>> from processtwin.physics.cstr import van_de_vusse
    >>> m = van_de_vusse()
    >>> xs = steady_state(m, m.u0)
    >>> bool(np.allclose(m.f(xs, m.u0), 0, atol=1e-6))
    True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import root

from processtwin.errors import SolverError
from processtwin.physics.model import ProcessModel

__all__ = ["newton", "rk4", "steady_state"]

F64 = npt.NDArray[np.float64]


def rk4(
    model: ProcessModel,
    x: npt.ArrayLike,
    u: npt.ArrayLike,
    dt: float,
    p: Mapping[str, Any] | None = None,
    substeps: int = 1,
) -> F64:
    """Advance ``x`` (..., nx) by ``dt`` model time units with classic RK4, vectorised."""
    xa = np.asarray(x, dtype=np.float64)
    h = dt / substeps
    for _ in range(substeps):
        k1 = model.f(xa, u, p)
        k2 = model.f(xa + 0.5 * h * k1, u, p)
        k3 = model.f(xa + 0.5 * h * k2, u, p)
        k4 = model.f(xa + h * k3, u, p)
        xa = xa + (h / 6.0) * (k1 + 2 * k2 + 2 * k3 + k4)
    return xa


def newton(
    fun: Callable[[F64], F64],
    jac: Callable[[F64], F64],
    x0: F64,
    scale: F64,
    *,
    tol: float = 1e-10,
    max_iter: int = 50,
) -> F64 | None:
    """Damped Newton (Deuflhard's monotonicity test) for a square system; None if it fails."""
    x = np.array(x0, dtype=np.float64)
    lam = 1.0
    for _ in range(max_iter):
        fx = fun(x)
        if not np.all(np.isfinite(fx)):
            return None
        j = jac(x)
        try:
            dx = np.linalg.solve(j, -fx)
        except np.linalg.LinAlgError:
            return None
        if not np.all(np.isfinite(dx)):
            return None
        if np.all(np.abs(dx) <= tol * (np.abs(x) + scale)):
            return x + dx
        norm = float(np.linalg.norm(dx / (np.abs(x) + scale)))
        lam = min(1.0, 2.0 * lam)
        while True:
            xt = x + lam * dx
            ft = fun(xt)
            if np.all(np.isfinite(ft)):
                dxs = np.linalg.solve(j, -ft)
                if float(np.linalg.norm(dxs / (np.abs(x) + scale))) <= (1 - lam / 2) * norm:
                    break
            lam /= 2.0
            if lam < 1e-8:
                return None
        x = xt
    return None


def steady_state(
    model: ProcessModel,
    u: npt.ArrayLike,
    p: Mapping[str, float] | None = None,
    guess: npt.ArrayLike | None = None,
) -> F64:
    """Solve f(x, u) = 0 for one steady state near ``guess`` (default: the nominal state)."""
    pv = model.param_vector(p)
    ua = np.asarray(u, dtype=np.float64)
    jac = model._jac_fn

    def fun(x: F64) -> F64:
        return model.f(x, ua, p)

    def dfun(x: F64) -> F64:
        return np.array(jac(x, ua, pv))

    x0 = model.x0 if guess is None else np.asarray(guess, dtype=np.float64)
    x = newton(fun, dfun, x0, model.x_scale)
    if x is not None:
        return x
    sol = root(fun, x0, jac=dfun, method="hybr", options={"xtol": 1e-12})
    if not sol.success or not np.all(np.isfinite(sol.x)):
        raise SolverError(f"{model.name}: steady state not found: {sol.message}")
    return np.asarray(sol.x, dtype=np.float64)
