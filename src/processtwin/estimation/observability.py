"""Observability and identifiability reports for a chosen sensor set.

**State observability** (can the sensors tell us the state?), at an operating point, two
ways:

* *Rank test* of the sampled linearisation ``Φ = ∂F/∂x`` (one RK4 step of ``Δt``) with
  ``C`` selecting the sensed states (Kalman 1960; Chen, *Linear System Theory and Design*,
  §6.2)::

      O = [C; CΦ; CΦ²; …; CΦⁿ⁻¹],   scaled  Õ = R^{-1/2} O S_x

  The state ``x_i`` is observable iff ``e_i`` lies in the row space of ``O``; the rank and
  the singular values of ``Õ`` (states scaled by ``S_x = diag(max(|nominal|, 1))``, sensors
  by their noise σ) show how well.
* *Observability Gramian along the trajectory* over the horizon (the Fisher information of
  the initial state, Krener & Ide, CDC 2009)::

      W = Σₖ S_kᵀ Cᵀ R⁻¹ C S_k,   S_k = ∂x_k/∂x₀     Cov(x_K) ⪰ S_K W⁻¹ S_Kᵀ

  whose bound on the current state's covariance (Cramér–Rao, no process noise) says how
  well each state can be estimated at all. A state is *observable* if it passes the rank
  test and its bound is within ``required_rel_std`` of its scale, *weakly observable* if it
  passes the rank test only, else *unobservable*.

**Parameter identifiability** (can the data pin the parameters?): the sensitivity matrix
``S_θ = ∂y/∂θ`` over the experiment, columns scaled by |θ| and rows by 1/σ. Its rank,
condition number and the collinearity index ``γ = 1/√λ_min(ŜᵀŜ)`` of the unit-length columns
(Brun, Reichert & Künsch, *Water Research* 35 (2001) 2035–2053; γ > 15 is poorly
identifiable) give the verdict; the right singular vector of a zero singular value names
the non-identifiable combination.

Example (the question "can we estimate C_b from T_R and T_K alone?"):
    >>> from processtwin.physics.cstr import van_de_vusse
    >>> rep = observability_report(van_de_vusse(), AnalysisConfig(sensors={"T_R": 0.1,
    ...                                                                    "T_K": 0.1}))
    >>> rep.rank, rep.states["C_b"].verdict
    (4, 'observable')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from processtwin.errors import InvalidInputError
from processtwin.estimation.sensitivity import Trajectory
from processtwin.estimation.transition import rk4_function
from processtwin.physics.model import ProcessModel

__all__ = ["AnalysisConfig", "IdentifiabilityReport", "ObservabilityReport", "StateVerdict",
           "identifiability_report", "observability_report"]

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, kw_only=True, eq=False)
class AnalysisConfig:
    """The sensors (state -> noise σ, state unit) and the experiment.

    ``x0`` defaults to the steady state at ``u``; ``u`` is one input vector held (default:
    the model's nominal inputs) or a ``(K−1, nu)`` sequence; ``params`` override nominal
    parameters; the horizon ``horizon_s`` is sampled every ``sample_s`` seconds.
    """

    sensors: Mapping[str, float]
    sample_s: float = 5.0
    horizon_s: float = 600.0
    x0: tuple[float, ...] | None = None
    u: F64 | None = None
    params: Mapping[str, float] = field(default_factory=dict)
    required_rel_std: float = 0.05
    rank_rtol: float = 1e-9
    substeps: int = 2

    def samples(self) -> int:
        return round(self.horizon_s / self.sample_s) + 1

    def check(self, model: ProcessModel) -> None:
        problems: list[str] = []
        if not self.sensors:
            problems.append("no sensors")
        bad = set(self.sensors) - set(model.state_names)
        if bad:
            problems.append(f"sensors must be states of {model.name}: {sorted(bad)}")
        if any(not s > 0 for s in self.sensors.values()):
            problems.append("sensor σ must be > 0")
        if not (0 < self.sample_s < self.horizon_s):
            problems.append("need 0 < sample_s < horizon_s")
        if self.x0 is not None and len(self.x0) != model.nx:
            problems.append(f"x0 must have {model.nx} values")
        if not self.required_rel_std > 0:
            problems.append("required_rel_std must be > 0")
        if problems:
            raise InvalidInputError("AnalysisConfig: " + "; ".join(problems))


@dataclass(frozen=True, slots=True)
class StateVerdict:
    """One state: in the observable subspace?, its Cramér–Rao std, and the verdict."""

    in_observable_subspace: bool
    crb_std: float
    required_std: float
    verdict: str  # "observable" | "weakly observable" | "unobservable"

    def to_dict(self) -> dict[str, Any]:
        return {"in_observable_subspace": self.in_observable_subspace,
                "crb_std": self.crb_std, "required_std": self.required_std,
                "verdict": self.verdict}


@dataclass(frozen=True, slots=True)
class ObservabilityReport:
    """The answer for one sensor set at one operating point."""

    model: str
    sensors: tuple[str, ...]
    n: int
    rank: int
    singular_values: tuple[float, ...]
    condition_number: float
    gramian_singular_values: tuple[float, ...]
    states: dict[str, StateVerdict]
    units: dict[str, str]
    horizon_s: float
    sample_s: float

    @property
    def observable(self) -> bool:
        return self.rank == self.n

    def verdict(self, state: str | None = None) -> str:
        """A sentence: the whole system, or whether ``state`` can be estimated."""
        sens = ", ".join(self.sensors)
        if state is None:
            kind = "observable" if self.observable else "not observable"
            return (f"{self.model} is locally {kind} from {sens} (rank {self.rank} of "
                    f"{self.n}, condition number {self.condition_number:.3g})")
        v = self.states[state]
        unit = self.units.get(state, "")
        return (f"{state} is {v.verdict} from {sens}: Cramér–Rao std {v.crb_std:.3g} {unit} "
                f"over {self.horizon_s:g} s at {self.sample_s:g} s sampling (required "
                f"{v.required_std:.3g} {unit}); rank {self.rank} of {self.n}")

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "sensors": list(self.sensors), "n": self.n,
                "rank": self.rank, "observable": self.observable,
                "singular_values": list(self.singular_values),
                "condition_number": self.condition_number,
                "gramian_singular_values": list(self.gramian_singular_values),
                "states": {k: v.to_dict() for k, v in self.states.items()},
                "horizon_s": self.horizon_s, "sample_s": self.sample_s,
                "verdict": self.verdict(),
                "state_verdicts": {k: self.verdict(k) for k in self.states}}


@dataclass(frozen=True, slots=True)
class IdentifiabilityReport:
    """Parameter identifiability from the scaled output sensitivities."""

    model: str
    sensors: tuple[str, ...]
    params: tuple[str, ...]
    rank: int
    singular_values: tuple[float, ...]
    condition_number: float
    collinearity_index: float
    crb_rel_std: dict[str, float]
    null_direction: dict[str, float]
    identifiable: bool
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "sensors": list(self.sensors),
                "params": list(self.params), "rank": self.rank,
                "singular_values": list(self.singular_values),
                "condition_number": self.condition_number,
                "collinearity_index": self.collinearity_index,
                "crb_rel_std": self.crb_rel_std, "null_direction": self.null_direction,
                "identifiable": self.identifiable, "reason": self.reason}


def _experiment(model: ProcessModel, cfg: AnalysisConfig) -> tuple[F64, F64, F64, int]:
    k = cfg.samples()
    u = model.u0 if cfg.u is None else np.asarray(cfg.u, dtype=np.float64)
    if u.ndim == 1:
        u = np.tile(u, (k - 1, 1))
    if u.shape != (k - 1, model.nu):
        raise InvalidInputError(f"AnalysisConfig: u must be ({k - 1}, {model.nu})")
    x0 = (model.steady_state(u[0], cfg.params) if cfg.x0 is None
          else np.asarray(cfg.x0, dtype=np.float64))
    dt = np.full(k - 1, cfg.sample_s / model.seconds_per_time_unit)
    return x0, u, dt, k


def _svd_rank(m: F64, rtol: float) -> tuple[int, F64, F64]:
    _, sv, vt = np.linalg.svd(m, full_matrices=False)
    rank = int(np.sum(sv > rtol * sv[0])) if sv.size and sv[0] > 0 else 0
    return rank, sv, vt


def observability_report(model: ProcessModel, cfg: AnalysisConfig) -> ObservabilityReport:
    """Local observability of ``model`` from ``cfg.sensors`` at ``cfg``'s operating point."""
    cfg.check(model)
    x0, u, dt, k = _experiment(model, cfg)
    names = tuple(cfg.sensors)
    idx = np.array([model.state_names.index(n) for n in names], dtype=np.intp)
    sig = np.array([cfg.sensors[n] for n in names])
    scale = np.array([max(abs(v.nominal), 1.0) for v in model.states])
    n = model.nx
    # rank test on the sampled linearisation
    step = rk4_function(model, cfg.substeps, jacobian=True)
    phi = np.array(step(x0, u[0], model.param_vector(cfg.params), dt[0])[1])
    rows, cphi = [], np.eye(n)[idx]
    for _ in range(n):
        rows.append(cphi)
        cphi = cphi @ phi
    o_scaled = (np.vstack(rows) / np.tile(sig, n)[:, None]) * scale
    rank, sv, vt = _svd_rank(o_scaled, cfg.rank_rtol)
    basis = vt[:rank]
    in_space = np.linalg.norm(np.eye(n) - basis.T @ basis, axis=0) < 1e-6
    # Gramian along the trajectory: Fisher information of x0, bound on the current state
    traj = Trajectory(model, [], k, cfg.substeps, cfg.params)
    _, _, s_x = traj.sensitivities(x0, np.zeros(0), u, dt)
    sy = s_x[:, idx, :] / sig[None, :, None]            # (K, ny, nx), whitened
    gram = np.einsum("kia,kib->ab", sy, sy)
    gram_scaled = gram * np.outer(scale, scale)
    g_sv = np.linalg.svd(gram_scaled, compute_uv=False)
    s_end = s_x[-1] * (1.0 / scale)[None, :]            # ∂x_K/∂(x0/scale)
    cov_scaled = np.linalg.pinv(gram_scaled, rcond=1e-15, hermitian=True)
    crb = np.sqrt(np.clip(np.diag(s_end @ cov_scaled @ s_end.T), 0.0, None))
    states = {}
    for i, name in enumerate(model.state_names):
        need = cfg.required_rel_std * scale[i]
        if not in_space[i] or rank == 0:
            states[name] = StateVerdict(False, float("inf"), float(need), "unobservable")
            continue
        verdict = "observable" if crb[i] <= need else "weakly observable"
        states[name] = StateVerdict(True, float(crb[i]), float(need), verdict)
    return ObservabilityReport(
        model=model.name, sensors=names, n=n, rank=rank,
        singular_values=tuple(float(v) for v in sv),
        condition_number=float(sv[0] / sv[rank - 1]) if rank else float("inf"),
        gramian_singular_values=tuple(float(v) for v in g_sv), states=states,
        units={v.name: v.unit for v in model.states}, horizon_s=cfg.horizon_s,
        sample_s=cfg.sample_s)


def identifiability_report(model: ProcessModel, params: Sequence[str], cfg: AnalysisConfig,
                           max_collinearity: float = 15.0) -> IdentifiabilityReport:
    """Can ``params`` be identified from ``cfg.sensors`` over ``cfg``'s experiment?

    The initial state is taken as known (``x0``); the verdict needs full rank, a
    collinearity index ≤ ``max_collinearity`` and a relative Cramér–Rao std within
    ``required_rel_std`` for every parameter.
    """
    cfg.check(model)
    x0, u, dt, k = _experiment(model, cfg)
    names = tuple(cfg.sensors)
    idx = np.array([model.state_names.index(n) for n in names], dtype=np.intp)
    sig = np.array([cfg.sensors[n] for n in names])
    pv = model.params_with(cfg.params)
    theta = np.array([pv[p] for p in params])
    traj = Trajectory(model, params, k, cfg.substeps, cfg.params)
    _, s_th, _ = traj.sensitivities(x0, theta, u, dt)
    th_scale = np.where(theta != 0, np.abs(theta), 1.0)
    s = (s_th[:, idx, :] / sig[None, :, None]).reshape(-1, len(params)) * th_scale
    rank, sv, vt = _svd_rank(s, cfg.rank_rtol)
    norms = np.linalg.norm(s, axis=0)
    s_hat = s / np.where(norms > 0, norms, 1.0)
    lam_min = float(np.linalg.eigvalsh(s_hat.T @ s_hat)[0])
    gamma = 1.0 / np.sqrt(lam_min) if lam_min > 1e-300 else float("inf")
    full = rank == len(params)
    crb = np.sqrt(np.diag(np.linalg.inv(s.T @ s))) if full else np.full(len(params), np.inf)
    null = vt[-1] if not full else np.zeros(len(params))
    reasons = []
    if not full:
        combo = " + ".join(f"{c:+.2f}·ln {p}" for p, c in zip(params, null, strict=True)
                           if abs(c) > 1e-3)
        reasons.append(f"rank {rank} < {len(params)}: {combo} is not identifiable")
    elif gamma > max_collinearity:
        reasons.append(f"collinearity index {gamma:.3g} > {max_collinearity:g}")
    poor = [p for p, c in zip(params, crb, strict=True) if full and c > cfg.required_rel_std]
    if poor:
        reasons.append(f"relative Cramér–Rao std above {cfg.required_rel_std:g} for {poor}")
    ok = not reasons
    return IdentifiabilityReport(
        model=model.name, sensors=names, params=tuple(params), rank=rank,
        singular_values=tuple(float(v) for v in sv),
        condition_number=float(sv[0] / sv[-1]) if sv[-1] > 0 else float("inf"),
        collinearity_index=float(gamma),
        crb_rel_std={p: float(c) for p, c in zip(params, crb, strict=True)},
        null_direction={p: float(c) for p, c in zip(params, null, strict=True)},
        identifiable=ok, reason="identifiable" if ok else "; ".join(reasons))
