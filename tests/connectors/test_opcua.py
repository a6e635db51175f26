"""OPC UA connector against the simulated plant's real asyncua server (loopback)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from asyncua import ua

from processtwin.connectors.opcua import OpcUaBinding, OpcUaConnector, OpcUaSettings
from processtwin.connectors.simulator import PlantConfig, PlantServer, SimulatedPlant
from processtwin.core import Batch, DeadLetter, Quality, Reason
from processtwin.core.commands import ReleasedWrite
from processtwin.errors import ConnectorError, InvalidInputError
from processtwin.runtime.runtime import free_port

pytestmark = pytest.mark.integration


@pytest.fixture
async def server() -> AsyncIterator[PlantServer]:
    plant = SimulatedPlant(PlantConfig(time_scale=20, fault_rate_per_h=0, seed=3))
    async with PlantServer(plant, port=free_port(), tick_s=0.05) as srv:
        yield srv


class Collector:
    def __init__(self) -> None:
        self.batches: list[Batch] = []
        self.dead: list[DeadLetter] = []

    async def __call__(self, batch: Batch, dead: list[DeadLetter]) -> None:
        self.batches.append(batch)
        self.dead.extend(dead)

    def all(self) -> Batch:
        return Batch.concat(self.batches)


async def test_subscribes_with_quality_and_reports_unknown_nodes(server: PlantServer) -> None:
    tags = ["TT101", "TT201", "FT101"]
    bindings = [OpcUaBinding(node=server.node_id(t), point=i, key=t) for i, t in enumerate(tags)]
    bindings.append(OpcUaBinding(node="ns=2;s=CSTR.NOPE", point=3, key="NOPE"))
    sink = Collector()
    conn = OpcUaConnector(OpcUaSettings(name="sim", url=server.url, sampling_interval_ms=50,
                                        publishing_interval_ms=50), bindings)
    await conn.start(sink)
    await asyncio.sleep(1.5)
    await conn.stop()
    await conn.stop()  # idempotent
    b = sink.all()
    got = b.take(b.quality == Quality.GOOD)
    assert set(got.point.tolist()) == {0, 1, 2}
    assert len(got) >= 30  # ~20 Hz per node for 1.5 s
    t_r = got.value[got.point == 0]
    assert 120 < t_r.mean() < 150
    assert any(d.key == "ns=2;s=CSTR.NOPE" and "unknown node" in d.reason for d in sink.dead)
    assert conn.status.unbound == ["ns=2;s=CSTR.NOPE"]


async def test_wrong_typed_node_is_dead_lettered_and_the_rest_all_arrive(
        server: PlantServer) -> None:
    srv = server._server
    assert srv is not None
    txt = await srv.nodes.objects.add_variable(
        ua.NodeId("CSTR.MODE", server.ns), "MODE", ua.Variant("auto", ua.VariantType.String))
    sink = Collector()
    conn = OpcUaConnector(
        OpcUaSettings(name="sim", url=server.url, publishing_interval_ms=50),
        [OpcUaBinding(node=server.node_id("TT101"), point=0, key="r.T"),
         OpcUaBinding(node=txt.nodeid.to_string(), point=1, key="r.mode")])
    await conn.start(sink)
    await asyncio.sleep(0.4)
    await srv.write_attribute_value(txt.nodeid, ua.DataValue(Value=ua.Variant(
        "manual", ua.VariantType.String)))
    await asyncio.sleep(0.6)
    await conn.stop()
    reasons = [d.reason for d in sink.dead if d.key == "r.mode"]
    assert reasons == ["type: not a number: str"] * 2  # initial value and the change
    b = sink.all()
    assert set(b.point.tolist()) == {0}
    assert (b.quality == Quality.GOOD).sum() >= 10


async def test_dropout_arrives_as_bad_source_quality(server: PlantServer) -> None:
    plant = server.plant
    from processtwin.connectors.simulator.plant import FaultKind, _Fault

    sink = Collector()
    conn = OpcUaConnector(OpcUaSettings(name="sim", url=server.url, publishing_interval_ms=50),
                          [OpcUaBinding(node=server.node_id("TT101"), point=0, key="TT101")])
    await conn.start(sink)
    await asyncio.sleep(0.5)
    plant._faults["TT101"] = _Fault(FaultKind.DROPOUT, "TT101", until=1e12, value=0.0)
    await asyncio.sleep(0.8)
    await conn.stop()
    b = sink.all()
    assert (b.quality == Quality.GOOD).any()
    bad = b.take(b.quality == Quality.BAD)
    assert len(bad) > 0 and all(int(r) & Reason.SOURCE for r in bad.reason)


async def test_write_accepts_only_gate_released_commands(server: PlantServer) -> None:
    conn = OpcUaConnector(OpcUaSettings(name="sim", url=server.url), [],
                          {("r1", "F"): server.node_id("F_SP")})
    await conn.start(Collector())
    with pytest.raises(PermissionError):
        await conn.write(("r1", "F", 30.0))  # type: ignore[arg-type]
    with pytest.raises(PermissionError):
        ReleasedWrite("r1", "F", 30.0, verdict_id="forged", token=None)
    await conn.stop()
    await asyncio.sleep(0.2)
    assert server.stats.setpoint_writes == 0


async def test_unreachable_server_is_a_connector_error() -> None:
    conn = OpcUaConnector(OpcUaSettings(name="nowhere", url=f"opc.tcp://127.0.0.1:{free_port()}",
                                        timeout_s=1.0), [])
    with pytest.raises(ConnectorError, match="cannot connect"):
        await conn.start(Collector())


def test_duplicate_binding_is_refused() -> None:
    b = [OpcUaBinding(node="ns=2;s=A", point=0, key="a"), OpcUaBinding(node="ns=2;s=A", point=1,
                                                                        key="b")]
    with pytest.raises(InvalidInputError, match="bound twice"):
        OpcUaConnector(OpcUaSettings(name="x", url="opc.tcp://127.0.0.1:1"), b)
