"""What every recursive state estimator shares: its protocol, noise setup and measurements.

An estimator holds a posterior mean ``x`` and covariance ``P`` over the model's states and
offers ``predict(u, dt)`` and ``update(y, weights)``. Measurements are states given by name
(``T_R``, ``T_K``, an analyser's ``C_b``); each update may carry any subset. A value that is
not finite, or whose weight is ≤ 0 (quality *bad*), is skipped; a weight ``w`` in (0, 1]
(quality *uncertain*) inflates that sensor's variance to ``σ²/w``.

The measurement model is linear, ``y = H x + v`` with ``H`` selecting states and
``v ~ N(0, R)``, so the correction is the Kalman update in Joseph form (Bucy & Joseph 1968)::

    S = H P Hᵀ + R      K = P Hᵀ S⁻¹      x⁺ = x + K (y − H x)
    P⁺ = (I − K H) P (I − K H)ᵀ + K R Kᵀ

which stays symmetric positive semi-definite under rounding.

Example:
    >>> import numpy as np
    >>> from processtwin.physics.cstr import van_de_vusse
    >>> m = van_de_vusse()
    >>> meas = measurement(m, {"T_R": 0.1}, {"T_R": 134.0, "T_K": float("nan")}, {"T_R": 0.25})
    >>> meas.names, round(float(meas.r[0]), 4)
    (('T_R',), 0.04)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from processtwin.errors import InvalidInputError
from processtwin.physics.model import ProcessModel

__all__ = ["Amendable", "Measurement", "RecursiveEstimator", "joseph_update", "measurement",
           "noise_setup", "unpack_snapshot"]

F64 = npt.NDArray[np.float64]
IDX = npt.NDArray[np.intp]


@runtime_checkable
class RecursiveEstimator(Protocol):
    """The shape shared by the EKF, UKF and MHE, so a service can swap them.

    ``x`` and ``P`` are the posterior after the last update (the prior after a bare
    ``predict``); setting ``x`` re-initialises the estimate.
    """

    model: ProcessModel
    x: F64
    P: F64

    @property
    def std(self) -> F64: ...

    def predict(self, u: npt.ArrayLike, dt: float) -> None: ...

    def update(self, y: Mapping[str, float], weights: Mapping[str, float] | None = None, *,
               variance: Mapping[str, float] | None = None) -> None: ...

    def predict_state(self, u: npt.ArrayLike, dt: float) -> F64: ...

    def snapshot(self) -> object: ...

    def restore(self, snap: object) -> None: ...


@runtime_checkable
class Amendable(Protocol):
    """An estimator that takes a late measurement natively (the MHE, inside its window)."""

    def amend(self, steps_back: int, y: Mapping[str, float],
              weights: Mapping[str, float] | None = None) -> bool: ...


@dataclass(frozen=True, slots=True)
class Measurement:
    """The usable part of one update: state indices, values and variances (``R`` diagonal)."""

    names: tuple[str, ...]
    idx: IDX
    y: F64
    r: F64


def measurement(model: ProcessModel, measurement_std: Mapping[str, float],
                y: Mapping[str, float], weights: Mapping[str, float] | None = None,
                variance: Mapping[str, float] | None = None) -> Measurement:
    """Select the usable measurements and their variances ``σ²/w`` (or ``variance[n]/w``)."""
    names: list[str] = []
    r: list[float] = []
    for n, v in y.items():
        if not np.isfinite(v):
            continue
        w = 1.0 if weights is None else float(weights.get(n, 1.0))
        if not w > 0.0:
            continue  # quality bad: skipped
        if n not in model.state_names:
            raise InvalidInputError(f"{model.name}: measured {n!r} is not a state")
        if variance is not None and n in variance:
            var = float(variance[n])
        elif n in measurement_std:
            var = float(measurement_std[n]) ** 2
        else:
            raise InvalidInputError(f"no measurement noise configured for {n!r}")
        if not var > 0.0:
            raise InvalidInputError(f"measurement variance of {n!r} must be > 0, not {var}")
        names.append(n)
        r.append(var / min(w, 1.0))
    idx = np.array([model.state_names.index(n) for n in names], dtype=np.intp)
    return Measurement(tuple(names), idx, np.array([y[n] for n in names], dtype=np.float64),
                       np.array(r, dtype=np.float64))


def joseph_update(x: F64, p: F64, m: Measurement) -> tuple[F64, F64]:
    """The Kalman correction for ``H`` selecting ``m.idx``; returns ``(x⁺, P⁺)``."""
    if len(m.idx) == 0:
        return x, p
    ph = p[:, m.idx]                       # P Hᵀ
    s = ph[m.idx, :] + np.diag(m.r)        # H P Hᵀ + R
    k = np.linalg.solve(s, ph.T).T
    x_new = x + k @ (m.y - x[m.idx])
    i_kh = np.eye(len(x))
    i_kh[:, m.idx] -= k
    p_new = i_kh @ p @ i_kh.T + (k * m.r) @ k.T
    return x_new, 0.5 * (p_new + p_new.T)


def noise_setup(model: ProcessModel, measurement_std: Mapping[str, float],
                process_std: Mapping[str, float], initial_std: Mapping[str, float],
                who: str) -> tuple[F64, F64]:
    """Continuous process-noise density and initial variance per state (diagonals).

    Defaults: ``q = 0.01·max(|nominal|, 1)`` per √(time unit), ``σ₀ = 0.1·max(|nominal|, 1)``.
    """
    names = model.state_names
    problems: list[str] = []
    unknown = (set(measurement_std) | set(process_std) | set(initial_std)) - set(names)
    if unknown:
        problems.append(f"not states of {model.name}: {sorted(unknown)}")
    for section, vals in (("measurement_std", measurement_std), ("process_std", process_std),
                          ("initial_std", initial_std)):
        bad = sorted(k for k, v in vals.items() if not (np.isfinite(v) and v >= 0.0))
        if bad:
            problems.append(f"{section} must be finite and >= 0: {bad}")
    if problems:
        raise InvalidInputError(f"{who}: " + "; ".join(problems))
    scale = {n: max(abs(v.nominal), 1.0) for n, v in zip(names, model.states, strict=True)}
    q = np.array([process_std.get(n, 0.01 * scale[n]) for n in names], dtype=np.float64)
    p0 = np.array([initial_std.get(n, 0.1 * scale[n]) for n in names], dtype=np.float64)
    return q**2, p0**2


def unpack_snapshot(snap: object) -> tuple[F64, F64]:
    """Copies of ``(x, P)`` from a Kalman filter's :meth:`snapshot`."""
    if not (isinstance(snap, tuple) and len(snap) == 2):
        raise InvalidInputError("not a Kalman filter snapshot")
    return np.array(snap[0], dtype=np.float64), np.array(snap[1], dtype=np.float64)
