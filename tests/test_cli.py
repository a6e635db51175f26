"""The CLI: demo summary, validate, bench."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PTWIN = [sys.executable, "-m", "processtwin.cli"]


@pytest.mark.integration
def test_demo_prints_a_one_line_summary(tmp_path: Path) -> None:
    out = subprocess.run([*PTWIN, "demo", "--for", "6", "--port", "0", "--data-dir",
                          str(tmp_path)], capture_output=True, text=True, timeout=120, check=True)
    lines = [ln for ln in out.stdout.splitlines() if ln.strip()]
    assert len(lines) == 1
    summary = json.loads(lines[0])
    assert summary["readings_ingested"] > 100
    assert {"readings_rejected", "proposals", "commands_applied"} <= set(summary)
    assert (tmp_path / "history.duckdb").exists() and (tmp_path / "audit.jsonl").exists()


def test_validate_reports_problems_with_places(tmp_path: Path, example_path: Path) -> None:
    ok = subprocess.run([*PTWIN, "validate", str(example_path)], capture_output=True, text=True)
    assert ok.returncode == 0
    bad = tmp_path / "twin.yaml"
    bad.write_text("name: x\ntwins: [{id: r1}]\ngate: {mode: loud}\n")
    res = subprocess.run([*PTWIN, "validate", str(bad)], capture_output=True, text=True)
    assert res.returncode == 2
    assert f"{bad}:2" in res.stderr and f"{bad}:3" in res.stderr


def test_bench_pipeline_json_shape() -> None:
    out = subprocess.run([*PTWIN, "bench", "pipeline", "--json", "--quick"], capture_output=True,
                         text=True, timeout=300, check=True)
    res = json.loads(out.stdout)
    assert res["bench"] == "pipeline"
    r = res["results"][0]
    assert {"name", "value", "unit", "baseline", "baseline_value", "ratio"} <= set(r)
    assert r["ratio"] == pytest.approx(r["value"] / r["baseline_value"])


async def test_export_writes_history_with_quality_to_parquet(tmp_path: Path,
                                                             example_path: Path) -> None:
    import numpy as np
    import pandas as pd
    from typer.testing import CliRunner

    from processtwin.cli import app
    from processtwin.core.batch import Batch
    from processtwin.runtime.config import load_config
    from processtwin.runtime.runtime import TwinRuntime

    cfg = load_config(example_path).model_copy(update={"data_dir": str(tmp_path)})
    rt = TwinRuntime(cfg)
    i = rt.table.index("reactor1.T_R")
    ts = 1.7e9 + 0.05 * np.arange(120.0)  # the source's sampling: no gaps to fill
    vals = 130 + np.sin(ts / 10)
    vals[5] = 900.0  # out of range: stored as bad, exported with its quality
    await rt.ingest(Batch.of(np.full(120, i, np.int32), ts, vals), [])
    await rt.flush()
    rt.store.close()
    rt.graph.close()
    out = tmp_path / "h.parquet"
    res = CliRunner().invoke(app, ["export", str(example_path), str(out), "-p", "reactor1.T_R",
                                   "--data-dir", str(tmp_path)])
    assert res.exit_code == 0, res.output
    df = pd.read_parquet(out)
    assert len(df) == 120
    assert sorted(set(df["quality"])) == [0, 2] and df["quality"].iloc[5] == 2
    bad = CliRunner().invoke(app, ["export", str(example_path), str(tmp_path / "h.xlsx"),
                                   "--data-dir", str(tmp_path)])
    assert bad.exit_code == 1 and "format" in bad.output
