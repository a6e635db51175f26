"""ptwin replay and ptwin edge from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from processtwin.cli import app
from tests.connectors.test_mqtt_support import Publisher, needs_broker, prefix

T0 = 1_714_557_600.0


@pytest.mark.integration
@needs_broker
def test_replay_command_prints_a_summary_and_skips_bad_rows(tmp_path: Path) -> None:
    f = tmp_path / "r.csv"
    f.write_text("timestamp,tag,value\n" + "".join(f"{T0 + k},a.b,{k}\n" for k in range(50))
                 + f"{T0 + 50},a.b,oops\n")
    topic = f"{prefix()}/replay"
    sub = Publisher()
    sub.watch(topic)
    try:
        res = CliRunner().invoke(app, ["replay", str(f), "--to", "mqtt", "--speed", "0",
                                       "--topic", topic, "--quiet"])
    finally:
        sub.close()
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    assert summary["readings"] == 50 and summary["skipped"] == 1


def test_replay_command_refuses_a_bad_file(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["replay", str(tmp_path / "x.json"), "--speed", "0"])
    assert res.exit_code == 1


def test_edge_command_reports_config_problems(tmp_path: Path) -> None:
    f = tmp_path / "edge.yaml"
    f.write_text("twin: missing.yaml\nedge: {name: e}\n")
    res = CliRunner().invoke(app, ["edge", str(f)])
    assert res.exit_code == 2
