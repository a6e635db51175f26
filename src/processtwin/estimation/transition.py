"""The discrete transition every estimator shares: classic RK4 over the model's CasADi rhs.

For a step of ``dt`` model time units split into ``s`` substeps of ``h = dt/s``::

    k1 = f(x, u, p)            k2 = f(x + h/2·k1, u, p)
    k3 = f(x + h/2·k2, u, p)   k4 = f(x + h·k3, u, p)
    x⁺ = x + h/6·(k1 + 2k2 + 2k3 + k4)

(Hairer, Nørsett & Wanner, *Solving ODEs I*, §II.1). ``dt = 0`` is the identity, which the
moving-horizon estimator uses for padding intervals. The input ``u`` is held constant over
the step (zero-order hold), as a sampled plant delivers it.

Example:
    >>> import numpy as np
    >>> from processtwin.physics.cstr import van_de_vusse
    >>> m = van_de_vusse()
    >>> step = rk4_function(m, substeps=2)
    >>> xn = np.array(step(m.x0, m.u0, m.param_vector(), 0.0)).ravel()
    >>> bool(np.allclose(xn, m.x0))
    True
"""

from __future__ import annotations

from typing import Any

import casadi

from processtwin.errors import InvalidInputError
from processtwin.physics.model import ProcessModel

__all__ = ["rk4_expr", "rk4_function"]


def rk4_expr(model: ProcessModel, x: Any, u: Any, p: Any, dt: Any, substeps: int) -> Any:
    """The symbolic RK4 step ``x⁺(x, u, p, dt)`` (CasADi SX or MX)."""
    if substeps < 1:
        raise InvalidInputError(f"RK4: substeps must be >= 1, not {substeps}")
    f = model.casadi_rhs
    h = dt / substeps
    xk = x
    for _ in range(substeps):
        k1 = f(xk, u, p)
        k2 = f(xk + 0.5 * h * k1, u, p)
        k3 = f(xk + 0.5 * h * k2, u, p)
        k4 = f(xk + h * k3, u, p)
        xk = xk + (h / 6.0) * (k1 + 2 * k2 + 2 * k3 + k4)
    return xk


def rk4_function(model: ProcessModel, substeps: int, *, jacobian: bool = False
                 ) -> casadi.Function:
    """``F(x, u, p, dt) -> xn`` (and ``A = ∂xn/∂x`` if ``jacobian``), ``p`` as
    :meth:`ProcessModel.param_vector`."""
    x = casadi.SX.sym("x", model.nx)
    u = casadi.SX.sym("u", model.nu)
    p = casadi.SX.sym("p", len(model.params))
    dt = casadi.SX.sym("dt")
    xn = rk4_expr(model, x, u, p, dt, substeps)
    if jacobian:
        return casadi.Function("rk4_jac", [x, u, p, dt], [xn, casadi.jacobian(xn, x)],
                               ["x", "u", "p", "dt"], ["xn", "A"])
    return casadi.Function("rk4", [x, u, p, dt], [xn], ["x", "u", "p", "dt"], ["xn"])
