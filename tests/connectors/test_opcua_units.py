"""OPC UA connector pieces without a server: bindings, deadbands, browse paths, security."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from processtwin.connectors.opcua import Deadband, OpcUaBinding, OpcUaConnector, OpcUaSettings
from processtwin.connectors.opcua.browse import (
    BrowsedNode,
    bindings_from_tree,
    is_browse_path,
    parse_browse_path,
)
from processtwin.connectors.opcua.security import ClientSecurity
from processtwin.connectors.simulator.server import ServerSecurity
from processtwin.errors import ConfigError, InvalidInputError

NAME = st.text(st.characters(blacklist_characters="/", blacklist_categories=("Cs", "Cc")),
               min_size=1, max_size=12).filter(lambda t: t.strip() == t)


@given(st.lists(st.tuples(st.integers(0, 20), NAME), min_size=1, max_size=5))
def test_browse_paths_parse_back_into_their_elements(elements: list[tuple[int, str]]) -> None:
    parts = [f"{ns}:{name}" for ns, name in elements]
    path = "/".join(parts)
    assert is_browse_path(path)
    assert parse_browse_path(path) == parts
    assert parse_browse_path("/" + path + "/") == parts


def test_deadband_is_checked() -> None:
    with pytest.raises(InvalidInputError):
        Deadband(kind="percent", value=101)
    with pytest.raises(InvalidInputError):
        Deadband(kind="absolute", value=-1)


def test_duplicate_binding_is_refused() -> None:
    b = [OpcUaBinding(node="ns=2;s=A", point=0, key="a"), OpcUaBinding(node="ns=2;s=A", point=1,
                                                                        key="b")]
    with pytest.raises(InvalidInputError, match="bound twice"):
        OpcUaConnector(OpcUaSettings(name="x", url="opc.tcp://127.0.0.1:1"), b)


def test_browse_paths_are_told_from_node_ids() -> None:
    assert is_browse_path("0:Objects/2:CSTR/2:TT101")
    for nid in ("ns=2;s=CSTR.TT101", "i=85", "nsu=urn:x;s=a/b", "ns=3;g=09087e75-8e5e-499b"):
        assert not is_browse_path(nid)
    with pytest.raises(InvalidInputError, match="bad: \\['CSTR'\\]"):
        parse_browse_path("0:Objects/CSTR")
    with pytest.raises(InvalidInputError):
        parse_browse_path("/")
    leaf = {"node_class": "Variable", "data_type": "Double"}
    tree = BrowsedNode(node_id="i=85", path="0:Objects", browse_name="0:Objects",
                       display_name="Objects", node_class="Object", children=(
        BrowsedNode(node_id="ns=2;s=a", path="0:Objects/2:T-1", browse_name="2:T-1",
                    display_name="", **leaf),
        BrowsedNode(node_id="ns=3;s=a", path="0:Objects/3:T-1", browse_name="3:T-1",
                    display_name="", **leaf),
        BrowsedNode(node_id="ns=2;s=m", path="0:Objects/2:M", browse_name="2:M",
                    display_name="", node_class="Variable", data_type="String")))
    got = bindings_from_tree(tree, "r1", by="id")
    assert [(e["node"], e["point"]) for e in got] == [("ns=2;s=a", "T_1"), ("ns=3;s=a", "T_1_2")]


def test_security_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="certificate"):
        ClientSecurity(policy="Basic256Sha256", mode="SignAndEncrypt")
    with pytest.raises(ConfigError, match="both"):
        ClientSecurity(policy="Basic256Sha256")
    with pytest.raises(ConfigError, match="without a username"):
        ClientSecurity(password_env="X")
    with pytest.raises(ConfigError, match="unknown policy"):
        ServerSecurity(policies=("Nope",)).policy_types()
    with pytest.raises(ConfigError, match="certificate"):
        ServerSecurity(policies=("Basic256Sha256_SignAndEncrypt",)).policy_types()
