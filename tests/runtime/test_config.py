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
gate: {limits: {Z: {lo: 0, hi: 1}}}
"""
    with pytest.raises(ConfigError) as exc:
        load_config_text(text)
    msgs = " | ".join(p.message for p in exc.value.problems)
    assert any(p.path == "gate.limits.Z" and "no source writes it" in p.message
               for p in exc.value.problems)
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


def test_twins_are_checked_against_their_dtdl_models(example_path: Path, tmp_path: Path) -> None:
    text = example_path.read_text()
    text = text.replace("properties: {volume: 10.01, cb_target: 0.95}",
                        "properties: {volume: 'ten', colour: red}")
    text = text.replace("{source: pump1, name: feeds, target: reactor1}",
                        "{source: pump1, name: drains, target: reactor1}")
    text = text.replace("twin: reactor1, point: level,", "twin: reactor1, point: lvl,")
    (tmp_path / "models").symlink_to(example_path.parent / "models")
    bad = tmp_path / "twin.yaml"
    bad.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_config(bad)
    msgs = {p.path: p.message for p in exc.value.problems}
    assert "has no property 'colour'" in msgs["twins.0.properties.colour"]
    assert msgs["twins.0.properties.volume"].startswith("type:")
    assert "no relationship 'drains'" in msgs["relationships.0.name"]
    assert "'lvl' is no telemetry" in msgs["sources.0.bindings.5.point"]
    assert all(p.line for p in exc.value.problems)


def test_invalid_dtdl_is_a_config_error(example_path: Path, tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "Bad.json").write_text('{"@context": "dtmi:dtdl:context;3", '
                                                  '"@id": "not-a-dtmi", "@type": "Interface"}')
    text = example_path.read_text().replace(
        "models: [models/Reactor.json, models/CoolingJacket.json, models/Pump.json, "
        "models/Sensor.json]", "models: [models/*.json]")
    (tmp_path / "twin.yaml").write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_config(tmp_path / "twin.yaml")
    assert any("invalidId" in p.message or "dtmi" in p.message for p in exc.value.problems)


def test_example_rate_limits_sit_above_the_sensor_noise(example_path: Path) -> None:
    """A rate limit inside the noise flags healthy readings (seen: 98 false flags in 10 min)."""
    from processtwin.connectors.simulator.plant import default_sensors

    cfg = load_config(example_path)
    noise = {s.tag: s.noise_std for s in default_sensors()}
    dt = cfg.sources[0].sampling_interval_ms / 1000
    for b in cfg.sources[0].bindings:
        tag = b.node.rsplit(".", 1)[1]
        if tag in noise:
            assert b.max_roc > 4 * noise[tag] * 2**0.5 / dt, b
