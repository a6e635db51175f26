"""``POST /api/v1/twins/{id}/whatif``: Monte Carlo what-if from the twin's live estimate.

The body is a :class:`~processtwin.whatif.WhatIfRequest`. A malformed body, or one that
names a state, input or parameter the twin's model does not have, answers 422 with an
``application/problem+json`` body whose ``errors`` give each problem's location and reason.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from processtwin.runtime.runtime import TwinRuntime
from processtwin.whatif import ScenarioError, WhatIfRequest

__all__ = ["whatif_router"]


def whatif_router(rt: TwinRuntime) -> APIRouter:
    r = APIRouter(prefix="/api/v1")

    @r.post("/twins/{twin_id}/whatif")
    async def whatif(twin_id: str, body: WhatIfRequest) -> JSONResponse:
        """Fork the twin now, simulate ``n`` samples of the scenario, return bands and
        constraint-violation probabilities with Wilson intervals."""
        try:
            res = await rt.whatif(twin_id, body)
        except ScenarioError as exc:
            rt.metrics.api_errors.labels("422").inc()
            return JSONResponse(
                {"type": "about:blank", "title": "Invalid scenario", "status": 422,
                 "detail": str(exc), "errors": exc.problems},
                status_code=422, media_type="application/problem+json")
        return JSONResponse(res.model_dump(mode="json"))

    return r
