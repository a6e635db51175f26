"""Build the connectors of a twin.yaml's ``sources``: OPC UA, MQTT and Sparkplug B.

:func:`build_connectors` turns each source into a connector bound to the runtime's
:class:`~processtwin.core.points.PointTable`; it does not start them. The runtime (or
``ptwin edge``) starts each with its sink and registers its writes (every source's
``writes`` carry ``twin`` and ``input``). Connectors look points up in ``table`` when a
message arrives, so points appended to it later (Sparkplug births) are found.

A Sparkplug source reports each birth to ``on_birth(device_key, metrics)``
(:data:`~processtwin.connectors.sparkplug.host.BirthCallback`), with the source's config
bound as a keyword: ``on_birth(key, metrics, source=cfg)``.

Example:
    >>> from processtwin.runtime.config import load_config_text
    >>> from processtwin.runtime.runtime import build_point_table
    >>> cfg = load_config_text("name: x\\n")
    >>> build_connectors(cfg, build_point_table(cfg), sim_url=None)
    []
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import Any

from processtwin.connectors.base import Connector
from processtwin.connectors.mqtt.connector import MqttConnector
from processtwin.connectors.opcua.connector import OpcUaBinding, OpcUaConnector, OpcUaSettings
from processtwin.connectors.sparkplug.host import SparkplugHost
from processtwin.connectors.sparkplug.registry import BirthMetric
from processtwin.core.points import PointTable
from processtwin.errors import ConnectorError
from processtwin.runtime.config import (
    MqttSourceConfig,
    OpcUaSourceConfig,
    SourceConfig,
    SparkplugSourceConfig,
    TwinFile,
)

__all__ = ["SIMULATOR_URL", "SourceBirthCallback", "build_connectors", "build_mqtt",
           "build_opcua", "build_sparkplug"]

#: ``url: simulator`` in an OPC UA source means the built-in simulated plant.
SIMULATOR_URL = "simulator"

#: ``on_birth(device_key, metrics, *, source)``; may be a coroutine function.
SourceBirthCallback = Callable[..., Awaitable[None] | None]


def build_opcua(s: OpcUaSourceConfig, table: PointTable, *, sim_url: str | None,
                base_dir: str = ".", where: str = "source",
                env: Mapping[str, str] | None = None) -> OpcUaConnector:
    """An OPC UA connector for one source; ``url: simulator`` takes ``sim_url``.

    Raises ConfigError when the security's ``password_env`` names no variable.
    """
    url = sim_url if s.url == SIMULATOR_URL else s.url
    if url is None:
        raise ConnectorError(f"source {s.name}: url 'simulator' but the simulator "
                             "is not enabled")
    bindings = [OpcUaBinding(node=b.node, point=table.index(f"{b.twin}.{b.point}"),
                             key=f"{b.twin}.{b.point}") for b in s.bindings]
    return OpcUaConnector(OpcUaSettings(
        name=s.name, url=url, sampling_interval_ms=s.sampling_interval_ms,
        publishing_interval_ms=s.publishing_interval_ms, queue_size=s.queue_size,
        deadband=s.deadband.deadband() if s.deadband else None, timestamps=s.timestamps,
        reconnect_max_delay_s=s.reconnect_max_delay_s,
        security=s.security.client_security(base_dir=base_dir, where=f"{where}.security",
                                            env=env)),
        bindings, {(w.twin, w.input): w.node for w in s.writes})


def build_mqtt(s: MqttSourceConfig, table: PointTable, *, base_dir: str = ".",
               where: str = "source", env: Mapping[str, str] | None = None) -> MqttConnector:
    """An MQTT connector; raises ConfigError when ``password_env`` names no variable."""
    return MqttConnector(s.settings(base_dir=base_dir, where=where, env=env), table)


def build_sparkplug(s: SparkplugSourceConfig, table: PointTable, *, base_dir: str = ".",
                    where: str = "source", env: Mapping[str, str] | None = None,
                    on_birth: SourceBirthCallback | None = None) -> SparkplugHost:
    """A Sparkplug B host; births go to ``on_birth(key, metrics, source=s)``."""
    cb: Callable[[str, tuple[BirthMetric, ...]], Awaitable[None] | None] | None = (
        None if on_birth is None else partial(on_birth, source=s))
    return SparkplugHost(s.settings(base_dir=base_dir, where=where, env=env), table, cb)


def build_connectors(cfg: TwinFile, table: PointTable, *, sim_url: str | None = None,
                     on_birth: SourceBirthCallback | None = None,
                     env: Mapping[str, str] | None = None,
                     ) -> list[tuple[SourceConfig, Connector]]:
    """One (unstarted) connector per source of ``cfg``, in file order.

    ``env`` (default ``os.environ``) is where ``password_env`` variables are read.
    """
    out: list[tuple[SourceConfig, Connector]] = []
    for i, s in enumerate(cfg.sources):
        where = f"sources.{i}"
        conn: Any
        if isinstance(s, OpcUaSourceConfig):
            conn = build_opcua(s, table, sim_url=sim_url, base_dir=cfg.base_dir, where=where,
                               env=env)
        elif isinstance(s, MqttSourceConfig):
            conn = build_mqtt(s, table, base_dir=cfg.base_dir, where=where, env=env)
        else:
            conn = build_sparkplug(s, table, base_dir=cfg.base_dir, where=where, env=env,
                                   on_birth=on_birth)
        out.append((s, conn))
    return out
