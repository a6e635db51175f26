"""OPC UA security against a secure-only simulated plant (SignAndEncrypt, users, no anonymous)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from processtwin.connectors.opcua import OpcUaBinding, OpcUaConnector, OpcUaSettings
from processtwin.connectors.opcua.security import ClientSecurity, make_certificate
from processtwin.connectors.simulator import PlantConfig, PlantServer, SimulatedPlant
from processtwin.connectors.simulator.server import ServerSecurity
from processtwin.core import Batch, DeadLetter, Quality
from processtwin.errors import ConfigError, ConnectorError
from processtwin.runtime.runtime import free_port

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

PASSWORD = "s3cret-Pa55"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    d = tmp_path_factory.mktemp("pki")
    return {
        "server": await make_certificate(d / "server.der", d / "server.pem",
                                         "urn:processtwin:sim:server"),
        "client": await make_certificate(d / "client.der", d / "client.pem",
                                         "urn:processtwin:client"),
    }


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server(certs: dict[str, tuple[Path, Path]]) -> AsyncIterator[PlantServer]:
    cert, key = certs["server"]
    sec = ServerSecurity(policies=("Basic256Sha256_SignAndEncrypt",), certificate=cert,
                         private_key=key, users={"operator": PASSWORD}, allow_anonymous=False)
    plant = SimulatedPlant(PlantConfig(time_scale=20, fault_rate_per_h=0, seed=3))
    async with PlantServer(plant, port=free_port(), tick_s=0.05, security=sec) as srv:
        yield srv


class Collector:
    def __init__(self) -> None:
        self.batches: list[Batch] = []
        self.dead: list[DeadLetter] = []
        self.good = 0
        self.got_three = asyncio.Event()

    async def __call__(self, batch: Batch, dead: list[DeadLetter]) -> None:
        self.batches.append(batch)
        self.dead.extend(dead)
        self.good += int((batch.quality == Quality.GOOD).sum())
        if self.good >= 3:
            self.got_three.set()


def secure(certs: dict[str, tuple[Path, Path]], **kw: object) -> ClientSecurity:
    cert, key = certs["client"]
    base: dict[str, object] = {"policy": "Basic256Sha256", "mode": "SignAndEncrypt",
                               "certificate": cert, "private_key": key,
                               "username": "operator", "password_env": "PTWIN_TEST_OPCUA_PW"}
    base.update(kw)
    return ClientSecurity(**base)  # type: ignore[arg-type]


def connector(server: PlantServer, sec: ClientSecurity) -> OpcUaConnector:
    return OpcUaConnector(OpcUaSettings(name="secure", url=server.url, timeout_s=4.0,
                                        publishing_interval_ms=50, security=sec),
                          [OpcUaBinding(node="0:Objects/2:CSTR/2:TT101", point=0, key="T")])


async def test_sign_and_encrypt_with_user_and_password_delivers_data(
        server: PlantServer, certs: dict[str, tuple[Path, Path]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTWIN_TEST_OPCUA_PW", PASSWORD)
    sink = Collector()
    conn = connector(server, secure(certs))
    await conn.start(sink)
    client = conn._client
    assert client is not None
    assert client.security_policy.Mode.name == "SignAndEncrypt"
    assert client.security_policy.URI.endswith("#Basic256Sha256")
    async with asyncio.timeout(20):
        await sink.got_three.wait()
    await conn.stop()
    assert conn.status.bound == 1


async def test_wrong_password_is_a_clear_connector_error_without_the_password(
        server: PlantServer, certs: dict[str, tuple[Path, Path]],
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("PTWIN_TEST_OPCUA_PW", "not-the-password")
    conn = connector(server, secure(certs))
    with pytest.raises(ConnectorError, match=r"refused.*BadUserAccessDenied.*'operator'") as e:
        await conn.start(Collector())
    assert "not-the-password" not in str(e.value)
    assert "not-the-password" not in caplog.text
    assert conn._client is None


async def test_unsecured_client_is_refused_by_a_secure_only_server(
        server: PlantServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTWIN_TEST_OPCUA_PW", PASSWORD)
    conn = connector(server, ClientSecurity(username="operator",
                                            password_env="PTWIN_TEST_OPCUA_PW"))
    with pytest.raises(ConnectorError, match=r"refused.*no endpoint with security None/None"):
        await conn.start(Collector())


async def test_anonymous_secure_client_is_refused(
        server: PlantServer, certs: dict[str, tuple[Path, Path]]) -> None:
    conn = connector(server, secure(certs, username=None, password_env=None))
    with pytest.raises(ConnectorError, match=r"refused.*anonymous"):
        await conn.start(Collector())


async def test_missing_password_variable_is_a_config_error(
        server: PlantServer, certs: dict[str, tuple[Path, Path]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PTWIN_TEST_OPCUA_PW", raising=False)
    with pytest.raises(ConfigError, match="PTWIN_TEST_OPCUA_PW"):
        await connector(server, secure(certs)).start(Collector())
