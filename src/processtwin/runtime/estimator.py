"""The estimator service: feeds an EKF, UKF or MHE from the live state, writes estimates back.

The kind (``ekf``, ``ukf``, ``mhe``) and its tuning come from twin.yaml's ``estimator``
section; :func:`~processtwin.estimation.factory.make_estimator` builds it, with parameters
appended as random walks when ``walks`` names any (their estimates are written to the twin
like the states'). Each step reads the model inputs and measured states from the live
state and respects their quality:

* bad (or non-finite) values are skipped;
* uncertain values, and imputed ones whatever their level, count with weight
  ``1/uncertain_variance_factor``, i.e. their measurement variance is multiplied by that
  factor (4 by default);
* redundant sensors of one state are averaged by weight.

A late analyser value is applied at its *sample* time. The service also keeps the one-step
prediction residuals of the measured outputs, from which the twin's model RMSE and R² are
computed (the filter's innovations: prior prediction against the measurement).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from processtwin.core.batch import Batch
from processtwin.core.points import PointTable
from processtwin.core.quality import Quality, Reason
from processtwin.core.state import LiveState
from processtwin.estimation.augment import ParamWalk
from processtwin.estimation.delayed import DelayedEstimator
from processtwin.estimation.factory import config_for, make_estimator
from processtwin.estimation.mhe import MovingHorizonEstimator
from processtwin.physics.cstr import van_de_vusse
from processtwin.physics.model import ProcessModel
from processtwin.runtime.config import EstimatorConfig

__all__ = ["EstimatorService", "ModelFit", "build_estimator"]

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class ModelFit:
    rmse: float | None
    r2: float | None
    n: int


def build_estimator(cfg: EstimatorConfig, model: ProcessModel) -> DelayedEstimator:
    """The configured estimator (kind, tuning, walks) on plant time."""
    settings: dict[str, Any] = {
        "measurement_std": cfg.measurement_std, "process_std": cfg.process_std,
        "initial_std": cfg.initial_std, "params": cfg.params, "substeps": cfg.substeps}
    if cfg.kind == "mhe":
        settings.update(horizon=cfg.horizon, bounds=dict(cfg.bounds))
    walks = [ParamWalk(name=n, std=w.std, lo=w.lo, hi=w.hi, initial=w.initial,
                       initial_std=w.initial_std) for n, w in cfg.walks.items()]
    return make_estimator(model, config_for(cfg.kind, **settings), walks=walks,
                          time_scale=cfg.time_scale, horizon_s=cfg.late_horizon_s)


class EstimatorService:
    """One estimator for one twin.

    ``model`` is the process model; ``est_model`` the one the filter runs on (the process
    model with the walked parameters appended as states, or the same model).
    """

    def __init__(self, cfg: EstimatorConfig, table: PointTable,
                 model: ProcessModel | None = None, window: int = 600) -> None:
        self.cfg = cfg
        self.table = table
        self.model = model or van_de_vusse()
        self.filter = build_estimator(cfg, self.model)
        self.est_model: ProcessModel = self.filter.est.model
        self.uncertain_weight = 1.0 / cfg.uncertain_variance_factor
        self._u_idx = [table.index(cfg.inputs[n]) for n in self.model.input_names]
        self._y_idx = {s: [table.index(k) for k in keys] for s, keys in cfg.measurements.items()}
        self._late_idx = {s: table.index(k) for s, k in cfg.delayed.items()}
        self._late_seen: dict[str, float] = {s: -np.inf for s in cfg.delayed}
        self._used_ts: dict[int, float] = {}
        points = cfg.estimate_points()
        self.est_idx = {s: table.index(f"{cfg.twin}.{p}") for s, p in points.items()}
        self.std_idx = {s: table.index(f"{cfg.twin}.{p}_std") for s, p in points.items()}
        self._rows = [self.est_model.state_names.index(s) for s in self.est_idx]
        self._u_last = self.model.u0.copy()
        self._resid: dict[str, deque[tuple[float, float]]] = {
            s: deque(maxlen=window) for s in cfg.measurements}
        self.initialised = False
        self.steps = 0
        self.skipped = 0  # measurements left out for bad quality

    # ------------------------------------------------------------------ views
    @property
    def x(self) -> F64:
        """The estimate over :attr:`est_model`'s states (walked parameters last)."""
        return self.filter.x

    @property
    def P(self) -> F64:
        return self.filter.P

    @property
    def x_model(self) -> F64:
        """The estimate of the process model's own states (walked parameters left out)."""
        return self.filter.x[: self.model.nx]

    @property
    def walked(self) -> tuple[str, ...]:
        """The parameters estimated jointly, in the order they follow the states."""
        return self.est_model.state_names[self.model.nx:]

    def params(self) -> dict[str, float]:
        """The model parameters in force now: configured overrides plus walked estimates."""
        out = dict(self.model.params_with(self.cfg.params))
        for j, n in enumerate(self.walked):
            out[n] = float(self.filter.x[self.model.nx + j])
        return out

    # ------------------------------------------------------------------ quality
    def _value(self, state: LiveState, idx: int, fresh_since: float | None = None
               ) -> tuple[float, float] | None:
        """(value, weight) of a point if usable, else None."""
        q = int(state.quality[idx])
        v = float(state.value[idx])
        if q == Quality.BAD or not np.isfinite(v):
            return None
        if fresh_since is not None and state.ts[idx] <= fresh_since:
            return None
        imputed = bool(int(state.reason[idx]) & Reason.IMPUTED)
        return v, (1.0 if q == Quality.GOOD and not imputed else self.uncertain_weight)

    def _measurements(self, state: LiveState) -> tuple[dict[str, float], dict[str, float]]:
        y: dict[str, float] = {}
        w: dict[str, float] = {}
        for s, idxs in self._y_idx.items():
            vals = []
            for i in idxs:
                fresh_since = self._used_ts.get(i, -np.inf)
                got = self._value(state, i, fresh_since=fresh_since)
                if got:
                    vals.append(got)
                    self._used_ts[i] = float(state.ts[i])
                elif state.ts[i] > fresh_since:  # a new value, but bad
                    self._used_ts[i] = float(state.ts[i])
                    self.skipped += 1
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

    def current_inputs(self, state: LiveState) -> F64:
        return np.array([self.current_input(state, n) for n in self.model.input_names])

    # ------------------------------------------------------------------ stepping
    def _initial_state(self, u: F64, y: dict[str, float]) -> F64:
        walk0 = self.est_model.x0[self.model.nx:]
        p = self.model.params_with(self.cfg.params)
        p.update(zip(self.walked, walk0.tolist(), strict=True))
        x0 = self.model.steady_state(u, p)
        for s, v in y.items():
            x0[self.model.state_names.index(s)] = v
        out: F64 = np.r_[x0, walk0]
        return out

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
            self.filter.est.x = self._initial_state(u, y)
            self.initialised = True
        names = self.est_model.state_names
        if self.filter.t is not None:
            prior = self.filter.predict_at(now)
            for s, v in y.items():
                self._resid[s].append((v, float(prior[names.index(s)])))
        self.filter.step(now, u, y, w)
        for s, i in self._late_idx.items():
            ts = float(state.ts[i])
            got = self._value(state, i)
            if ts > self._late_seen[s] and got:
                self._late_seen[s] = ts
                yv, wv = {s: got[0]}, {s: got[1]}
                if ts < now:
                    self.filter.late(ts, yv, wv)
                else:
                    self.filter.est.update(yv, wv)
        self.steps += 1
        return self.estimate_batch(now)

    def estimate_batch(self, now: float) -> tuple[Batch, npt.NDArray[np.float64]]:
        x, sd = self.filter.x, self.filter.std
        rows = self._rows
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

    def summary(self) -> dict[str, Any]:
        """For twin health: the kind, every estimate and walked parameter with its std."""
        x, sd = self.filter.x, self.filter.std
        names = self.est_model.state_names
        walked = set(self.walked)
        out: dict[str, Any] = {
            "kind": self.cfg.kind,
            "initialised": self.initialised,
            "skipped_bad": self.skipped,
            "states": {n: {"value": float(x[i]), "std": float(sd[i])}
                       for i, n in enumerate(names) if n not in walked},
            "params": {n: {"value": float(x[names.index(n)]),
                           "std": float(sd[names.index(n)])} for n in self.walked},
        }
        if isinstance(self.filter.est, MovingHorizonEstimator):
            out["mhe"] = self.filter.est.stats.to_dict()
        return out
