"""Offline estimation for a twin: its store history as a :class:`History`, and the analyses.

The estimator section of twin.yaml maps the model's inputs and measured states onto point
keys; :func:`history_from_store` reads those points over ``[start, end)`` on the grid
``start + k·grid_s`` with the store's own interpolation (good and uncertain values only):

* inputs are held (``previous``), bad stretches carried forward from the last usable
  value (backward before the first one);
* measured states are interpolated ``linear``ly; redundant sensors of a state are
  averaged by weight, 1 for good and ``1/uncertain_variance_factor`` for uncertain values,
  0 for bad (as the live :class:`~processtwin.runtime.estimator.EstimatorService` does);
* late analyser values (``delayed``) are raw samples, put on the nearest grid time within
  half a step, and fill only grid times no live sensor of that state covers.

Times become model time with the estimator's ``time_scale`` (plant seconds per clock
second). :func:`analysis_config` and :func:`paramest_config` build the analyses' settings
from the same section; every unknown name is reported at once.

Example:
    >>> from processtwin.physics.cstr import van_de_vusse
    >>> for p in check_names(van_de_vusse(), sensors=["T_R", "T_X"], params=["K_w", "k9"]):
    ...     print(p)
    unknown sensors ['T_X'] (states of van_de_vusse_cstr: C_a, C_b, T_R, T_K)
    unknown params ['k9'] (parameters of van_de_vusse_cstr)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from processtwin.core.quality import Quality
from processtwin.errors import InvalidInputError
from processtwin.estimation.observability import AnalysisConfig
from processtwin.estimation.paramest import History, ParamEstConfig
from processtwin.physics.model import ProcessModel

if TYPE_CHECKING:
    from processtwin.runtime.config import EstimatorConfig
    from processtwin.store.base import TimeSeriesStore

__all__ = ["MAX_SAMPLES", "TwinHistory", "analysis_config", "check_names", "default_std",
           "enough_data", "history_from_store", "paramest_config"]

F64 = npt.NDArray[np.float64]
MAX_SAMPLES = 5000  # grid times per fit: the sensitivities are (K, nx, nθ + nx) per step


@dataclass(frozen=True, eq=False)
class TwinHistory:
    """The :class:`History` and where it came from (epoch seconds, counts per state)."""

    history: History
    start: float
    end: float
    grid_s: float
    samples: dict[str, int]

    def to_dict(self) -> dict[str, object]:
        return {"start": self.start, "end": self.end, "grid_s": self.grid_s,
                "grid_points": len(self.history.t), "samples": self.samples}


def check_names(model: ProcessModel, *, sensors: Sequence[str] = (),
                states: Sequence[str] = (), params: Sequence[str] = ()) -> list[str]:
    """Every unknown sensor, state or parameter name, one problem per kind."""
    out = []
    listing = ", ".join(model.state_names)
    for kind, names, known in (("sensors", sensors, model.state_names),
                               ("states", states, model.state_names)):
        bad = sorted(set(names) - set(known))
        if bad:
            out.append(f"unknown {kind} {bad} (states of {model.name}: {listing})")
    bad = sorted(set(params) - set(model.param_names))
    if bad:
        out.append(f"unknown params {bad} (parameters of {model.name})")
    return out


def default_std(model: ProcessModel, cfg: EstimatorConfig | None, state: str) -> float:
    """The configured measurement σ of ``state``, else 1 % of its scale."""
    if cfg is not None and state in cfg.measurement_std:
        return float(cfg.measurement_std[state])
    nominal = model.states[model.state_names.index(state)].nominal
    return 0.01 * max(abs(nominal), 1.0)


def analysis_config(model: ProcessModel, cfg: EstimatorConfig | None, sensors: Sequence[str],
                    *, horizon_s: float = 600.0, sample_s: float = 5.0,
                    x0: Sequence[float] | None = None, u: F64 | None = None,
                    params: Mapping[str, float] | None = None) -> AnalysisConfig:
    """The observability settings: σ per sensor from ``cfg`` (see :func:`default_std`)."""
    problems = check_names(model, sensors=sensors)
    if problems:
        raise InvalidInputError("; ".join(problems))
    p = dict(cfg.params) if cfg is not None and params is None else dict(params or {})
    return AnalysisConfig(sensors={s: default_std(model, cfg, s) for s in sensors},
                          horizon_s=horizon_s, sample_s=sample_s,
                          x0=None if x0 is None else tuple(float(v) for v in x0),
                          u=u, params=p)


def paramest_config(model: ProcessModel, cfg: EstimatorConfig, params: Sequence[str], *,
                    profile: bool = True, confidence: float = 0.95) -> ParamEstConfig:
    problems = check_names(model, params=params)
    if problems:
        raise InvalidInputError("; ".join(problems))
    measured = {*cfg.measurements, *cfg.delayed}
    return ParamEstConfig(params=tuple(params),
                          measurement_std={s: default_std(model, cfg, s) for s in measured},
                          model_params={k: v for k, v in cfg.params.items()
                                        if k not in params},
                          profile=profile, confidence=confidence)


def _fill(v: F64) -> F64 | None:
    """Carry the last finite value forward (backward before the first); None if none."""
    ok = np.isfinite(v)
    if not ok.any():
        return None
    idx = np.where(ok, np.arange(len(v)), 0)
    np.maximum.accumulate(idx, out=idx)
    out = v[idx]
    first = int(np.argmax(ok))
    out[:first] = v[first]
    return np.asarray(out, dtype=np.float64)


def _weights(quality: npt.NDArray[np.uint8], value: F64, uncertain: float) -> F64:
    w = np.where(quality == Quality.GOOD, 1.0, uncertain)
    w[(quality >= Quality.BAD) | ~np.isfinite(value)] = 0.0
    return np.asarray(w, dtype=np.float64)


def history_from_store(store: TimeSeriesStore, model: ProcessModel, cfg: EstimatorConfig,
                       start: float, end: float, grid_s: float) -> TwinHistory:
    """The twin's inputs and measurements over ``[start, end)`` on a ``grid_s`` grid.

    Raises :class:`InvalidInputError` with the reason when the range or the data will not
    do: a bad range, too many grid times, an input without any usable value, or no
    measurement at all.
    """
    if not (np.isfinite(start) and np.isfinite(end) and end > start):
        raise InvalidInputError("need finite start < end")
    if not (np.isfinite(grid_s) and grid_s > 0):
        raise InvalidInputError("grid_s must be > 0 seconds")
    n = int(np.ceil((end - start) / grid_s))
    if n > MAX_SAMPLES:
        raise InvalidInputError(f"{n} grid times over [start, end) at {grid_s:g} s; at most "
                                f"{MAX_SAMPLES} (widen grid_s or shorten the range)")
    if n < 3:
        raise InvalidInputError(f"too little data: only {n} grid times over [start, end) at "
                                f"{grid_s:g} s; "
                                "need at least 3")
    uncertain = 1.0 / cfg.uncertain_variance_factor
    problems: list[str] = []
    u_cols: list[F64] = []
    ts: F64 | None = None
    for name in model.input_names:
        key = cfg.inputs[name]
        s = store.interpolate(key, start, end, grid_s, "previous")
        ts = s.ts
        col = _fill(np.where(s.quality < Quality.BAD, s.value, np.nan))
        if col is None:
            problems.append(f"input {name} ({key}) has no usable value in [start, end)")
        else:
            u_cols.append(col)
    if problems:
        raise InvalidInputError("; ".join(problems))
    assert ts is not None
    y: dict[str, F64] = {}
    w: dict[str, F64] = {}
    for state, keys in cfg.measurements.items():
        vals, wts = [], []
        for key in keys:
            s = store.interpolate(key, start, end, grid_s, "linear")
            wts.append(_weights(s.quality, s.value, uncertain))
            vals.append(np.where(wts[-1] > 0, s.value, 0.0))
        wsum = np.sum(wts, axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            y[state] = np.where(wsum > 0, np.sum(np.multiply(vals, wts), axis=0) / wsum,
                                np.nan)
        w[state] = np.minimum(wsum, 1.0)
    for state, key in cfg.delayed.items():
        raw = store.query(key, start - grid_s / 2, end)
        yv = y.get(state, np.full(len(ts), np.nan))
        wv = w.get(state, np.zeros(len(ts)))
        rw = _weights(raw.quality, raw.value, uncertain)
        k = np.rint((raw.ts - start) / grid_s).astype(np.int64)
        for kk, v, ww in zip(k, raw.value, rw, strict=True):
            if ww > 0 and 0 <= kk < len(ts) and wv[kk] == 0:
                yv[kk], wv[kk] = v, ww
        y[state], w[state] = yv, wv
    samples = {s: int(np.count_nonzero(v > 0)) for s, v in w.items()}
    if not any(samples.values()):
        raise InvalidInputError("no usable measurement of "
                                f"{sorted(samples)} in [start, end)")
    t = (ts - start) * cfg.time_scale / model.seconds_per_time_unit
    hist = History(t=np.asarray(t, dtype=np.float64), u=np.column_stack(u_cols), y=y,
                   weights=w)
    return TwinHistory(hist, float(start), float(end), float(grid_s), samples)


def enough_data(th: TwinHistory, model: ProcessModel, n_params: int) -> None:
    """Refuse a fit with fewer usable samples than unknowns (parameters + initial state)."""
    have = sum(th.samples.values())
    need = n_params + model.nx + 1
    if have < need:
        raise InvalidInputError(
            f"too little data: {have} usable measurement samples over "
            f"{len(th.history.t)} grid times for {n_params} parameters and {model.nx} "
            f"initial states (need at least {need})")
