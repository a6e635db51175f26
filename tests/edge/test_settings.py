"""edge.yaml: valid files load, every problem is reported with its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from processtwin.edge import load_edge_config
from processtwin.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "cstr" / "twin.yaml"


def test_loads_and_resolves_paths(tmp_path: Path) -> None:
    f = tmp_path / "edge.yaml"
    f.write_text(f"twin: {EXAMPLE}\nedge:\n  name: line1\n  link: {{port: 1884, qos: 0}}\n"
                 "  buffer: {dir: buf, max_bytes: 65536, fsync: always}\n")
    cfg = load_edge_config(f)
    assert cfg.edge.link.topic(cfg.edge.name) == "ptwin/edge/line1"
    assert cfg.buffer_dir() == tmp_path / "buf"
    assert cfg.edge.buffer.fsync == "always"
    assert cfg.edge.link.broker("x").port == 1884


def test_every_problem_with_its_line(tmp_path: Path) -> None:
    f = tmp_path / "edge.yaml"
    f.write_text(f"twin: {EXAMPLE}\nedge:\n  name: a/b\n  link:\n    qos: 3\n"
                 "  buffer: {max_bytes: 10}\n")
    with pytest.raises(ConfigError) as err:
        load_edge_config(f)
    where = {(p.path, p.line) for p in err.value.problems}
    assert ("edge.name", 3) in where
    assert ("edge.link.qos", 5) in where
    assert ("edge.buffer.max_bytes", 6) in where


def test_missing_twin_file(tmp_path: Path) -> None:
    f = tmp_path / "edge.yaml"
    f.write_text("twin: nope.yaml\nedge: {name: e}\n")
    with pytest.raises(ConfigError, match="no twin file"):
        load_edge_config(f)
