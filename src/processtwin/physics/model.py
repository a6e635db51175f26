"""One frozen process-model definition, used by simulator, estimators and optimisers.

A :class:`ProcessModel` declares its states, inputs, parameters and measured outputs, each
with a unit and bounds, and a right-hand side written **once** as a function of a math
namespace ``m``. Passing NumPy evaluates it vectorised over a batch of scenarios; passing
CasADi builds a symbolic expression with exact Jacobians.

Example:
    >>> import numpy as np
    >>> from processtwin.physics.cstr import van_de_vusse
    >>> model = van_de_vusse()
    >>> model.f(np.array([model.x0, model.x0]), model.u0).shape
    (2, 4)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any

import casadi
import numpy as np
import numpy.typing as npt

from processtwin.errors import ModelDefinitionError

__all__ = ["ProcessModel", "Var"]

F64 = npt.NDArray[np.float64]
# rhs(m, x, u, p) -> tuple of derivatives; x, u are tuples of components; p a mapping.
Rhs = Callable[[Any, Sequence[Any], Sequence[Any], Mapping[str, Any]], Sequence[Any]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Var:
    """A named model variable with unit, bounds and a nominal value."""

    name: str
    unit: str
    nominal: float
    lo: float = -np.inf
    hi: float = np.inf
    description: str = ""


@dataclass(frozen=True, kw_only=True)
class ProcessModel:
    """A frozen process model. Time is in ``time_unit`` (``"h"`` or ``"s"``).

    ``outputs`` names the measured outputs; each is a state or input name (the common case
    for process sensors). ``rhs`` is written once for NumPy and CasADi.
    """

    name: str
    states: tuple[Var, ...]
    inputs: tuple[Var, ...]
    params: tuple[Var, ...]
    rhs: Rhs
    outputs: tuple[str, ...] = ()
    time_unit: str = "h"
    description: str = ""
    _p: Mapping[str, float] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "_p", MappingProxyType({v.name: v.nominal for v in self.params})
        )
        self._validate()

    # ------------------------------------------------------------------ names & shapes
    @property
    def nx(self) -> int:
        return len(self.states)

    @property
    def nu(self) -> int:
        return len(self.inputs)

    @property
    def state_names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.states)

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.inputs)

    @property
    def x0(self) -> F64:
        return np.array([v.nominal for v in self.states])

    @property
    def u0(self) -> F64:
        return np.array([v.nominal for v in self.inputs])

    @property
    def nominal_params(self) -> Mapping[str, float]:
        return self._p

    @property
    def seconds_per_time_unit(self) -> float:
        return {"h": 3600.0, "min": 60.0, "s": 1.0}[self.time_unit]

    def params_with(self, overrides: Mapping[str, float] | None) -> dict[str, float]:
        p = dict(self._p)
        if overrides:
            unknown = set(overrides) - set(p)
            if unknown:
                raise ModelDefinitionError(f"{self.name}: unknown parameters {sorted(unknown)}")
            p.update(overrides)
        return p

    # ------------------------------------------------------------------ numeric
    def f(
        self, x: npt.ArrayLike, u: npt.ArrayLike, p: Mapping[str, Any] | None = None
    ) -> F64:
        """dx/dt, vectorised: ``x`` is (..., nx), ``u`` (..., nu); parameters may be arrays."""
        xa = np.asarray(x, dtype=np.float64)
        ua = np.asarray(u, dtype=np.float64)
        pp = self.params_with(p)
        xs = [xa[..., i] for i in range(self.nx)]
        us = [ua[..., i] for i in range(self.nu)]
        out = self.rhs(np, xs, us, pp)
        shape = np.broadcast_shapes(xa.shape[:-1], ua.shape[:-1])
        return np.stack([np.broadcast_to(np.asarray(d, dtype=np.float64), shape) for d in out],
                        axis=-1)

    def output_index(self, name: str) -> tuple[str, int]:
        """Where a measured output lives: ('x', i) for a state, ('u', i) for an input."""
        if name in self.state_names:
            return "x", self.state_names.index(name)
        if name in self.input_names:
            return "u", self.input_names.index(name)
        raise ModelDefinitionError(f"{self.name}: unknown output {name!r}")

    # ------------------------------------------------------------------ symbolic
    @cached_property
    def casadi_rhs(self) -> casadi.Function:
        """CasADi ``f(x, u, p) -> dx`` with ``p`` ordered as :attr:`params`."""
        x = casadi.SX.sym("x", self.nx)
        u = casadi.SX.sym("u", self.nu)
        p = casadi.SX.sym("p", len(self.params))
        pm = {v.name: p[i] for i, v in enumerate(self.params)}
        dx = self.rhs(casadi, [x[i] for i in range(self.nx)], [u[i] for i in range(self.nu)], pm)
        return casadi.Function("f", [x, u, p], [casadi.vertcat(*dx)], ["x", "u", "p"], ["dx"])

    def param_vector(self, p: Mapping[str, float] | None = None) -> F64:
        pp = self.params_with(p)
        return np.array([pp[v.name] for v in self.params])

    def jacobian(self, x: npt.ArrayLike, u: npt.ArrayLike,
                 p: Mapping[str, float] | None = None) -> F64:
        """Exact df/dx at one point, from CasADi."""
        jac = self._jac_fn
        return np.array(jac(np.asarray(x, float), np.asarray(u, float), self.param_vector(p)))

    @cached_property
    def _jac_fn(self) -> casadi.Function:
        x = casadi.SX.sym("x", self.nx)
        u = casadi.SX.sym("u", self.nu)
        p = casadi.SX.sym("p", len(self.params))
        dx = self.casadi_rhs(x, u, p)
        return casadi.Function("dfdx", [x, u, p], [casadi.jacobian(dx, x)])

    def steady_state(self, u: npt.ArrayLike, p: Mapping[str, float] | None = None,
                     guess: npt.ArrayLike | None = None) -> F64:
        """Solve f(x, u) = 0 near ``guess`` (see :func:`~processtwin.physics.steady_state`)."""
        from processtwin.physics.simulate import steady_state

        return steady_state(self, u, p, guess)

    # ------------------------------------------------------------------ self-check
    def _validate(self) -> None:
        problems: list[str] = []
        names = [v.name for v in (*self.states, *self.inputs, *self.params)]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            problems.append(f"duplicate names {sorted(dup)}")
        if self.time_unit not in ("h", "min", "s"):
            problems.append(f"time_unit must be h, min or s, not {self.time_unit!r}")
        for v in (*self.states, *self.inputs):
            if not v.lo <= v.nominal <= v.hi:
                problems.append(f"{v.name}: nominal {v.nominal} outside [{v.lo}, {v.hi}]")
        for o in self.outputs:
            if o not in names[: self.nx + self.nu]:
                problems.append(f"output {o!r} is neither a state nor an input")
        if problems:
            raise ModelDefinitionError(f"{self.name}: " + "; ".join(problems))
        dx = self.f(self.x0, self.u0)
        if dx.shape != (self.nx,) or not np.all(np.isfinite(dx)):
            raise ModelDefinitionError(f"{self.name}: rhs not finite at the nominal point: {dx}")
        jac = self.jacobian(self.x0, self.u0)
        if not np.all(np.isfinite(jac)):
            raise ModelDefinitionError(f"{self.name}: Jacobian not finite at the nominal point")
