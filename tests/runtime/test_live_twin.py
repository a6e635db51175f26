"""The live twin end to end: simulated plant over OPC UA → twin → EKF → gate → plant."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from processtwin.control import Mode, verify
from processtwin.core import Quality
from processtwin.errors import CommandRefusedError
from processtwin.runtime.config import load_config
from processtwin.runtime.runtime import TwinRuntime
from processtwin.runtime.service import demo_config
from processtwin.runtime.views import twin_detail

pytestmark = pytest.mark.integration

TIME_SCALE = 30.0
CB_TOLERANCE = 0.05  # mol/l, RMSE of the EKF's C_b against the plant's true C_b


@pytest.fixture
async def twin(example_path: Path, tmp_path: Path) -> AsyncIterator[TwinRuntime]:
    cfg = demo_config(load_config(example_path), data_dir=str(tmp_path), seed=7,
                      time_scale=TIME_SCALE)
    cfg = cfg.model_copy(update={
        "simulator": cfg.simulator.model_copy(update={"fault_rate_per_h": 0.0}),
        "gate": cfg.gate.model_copy(update={"mode": Mode.APPROVE}),
        "optimizer": cfg.optimizer.model_copy(update={"period_s": 2.0}) if cfg.optimizer else None,
    })
    rt = TwinRuntime(cfg)
    await rt.start()
    yield rt
    await rt.stop()


async def test_live_twin_tracks_estimates_and_gates_commands(twin: TwinRuntime,
                                                             tmp_path: Path) -> None:
    rt = twin
    assert rt.plant_server is not None and rt.estimator is not None
    plant = rt.plant_server.plant
    errors = []
    deadline = time.time() + 14
    while time.time() < deadline:
        await asyncio.sleep(0.25)
        if rt.estimator.initialised:
            errors.append(float(rt.estimator.filter.ekf.x[1]) - plant.true_state()["C_b"])
    # readings arrive with their quality
    detail = twin_detail(rt, "reactor1")
    t_r = detail["telemetry"]["T_R"]
    assert t_r["quality"] == "good" and time.time() - t_r["ts"] < 2.0
    assert rt.counts["ingested"] > 500
    # the EKF's C_b tracks the plant's true C_b (after a few plant minutes of convergence)
    tail = np.array(errors[len(errors) // 3:])
    rmse = float(np.sqrt(np.mean(tail**2)))
    assert rmse < CB_TOLERANCE, rmse
    est = detail["estimates"]["C_b"]
    assert est["std"] is not None and 0 < est["std"] < 0.2

    # a refused command never reaches the plant
    writes_before = rt.plant_server.stats.setpoint_writes
    with pytest.raises(CommandRefusedError) as exc:
        await rt.command("reactor1", "F", 400.0, "alice")
    assert any("envelope" in r for r in exc.value.verdict.reasons)
    await asyncio.sleep(0.5)
    assert rt.plant_server.stats.setpoint_writes == writes_before
    assert float(plant.setpoint[0]) == pytest.approx(float(plant.model.u0[0]))

    # an approved proposal does reach it
    pending = [p for p in rt.proposals.values() if p.status == "pending"]
    assert pending, [p.status for p in rt.proposals.values()]
    p = await rt.approve(pending[-1].request.id, "bob")
    assert p.status == "applied"
    await asyncio.sleep(0.5)
    assert rt.plant_server.stats.setpoint_writes >= 1
    assert float(plant.setpoint[0]) == pytest.approx(p.request.inputs["F"], rel=1e-6)

    # every verdict is in the audit, and the chain verifies
    assert verify(tmp_path / "audit.jsonl")[0]
    kinds = [e["kind"] for e in rt.audit.recent(1000)]
    assert "applied" in kinds and kinds.count("verdict") >= 3


async def test_history_is_stored_with_quality(twin: TwinRuntime) -> None:
    await asyncio.sleep(3)
    await twin.flush()
    s = twin.store.query("reactor1.T_R")
    assert len(s) > 20 and (s.quality == Quality.GOOD).mean() > 0.9
    s = twin.store.query("reactor1.T_R", every=1.0)
    assert 1 <= len(s) <= 5
