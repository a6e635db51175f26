"""``ptwin whatif``: offline with a progress bar, PNG and JSON; against a running service."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from processtwin.cli import app
from processtwin.runtime.config import load_config
from processtwin.runtime.runtime import TwinRuntime
from processtwin.runtime.service import http_service

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_SCENARIO = REPO / "examples" / "cstr" / "whatif_cooling_loss.yaml"


def test_cli_writes_a_png_and_json(example_path: Path, tmp_path: Path) -> None:
    png = tmp_path / "plots" / "whatif.png"
    res = CliRunner().invoke(app, ["whatif", str(EXAMPLE_SCENARIO), "--config",
                                   str(example_path), "--n", "80", "--seed", "2", "--out",
                                   str(png), "--json"])
    assert res.exit_code == 0, res.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    body = json.loads(res.stdout)
    assert body["n"] == 80 and body["seed"] == 2 and body["origin"] == "nominal"
    assert [c["label"] for c in body["constraints"]] == ["T_R > 140 within 3600 s",
                                                         "C_b < 0.75"]
    # the config's initial covariance is the starting spread
    assert body["x0_std"]["T_R"] == pytest.approx(1.0)
    assert set(body["variables"]) >= {"C_a", "C_b", "T_R", "T_K", "F", "Q", "T_in"}


def test_cli_table_without_config(tmp_path: Path) -> None:
    scen = tmp_path / "s.yaml"
    scen.write_text("horizon_s: 600\ndt_s: 60\nconstraints: [{variable: T_R, above: 150}]\n")
    res = CliRunner().invoke(app, ["whatif", str(scen), "--n", "5"])
    assert res.exit_code == 0, res.output
    assert "T_R > 150" in res.stdout and "0/5" in res.stdout


@pytest.mark.parametrize(("text", "words"), [
    ("inputs: {G: [{at_s: 0, value: 1}]}\n", "unknown input 'G'"),
    ("horizon_s: -1\n", "horizon_s: Input should be greater than 0"),
    ("- 1\n", "a scenario is a mapping"),
])
def test_cli_bad_scenario_exits_2_with_the_reason(tmp_path: Path, text: str,
                                                  words: str) -> None:
    scen = tmp_path / "bad.yaml"
    scen.write_text(text)
    res = CliRunner().invoke(app, ["whatif", str(scen), "--n", "3"])
    assert res.exit_code == 2
    assert words in " ".join(res.stderr.split())


@pytest.mark.integration
async def test_cli_asks_a_running_service(example_path: Path, tmp_path: Path) -> None:
    cfg = load_config(example_path).model_copy(update={"data_dir": str(tmp_path)})
    rt = TwinRuntime(cfg)
    try:
        async with http_service(rt) as addr:
            res = await asyncio.to_thread(
                CliRunner().invoke, app, ["whatif", str(EXAMPLE_SCENARIO), "--url",
                                          f"http://{addr}", "--config", str(example_path),
                                          "--n", "40", "--json"])
            assert res.exit_code == 0, res.output
            body = json.loads(res.stdout)
            assert body["n"] == 40 and body["origin"] == "nominal"
            bad = tmp_path / "bad.yaml"
            bad.write_text("uncertain: {zeta: {std: 1}}\n")
            res = await asyncio.to_thread(
                CliRunner().invoke, app, ["whatif", str(bad), "--url", f"http://{addr}",
                                          "--twin", "reactor1"])
            assert res.exit_code == 2 and "unknown parameter 'zeta'" in res.stderr
    finally:
        rt.graph.close()
        rt.store.close()
