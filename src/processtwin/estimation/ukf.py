"""Unscented Kalman filter: scaled sigma points, Merwe weights, Cholesky square root.

For ``n`` states, ``λ = α²(n + κ) − n`` and a lower Cholesky factor ``L`` of ``P``
(``P = L Lᵀ``) the ``2n + 1`` sigma points and weights are (Julier 2002; van der Merwe,
*Sigma-point Kalman filters*, PhD thesis, OGI 2004, §3.2)::

    X₀ = x      Xᵢ = x + √(n+λ)·Lᵢ      Xₙ₊ᵢ = x − √(n+λ)·Lᵢ        (i = 1..n)
    W₀ᵐ = λ/(n+λ)     W₀ᶜ = W₀ᵐ + 1 − α² + β     Wᵢᵐ = Wᵢᶜ = 1/(2(n+λ))

Predict pushes every sigma point through the RK4 transition (one mapped CasADi call) and
recombines ``x⁻ = Σ Wᵐ Xᵢ⁺``, ``P⁻ = Σ Wᶜ (Xᵢ⁺ − x⁻)(Xᵢ⁺ − x⁻)ᵀ + Q_c·Δt``. Update redraws the
points from ``(x⁻, P⁻)`` and forms ``P_yy = Σ Wᶜ (Yᵢ − ŷ)(Yᵢ − ŷ)ᵀ + R``,
``P_xy = Σ Wᶜ (Xᵢ − x⁻)(Yᵢ − ŷ)ᵀ``, ``K = P_xy P_yy⁻¹``, ``x⁺ = x⁻ + K(y − ŷ)``,
``P⁺ = P⁻ − K P_yy Kᵀ``. For the linear (state-selecting) sensors here this equals the
Kalman update exactly; the nonlinearity enters through the prediction.

The defaults ``α = 1, β = 2, κ = 0`` give ``W₀ᵐ = 0`` and only positive covariance weights
(``W₀ᶜ = 2``), so ``P⁻`` is positive semi-definite by construction. If ``P`` is not
numerically positive definite the factorisation retries with a growing diagonal jitter
(``ε·mean(diag P)``, ×10 per try) and finally clips the eigenvalues; each fallback is
counted in :attr:`UnscentedKalmanFilter.jitter_events`. Sigma points are clipped to the
model's state bounds before propagation so the model is never evaluated outside its domain.

Example:
    >>> from processtwin.physics.cstr import van_de_vusse
    >>> m = van_de_vusse()
    >>> ukf = UnscentedKalmanFilter(m, UKFConfig(measurement_std={"T_R": 0.1}))
    >>> ukf.predict(m.u0, dt=1 / 3600)
    >>> ukf.update({"T_R": 134.2})
    >>> ukf.x.shape, bool(ukf.std[2] < 1.0)
    ((4,), True)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from processtwin.errors import InvalidInputError
from processtwin.estimation.base import measurement, noise_setup, unpack_snapshot
from processtwin.estimation.ekf import EKFConfig
from processtwin.estimation.transition import rk4_function
from processtwin.physics.model import ProcessModel

__all__ = ["UKFConfig", "UnscentedKalmanFilter", "merwe_weights", "robust_cholesky"]

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, kw_only=True)
class UKFConfig(EKFConfig):
    """EKF tuning plus the sigma-point spread ``alpha``, ``beta``, ``kappa`` and ``jitter``."""

    alpha: float = 1.0
    beta: float = 2.0
    kappa: float = 0.0
    jitter: float = 1e-9

    def __post_init__(self) -> None:
        super().__post_init__()
        if not (0.0 < self.alpha <= 1.0):
            raise InvalidInputError(f"UKFConfig: alpha must be in (0, 1], not {self.alpha}")
        if not (self.beta >= 0.0 and self.jitter > 0.0):
            raise InvalidInputError("UKFConfig: beta must be >= 0 and jitter > 0")


def merwe_weights(n: int, alpha: float, beta: float, kappa: float
                  ) -> tuple[float, F64, F64]:
    """``(√(n+λ), Wᵐ, Wᶜ)`` for ``2n + 1`` scaled sigma points."""
    lam = alpha**2 * (n + kappa) - n
    if not n + lam > 0:
        raise InvalidInputError(f"UKF: n + λ must be > 0 (n={n}, α={alpha}, κ={kappa})")
    wm = np.full(2 * n + 1, 0.5 / (n + lam))
    wc = wm.copy()
    wm[0] = lam / (n + lam)
    wc[0] = wm[0] + 1.0 - alpha**2 + beta
    return float(np.sqrt(n + lam)), wm, wc


def robust_cholesky(p: F64, jitter: float, tries: int = 6) -> tuple[F64, int]:
    """Lower ``L`` with ``L Lᵀ ≈ P``, and how many fallbacks it took (0: none)."""
    sym = 0.5 * (p + p.T)
    scale = max(float(np.mean(np.abs(np.diag(sym)))), np.finfo(float).tiny)
    eye = np.eye(len(p))
    eps = jitter * scale
    for k in range(tries + 1):
        try:
            shift = eps * 10.0 ** (k - 1) * eye if k else 0.0 * eye
            return np.asarray(np.linalg.cholesky(sym + shift), dtype=np.float64), k
        except np.linalg.LinAlgError:
            continue
    w, v = np.linalg.eigh(sym)
    fixed = (v * np.clip(w, eps, None)) @ v.T
    return np.asarray(np.linalg.cholesky(0.5 * (fixed + fixed.T)), dtype=np.float64), tries + 1


class UnscentedKalmanFilter:
    """A UKF with the same face as :class:`~processtwin.estimation.ekf.ExtendedKalmanFilter`."""

    def __init__(self, model: ProcessModel, config: UKFConfig,
                 x0: npt.ArrayLike | None = None) -> None:
        self.model = model
        self.config = config
        q, p0 = noise_setup(model, config.measurement_std, config.process_std,
                            config.initial_std, "UKF")
        self._qc = np.diag(q)
        self.x: F64 = np.array(model.x0 if x0 is None else x0, dtype=np.float64)
        self.P: F64 = np.diag(p0)
        n = model.nx
        self._gamma, self._wm, self._wc = merwe_weights(n, config.alpha, config.beta,
                                                        config.kappa)
        self._pv = model.param_vector(config.params)
        step = rk4_function(model, config.substeps)
        self._step = step
        self._step_map = step.map(2 * n + 1)
        self._lo = np.array([v.lo for v in model.states])
        self._hi = np.array([v.hi for v in model.states])
        self.jitter_events = 0

    @property
    def std(self) -> F64:
        return np.sqrt(np.clip(np.diag(self.P), 0.0, None))

    def sigma_points(self) -> F64:
        """The ``(n, 2n + 1)`` sigma points of ``(x, P)``."""
        chol, fallbacks = robust_cholesky(self.P, self.config.jitter)
        self.jitter_events += fallbacks > 0
        d = self._gamma * chol
        return np.concatenate([self.x[:, None], self.x[:, None] + d, self.x[:, None] - d],
                              axis=1)

    def predict(self, u: npt.ArrayLike, dt: float) -> None:
        """Propagate by ``dt`` model time units under constant inputs ``u``."""
        if dt <= 0:
            return
        pts = np.clip(self.sigma_points(), self._lo[:, None], self._hi[:, None])
        prop = np.array(self._step_map(pts, np.asarray(u, dtype=np.float64), self._pv, dt))
        x = prop @ self._wm
        dev = prop - x[:, None]
        p = (dev * self._wc) @ dev.T + self._qc * dt
        self.x = np.clip(x, self._lo, self._hi)
        self.P = 0.5 * (p + p.T)

    def predict_state(self, u: npt.ArrayLike, dt: float) -> F64:
        """The unscented mean ``dt`` ahead under ``u``, leaving the filter unchanged."""
        if dt <= 0:
            return self.x.copy()
        pts = np.clip(self.sigma_points(), self._lo[:, None], self._hi[:, None])
        prop = np.array(self._step_map(pts, np.asarray(u, dtype=np.float64), self._pv, dt))
        return np.clip(prop @ self._wm, self._lo, self._hi)

    def update(self, y: Mapping[str, float], weights: Mapping[str, float] | None = None, *,
               variance: Mapping[str, float] | None = None) -> None:
        """Correct with measured states ``y`` (``weights``/``variance`` as for the EKF)."""
        m = measurement(self.model, self.config.measurement_std, y, weights, variance)
        if len(m.idx) == 0:
            return
        pts = self.sigma_points()
        ys = pts[m.idx, :]
        y_hat = ys @ self._wm
        dy = ys - y_hat[:, None]
        dx = pts - (pts @ self._wm)[:, None]
        p_yy = (dy * self._wc) @ dy.T + np.diag(m.r)
        p_xy = (dx * self._wc) @ dy.T
        k = np.linalg.solve(p_yy, p_xy.T).T
        self.x = np.clip(self.x + k @ (m.y - y_hat), self._lo, self._hi)
        p = self.P - k @ p_yy @ k.T
        self.P = 0.5 * (p + p.T)

    def snapshot(self) -> tuple[F64, F64]:
        return self.x.copy(), self.P.copy()

    def restore(self, snap: object) -> None:
        self.x, self.P = unpack_snapshot(snap)
