"""Shared machinery of the batch integrators: the active set, error norms, dense output.

Every integrator keeps the scenarios still running in struct-of-arrays layout, each state
component a contiguous row of shape (n,), so that one right-hand-side evaluation serves
all of them. Scenarios that reach the end leave the active set, and the arrays shrink.

Error norm (Hairer, Nørsett & Wanner, *Solving ODEs I*, 2nd ed., Springer 1993, II.4,
eq. 4.11), per scenario::

    err = √( mean_i ( e_i / (atol_i + rtol·max(|y_i|, |ŷ_i|)) )² )

A step is accepted when err ≤ 1; the next step is h·clip(0.9·err^(−1/q), 0.2, 10), q the
order of the error estimate plus one, capped at 1 after a rejection.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from processtwin.errors import InvalidInputError, SolverError
from processtwin.physics.model import ProcessModel
from processtwin.physics.scenarios import Scenarios
from processtwin.physics.solvers.dense import write_poly

__all__ = ["ActiveSet", "BatchRhs", "OutputGrid", "atol_vector", "check_grid", "error_norm",
           "initial_step", "step_factor"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


class BatchRhs:
    """The model's right-hand side (and Jacobian) over a subset of the scenarios."""

    def __init__(self, model: ProcessModel, scen: Scenarios) -> None:
        self.model = model
        self.n_rhs = 0
        self.n_jac = 0
        u = scen.u.T
        self._u_shared = bool(np.all(u == u[:, :1]))
        self._u_all = np.ascontiguousarray(u)
        p: dict[str, Any] = dict(model.nominal_params)
        self._varying: dict[str, F64] = {}
        for k, v in scen.params.items():
            if v.size and np.all(v == v[0]):
                p[k] = float(v[0])
            else:
                self._varying[k] = v
        self._p_shared = p
        self.select(np.arange(scen.n))

    def select(self, idx: I64) -> None:
        """Restrict to the scenarios ``idx`` (indices into the full batch)."""
        self.u: list[Any] = (list(self._u_all[:, 0]) if self._u_shared
                             else list(self._u_all[:, idx]))
        self.p: dict[str, Any] = dict(self._p_shared)
        for k, v in self._varying.items():
            self.p[k] = v[idx]

    def f(self, x: F64) -> F64:
        """dx/dt, (nx, n)."""
        self.n_rhs += 1
        return self.model.f_soa(x, self.u, self.p)  # type: ignore[arg-type]

    def jac(self, x: F64) -> F64:
        """df/dx per scenario, (n, nx, nx)."""
        self.n_jac += 1
        pv = [self.p[v.name] for v in self.model.params]
        return self.model.jacobian_batched(x, self.u, pv)


def error_norm(err: F64, y: F64, y_new: F64, rtol: float, atol: F64) -> F64:
    """The scaled RMS norm of the local error estimate per scenario, (n,)."""
    sc = atol[:, None] + rtol * np.maximum(np.abs(y), np.abs(y_new))
    with np.errstate(invalid="ignore", over="ignore"):
        e = np.sqrt(np.mean((err / sc) ** 2, axis=0))
    return np.where(np.isfinite(e), e, np.inf)


def step_factor(err: F64, q: float, accepted: npt.NDArray[np.bool_]) -> F64:
    """Step-size factor from the error norm (see the module docstring)."""
    with np.errstate(divide="ignore"):
        fac = 0.9 * np.where(err > 0, err, 1e-10) ** (-1.0 / q)
    fac = np.clip(np.where(np.isfinite(fac), fac, 0.2), 0.2, 10.0)
    return np.where(accepted, fac, np.minimum(fac, 1.0))


def initial_step(rhs: BatchRhs, y0: F64, f0: F64, order: int, rtol: float, atol: F64,
                 span: float) -> F64:
    """Hairer's starting step per scenario (Solving ODEs I, II.4, p. 169)."""
    sc = atol[:, None] + rtol * np.abs(y0)
    d0 = np.sqrt(np.mean((y0 / sc) ** 2, axis=0))
    d1 = np.sqrt(np.mean((f0 / sc) ** 2, axis=0))
    h0 = np.where((d0 < 1e-5) | (d1 < 1e-5), 1e-6 * span, 0.01 * d0 / np.maximum(d1, 1e-300))
    h0 = np.minimum(h0, span)
    y1 = y0 + h0 * f0
    f1 = rhs.f(y1)
    d2 = np.sqrt(np.mean(((f1 - f0) / sc) ** 2, axis=0)) / h0
    big = np.maximum(d1, d2)
    with np.errstate(divide="ignore"):
        h1 = np.where(big <= 1e-15, np.maximum(1e-6 * span, h0 * 1e-3),
                      (0.01 / big) ** (1.0 / (order + 1)))
    out: F64 = np.minimum(np.minimum(100 * h0, h1), span)
    return out


class OutputGrid:
    """Writes states at the output times ``t`` as steps pass them (dense output)."""

    def __init__(self, t: F64, n: int, nx: int, dtype: npt.DTypeLike, accelerate: bool
                 ) -> None:
        self.t = t
        self.x = np.empty((n, len(t), nx), dtype=dtype)
        self.nxt: I64 = np.ones(n, dtype=np.int64)  # index 0 is the initial state
        self.accelerate = accelerate

    def write(self, gidx: I64, t_old: F64, h: F64, t_new: F64, y0: F64, coef: F64) -> None:
        """After accepted steps [t_old, t_new] of scenarios ``gidx``, write the outputs in
        (t_old, t_new] from y0 + Σ coef[m]·θ^(m+1) (see :mod:`.dense`)."""
        write_poly(self.x, self.t, self.nxt, gidx, t_old, h, t_new, y0, coef,
                   accelerate=self.accelerate)


class ActiveSet:
    """Per-scenario clocks of an adaptive integrator and the shrinking set of running ones."""

    def __init__(self, n: int, t0: float, t_end: float) -> None:
        self.gidx: I64 = np.arange(n)
        self.t = np.full(n, t0)
        self.t_end = t_end
        self.n_steps = np.zeros(n, dtype=np.int64)
        self.n_rejected = np.zeros(n, dtype=np.int64)

    def clip(self, h: F64) -> F64:
        """Steps that end exactly at t_end when they would (nearly) pass it."""
        left = self.t_end - self.t
        return np.where(h >= left * (1 - 1e-12), left, h)

    def check(self, h: F64, max_steps: int, name: str) -> None:
        tiny = h <= 1e-14 * np.maximum(np.abs(self.t), 1.0)
        if np.any(tiny) or np.any(~np.isfinite(h)):
            bad = self.gidx[tiny | ~np.isfinite(h)]
            raise SolverError(f"{name}: step size underflow in scenarios {bad[:10].tolist()} "
                              f"at t={self.t[tiny | ~np.isfinite(h)][:3].tolist()}")
        over = self.n_steps[self.gidx] + self.n_rejected[self.gidx] > max_steps
        if np.any(over):
            raise SolverError(f"{name}: more than {max_steps} steps in scenarios "
                              f"{self.gidx[over][:10].tolist()}")

    def record(self, accepted: npt.NDArray[np.bool_]) -> None:
        self.n_steps[self.gidx[accepted]] += 1
        self.n_rejected[self.gidx[~accepted]] += 1


def atol_vector(model: ProcessModel, rtol: float, atol: float | npt.ArrayLike | None) -> F64:
    """Absolute tolerance per state; default ``rtol`` times the model's state scale."""
    if atol is None:
        return rtol * model.x_scale
    a = np.broadcast_to(np.asarray(atol, dtype=np.float64), (model.nx,))
    return np.array(a)


def check_grid(t: F64) -> None:
    if t.ndim != 1 or len(t) < 1 or not np.all(np.isfinite(t)) or np.any(np.diff(t) < 0):
        raise InvalidInputError("output times must be a finite, non-decreasing 1-D array")

