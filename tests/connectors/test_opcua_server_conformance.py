"""Generic OPC UA client checks against the simulated plant's server (asyncua's idea of running
its client tests against an external server): everything here uses only standard services
and what the server itself advertises, nothing of our connector.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from asyncua import Client, Node, ua

from processtwin.connectors.simulator import NAMESPACE, PlantConfig, PlantServer, SimulatedPlant
from processtwin.runtime.runtime import free_port

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server() -> AsyncIterator[PlantServer]:
    plant = SimulatedPlant(PlantConfig(time_scale=20, fault_rate_per_h=0, seed=5))
    async with PlantServer(plant, port=free_port(), tick_s=0.05) as srv:
        await asyncio.sleep(0.2)  # a few ticks: every instrument has reported
        yield srv


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(server: PlantServer) -> AsyncIterator[Client]:
    async with Client(server.url, timeout=4) as c:
        yield c


async def _variables(node: Node) -> list[Node]:
    out: list[Node] = []
    for child in await node.get_children():
        cls = await child.read_node_class()
        if cls == ua.NodeClass.Variable:
            out.append(child)
        elif cls == ua.NodeClass.Object and child.nodeid.NamespaceIndex != 0:
            out.extend(await _variables(child))
    return out


async def plant_variables(client: Client) -> dict[str, Node]:
    nodes = await _variables(client.nodes.objects)
    return {(await n.read_browse_name()).Name: n for n in nodes}


async def test_namespace_array_has_our_namespace(client: Client, server: PlantServer) -> None:
    namespaces = await client.get_namespace_array()
    assert namespaces[0] == "http://opcfoundation.org/UA/"
    assert namespaces.index(NAMESPACE) == server.ns
    assert await client.get_namespace_index(NAMESPACE) == server.ns


async def test_browse_from_objects_reaches_every_plant_node(client: Client,
                                                            server: PlantServer) -> None:
    found = await plant_variables(client)
    want = set(server.plant.tags) | {f"{n}_SP" for n in server.plant.model.input_names}
    assert want <= set(found)
    for name in want:
        assert found[name].nodeid.to_string() == server.node_id(name)
        path = ["0:Objects", f"{server.ns}:CSTR", f"{server.ns}:{name}"]
        assert (await client.nodes.root.get_child(path)).nodeid == found[name].nodeid


async def test_every_variable_has_units_range_and_a_double_type(client: Client) -> None:
    for name, node in (await plant_variables(client)).items():
        if not name.startswith(("TT", "FT", "JQ", "LT", "AT")) and not name.endswith("_SP"):
            continue
        assert await node.read_data_type() == ua.NodeId(ua.ObjectIds.Double), name
        props = {(await p.read_browse_name()).Name: p for p in await node.get_properties()}
        eu = await props["EngineeringUnits"].read_value()
        assert isinstance(eu, ua.EUInformation) and eu.DisplayName.Text, name
        rng = await props["EURange"].read_value()
        assert isinstance(rng, ua.Range) and rng.Low < rng.High, name


async def test_reads_are_datavalues_with_server_timestamps_and_good_status(
        client: Client, server: PlantServer) -> None:
    nodes = [client.get_node(server.node_id(t)) for t in server.plant.tags if t != "AT101"]
    before = datetime.now(UTC) - timedelta(seconds=30)
    for node in nodes:
        dv = await node.read_data_value()
        assert isinstance(dv, ua.DataValue)
        assert dv.StatusCode is not None and dv.StatusCode.is_good()
        assert isinstance(dv.Value.Value, float)
        assert dv.SourceTimestamp is not None and dv.SourceTimestamp > before
        assert dv.ServerTimestamp is not None and dv.ServerTimestamp > before
    params = ua.ReadParameters()
    params.TimestampsToReturn = ua.TimestampsToReturn.Server
    rv = ua.ReadValueId()
    rv.NodeId = nodes[0].nodeid
    rv.AttributeId = ua.AttributeIds.Value
    params.NodesToRead = [rv]
    (dv,) = await client.uaclient.read(params)
    assert dv.ServerTimestamp is not None


async def test_writable_nodes_take_writes_and_reach_the_plant(client: Client,
                                                              server: PlantServer) -> None:
    sp = client.get_node(server.node_id("F_SP"))
    level = await sp.read_attribute(ua.AttributeIds.UserAccessLevel)
    assert level.Value.Value & ua.AccessLevel.CurrentWrite.mask
    before = server.stats.setpoint_writes
    new = float(await sp.read_value()) + 0.5
    await sp.write_value(ua.DataValue(ua.Variant(new, ua.VariantType.Double)))
    assert await sp.read_value() == new
    for _ in range(200):  # the plant picks setpoints up on its next tick
        if server.stats.setpoint_writes > before:
            break
        await asyncio.sleep(0.05)
    assert server.setpoint_log[-1][1:] == ("F", new)


async def test_read_only_nodes_refuse_writes(client: Client, server: PlantServer) -> None:
    for tag in server.plant.tags:
        node = client.get_node(server.node_id(tag))
        level = await node.read_attribute(ua.AttributeIds.UserAccessLevel)
        assert not level.Value.Value & ua.AccessLevel.CurrentWrite.mask
        with pytest.raises((ua.uaerrors.BadNotWritable, ua.uaerrors.BadUserAccessDenied)):
            await node.write_value(ua.DataValue(ua.Variant(1.0, ua.VariantType.Double)))


async def test_subscriptions_deliver_data_changes(client: Client, server: PlantServer) -> None:
    got: asyncio.Queue[tuple[str, ua.DataValue]] = asyncio.Queue()

    class Handler:
        def datachange_notification(self, node: Node, val: object, data: object) -> None:
            got.put_nowait((node.nodeid.to_string(),
                            data.monitored_item.Value))  # type: ignore[attr-defined]

    sub = await client.create_subscription(50, Handler())
    ids = [server.node_id(t) for t in ("TT101", "FT101")]
    handles = await sub.subscribe_data_change([client.get_node(i) for i in ids])
    seen: dict[str, int] = {}
    async with asyncio.timeout(10):
        while min(seen.get(i, 0) for i in ids) < 3:
            nid, dv = await got.get()
            assert dv.StatusCode.is_good() and dv.SourceTimestamp is not None
            seen[nid] = seen.get(nid, 0) + 1
    await sub.unsubscribe(handles)
    await sub.delete()


async def test_unknown_nodes_and_bad_browse_paths_are_reported(client: Client) -> None:
    with pytest.raises(ua.uaerrors.BadNodeIdUnknown):
        await client.get_node("ns=2;s=CSTR.NOPE").read_value()
    with pytest.raises(ua.uaerrors.BadNoMatch):
        await client.nodes.root.get_child(["0:Objects", "2:CSTR", "2:NOPE"])


async def test_the_plant_offers_no_methods_to_call(client: Client, server: PlantServer) -> None:
    cstr = await client.nodes.objects.get_child([f"{server.ns}:CSTR"])
    assert await cstr.get_methods() == []  # nothing to call; writes go to setpoints only
