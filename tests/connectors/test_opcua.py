"""OPC UA connector against the simulated plant's real asyncua server (loopback).

One server is shared by the module (a start costs about a second); tests that change it use
their own nodes under ``TEST``. The reconnect test runs its own server.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio
import yaml
from asyncua import Server, ua

from processtwin.connectors.opcua import Deadband, OpcUaBinding, OpcUaConnector, OpcUaSettings
from processtwin.connectors.simulator import PlantConfig, PlantServer, SimulatedPlant
from processtwin.core import Batch, DeadLetter, Quality, Reason
from processtwin.core.commands import ReleasedWrite
from processtwin.errors import ConnectorError, InvalidInputError
from processtwin.runtime.runtime import free_port

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]


def _plant() -> SimulatedPlant:
    return SimulatedPlant(PlantConfig(time_scale=20, fault_rate_per_h=0, seed=3))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server() -> AsyncIterator[PlantServer]:
    async with PlantServer(_plant(), port=free_port(), tick_s=0.05) as srv:
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


async def until(cond: Callable[[], bool], limit_s: float = 20.0) -> None:
    """Wait for a condition (a generous deadline, not a timing assertion)."""
    end = time.monotonic() + limit_s
    while not cond():
        if time.monotonic() > end:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.05)


async def add_node(server: PlantServer, name: str, value: float = 0.0,
                    eu_range: tuple[float, float] | None = None) -> ua.NodeId:
    srv: Server | None = server._server
    assert srv is not None
    parent = srv.get_node(ua.NodeId("TEST", server.ns))
    try:
        await parent.read_browse_name()
    except ua.UaError:
        parent = await srv.nodes.objects.add_object(ua.NodeId("TEST", server.ns),
                                                    ua.QualifiedName("TEST", server.ns))
    node = await parent.add_variable(ua.NodeId(f"TEST.{name}", server.ns),
                                     ua.QualifiedName(name, server.ns),
                                     ua.Variant(value, ua.VariantType.Double))
    if eu_range is not None:
        await node.add_property(ua.NodeId(f"TEST.{name}.EURange", server.ns),
                                ua.QualifiedName("EURange", 0),
                                ua.Variant(ua.Range(Low=eu_range[0], High=eu_range[1]),
                                           ua.VariantType.ExtensionObject))
    return node.nodeid




async def put(server: PlantServer, nid: ua.NodeId, value: float,
              status: int = ua.StatusCodes.Good, src: float | None = None,
              srv_ts: float | None = None) -> None:
    assert server._server is not None
    now = time.time()
    await server._server.write_attribute_value(nid, ua.DataValue(
        Value=ua.Variant(value, ua.VariantType.Double), StatusCode=ua.StatusCode(status),
        SourceTimestamp=datetime.fromtimestamp(src or now, UTC),
        ServerTimestamp=datetime.fromtimestamp(srv_ts or now, UTC)))


def settings(server: PlantServer, **kw: object) -> OpcUaSettings:
    base: dict[str, object] = {"name": "sim", "url": server.url, "sampling_interval_ms": 50,
                               "publishing_interval_ms": 50}
    base.update(kw)
    return OpcUaSettings(**base)  # type: ignore[arg-type]


async def test_subscribes_by_id_and_path_with_quality_and_reports_unknown_nodes(
        server: PlantServer) -> None:
    bindings = [OpcUaBinding(node=server.node_id("TT101"), point=0, key="TT101"),
                OpcUaBinding(node="0:Objects/2:CSTR/2:TT201", point=1, key="TT201"),
                OpcUaBinding(node="/0:Objects/2:CSTR/2:FT101", point=2, key="FT101"),
                OpcUaBinding(node="ns=2;s=CSTR.NOPE", point=3, key="NOPE"),
                OpcUaBinding(node="0:Objects/2:CSTR/2:NOPE", point=4, key="NOPE2")]
    sink = Collector()
    conn = OpcUaConnector(settings(server), bindings)
    await conn.start(sink)
    await until(lambda: sum(len(b) for b in sink.batches) >= 40)
    await conn.stop()
    await conn.stop()  # idempotent
    b = sink.all()
    got = b.take(b.quality == Quality.GOOD)
    assert set(got.point.tolist()) == {0, 1, 2}
    assert 120 < got.value[got.point == 0].mean() < 150
    unknown = {d.key: d.reason for d in sink.dead}
    assert "unknown node" in unknown["ns=2;s=CSTR.NOPE"]
    assert "no node at browse path" in unknown["0:Objects/2:CSTR/2:NOPE"]
    assert conn.status.unbound == ["0:Objects/2:CSTR/2:NOPE", "ns=2;s=CSTR.NOPE"]
    assert conn.status.bound == 3


async def test_same_node_by_id_and_by_path_is_refused(server: PlantServer) -> None:
    conn = OpcUaConnector(settings(server), [
        OpcUaBinding(node=server.node_id("TT101"), point=0, key="a"),
        OpcUaBinding(node="0:Objects/2:CSTR/2:TT101", point=1, key="b")])
    with pytest.raises(InvalidInputError, match="bound twice"):
        await conn.start(Collector())
    assert conn._client is None


async def test_absolute_deadband_is_measured_from_the_last_reported_value(
        server: PlantServer) -> None:
    nid = await add_node(server, "DB_ABS", 0.0)
    sink = Collector()
    conn = OpcUaConnector(settings(server, deadband=Deadband(kind="absolute", value=1.0)),
                          [OpcUaBinding(node=nid.to_string(), point=0, key="x")])
    await conn.start(sink)
    for v in (0.5, 0.9, 1.2, 1.5, 2.0, 2.3):  # a slow ramp still passes the deadband
        await put(server, nid, v)
    await put(server, nid, 2.4, ua.StatusCodes.UncertainLastUsableValue)  # status: always
    await until(lambda: sum(len(b) for b in sink.batches) >= 4)
    await asyncio.sleep(0.3)
    await conn.stop()
    b = sink.all()
    assert b.value.tolist() == [0.0, 1.2, 2.3, 2.4]
    assert b.quality.tolist() == [0, 0, 0, Quality.UNCERTAIN]
    assert int(b.reason[-1]) == Reason.STALE


async def test_percent_deadband_uses_the_eu_range_and_needs_one(server: PlantServer) -> None:
    nid = await add_node(server, "DB_PCT", 100.0, eu_range=(0.0, 200.0))
    bare = await add_node(server, "DB_BARE", 1.0)
    sink = Collector()
    conn = OpcUaConnector(settings(server), [
        OpcUaBinding(node=nid.to_string(), point=0, key="x",
                     deadband=Deadband(kind="percent", value=5.0)),
        OpcUaBinding(node=bare.to_string(), point=1, key="y",
                     deadband=Deadband(kind="percent", value=5.0))])
    await conn.start(sink)
    for v in (105.0, 109.0, 111.0, 115.0, 121.5):  # 5 % of 200 = 10
        await put(server, nid, v)
    await until(lambda: sum(len(b) for b in sink.batches) >= 3)
    await asyncio.sleep(0.3)
    await conn.stop()
    assert sink.all().value.tolist() == [100.0, 111.0, 121.5]
    assert conn.status.unbound == [bare.to_string()]
    assert any("BadDeadbandFilterInvalid" in d.reason for d in sink.dead)


async def test_source_or_server_timestamps(server: PlantServer) -> None:
    nid = await add_node(server, "TS", 1.0)
    src, srv_ts = 1_700_000_000.0, 1_700_000_005.0
    sinks = {"source": Collector(), "server": Collector()}
    conns = [OpcUaConnector(settings(server, timestamps=k),
                            [OpcUaBinding(node=nid.to_string(), point=0, key="x")])
             for k in sinks]
    for c, s in zip(conns, sinks.values(), strict=True):
        await c.start(s)
    await put(server, nid, 2.0, src=src, srv_ts=srv_ts)
    await until(lambda: all(any(2.0 in b.value for b in s.batches) for s in sinks.values()))
    for c in conns:
        await c.stop()
    for kind, want in (("source", src), ("server", srv_ts)):
        b = sinks[kind].all()
        assert b.ts[b.value == 2.0].tolist() == [want]


@pytest.mark.parametrize(("code", "quality", "reason"), [
    (ua.StatusCodes.BadNotConnected, Quality.BAD, Reason.COMM | Reason.STALE),
    (ua.StatusCodes.BadCommunicationError, Quality.BAD, Reason.COMM | Reason.STALE),
    (ua.StatusCodes.UncertainEngineeringUnitsExceeded, Quality.UNCERTAIN, Reason.RANGE),
    (ua.StatusCodes.GoodLocalOverride, Quality.GOOD, Reason.NONE),
])
async def test_status_codes_arrive_as_quality(server: PlantServer, code: int, quality: Quality,
                                              reason: Reason) -> None:
    nid = await add_node(server, f"ST_{code:x}", 1.0)
    sink = Collector()
    conn = OpcUaConnector(settings(server), [OpcUaBinding(node=nid.to_string(), point=0,
                                                          key="x")])
    await conn.start(sink)
    await until(lambda: sum(len(b) for b in sink.batches) >= 1)
    await put(server, nid, 3.0, code)
    await until(lambda: sum(len(b) for b in sink.batches) >= 2)
    await conn.stop()
    b = sink.all()
    assert (int(b.quality[-1]), int(b.reason[-1])) == (quality, reason)


async def test_wrong_typed_node_is_dead_lettered_and_the_rest_all_arrive(
        server: PlantServer) -> None:
    srv = server._server
    assert srv is not None
    txt = await srv.nodes.objects.add_variable(
        ua.NodeId("CSTR.MODE", server.ns), "MODE", ua.Variant("auto", ua.VariantType.String))
    sink = Collector()
    conn = OpcUaConnector(settings(server), [
        OpcUaBinding(node=server.node_id("TT101"), point=0, key="r.T"),
        OpcUaBinding(node=txt.nodeid.to_string(), point=1, key="r.mode")])
    await conn.start(sink)
    await until(lambda: len(sink.dead) >= 1)
    await srv.write_attribute_value(txt.nodeid, ua.DataValue(Value=ua.Variant(
        "manual", ua.VariantType.String)))
    await until(lambda: len(sink.dead) >= 2)
    await until(lambda: sum(len(b) for b in sink.batches) >= 10)
    await conn.stop()
    reasons = [d.reason for d in sink.dead if d.key == "r.mode"]
    assert reasons == ["type: not a number: str"] * 2  # initial value and the change
    b = sink.all()
    assert set(b.point.tolist()) == {0}
    assert (b.quality == Quality.GOOD).sum() >= 10


async def test_dropout_arrives_as_bad_source_quality(server: PlantServer) -> None:
    from processtwin.connectors.simulator.plant import FaultKind, _Fault

    sink = Collector()
    conn = OpcUaConnector(settings(server),
                          [OpcUaBinding(node=server.node_id("LT101"), point=0, key="LT101")])
    await conn.start(sink)
    await until(lambda: any((b.quality == Quality.GOOD).any() for b in sink.batches))
    server.plant._faults["LT101"] = _Fault(FaultKind.DROPOUT, "LT101", until=1e12, value=0.0)
    try:
        await until(lambda: any((b.quality == Quality.BAD).any() for b in sink.batches))
    finally:
        server.plant._faults.pop("LT101", None)
    await conn.stop()
    b = sink.all()
    bad = b.take(b.quality == Quality.BAD)
    assert all(int(r) == Reason.SOURCE for r in bad.reason)  # BadSensorFailure


async def test_write_accepts_only_gate_released_commands(server: PlantServer) -> None:
    writes_before = server.stats.setpoint_writes
    conn = OpcUaConnector(settings(server), [], {("r1", "F"): server.node_id("F_SP")})
    await conn.start(Collector())
    with pytest.raises(PermissionError):
        await conn.write(("r1", "F", 30.0))  # type: ignore[arg-type]
    with pytest.raises(PermissionError):
        ReleasedWrite("r1", "F", 30.0, verdict_id="forged", token=None)
    await conn.stop()
    await asyncio.sleep(0.2)
    assert server.stats.setpoint_writes == writes_before


def released(name: str, value: float) -> ReleasedWrite:
    """A write obtained the only legal way: a closed-loop gate verdict, released."""
    from processtwin.control.gate import (
        CommandGate,
        CommandRequest,
        GateConfig,
        GateContext,
        InputLimit,
        Mode,
    )

    gate = CommandGate(GateConfig(mode=Mode.CLOSED, limits={
        name: InputLimit(lo=-1e9, hi=1e9, max_step=1e9)}, max_staleness_s=60))
    verdict = gate.evaluate(CommandRequest(twin="r1", inputs={name: value}, origin="test"),
                            GateContext(now=time.time(), data_age_s=0.1, current={name: value}))
    [write] = gate.release(verdict)
    return write


async def test_released_writes_reach_the_plant_by_path_and_read_only_nodes_refuse(
        server: PlantServer) -> None:
    conn = OpcUaConnector(settings(server), [], {
        ("r1", "F"): "0:Objects/2:CSTR/2:F_SP", ("r1", "T"): server.node_id("TT101"),
        ("r1", "X"): "0:Objects/2:CSTR/2:NOPE"})
    await conn.start(Collector())
    try:
        before = server.stats.setpoint_writes
        await conn.write(released("F", 19.5))
        await until(lambda: server.stats.setpoint_writes > before)
        assert server.setpoint_log[-1][1:] == ("F", 19.5)
        with pytest.raises(ConnectorError, match=r"refused: Bad(NotWritable|UserAccessDenied)"):
            await conn.write(released("T", 1.0))
        with pytest.raises(ConnectorError, match="no node at"):
            await conn.write(released("X", 1.0))
    finally:
        await conn.stop()


async def test_unreachable_server_is_a_connector_error() -> None:
    conn = OpcUaConnector(OpcUaSettings(name="nowhere", url=f"opc.tcp://127.0.0.1:{free_port()}",
                                        timeout_s=1.0), [])
    with pytest.raises(ConnectorError, match="cannot connect"):
        await conn.start(Collector())


async def test_reconnects_after_a_server_restart_and_readings_resume() -> None:
    port = free_port()
    sink = Collector()
    conn = OpcUaConnector(
        OpcUaSettings(name="sim", url=f"opc.tcp://127.0.0.1:{port}/processtwin/sim",
                      publishing_interval_ms=50, timeout_s=2.0, reconnect_max_delay_s=1.0),
        [OpcUaBinding(node="0:Objects/2:CSTR/2:TT101", point=0, key="TT101")])
    srv = PlantServer(_plant(), port=port, tick_s=0.05)
    await srv.start()
    try:
        await conn.start(sink)
        await until(lambda: sum(len(b) for b in sink.batches) >= 5)
        await srv.stop()
        await until(lambda: not conn.status.connected)
        down_at = len(sink.batches)
        assert conn.status.reconnects == 1 and conn.status.last_error
        srv = PlantServer(_plant(), port=port, tick_s=0.05)
        await srv.start()
        await until(lambda: sum(int((b.quality == Quality.GOOD).sum())
                                for b in sink.batches[down_at:]) >= 3)
        assert conn.status.connected
    finally:
        await conn.stop()
        await srv.stop()
    b = sink.all()
    gap = b.take(b.reason == Reason.COMM | Reason.STALE)  # marked while the server was away
    assert len(gap) >= 1 and (gap.quality == Quality.BAD).all()
    assert (b.quality == Quality.BAD).sum() - len(gap) <= 1  # + BadWaitingForInitialData


async def test_browse_cli_prints_the_tree_and_writes_pasteable_bindings(
        server: PlantServer, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from processtwin.cli import app
    from processtwin.runtime.config import BindingConfig

    out = tmp_path / "bindings.yaml"
    res = await asyncio.to_thread(CliRunner().invoke, app, [
        "opcua", "browse", server.url, "--depth", "2", "--out", str(out), "--twin", "r1"])
    assert res.exit_code == 0, res.output
    assert "ns=2;s=CSTR.TT101" in res.output and "degC" in res.output
    assert "writable" in res.output  # the setpoints
    entries = yaml.safe_load(out.read_text())
    by_point = {e["point"]: BindingConfig(**e) for e in entries}
    assert set(server.plant.tags) <= set(by_point)
    tt = by_point["TT101"]
    assert (tt.node, tt.twin, tt.unit, tt.lo, tt.hi) == (
        "0:Objects/2:CSTR/2:TT101", "r1", "degC", 0.0, 200.0)
    # the written paths bind: the connector resolves every one of them
    conn = OpcUaConnector(settings(server), [
        OpcUaBinding(node=e["node"], point=i, key=e["point"]) for i, e in enumerate(entries)])
    await conn.start(Collector())
    await conn.stop()
    assert conn.status.unbound == [] and conn.status.bound == len(entries)


async def test_browse_depth_and_namespace_zero(server: PlantServer) -> None:
    from asyncua import Client

    from processtwin.connectors.opcua.browse import browse

    async with Client(server.url) as client:
        shallow = await browse(client, depth=1)
        full = await browse(client, depth=1, include_ns0=True)
        sub = await browse(client, f"0:Objects/{server.ns}:CSTR", depth=1)
    assert shallow.children[0].browse_name == f"{server.ns}:CSTR"
    assert all(ua.NodeId.from_string(c.node_id).NamespaceIndex for c in shallow.children)
    assert all(c.children == () for c in shallow.children)
    assert any(c.browse_name == "0:Server" for c in full.children)
    assert {c.browse_name for c in sub.children} >= {"2:TT101", "2:F_SP"}
