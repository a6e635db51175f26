"""Observability, identifiability and offline parameter estimation for a twin.

* ``POST /api/v1/twins/{id}/observability`` — can ``sensors`` tell the model's states (and,
  with ``params``, its parameters) at the twin's operating point now? The body is
  :class:`ObservabilityBody`; the answer carries the rank test, singular values, condition
  numbers, Cramér–Rao stds and a verdict per state (and the identifiability report).
* ``POST /api/v1/twins/{id}/paramest`` — fit ``params`` to the twin's stored history over
  ``[start, end)`` on a ``grid_s`` grid (good and uncertain values; see
  :mod:`processtwin.estimation.offline`), in a worker thread: estimates, stds, confidence
  intervals, correlation, identifiability and profile-likelihood verdicts.

Errors are ``application/problem+json``: a twin that does not exist, or has no process
model and estimator, answers 404; unknown names, too little data or a fit that fails on
the data answer 422 with the reason (``errors`` names each problem).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from processtwin.core.jsonsafe import json_safe as _clean
from processtwin.errors import InvalidInputError, NotFoundError, SolverError
from processtwin.estimation.observability import identifiability_report, observability_report
from processtwin.estimation.offline import (
    analysis_config,
    check_names,
    enough_data,
    history_from_store,
    paramest_config,
)
from processtwin.estimation.paramest import estimate_parameters
from processtwin.runtime.estimator import EstimatorService
from processtwin.runtime.runtime import TwinRuntime

__all__ = ["ObservabilityBody", "ParamEstBody", "estimation_router"]


class _Body(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ObservabilityBody(_Body):
    sensors: list[str] = Field(min_length=1, description="measured states, e.g. T_R, T_K")
    states: list[str] | None = Field(None, description="report these states (default all)")
    params: list[str] | None = Field(None, description="also test these parameters' "
                                     "identifiability")
    horizon_s: float = Field(600.0, gt=0, description="experiment length, plant seconds")
    sample_s: float = Field(5.0, gt=0, description="sampling period, plant seconds")


class ParamEstBody(_Body):
    params: list[str] = Field(min_length=1, description="the parameters to fit")
    start: datetime | float = Field(description="ISO-8601 time or epoch seconds")
    end: datetime | float = Field(description="ISO-8601 time or epoch seconds (exclusive)")
    grid_s: float = Field(10.0, gt=0, description="grid step, seconds")
    profile: bool = Field(True, description="profile likelihood per parameter")
    confidence: float = Field(0.95, gt=0, lt=1)


def _epoch(v: datetime | float) -> float:
    if isinstance(v, datetime):
        return (v if v.tzinfo else v.replace(tzinfo=UTC)).timestamp()
    return float(v)


def _unprocessable(rt: TwinRuntime, title: str, problems: list[str],
                   locs: list[list[str]] | None = None) -> JSONResponse:
    rt.metrics.api_errors.labels("422").inc()
    errs = [{"loc": loc, "msg": p} for p, loc in
            zip(problems, locs or [["body"]] * len(problems), strict=True)]
    return JSONResponse({"type": "about:blank", "title": title, "status": 422,
                         "detail": "; ".join(problems), "errors": errs},
                        status_code=422, media_type="application/problem+json")


def _service(rt: TwinRuntime, twin: str) -> EstimatorService:
    est = rt.estimator
    if est is None or est.cfg.twin != twin:
        if rt.graph.twin(twin) is None:
            raise NotFoundError(f"no twin {twin!r}")
        has = f" (the model runs on {est.cfg.twin!r})" if est is not None else ""
        raise NotFoundError(f"twin {twin!r} has no process model and estimator{has}")
    return est


def _name_problems(est: EstimatorService, **names: list[str] | None
                   ) -> tuple[list[str], list[list[str]]]:
    problems, locs = [], []
    for field, vals in names.items():
        got = check_names(est.model, **{field: vals or []})
        problems += got
        locs += [["body", field]] * len(got)
    return problems, locs


def estimation_router(rt: TwinRuntime) -> APIRouter:
    r = APIRouter(prefix="/api/v1")
    fits = asyncio.Semaphore(1)  # one fit at a time: they are CPU-bound

    @r.post("/twins/{twin_id}/observability")
    async def observability(twin_id: str, body: ObservabilityBody) -> JSONResponse:
        """Observability of the states (and identifiability of ``params``) from ``sensors``
        at the twin's current inputs, parameters and estimate (nominal before the first
        estimate)."""
        est = _service(rt, twin_id)
        problems, locs = _name_problems(est, sensors=body.sensors, states=body.states,
                                        params=body.params)
        if body.sample_s >= body.horizon_s:
            problems.append("need sample_s < horizon_s")
            locs.append(["body", "sample_s"])
        if problems:
            return _unprocessable(rt, "Invalid request", problems, locs)
        u = est.current_inputs(rt.state)
        params = est.params()
        x0 = est.x_model.copy() if est.initialised else None
        cfg = analysis_config(est.model, est.cfg, body.sensors, horizon_s=body.horizon_s,
                              sample_s=body.sample_s, x0=None if x0 is None else x0.tolist(),
                              u=u, params=params)

        def run() -> dict[str, Any]:
            rep = observability_report(est.model, cfg).to_dict()
            keep = set(body.states or est.model.state_names)
            rep["states"] = {k: v for k, v in rep["states"].items() if k in keep}
            rep["state_verdicts"] = {k: v for k, v in rep["state_verdicts"].items()
                                     if k in keep}
            ident = (identifiability_report(est.model, body.params, cfg).to_dict()
                     if body.params else None)
            return {"observability": rep, "identifiability": ident}

        try:
            out = await asyncio.to_thread(run)
        except (InvalidInputError, SolverError) as exc:
            return _unprocessable(rt, "Analysis failed", [str(exc)])
        return JSONResponse(_clean({
            "twin": twin_id, "origin": "estimate" if x0 is not None else "nominal",
            "inputs": dict(zip(est.model.input_names, u.tolist(), strict=True)), **out}))

    @r.post("/twins/{twin_id}/paramest")
    async def paramest(twin_id: str, body: ParamEstBody) -> JSONResponse:
        """Fit ``params`` to the twin's history over ``[start, end)``: weighted least
        squares with Fisher-information intervals and profile likelihoods."""
        est = _service(rt, twin_id)
        problems, locs = _name_problems(est, params=body.params)
        if problems:
            return _unprocessable(rt, "Invalid request", problems, locs)
        start, end = _epoch(body.start), _epoch(body.end)
        try:
            pcfg = paramest_config(est.model, est.cfg, body.params, profile=body.profile,
                                   confidence=body.confidence)
        except InvalidInputError as exc:
            return _unprocessable(rt, "Invalid request", [str(exc)])
        await rt.flush()
        async with fits:
            try:
                th = await asyncio.to_thread(history_from_store, rt.store, est.model,
                                             est.cfg, start, end, body.grid_s)
                enough_data(th, est.model, len(body.params))
                res = await asyncio.to_thread(estimate_parameters, est.model, th.history,
                                              pcfg)
            except InvalidInputError as exc:
                return _unprocessable(rt, "Cannot fit this history", [str(exc)])
            except SolverError as exc:
                return _unprocessable(rt, "Estimation failed", [str(exc)])
        return JSONResponse(_clean({"twin": twin_id, "data": th.to_dict(),
                                    "confidence": body.confidence, **res.to_dict()}))

    return r
