"""Serve a :class:`SimulatedPlant` over OPC UA (asyncua), in real time or faster.

Address space (namespace ``urn:processtwin:sim``, string node ids)::

    Objects/CSTR/
        TT101, TT102, TT201, FT101, JQ101, LT101   measured values (Double, read-only)
        AT101                                      C_b analyser (late, stamped at sample time)
        F_SP, Q_SP                                 setpoints (Double, writable)

Every tick the plant advances and each instrument value is written with its source
timestamp and an OPC UA status (``BadSensorFailure`` during a dropout). Setpoint writes by
clients reach the plant on the next tick.

Example (not run here: it opens a port)::

    async with PlantServer(SimulatedPlant(), port=4840) as srv:
        print(srv.url)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType

from asyncua import Server, ua

from processtwin.connectors.simulator.plant import SimulatedPlant
from processtwin.errors import ConnectorError

__all__ = ["NAMESPACE", "PlantServer", "ServerStats"]

NAMESPACE = "urn:processtwin:sim"
_log = logging.getLogger(__name__)


@dataclass(slots=True)
class ServerStats:
    ticks: int = 0
    values_written: int = 0
    setpoint_writes: int = 0


class PlantServer:
    """An asyncua server around a simulated plant."""

    def __init__(self, plant: SimulatedPlant, *, host: str = "127.0.0.1", port: int = 4840,
                 tick_s: float = 0.1) -> None:
        self.plant = plant
        self.host = host
        self.port = port
        self.tick_s = tick_s
        self.stats = ServerStats()
        self.setpoint_log: list[tuple[float, str, float]] = []
        self._server: Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._nodes: dict[str, ua.NodeId] = {}
        self._sp: dict[str, ua.NodeId] = {}
        self._sp_last: dict[str, float] = {}
        self.ns = 2

    @property
    def url(self) -> str:
        return f"opc.tcp://{self.host}:{self.port}/processtwin/sim"

    def node_id(self, name: str) -> str:
        """The string form of a node id, e.g. ``ns=2;s=CSTR.TT101``."""
        return f"ns={self.ns};s=CSTR.{name}"

    async def start(self) -> None:
        server = Server()
        await server.init()
        server.set_endpoint(self.url)
        server.set_server_name("processtwin simulated CSTR")
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        self.ns = await server.register_namespace(NAMESPACE)
        cstr = await server.nodes.objects.add_object(ua.NodeId("CSTR", self.ns), "CSTR")
        for tag in self.plant.tags:
            node = await cstr.add_variable(
                ua.NodeId(f"CSTR.{tag}", self.ns), tag, ua.Variant(0.0, ua.VariantType.Double)
            )
            self._nodes[tag] = node.nodeid
            # like a real server: no value until the instrument has reported one
            await server.write_attribute_value(node.nodeid, ua.DataValue(
                Value=ua.Variant(0.0, ua.VariantType.Double),
                StatusCode=ua.StatusCode(ua.StatusCodes.BadWaitingForInitialData)))
        for i, name in enumerate(self.plant.model.input_names):
            sp = await cstr.add_variable(
                ua.NodeId(f"CSTR.{name}_SP", self.ns), f"{name}_SP",
                ua.Variant(float(self.plant.setpoint[i]), ua.VariantType.Double),
            )
            await sp.set_writable()
            self._sp[name] = sp.nodeid
            self._sp_last[name] = float(self.plant.setpoint[i])
        try:
            await server.start()
        except OSError as exc:
            raise ConnectorError(f"cannot serve OPC UA on {self.url}: {exc}") from exc
        self._server = server
        self._task = asyncio.create_task(self._run(), name="plant-server")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._server:
            await self._server.stop()
            self._server = None

    async def __aenter__(self) -> PlantServer:
        await self.start()
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()

    async def _run(self) -> None:
        last = time.time()
        while True:
            await asyncio.sleep(max(0.0, self.tick_s - (time.time() - last)))
            now = time.time()
            try:
                await self.tick(now - last, now)
            except Exception:  # a simulator fault must not kill the server loop
                _log.exception("plant tick failed")
            last = now

    async def tick(self, dt_wall: float, now: float) -> None:
        """Read setpoints, advance the plant and publish its instrument values."""
        server = self._server
        if server is None:
            raise ConnectorError("plant server not started")
        for name, nid in self._sp.items():
            dv = server.read_attribute_value(nid)
            value = dv.Value.Value if dv.Value is not None else None
            if isinstance(value, int | float) and value != self._sp_last[name]:
                self._sp_last[name] = float(value)
                self.plant.write_setpoint(name, float(value))
                self.stats.setpoint_writes += 1
                self.setpoint_log.append((now, name, float(value)))
        readings = self.plant.step(dt_wall, now)
        srv_ts = datetime.fromtimestamp(now, UTC)
        for r in readings:
            status = ua.StatusCode(ua.StatusCodes.Good if r.good
                                   else ua.StatusCodes.BadSensorFailure)
            dv = ua.DataValue(
                Value=ua.Variant(float(r.value), ua.VariantType.Double),
                StatusCode=status,
                SourceTimestamp=datetime.fromtimestamp(r.ts, UTC),
                ServerTimestamp=srv_ts,
            )
            await server.write_attribute_value(self._nodes[r.tag], dv)
        self.stats.ticks += 1
        self.stats.values_written += len(readings)
