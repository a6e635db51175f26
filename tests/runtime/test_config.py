from __future__ import annotations

from pathlib import Path

import pytest

from processtwin.errors import ConfigError
from processtwin.runtime.config import load_config, load_config_text


def test_example_config_is_valid(example_path: Path) -> None:
    cfg = load_config(example_path)
    assert cfg.estimator is not None and cfg.gate.mode.value == "advisory"


def test_every_structural_problem_is_reported_with_its_place() -> None:
    text = """name: x
twins:
  - {id: r1, model: m}
sources:
  - name: s
    url: u
    bindings:
      - {node: a, twin: r1, point: T, max_roc: -1}
      - {node: b, twin: r1, point: "T.x"}
gate: {mode: sideways}
"""
    with pytest.raises(ConfigError) as exc:
        load_config_text(text, file="t.yaml")
    got = {(p.path, p.line) for p in exc.value.problems}
    assert got == {("sources.0.bindings.0.max_roc", 8), ("sources.0.bindings.1.point", 9),
                   ("gate.mode", 10)}
    assert all(p.file == "t.yaml" for p in exc.value.problems)


def test_every_reference_problem_is_reported() -> None:
    text = """name: x
twins: [{id: r1, model: m}, {id: r1, model: m}]
relationships: [{source: r1, name: feeds, target: ghost}]
sources:
  - name: s
    url: u
    bindings:
      - {node: a, twin: nobody, point: T}
      - {node: a, twin: r1, point: T, lo: 5, hi: 1}
    writes: [{twin: r1, input: F, node: w}]
"""
    with pytest.raises(ConfigError) as exc:
        load_config_text(text)
    msgs = " | ".join(p.message for p in exc.value.problems)
    for needle in ("duplicate twin id", "unknown twin 'ghost'", "unknown twin 'nobody'",
                   "node a bound twice", "lo 5.0 > hi 1.0", "no gate limits"):
        assert needle in msgs


@pytest.mark.parametrize("text", ["", "[1, 2]", "name: [unclosed", "name: x\nbogus: 1\n"])
def test_malformed_files_give_config_errors(text: str) -> None:
    with pytest.raises(ConfigError):
        load_config_text(text)


def test_missing_file() -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config("/nonexistent/twin.yaml")
