"""Twin graph over real HTTP: models, twin and relationship CRUD with ETags, atomic import,
export, versioned models with migration, queries on live telemetry, and persistence."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from processtwin.core.batch import Batch
from processtwin.runtime.config import load_config
from processtwin.runtime.runtime import TwinRuntime
from processtwin.runtime.service import http_service

pytestmark = pytest.mark.integration

SENSOR = "dtmi:processtwin:example:TemperatureSensor;1"
REACTOR = "dtmi:processtwin:example:Reactor;1"


@pytest.fixture
async def api(example_path: Path, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    cfg = load_config(example_path).model_copy(update={"data_dir": str(tmp_path)})
    rt = TwinRuntime(cfg)
    try:
        async with http_service(rt) as addr, httpx.AsyncClient(
                base_url=f"http://{addr}/api/v1", timeout=10) as c:
            c.rt = rt  # type: ignore[attr-defined]
            yield c
    finally:
        rt.graph.close()
        rt.store.close()


async def test_twin_yaml_seeds_the_graph(api: httpx.AsyncClient) -> None:
    twins = (await api.get("/twins")).json()["twins"]
    assert {t["id"] for t in twins} >= {"reactor1", "jacket1", "pump1", "TT101", "LT101"}
    models = {m["id"] for m in (await api.get("/models")).json()["models"]}
    assert {REACTOR, SENSOR, "dtmi:processtwin:example:Sensor;1"} <= models
    r1 = (await api.get("/twins/reactor1")).json()
    assert r1["properties"]["volume"] == 10.01
    assert {"name": "hasJacket", "target": "jacket1"}.items() <= r1["relationships"][0].items()
    page = (await api.get("/twins", params={"model": "dtmi:processtwin:example:Sensor;1",
                                            "limit": 2})).json()
    assert [t["id"] for t in page["twins"]] == ["FT101", "LT101"] and page["next"] == "LT101"
    rest = (await api.get("/twins", params={"model": "dtmi:processtwin:example:Sensor;1",
                                            "after": "LT101"})).json()["twins"]
    assert [t["id"] for t in rest] == ["TT101", "TT102", "TT201"]


async def test_twin_crud_with_etags(api: httpx.AsyncClient) -> None:
    body = {"$metadata": {"$model": SENSOR}, "tag": "TT999"}
    r = await api.put("/twins/TT999", json=body)
    assert r.status_code == 201, r.text
    etag = r.headers["ETag"]
    assert r.json()["$etag"] == etag and r.json()["tag"] == "TT999"
    assert (await api.put("/twins/TT999", json=body,
                          headers={"If-None-Match": "*"})).status_code == 409

    patch = [{"op": "replace", "path": "/tag", "value": "TT998"},
             {"op": "add", "path": "/calibrationDue", "value": "2027-01-31"}]
    r = await api.patch("/twins/TT999", json=patch, headers={"If-Match": etag})
    assert r.status_code == 200, r.text
    assert r.json()["tag"] == "TT998" and r.headers["ETag"] != etag
    stale = await api.patch("/twins/TT999", json=patch, headers={"If-Match": etag})
    assert stale.status_code == 412
    assert stale.headers["content-type"] == "application/problem+json"

    bad = [{"op": "replace", "path": "/tag", "value": "ok"},
           {"op": "add", "path": "/calibrationDue", "value": "not a date"},
           {"op": "add", "path": "/nonsense", "value": 1}]
    r = await api.patch("/twins/TT999", json=bad)
    assert r.status_code == 400
    codes = {p["path"] for p in r.json()["problems"]}
    assert codes == {"/calibrationDue", "/nonsense"}
    doc = (await api.get("/twins/TT999/document")).json()
    assert doc["tag"] == "TT998" and "nonsense" not in doc  # refused whole

    assert (await api.put("/twins/TT999", json={"tag": "x"})).status_code == 400  # no model
    assert (await api.get("/twins/nope/document")).status_code == 404
    assert (await api.delete("/twins/TT999", headers={"If-Match": 'W/"1"'})).status_code == 412
    assert (await api.delete("/twins/TT999")).status_code == 204
    assert (await api.get("/twins/TT999")).status_code == 404


async def test_relationship_crud_and_model_checks(api: httpx.AsyncClient) -> None:
    await api.put("/twins/TT999", json={"$metadata": {"$model": SENSOR}, "tag": "TT999"})
    rel = {"$relationshipName": "measures", "$targetId": "reactor1"}
    r = await api.put("/twins/TT999/relationships/m1", json=rel)
    assert r.status_code == 201, r.text
    assert r.json()["$sourceId"] == "TT999"
    incoming = (await api.get("/twins/reactor1/incomingrelationships",
                              params={"name": "measures"})).json()["value"]
    assert "TT999" in {x["$sourceId"] for x in incoming}
    # a pump's 'feeds' must target a Reactor; the jacket is none
    r = await api.put("/twins/pump1/relationships/f2",
                      json={"$relationshipName": "feeds", "$targetId": "jacket1"})
    assert r.status_code == 400 and r.json()["problems"]
    r = await api.put("/twins/TT999/relationships/m2",
                      json={"$relationshipName": "nope", "$targetId": "reactor1"})
    assert r.status_code == 400
    # a twin with relationships cannot be deleted; nor can one with live points
    assert (await api.delete("/twins/TT999")).status_code == 409
    assert (await api.delete("/twins/reactor1")).status_code == 409
    assert (await api.delete("/twins/TT999/relationships/m1")).status_code == 204
    assert (await api.get("/twins/TT999/relationships/m1")).status_code == 404
    assert (await api.delete("/twins/TT999")).status_code == 204


async def test_bulk_import_is_atomic_and_export_round_trips(api: httpx.AsyncClient) -> None:
    twins = [{"$dtId": f"S{i:04d}", "$metadata": {"$model": SENSOR}, "tag": f"S{i}"}
             for i in range(2000)]
    rels = [{"$relationshipId": "m", "$sourceId": t["$dtId"], "$targetId": "reactor1",
             "$relationshipName": "measures"} for t in twins]
    broken = copy.deepcopy(twins)
    broken[1500]["tag"] = 42
    r = await api.post("/import", json={"twins": broken, "relationships": rels})
    assert r.status_code == 400
    assert [p["twin"] for p in r.json()["problems"]] == ["S1500"]
    assert (await api.get("/twins/S0000")).status_code == 404  # nothing half-loaded

    r = await api.post("/import", json={"twins": twins, "relationships": rels})
    assert r.status_code == 201, r.text
    assert r.json()["twins"] == 2000 and r.json()["relationships"] == 2000
    out = (await api.get("/export")).json()
    ids = {t["$dtId"] for t in out["twins"]}
    assert {t["$dtId"] for t in twins} <= ids and "reactor1" in ids
    assert len(out["relationships"]) >= 2000
    sensors = (await api.get("/export", params={"model": SENSOR})).json()
    assert all(t["$metadata"]["$model"] == SENSOR for t in sensors["twins"])


async def test_versioned_model_and_migration_report(api: httpx.AsyncClient,
                                                    example_path: Path) -> None:
    v1 = json.loads((example_path.parent / "models" / "Reactor.json").read_text())
    v2 = copy.deepcopy(v1)
    v2["@id"] = "dtmi:processtwin:example:Reactor;2"
    v2["contents"] = [c for c in v2["contents"] if c["name"] != "cb_target"]
    v2["contents"].append({"@type": "Property", "name": "design_pressure", "schema": "double"})
    r = await api.post("/models", json=[v2])
    assert r.status_code == 201, r.text
    models = {m["id"]: m for m in (await api.get("/models")).json()["models"]}
    assert set(models[REACTOR]["versions"]) >= {REACTOR, "dtmi:processtwin:example:Reactor;2"}
    assert (await api.post("/models", json=[v2])).status_code == 409  # models are immutable

    dry = await api.post("/models/migrate", json={
        "from": REACTOR, "to": "dtmi:processtwin:example:Reactor;2", "dry_run": True,
        "defaults": {"design_pressure": 6.0}})
    assert dry.status_code == 200, dry.text
    report = dry.json()
    assert "reactor1" in json.dumps(report) and "cb_target" in json.dumps(report)
    doc = (await api.get("/twins/reactor1/document")).json()
    assert doc["$metadata"]["$model"] == REACTOR  # dry run changed nothing

    done = (await api.post("/models/migrate", json={
        "from": REACTOR, "to": "dtmi:processtwin:example:Reactor;2",
        "defaults": {"design_pressure": 6.0}})).json()
    assert done["summary"] == {"twins": 1, "migrated": 1, "failed": 0}
    doc = (await api.get("/twins/reactor1/document")).json()
    assert doc["$metadata"]["$model"] == "dtmi:processtwin:example:Reactor;2"
    assert doc["design_pressure"] == 6.0 and "cb_target" not in doc
    # the old version is no longer used and can go; a used one cannot
    assert (await api.delete(f"/models/{REACTOR}")).status_code in (204, 409)
    assert (await api.delete("/models/dtmi:processtwin:example:Reactor;2")).status_code == 409


async def test_query_reads_live_telemetry(api: httpx.AsyncClient) -> None:
    rt: TwinRuntime = api.rt  # type: ignore[attr-defined]
    now = time.time()
    idx = [rt.table.index("reactor1.T_R"), rt.table.index("jacket1.T_K")]
    await rt.ingest(Batch.of(np.array(idx, dtype=np.int32), np.array([now, now]),
                             np.array([141.5, 128.0])), [])
    q = "SELECT T.$dtId AS id FROM DIGITALTWINS T WHERE T.T_R > 140"
    r = await api.post("/query", json={"query": q})
    assert r.status_code == 200, r.text
    assert [row["id"] for row in r.json()["rows"]] == ["reactor1"]
    q = ("SELECT S.$dtId AS s FROM DIGITALTWINS R JOIN S RELATED R.hasJacket "
         "WHERE R.$dtId = 'reactor1' AND S.T_K < 130")
    assert [x["s"] for x in (await api.post("/query", json={"query": q})).json()["rows"]] == [
        "jacket1"]
    bad = await api.post("/query", json={"query": "SELECT T FROM DIGITALTWINS T WHERE T.x >"})
    assert bad.status_code == 400
    body: dict[str, Any] = bad.json()
    assert body["position"] == len("SELECT T FROM DIGITALTWINS T WHERE T.x >")
    assert body["line"] == 1


async def test_the_graph_persists_across_restarts(example_path: Path, tmp_path: Path) -> None:
    cfg = load_config(example_path).model_copy(update={"data_dir": str(tmp_path)})
    rt = TwinRuntime(cfg)
    rt.graph.create_twin("TT999", SENSOR, {"tag": "kept"})
    rt.graph.patch_twin("reactor1", [{"op": "replace", "path": "/volume", "value": 9.5}])
    rt.graph.close()
    rt.store.close()
    rt2 = TwinRuntime(cfg)  # twin.yaml seeds only what is missing; API edits survive
    try:
        assert rt2.graph.get_twin("TT999")["tag"] == "kept"
        assert rt2.graph.get_twin("reactor1")["volume"] == 9.5
        assert len(rt2.graph.outgoing("reactor1")) == 1
    finally:
        rt2.graph.close()
        rt2.store.close()
