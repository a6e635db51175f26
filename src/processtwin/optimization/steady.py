"""A steady-state setpoint optimiser: inputs that hold one output at a target.

Solves, with CasADi and IPOPT, over the steady state ``f(x, u) = 0`` of any
:class:`~processtwin.physics.model.ProcessModel`::

    min_u  ((y(x) + b − target)/scale)² + w·Σ((u − u_now)/range)²
    s.t.   f(x, u) = 0,  state bounds,  u within the envelope and within max_step of u_now

where ``b`` is the offset between the twin's estimate and the model's steady state at the
current inputs (a zero-order modifier, which gives offset-free tracking at steady state).
The solver is built once; each call is one warm IPOPT solve of a handful of variables.
The result is a *proposal*: only the command gate may turn it into a plant write.

Example:
    >>> import numpy as np
    >>> from processtwin.physics.cstr import van_de_vusse
    >>> m = van_de_vusse()
    >>> opt = SetpointOptimizer(m, SetpointConfig(output="C_b",
    ...     bounds={"F": (5.0, 100.0), "Q": (-8500.0, 0.0)}))
    >>> p = opt.propose(target=0.95, u_now=m.u0, x_est=m.x0, y_est=float(m.x0[1]))
    >>> p.ok, round(p.predicted["C_b"], 3)
    (True, 0.95)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import casadi
import numpy as np
import numpy.typing as npt

from processtwin.errors import InvalidInputError
from processtwin.physics.model import ProcessModel

__all__ = ["SetpointConfig", "SetpointOptimizer", "SetpointProposal"]

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, kw_only=True)
class SetpointConfig:
    """What to hold (``output``, a state name) and within which bounds per input."""

    output: str
    bounds: Mapping[str, tuple[float, float]]
    max_step: Mapping[str, float] = field(default_factory=dict)
    state_max: Mapping[str, float] = field(default_factory=dict)
    move_weight: float = 1e-3
    output_scale: float = 0.05


@dataclass(frozen=True, slots=True)
class SetpointProposal:
    ok: bool
    inputs: dict[str, float]
    predicted: dict[str, float]
    bias: float
    status: str


class SetpointOptimizer:
    def __init__(self, model: ProcessModel, config: SetpointConfig,
                 params: Mapping[str, float] | None = None) -> None:
        if config.output not in model.state_names:
            raise InvalidInputError(f"optimiser output {config.output!r} is not a state")
        missing = set(model.input_names) - set(config.bounds)
        if missing:
            raise InvalidInputError(f"optimiser: no bounds for inputs {sorted(missing)}")
        self.model = model
        self.config = config
        self._pv = model.param_vector(params)
        self._iy = model.state_names.index(config.output)
        nx, nu = model.nx, model.nu
        x = casadi.SX.sym("x", nx)
        u = casadi.SX.sym("u", nu)
        par = casadi.SX.sym("par", 2 + nu)  # target, bias, u_now
        target, bias, u_now = par[0], par[1], par[2:]
        rng = np.array([config.bounds[n][1] - config.bounds[n][0] for n in model.input_names])
        obj = ((x[self._iy] + bias - target) / config.output_scale) ** 2
        obj += config.move_weight * casadi.sumsqr((u - u_now) / rng)
        g = model.casadi_rhs(x, u, self._pv)
        nlp = {"x": casadi.vertcat(x, u), "f": obj, "g": g, "p": par}
        opts: dict[str, Any] = {"ipopt.print_level": 0, "print_time": False, "ipopt.sb": "yes",
                "ipopt.max_iter": 200, "ipopt.tol": 1e-10}
        self._solver = casadi.nlpsol("setpoint", "ipopt", nlp, opts)
        self._ss = casadi.rootfinder("ss", "newton", casadi.Function(
            "g", [x, u], [model.casadi_rhs(x, u, self._pv)]))

    def propose(self, target: float, u_now: npt.ArrayLike, x_est: npt.ArrayLike,
                y_est: float) -> SetpointProposal:
        m, cfg = self.model, self.config
        u_now_a = np.asarray(u_now, dtype=np.float64)
        x_est_a = np.asarray(x_est, dtype=np.float64)
        try:
            x_ss_now = np.array(self._ss(x_est_a, u_now_a)).ravel()
            bias = float(y_est - x_ss_now[self._iy]) if np.isfinite(y_est) else 0.0
        except RuntimeError:
            x_ss_now, bias = x_est_a, 0.0
        lbu, ubu = [], []
        for i, n in enumerate(m.input_names):
            lo, hi = cfg.bounds[n]
            step = cfg.max_step.get(n, np.inf)
            lbu.append(max(lo, u_now_a[i] - step))
            ubu.append(min(hi, u_now_a[i] + step))
        lbx = [v.lo for v in m.states]
        ubx = [min(v.hi, cfg.state_max.get(v.name, np.inf)) for v in m.states]
        sol = self._solver(
            x0=np.r_[x_ss_now, np.clip(u_now_a, lbu, ubu)], p=np.r_[target, bias, u_now_a],
            lbx=np.r_[lbx, lbu], ubx=np.r_[ubx, ubu], lbg=0.0, ubg=0.0)
        stats = self._solver.stats()
        z = np.array(sol["x"]).ravel()
        # IPOPT honours bounds only to its tolerance: clip, so a proposal never exceeds them
        xs, us = z[: m.nx], np.clip(z[m.nx:], lbu, ubu)
        ok = bool(stats["success"]) and bool(np.all(np.isfinite(z)))
        return SetpointProposal(
            ok=ok,
            inputs={n: float(v) for n, v in zip(m.input_names, us, strict=True)},
            predicted={n: float(v) + (bias if i == self._iy else 0.0)
                       for i, (n, v) in enumerate(zip(m.state_names, xs, strict=True))},
            bias=bias,
            status=str(stats["return_status"]),
        )
