"""The estimator service: feeds an EKF from the live state, writes estimates back.

Each step reads the model inputs and measured states from the live state, uses only values
whose quality is not bad (uncertain ones get a tenth of the weight), averages redundant
sensors, and applies a late analyser value at its *sample* time. It also keeps the one-step
prediction residuals of the measured outputs, from which the twin's model RMSE and R² are
computed (the filter's innovations: prior prediction against the measurement).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from processtwin.core.batch import Batch
from processtwin.core.points import PointTable
from processtwin.core.quality import Quality, Reason
from processtwin.core.state import LiveState
from processtwin.estimation.ekf import DelayedEKF, EKFConfig, ExtendedKalmanFilter
from processtwin.physics.cstr import van_de_vusse
from processtwin.physics.model import ProcessModel
from processtwin.runtime.config import EstimatorConfig

__all__ = ["EstimatorService", "ModelFit"]


@dataclass(frozen=True, slots=True)
class ModelFit:
    rmse: float | None
    r2: float | None
    n: int


class EstimatorService:
    """One EKF for one twin."""

    def __init__(self, cfg: EstimatorConfig, table: PointTable,
                 model: ProcessModel | None = None, window: int = 600) -> None:
        self.cfg = cfg
        self.table = table
        self.model = model or van_de_vusse()
        ekf = ExtendedKalmanFilter(self.model, EKFConfig(
            measurement_std=cfg.measurement_std, process_std=cfg.process_std,
            initial_std=cfg.initial_std, params=cfg.params))
        self.filter = DelayedEKF(ekf, time_scale=cfg.time_scale)
        self._u_idx = [table.index(cfg.inputs[n]) for n in self.model.input_names]
        self._y_idx = {s: [table.index(k) for k in keys] for s, keys in cfg.measurements.items()}
        self._late_idx = {s: table.index(k) for s, k in cfg.delayed.items()}
        self._late_seen: dict[str, float] = {s: -np.inf for s in cfg.delayed}
        self._used_ts: dict[int, float] = {}
        self.est_idx = {s: table.index(f"{cfg.twin}.{p}") for s, p in cfg.estimates.items()}
        self.std_idx = {s: table.index(f"{cfg.twin}.{p}_std") for s, p in cfg.estimates.items()}
        self._u_last = self.model.u0.copy()
        self._resid: dict[str, deque[tuple[float, float]]] = {
            s: deque(maxlen=window) for s in cfg.measurements}
        self.initialised = False
        self.steps = 0

    def _value(self, state: LiveState, idx: int, fresh_since: float | None = None
               ) -> tuple[float, float] | None:
        """(value, weight) of a point if usable, else None."""
        q = int(state.quality[idx])
        v = float(state.value[idx])
        if q == Quality.BAD or not np.isfinite(v):
            return None
        if fresh_since is not None and state.ts[idx] <= fresh_since:
            return None
        return v, (1.0 if q == Quality.GOOD else 0.1)

    def _measurements(self, state: LiveState) -> tuple[dict[str, float], dict[str, float]]:
        y: dict[str, float] = {}
        w: dict[str, float] = {}
        for s, idxs in self._y_idx.items():
            vals = []
            for i in idxs:
                got = self._value(state, i, fresh_since=self._used_ts.get(i, -np.inf))
                if got:
                    vals.append(got)
                    self._used_ts[i] = float(state.ts[i])
            if vals:
                ws = np.array([g[1] for g in vals])
                y[s] = float(np.average([g[0] for g in vals], weights=ws))
                w[s] = float(min(1.0, ws.sum()))
        return y, w

    def current_input(self, state: LiveState, name: str) -> float:
        """A model input's newest usable measured value, else the last one the filter used."""
        j = self.model.input_names.index(name)
        got = self._value(state, self._u_idx[j])
        return got[0] if got else float(self._u_last[j])

    def step(self, state: LiveState, now: float
             ) -> tuple[Batch, npt.NDArray[np.float64]] | None:
        """One filter step at ``now``.

        Returns the batch to store (estimate points, then their ``_std`` points) and the
        standard deviation per row for the live state (NaN on the ``_std`` rows), or None
        while the filter waits for its first measurements.
        """
        u = self._u_last.copy()
        for j, i in enumerate(self._u_idx):
            got = self._value(state, i)
            if got:
                u[j] = got[0]
        self._u_last = u
        y, w = self._measurements(state)
        if not self.initialised:
            if len(y) < len(self._y_idx):
                return None  # wait for a first value of every measured state
            x0 = self.model.steady_state(u, self.model.params_with(self.cfg.params))
            for s, v in y.items():
                x0[self.model.state_names.index(s)] = v
            self.filter.ekf.x = x0
            self.initialised = True
        if self.filter.t is not None:
            prior = self.filter.predict_at(now)
            for s, v in y.items():
                self._resid[s].append((v, float(prior[self.model.state_names.index(s)])))
        self.filter.step(now, u, y, w)
        for s, i in self._late_idx.items():
            ts = float(state.ts[i])
            if ts > self._late_seen[s] and self._value(state, i):
                self._late_seen[s] = ts
                yv = {s: float(state.value[i])}
                wv = {s: 1.0 if state.quality[i] == Quality.GOOD else 0.1}
                if ts < now:
                    self.filter.late(ts, yv, wv)
                else:
                    self.filter.ekf.update(yv, wv)
        self.steps += 1
        return self.estimate_batch(now)

    def estimate_batch(self, now: float) -> tuple[Batch, npt.NDArray[np.float64]]:
        x, sd = self.filter.ekf.x, self.filter.ekf.std
        rows = [self.model.state_names.index(s) for s in self.est_idx]
        n = len(rows)
        pts = [*self.est_idx.values(), *self.std_idx.values()]
        vals = np.r_[x[rows], sd[rows]]
        b = Batch.of(pts, [now] * (2 * n), vals, [Quality.GOOD] * (2 * n),
                     [Reason.NONE] * (2 * n))
        return b, np.r_[sd[rows], np.full(n, np.nan)]

    def fit(self) -> dict[str, ModelFit]:
        out = {}
        for s, d in self._resid.items():
            if len(d) < 5:
                out[s] = ModelFit(None, None, len(d))
                continue
            arr = np.array(d)
            err = arr[:, 0] - arr[:, 1]
            rmse = float(np.sqrt(np.mean(err**2)))
            var = float(np.var(arr[:, 0]))
            r2 = 1.0 - float(np.mean(err**2)) / var if var > 0 else None
            out[s] = ModelFit(rmse, r2, len(d))
        return out
