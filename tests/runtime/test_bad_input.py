"""Bad input on the live data path: reported with a reason, counted, nothing valid lost."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from asyncua import ua
from prometheus_client import generate_latest

from processtwin.core import Quality
from processtwin.runtime.config import load_config
from processtwin.runtime.runtime import TwinRuntime
from processtwin.runtime.service import demo_config

pytestmark = pytest.mark.integration


async def test_malformed_values_are_dead_lettered_and_valid_ones_all_arrive(
        example_path: Path, tmp_path: Path) -> None:
    cfg = demo_config(load_config(example_path), data_dir=str(tmp_path), seed=5)
    cfg = cfg.model_copy(update={"simulator": cfg.simulator.model_copy(
        update={"fault_rate_per_h": 0.0, "tick_s": 10.0})})  # the test drives the plant
    rt = TwinRuntime(cfg)
    await rt.start()
    try:
        srv = rt.plant_server
        assert srv is not None and srv._server is not None
        node = srv._nodes["LT101"]
        sent: list[float] = []
        bad = {3: ua.Variant(float("inf")), 6: ua.Variant(float("nan")),
               9: ua.Variant(250.0, ua.VariantType.Double)}
        for k in range(12):
            ts = datetime.now(UTC)
            variant = bad.get(k)
            if variant is None:
                value = 80.0 + 0.1 * k
                sent.append(value)
                variant = ua.Variant(value, ua.VariantType.Double)
            await srv._server.write_attribute_value(node, ua.DataValue(
                Value=variant, StatusCode=ua.StatusCode(ua.StatusCodes.Good),
                SourceTimestamp=ts))
            await asyncio.sleep(0.15)  # one publish per value
        await asyncio.sleep(0.5)
        await rt.flush()
        dead = rt.store.dead_letters(50)
        by_cat = {d.category: d for d in dead}
        assert [d.category for d in dead].count("nan") == 2  # inf and nan
        assert by_cat["nan"].key == "reactor1.level"
        assert "range: 250 outside [0, 100]" in by_cat["range"].reason
        hist = rt.store.query("reactor1.level")
        good = hist.value[hist.quality == Quality.GOOD]
        np.testing.assert_allclose(sorted(good), sorted(sent))  # every valid reading arrived
        assert (hist.quality == Quality.BAD).sum() >= 3  # kept in history as bad values
        metrics = generate_latest(rt.metrics.registry).decode()
        assert 'ptwin_readings_rejected_total{reason="nan"} 2.0' in metrics
        assert 'ptwin_readings_rejected_total{reason="range"} 1.0' in metrics
    finally:
        await rt.stop()
