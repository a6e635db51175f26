"""Pseudo-arclength continuation of steady states over one input or parameter.

Follows the curve of solutions of F(x, λ) = f(x, u(λ), p(λ)) = 0 through turning points,
where λ reverses and a plain sweep over λ would jump or fail. Variables are scaled,
z = (x / x_scale, λ / λ_scale), and from a point z_k with unit tangent τ_k (the null vector
of [F_x F_λ]) each step predicts and corrects::

    z_pred = z_k + Δs·τ_k
    solve  F(z) = 0,  τ_kᵀ·(z − z_pred) = 0           (Newton on the bordered system)
    τ_{k+1} from [F_x F_λ; τ_kᵀ]·τ = (0, 1), normalised (keeps the orientation)

Δs shrinks when Newton fails and grows when it converges in few iterations. A turning
point (fold) lies where the λ-component of τ changes sign; there one eigenvalue of F_x
crosses zero and stability changes. Stability of each point: every eigenvalue of F_x has a
negative real part.

Source: H. B. Keller, "Numerical solution of bifurcation and nonlinear eigenvalue
problems", in *Applications of Bifurcation Theory*, Academic Press 1977, 359–384;
E. L. Allgower and K. Georg, *Introduction to Numerical Continuation Methods*, SIAM 2003,
chapter 2.

Example:
    >>> from processtwin.physics.exothermic import exothermic_cstr
    >>> m = exothermic_cstr()
    >>> br = continuation(m, "T_cin", (270.0, 320.0))
    >>> len(br.turning_points), len(br.states_at(290.0))
    (2, 3)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import casadi
import numpy as np
import numpy.typing as npt

from processtwin.errors import InvalidInputError, SolverError
from processtwin.physics.model import ProcessModel
from processtwin.physics.simulate import newton

__all__ = ["Branch", "TurningPoint", "continuation"]

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class TurningPoint:
    """A fold of the branch: ``value`` of the continuation variable and the state there."""

    index: int
    value: float
    x: F64


@dataclass(frozen=True, eq=False)
class Branch:
    """A continued branch of steady states: ``values[k]`` of ``name`` and states ``x[k]``."""

    model: ProcessModel
    name: str
    values: F64
    x: F64
    stable: npt.NDArray[np.bool_]
    turning_points: tuple[TurningPoint, ...]
    u: F64
    params: Mapping[str, float]

    def states_at(self, value: float) -> list[F64]:
        """Every steady state on the branch at ``name = value``, refined by Newton."""
        out: list[F64] = []
        v = self.values
        for k in range(len(v) - 1):
            a, b = v[k] - value, v[k + 1] - value
            if a == 0.0 or a * b < 0.0:
                w = 0.0 if a == 0.0 else a / (a - b)
                guess = (1 - w) * self.x[k] + w * self.x[k + 1]
                x = _solve_at(self, value, guess)
                if x is not None and not any(np.allclose(x, y, rtol=1e-7, atol=1e-9)
                                             for y in out):
                    out.append(x)
        return out


def _split(model: ProcessModel, name: str) -> tuple[str, int]:
    if name in model.input_names:
        return "u", model.input_names.index(name)
    if name in model.param_names:
        return "p", model.param_names.index(name)
    raise InvalidInputError(f"{model.name}: {name!r} is neither an input nor a parameter")


class _System:
    """F(x, λ) and its Jacobians for one continuation variable."""

    def __init__(self, model: ProcessModel, name: str, u: F64, pv: F64) -> None:
        self.model = model
        self.kind, self.index = _split(model, name)
        self.u = u.copy()
        self.pv = pv.copy()
        x = casadi.SX.sym("x", model.nx)
        lam = casadi.SX.sym("lam")
        uu = casadi.vertcat(*[lam if (self.kind, j) == ("u", self.index) else u[j]
                              for j in range(model.nu)]) if model.nu else casadi.SX(0, 1)
        pp = casadi.vertcat(*[lam if (self.kind, j) == ("p", self.index) else pv[j]
                              for j in range(len(pv))]) if len(pv) else casadi.SX(0, 1)
        f = model.casadi_rhs(x, uu, pp)
        self.fn = casadi.Function("F", [x, lam], [f, casadi.jacobian(f, x),
                                                  casadi.jacobian(f, lam)])

    def __call__(self, x: F64, lam: float) -> tuple[F64, F64, F64]:
        f, fx, fl = self.fn(x, lam)
        return np.array(f).ravel(), np.array(fx), np.array(fl).ravel()


def _solve_at(branch: Branch, value: float, guess: F64) -> F64 | None:
    pv = branch.model.param_vector(branch.params)
    sys_ = _System(branch.model, branch.name, branch.u, pv)
    return newton(lambda x: sys_(x, value)[0], lambda x: sys_(x, value)[1], guess,
                  branch.model.x_scale)


def continuation(
    model: ProcessModel,
    name: str,
    span: tuple[float, float],
    *,
    u: npt.ArrayLike | None = None,
    p: Mapping[str, float] | None = None,
    x0: npt.ArrayLike | None = None,
    ds: float = 0.01,
    ds_max: float = 0.05,
    max_points: int = 2000,
) -> Branch:
    """Continue steady states of ``model`` over input or parameter ``name`` from ``span[0]``
    until the branch leaves ``span`` (either end) or ``max_points`` points are found.

    ``ds`` and ``ds_max`` are arclength steps in scaled variables (states over
    :attr:`~processtwin.physics.model.ProcessModel.x_scale`, ``name`` over the span width).
    """
    lo, hi = float(min(span)), float(max(span))
    if not hi > lo:
        raise InvalidInputError(f"continuation span must have width, got {span}")
    ua = np.array(model.u0 if u is None else u, dtype=np.float64)
    params = model.params_with(p)
    pv = model.param_vector(p)
    system = _System(model, name, ua, pv)
    xs = model.x_scale
    ls = hi - lo
    lam0 = float(span[0])
    direction = 1.0 if span[1] >= span[0] else -1.0
    guess = model.x0 if x0 is None else np.asarray(x0, dtype=np.float64)
    x = newton(lambda v: system(v, lam0)[0], lambda v: system(v, lam0)[1], guess, xs)
    if x is None:
        raise SolverError(f"{model.name}: no steady state at {name} = {lam0} near the guess")

    def jac_z(xv: F64, lam: float) -> tuple[F64, F64]:
        f, fx, fl = system(xv, lam)
        return f, np.hstack([fx * xs[None, :], (fl * ls)[:, None]])

    _, jz = jac_z(x, lam0)
    tau = np.linalg.svd(jz)[2][-1]
    if tau[-1] * direction < 0:
        tau = -tau
    z = np.append(x / xs, lam0 / ls)
    pts_x, pts_l, taus, zs, steps = [x], [lam0], [tau], [z], [0.0]
    step = ds
    while len(pts_l) < max_points:
        z_new, tau_new, iters = _correct(jac_z, z, tau, step, xs, ls)
        if z_new is None:
            step /= 2.0
            if step < 1e-8:
                raise SolverError(f"{model.name}: continuation in {name} stalled at "
                                  f"{pts_l[-1]:.6g}")
            continue
        zs.append(z_new)
        steps.append(step)
        z, tau = z_new, tau_new
        lam = float(z[-1] * ls)
        pts_x.append(z[:-1] * xs)
        pts_l.append(lam)
        taus.append(tau)
        if not lo <= lam <= hi:
            break
        if iters <= 3:
            step = min(step * 1.5, ds_max)
    values = np.array(pts_l)
    xk = np.array(pts_x)
    stable = np.array([bool(np.all(np.linalg.eigvals(system(xv, lv)[1]).real < 0))
                       for xv, lv in zip(xk, values, strict=True)])
    tl = np.array([t[-1] for t in taus])
    turning = []
    for k in range(len(tl) - 1):
        if tl[k] * tl[k + 1] < 0:
            zt = _refine_fold(jac_z, zs[k], taus[k], steps[k + 1], xs, ls)
            turning.append(TurningPoint(index=k, value=float(zt[-1] * ls), x=zt[:-1] * xs))
    return Branch(model=model, name=name, values=values, x=xk, stable=stable,
                  turning_points=tuple(turning), u=ua, params=params)


def _refine_fold(jac_z: object, z: F64, tau: F64, step: float, xs: F64, ls: float) -> F64:
    """The fold between z and its successor: bisection on the arclength for τ_λ = 0."""
    a, b = 0.0, step
    z_best = z
    for _ in range(40):
        mid = 0.5 * (a + b)
        zm, tm, _ = _correct(jac_z, z, tau, mid, xs, ls)
        if zm is None:
            break
        z_best = zm
        if tm[-1] * tau[-1] > 0:
            a = mid
        else:
            b = mid
        if b - a < 1e-10:
            break
    return z_best


def _correct(jac_z: object, z: F64, tau: F64, step: float, xs: F64, ls: float
             ) -> tuple[F64 | None, F64, int]:
    """Newton on the bordered system from the predictor; (z, new tangent, iterations)."""
    assert callable(jac_z)
    zp = z + step * tau
    zz = zp.copy()
    for it in range(1, 12):
        f, jz = jac_z(zz[:-1] * xs, float(zz[-1] * ls))
        if not np.all(np.isfinite(f)) or not np.all(np.isfinite(jz)):
            return None, tau, it
        big = np.vstack([jz, tau[None, :]])
        rhs = np.append(f, tau @ (zz - zp))
        try:
            dz = np.linalg.solve(big, -rhs)
        except np.linalg.LinAlgError:
            return None, tau, it
        zz = zz + dz
        if np.max(np.abs(dz)) < 1e-10:
            f, jz = jac_z(zz[:-1] * xs, float(zz[-1] * ls))
            big = np.vstack([jz, tau[None, :]])
            t_new = np.linalg.solve(big, np.append(np.zeros(len(f)), 1.0))
            t_new /= np.linalg.norm(t_new)
            return zz, t_new, it
    return None, tau, 12
