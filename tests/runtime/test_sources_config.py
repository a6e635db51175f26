"""twin.yaml source kinds mqtt and sparkplug: validation with places, settings conversion."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from processtwin.connectors.mqtt.connector import MqttConnector
from processtwin.connectors.opcua.connector import OpcUaConnector
from processtwin.connectors.sparkplug.host import SparkplugHost
from processtwin.core.quality import Quality
from processtwin.errors import ConfigError
from processtwin.runtime.config import (
    MqttSourceConfig,
    OpcUaSourceConfig,
    SparkplugSourceConfig,
    load_config,
    load_config_text,
)
from processtwin.runtime.runtime import build_point_table
from processtwin.runtime.sources import build_connectors

HEAD = "name: x\ntwins: [{id: r1, model: 'dtmi:a:b;1'}]\nsources:\n"

MQTT = HEAD + """\
  - name: m
    kind: mqtt
    broker: {host: broker.local, port: 8883, client_id: ptwin-a, username: ingest,
             password_env: PTWIN_TEST_PW, session_expiry_s: 600, clean_start: false,
             tls: {ca_file: certs/ca.pem}}
    shared_group: twins
    routes:
      - {topic: "plant/{twin}/{point}", qos: 2,
         payload: {value: "$.v", ts: "$.t", ts_unit: ms, quality: "$.q",
                   quality_map: {ok: good, old: uncertain}}}
      - {topic: "lab/r1/batch", twin: r1,
         payload: {readings: "$.r[*]", point: "@.tag", value: "@.val", ts: "$.ts"}}
    points:
      - {twin: r1, point: T, unit: degC, lo: 0, hi: 200}
      - {twin: r1, point: C, unit: mol/l}
    writes: [{twin: r1, input: F, topic: plant/r1/cmd/F, qos: 1}]
  - name: s
    kind: sparkplug
    broker: {port: 1884}
    host_id: ptwin
    groups: [plantA, plantB]
    device_twin: "{edge}_{device}"
    max_age_s: 30
  - name: o
    url: opc.tcp://h:4840
    bindings: [{node: "ns=2;s=X", twin: r1, point: X}]
gate: {limits: {F: {lo: 0, hi: 10}}}
"""


def problems(text: str, tmp_path: Path | None = None) -> list[tuple[str, int | None, str]]:
    if tmp_path is not None:
        (tmp_path / "twin.yaml").write_text(text)
    with pytest.raises(ConfigError) as ei:
        (load_config_text(text, file="twin.yaml") if tmp_path is None
         else load_config(tmp_path / "twin.yaml"))
    return [(p.path, p.line, p.message) for p in ei.value.problems]


def test_the_three_kinds_load_and_become_connector_settings() -> None:
    cfg = load_config_text(MQTT, base_dir="/etc/ptwin")
    m, s, o = cfg.sources
    assert isinstance(m, MqttSourceConfig)
    assert isinstance(s, SparkplugSourceConfig)
    assert isinstance(o, OpcUaSourceConfig) and o.kind == "opcua"  # kind defaults to opcua
    ms = m.settings(base_dir=cfg.base_dir, env={"PTWIN_TEST_PW": "s3cret"})
    b = ms.broker
    assert (b.host, b.port, b.client_id, b.username, b.password) == (
        "broker.local", 8883, "ptwin-a", "ingest", "s3cret")
    assert (b.session_expiry_s, b.clean_start) == (600, False)
    assert b.tls is not None and b.tls.ca_file == "/etc/ptwin/certs/ca.pem"
    assert ms.subscriptions() == [("$share/twins/plant/+/+", 2), ("$share/twins/lab/r1/batch", 1)]
    fmt = ms.routes[0].format
    assert (fmt.value, fmt.ts, fmt.ts_unit) == ("$.v", "$.t", "ms")
    assert fmt.quality_map == {"ok": Quality.GOOD, "old": Quality.UNCERTAIN}
    assert ms.routes[1].twin == "r1" and ms.routes[1].format.point == "@.tag"
    assert ms.commands[0].topic == "plant/r1/cmd/F"
    ss = s.settings()
    assert ss.subscriptions()[:2] == [("spBv1.0/plantA/#", 1), ("spBv1.0/plantB/#", 1)]
    assert s.twin_id("plantA/e.1/pump 1") == "e_1_pump_1"
    assert s.twin_id("plantA/e1") == "plantA-e1"
    table = build_point_table(cfg)
    assert table.keys() == ["r1.T", "r1.C", "r1.X"]  # mqtt points and opcua bindings


def test_build_connectors_builds_each_kind_in_order() -> None:
    cfg = load_config_text(MQTT)
    built = build_connectors(cfg, build_point_table(cfg), env={"PTWIN_TEST_PW": "pw"})
    assert [type(c) for _, c in built] == [MqttConnector, SparkplugHost, OpcUaConnector]
    assert [s.name for s, _ in built] == ["m", "s", "o"]


def test_a_missing_password_variable_is_a_config_problem_with_its_place() -> None:
    cfg = load_config_text(MQTT)
    with pytest.raises(ConfigError) as ei:
        build_connectors(cfg, build_point_table(cfg), env={})
    (p,) = ei.value.problems
    assert p.path == "sources.0.broker.password_env"
    assert "PTWIN_TEST_PW is not set" in p.message


def test_a_password_in_clear_is_refused() -> None:
    text = HEAD + ("  - {name: m, kind: mqtt, broker: {username: u, password: hunter2},\n"
                   "     routes: [{topic: 'a/{twin}/{point}'}]}\n")
    ((path, line, msg),) = problems(text)
    assert (path, line) == ("sources.0.broker", 4)
    assert "password_env" in msg and "hunter2" not in msg


def test_every_bad_mqtt_field_is_reported_at_its_place() -> None:
    text = HEAD + """\
  - name: m
    kind: mqtt
    broker: {protocol: "3.1.1", session_expiry_s: 60}
    shared_group: "bad/group"
    routes:
      - topic: "plant/{twin}/{point"
      - {topic: "p/r1/T", twin: r1, point: T, payload: {value: "$.v["}}
      - {topic: "p/+/x", twin: r9, point: T}
      - {topic: "q/{twin}", payload: {readings: "$.r[*]", value: "@.v[*]", point: "@.p"}}
"""
    got = problems(text)
    where = {(p, line) for p, line, _ in got}
    assert ("sources.0.broker", 6) in where  # session expiry needs MQTT 5
    assert ("sources.0.routes.0", 9) in where  # an unclosed placeholder
    assert ("sources.0.routes.1.payload", 10) in where  # a path that does not parse
    assert ("sources.0.routes.3.payload", 12) in where  # a wildcard in value
    msgs = " | ".join(m for _, _, m in got)
    assert "session_expiry_s needs protocol '5'" in msgs
    assert "'{point'" in msgs and "'$.v['" in msgs


def test_cross_checks_of_mqtt_routes_points_and_writes() -> None:
    text = HEAD + """\
  - name: m
    kind: mqtt
    routes:
      - {topic: "p/x/T", twin: r9, point: T}
      - {topic: "p/r1/P", twin: r1, point: P}
    points: [{twin: r2, point: T}, {twin: r1, point: T, lo: 5, hi: 1}]
    writes: [{twin: r1, input: F, topic: c/F}]
  - name: m
    kind: sparkplug
    host_id: h
"""
    got = {(p, m) for p, _, m in problems(text)}
    assert ("sources.0.routes.0.twin", "unknown twin 'r9'") in got
    assert ("sources.0.routes.1.point", "point r1.P is not in this source's points") in got
    assert ("sources.0.points.0.twin", "unknown twin 'r2'") in got
    assert ("sources.0.points.1.lo", "lo 5.0 > hi 1.0") in got
    assert ("sources.0.writes.0.input",
            "input 'F' has no gate limits (gate.limits)") in got
    assert ("sources.1.name", "duplicate source name 'm'") in got


def test_sparkplug_problems_name_their_place(tmp_path: Path) -> None:
    text = HEAD + """\
  - name: s
    kind: sparkplug
    host_id: "a/b"
    device_twin: "{grp}-{device}"
    command_qos: 3
  - {name: t, kind: sparkplug}
  - {name: u, kind: opcua, host_id: h}
  - {name: v, kind: nats}
"""
    got = problems(text)
    by_path = {p: (line, m) for p, line, m in got}
    assert by_path["sources.0.command_qos"][0] == 8
    assert by_path["sources.1.host_id"] == (9, "Field required")
    assert "Extra inputs are not permitted" in by_path["sources.2.host_id"][1]
    assert by_path["sources.3"] == (11, "kind must be opcua, mqtt or sparkplug")
    text = HEAD + "  - {name: s, kind: sparkplug, host_id: 'a/b', device_twin: '{grp}'}\n"
    ((path, line, msg),) = problems(text)
    assert (path, line) == ("sources.0", 4)
    assert "host_id 'a/b'" in msg and "'{grp}'" in msg
    (tmp_path / "m.json").write_text(json.dumps({
        "@context": "dtmi:dtdl:context;3", "@id": "dtmi:a:b;1", "@type": "Interface",
        "contents": []}))
    text = ("name: x\nmodels: [m.json]\ntwins: [{id: r1, model: 'dtmi:a:b;1'}]\nsources:\n"
            "  - {name: s, kind: sparkplug, host_id: h, device_model: 'dtmi:a:missing;1',\n"
            "     node_model: 'dtmi:a:b;1'}\n")
    assert problems(text, tmp_path) == [
        ("sources.0.device_model", 5, "no interface 'dtmi:a:missing;1' in the models")]


def test_twin_ids_from_the_templates_are_valid_twin_ids() -> None:
    cfg = load_config_text(HEAD + "  - {name: s, kind: sparkplug, host_id: h,\n"
                           "     node_twin: 'node {edge}', device_twin: '{group}.{device}'}\n")
    s = cfg.sources[0]
    assert isinstance(s, SparkplugSourceConfig)
    assert s.twin_id("g/e 1") == "node_e_1"
    assert s.twin_id("g.x/e/d/1") == "g_x_d_1"
    assert s.model_for("g/e") is None


def test_the_mqtt_example_loads_and_builds() -> None:
    path = Path(__file__).resolve().parents[2] / "examples" / "mqtt" / "twin.yaml"
    cfg = load_config(path)
    built = build_connectors(cfg, build_point_table(cfg), env={"PTWIN_MQTT_PASSWORD": "x"})
    assert [type(c) for _, c in built] == [MqttConnector, SparkplugHost]
    assert [s.kind for s, _ in built] == ["mqtt", "sparkplug"]


def test_demo_points_only_opcua_sources_at_the_simulator() -> None:
    from processtwin.runtime.service import SIMULATOR_URL, demo_config

    example = Path(__file__).resolve().parents[2] / "examples" / "mqtt" / "twin.yaml"
    cfg = load_config(example)
    before = {s.name: s for s in cfg.sources}
    demo = demo_config(cfg)
    for s in demo.sources:
        if s.kind == "opcua":
            assert s.url == SIMULATOR_URL
        else:
            assert s == before[s.name]  # brokers stay where the file put them
