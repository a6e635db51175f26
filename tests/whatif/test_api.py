"""POST /api/v1/twins/{id}/whatif through the ASGI app, from the twin's own estimate."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from processtwin.api.app import create_app
from processtwin.core.batch import Batch
from processtwin.runtime.config import WalkConfig, load_config
from processtwin.runtime.runtime import TwinRuntime

SCENARIO = {"horizon_s": 1800, "dt_s": 120, "n": 100, "seed": 3,
            "inputs": {"Q": [{"at_s": 300, "delta": 1500, "ramp_s": 300}]},
            "uncertain": {"beta": {"dist": "uniform", "lo": 0.98, "hi": 1.02}},
            "constraints": [{"variable": "T_R", "above": 136.0, "within_s": 1800}]}


@pytest.fixture
async def client(example_path: Path, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    cfg = load_config(example_path)
    assert cfg.estimator is not None
    est_cfg = cfg.estimator.model_copy(
        update={"walks": {"K_w": WalkConfig(std=100.0, initial=3800.0)}})
    cfg = cfg.model_copy(update={"data_dir": str(tmp_path), "estimator": est_cfg})
    rt = TwinRuntime(cfg)
    transport = httpx.ASGITransport(app=create_app(rt))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://twin") as c:
            c.rt = rt  # type: ignore[attr-defined]
            yield c
    finally:
        rt.graph.close()
        rt.store.close()


def _feed(rt: TwinRuntime, t: float, t_r: float) -> None:
    vals = {"reactor1.T_R": t_r, "reactor1.T_R_B": t_r, "jacket1.T_K": 129.0,
            "pump1.F": 18.83, "jacket1.Q": -4495.7}
    idx = [rt.table.index(k) for k in vals]
    rt.state.apply(Batch.of(idx, [t] * len(idx), list(vals.values()), [0] * len(idx),
                            [0] * len(idx)), t)


async def test_whatif_round_trip_from_the_live_estimate(client: httpx.AsyncClient) -> None:
    rt: TwinRuntime = client.rt  # type: ignore[attr-defined]
    est = rt.estimator
    assert est is not None
    # before any measurement: from the nominal point
    r = await client.post("/api/v1/twins/reactor1/whatif", json=SCENARIO)
    assert r.status_code == 200, r.text
    assert r.json()["origin"] == "nominal"
    now = time.time()
    for k in range(6):
        _feed(rt, now + k, 135.0)
        est.step(rt.state, now + k)
    r = await client.post("/api/v1/twins/reactor1/whatif", json=SCENARIO)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["origin"] == "estimate" and body["n"] == 100 and body["n_failed"] == 0
    assert body["x0"]["T_R"] == pytest.approx(float(est.x[2]))
    assert body["x0"]["K_w"] == pytest.approx(float(est.x[4])) and body["x0_std"]["K_w"] > 0
    assert abs(body["x0"]["T_R"] - 135.0) < 0.5
    assert body["inputs0"] == {"F": 18.83, "Q": -4495.7}
    band = body["variables"]["T_R"]["percentiles"]
    assert len(band["p50"]) == len(body["t_s"]) == 16
    assert np.all(np.array(band["p5"]) <= np.array(band["p95"]))
    c = body["constraints"][0]
    assert c["label"] == "T_R > 136 within 1800 s" and c["ci_low"] <= c["probability"] <= \
        c["ci_high"]
    # the same request with the same seed gives the same answer
    again = (await client.post("/api/v1/twins/reactor1/whatif", json=SCENARIO)).json()
    assert again["variables"] == body["variables"]


@pytest.mark.parametrize(("change", "where", "words"), [
    ({"inputs": {"G": [{"at_s": 0, "value": 1}]}}, ["inputs", "G"], "unknown input 'G'"),
    ({"uncertain": {"zeta": {"std": 1}}}, ["uncertain", "zeta"], "unknown parameter 'zeta'"),
    ({"constraints": [{"variable": "T_X", "above": 1}]}, ["constraints", 0, "variable"],
     "'T_X'"),
])
async def test_unknown_names_give_422_naming_them(client: httpx.AsyncClient,
                                                 change: dict[str, object],
                                                 where: list[object], words: str) -> None:
    r = await client.post("/api/v1/twins/reactor1/whatif", json={**SCENARIO, **change})
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["errors"][0]["loc"] == where and words in body["errors"][0]["msg"]
    assert words in body["detail"]


async def test_malformed_requests_give_422_and_unknown_twins_404(
        client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/twins/reactor1/whatif", json={**SCENARIO, "colour": 1})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"][-1] == "colour"
    r = await client.post("/api/v1/twins/reactor1/whatif", json={**SCENARIO, "n": 10 ** 6})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"][-1] == "n"
    r = await client.post("/api/v1/twins/nope/whatif", json=SCENARIO)
    assert r.status_code == 404 and "nope" in r.json()["detail"]
    r = await client.post("/api/v1/twins/jacket1/whatif", json=SCENARIO)
    assert r.status_code == 404 and "no process model" in r.json()["detail"]
