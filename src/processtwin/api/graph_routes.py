"""REST routes for the twin graph: models, twins, relationships, queries, import and export.

The shapes follow Azure Digital Twins so that its users meet what they know:

- ``PUT /api/v1/twins/{id}`` with ``{"$metadata": {"$model": DTMI}, ...properties}`` creates
  or replaces a twin (``If-None-Match: *`` refuses to replace, ``If-Match`` refuses a stale
  replace); ``PATCH`` takes an RFC 6902 JSON Patch and is refused whole when the result
  breaks the model; every twin answer carries its ``ETag``.
- ``/api/v1/twins/{id}/relationships/{rel_id}`` with ``{"$relationshipName", "$targetId",
  ...properties}``; ``/incomingrelationships`` lists what points at a twin.
- ``POST /api/v1/query`` runs the query language (``{"query": ..., "continuation": ...}``).
- ``POST /api/v1/import`` adds models, twins and relationships atomically; ``GET
  /api/v1/export`` gives them back in the same shape.
- ``POST /api/v1/models/migrate`` moves the twins of one model version to another and
  reports, per twin, what changed and what failed.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Header, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from processtwin.errors import ConflictError, InvalidInputError, PreconditionFailedError
from processtwin.graph.documents import check_etag
from processtwin.graph.frozen import thaw
from processtwin.runtime.runtime import TwinRuntime

__all__ = ["graph_router"]


class QueryBody(BaseModel):
    query: str = Field(description="a query in the twin query language")
    continuation: str | None = Field(default=None, description="token from a previous page")
    limit: int = Field(default=1000, ge=1, le=10_000, description="rows per page")


class MigrateBody(BaseModel):
    from_model: str = Field(alias="from")
    to_model: str = Field(alias="to")
    dry_run: bool = False
    defaults: dict[str, Any] = Field(default_factory=dict)
    renames: dict[str, str] = Field(default_factory=dict)


class ImportBody(BaseModel):
    models: list[dict[str, Any]] = Field(default_factory=list)
    twins: list[dict[str, Any]] = Field(default_factory=list)
    relationships: list[dict[str, Any]] = Field(default_factory=list)


def _doc(doc: Any, status: int = 200) -> JSONResponse:
    body = thaw(doc)
    return JSONResponse(body, status_code=status, headers={"ETag": str(body.get("$etag", ""))})


def _match(value: str | None) -> str | None:
    return value or None


def graph_router(rt: TwinRuntime) -> APIRouter:
    """The graph routes for one runtime's :class:`~processtwin.graph.graph.TwinGraph`."""
    r = APIRouter(prefix="/api/v1")
    g = rt.graph

    # -- models -----------------------------------------------------------------------
    @r.get("/models")
    async def list_models() -> dict[str, Any]:
        return {"models": [{"id": m, "versions": g.model_versions(m)} for m in g.list_models()]}

    @r.post("/models", status_code=201)
    async def add_models(documents: list[dict[str, Any]] = Body(...)) -> dict[str, Any]:
        return {"added": g.add_models(documents)}

    @r.get("/models/{dtmi}")
    async def get_model(dtmi: str) -> dict[str, Any]:
        return g.get_model(dtmi)

    @r.delete("/models/{dtmi}", status_code=204)
    async def delete_model(dtmi: str) -> Response:
        g.delete_model(dtmi)
        return Response(status_code=204)

    @r.post("/models/migrate")
    async def migrate(body: MigrateBody) -> dict[str, Any]:
        report = g.migrate(body.from_model, body.to_model, dry_run=body.dry_run,
                           defaults=body.defaults or None, renames=body.renames or None)
        return report.to_dict()

    # -- twins ------------------------------------------------------------------------
    @r.put("/twins/{twin_id}")
    async def put_twin(twin_id: str, body: dict[str, Any] = Body(...),
                       if_match: str | None = Header(None),
                       if_none_match: str | None = Header(None)) -> JSONResponse:
        meta = body.get("$metadata")
        model = meta.get("$model") if isinstance(meta, dict) else None
        if not isinstance(model, str):
            raise InvalidInputError("a twin needs $metadata.$model (the DTMI of its model)")
        props = {k: v for k, v in body.items() if not k.startswith("$")}
        existed = g.twin(twin_id) is not None
        if existed:
            check_etag(f"twin '{twin_id}'", g.get_twin(twin_id), _match(if_match))
        elif _match(if_match) not in (None, "*"):
            raise PreconditionFailedError(f"twin '{twin_id}' does not exist (If-Match given)")
        doc = g.create_twin(twin_id, model, props, if_none_match=if_none_match == "*")
        return _doc(doc, 200 if existed else 201)

    @r.get("/twins/{twin_id}/document")
    async def twin_document(twin_id: str) -> JSONResponse:
        return _doc(g.get_twin(twin_id))

    @r.patch("/twins/{twin_id}")
    async def patch_twin(twin_id: str, patch: list[dict[str, Any]] = Body(...),
                         if_match: str | None = Header(None)) -> JSONResponse:
        return _doc(g.patch_twin(twin_id, patch, if_match=_match(if_match)))

    @r.delete("/twins/{twin_id}", status_code=204)
    async def delete_twin(twin_id: str, if_match: str | None = Header(None),
                          cascade: bool = False) -> Response:
        if rt.table.of_twin(twin_id):
            raise ConflictError(f"twin '{twin_id}' has live points bound in twin.yaml; "
                                "remove its bindings there first")
        g.delete_twin(twin_id, if_match=_match(if_match), cascade=cascade)
        return Response(status_code=204)

    # -- relationships ----------------------------------------------------------------
    @r.get("/twins/{twin_id}/relationships")
    async def relationships(twin_id: str, name: str | None = None) -> dict[str, Any]:
        return {"value": [thaw(x) for x in g.list_relationships(twin_id, name)]}

    @r.get("/twins/{twin_id}/incomingrelationships")
    async def incoming(twin_id: str, name: str | None = None) -> dict[str, Any]:
        return {"value": [thaw(x) for x in g.list_incoming(twin_id, name)]}

    @r.get("/twins/{twin_id}/relationships/{rel_id}")
    async def get_relationship(twin_id: str, rel_id: str) -> JSONResponse:
        return _doc(g.get_relationship(twin_id, rel_id))

    @r.put("/twins/{twin_id}/relationships/{rel_id}")
    async def put_relationship(twin_id: str, rel_id: str,
                               body: dict[str, Any] = Body(...),
                               if_none_match: str | None = Header(None)) -> JSONResponse:
        name, target = body.get("$relationshipName"), body.get("$targetId")
        if not isinstance(name, str) or not isinstance(target, str):
            raise InvalidInputError("a relationship needs $relationshipName and $targetId")
        props = {k: v for k, v in body.items() if not k.startswith("$")}
        existed = any(x["$relationshipId"] == rel_id for x in g.outgoing(twin_id))
        doc = g.add_relationship(twin_id, rel_id, name, target, props,
                                 if_none_match=if_none_match == "*")
        return _doc(doc, 200 if existed else 201)

    @r.patch("/twins/{twin_id}/relationships/{rel_id}")
    async def patch_relationship(twin_id: str, rel_id: str,
                                 patch: list[dict[str, Any]] = Body(...),
                                 if_match: str | None = Header(None)) -> JSONResponse:
        return _doc(g.patch_relationship(twin_id, rel_id, patch, if_match=_match(if_match)))

    @r.delete("/twins/{twin_id}/relationships/{rel_id}", status_code=204)
    async def delete_relationship(twin_id: str, rel_id: str,
                                  if_match: str | None = Header(None)) -> Response:
        g.delete_relationship(twin_id, rel_id, if_match=_match(if_match))
        return Response(status_code=204)

    # -- query, import, export --------------------------------------------------------
    @r.post("/query")
    async def query(body: QueryBody) -> dict[str, Any]:
        return rt.query(body.query, limit=body.limit, continuation=body.continuation)

    @r.post("/import", status_code=201)
    async def bulk_import(body: ImportBody) -> dict[str, Any]:
        res = g.bulk_import(models=body.models, twins=body.twins,
                            relationships=body.relationships)
        return {"models": list(res.models), "twins": res.twins,
                "relationships": res.relationships}

    @r.get("/export")
    async def export(model: str | None = Query(None)) -> dict[str, Any]:
        data = g.export()
        if model is not None:
            keep = {t["$dtId"] for t in data["twins"] if g.is_of_model(t["$dtId"], model)}
            data["twins"] = [t for t in data["twins"] if t["$dtId"] in keep]
            data["relationships"] = [x for x in data["relationships"]
                                     if x["$sourceId"] in keep and x["$targetId"] in keep]
        return data

    return r
