"""Any recursive estimator stepped on plant time in seconds, taking late measurements.

A lab or analyser value that arrives late, stamped with its *sample* time ``t_s``, is
applied at the last step ``t_k ≤ t_s``:

* a Kalman filter (EKF, UKF) is rewound to its stored prior at ``t_k`` and re-run forward over
  the stored inputs and measurements — exact for the filter, since the replay is the same
  sequence of predicts and updates it would have run had the value been on time;
* an :class:`~processtwin.estimation.base.Amendable` estimator (the MHE) inserts the value at
  its node in the horizon and re-solves once; a value older than its horizon is dropped.

Example:
    >>> from processtwin.estimation.ekf import EKFConfig, ExtendedKalmanFilter
    >>> from processtwin.physics.cstr import van_de_vusse
    >>> m = van_de_vusse()
    >>> est = DelayedEstimator(ExtendedKalmanFilter(m, EKFConfig(measurement_std={"T_R": 0.1,
    ...                                                                            "C_b": 0.02})))
    >>> for k in range(5):
    ...     est.step(5.0 * k, m.u0, {"T_R": 134.1})
    >>> est.late(7.0, {"C_b": 0.9}), est.late_applied
    (True, 1)
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from processtwin.errors import InvalidInputError
from processtwin.estimation.base import Amendable, RecursiveEstimator

__all__ = ["DelayedEstimator"]

F64 = npt.NDArray[np.float64]


@dataclass
class _Step:
    t: float
    u: F64
    y: dict[str, float]
    w: dict[str, float]
    prior: object  # the estimator's snapshot before this step's update (None if amendable)


class DelayedEstimator:
    """Steps ``est`` at plant times ``t`` (s); ``time_scale`` converts to model time.

    ``time_scale`` is plant seconds per caller second (e.g. a simulated plant running 10×
    faster than the clock); ``horizon_s`` bounds how far back a late measurement may go.
    """

    def __init__(self, est: RecursiveEstimator, *, time_scale: float = 1.0,
                 horizon_s: float = 600.0) -> None:
        if not time_scale > 0 or not horizon_s >= 0:
            raise InvalidInputError("DelayedEstimator: time_scale must be > 0, horizon_s >= 0")
        self.est = est
        self.time_scale = time_scale
        self.horizon_s = horizon_s
        self._amender: Amendable | None = est if isinstance(est, Amendable) else None
        self._steps: list[_Step] = []
        self._times: list[float] = []
        self.late_applied = 0
        self.late_dropped = 0

    # ------------------------------------------------------------------ views
    @property
    def ekf(self) -> RecursiveEstimator:
        """The wrapped estimator (named for the EKF-only past; any kind)."""
        return self.est

    @property
    def t(self) -> float | None:
        return self._times[-1] if self._times else None

    @property
    def x(self) -> F64:
        return self.est.x

    @property
    def P(self) -> F64:
        return self.est.P

    @property
    def std(self) -> F64:
        return self.est.std

    def reset(self, x0: npt.ArrayLike) -> None:
        """Re-initialise the estimate at ``x0`` (keeps the covariance, forgets history)."""
        self.est.x = np.asarray(x0, dtype=np.float64).copy()
        self._steps.clear()
        self._times.clear()

    def _dt_model(self, t0: float, t1: float) -> float:
        return (t1 - t0) * self.time_scale / self.est.model.seconds_per_time_unit

    # ------------------------------------------------------------------ stepping
    def step(self, t: float, u: npt.ArrayLike, y: Mapping[str, float],
             weights: Mapping[str, float] | None = None) -> None:
        """Advance to time ``t`` (s) under inputs held since the last step, then update."""
        ua = np.asarray(u, dtype=np.float64)
        if self._times:
            if t <= self._times[-1]:
                raise InvalidInputError("DelayedEstimator.step: time must increase")
            self.est.predict(self._steps[-1].u, self._dt_model(self._times[-1], t))
        st = _Step(t, ua, dict(y), dict(weights or {}),
                   None if self._amender else self.est.snapshot())
        self.est.update(st.y, st.w)
        self._steps.append(st)
        self._times.append(t)
        cut = bisect.bisect_left(self._times, t - self.horizon_s)
        if cut > 0:
            del self._steps[:cut]
            del self._times[:cut]

    def predict_at(self, t: float) -> F64:
        """The state predicted at ``t`` (s) from the last step, without changing anything."""
        if not self._steps or t <= self._times[-1]:
            return self.est.x.copy()
        return self.est.predict_state(self._steps[-1].u, self._dt_model(self._times[-1], t))

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
        if self._amender is not None:
            if not self._amender.amend(len(self._steps) - 1 - k, y, weights):
                self.late_dropped += 1
                return False
            self.late_applied += 1
            return True
        self.est.restore(st.prior)
        self.est.update(st.y, st.w)
        for j in range(k + 1, len(self._steps)):
            sj = self._steps[j]
            self.est.predict(self._steps[j - 1].u, self._dt_model(self._times[j - 1], sj.t))
            sj.prior = self.est.snapshot()
            self.est.update(sj.y, sj.w)
        self.late_applied += 1
        return True

    def state(self) -> dict[str, Any]:
        """JSON-ready estimate: state names, mean, standard deviation, covariance, time."""
        return {"names": list(self.est.model.state_names), "x": self.est.x.tolist(),
                "std": self.est.std.tolist(), "P": self.est.P.tolist(), "t": self.t}
