"""Replay into the simulated OPC UA server: the simulator's address space, fed from a file.

:class:`OpcUaServerTarget` serves what :class:`~processtwin.connectors.simulator.server.
PlantServer` serves (namespace ``urn:processtwin:sim``, endpoint ``/processtwin/sim``,
string node ids under object ``CSTR``), but its values come from the recording instead of
the plant model: a twin.yaml bound to the simulator reads a replay unchanged. A tag
``Obj.Name`` becomes node ``s=Obj.Name`` in object ``Obj``; a tag without a dot becomes
``s=CSTR.<tag>``. Each reading is written with its timestamp as SourceTimestamp and its
quality as the status (Good, Uncertain, Bad).
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
from asyncua import Node, Server, ua

from processtwin.connectors.simulator.server import NAMESPACE
from processtwin.errors import ConnectorError
from processtwin.replay.recording import Recording

__all__ = ["OpcUaServerTarget", "node_name"]

_STATUS = (ua.StatusCodes.Good, ua.StatusCodes.Uncertain, ua.StatusCodes.Bad)


def node_name(tag: str, default_object: str = "CSTR") -> tuple[str, str]:
    """(object, string node id) of a tag."""
    obj, dot, name = tag.partition(".")
    if dot and obj and name:
        return obj, tag
    return default_object, f"{default_object}.{tag}"


class OpcUaServerTarget:
    """An asyncua server whose variables take the replayed values."""

    coalesce = False

    def __init__(self, *, host: str = "127.0.0.1", port: int = 4840,
                 keep_serving: bool = False) -> None:
        self.host, self.port = host, port
        self.keep_serving = keep_serving
        self.ns = 2
        self._server: Server | None = None
        self._nodes: list[ua.NodeId] = []

    @property
    def url(self) -> str:
        return f"opc.tcp://{self.host}:{self.port}/processtwin/sim"

    def node_id(self, tag: str) -> str:
        return f"ns={self.ns};s={node_name(tag)[1]}"

    async def open(self, rec: Recording) -> None:
        """Serve the recording's tags (already serving: nothing to do)."""
        if self._server is not None:
            return
        server = Server()
        await server.init()
        server.set_endpoint(self.url)
        server.set_server_name("processtwin replay")
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        self.ns = await server.register_namespace(NAMESPACE)
        objects: dict[str, Node] = {}
        for tag in rec.tags:
            obj_name, sid = node_name(tag)
            obj = objects.get(obj_name)
            if obj is None:
                obj = await server.nodes.objects.add_object(ua.NodeId(obj_name, self.ns),
                                                            obj_name)
                objects[obj_name] = obj
            var = await obj.add_variable(
                ua.NodeId(sid, self.ns), sid.rpartition(".")[2],
                ua.Variant(0.0, ua.VariantType.Double))
            await server.write_attribute_value(var.nodeid, ua.DataValue(
                Value=ua.Variant(0.0, ua.VariantType.Double),
                StatusCode=ua.StatusCode(ua.StatusCodes.BadWaitingForInitialData)))
            self._nodes.append(var.nodeid)
        try:
            await server.start()
        except OSError as exc:
            raise ConnectorError(f"cannot serve OPC UA on {self.url}: {exc}") from exc
        self._server = server

    async def send(self, rec: Recording, lo: int, hi: int, ts: npt.NDArray[np.float64]
                   ) -> None:
        server = self._server
        if server is None:
            raise ConnectorError("replay: OPC UA target not open")
        now = datetime.now(UTC)
        for i, t, v, q in zip(rec.tag[lo:hi].tolist(), ts.tolist(), rec.value[lo:hi].tolist(),
                              rec.quality[lo:hi].tolist(), strict=True):
            await server.write_attribute_value(self._nodes[i], ua.DataValue(
                Value=ua.Variant(v, ua.VariantType.Double),
                StatusCode=ua.StatusCode(_STATUS[min(q, 2)]),
                SourceTimestamp=datetime.fromtimestamp(t, UTC), ServerTimestamp=now))

    async def close(self) -> None:
        if self.keep_serving:
            return
        await self.shutdown()

    async def shutdown(self) -> None:
        if self._server is not None:
            with contextlib.suppress(OSError):
                await self._server.stop()
            self._server = None
