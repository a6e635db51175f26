"""Moving-horizon estimation over a :class:`~processtwin.physics.model.ProcessModel`.

Over the last ``N`` intervals (``N + 1`` nodes) the MHE solves, with CasADi and IPOPT
(Rao, Rawlings & Mayne, IEEE TAC 48 (2003) 246–258; Rawlings, Mayne & Diehl, *Model
Predictive Control*, 2nd ed. 2017, ch. 4)::

    min   ‖x₀ − x̄₀‖²_{P₀⁻¹} + Σₖ ‖wₖ‖²_{(Q_c·Δtₖ)⁻¹} + Σⱼ Σᵢ (wq_{ji}/σᵢ²)(y_{ji} − x_{j,i})²
    s.t.  xₖ₊₁ = F(xₖ, uₖ, p, Δtₖ) + wₖ        (multiple shooting, F = RK4 of the model)
          lo ≤ xⱼ ≤ hi                          (state and — after :func:`augment` —
                                                 parameter bounds)

``wq`` is the measurement's quality weight: bad or missing values are skipped (weight 0),
uncertain ones down-weighted. Until ``N`` intervals exist the window is padded at its start
with ``Δt = 0`` intervals whose noise is fixed at zero, so one NLP of fixed size serves from
the first measurement on.

**Arrival cost.** When the oldest node leaves, ``(x̄, P₀)`` is advanced by one EKF step
linearised at the MHE's own estimate ``x̂₀`` of that node (Kühl, Diehl et al., *Journal of
Process Control* 21 (2011) 1386–1399)::

    x̃ = Kalman update of (x̄₀, P₀) with the node's measurements  (Joseph form)
    x̄₁ = F(x̂₀) + A (x̃ − x̂₀)      P₁ = A P̃ Aᵀ + Q_c·Δt₀,   A = ∂F/∂x at x̂₀

**Warm start.** Each solve starts from the previous solution shifted by one node, with
the new node predicted by ``F``, and (with ``warm_start``) IPOPT's multipliers shifted along.
A cold start instead simulates the window open-loop from ``x̄``. Per-solve wall time,
iterations and status are kept in :attr:`MovingHorizonEstimator.stats`.

The covariance reported with ``x`` is the EKF recursion from ``P₀`` along the MHE
trajectory (a linearised approximation of the MHE's own uncertainty). If IPOPT fails, the
estimate falls back to the open-loop prediction, the failure is counted and
:class:`~processtwin.errors.SolverError` raised only when ``raise_on_failure`` is set.

Example:
    >>> from processtwin.physics.cstr import van_de_vusse
    >>> m = van_de_vusse()
    >>> mhe = MovingHorizonEstimator(m, MHEConfig(measurement_std={"T_R": 0.1}, horizon=5))
    >>> mhe.predict(m.u0, dt=5 / 3600)
    >>> mhe.update({"T_R": 134.2})
    >>> mhe.stats.solves, mhe.stats.last_status
    (1, 'Solve_Succeeded')
"""

from __future__ import annotations

import copy
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import casadi
import numpy as np
import numpy.typing as npt

from processtwin.errors import InvalidInputError, SolverError
from processtwin.estimation.base import Measurement, joseph_update, measurement, noise_setup
from processtwin.estimation.ekf import EKFConfig
from processtwin.estimation.transition import rk4_function
from processtwin.physics.model import ProcessModel

__all__ = ["MHEConfig", "MHEStats", "MovingHorizonEstimator"]

F64 = npt.NDArray[np.float64]
_OK = ("Solve_Succeeded", "Solved_To_Acceptable_Level")


@dataclass(frozen=True, kw_only=True)
class MHEConfig(EKFConfig):
    """EKF tuning (noise, substeps, params) plus the horizon and the solver settings.

    ``horizon`` is ``N``, the intervals in the window; ``bounds`` narrows the model's
    state bounds per state (``name -> (lo, hi)``, walked parameters included);
    ``warm_start`` shifts the previous primal and dual solution (else cold start);
    ``max_iter`` and ``tol`` go to IPOPT; ``raise_on_failure`` raises
    :class:`~processtwin.errors.SolverError` instead of falling back; ``keep_times`` is how
    many recent solve times :class:`MHEStats` keeps for its median and p99.
    """

    horizon: int = 20
    bounds: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    warm_start: bool = True
    max_iter: int = 100
    tol: float = 1e-8
    raise_on_failure: bool = False
    keep_times: int = 1000

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.horizon < 1 or self.max_iter < 1 or not self.tol > 0 or self.keep_times < 1:
            raise InvalidInputError("MHEConfig: horizon, max_iter, keep_times >= 1, tol > 0")
        bad = [n for n, (lo, hi) in self.bounds.items() if not lo < hi]
        if bad:
            raise InvalidInputError(f"MHEConfig: bounds need lo < hi: {bad}")


@dataclass
class MHEStats:
    """Solver record: counts, the last solve, and recent solve times (s)."""

    solves: int = 0
    failures: int = 0
    last_solve_s: float = float("nan")
    last_iterations: int = 0
    last_status: str = ""
    solve_times: deque[float] = field(default_factory=deque)

    def to_dict(self) -> dict[str, Any]:
        t = np.array(self.solve_times) if self.solve_times else np.array([np.nan])
        return {"solves": self.solves, "failures": self.failures,
                "last_solve_s": self.last_solve_s, "last_iterations": self.last_iterations,
                "last_status": self.last_status, "median_solve_s": float(np.median(t)),
                "p99_solve_s": float(np.percentile(t, 99))}


@dataclass
class _Node:
    y: dict[str, tuple[float, float]] = field(default_factory=dict)  # name -> (value, var)


def _meas_of(model: ProcessModel, node: _Node) -> Measurement:
    names = tuple(node.y)
    return Measurement(names, np.array([model.state_names.index(n) for n in names], np.intp),
                       np.array([node.y[n][0] for n in names]),
                       np.array([node.y[n][1] for n in names]))


class MovingHorizonEstimator:
    """MHE with the face of the Kalman filters: ``predict``, ``update``, ``x``, ``P``."""

    def __init__(self, model: ProcessModel, config: MHEConfig,
                 x0: npt.ArrayLike | None = None) -> None:
        self.model = model
        self.config = config
        q, p0 = noise_setup(model, config.measurement_std, config.process_std,
                            config.initial_std, "MHE")
        unknown = set(config.bounds) - set(model.state_names)
        if unknown:
            raise InvalidInputError(f"MHE: bounds for unknown states {sorted(unknown)}")
        self._q = q
        self._pv = model.param_vector(config.params)
        self._lo = np.array([config.bounds.get(v.name, (v.lo, v.hi))[0] for v in model.states])
        self._hi = np.array([config.bounds.get(v.name, (v.lo, v.hi))[1] for v in model.states])
        self._scale = np.array([max(abs(v.nominal), 1.0) for v in model.states])
        self._step = rk4_function(model, config.substeps, jacobian=True)
        self._step_n = self._step.map(config.horizon)
        self._solver = self._build()
        self.stats = MHEStats(solve_times=deque(maxlen=config.keep_times))
        x_init = np.array(model.x0 if x0 is None else x0, dtype=np.float64)
        self.P: F64 = np.diag(p0)
        self._reset(x_init)

    # ------------------------------------------------------------------ NLP
    def _build(self) -> casadi.Function:
        nx, nu, n = self.model.nx, self.model.nu, self.config.horizon
        s = casadi.DM(self._scale)
        z = casadi.SX.sym("z", nx, n + 1)
        v = casadi.SX.sym("v", nx, n)
        xbar = casadi.SX.sym("xbar", nx)
        pinv = casadi.SX.sym("pinv", nx, nx)
        u = casadi.SX.sym("u", nu, n)
        dt = casadi.SX.sym("dt", 1, n)
        y = casadi.SX.sym("y", nx, n + 1)
        wy = casadi.SX.sym("wy", nx, n + 1)
        qi = casadi.SX.sym("qi", nx, n)
        p = casadi.SX.sym("p", len(self.model.params))
        x = casadi.repmat(s, 1, n + 1) * z
        w = casadi.repmat(s, 1, n) * v
        f = rk4_function(self.model, self.config.substeps).map(n)
        xn = f(x[:, :n], u, p, dt)
        e0 = x[:, 0] - xbar
        cost = (casadi.mtimes([e0.T, pinv, e0]) + casadi.sum1(casadi.sum2(qi * w**2))
                + casadi.sum1(casadi.sum2(wy * (y - x) ** 2)))
        g = (x[:, 1:] - xn - w) / casadi.repmat(s, 1, n)
        par = casadi.vertcat(xbar, casadi.vec(pinv), casadi.vec(u), casadi.vec(dt),
                             casadi.vec(y), casadi.vec(wy), casadi.vec(qi), p)
        opts: dict[str, Any] = {
            "print_time": False,
            "ipopt": {"print_level": 0, "sb": "yes", "max_iter": self.config.max_iter,
                      "tol": self.config.tol},
        }
        if self.config.warm_start:
            opts["ipopt"].update({"warm_start_init_point": "yes", "mu_init": 1e-4,
                                  "warm_start_bound_push": 1e-9,
                                  "warm_start_mult_bound_push": 1e-9})
        nlp = {"x": casadi.vertcat(casadi.vec(z), casadi.vec(v)), "p": par, "f": cost,
               "g": casadi.vec(g)}
        try:
            return casadi.nlpsol("mhe", "ipopt", nlp, opts)
        except RuntimeError as exc:  # pragma: no cover - CasADi without IPOPT
            raise SolverError(f"MHE: cannot build the IPOPT solver: {exc}") from exc

    # ------------------------------------------------------------------ window state
    def _reset(self, x0: F64) -> None:
        self._nodes: list[_Node] = [_Node()]
        self._u: list[F64] = []
        self._dt: list[float] = []
        self._xbar = np.clip(x0, self._lo, self._hi)
        self._p0 = self.P.copy()
        self._xsol = self._xbar[:, None].copy()
        self._wsol = np.zeros((self.model.nx, 0))
        self._lam_z = np.zeros((self.model.nx, 1))
        self._lam_v = np.zeros((self.model.nx, 0))
        self._lam_g = np.zeros((self.model.nx, 0))
        self._x = self._xbar.copy()

    @property
    def x(self) -> F64:
        return self._x

    @x.setter
    def x(self, value: npt.ArrayLike) -> None:
        """Re-initialise: the window restarts at ``value`` with the current covariance."""
        self._reset(np.asarray(value, dtype=np.float64).copy())

    @property
    def std(self) -> F64:
        return np.sqrt(np.clip(np.diag(self.P), 0.0, None))

    @property
    def window(self) -> int:
        """Intervals currently in the horizon (≤ ``horizon``)."""
        return len(self._dt)

    def _jac(self, x: F64, u: F64, dt: float) -> tuple[F64, F64]:
        xn, a = self._step(x, u, self._pv, dt)
        return np.array(xn).ravel(), np.array(a)

    def _qd(self, dt: float) -> F64:
        return np.diag(self._q * dt)

    # ------------------------------------------------------------------ estimator face
    def predict(self, u: npt.ArrayLike, dt: float) -> None:
        """Open a new node ``dt`` model time units later, inputs ``u`` held meanwhile."""
        if dt <= 0:
            return
        ua = np.asarray(u, dtype=np.float64)
        xn, a = self._jac(self._xsol[:, -1], ua, dt)
        xn = np.clip(xn, self._lo, self._hi)
        self._nodes.append(_Node())
        self._u.append(ua)
        self._dt.append(float(dt))
        self._xsol = np.column_stack([self._xsol, xn])
        zero = np.zeros((self.model.nx, 1))
        self._wsol = np.column_stack([self._wsol, zero])
        self._lam_z = np.column_stack([self._lam_z, zero])
        self._lam_v = np.column_stack([self._lam_v, zero])
        self._lam_g = np.column_stack([self._lam_g, zero])
        if len(self._dt) > self.config.horizon:
            self._shift()
        self._x = xn
        self.P = a @ self.P @ a.T + self._qd(dt)

    def _shift(self) -> None:
        """Drop the oldest node into the arrival cost (one linearised EKF step)."""
        x_hat = self._xsol[:, 0]
        u0, dt0 = self._u[0], self._dt[0]
        x_f, p_f = joseph_update(self._xbar, self._p0, _meas_of(self.model, self._nodes[0]))
        fx, a = self._jac(x_hat, u0, dt0)
        self._xbar = np.clip(fx + a @ (x_f - x_hat), self._lo, self._hi)
        p1 = a @ p_f @ a.T + self._qd(dt0)
        self._p0 = 0.5 * (p1 + p1.T)
        del self._nodes[0], self._u[0], self._dt[0]
        self._xsol = self._xsol[:, 1:]
        self._wsol = self._wsol[:, 1:]
        self._lam_z, self._lam_v, self._lam_g = (
            self._lam_z[:, 1:], self._lam_v[:, 1:], self._lam_g[:, 1:])

    def predict_state(self, u: npt.ArrayLike, dt: float) -> F64:
        if dt <= 0:
            return self._x.copy()
        xn, _ = self._jac(self._x, np.asarray(u, dtype=np.float64), dt)
        return np.clip(xn, self._lo, self._hi)

    def update(self, y: Mapping[str, float], weights: Mapping[str, float] | None = None, *,
               variance: Mapping[str, float] | None = None) -> None:
        """Attach measurements to the newest node and re-solve (nothing usable: no solve)."""
        if self._add(len(self._nodes) - 1, y, weights, variance):
            self.solve()

    def amend(self, steps_back: int, y: Mapping[str, float],
              weights: Mapping[str, float] | None = None) -> bool:
        """Attach a late measurement ``steps_back`` nodes before the newest; False if it is
        no longer in the horizon."""
        i = len(self._nodes) - 1 - steps_back
        if steps_back < 0 or i < 0:
            return False
        if self._add(i, y, weights, None):
            self.solve()
        return True

    def _add(self, i: int, y: Mapping[str, float], weights: Mapping[str, float] | None,
             variance: Mapping[str, float] | None) -> bool:
        m = measurement(self.model, self.config.measurement_std, y, weights, variance)
        for n, v, r in zip(m.names, m.y, m.r, strict=True):
            self._nodes[i].y[n] = (float(v), float(r))
        return bool(m.names)

    def snapshot(self) -> dict[str, Any]:
        keep = ("_nodes", "_u", "_dt", "_xbar", "_p0", "_xsol", "_wsol", "_lam_z", "_lam_v",
                "_lam_g", "_x", "P")
        return copy.deepcopy({k: getattr(self, k) for k in keep})

    def restore(self, snap: object) -> None:
        if not isinstance(snap, dict):
            raise InvalidInputError("not an MHE snapshot")
        for k, v in copy.deepcopy(snap).items():
            setattr(self, k, v)

    # ------------------------------------------------------------------ solve
    def _open_loop(self) -> F64:
        xs = [self._xbar]
        for u, dt in zip(self._u, self._dt, strict=True):
            xs.append(np.clip(self._jac(xs[-1], u, dt)[0], self._lo, self._hi))
        return np.column_stack(xs)

    def solve(self) -> bool:
        """Solve the horizon problem now; True if IPOPT succeeded."""
        nx, nu, n = self.model.nx, self.model.nu, self.config.horizon
        m = len(self._dt)
        pad = n - m
        sc = self._scale[:, None]
        x_guess = self._xsol if self.config.warm_start else self._open_loop()
        w_guess = self._wsol if self.config.warm_start else np.zeros((nx, m))
        u = np.zeros((nu, n))
        dt = np.zeros((1, n))
        y = np.zeros((nx, n + 1))
        wy = np.zeros((nx, n + 1))
        qi = np.zeros((nx, n))
        if m:
            u[:, pad:] = np.column_stack(self._u)
            dt[0, pad:] = self._dt
            qi[:, pad:] = 1.0 / (self._q[:, None] * dt[:, pad:])
        u[:, :pad] = (self._u[0] if m else np.zeros(nu))[:, None]
        for j, node in enumerate(self._nodes):
            for name, (val, var) in node.y.items():
                i = self.model.state_names.index(name)
                y[i, pad + j] = val
                wy[i, pad + j] = 1.0 / var
        pinv = np.linalg.inv(self._p0 + 1e-12 * np.diag(self._scale**2))
        par = np.concatenate([self._xbar, pinv.ravel(order="F"), u.ravel(order="F"),
                              dt.ravel(order="F"), y.ravel(order="F"), wy.ravel(order="F"),
                              qi.ravel(order="F"), self._pv])
        z0 = np.column_stack([np.repeat(x_guess[:, :1], pad, axis=1), x_guess]) / sc
        v0 = np.column_stack([np.zeros((nx, pad)), w_guess]) / sc
        lbz = np.repeat(self._lo[:, None] / sc, n + 1, axis=1)
        ubz = np.repeat(self._hi[:, None] / sc, n + 1, axis=1)
        lbv = np.full((nx, n), -np.inf)
        lbv[:, :pad] = 0.0
        ubv = -lbv
        args: dict[str, Any] = {
            "x0": np.concatenate([z0.ravel(order="F"), v0.ravel(order="F")]), "p": par,
            "lbx": np.concatenate([lbz.ravel(order="F"), lbv.ravel(order="F")]),
            "ubx": np.concatenate([ubz.ravel(order="F"), ubv.ravel(order="F")]),
            "lbg": 0.0, "ubg": 0.0}
        if self.config.warm_start:
            lz = np.column_stack([np.zeros((nx, pad)), self._lam_z])
            lv = np.column_stack([np.zeros((nx, pad)), self._lam_v])
            lg = np.column_stack([np.zeros((nx, pad)), self._lam_g])
            args["lam_x0"] = np.concatenate([lz.ravel(order="F"), lv.ravel(order="F")])
            args["lam_g0"] = lg.ravel(order="F")
        t0 = time.perf_counter()
        try:
            sol = self._solver(**args)
        except RuntimeError as exc:  # CasADi raises on evaluation errors (NaN, etc.)
            return self._failed(f"evaluation error: {exc}")
        elapsed = time.perf_counter() - t0
        st = self._solver.stats()
        self.stats.solves += 1
        self.stats.last_solve_s = elapsed
        self.stats.solve_times.append(elapsed)
        self.stats.last_iterations = int(st.get("iter_count", 0))
        self.stats.last_status = str(st.get("return_status", ""))
        if self.stats.last_status not in _OK:
            return self._failed(self.stats.last_status)
        xz = np.array(sol["x"]).ravel()
        nz = nx * (n + 1)
        xs = xz[:nz].reshape((nx, n + 1), order="F") * sc
        ws = xz[nz:].reshape((nx, n), order="F") * sc
        lx = np.array(sol["lam_x"]).ravel()
        lg = np.array(sol["lam_g"]).ravel().reshape((nx, n), order="F")
        self._xsol = np.clip(xs[:, pad:], self._lo[:, None], self._hi[:, None])
        self._wsol = ws[:, pad:]
        self._lam_z = lx[:nz].reshape((nx, n + 1), order="F")[:, pad:]
        self._lam_v = lx[nz:].reshape((nx, n), order="F")[:, pad:]
        self._lam_g = lg[:, pad:]
        self._x = self._xsol[:, -1].copy()
        self.P = self._covariance()
        return True

    def _failed(self, why: str) -> bool:
        self.stats.failures += 1
        self.stats.last_status = why
        if self.config.raise_on_failure:
            raise SolverError(f"MHE: IPOPT failed: {why}")
        self._x = self._xsol[:, -1].copy()  # open-loop prediction of the newest node
        return False

    def _covariance(self) -> F64:
        """EKF recursion from the arrival covariance along the MHE trajectory."""
        _, p = joseph_update(self._xsol[:, 0], self._p0, _meas_of(self.model, self._nodes[0]))
        m, n, nx = len(self._dt), self.config.horizon, self.model.nx
        if m == 0:
            return p
        xs = np.zeros((nx, n))
        xs[:, :m] = self._xsol[:, :m]
        us = np.zeros((self.model.nu, n))
        us[:, :m] = np.column_stack(self._u)
        dts = np.zeros(n)
        dts[:m] = self._dt
        a_all = np.array(self._step_n(xs, us, self._pv, dts)[1])
        for k in range(m):
            a = a_all[:, k * nx:(k + 1) * nx]
            p = a @ p @ a.T + self._qd(self._dt[k])
            _, p = joseph_update(self._xsol[:, k + 1], p,
                                 _meas_of(self.model, self._nodes[k + 1]))
        return p
