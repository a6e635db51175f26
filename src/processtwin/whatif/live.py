"""Where a what-if starts: a running twin's estimate, or a twin.yaml's nominal point.

:func:`fork` copies, at *now*, the estimator's state estimate and covariance (with any
parameters it estimates jointly), the current inputs and the configured parameters. Before
the estimator has its first measurements the fork starts from the model's nominal state
with the configured initial covariance (``origin="nominal"``). :func:`offline_fork` does
the same from a twin.yaml alone, without a running twin.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from processtwin.errors import NotFoundError
from processtwin.physics.cstr import van_de_vusse
from processtwin.physics.model import ProcessModel
from processtwin.whatif.engine import ProgressFn, run_whatif
from processtwin.whatif.models import WhatIfRequest, WhatIfResult

if TYPE_CHECKING:
    from processtwin.runtime.config import EstimatorConfig
    from processtwin.runtime.runtime import TwinRuntime

__all__ = ["Fork", "fork", "offline_fork", "whatif_live"]

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class Fork:
    """A starting point: mean and covariance over the states then ``joint`` parameters."""

    model: ProcessModel
    x: F64
    P: F64
    inputs: F64
    origin: str
    params: dict[str, float] = field(default_factory=dict)
    joint: tuple[str, ...] = ()
    joint_bounds: dict[str, tuple[float, float]] = field(default_factory=dict)

    def run(self, request: WhatIfRequest, *, chunk: int = 250,
            progress: ProgressFn | None = None) -> WhatIfResult:
        return run_whatif(self.model, self.x, self.P, self.inputs, request, n=request.n,
                          seed=request.seed, params=self.params, joint=self.joint,
                          joint_bounds=self.joint_bounds, chunk=chunk, progress=progress,
                          origin=self.origin)


def _walk_bounds(cfg: EstimatorConfig) -> dict[str, tuple[float, float]]:
    return {n: (w.lo, w.hi) for n, w in cfg.walks.items()}


def offline_fork(cfg: EstimatorConfig | None) -> Fork:
    """The nominal state with the estimator's initial covariance (zero without a config)."""
    from processtwin.runtime.estimator import build_estimator

    model = van_de_vusse()
    if cfg is None:
        return Fork(model=model, x=model.x0, P=np.zeros((model.nx, model.nx)),
                    inputs=model.u0, origin="nominal")
    est = build_estimator(cfg, model)
    return Fork(model=model, x=est.x.copy(), P=est.P.copy(), inputs=model.u0,
                origin="nominal", params=dict(cfg.params),
                joint=est.est.model.state_names[model.nx:], joint_bounds=_walk_bounds(cfg))


def fork(rt: TwinRuntime, twin: str) -> Fork:
    """The twin's estimate, covariance and inputs now (call it on the event loop thread)."""
    est = rt.estimator
    if est is None or est.cfg.twin != twin:
        if rt.graph.twin(twin) is None:
            raise NotFoundError(f"no twin {twin!r}")
        has = f" (the model runs on {est.cfg.twin!r})" if est is not None else ""
        raise NotFoundError(f"twin {twin!r} has no process model and estimator{has}")
    return Fork(model=est.model, x=est.x.copy(), P=est.P.copy(),
                inputs=est.current_inputs(rt.state),
                origin="estimate" if est.initialised else "nominal",
                params=dict(est.cfg.params), joint=est.walked,
                joint_bounds=_walk_bounds(est.cfg))


async def whatif_live(rt: TwinRuntime, twin: str, request: WhatIfRequest) -> WhatIfResult:
    """Fork ``twin`` now and run ``request`` in a worker thread."""
    start = fork(rt, twin)
    return await asyncio.to_thread(start.run, request)
