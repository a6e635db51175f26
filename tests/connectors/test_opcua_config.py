"""twin.yaml OPC UA sources: deadband, timestamps, reconnect and security reach the connector."""

from __future__ import annotations

from pathlib import Path

import pytest

from processtwin.connectors.opcua import Deadband, OpcUaConnector
from processtwin.errors import ConfigError
from processtwin.runtime.config import load_config, load_config_text
from processtwin.runtime.runtime import build_point_table
from processtwin.runtime.sources import build_connectors

HEAD = "name: x\ntwins: [{id: r1, model: 'dtmi:a:b;1'}]\nsources:\n"
SOURCE = HEAD + """\
  - name: o
    url: opc.tcp://h:4840
    deadband: {kind: percent, value: 0.5}
    timestamps: server
    reconnect_max_delay_s: 5
    security:
      policy: Basic256Sha256
      mode: SignAndEncrypt
      certificate: pki/client.der
      private_key: pki/client.pem
      username: operator
      password_env: PTWIN_TEST_OPCUA_PW
    bindings:
      - {node: "0:Objects/2:CSTR/2:TT101", twin: r1, point: T, unit: degC}
      - {node: "ns=2;s=CSTR.FT101", twin: r1, point: F}
"""


def test_opcua_settings_reach_the_connector(tmp_path: Path) -> None:
    (tmp_path / "twin.yaml").write_text(SOURCE)
    cfg = load_config(tmp_path / "twin.yaml")
    ((_, conn),) = build_connectors(cfg, build_point_table(cfg),
                                    env={"PTWIN_TEST_OPCUA_PW": "pw-123"})
    assert isinstance(conn, OpcUaConnector)
    s = conn.settings
    assert s.deadband == Deadband(kind="percent", value=0.5)
    assert (s.timestamps, s.reconnect_max_delay_s) == ("server", 5.0)
    sec = s.security
    assert (sec.policy, sec.mode, sec.username) == ("Basic256Sha256", "SignAndEncrypt",
                                                    "operator")
    assert sec.certificate == tmp_path / "pki/client.der"
    assert sec.password() == "pw-123"
    assert "pw-123" not in repr(s)
    assert [b.node for b in conn.bindings] == ["0:Objects/2:CSTR/2:TT101", "ns=2;s=CSTR.FT101"]


def test_missing_password_variable_names_its_place() -> None:
    cfg = load_config_text(SOURCE)
    with pytest.raises(ConfigError) as e:
        build_connectors(cfg, build_point_table(cfg), env={})
    assert [p.path for p in e.value.problems] == ["sources.0.security.password_env"]


@pytest.mark.parametrize(("change", "message"), [
    ("value: 0.5}", "value: 101}"),
    ("mode: SignAndEncrypt", "mode: None"),
    ("      certificate: pki/client.der\n", ""),
    ("timestamps: server", "timestamps: device"),
])
def test_bad_opcua_settings_are_refused_at_load(change: str, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        load_config_text(SOURCE.replace(change, message))
    assert any(p.path.startswith("sources.0") for p in e.value.problems)
