"""Monte Carlo what-if: fork the twin at *now* and simulate N futures at once.

From the estimate ``x̂`` and its covariance ``P`` (states, then any parameters estimated
jointly) each sample draws its initial state from ``N(x̂, P)`` (through the eigen-
decomposition of ``P``, so a singular or zero ``P`` is fine) clipped to the model's
bounds, and its uncertain parameters from the scenario's distributions. All samples are
integrated together by the batch simulator (:func:`~processtwin.physics.simulate`), in
chunks, piece by piece between the times where an input or a disturbed parameter changes
(a ramp is followed in short constant pieces, each held at its midpoint value).

From the N trajectories come percentile bands per variable on the reported time grid, and
per constraint the share of samples that violate it at any reported time within its
window, with a Wilson score interval (Wilson 1927; Brown, Cai & DasGupta, *Statistical
Science* 16 (2001) 101–133)::

    p̂ = k/n     centre = (p̂ + z²/2n)/(1 + z²/n)
    half-width = z/(1 + z²/n) · √(p̂(1 − p̂)/n + z²/4n²)

A sample whose integration fails is left out and counted in ``n_failed``.

Example:
    >>> import numpy as np
    >>> from processtwin.physics.cstr import van_de_vusse
    >>> m = van_de_vusse()
    >>> s = Scenario(horizon_s=600, dt_s=300, constraints=[{"variable": "T_R", "above": 140}])
    >>> r = run_whatif(m, m.x0, np.diag([0.01, 0.01, 1.0, 1.0]), m.u0, s, n=50, seed=1)
    >>> len(r.t_s), r.constraints[0].probability
    (3, 0.0)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.stats import norm

from processtwin.errors import InvalidInputError, SolverError
from processtwin.physics.batch import simulate
from processtwin.physics.model import ProcessModel
from processtwin.physics.scenarios import Scenarios
from processtwin.whatif.models import (
    Band,
    Change,
    ConstraintResult,
    LogNormal,
    Normal,
    Scenario,
    WhatIfResult,
    scenario_problems,
)

__all__ = ["ProgressFn", "ScenarioError", "run_whatif", "sample_initial", "wilson"]

F64 = npt.NDArray[np.float64]
#: ``progress(samples_done, samples_total)``, called after every chunk.
ProgressFn = Callable[[int, int], None]


class ScenarioError(InvalidInputError):
    """The scenario names states, inputs or parameters the model does not have."""

    def __init__(self, problems: list[dict[str, object]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{'.'.join(map(str, p['loc']))}: {p['msg']}"  # type: ignore[call-overload]
                                   for p in problems))


def wilson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion ``k/n``.

    >>> tuple(round(v, 4) for v in wilson(0, 100))
    (0.0, 0.037)
    """
    if n <= 0:
        return 0.0, 1.0
    z = float(norm.ppf(0.5 + confidence / 2))
    p = k / n
    den = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z / den * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    lo = 0.0 if k == 0 else max(0.0, centre - half)
    hi = 1.0 if k == n else min(1.0, centre + half)
    return lo, hi


def sample_initial(mean: npt.ArrayLike, cov: npt.ArrayLike, n: int,
                   rng: np.random.Generator) -> F64:
    """``n`` draws from ``N(mean, cov)``; ``cov`` may be singular (negative eigenvalues of
    a numerically indefinite ``cov`` are taken as zero)."""
    mu = np.asarray(mean, dtype=np.float64)
    p = np.asarray(cov, dtype=np.float64)
    if p.shape != (len(mu), len(mu)) or not np.all(np.isfinite(p)) \
            or not np.all(np.isfinite(mu)):
        raise InvalidInputError(f"covariance must be a finite {len(mu)}x{len(mu)} matrix "
                                f"and the mean finite, got {p.shape}")
    w, v = np.linalg.eigh(0.5 * (p + p.T))
    root = v * np.sqrt(np.clip(w, 0.0, None))
    z = rng.standard_normal((n, len(mu)))
    out: F64 = mu + z @ root.T
    return out


def _level(base: Any, changes: Sequence[Change], t: float) -> Any:
    """A profile's value at ``t`` (s): ``base`` moved by every change begun by then."""
    level = base
    for c in changes:
        if t < c.at_s:
            break
        target = c.value if c.value is not None else level + c.delta
        if c.ramp_s > 0 and t < c.at_s + c.ramp_s:
            return level + (target - level) * ((t - c.at_s) / c.ramp_s)
        level = target
    return level


def _breaks(changes: Sequence[Change], horizon: float, dt: float) -> set[float]:
    out: set[float] = set()
    for c in changes:
        out.add(c.at_s)
        if c.ramp_s > 0:
            pieces = min(200, max(4, 2 * math.ceil(c.ramp_s / dt)))
            out.update(c.at_s + c.ramp_s * k / pieces for k in range(1, pieces + 1))
    return {b for b in out if 0.0 < b < horizon}


def _sample_params(model: ProcessModel, s: Scenario, base: dict[str, Any], n: int,
                   rng: np.random.Generator, bounds: Mapping[str, tuple[float, float]]
                   ) -> dict[str, Any]:
    out = dict(base)
    out.update(s.params)
    for name, d in s.uncertain.items():
        centre = float(np.mean(base[name]))
        if isinstance(d, Normal):
            mean = centre if d.mean is None else d.mean
            out[name] = np.clip(rng.normal(mean, d.std, n), d.lo, d.hi)  # None: open
        elif isinstance(d, LogNormal):
            med = centre if d.median is None else d.median
            out[name] = med * np.exp(d.sigma * rng.standard_normal(n))
        else:
            out[name] = rng.uniform(d.lo, d.hi, n)
    for name, (lo, hi) in bounds.items():
        if name in out:
            out[name] = np.clip(out[name], lo, hi)
    return out


def _chunk(model: ProcessModel, s: Scenario, x0: F64, params: dict[str, Any],
           edges: F64, grid: F64, u_seg: list[F64]) -> tuple[F64, F64]:
    """States (m, T, nx) on ``grid`` (s) of ``x0``'s samples; NaN rows for failures."""
    m, nx = x0.shape
    scale = model.seconds_per_time_unit
    x = np.full((m, len(grid), nx), np.nan)
    x[:, 0] = x0
    alive = np.ones(m, dtype=bool)
    xc = x0.copy()
    for k in range(len(edges) - 1):
        a, b = edges[k], edges[k + 1]
        mid = 0.5 * (a + b)
        inside = np.flatnonzero((grid > a) & (grid <= b))
        t_eval = np.unique(np.r_[a, grid[inside], b]) / scale
        p = {name: np.broadcast_to(np.asarray(_level(v, s.disturbances.get(name, ()), mid),
                                              dtype=np.float64), (m,))
             for name, v in params.items()}
        idx = np.flatnonzero(alive)
        if len(idx) == 0:
            break
        xs = _integrate(model, s, xc[idx], u_seg[k], {n: v[idx] for n, v in p.items()},
                        t_eval)
        ok = np.all(np.isfinite(xs[:, -1]), axis=1)
        alive[idx[~ok]] = False
        xc[idx] = xs[:, -1]
        pos = np.searchsorted(t_eval, grid[inside] / scale)
        x[idx[:, None], inside[None, :]] = xs[:, pos]
    x[~alive] = np.nan
    return x, alive


def _integrate(model: ProcessModel, s: Scenario, x0: F64, u: F64, p: dict[str, F64],
               t: F64) -> F64:
    """One piece for all samples; on a solver failure, sample by sample (failures NaN)."""
    try:
        sc = Scenarios.of(model, x0=x0, u=u, params=p)
        return np.asarray(simulate(model, sc, t, method=s.method).x, dtype=np.float64)
    except (SolverError, InvalidInputError):
        if len(x0) == 1:
            return np.full((1, len(t), model.nx), np.nan)
    out = np.full((len(x0), len(t), model.nx), np.nan)
    for i in range(len(x0)):
        out[i] = _integrate(model, s, x0[i:i + 1], u, {k: v[i:i + 1] for k, v in p.items()},
                            t)[0]
    return out


def run_whatif(model: ProcessModel, x0: npt.ArrayLike, P: npt.ArrayLike,
               inputs: Mapping[str, float] | npt.ArrayLike, scenario: Scenario, *,
               n: int = 500, seed: int | None = None,
               params: Mapping[str, float] | None = None, joint: Sequence[str] = (),
               joint_bounds: Mapping[str, tuple[float, float]] | None = None,
               chunk: int = 250, progress: ProgressFn | None = None,
               origin: str = "given") -> WhatIfResult:
    """Simulate ``scenario`` from ``(x0, P)`` under the current ``inputs`` over ``n`` samples.

    ``x0`` and ``P`` cover the model's states followed by the parameters named in ``joint``
    (estimated jointly, e.g. random walks), whose samples then vary per run; ``params``
    overrides nominal parameter values; ``joint_bounds`` clips the joint parameters.
    Raises :class:`ScenarioError` naming every unknown state, input or parameter.
    """
    started = time.perf_counter()
    problems = scenario_problems(model, scenario, tuple(joint))
    if problems:
        raise ScenarioError(problems)
    if n < 1 or chunk < 1:
        raise InvalidInputError("n and chunk must be >= 1")
    u0 = (np.array([float(inputs[k]) for k in model.input_names])
          if isinstance(inputs, Mapping) else np.asarray(inputs, dtype=np.float64))
    if u0.shape != (model.nu,) or not np.all(np.isfinite(u0)):
        raise InvalidInputError(f"inputs must be {model.nu} finite values, got {u0}")
    nx, nj = model.nx, len(joint)
    mean = np.asarray(x0, dtype=np.float64)
    if mean.shape != (nx + nj,):
        raise InvalidInputError(f"x0 must have {nx + nj} entries (states, then {list(joint)})")
    rng = np.random.default_rng(seed)
    draws = sample_initial(mean, P, n, rng)
    lo = np.array([v.lo for v in model.states])
    hi = np.array([v.hi for v in model.states])
    xs0 = np.clip(draws[:, :nx], lo, hi)
    base: dict[str, Any] = dict(model.params_with(params))
    for j, name in enumerate(joint):
        base[name] = draws[:, nx + j]
    bounds = {v.name: (v.lo, v.hi) for v in model.params if np.isfinite([v.lo, v.hi]).any()}
    bounds.update(joint_bounds or {})
    pars = _sample_params(model, scenario, base, n, rng, bounds)
    pars = {k: v for k, v in pars.items()
            if np.ndim(v) or k in scenario.disturbances or v != model.nominal_params[k]}

    horizon, dt = scenario.horizon_s, scenario.dt_s
    grid = np.arange(0.0, horizon + 1e-9 * horizon, dt)
    if grid[-1] < horizon - 1e-9 * horizon:
        grid = np.r_[grid, horizon]
    cuts: set[float] = set()
    for ch in (*scenario.inputs.values(), *scenario.disturbances.values()):
        cuts |= _breaks(ch, horizon, dt)
    edges = np.array(sorted({0.0, horizon, *cuts}))
    u_of = {nm: u0[i] for i, nm in enumerate(model.input_names)}

    def u_at(t: float) -> F64:
        return np.array([_level(u_of[nm], scenario.inputs.get(nm, ()), t)
                         for nm in model.input_names], dtype=np.float64)

    u_seg = [u_at(0.5 * (edges[k] + edges[k + 1])) for k in range(len(edges) - 1)]
    x = np.empty((n, len(grid), nx))
    alive = np.empty(n, dtype=bool)
    for start in range(0, n, chunk):
        sl = slice(start, min(n, start + chunk))
        cp = {k: (v[sl] if np.ndim(v) else v) for k, v in pars.items()}
        x[sl], alive[sl] = _chunk(model, scenario, xs0[sl], cp, edges, grid, u_seg)
        if progress is not None:
            progress(sl.stop, n)
    if not alive.any():
        raise SolverError(f"what-if: every one of {n} samples failed to integrate")
    u_grid = np.array([u_at(float(t)) for t in grid])
    series = _series(model, scenario, x, u_grid, pars, grid, n)
    keys = scenario.percentile_keys()
    bands = {}
    for name, (kind, unit, v) in series.items():
        ok = v[alive]
        pc = np.percentile(ok, scenario.percentiles, axis=0)
        bands[name] = Band(unit=unit, kind=kind, mean=ok.mean(axis=0).tolist(),
                           percentiles={k: row.tolist() for k, row in zip(keys, pc,
                                                                            strict=True)})
    results = []
    n_ok = int(alive.sum())
    for c in scenario.constraints:
        within = horizon if c.within_s is None else min(c.within_s, horizon)
        v = series[c.variable][2][alive][:, grid <= within * (1 + 1e-12)]
        if c.above is not None:
            viol = np.any(v > c.above, axis=1)
        else:
            viol = np.any(v < float(c.below), axis=1)  # type: ignore[arg-type]
        k = int(viol.sum())
        lo_ci, hi_ci = wilson(k, n_ok, scenario.confidence)
        results.append(ConstraintResult(
            label=c.label, variable=c.variable, above=c.above, below=c.below, within_s=within,
            violations=k, n=n_ok, probability=k / n_ok, ci_low=lo_ci, ci_high=hi_ci,
            confidence=scenario.confidence))
    names = (*model.state_names, *joint)
    std = np.sqrt(np.clip(np.diag(np.asarray(P, dtype=np.float64)), 0.0, None))
    return WhatIfResult(
        model=model.name, origin=origin, t_s=grid.tolist(), n=n, n_failed=n - n_ok, seed=seed,
        x0=dict(zip(names, mean.tolist(), strict=True)),
        x0_std=dict(zip(names, std.tolist(), strict=True)),
        inputs0=dict(zip(model.input_names, u0.tolist(), strict=True)),
        variables=bands, constraints=results, elapsed_s=time.perf_counter() - started)


def _series(model: ProcessModel, s: Scenario, x: F64, u_grid: F64, pars: dict[str, Any],
            grid: F64, n: int) -> dict[str, tuple[Any, str, F64]]:
    """Every reported variable as (kind, unit, values (n, T))."""
    out: dict[str, tuple[Any, str, F64]] = {}
    for i, v in enumerate(model.states):
        out[v.name] = ("state", v.unit, x[:, :, i])
    for i, v in enumerate(model.inputs):
        out[v.name] = ("input", v.unit, np.broadcast_to(u_grid[:, i], (n, len(grid))))
    p_grid = {name: np.stack([np.broadcast_to(np.asarray(
        _level(val, s.disturbances.get(name, ()), float(t)), dtype=np.float64), (n,))
        for t in grid], axis=1) for name, val in pars.items()}
    if model.nz:
        with np.errstate(all="ignore"):
            z = model.z(x, u_grid[None, :, :], p_grid)
        for i, v in enumerate(model.algebraic):
            out[v.name] = ("algebraic", v.unit, z[:, :, i])
    for name in s.disturbances:
        out[name] = ("param", model.var(name).unit, p_grid[name])
    return out
