"""Simulated trajectories with exact sensitivities to parameters and the initial state.

On a sample grid ``t₀ < t₁ < … < t_{K−1}`` with inputs held over each interval, the RK4
transition is chained with CasADi's ``mapaccum`` and differentiated by algorithmic
differentiation (forward mode over ``n_θ + n_x`` directions)::

    x_{k+1} = F(x_k, u_k, p(θ), t_{k+1} − t_k)
    S_θ = ∂(x₀, …, x_{K−1})/∂θ       S_x = ∂(x₀, …, x_{K−1})/∂x₀

``p(θ)`` is the model's parameter vector with the free entries ``θ`` substituted. These are
the forward sensitivities of the discretised model (the "internal numerical
differentiation" of Bock 1983), so they are exact for the discrete trajectory, unlike
finite differences. Used by :mod:`~processtwin.estimation.paramest` (Jacobians of the
weighted residuals) and :mod:`~processtwin.estimation.observability` (Gramians).

Example:
    >>> import numpy as np
    >>> from processtwin.physics.cstr import van_de_vusse
    >>> m = van_de_vusse()
    >>> traj = Trajectory(m, ["K_w"], n_samples=3)
    >>> x, s_th, s_x0 = traj.sensitivities(m.x0, [4032.0], np.tile(m.u0, (2, 1)),
    ...                                    np.full(2, 0.01))
    >>> x.shape, s_th.shape, s_x0.shape
    ((3, 4), (3, 4, 1), (3, 4, 4))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import casadi
import numpy as np
import numpy.typing as npt

from processtwin.errors import InvalidInputError
from processtwin.estimation.transition import rk4_function
from processtwin.physics.model import ProcessModel

__all__ = ["Trajectory"]

F64 = npt.NDArray[np.float64]


class Trajectory:
    """``n_samples`` states of ``model`` from ``x₀``, with sensitivities to ``free`` params."""

    def __init__(self, model: ProcessModel, free: Sequence[str], n_samples: int,
                 substeps: int = 2, params: Mapping[str, float] | None = None) -> None:
        if n_samples < 2:
            raise InvalidInputError("Trajectory: need at least 2 samples")
        names = [v.name for v in model.params]
        unknown = [n for n in free if n not in names]
        if unknown or len(set(free)) != len(free):
            raise InvalidInputError(f"Trajectory: free parameters must be distinct parameters "
                                    f"of {model.name}; unknown {unknown}")
        self.model = model
        self.free = tuple(free)
        self.n_samples = n_samples
        self._p = model.param_vector(params)
        nx, nu, k = model.nx, model.nu, n_samples - 1
        x0 = casadi.MX.sym("x0", nx)
        th = casadi.MX.sym("th", len(self.free))
        u = casadi.MX.sym("u", nu, k)
        dt = casadi.MX.sym("dt", 1, k)
        pf = casadi.MX.sym("p", len(names))
        p = casadi.vertcat(*[th[self.free.index(n)] if n in self.free else pf[i]
                             for i, n in enumerate(names)])
        step = rk4_function(model, substeps).mapaccum(k)
        xs = casadi.horzcat(x0, step(x0, u, p, dt))
        flat = casadi.vec(xs)
        self._sim = casadi.Function("traj", [x0, th, u, dt, pf], [xs])
        self._sens = casadi.Function(
            "traj_sens", [x0, th, u, dt, pf],
            [xs, casadi.jacobian(flat, th), casadi.jacobian(flat, x0)])

    def _args(self, x0: npt.ArrayLike, theta: npt.ArrayLike, u: npt.ArrayLike,
              dt: npt.ArrayLike) -> tuple[F64, F64, F64, F64, F64]:
        k = self.n_samples - 1
        ua = np.asarray(u, dtype=np.float64)
        if ua.ndim == 1:
            ua = np.tile(ua, (k, 1))
        dta = np.broadcast_to(np.asarray(dt, dtype=np.float64), (k,))
        if ua.shape != (k, self.model.nu):
            raise InvalidInputError(f"Trajectory: u must be ({k}, {self.model.nu}), "
                                    f"not {ua.shape}")
        return (np.asarray(x0, dtype=np.float64), np.asarray(theta, dtype=np.float64),
                ua.T, dta[None, :], self._p)

    def simulate(self, x0: npt.ArrayLike, theta: npt.ArrayLike, u: npt.ArrayLike,
                 dt: npt.ArrayLike) -> F64:
        """States ``(K, nx)``; ``u`` is ``(K−1, nu)`` (or one row held), ``dt`` per interval."""
        return np.array(self._sim(*self._args(x0, theta, u, dt))).T

    def sensitivities(self, x0: npt.ArrayLike, theta: npt.ArrayLike, u: npt.ArrayLike,
                      dt: npt.ArrayLike) -> tuple[F64, F64, F64]:
        """States ``(K, nx)``, ``∂x/∂θ`` ``(K, nx, nθ)`` and ``∂x/∂x₀`` ``(K, nx, nx)``."""
        xs, s_th, s_x = self._sens(*self._args(x0, theta, u, dt))
        kk, nx = self.n_samples, self.model.nx
        return (np.array(xs).T, np.array(s_th).reshape(kk, nx, len(self.free)),
                np.array(s_x).reshape(kk, nx, nx))
