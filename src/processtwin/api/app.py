"""The HTTP service: REST under ``/api/v1``, a WebSocket stream, metrics and the dashboard.

Errors are RFC 9457 ``application/problem+json`` bodies. A refused command answers 409 with
the gate's verdict (every reason) in ``verdict``. Until the auth layer lands, the caller's
identity is the ``X-User`` header (recorded in the audit with every approval and command).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Header, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from processtwin import __version__
from processtwin.api.estimation_routes import estimation_router
from processtwin.api.graph_routes import graph_router
from processtwin.api.whatif_routes import whatif_router
from processtwin.control.gate import Mode
from processtwin.core.jsonsafe import json_safe as _clean
from processtwin.core.quality import describe
from processtwin.dtdl import DTDLValidationError
from processtwin.errors import (
    CommandRefusedError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PreconditionFailedError,
    ProcessTwinError,
    QueryError,
    TwinValidationError,
    UnknownPointError,
)
from processtwin.runtime.runtime import TwinRuntime
from processtwin.runtime.views import health, twin_detail, twin_list

__all__ = ["create_app"]


class CommandBody(BaseModel):
    value: float = Field(description="the new setpoint, in the input's unit")


class ModeBody(BaseModel):
    mode: Mode


def _problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(_clean(body), status_code=status, media_type="application/problem+json")


def _time(value: str | None, name: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInputError(f"{name}: not an ISO-8601 time or epoch seconds: {value!r}"
                                ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def _every(value: str | None) -> float | None:
    if value is None or value == "":
        return None
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
    for suffix in ("ms", "s", "m", "h", "d"):
        if value.endswith(suffix):
            num, mult = value[: -len(suffix)], units[suffix]
            break
    else:
        num, mult = value, 1.0
    try:
        sec = float(num) * mult
    except ValueError:
        raise InvalidInputError(f"every: not a duration: {value!r} (use e.g. 10s, 1m)") from None
    if not sec > 0:
        raise InvalidInputError("every must be > 0")
    return sec


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat()


def _static_dir() -> Path:
    return Path(str(resources.files("processtwin.ui") / "static"))


def create_app(rt: TwinRuntime) -> FastAPI:
    app = FastAPI(title="processtwin", version=__version__,
                  description="A live digital twin of a process plant.")

    @app.exception_handler(ProcessTwinError)
    async def _err(request: Request, exc: ProcessTwinError) -> JSONResponse:
        extra: dict[str, Any]
        if isinstance(exc, CommandRefusedError):
            status, title = 409, "Command refused by the gate"
            extra = {"verdict": exc.verdict.to_dict()}
        elif isinstance(exc, NotFoundError | UnknownPointError):
            status, title, extra = 404, "Not found", {}
        elif isinstance(exc, PreconditionFailedError):
            status, title, extra = 412, "Precondition failed", {}
        elif isinstance(exc, ConflictError):
            status, title, extra = 409, "Conflict", {}
        elif isinstance(exc, TwinValidationError):
            status, title = 400, "Twin does not conform to its model"
            extra = {"problems": [{"twin": p.twin, "path": p.path, "code": p.code,
                                   "message": p.message} for p in exc.problems]}
        elif isinstance(exc, QueryError):
            status, title = 400, "Invalid query"
            extra = {"position": exc.position, "line": exc.line, "column": exc.column,
                     "reason": exc.reason}
        elif isinstance(exc, DTDLValidationError):
            status, title = 400, "Invalid DTDL"
            extra = {"errors": [{"validation_id": e.validation_id, "element_id": e.element_id,
                                 "property": e.property, "message": e.message,
                                 "source": e.source} for e in exc.errors]}
        elif isinstance(exc, InvalidInputError):
            status, title, extra = 400, "Invalid request", {}
        else:
            status, title, extra = 502, "Plant or service failure", {}
        rt.metrics.api_errors.labels(str(status)).inc()
        return _problem(status, title, str(exc), **extra)

    @app.exception_handler(RequestValidationError)
    async def _bad(request: Request, exc: RequestValidationError) -> JSONResponse:
        rt.metrics.api_errors.labels("422").inc()
        errs = [{"loc": list(e.get("loc", ())), "msg": e.get("msg")} for e in exc.errors()]
        return _problem(422, "Invalid request", "the request does not match the schema",
                        errors=errs)

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "uptime_s": time.time() - rt.started_at}

    @app.get("/metrics")
    async def metrics() -> Response:
        for t in {i.twin for i in rt.table}:
            health(rt, t)  # refresh the health gauges of the twins with live points
        rt.quality_report()  # and the quality gauges
        return Response(generate_latest(rt.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/api/v1/twins")
    async def list_twins(model: str | None = None,
                         after: str | None = Query(None, description="the last id of the "
                                                   "previous page"),
                         limit: int = Query(1000, ge=1, le=10_000)) -> dict[str, Any]:
        twins = twin_list(rt, model=model, after=after, limit=limit)
        nxt = twins[-1]["id"] if len(twins) == limit else None
        return {"twins": twins, "next": nxt}

    @app.get("/api/v1/twins/{twin_id}")
    async def get_twin(twin_id: str) -> JSONResponse:
        detail = twin_detail(rt, twin_id)
        return JSONResponse(_clean(detail), headers={"ETag": detail["etag"]})

    app.include_router(graph_router(rt))
    app.include_router(whatif_router(rt))
    app.include_router(estimation_router(rt))

    @app.get("/api/v1/twins/{twin_id}/history/{point}")
    async def history(twin_id: str, point: str, start: str | None = None,
                      end: str | None = None, every: str | None = None,
                      agg: str = Query("avg", pattern="^(avg|min|max|first|last|count|"
                                       "count_all|count_bad|twa)$"),
                      max_quality: int = Query(1, ge=0, le=2, description="0 good only, 1 good "
                                               "and uncertain, 2 all"),
                      recompute: bool = Query(False, description="derived points: compute "
                                              "from the inputs' history now"),
                      ) -> JSONResponse:
        key = rt.point_key(twin_id, point)
        t0, t1, ev = _time(start, "start"), _time(end, "end"), _every(every)
        if t0 is not None and t1 is not None and t1 <= t0:
            raise InvalidInputError("end must be after start")
        await rt.flush()
        if recompute:
            s = await asyncio.to_thread(rt.recompute_derived, key, t0, t1, ev)
        else:
            s = await asyncio.to_thread(rt.store.query, key, t0, t1, ev, agg,
                                        max_quality=max_quality)
        pts = [[_iso(float(t)), float(v) if math.isfinite(v) else None,
                describe(int(q), int(r))]
               for t, v, q, r in zip(s.ts, s.value, s.quality, s.reason, strict=True)]
        return JSONResponse({"twin": twin_id, "point": point, "every": ev, "points": pts})

    @app.get("/api/v1/quality")
    async def quality(twin: str | None = None) -> JSONResponse:
        """Per point: shares of good/uncertain/bad/imputed values, last problem, drift."""
        if twin is not None and rt.graph.twin(twin) is None:
            raise NotFoundError(f"no twin {twin!r}")
        return JSONResponse(_clean({"points": rt.quality_report(twin),
                                    "drift": [e for e in rt.events if e["type"] == "drift"]}))

    @app.get("/api/v1/reconciliation")
    async def reconciliation() -> JSONResponse:
        """The latest data reconciliation of every balance in twin.yaml."""
        return JSONResponse(_clean({"balances": list(rt.reconciliations.values())}))

    @app.get("/api/v1/proposals")
    async def proposals(status: str | None = None, limit: int = Query(50, ge=1, le=500)
                        ) -> JSONResponse:
        items = [p.to_dict() for p in reversed(rt.proposals.values())
                 if status is None or p.status == status][:limit]
        return JSONResponse(_clean({"proposals": items, "mode": rt.gate.mode.value}))

    @app.post("/api/v1/proposals/{proposal_id}/approve")
    async def approve(proposal_id: str, x_user: str = Header("anonymous")) -> JSONResponse:
        p = await rt.approve(proposal_id, x_user)
        return JSONResponse(_clean(p.to_dict()))

    @app.post("/api/v1/twins/{twin_id}/commands/{name}")
    async def command(twin_id: str, name: str, body: CommandBody,
                      x_user: str = Header("anonymous")) -> JSONResponse:
        p = await rt.command(twin_id, name, body.value, x_user)
        return JSONResponse(_clean(p.to_dict()))

    @app.get("/api/v1/gate")
    async def gate() -> dict[str, Any]:
        cfg = rt.gate.config
        return {"mode": rt.gate.mode.value, "max_staleness_s": cfg.max_staleness_s,
                "limits": {n: {"lo": lim.lo, "hi": lim.hi, "max_step": lim.max_step,
                               "min_interval_s": lim.min_interval_s}
                           for n, lim in cfg.limits.items()}}

    @app.put("/api/v1/gate")
    async def set_gate(body: ModeBody, x_user: str = Header("anonymous")) -> dict[str, Any]:
        old = rt.gate.mode
        rt.gate.set_mode(body.mode)
        entry = rt.audit.append("mode", {"from": old.value, "to": body.mode.value,
                                         "user": x_user})
        rt._publish({"type": "audit", "entry": entry})
        rt._publish({"type": "mode", "mode": body.mode.value})
        return {"mode": rt.gate.mode.value}

    @app.get("/api/v1/audit")
    async def audit(limit: int = Query(100, ge=1, le=1000)) -> JSONResponse:
        return JSONResponse(_clean({"entries": rt.audit.recent(limit)}))

    @app.get("/api/v1/dead-letters")
    async def dead_letters(limit: int = Query(100, ge=1, le=1000)) -> JSONResponse:
        items = await asyncio.to_thread(rt.store.dead_letters, limit)
        return JSONResponse(_clean({"dead_letters": [d.to_dict() for d in items]}))

    @app.get("/api/v1/summary")
    async def summary() -> dict[str, Any]:
        return {"counts": dict(rt.counts), "uptime_s": time.time() - rt.started_at}

    @app.websocket("/api/v1/stream")
    async def stream(ws: WebSocket) -> None:
        await ws.accept()
        q = rt.subscribe()
        try:
            await ws.send_json(_clean({
                "type": "snapshot", "mode": rt.gate.mode.value,
                "twins": [twin_detail(rt, t.id) for t in rt.cfg.twins],
                "proposals": [p.to_dict() for p in list(rt.proposals.values())[-20:]],
                "audit": rt.audit.recent(20)}))
            last_health = 0.0
            while True:
                try:
                    ev = await asyncio.wait_for(q.get(), timeout=1.0)
                except TimeoutError:
                    ev = None
                if ev is not None:
                    await ws.send_json(_clean(ev))
                    if ev.get("type") == "dropped":
                        await ws.close(code=1013, reason="client too slow")
                        return
                if time.time() - last_health >= 1.0:
                    last_health = time.time()
                    await ws.send_json(_clean({
                        "type": "health", "ts": last_health, "counts": dict(rt.counts),
                        "twins": {t.id: health(rt, t.id) for t in rt.cfg.twins}}))
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            rt.unsubscribe(q)
            with contextlib.suppress(RuntimeError):
                await ws.close()

    static = _static_dir()

    @app.get("/", response_class=HTMLResponse)
    async def index() -> FileResponse:
        return FileResponse(static / "index.html", media_type="text/html")

    @app.get("/static/plotly.min.js")
    async def plotly_js() -> FileResponse:
        path = Path(str(resources.files("plotly") / "package_data" / "plotly.min.js"))
        return FileResponse(path, media_type="application/javascript")

    @app.get("/static/{name}")
    async def static_file(name: str) -> FileResponse:
        path = (static / name).resolve()
        if path.parent != static.resolve() or not path.is_file():
            raise NotFoundError(f"no static file {name!r}")
        return FileResponse(path)

    return app
