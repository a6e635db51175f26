"""Batches of scenarios to simulate, and the trajectories that come back.

A :class:`Scenarios` holds N initial states ``x0`` (N, nx), N constant input vectors
``u`` (N, nu) and per-scenario parameter overrides (each an array of shape (N,)). A
:class:`Trajectory` holds the states at the requested output times, shaped (N, T, nx), and
the integrator's per-scenario step counts.

Example:
    >>> from processtwin.physics.cstr import van_de_vusse
    >>> m = van_de_vusse()
    >>> s = Scenarios.of(m, n=3, params={"alpha": [0.9, 1.0, 1.1]})
    >>> s.n, s.x0.shape, s.params["alpha"].tolist()
    (3, (3, 4), [0.9, 1.0, 1.1])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

from processtwin.errors import InvalidInputError
from processtwin.physics.model import ProcessModel

__all__ = ["Scenarios", "Trajectory"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class Scenarios:
    """N scenarios of one model: initial states, constant inputs, parameter overrides."""

    x0: F64
    u: F64
    params: Mapping[str, F64] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return int(self.x0.shape[0])

    def __getstate__(self) -> dict[str, Any]:
        return {"x0": self.x0, "u": self.u, "params": dict(self.params)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update({**state, "params": MappingProxyType(dict(state["params"]))})

    @classmethod
    def of(
        cls,
        model: ProcessModel,
        *,
        n: int | None = None,
        x0: npt.ArrayLike | None = None,
        u: npt.ArrayLike | None = None,
        params: Mapping[str, npt.ArrayLike] | None = None,
    ) -> Scenarios:
        """Broadcast ``x0`` (nx,) or (N, nx), ``u`` (nu,) or (N, nu) and parameter values
        (scalars or (N,)) to N scenarios, defaulting to the model's nominal values.

        Every problem is reported at once as an :class:`~processtwin.errors.InvalidInputError`.
        """
        xa = np.asarray(model.x0 if x0 is None else x0, dtype=np.float64)
        ua = np.asarray(model.u0 if u is None else u, dtype=np.float64)
        pa = {k: np.asarray(v, dtype=np.float64) for k, v in (params or {}).items()}
        sizes = {a.shape[0] for a in (xa, ua) if a.ndim == 2}
        sizes |= {v.shape[0] for v in pa.values() if v.ndim == 1}
        if n is not None:
            sizes.add(n)
        problems = []
        if len(sizes) > 1:
            problems.append(f"scenario counts disagree: {sorted(sizes)}")
        count = sizes.pop() if len(sizes) == 1 else 1
        if xa.shape[-1:] != (model.nx,) or xa.ndim > 2:
            problems.append(f"x0 must be (nx,) or (N, nx) with nx={model.nx}, got {xa.shape}")
        if ua.shape[-1:] != (model.nu,) or ua.ndim > 2:
            problems.append(f"u must be (nu,) or (N, nu) with nu={model.nu}, got {ua.shape}")
        unknown = set(pa) - set(model.param_names)
        if unknown:
            problems.append(f"unknown parameters {sorted(unknown)}")
        for k, v in pa.items():
            if v.ndim > 1:
                problems.append(f"parameter {k} must be a scalar or (N,), got {v.shape}")
        for name, a in (("x0", xa), ("u", ua), *pa.items()):
            if not np.all(np.isfinite(a)):
                problems.append(f"{name} is not finite")
        if problems:
            raise InvalidInputError(f"scenarios for {model.name}: " + "; ".join(problems))
        return cls(
            x0=np.ascontiguousarray(np.broadcast_to(xa, (count, model.nx))),
            u=np.ascontiguousarray(np.broadcast_to(ua, (count, model.nu))),
            params=MappingProxyType({k: np.ascontiguousarray(np.broadcast_to(v, (count,)))
                                     for k, v in pa.items()}),
        )

    def take(self, idx: npt.ArrayLike | slice) -> Scenarios:
        """The scenarios at ``idx`` (indices, a boolean mask or a slice)."""
        i: Any = idx if isinstance(idx, slice) else np.asarray(idx)
        return Scenarios(x0=self.x0[i], u=self.u[i],
                         params=MappingProxyType({k: v[i] for k, v in self.params.items()}))

    def chunks(self, size: int) -> list[Scenarios]:
        """Consecutive batches of at most ``size`` scenarios."""
        if size < 1:
            raise InvalidInputError(f"chunk size must be >= 1, not {size}")
        return [self.take(slice(s, s + size)) for s in range(0, self.n, size)]


@dataclass(frozen=True, eq=False)
class Trajectory:
    """States at the output times: ``x[i, j]`` is scenario i at ``t[j]`` (model time units).

    ``n_steps`` and ``n_rejected`` count accepted and rejected steps per scenario;
    ``n_rhs`` counts batched right-hand-side evaluations, ``n_jac`` batched Jacobians.
    """

    t: F64
    x: npt.NDArray[np.floating[Any]]
    method: str
    n_steps: I64
    n_rejected: I64
    n_rhs: int = 0
    n_jac: int = 0

    @property
    def n(self) -> int:
        return int(self.x.shape[0])

    def outputs(self, model: ProcessModel, scenarios: Scenarios) -> F64:
        """The measured outputs along the trajectory, (N, T, len(model.outputs))."""
        p = model.params_with({k: v[:, None] for k, v in scenarios.params.items()})
        return model.y(self.x, scenarios.u[:, None, :], p)

    @staticmethod
    def concat(parts: Sequence[Trajectory]) -> Trajectory:
        """Scenario-wise concatenation of trajectories over the same output times."""
        if not parts:
            raise InvalidInputError("nothing to concatenate")
        t = parts[0].t
        if any(not np.array_equal(p.t, t) or p.method != parts[0].method for p in parts):
            raise InvalidInputError("trajectories differ in output times or method")
        return Trajectory(
            t=t, x=np.concatenate([p.x for p in parts]), method=parts[0].method,
            n_steps=np.concatenate([p.n_steps for p in parts]),
            n_rejected=np.concatenate([p.n_rejected for p in parts]),
            n_rhs=sum(p.n_rhs for p in parts), n_jac=sum(p.n_jac for p in parts))
