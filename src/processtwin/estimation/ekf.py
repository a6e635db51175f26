"""Extended Kalman filter over a :class:`~processtwin.physics.model.ProcessModel`.

The discrete transition is RK4 over the model's right-hand side, built once in CasADi with
its exact Jacobian ``A = ∂x⁺/∂x`` (:mod:`~processtwin.estimation.transition`)::

    predict:  x⁻ = F(x, u, p, Δt)        P⁻ = A P Aᵀ + Q_c·Δt
    update:   Joseph-form Kalman correction (:func:`~processtwin.estimation.base.joseph_update`)

``Q_c`` is the continuous process-noise density (diagonal), so the discrete noise grows with
the step (Jazwinski, *Stochastic Processes and Filtering Theory*, 1970, §8). Measurements
are a subset of states (``T_R``, ``T_K``, an analyser's ``C_b``) given by name; each update
may carry any subset, so missing or bad sensors are simply left out and uncertain ones are
down-weighted by the caller.

:class:`DelayedEKF` (an alias of :class:`~processtwin.estimation.delayed.DelayedEstimator`)
adds out-of-sequence measurements: a late lab value is applied at its *sample* time and the
filter re-run forward over the stored inputs and measurements.

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

from collections.abc import Mapping
from dataclasses import dataclass, field

import casadi
import numpy as np
import numpy.typing as npt

from processtwin.errors import InvalidInputError
from processtwin.estimation.base import joseph_update, measurement, noise_setup, unpack_snapshot
from processtwin.estimation.delayed import DelayedEstimator
from processtwin.estimation.transition import rk4_function
from processtwin.physics.model import ProcessModel

__all__ = ["DelayedEKF", "EKFConfig", "ExtendedKalmanFilter"]

F64 = npt.NDArray[np.float64]

DelayedEKF = DelayedEstimator


@dataclass(frozen=True, kw_only=True)
class EKFConfig:
    """Filter tuning.

    ``process_std`` is the continuous process-noise density per state, in state unit per
    sqrt(model time unit); ``initial_std`` the initial standard deviation per state;
    ``measurement_std`` the sensor noise per measured state (state unit); ``substeps`` the
    RK4 substeps per predict; ``params`` overrides of the model's nominal parameters.
    """

    measurement_std: Mapping[str, float]
    process_std: Mapping[str, float] = field(default_factory=dict)
    initial_std: Mapping[str, float] = field(default_factory=dict)
    substeps: int = 2
    params: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.substeps < 1:
            raise InvalidInputError(f"{type(self).__name__}: substeps must be >= 1")


def _transition(model: ProcessModel, substeps: int) -> casadi.Function:
    return rk4_function(model, substeps, jacobian=True)


class ExtendedKalmanFilter:
    """A plain EKF; ``x`` and ``P`` are its posterior after the last update."""

    def __init__(self, model: ProcessModel, config: EKFConfig, x0: npt.ArrayLike | None = None):
        self.model = model
        self.config = config
        q, p0 = noise_setup(model, config.measurement_std, config.process_std,
                            config.initial_std, "EKF")
        self._qc = np.diag(q)
        self.x: F64 = np.array(model.x0 if x0 is None else x0, dtype=np.float64)
        self.P: F64 = np.diag(p0)
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

    def predict_state(self, u: npt.ArrayLike, dt: float) -> F64:
        """The mean ``dt`` ahead under ``u``, leaving the filter unchanged."""
        if dt <= 0:
            return self.x.copy()
        xn, _ = self._step(self.x, np.asarray(u, dtype=np.float64), self._pv, dt)
        return np.clip(np.array(xn).ravel(), self._lo, self._hi)

    def update(self, y: Mapping[str, float], weights: Mapping[str, float] | None = None, *,
               variance: Mapping[str, float] | None = None) -> None:
        """Correct with measured states ``y``.

        ``weights`` < 1 inflate a sensor's variance (≤ 0 skips it); ``variance`` replaces
        the configured σ² per sensor for this update.
        """
        m = measurement(self.model, self.config.measurement_std, y, weights, variance)
        if len(m.idx) == 0:
            return
        x, self.P = joseph_update(self.x, self.P, m)
        self.x = np.clip(x, self._lo, self._hi)

    def snapshot(self) -> tuple[F64, F64]:
        return self.x.copy(), self.P.copy()

    def restore(self, snap: object) -> None:
        self.x, self.P = unpack_snapshot(snap)
