"""Batch simulation: N scenarios of one model integrated at once.

``simulate(model, scenarios, t, method=...)`` integrates every scenario from ``t[0]`` to
``t[-1]`` (model time units) and returns the states at every time in ``t``, shaped
(N, T, nx). The inputs are held constant per scenario. Methods:

``"dopri5"`` (default)
    Dormand–Prince 5(4), adaptive per scenario, dense output of order 4. For non-stiff
    models; the step follows the dynamics, not the output spacing.
``"ros23"``
    Rosenbrock 2(3) of Shampine & Reichelt (MATLAB's ode23s), L-stable, linearly implicit
    with the exact CasADi Jacobian evaluated for all scenarios at once, adaptive per
    scenario, dense output of order 2. For stiff models (fast thermal modes with slow
    fouling, wide ranges of time constants).
``"rk4"``
    Classic RK4 with a fixed step ``dt`` shared by all scenarios, cubic Hermite dense output.

Accuracy: ``rtol`` and ``atol`` (per state; by default ``rtol`` times
:attr:`~processtwin.physics.model.ProcessModel.x_scale`) bound the local error per step, as
in SciPy's ``solve_ivp``. Scenarios never interact: each has its own step sequence, and a
scenario's result does not depend on which others share its batch (bit for bit with
``dopri5`` and ``rk4``; ``ros23``'s batched linear algebra may differ in the last bit).

Cost: the states at the output times, N·T·nx values, are written from each step's
interpolating polynomial by a compiled kernel when numba is installed (several times faster
than the NumPy kernel, see ``bench/bench_sim.py``); the right-hand side is evaluated once
per stage for all running scenarios, in NumPy.

Example:
    >>> import numpy as np
    >>> from processtwin.physics.cstr import van_de_vusse
    >>> m = van_de_vusse()
    >>> s = Scenarios.of(m, n=2, u=[[18.83, -4495.7], [14.19, -1113.5]])
    >>> tr = simulate(m, s, np.linspace(0.0, 0.5, 31))
    >>> tr.x.shape
    (2, 31, 4)
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

from processtwin.errors import InvalidInputError
from processtwin.physics.model import ProcessModel
from processtwin.physics.scenarios import Scenarios, Trajectory
from processtwin.physics.solvers.core import BatchRhs, OutputGrid, atol_vector, check_grid
from processtwin.physics.solvers.dense import have_numba
from processtwin.physics.solvers.dopri5 import dopri5
from processtwin.physics.solvers.rk4 import rk4_fixed
from processtwin.physics.solvers.ros23 import ros23

__all__ = ["METHODS", "Method", "simulate"]

Method = Literal["dopri5", "ros23", "rk4"]
METHODS: tuple[Method, ...] = ("dopri5", "ros23", "rk4")


def simulate(
    model: ProcessModel,
    scenarios: Scenarios,
    t: npt.ArrayLike,
    *,
    method: Method = "dopri5",
    rtol: float = 1e-6,
    atol: float | npt.ArrayLike | None = None,
    dt: float | None = None,
    max_step: float = np.inf,
    max_steps: int = 1_000_000,
    dtype: npt.DTypeLike = np.float64,
    accelerate: bool | None = None,
) -> Trajectory:
    """Integrate every scenario over the output times ``t`` (see the module docstring).

    ``dt`` is the fixed step of ``rk4`` (required there, ignored otherwise); ``max_step``
    caps the adaptive step; ``dtype`` of the stored states (float32 halves the memory);
    ``accelerate`` uses the numba dense-output kernel (default: when numba is installed).
    Raises :class:`~processtwin.errors.SolverError` when a step size underflows or a
    scenario needs more than ``max_steps`` steps.
    """
    ta = np.asarray(t, dtype=np.float64)
    check_grid(ta)
    if scenarios.x0.shape[1:] != (model.nx,) or scenarios.u.shape[1:] != (model.nu,):
        raise InvalidInputError(f"scenarios do not fit {model.name} "
                                f"(x0 {scenarios.x0.shape}, u {scenarios.u.shape})")
    if not 0 < rtol < 1:
        raise InvalidInputError(f"rtol must be in (0, 1), got {rtol}")
    rhs = BatchRhs(model, scenarios)
    grid = OutputGrid(ta, scenarios.n, model.nx, dtype,
                      have_numba() if accelerate is None else accelerate)
    x0 = np.ascontiguousarray(scenarios.x0.T)
    if method == "rk4" and (dt is None or not dt > 0):
        raise InvalidInputError("rk4 needs a positive fixed step dt")
    if method not in METHODS:
        raise InvalidInputError(f"unknown method {method!r}; choose one of {METHODS}")
    # trial stages of rejected steps may overflow; the error norm rejects them
    with np.errstate(all="ignore"):
        if method == "rk4":
            act = rk4_fixed(rhs, x0, grid, dt=float(dt))  # type: ignore[arg-type]
        else:
            solver = dopri5 if method == "dopri5" else ros23
            act = solver(rhs, x0, grid, rtol=rtol, atol=atol_vector(model, rtol, atol),
                         max_step=max_step, max_steps=max_steps)
    return Trajectory(t=ta, x=grid.x, method=method, n_steps=act.n_steps,
                      n_rejected=act.n_rejected, n_rhs=rhs.n_rhs, n_jac=rhs.n_jac)
