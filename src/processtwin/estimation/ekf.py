"""Extended Kalman filter over a :class:`~processtwin.physics.model.ProcessModel`.

The discrete transition is RK4 over the model's right-hand side, built once in CasADi with
its exact Jacobian. Measurements are a subset of states (``T_R``, ``T_K``, an analyser's
``C_b``) given by name; each update may carry any subset, so missing or bad sensors are
simply left out and uncertain ones are down-weighted by the caller.

:class:`DelayedEKF` adds out-of-sequence measurements: a lab or analyser value that arrives
late, stamped with its *sample* time, is applied at that time and the filter is re-run
forward over the stored inputs and measurements (exact for the EKF's linearisation).

Example:
    >>> import numpy as np
    >>> from processtwin.physics.cstr import van_de_vusse
    >>> m = van_de_vusse()
    >>> ekf = ExtendedKalmanFilter(m, EKFConfig(measurement_std={"T_R": 0.1}))
    >>> ekf.predict(m.u0, dt=1 / 3600)
    >>> ekf.update({"T_R": 134.2})
    >>> ekf.x.shape, bool(ekf.std[2] < 1.0)
    ((4,), True)
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import casadi
import numpy as np
import numpy.typing as npt

from processtwin.errors import InvalidInputError
from processtwin.physics.model import ProcessModel

__all__ = ["DelayedEKF", "EKFConfig", "ExtendedKalmanFilter"]

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, kw_only=True)
class EKFConfig:
    """Filter tuning.

    ``process_std`` is the continuous process-noise density per state, in state unit per
    sqrt(model time unit); ``initial_std`` the initial standard deviation per state;
    ``measurement_std`` the sensor noise per measured state (state unit); ``substeps`` the
    RK4 substeps per predict.
    """

    measurement_std: Mapping[str, float]
    process_std: Mapping[str, float] = field(default_factory=dict)
    initial_std: Mapping[str, float] = field(default_factory=dict)
    substeps: int = 2
    params: Mapping[str, float] = field(default_factory=dict)


def _transition(model: ProcessModel, substeps: int) -> casadi.Function:
    x = casadi.SX.sym("x", model.nx)
    u = casadi.SX.sym("u", model.nu)
    p = casadi.SX.sym("p", len(model.params))
    dt = casadi.SX.sym("dt")
    f = model.casadi_rhs
    h = dt / substeps
    xk = x
    for _ in range(substeps):
        k1 = f(xk, u, p)
        k2 = f(xk + 0.5 * h * k1, u, p)
        k3 = f(xk + 0.5 * h * k2, u, p)
        k4 = f(xk + h * k3, u, p)
        xk = xk + (h / 6.0) * (k1 + 2 * k2 + 2 * k3 + k4)
    return casadi.Function(
        "ekf_step", [x, u, p, dt], [xk, casadi.jacobian(xk, x)], ["x", "u", "p", "dt"],
        ["xn", "A"],
    )


class ExtendedKalmanFilter:
    """A plain EKF; ``x`` and ``P`` are its posterior after the last update."""

    def __init__(self, model: ProcessModel, config: EKFConfig, x0: npt.ArrayLike | None = None):
        self.model = model
        self.config = config
        names = model.state_names
        unknown = (set(config.measurement_std) | set(config.process_std)
                   | set(config.initial_std)) - set(names)
        if unknown:
            raise InvalidInputError(f"EKF: not states of {model.name}: {sorted(unknown)}")
        default_q = {n: 0.01 * max(abs(v.nominal), 1.0)
                     for n, v in zip(names, model.states, strict=True)}
        q = np.array([config.process_std.get(n, default_q[n]) for n in names])
        self._qc = np.diag(q**2)
        p0 = np.array([config.initial_std.get(n, 0.1 * max(abs(v.nominal), 1.0))
                       for n, v in zip(names, model.states, strict=True)])
        self.x: F64 = np.array(model.x0 if x0 is None else x0, dtype=np.float64)
        self.P: F64 = np.diag(p0**2)
        self._pv = model.param_vector(config.params)
        self._step = _transition(model, config.substeps)
        self._lo = np.array([v.lo for v in model.states])
        self._hi = np.array([v.hi for v in model.states])

    @property
    def std(self) -> F64:
        return np.sqrt(np.clip(np.diag(self.P), 0.0, None))

    def predict(self, u: npt.ArrayLike, dt: float) -> None:
        """Propagate by ``dt`` model time units under constant inputs ``u``."""
        if dt <= 0:
            return
        xn, a_dm = self._step(self.x, np.asarray(u, dtype=np.float64), self._pv, dt)
        a = np.array(a_dm)
        self.x = np.clip(np.array(xn).ravel(), self._lo, self._hi)
        self.P = a @ self.P @ a.T + self._qc * dt

    def update(self, y: Mapping[str, float], weights: Mapping[str, float] | None = None) -> None:
        """Correct with measured states ``y``; ``weights`` < 1 inflate a sensor's variance."""
        names = [n for n in y if np.isfinite(y[n])]
        if not names:
            return
        idx = [self.model.state_names.index(n) for n in names]
        stds = []
        for n in names:
            if n not in self.config.measurement_std:
                raise InvalidInputError(f"EKF: no measurement noise configured for {n!r}")
            w = 1.0 if weights is None else max(weights.get(n, 1.0), 1e-6)
            stds.append(self.config.measurement_std[n] / np.sqrt(w))
        r = np.diag(np.square(stds))
        h = np.zeros((len(idx), self.model.nx))
        h[np.arange(len(idx)), idx] = 1.0
        innov = np.array([y[n] for n in names]) - self.x[idx]
        s = h @ self.P @ h.T + r
        k = np.linalg.solve(s, h @ self.P).T
        self.x = np.clip(self.x + k @ innov, self._lo, self._hi)
        i_kh = np.eye(self.model.nx) - k @ h
        self.P = i_kh @ self.P @ i_kh.T + k @ r @ k.T  # Joseph form: stays symmetric PSD


@dataclass
class _Step:
    t: float
    u: F64
    y: dict[str, float]
    w: dict[str, float]
    x_prior: F64
    p_prior: F64
    x_post: F64 = field(default_factory=lambda: np.empty(0))
    p_post: F64 = field(default_factory=lambda: np.empty(0))


class DelayedEKF:
    """An EKF stepped on wall/plant time in seconds that also takes late measurements.

    ``time_scale`` converts the caller's seconds into model time (e.g. a simulated plant
    running 10× faster than the clock). ``horizon_s`` bounds how far back a late
    measurement may be applied.
    """

    def __init__(self, ekf: ExtendedKalmanFilter, *, time_scale: float = 1.0,
                 horizon_s: float = 600.0) -> None:
        self.ekf = ekf
        self.time_scale = time_scale
        self.horizon_s = horizon_s
        self._steps: list[_Step] = []
        self._times: list[float] = []
        self.late_applied = 0
        self.late_dropped = 0

    @property
    def t(self) -> float | None:
        return self._times[-1] if self._times else None

    def _dt_model(self, t0: float, t1: float) -> float:
        return (t1 - t0) * self.time_scale / self.ekf.model.seconds_per_time_unit

    def step(self, t: float, u: npt.ArrayLike, y: Mapping[str, float],
             weights: Mapping[str, float] | None = None) -> None:
        """Advance to time ``t`` (s) under inputs ``u`` held since the last step; update."""
        ua = np.asarray(u, dtype=np.float64)
        if self._times:
            if t <= self._times[-1]:
                raise InvalidInputError("DelayedEKF.step: time must increase")
            self.ekf.predict(self._steps[-1].u, self._dt_model(self._times[-1], t))
        st = _Step(t, ua, dict(y), dict(weights or {}), self.ekf.x.copy(), self.ekf.P.copy())
        self.ekf.update(st.y, st.w)
        st.x_post, st.p_post = self.ekf.x.copy(), self.ekf.P.copy()
        self._steps.append(st)
        self._times.append(t)
        cut = bisect.bisect_left(self._times, t - self.horizon_s)
        if cut > 0:
            del self._steps[:cut]
            del self._times[:cut]

    def predict_at(self, t: float) -> F64:
        """The state predicted at ``t`` (s) from the last step, without changing the filter."""
        if not self._steps or t <= self._times[-1]:
            return self.ekf.x.copy()
        xn, _ = self.ekf._step(self.ekf.x, self._steps[-1].u, self.ekf._pv,
                               self._dt_model(self._times[-1], t))
        return np.array(xn).ravel()

    def late(self, t_sample: float, y: Mapping[str, float],
             weights: Mapping[str, float] | None = None) -> bool:
        """Apply a measurement taken at ``t_sample`` (s); False if older than the horizon."""
        if not self._times or t_sample < self._times[0]:
            self.late_dropped += 1
            return False
        k = bisect.bisect_right(self._times, t_sample) - 1
        st = self._steps[k]
        st.y.update(y)
        if weights:
            st.w.update(weights)
        self.ekf.x, self.ekf.P = st.x_prior.copy(), st.p_prior.copy()
        for j in range(k, len(self._steps)):
            sj = self._steps[j]
            if j > k:
                self.ekf.predict(self._steps[j - 1].u, self._dt_model(self._times[j - 1], sj.t))
                sj.x_prior, sj.p_prior = self.ekf.x.copy(), self.ekf.P.copy()
            self.ekf.update(sj.y, sj.w)
            sj.x_post, sj.p_post = self.ekf.x.copy(), self.ekf.P.copy()
        self.late_applied += 1
        return True

    def state(self) -> dict[str, Any]:
        return {"x": self.ekf.x.tolist(), "std": self.ekf.std.tolist(), "t": self.t}
