"""Numerical helpers over a :class:`ProcessModel`: vectorised RK4 and steady states.

Example:
    >>> import numpy as np
    >>> from processtwin.physics.cstr import van_de_vusse
    >>> m = van_de_vusse()
    >>> xs = steady_state(m, m.u0)
    >>> bool(np.allclose(m.f(xs, m.u0), 0, atol=1e-6))
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import root

from processtwin.errors import SolverError
from processtwin.physics.model import ProcessModel

__all__ = ["rk4", "steady_state"]

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
    sol = root(fun, x0, jac=dfun, method="hybr", options={"xtol": 1e-12})
    if not sol.success or not np.all(np.isfinite(sol.x)):
        raise SolverError(f"{model.name}: steady state not found: {sol.message}")
    return np.asarray(sol.x, dtype=np.float64)
