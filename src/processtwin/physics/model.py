"""One frozen process-model definition, used by simulator, estimators and optimisers.

A :class:`ProcessModel` declares its states ``x``, inputs ``u``, parameters ``p``, algebraic
outputs ``z`` and measured outputs ``y``, each with a unit and bounds, and its equations
written **once** as functions of a math namespace ``m``::

    dx/dt = rhs(m, x, u, p)        z = alg(m, x, u, p)        y ⊂ x ∪ u ∪ z

Passing NumPy evaluates them vectorised over a batch of scenarios (every component an array
of shape (N,), parameters scalars or arrays broadcastable to (N,)); passing CasADi builds
symbolic expressions with exact Jacobians; passing :class:`~processtwin.physics.dimcheck.
DimMath` computes units instead of values. The namespace offers ``exp log sqrt tanh sin cos
fabs fmax fmin``.

Building a model checks it: names unique, nominal values inside their bounds, every
derivative in *state unit / time unit* and every algebraic output in its declared unit
(:class:`~processtwin.errors.UnitError` lists every mismatch), and, at the nominal point, a
finite right-hand side, finite algebraic outputs and a finite Jacobian
(:class:`~processtwin.errors.ModelDefinitionError`).

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

from processtwin.errors import ModelDefinitionError, UnitError
from processtwin.physics.dimcheck import check_equations
from processtwin.pipeline.units import parse_unit

__all__ = ["ProcessModel", "Rhs", "Var"]

F64 = npt.NDArray[np.float64]
#: ``rhs(m, x, u, p)`` -> derivatives (or algebraic outputs); x, u sequences, p a mapping.
Rhs = Callable[[Any, Sequence[Any], Sequence[Any], Mapping[str, Any]], Sequence[Any]]

_TIME = parse_unit("s").dim


@dataclass(frozen=True, slots=True, kw_only=True)
class Var:
    """A named model variable with unit, bounds and a nominal value."""

    name: str
    unit: str
    nominal: float
    lo: float = -np.inf
    hi: float = np.inf
    description: str = ""


@dataclass(frozen=True, kw_only=True, eq=False)
class ProcessModel:
    """A frozen process model. Time is in ``time_unit`` (``s``, ``min``, ``h`` or ``d``).

    ``algebraic`` declares the outputs ``alg`` computes (flows, duties, efficiencies...);
    ``outputs`` names the measured outputs, each a state, an input or an algebraic output.
    """

    name: str
    states: tuple[Var, ...]
    inputs: tuple[Var, ...]
    params: tuple[Var, ...]
    rhs: Rhs
    algebraic: tuple[Var, ...] = ()
    alg: Rhs | None = None
    outputs: tuple[str, ...] = ()
    time_unit: str = "h"
    description: str = ""
    _p: Mapping[str, float] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "_p", MappingProxyType({v.name: v.nominal for v in self.params})
        )
        self._validate()

    def __getstate__(self) -> dict[str, Any]:
        # compiled CasADi functions and generated code are rebuilt on demand, not pickled
        state = dict(self.__dict__)
        state = {k: v for k, v in state.items() if k in _FIELDS}
        state["_p"] = dict(self._p)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        state["_p"] = MappingProxyType(state["_p"])
        self.__dict__.update(state)

    # ------------------------------------------------------------------ names & shapes
    @property
    def nx(self) -> int:
        return len(self.states)

    @property
    def nu(self) -> int:
        return len(self.inputs)

    @property
    def nz(self) -> int:
        """Number of algebraic outputs."""
        return len(self.algebraic)

    @property
    def state_names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.states)

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.inputs)

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.params)

    @property
    def algebraic_names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.algebraic)

    @property
    def x0(self) -> F64:
        return np.array([v.nominal for v in self.states])

    @property
    def u0(self) -> F64:
        return np.array([v.nominal for v in self.inputs])

    @property
    def x_scale(self) -> F64:
        """A typical magnitude per state: max(|nominal|, 1e-3·(hi − lo) when finite, 1e-9).

        Default absolute tolerances and convergence tests are relative to it.
        """
        out = []
        for v in self.states:
            span = v.hi - v.lo
            out.append(max(abs(v.nominal), 1e-3 * span if np.isfinite(span) else 0.0, 1e-9))
        return np.array(out)

    @property
    def nominal_params(self) -> Mapping[str, float]:
        return self._p

    @property
    def seconds_per_time_unit(self) -> float:
        return parse_unit(self.time_unit).scale

    def var(self, name: str) -> Var:
        """The declaration of a state, input, parameter or algebraic output by name."""
        for v in (*self.states, *self.inputs, *self.params, *self.algebraic):
            if v.name == name:
                return v
        raise ModelDefinitionError(f"{self.name}: no variable {name!r}")

    def params_with(self, overrides: Mapping[str, Any] | None) -> dict[str, Any]:
        """Nominal parameters updated by ``overrides`` (values may be arrays per scenario)."""
        p: dict[str, Any] = dict(self._p)
        if overrides:
            unknown = set(overrides) - set(p)
            if unknown:
                raise ModelDefinitionError(f"{self.name}: unknown parameters {sorted(unknown)}")
            p.update(overrides)
        return p

    def param_vector(self, p: Mapping[str, float] | None = None) -> F64:
        pp = self.params_with(p)
        return np.array([pp[v.name] for v in self.params], dtype=np.float64)

    # ------------------------------------------------------------------ numeric
    def f(
        self, x: npt.ArrayLike, u: npt.ArrayLike, p: Mapping[str, Any] | None = None
    ) -> F64:
        """dx/dt, vectorised: ``x`` is (..., nx), ``u`` (..., nu); parameters may be arrays."""
        return self._eval_last(self.rhs, self.nx, x, u, p)

    def z(
        self, x: npt.ArrayLike, u: npt.ArrayLike, p: Mapping[str, Any] | None = None
    ) -> F64:
        """Algebraic outputs (..., nz), vectorised like :meth:`f`."""
        if self.alg is None:
            shape = np.broadcast_shapes(np.shape(x)[:-1], np.shape(u)[:-1])
            return np.zeros((*shape, 0))
        return self._eval_last(self.alg, self.nz, x, u, p)

    def y(
        self, x: npt.ArrayLike, u: npt.ArrayLike, p: Mapping[str, Any] | None = None
    ) -> F64:
        """Measured outputs (..., len(outputs)) in the order of :attr:`outputs`."""
        xa = np.asarray(x, dtype=np.float64)
        ua = np.asarray(u, dtype=np.float64)
        shape = np.broadcast_shapes(xa.shape[:-1], ua.shape[:-1])
        zz = self.z(xa, ua, p) if any(self.output_index(o)[0] == "z" for o in self.outputs) \
            else None
        cols = []
        for o in self.outputs:
            kind, i = self.output_index(o)
            src = xa if kind == "x" else ua if kind == "u" else zz
            assert src is not None
            cols.append(np.broadcast_to(src[..., i], shape))
        return np.stack(cols, axis=-1) if cols else np.zeros((*shape, 0))

    def f_soa(self, x: F64, u: F64, p: Mapping[str, Any]) -> F64:
        """dx/dt in struct-of-arrays layout: ``x`` (nx, N), ``u`` (nu, N) or (nu,) -> (nx, N).

        ``p`` must be complete (see :meth:`params_with`); the batch integrators call this.
        """
        out = self.rhs(np, list(x), list(u), p)
        res = np.empty((self.nx, *x.shape[1:]))
        for i, d in enumerate(out):
            res[i] = d
        return res

    def _eval_last(self, fn: Rhs, n: int, x: npt.ArrayLike, u: npt.ArrayLike,
                   p: Mapping[str, Any] | None) -> F64:
        xa = np.asarray(x, dtype=np.float64)
        ua = np.asarray(u, dtype=np.float64)
        pp = self.params_with(p)
        out = [np.asarray(d, dtype=np.float64)
               for d in fn(np, [xa[..., i] for i in range(self.nx)],
                           [ua[..., i] for i in range(self.nu)], pp)]
        shape = np.broadcast_shapes(xa.shape[:-1], ua.shape[:-1], *(d.shape for d in out))
        if len(out) != n:
            raise ModelDefinitionError(f"{self.name}: equations return {len(out)} values, "
                                       f"expected {n}")
        res = np.empty((*shape, n))
        for i, d in enumerate(out):
            res[..., i] = d
        return res

    def output_index(self, name: str) -> tuple[str, int]:
        """Where a measured output lives: ('x', i) state, ('u', i) input, ('z', i) algebraic."""
        for kind, names in (("x", self.state_names), ("u", self.input_names),
                            ("z", self.algebraic_names)):
            if name in names:
                return kind, names.index(name)
        raise ModelDefinitionError(f"{self.name}: unknown output {name!r}")

    # ------------------------------------------------------------------ symbolic
    def _symbols(self) -> tuple[casadi.SX, casadi.SX, casadi.SX, dict[str, casadi.SX]]:
        x = casadi.SX.sym("x", self.nx)
        u = casadi.SX.sym("u", self.nu)
        p = casadi.SX.sym("p", len(self.params))
        return x, u, p, {v.name: p[i] for i, v in enumerate(self.params)}

    @cached_property
    def casadi_rhs(self) -> casadi.Function:
        """CasADi ``f(x, u, p) -> dx`` with ``p`` ordered as :attr:`params`."""
        x, u, p, pm = self._symbols()
        dx = self.rhs(casadi, [x[i] for i in range(self.nx)], [u[i] for i in range(self.nu)], pm)
        return casadi.Function("f", [x, u, p], [casadi.vertcat(*dx)], ["x", "u", "p"], ["dx"])

    @cached_property
    def casadi_alg(self) -> casadi.Function:
        """CasADi ``z(x, u, p) -> z`` (the algebraic outputs; empty when there are none)."""
        x, u, p, pm = self._symbols()
        z: Sequence[Any] = []
        if self.alg is not None:
            z = self.alg(casadi, [x[i] for i in range(self.nx)],
                         [u[i] for i in range(self.nu)], pm)
        zz = casadi.vertcat(*z) if len(z) else casadi.SX(0, 1)
        return casadi.Function("z", [x, u, p], [zz], ["x", "u", "p"], ["z"])

    @cached_property
    def casadi_y(self) -> casadi.Function:
        """CasADi ``y(x, u, p) -> y``, the measured outputs in the order of :attr:`outputs`."""
        x, u, p, _ = self._symbols()
        z = self.casadi_alg(x, u, p)
        parts = {"x": x, "u": u, "z": z}
        ys = [parts[k][i] for k, i in map(self.output_index, self.outputs)]
        yy = casadi.vertcat(*ys) if ys else casadi.SX(0, 1)
        return casadi.Function("y", [x, u, p], [yy], ["x", "u", "p"], ["y"])

    def jacobian(self, x: npt.ArrayLike, u: npt.ArrayLike,
                 p: Mapping[str, float] | None = None) -> F64:
        """Exact df/dx at one point, from CasADi."""
        jac = self._jac_fn
        return np.array(jac(np.asarray(x, float), np.asarray(u, float), self.param_vector(p)))

    @cached_property
    def _jac_fn(self) -> casadi.Function:
        x, u, p, _ = self._symbols()
        dx = self.casadi_rhs(x, u, p)
        return casadi.Function("dfdx", [x, u, p], [casadi.jacobian(dx, x)])

    @cached_property
    def sensitivity_fn(self) -> casadi.Function:
        """CasADi ``(x, u, p) -> (df/dx, df/du, df/dp)``, exact."""
        x, u, p, _ = self._symbols()
        dx = self.casadi_rhs(x, u, p)
        return casadi.Function("dfdxup", [x, u, p], [casadi.jacobian(dx, x),
                               casadi.jacobian(dx, u), casadi.jacobian(dx, p)],
                               ["x", "u", "p"], ["dfdx", "dfdu", "dfdp"])

    @cached_property
    def jacobian_batched(self) -> Callable[[F64, Sequence[Any], Sequence[Any]], F64]:
        """Exact df/dx for N scenarios at once: ``(x (nx, N), u rows, p rows) -> (N, nx, nx)``.

        ``u`` and ``p`` are sequences (ordered as :attr:`inputs` and :attr:`params`) of
        scalars or (N,) arrays. NumPy code generated from the CasADi Jacobian
        (:mod:`processtwin.physics.codegen`).
        """
        from processtwin.physics.codegen import batched

        fn = batched(self._jac_fn)

        def jac(x: F64, u: Sequence[Any], p: Sequence[Any]) -> F64:
            j = fn([x, list(u), list(p)])[0]
            n = x.shape[1] if x.ndim == 2 else 1
            return j if j.shape[0] == n else np.broadcast_to(j, (n, self.nx, self.nx))

        return jac

    def steady_state(self, u: npt.ArrayLike, p: Mapping[str, float] | None = None,
                     guess: npt.ArrayLike | None = None) -> F64:
        """Solve f(x, u) = 0 near ``guess`` (see :func:`~processtwin.physics.steady_state`)."""
        from processtwin.physics.simulate import steady_state

        return steady_state(self, u, p, guess)

    # ------------------------------------------------------------------ self-check
    def _validate(self) -> None:
        problems = self._structure_problems()
        if problems:
            raise ModelDefinitionError(f"{self.name}: " + "; ".join(problems))
        units = self._unit_problems()
        if units:
            raise UnitError(f"{self.name}: {len(units)} unit problem(s): " + "; ".join(units))
        with np.errstate(all="ignore"):  # reported below, not warned about
            dx = self.f(self.x0, self.u0)
            z = self.z(self.x0, self.u0)
        if dx.shape != (self.nx,) or not np.all(np.isfinite(dx)):
            raise ModelDefinitionError(f"{self.name}: rhs not finite at the nominal point: {dx}")
        if not np.all(np.isfinite(z)):
            raise ModelDefinitionError(
                f"{self.name}: algebraic outputs not finite at the nominal point: {z}")
        jac = self.jacobian(self.x0, self.u0)
        if not np.all(np.isfinite(jac)):
            raise ModelDefinitionError(f"{self.name}: Jacobian not finite at the nominal point")

    def _structure_problems(self) -> list[str]:
        problems: list[str] = []
        everything = (*self.states, *self.inputs, *self.params, *self.algebraic)
        names = [v.name for v in everything]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            problems.append(f"duplicate names {sorted(dup)}")
        try:
            tu = parse_unit(self.time_unit)
            if tu.dim != _TIME:
                problems.append(f"time_unit {self.time_unit!r} is not a time")
        except UnitError as exc:
            problems.append(f"time_unit: {exc}")
        for v in everything:
            try:
                parse_unit(v.unit)
            except UnitError as exc:
                problems.append(f"{v.name}: {exc}")
            if not v.lo <= v.hi:
                problems.append(f"{v.name}: bounds [{v.lo}, {v.hi}] are empty")
        for v in (*self.states, *self.inputs):
            if not v.lo <= v.nominal <= v.hi:
                problems.append(f"{v.name}: nominal {v.nominal} outside [{v.lo}, {v.hi}]")
        if self.algebraic and self.alg is None:
            problems.append("algebraic outputs declared but no alg function given")
        known = set(self.state_names) | set(self.input_names) | set(self.algebraic_names)
        for o in self.outputs:
            if o not in known:
                problems.append(f"output {o!r} is neither a state, an input nor an algebraic "
                                "output")
        return problems

    def _unit_problems(self) -> list[str]:
        tu = parse_unit(self.time_unit)
        xs = [(v.name, v.unit) for v in self.states]
        us = [(v.name, v.unit) for v in self.inputs]
        ps = [(v.name, v.unit) for v in self.params]
        try:
            problems = check_equations(
                self.rhs, xs, us, ps,
                [(f"d{v.name}/dt", parse_unit(v.unit) / tu, f"{v.unit} per {self.time_unit}")
                 for v in self.states], "rhs")
            if self.alg is not None:
                problems += check_equations(
                    self.alg, xs, us, ps,
                    [(v.name, parse_unit(v.unit), v.unit) for v in self.algebraic], "alg")
        except (AttributeError, TypeError) as exc:
            raise ModelDefinitionError(
                f"{self.name}: the equations cannot be unit-checked (use only the namespace's "
                f"exp log sqrt tanh sin cos fabs fmax fmin and + - * / **): {exc}") from exc
        return problems


_FIELDS = frozenset({"name", "states", "inputs", "params", "rhs", "algebraic", "alg",
                     "outputs", "time_unit", "description", "_p"})
