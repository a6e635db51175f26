"""Serve a :class:`SimulatedPlant` over OPC UA (asyncua), in real time or faster.

Address space (namespace ``urn:processtwin:sim``, string node ids)::

    Objects/CSTR/
        TT101, TT102, TT201, FT101, JQ101, LT101   measured values (Double, read-only)
        AT101                                      C_b analyser (late, stamped at sample time)
        F_SP, Q_SP                                 setpoints (Double, writable)

Every tick the plant advances and each instrument value is written with its source and
server timestamps and an OPC UA status (``BadSensorFailure`` during a dropout). Setpoint
writes by clients reach the plant on the next tick. Every variable carries the
``EngineeringUnits`` and ``EURange`` properties of an analog item and a description, so
browsing shows units and percent deadbands work; data-change filters follow the spec
(:mod:`processtwin.connectors.opcua.server_deadband`).

Security (:class:`ServerSecurity`): the endpoints' policies (``None``,
``Basic256Sha256_SignAndEncrypt``, ...), the server certificate and key, and user names with
passwords (anonymous access can be switched off).

Example (not run here: it opens a port)::

    async with PlantServer(SimulatedPlant(), port=4840) as srv:
        print(srv.url)
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from asyncua import Server, ua
from asyncua.crypto.permission_rules import User, UserRole

from processtwin.connectors.opcua import server_deadband
from processtwin.connectors.simulator.plant import SimulatedPlant
from processtwin.errors import ConfigError, ConfigProblem, ConnectorError

__all__ = ["NAMESPACE", "PlantServer", "ServerSecurity", "ServerStats"]

NAMESPACE = "urn:processtwin:sim"
_log = logging.getLogger(__name__)
_UNECE = "http://www.opcfoundation.org/UA/units/un/cefact"
#: engineering-unit ranges by unit (the instruments' spans)
EU_RANGES: dict[str, tuple[float, float]] = {
    "degC": (0.0, 200.0), "1/h": (0.0, 50.0), "kJ/h": (-10000.0, 0.0), "%": (0.0, 100.0),
    "mol/l": (0.0, 5.0),
}
_INPUT_UNITS = {"F": "1/h", "Q": "kJ/h"}


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerSecurity:
    """Endpoints, certificate and users of the simulated plant's server."""

    policies: tuple[str, ...] = ("None",)
    certificate: Path | None = None
    private_key: Path | None = None
    users: Mapping[str, str] = field(default_factory=dict)
    allow_anonymous: bool = True
    application_uri: str = "urn:processtwin:sim:server"

    def policy_types(self) -> list[ua.SecurityPolicyType]:
        out, problems = [], []
        for name in self.policies:
            member = getattr(ua.SecurityPolicyType, "NoSecurity" if name == "None" else name,
                             None)
            if member is None:
                problems.append(ConfigProblem("security.policies", f"unknown policy {name!r}"))
            else:
                out.append(member)
        if any(p != "None" for p in self.policies) and (
                self.certificate is None or self.private_key is None):
            problems.append(ConfigProblem("security", "secure policies need a server "
                                                      "certificate and private key"))
        if not self.allow_anonymous and not self.users:
            problems.append(ConfigProblem("security.users", "no anonymous access and no users"))
        if problems:
            raise ConfigError(problems)
        return out


class _PasswordUsers:
    """asyncua user manager: anonymous (if allowed) or a known user with its password."""

    def __init__(self, users: Mapping[str, str], allow_anonymous: bool) -> None:
        self._users = dict(users)
        self._anonymous = allow_anonymous

    def get_user(self, iserver: Any, username: str | None = None,
                 password: str | bytes | None = None, certificate: Any = None) -> User | None:
        if username is None:
            return User(role=UserRole.User) if self._anonymous else None
        known = self._users.get(username)
        given = password.encode() if isinstance(password, str) else (password or b"")
        if known is None or not hmac.compare_digest(known.encode(), given):
            _log.warning("refused user %r", username)
            return None
        return User(role=UserRole.User, name=username)


@dataclass(slots=True)
class ServerStats:
    ticks: int = 0
    values_written: int = 0
    setpoint_writes: int = 0


class PlantServer:
    """An asyncua server around a simulated plant."""

    def __init__(self, plant: SimulatedPlant, *, host: str = "127.0.0.1", port: int = 4840,
                 tick_s: float = 0.1, security: ServerSecurity | None = None) -> None:
        self.plant = plant
        self.security = security or ServerSecurity()
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
        sec = self.security
        policies = sec.policy_types()
        server = Server(user_manager=_PasswordUsers(sec.users, sec.allow_anonymous))
        await server.init()
        server_deadband.install(server)
        server.set_endpoint(self.url)
        server.set_server_name("processtwin simulated CSTR")
        await server.set_application_uri(sec.application_uri)
        server.set_security_policy(policies)
        tokens: list[type] = [ua.AnonymousIdentityToken] if sec.allow_anonymous else []
        if sec.users:
            tokens.append(ua.UserNameIdentityToken)
        server.set_identity_tokens(tokens)
        if sec.certificate is not None and sec.private_key is not None:
            try:
                await server.load_certificate(str(sec.certificate))
                await server.load_private_key(str(sec.private_key))
            except (OSError, ValueError) as exc:
                raise ConfigError([ConfigProblem("security", f"cannot load server certificate "
                                                             f"or key: {exc}")]) from exc
        self.ns = await server.register_namespace(NAMESPACE)
        cstr = await server.nodes.objects.add_object(ua.NodeId("CSTR", self.ns),
                                                     ua.QualifiedName("CSTR", self.ns))
        specs = {s.tag: s for s in self.plant.config.sensors}
        for tag in self.plant.tags:
            node = await cstr.add_variable(
                ua.NodeId(f"CSTR.{tag}", self.ns), ua.QualifiedName(tag, self.ns),
                ua.Variant(0.0, ua.VariantType.Double)
            )
            spec = specs.get(tag)
            await self._describe(node, spec.unit if spec else "mol/l",
                                 spec.description if spec else "C_b analyser (late)")
            self._nodes[tag] = node.nodeid
            # like a real server: no value until the instrument has reported one
            await server.write_attribute_value(node.nodeid, ua.DataValue(
                Value=ua.Variant(0.0, ua.VariantType.Double),
                StatusCode=ua.StatusCode(ua.StatusCodes.BadWaitingForInitialData)))
        for i, name in enumerate(self.plant.model.input_names):
            sp = await cstr.add_variable(
                ua.NodeId(f"CSTR.{name}_SP", self.ns), ua.QualifiedName(f"{name}_SP", self.ns),
                ua.Variant(float(self.plant.setpoint[i]), ua.VariantType.Double),
            )
            await sp.set_writable()
            await self._describe(sp, _INPUT_UNITS.get(name, ""), f"setpoint of {name}")
            self._sp[name] = sp.nodeid
            self._sp_last[name] = float(self.plant.setpoint[i])
        try:
            await server.start()
        except OSError as exc:
            raise ConnectorError(f"cannot serve OPC UA on {self.url}: {exc}") from exc
        self._server = server
        self._task = asyncio.create_task(self._run(), name="plant-server")

    async def _describe(self, node: Any, unit: str, description: str) -> None:
        """Description, ``EngineeringUnits`` and ``EURange`` of an analog item."""
        await node.write_attribute(ua.AttributeIds.Description, ua.DataValue(
            ua.Variant(ua.LocalizedText(description), ua.VariantType.LocalizedText)))
        if not unit:
            return
        eu = ua.EUInformation(NamespaceUri=_UNECE, UnitId=-1,
                              DisplayName=ua.LocalizedText(unit),
                              Description=ua.LocalizedText(unit))
        await node.add_property(ua.NodeId(f"{node.nodeid.Identifier}.EngineeringUnits", self.ns),
                                ua.QualifiedName("EngineeringUnits", 0),
                                ua.Variant(eu, ua.VariantType.ExtensionObject))
        lo, hi = EU_RANGES.get(unit, (0.0, 100.0))
        await node.add_property(ua.NodeId(f"{node.nodeid.Identifier}.EURange", self.ns),
                                ua.QualifiedName("EURange", 0),
                                ua.Variant(ua.Range(Low=lo, High=hi),
                                           ua.VariantType.ExtensionObject))

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
