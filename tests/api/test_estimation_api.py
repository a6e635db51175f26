"""POST /api/v1/twins/{id}/observability and /paramest through the ASGI app.

The paramest data: 1 h of plant time (6 min of clock at the example's time_scale 10) of a
simulated CSTR with fouled jacket K_w = 3700 (nominal 4032), feed and cooling stepped,
written to the runtime's MemoryStore on a 3 s clock grid with σ 0.1 K thermometer noise,
a lab C_b every 30 s, and bad-quality garbage rows that the fit must ignore.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from processtwin.api.app import create_app
from processtwin.core.batch import Batch
from processtwin.core.quality import Quality
from processtwin.physics import rk4, van_de_vusse
from processtwin.runtime.config import load_config
from processtwin.runtime.runtime import TwinRuntime
from processtwin.store.memory import MemoryStore

T0 = 1_800_000_000.0
STEP = 3.0  # clock seconds per sample (30 s of plant time)
K = 121
TRUE_KW = 3700.0


@pytest.fixture
async def client(example_path: Path, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    cfg = load_config(example_path)
    cfg = cfg.model_copy(update={"data_dir": str(tmp_path)})
    rt = TwinRuntime(cfg, store=MemoryStore())
    transport = httpx.ASGITransport(app=create_app(rt))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://twin",
                                     timeout=120) as c:
            c.rt = rt  # type: ignore[attr-defined]
            yield c
    finally:
        rt.graph.close()
        rt.store.close()


def _fill_store(rt: TwinRuntime, seed: int = 4) -> None:
    m = van_de_vusse()
    rng = np.random.default_rng(seed)
    p = {"K_w": TRUE_KW}
    u = np.tile(m.u0, (K, 1))
    u[:, 0] *= 1 + 0.15 * np.sign(np.sin(np.arange(K) / 10))
    u[:, 1] *= 1 + 0.1 * np.sign(np.sin(np.arange(K) / 7 + 1))
    x = [m.steady_state(u[0], p)]
    for k in range(K - 1):
        x.append(rk4(m, x[-1], u[k], STEP * 10 / 3600, p, substeps=4))
    xs = np.array(x)
    ts = T0 + np.arange(K) * STEP
    cols = {"pump1.F": u[:, 0], "jacket1.Q": u[:, 1],
            "reactor1.T_R": xs[:, 2] + rng.normal(0, 0.1, K),
            "reactor1.T_R_B": xs[:, 2] + rng.normal(0, 0.1, K),
            "jacket1.T_K": xs[:, 3] + rng.normal(0, 0.1, K)}
    pts, tt, vv, qq = [], [], [], []
    for key, v in cols.items():
        pts += [rt.table.index(key)] * K
        tt += ts.tolist()
        vv += v.tolist()
        qq += [Quality.GOOD] * K
    lab = np.arange(0, K, 10)
    pts += [rt.table.index("reactor1.C_b_lab")] * len(lab)
    tt += (ts[lab] + 0.4).tolist()  # a little off the grid
    vv += (xs[lab, 1] + rng.normal(0, 0.02, len(lab))).tolist()
    qq += [Quality.GOOD] * len(lab)
    # garbage the quality filter must keep out of the fit
    for key, val in (("reactor1.T_R_B", 400.0), ("jacket1.T_K", -50.0), ("pump1.F", 0.0)):
        pts += [rt.table.index(key)] * 5
        tt += (ts[40:45] + 1.0).tolist()
        vv += [val] * 5
        qq += [Quality.BAD] * 5
    rt.store.append(Batch.of(pts, tt, vv, qq, [0] * len(pts)))


async def test_c_b_is_observable_from_t_r_and_t_k(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/twins/reactor1/observability",
                          json={"sensors": ["T_R", "T_K"], "states": ["C_b"],
                                "params": ["K_w"]})
    assert r.status_code == 200, r.text
    body = r.json()
    obs = body["observability"]
    assert body["origin"] == "nominal" and set(body["inputs"]) == {"F", "Q"}
    assert obs["rank"] == obs["n"] == 4 and obs["observable"] is True
    assert set(obs["states"]) == {"C_b"}
    assert obs["states"]["C_b"]["verdict"] == "observable"
    assert 0 < obs["states"]["C_b"]["crb_std"] <= obs["states"]["C_b"]["required_std"]
    assert obs["state_verdicts"]["C_b"].startswith("C_b is observable from T_R, T_K")
    ident = body["identifiability"]
    assert ident["params"] == ["K_w"] and ident["rank"] == 1


async def test_t_r_alone_sees_c_b_only_weakly(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/twins/reactor1/observability", json={"sensors": ["T_R"]})
    assert r.status_code == 200, r.text
    obs = r.json()["observability"]
    assert obs["rank"] == 4 and set(obs["states"]) == {"C_a", "C_b", "T_R", "T_K"}
    c_b = obs["states"]["C_b"]
    assert c_b["verdict"] == "weakly observable" and c_b["crb_std"] > c_b["required_std"]
    assert r.json()["identifiability"] is None


async def test_bad_requests_are_clear_problems(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/twins/reactor1/observability",
                          json={"sensors": ["T_R", "T_X"], "params": ["k9"]})
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert "T_X" in body["detail"] and "k9" in body["detail"]
    assert [e["loc"] for e in body["errors"]] == [["body", "sensors"], ["body", "params"]]
    r = await client.post("/api/v1/twins/reactor1/paramest",
                          json={"params": ["K_x"], "start": T0, "end": T0 + 100})
    assert r.status_code == 422 and "K_x" in r.json()["detail"]
    r = await client.post("/api/v1/twins/reactor1/observability",
                          json={"sensors": ["T_R"], "extra": 1})
    assert r.status_code == 422
    for twin in ("nope", "pump1"):  # unknown twin; a twin without model and estimator
        r = await client.post(f"/api/v1/twins/{twin}/observability", json={"sensors": ["T_R"]})
        assert r.status_code == 404 and twin in r.json()["detail"]
        r = await client.post(f"/api/v1/twins/{twin}/paramest",
                              json={"params": ["K_w"], "start": T0, "end": T0 + 100})
        assert r.status_code == 404


async def test_paramest_recovers_fouling_from_the_store(client: httpx.AsyncClient) -> None:
    rt: TwinRuntime = client.rt  # type: ignore[attr-defined]
    _fill_store(rt)
    r = await client.post("/api/v1/twins/reactor1/paramest",
                          json={"params": ["K_w"], "start": "2027-01-15T08:00:00Z",
                                "end": T0 + K * STEP, "grid_s": STEP, "profile": True})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["data"]["grid_points"] == K
    assert body["data"]["samples"]["C_b"] == len(range(0, K, 10))
    lo, hi = body["ci"]["K_w"]
    assert lo <= TRUE_KW <= hi, body["ci"]
    assert hi - lo < 200 and body["std"]["K_w"] > 0
    assert body["identifiable"]["K_w"] is True
    assert body["rank"] == 5  # K_w and the 4 initial states
    assert 0.5 < body["s2"] < 2.0  # residuals at the noise level: no bad row got in
    prof = body["profiles"]["K_w"]
    assert prof["identifiable"] and prof["ci"][0] <= TRUE_KW <= prof["ci"][1]
    assert body["correlation"] == [[pytest.approx(1.0)]]


async def test_paramest_refuses_too_little_data(client: httpx.AsyncClient) -> None:
    rt: TwinRuntime = client.rt  # type: ignore[attr-defined]
    _fill_store(rt)
    # before the history: no input value at all
    r = await client.post("/api/v1/twins/reactor1/paramest",
                          json={"params": ["K_w"], "start": T0 - 1000, "end": T0 - 500})
    assert r.status_code == 422
    assert "no usable value" in r.json()["detail"]
    # three grid times: fewer samples than unknowns
    r = await client.post("/api/v1/twins/reactor1/paramest",
                          json={"params": ["K_w", "beta", "alpha"], "start": T0,
                                "end": T0 + 3 * STEP, "grid_s": STEP})
    assert r.status_code == 422 and "too little data" in r.json()["detail"]
    r = await client.post("/api/v1/twins/reactor1/paramest",
                          json={"params": ["K_w"], "start": T0, "end": T0 + 1e6,
                                "grid_s": 1})
    assert r.status_code == 422 and "at most" in r.json()["detail"]
