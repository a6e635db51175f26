"""The estimator service: EKF, UKF or MHE chosen by twin.yaml, quality respected, live."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from processtwin.core.batch import Batch
from processtwin.core.points import PointKind, PointSpec, PointTable
from processtwin.core.quality import Quality, Reason
from processtwin.core.state import LiveState
from processtwin.estimation import MovingHorizonEstimator, UnscentedKalmanFilter
from processtwin.physics.cstr import van_de_vusse
from processtwin.runtime.config import EstimatorConfig, load_config
from processtwin.runtime.estimator import EstimatorService
from processtwin.runtime.runtime import TwinRuntime
from processtwin.runtime.service import demo_config
from processtwin.runtime.views import health, twin_detail

KINDS = ("ekf", "ukf", "mhe")
TELEMETRY = ("reactor1.T_R", "reactor1.T_R_B", "jacket1.T_K", "pump1.F", "jacket1.Q",
             "reactor1.C_b_lab")


def _config(kind: str = "ekf", **extra: Any) -> EstimatorConfig:
    return EstimatorConfig(
        twin="reactor1", kind=kind, inputs={"F": "pump1.F", "Q": "jacket1.Q"},  # type: ignore[arg-type]
        measurements={"T_R": ["reactor1.T_R", "reactor1.T_R_B"], "T_K": ["jacket1.T_K"]},
        delayed={"C_b": "reactor1.C_b_lab"},
        measurement_std={"T_R": 0.1, "T_K": 0.1, "C_b": 0.02},
        process_std={"C_a": 0.5, "C_b": 0.3, "T_R": 2.0, "T_K": 2.0},
        estimates={"C_a": "C_a", "C_b": "C_b", "T_R": "T_R_est"}, horizon=5, **extra)


def _service(cfg: EstimatorConfig) -> tuple[EstimatorService, LiveState]:
    specs = [PointSpec(twin=k.split(".")[0], name=k.split(".")[1]) for k in TELEMETRY]
    for p in cfg.estimate_points().values():
        specs += [PointSpec(twin=cfg.twin, name=p, kind=PointKind.ESTIMATE),
                  PointSpec(twin=cfg.twin, name=f"{p}_std", kind=PointKind.ESTIMATE)]
    table = PointTable(specs)
    return EstimatorService(cfg, table), LiveState(table)


def _feed(svc: EstimatorService, state: LiveState, t: float, values: Mapping[str, float],
          quality: Quality = Quality.GOOD, reason: Reason = Reason.NONE) -> None:
    idx = [svc.table.index(k) for k in values]
    state.apply(Batch.of(idx, [t] * len(idx), list(values.values()),
                         [quality] * len(idx), [reason] * len(idx)), t)


def _plant(svc: EstimatorService, state: LiveState, t: float, x: np.ndarray) -> None:
    _feed(svc, state, t, {"reactor1.T_R": float(x[2]), "reactor1.T_R_B": float(x[2]),
                          "jacket1.T_K": float(x[3]), "pump1.F": 18.83, "jacket1.Q": -4495.7})


def test_bad_measurement_is_skipped_and_uncertain_down_weighted() -> None:
    svc, state = _service(_config())
    x = van_de_vusse().x0
    for k in range(5):
        _plant(svc, state, float(k), x)
        assert svc.step(state, float(k)) is not None
    t_r = svc.est_model.state_names.index("T_R")
    before = float(svc.x[t_r])
    # both thermometers report a wild value marked bad: the filter must not move toward it
    _feed(svc, state, 5.0, {"reactor1.T_R": 400.0, "reactor1.T_R_B": 400.0,
                            "jacket1.T_K": float(x[3])}, Quality.BAD, Reason.RANGE)
    _feed(svc, state, 5.0, {"jacket1.T_K": float(x[3])})
    svc.step(state, 5.0)
    assert abs(float(svc.x[t_r]) - before) < 1.0
    assert svc.skipped == 2
    # uncertain and imputed values count with a quarter of the weight (4x the variance)
    _feed(svc, state, 6.0, {"reactor1.T_R": 134.0}, Quality.UNCERTAIN, Reason.OUTLIER)
    _feed(svc, state, 6.0, {"reactor1.T_R_B": 134.2}, Quality.GOOD, Reason.IMPUTED)
    _feed(svc, state, 6.0, {"jacket1.T_K": 129.0})
    y, w = svc._measurements(state)
    assert w == {"T_R": 0.5, "T_K": 1.0} and y["T_R"] == pytest.approx(134.1)


def test_variance_factor_is_configurable() -> None:
    svc, state = _service(_config(uncertain_variance_factor=10.0))
    _feed(svc, state, 1.0, {"reactor1.T_R": 134.0}, Quality.UNCERTAIN)
    _, w = svc._measurements(state)
    assert w["T_R"] == pytest.approx(0.1)


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_estimates_states_and_a_walked_parameter(kind: str) -> None:
    cfg = _config(kind, walks={"K_w": {"std": 200.0, "initial": 3800.0, "lo": 1000.0,
                                       "hi": 8000.0}})
    svc, state = _service(cfg)
    assert svc.walked == ("K_w",)
    expected = {"ukf": UnscentedKalmanFilter, "mhe": MovingHorizonEstimator}.get(kind)
    if expected is not None:
        assert isinstance(svc.filter.est, expected)
    m = van_de_vusse()
    x = m.x0
    for k in range(12):
        _plant(svc, state, 10.0 * k, x)
        out = svc.step(state, 10.0 * k)
        assert out is not None
    batch, _ = out
    keys = [svc.table.spec(int(i)).key for i in batch.point]
    assert {"reactor1.K_w", "reactor1.K_w_std", "reactor1.C_b",
            "reactor1.T_R_est_std"} <= set(keys)
    assert np.all(np.isfinite(batch.value)) and np.all(batch.value[len(keys) // 2:] > 0)
    summary = svc.summary()
    assert summary["kind"] == kind and set(summary["params"]) == {"K_w"}
    kw = summary["params"]["K_w"]
    assert 1000.0 <= kw["value"] <= 8000.0 and kw["std"] > 0
    assert svc.params()["K_w"] == kw["value"] and len(svc.x_model) == m.nx
    if kind == "mhe":
        assert summary["mhe"]["solves"] >= 10


def test_config_rejects_unknown_walks_and_bounds() -> None:
    with pytest.raises(ValueError, match="unknown parameters \\['nope'\\]"):
        _config(walks={"nope": {"std": 1.0}})
    with pytest.raises(ValueError, match="neither states nor walked"):
        _config("mhe", bounds={"zz": (0.0, 1.0)})
    with pytest.raises(ValueError, match="lo < hi"):
        _config("mhe", bounds={"T_R": (2.0, 1.0)})


@pytest.mark.integration
@pytest.mark.parametrize("kind", KINDS)
async def test_each_kind_runs_live_on_the_example(kind: str, example_path: Path,
                                                  tmp_path: Path) -> None:
    cfg = demo_config(load_config(example_path), data_dir=str(tmp_path), seed=3,
                      time_scale=20.0)
    assert cfg.estimator is not None
    est_cfg = cfg.estimator.model_copy(update={
        "kind": kind, "horizon": 10,
        "walks": EstimatorConfig.model_validate(
            {**cfg.estimator.model_dump(), "walks": {"K_w": {"std": 100.0}}}).walks})
    cfg = cfg.model_copy(update={
        "estimator": est_cfg, "optimizer": None,
        "simulator": cfg.simulator.model_copy(update={"fault_rate_per_h": 0.0})})
    rt = TwinRuntime(cfg)
    await rt.start()
    try:
        est = rt.estimator
        assert est is not None
        deadline = time.monotonic() + 30.0
        while est.steps < 8 and time.monotonic() < deadline:  # noqa: ASYNC110 - polls a counter
            await asyncio.sleep(0.25)
        assert est.steps >= 8
        detail = twin_detail(rt, "reactor1")
        for name in ("C_a", "C_b", "K_w"):
            e = detail["estimates"][name]
            assert np.isfinite(e["value"]) and e["std"] is not None and e["std"] > 0, (name, e)
        assert 0.0 < detail["estimates"]["C_b"]["value"] < 5.1
        model = health(rt, "reactor1")["model"]
        assert model["estimator"] == kind
        assert set(model["estimates"]["params"]) == {"K_w"}
        assert detail["fidelity"]["level"] == "L3" and kind.upper() in detail["fidelity"]["why"]
    finally:
        await rt.stop()
