"""Offline parameter estimation from plant history: weighted least squares with CIs.

Given sampled inputs and measurements, the free parameters ``θ`` (and, by default, the
unknown initial state ``x₀``) minimise the weighted residual sum of squares over the
simulated trajectory::

    χ²(θ, x₀) = Σₖ Σᵢ (wq_{ki}/σᵢ²) (y_{ki} − x_i(t_k; θ, x₀))²

solved by SciPy's trust-region-reflective ``least_squares`` (bounds respected) with exact
CasADi sensitivities (:class:`~processtwin.estimation.sensitivity.Trajectory`). ``wq`` is a
quality weight per sample (0 skips it; NaN values are skipped too).

**Confidence intervals** come from the Fisher information of the weighted residual
Jacobian ``J = ∂r/∂(θ, x₀)`` (Bard, *Nonlinear Parameter Estimation*, 1974, §7-5; Seber &
Wild, *Nonlinear Regression*, 1989, §5.1)::

    Cov = s² (Jᵀ J)⁻¹,   s² = χ²_min/(m − p)   (or 1 if the σᵢ are trusted)
    θ_j ± t_{(1+c)/2, m−p} · √Cov_jj

**Identifiability.** The Fisher matrix's singular values (columns scaled by |θ|) give the
rank and condition number; a rank-deficient direction marks the parameters in it
structurally non-identifiable. The profile likelihood (Raue et al., *Bioinformatics* 25
(2009) 1923–1929) then re-fits the others with θ_j held at ``θ̂_j (1 ± δ)``, δ doubling
from half the Wald half-width up to ``profile_span`` (at most ``profile_points`` re-fits a
side): ``Δχ²(θ_j) = (χ²(θ_j) − χ²_min)/s²``. If it stays below the χ²₁ quantile
``χ²_{1,c}`` on a side, θ_j is flagged *practically non-identifiable* (its likelihood CI is
open there).

Example:
    >>> import numpy as np
    >>> from processtwin.physics.cstr import van_de_vusse
    >>> from processtwin.physics.simulate import rk4
    >>> m = van_de_vusse()
    >>> t = np.arange(41) * 30 / 3600
    >>> u = np.tile(m.u0, (41, 1)); u[20:, 0] *= 1.2
    >>> x = [m.steady_state(m.u0, {"K_w": 3600.0})]
    >>> for k in range(40):
    ...     x.append(rk4(m, x[-1], u[k], t[k + 1] - t[k], {"K_w": 3600.0}, substeps=4))
    >>> xs = np.array(x)
    >>> h = History(t=t, u=u, y={"T_R": xs[:, 2], "T_K": xs[:, 3]})
    >>> cfg = ParamEstConfig(params=("K_w",), measurement_std={"T_R": 0.1, "T_K": 0.1},
    ...                      profile=False, scale_by_residual=False)
    >>> r = estimate_parameters(m, h, cfg)
    >>> round(r.estimate["K_w"])
    3600
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import least_squares
from scipy.stats import chi2
from scipy.stats import t as student_t

from processtwin.errors import InvalidInputError, SolverError
from processtwin.estimation.sensitivity import Trajectory
from processtwin.physics.model import ProcessModel

__all__ = ["History", "ParamEstConfig", "ParamEstResult", "Profile", "estimate_parameters"]

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, kw_only=True, eq=False)
class History:
    """Sampled history: times ``t`` (K,) in model time units, inputs ``u`` (K, nu) held over
    ``[t_k, t_{k+1})``, measured states ``y`` (name -> (K,), NaN missing) and optional
    quality ``weights`` (name -> (K,), 0 bad, < 1 uncertain)."""

    t: F64
    u: F64
    y: Mapping[str, F64]
    weights: Mapping[str, F64] = field(default_factory=dict)

    def validate(self, model: ProcessModel) -> None:
        problems: list[str] = []
        k = len(self.t)
        if k < 2 or np.any(np.diff(self.t) <= 0):
            problems.append("t needs >= 2 strictly increasing times")
        if np.shape(self.u) != (k, model.nu):
            problems.append(f"u must be ({k}, {model.nu}), not {np.shape(self.u)}")
        for n, v in {**self.y, **self.weights}.items():
            if n not in model.state_names:
                problems.append(f"{n!r} is not a state of {model.name}")
            elif np.shape(v) != (k,):
                problems.append(f"{n!r} must have shape ({k},)")
        if not self.y:
            problems.append("no measurements")
        if problems:
            raise InvalidInputError("History: " + "; ".join(problems))


@dataclass(frozen=True, kw_only=True)
class ParamEstConfig:
    """What to estimate and how.

    ``params``: the free parameters; ``initial_guess`` per parameter (default nominal);
    ``bounds`` per parameter (default ``(0, ∞)`` for a positive nominal, else free);
    ``free_initial_states``: states whose initial value is fitted (None: all);
    ``x0``: initial-state guess (default: steady state at ``u[0]``, measured values
    substituted); ``scale_by_residual``: scale the covariance by ``s²`` (else trust σ).
    """

    params: tuple[str, ...]
    measurement_std: Mapping[str, float]
    initial_guess: Mapping[str, float] = field(default_factory=dict)
    bounds: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    model_params: Mapping[str, float] = field(default_factory=dict)
    free_initial_states: tuple[str, ...] | None = None
    x0: tuple[float, ...] | None = None
    substeps: int = 2
    confidence: float = 0.95
    scale_by_residual: bool = True
    profile: bool = True
    profile_span: float = 0.5
    profile_points: int = 8
    rank_rtol: float = 1e-7

    def __post_init__(self) -> None:
        problems = []
        if not self.params:
            problems.append("params is empty")
        if not 0 < self.confidence < 1:
            problems.append("confidence must be in (0, 1)")
        if not 0 < self.profile_span < 1 or self.profile_points < 1 or self.substeps < 1:
            problems.append("profile_span in (0, 1), profile_points and substeps >= 1")
        if any(not s > 0 for s in self.measurement_std.values()):
            problems.append("measurement_std must be > 0")
        if problems:
            raise InvalidInputError("ParamEstConfig: " + "; ".join(problems))


@dataclass(frozen=True, slots=True)
class Profile:
    """The profile likelihood of one parameter: values, Δχ², likelihood CI, verdict."""

    values: tuple[float, ...]
    delta_chi2: tuple[float, ...]
    threshold: float
    ci: tuple[float, float]  # ±inf where the profile never crosses the threshold
    identifiable: bool

    def to_dict(self) -> dict[str, Any]:
        return {"values": list(self.values), "delta_chi2": list(self.delta_chi2),
                "threshold": self.threshold, "ci": list(self.ci),
                "identifiable": self.identifiable}


@dataclass(frozen=True, slots=True)
class ParamEstResult:
    """Estimates with their uncertainty and identifiability."""

    names: tuple[str, ...]
    estimate: dict[str, float]
    std: dict[str, float]
    ci: dict[str, tuple[float, float]]
    correlation: F64
    x0: dict[str, float]
    chi2: float
    dof: int
    s2: float
    singular_values: tuple[float, ...]
    rank: int
    condition_number: float
    identifiable: dict[str, bool]
    profiles: dict[str, Profile]
    nfev: int
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"names": list(self.names), "estimate": self.estimate, "std": self.std,
                "ci": {k: list(v) for k, v in self.ci.items()},
                "correlation": self.correlation.tolist(), "x0": self.x0, "chi2": self.chi2,
                "dof": self.dof, "s2": self.s2, "singular_values": list(self.singular_values),
                "rank": self.rank, "condition_number": self.condition_number,
                "identifiable": self.identifiable,
                "profiles": {k: v.to_dict() for k, v in self.profiles.items()},
                "nfev": self.nfev, "message": self.message}


class _Problem:
    """Residuals and Jacobian in scaled variables ``z``: θ = z·sθ, x₀(free) = z·sx."""

    def __init__(self, model: ProcessModel, hist: History, cfg: ParamEstConfig) -> None:
        self.model = model
        self.traj = Trajectory(model, cfg.params, len(hist.t), cfg.substeps, cfg.model_params)
        self.u = np.asarray(hist.u, dtype=np.float64)[:-1]
        self.dt = np.diff(np.asarray(hist.t, dtype=np.float64))
        nx, k = model.nx, len(hist.t)
        y = np.full((k, nx), np.nan)
        w = np.zeros((k, nx))
        for n, v in hist.y.items():
            i = model.state_names.index(n)
            if n not in cfg.measurement_std:
                raise InvalidInputError(f"paramest: no measurement_std for {n!r}")
            y[:, i] = v
            wq = np.asarray(hist.weights.get(n, np.ones(k)), dtype=np.float64)
            w[:, i] = np.clip(wq, 0.0, 1.0) / cfg.measurement_std[n] ** 2
        w[~np.isfinite(y)] = 0.0
        self.mask = w > 0
        self.y = y[self.mask]
        self.sqw = np.sqrt(w[self.mask])
        if self.mask.sum() <= len(cfg.params):
            raise InvalidInputError("paramest: fewer usable measurements than parameters")
        free = model.state_names if cfg.free_initial_states is None else cfg.free_initial_states
        bad = set(free) - set(model.state_names)
        if bad:
            raise InvalidInputError(f"paramest: unknown initial states {sorted(bad)}")
        self.x_idx = np.array([model.state_names.index(n) for n in free], dtype=np.intp)
        guess = model.params_with({**cfg.model_params, **cfg.initial_guess})
        th0 = np.array([guess[n] for n in cfg.params])
        self.s_th = np.where(th0 != 0, np.abs(th0), 1.0)
        self.x0 = self._x0_guess(hist, cfg, guess)
        self.s_x = np.maximum(np.abs(self.x0[self.x_idx]), 1.0)
        lo, hi = [], []
        for n, v in zip(cfg.params, th0, strict=True):
            b = cfg.bounds.get(n, (0.0, np.inf) if v > 0 else (-np.inf, np.inf))
            lo.append(b[0])
            hi.append(b[1])
        xl = np.array([model.states[i].lo for i in self.x_idx])
        xh = np.array([model.states[i].hi for i in self.x_idx])
        self.lb = np.r_[np.array(lo) / self.s_th, xl / self.s_x]
        self.ub = np.r_[np.array(hi) / self.s_th, xh / self.s_x]
        self.z0 = np.clip(np.r_[th0 / self.s_th, self.x0[self.x_idx] / self.s_x],
                          self.lb, self.ub)
        self.n_th = len(cfg.params)

    def _x0_guess(self, hist: History, cfg: ParamEstConfig, guess: Mapping[str, float]
                  ) -> F64:
        if cfg.x0 is not None:
            x0 = np.array(cfg.x0, dtype=np.float64)
            if x0.shape != (self.model.nx,):
                raise InvalidInputError(f"paramest: x0 must have {self.model.nx} values")
            return x0
        try:
            x0 = self.model.steady_state(hist.u[0], guess)
        except SolverError:
            x0 = self.model.x0.copy()
        for n, v in hist.y.items():
            if np.isfinite(v[0]):
                x0[self.model.state_names.index(n)] = v[0]
        lo = np.array([s.lo for s in self.model.states])
        hi = np.array([s.hi for s in self.model.states])
        return np.asarray(np.clip(x0, lo, hi), dtype=np.float64)

    def split(self, z: F64) -> tuple[F64, F64]:
        th = z[: self.n_th] * self.s_th
        x0 = self.x0.copy()
        x0[self.x_idx] = z[self.n_th:] * self.s_x
        return th, x0

    def residual(self, z: F64) -> F64:
        th, x0 = self.split(z)
        xs = self.traj.simulate(x0, th, self.u, self.dt)
        r = self.sqw * (self.y - xs[self.mask])
        return np.asarray(np.where(np.isfinite(r), r, 1e10), dtype=np.float64)

    def jacobian(self, z: F64) -> F64:
        th, x0 = self.split(z)
        _, s_th, s_x = self.traj.sensitivities(x0, th, self.u, self.dt)
        j = np.concatenate([s_th[self.mask] * self.s_th,
                            s_x[self.mask][:, self.x_idx] * self.s_x], axis=1)
        return np.asarray(-self.sqw[:, None] * j, dtype=np.float64)


def _fit(fun: Callable[[F64], F64], jac: Callable[[F64], F64], z0: F64, lb: F64, ub: F64
         ) -> Any:
    try:
        return least_squares(fun, z0, jac=jac, bounds=(lb, ub), method="trf",
                             x_scale="jac", xtol=1e-12, ftol=1e-12, gtol=1e-10, max_nfev=200)
    except (ValueError, np.linalg.LinAlgError) as exc:
        raise SolverError(f"paramest: least squares failed: {exc}") from exc


def _offsets(rel_half_width: float, span: float, points: int) -> list[float]:
    """Relative offsets for one side: doubling from half the Wald half-width, up to span."""
    h = rel_half_width / 2.0 if 0.0 < rel_half_width < span else span / points
    out: list[float] = []
    while len(out) < points - 1 and h < span:
        out.append(h)
        h *= 2.0
    return [*out, span]


def _refit(pb: _Problem, z: F64, j: int, free: npt.NDArray[np.intp]) -> float:
    """χ² with variable ``j`` held at ``z[j]`` and the ``free`` ones re-fitted (in place)."""
    if not len(free):
        return float(np.sum(pb.residual(z) ** 2))
    base = z.copy()

    def fun(zf: F64) -> F64:
        zz = base.copy()
        zz[free] = zf
        return pb.residual(zz)

    def jac(zf: F64) -> F64:
        zz = base.copy()
        zz[free] = zf
        return pb.jacobian(zz)[:, free]

    sol = _fit(fun, jac, np.clip(z[free], pb.lb[free], pb.ub[free]), pb.lb[free], pb.ub[free])
    z[free] = sol.x
    return 2.0 * float(sol.cost)


def _profile(pb: _Problem, z_hat: F64, j: int, chi2_min: float, s2: float,
             cfg: ParamEstConfig, threshold: float, rel_half_width: float) -> Profile:
    """Re-fit the other variables with variable ``j`` held at θ̂_j(1 ± δ), both sides."""
    free = np.array([i for i in range(len(z_hat)) if i != j], dtype=np.intp)
    vals: list[tuple[float, float]] = [(float(z_hat[j] * pb.s_th[j]), 0.0)]
    ends = [-np.inf, np.inf]
    offsets = _offsets(rel_half_width, cfg.profile_span, cfg.profile_points)
    for side, sign in ((0, -1.0), (1, 1.0)):
        z = z_hat.copy()
        prev = (float(z_hat[j]), 0.0)
        for off in offsets:
            zj = float(z_hat[j] * (1.0 + sign * off))
            if not pb.lb[j] <= zj <= pb.ub[j]:
                break
            z[j] = zj
            c = _refit(pb, z, j, free)
            d = max(c - chi2_min, 0.0) / s2
            vals.append((float(zj * pb.s_th[j]), d))
            if d > threshold:
                # √Δχ² is linear in θ for a quadratic profile: interpolate the crossing
                f = (np.sqrt(threshold) - np.sqrt(prev[1])) / (np.sqrt(d) - np.sqrt(prev[1]))
                ends[side] = float((prev[0] + f * (zj - prev[0])) * pb.s_th[j])
                break
            prev = (zj, d)
    vals.sort()
    return Profile(tuple(v for v, _ in vals), tuple(d for _, d in vals), threshold,
                   (ends[0], ends[1]), bool(np.all(np.isfinite(ends))))


def estimate_parameters(model: ProcessModel, history: History, config: ParamEstConfig
                        ) -> ParamEstResult:
    """Fit ``config.params`` to ``history``; CIs, identifiability and profiles."""
    history.validate(model)
    pb = _Problem(model, history, config)
    sol = _fit(pb.residual, pb.jacobian, pb.z0, pb.lb, pb.ub)
    z = np.asarray(sol.x, dtype=np.float64)
    r = pb.residual(z)
    chi2_min = float(r @ r)
    jz = pb.jacobian(z)
    m, p = jz.shape
    dof = max(m - p, 1)
    s2 = chi2_min / dof if config.scale_by_residual else 1.0
    # Fisher information in scaled variables; rank from the singular values of J
    _, sv, vt = np.linalg.svd(jz, full_matrices=False)
    tol = config.rank_rtol * sv[0] if sv.size and sv[0] > 0 else np.inf
    rank = int(np.sum(sv > tol))
    inv_sv2 = np.where(sv > tol, 1.0 / np.where(sv > tol, sv, 1.0) ** 2, 0.0)
    cov_z = s2 * (vt.T * inv_sv2) @ vt
    null = vt[rank:]
    in_null = (np.abs(null).max(axis=0) > 1e-3) if len(null) else np.zeros(p, bool)
    th, x0 = pb.split(z)
    scale = np.r_[pb.s_th, pb.s_x]
    cov = cov_z * np.outer(scale, scale)
    sd = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    sd[in_null] = np.inf
    tq = float(student_t.ppf(0.5 + config.confidence / 2.0, dof))
    names = config.params
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov[: pb.n_th, : pb.n_th] / np.outer(sd[: pb.n_th], sd[: pb.n_th])
    profiles: dict[str, Profile] = {}
    if config.profile:
        thr = float(chi2.ppf(config.confidence, 1))
        for j, n in enumerate(names):
            rel = tq * sd[j] / abs(th[j]) if th[j] != 0 else np.inf
            profiles[n] = _profile(pb, z, j, chi2_min, s2, config, thr, float(rel))
    ident = {n: bool(not in_null[j] and (n not in profiles or profiles[n].identifiable))
             for j, n in enumerate(names)}
    return ParamEstResult(
        names=names, estimate={n: float(th[j]) for j, n in enumerate(names)},
        std={n: float(sd[j]) for j, n in enumerate(names)},
        ci={n: (float(th[j] - tq * sd[j]), float(th[j] + tq * sd[j]))
            for j, n in enumerate(names)},
        correlation=corr, x0=dict(zip(model.state_names, x0.tolist(), strict=True)),
        chi2=chi2_min, dof=dof, s2=s2, singular_values=tuple(float(v) for v in sv),
        rank=rank, condition_number=float(sv[0] / sv[-1]) if sv[-1] > 0 else float("inf"),
        identifiable=ident, profiles=profiles, nfev=int(sol.nfev), message=str(sol.message))
