"""Joint state and parameter estimation: parameters appended to the state as random walks.

A slowly varying parameter θ (heat-transfer fouling in ``K_w``, catalyst activity ``beta``)
becomes a state with ``dθ/dt = 0`` driven by process noise of density ``q_θ``
(Jazwinski 1970, §8.4; Simon, *Optimal State Estimation*, 2006, §13.4)::

    ẋ = f(x, u, θ)      θ̇ = w_θ,   w_θ ~ N(0, q_θ²)

so a drift of rate ``r`` is tracked with a lag of roughly ``r / (q_θ·√(information rate))``.
:func:`augment` builds the augmented :class:`ProcessModel` (the parameter moves from
``params`` to ``states``, keeping its name); every estimator (EKF, UKF, MHE) then runs on it
unchanged, and a :class:`ParamWalk` supplies the walk's density, bounds and initial spread.
Algebraic outputs, if the model has any, see the walked parameters the same way.

Example:
    >>> from processtwin.physics.cstr import van_de_vusse
    >>> aug = augment(van_de_vusse(), [ParamWalk(name="K_w", std=50.0, lo=1000.0, hi=6000.0)])
    >>> aug.state_names
    ('C_a', 'C_b', 'T_R', 'T_K', 'K_w')
    >>> walk_config(aug, [ParamWalk(name="K_w", std=50.0)])
    ({'K_w': 50.0}, {'K_w': 403.2})
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from processtwin.errors import InvalidInputError
from processtwin.physics.model import ProcessModel, Var

__all__ = ["ParamWalk", "augment", "walk_config"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ParamWalk:
    """One parameter estimated as a random walk.

    ``std`` is the walk's density in parameter unit per √(model time unit); ``lo``/``hi``
    bound the estimate; ``initial`` overrides the starting value (default: the nominal, or
    the override given to :func:`augment`); ``initial_std`` the starting spread (default
    10 % of the start value).
    """

    name: str
    std: float
    lo: float = -np.inf
    hi: float = np.inf
    initial: float | None = None
    initial_std: float | None = None

    def __post_init__(self) -> None:
        if not (np.isfinite(self.std) and self.std >= 0.0):
            raise InvalidInputError(f"ParamWalk {self.name}: std must be finite and >= 0")
        if not self.lo < self.hi:
            raise InvalidInputError(f"ParamWalk {self.name}: lo must be < hi")


def augment(model: ProcessModel, walks: Sequence[ParamWalk],
            params: Mapping[str, float] | None = None) -> ProcessModel:
    """``model`` with the parameters of ``walks`` appended as constant-in-time states.

    ``params`` overrides other nominal parameter values of the augmented model.
    """
    names = [w.name for w in walks]
    base = model.params_with(params)
    unknown = [n for n in names if n not in base]
    if unknown or len(set(names)) != len(names) or not names:
        raise InvalidInputError(f"augment: need distinct parameters of {model.name}, "
                                f"got {names} (unknown: {unknown})")
    nx = model.nx
    by_name = {v.name: v for v in model.params}
    new_states = []
    for w in walks:
        start = base[w.name] if w.initial is None else w.initial
        if not w.lo <= start <= w.hi:
            raise InvalidInputError(f"augment: {w.name} start {start} outside [{w.lo}, {w.hi}]")
        new_states.append(Var(name=w.name, unit=by_name[w.name].unit, nominal=start,
                              lo=w.lo, hi=w.hi, description=f"parameter {w.name} (random walk)"))
    inner, inner_alg = model.rhs, model.alg

    def subst(x: Sequence[Any], p: Mapping[str, Any]) -> dict[str, Any]:
        pp = dict(p)
        for j, n in enumerate(names):
            pp[n] = x[nx + j]
        return pp

    def rhs(m: Any, x: Sequence[Any], u: Sequence[Any], p: Mapping[str, Any]
            ) -> tuple[Any, ...]:
        dx = inner(m, list(x[:nx]), u, subst(x, p))
        return (*dx, *(0.0 * x[nx + j] for j in range(len(names))))

    def alg(m: Any, x: Sequence[Any], u: Sequence[Any], p: Mapping[str, Any]
            ) -> Sequence[Any]:
        if inner_alg is None:  # pragma: no cover - only built when the model has one
            return ()
        return inner_alg(m, list(x[:nx]), u, subst(x, p))

    kept = tuple(Var(name=v.name, unit=v.unit, nominal=base[v.name], lo=v.lo, hi=v.hi,
                     description=v.description) for v in model.params if v.name not in names)
    return ProcessModel(
        name=f"{model.name}+{'+'.join(names)}",
        description=f"{model.name} with {', '.join(names)} estimated as random walks",
        states=(*model.states, *new_states), inputs=model.inputs, params=kept, rhs=rhs,
        algebraic=model.algebraic, alg=alg if inner_alg is not None else None,
        outputs=model.outputs, time_unit=model.time_unit)


def walk_config(model: ProcessModel, walks: Sequence[ParamWalk]
                ) -> tuple[dict[str, float], dict[str, float]]:
    """``(process_std, initial_std)`` entries for the walks, to merge into a filter config."""
    start = dict(zip(model.state_names, model.x0, strict=True))
    q = {w.name: w.std for w in walks}
    p0 = {w.name: (w.initial_std if w.initial_std is not None
                   else round(0.1 * abs(float(start[w.name])), 12)) for w in walks}
    return q, p0
