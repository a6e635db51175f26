"""twin.yaml source kinds over a broker: ``mqtt`` and ``sparkplug`` (OPC UA is in config.py).

Each class is typed, frozen and checked once: the checks of the connector's own settings
(:mod:`processtwin.connectors.mqtt.settings`, :mod:`processtwin.connectors.sparkplug.settings`)
run at load time, so a bad topic template, path or twin template is a config problem with its
place. :meth:`BrokerConfig.settings` reads the password from the environment variable named
by ``password_env``: twin.yaml never holds a password.

Example:
    >>> r = MqttRouteConfig(topic="plant/{twin}/{point}", payload={"value": "$.v"})
    >>> r.route().template.filter
    'plant/+/+'
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from processtwin.connectors.mqtt.settings import (
    DEFAULT_QUALITY_MAP,
    BrokerSettings,
    MqttCommand,
    MqttRoute,
    MqttSettings,
    PayloadFormat,
    TlsSettings,
)
from processtwin.connectors.sparkplug.settings import SparkplugSettings
from processtwin.core.quality import Quality
from processtwin.errors import ConfigError, ConfigProblem, InvalidInputError

__all__ = [
    "BrokerConfig",
    "InputWriteConfig",
    "MqttPayloadConfig",
    "MqttRouteConfig",
    "MqttSourceConfig",
    "MqttWriteConfig",
    "PointConfig",
    "SparkplugSourceConfig",
    "SparkplugWriteConfig",
    "TlsConfig",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _checked(fn: Any) -> Any:
    """Run a connector-settings constructor; its InvalidInputError becomes a ValueError
    (pydantic then reports it at the place of the section being validated)."""
    try:
        return fn()
    except InvalidInputError as exc:
        raise ValueError(str(exc)) from None


class PointConfig(_Frozen):
    """A twin point a source feeds, with its quality rules."""

    twin: str
    point: str
    unit: str = ""
    lo: float = float("-inf")
    hi: float = float("inf")
    max_roc: float = Field(default=float("inf"), gt=0, description="unit per second")
    flatline_s: float | None = Field(default=None, gt=0)
    max_age_s: float | None = Field(default=None, gt=0,
                                    description="stale when the newest value is older")
    description: str = ""

    @field_validator("point")
    @classmethod
    def _no_dot(cls, v: str) -> str:
        if "." in v or not v:
            raise ValueError("point names must be non-empty and contain no '.'")
        return v


class TlsConfig(_Frozen):
    """TLS towards the broker; file paths are relative to twin.yaml's folder."""

    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    verify_hostname: bool = True

    def settings(self, base_dir: str | Path = ".") -> TlsSettings:
        def path(p: str | None) -> str | None:
            return None if p is None else str(Path(base_dir) / p)

        return TlsSettings(ca_file=path(self.ca_file), cert_file=path(self.cert_file),
                           key_file=path(self.key_file), verify_hostname=self.verify_hostname)


class BrokerConfig(_Frozen):
    """An MQTT broker session. ``password_env`` names the environment variable that holds
    the password (read when the source starts)."""

    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    client_id: str = Field(default="", description="'' → ptwin-{name}-{random}")
    protocol: Literal["5", "3.1.1"] = "5"
    username: str | None = None
    password_env: str | None = None
    tls: TlsConfig | None = None
    keepalive_s: int = Field(default=30, ge=1, le=65535)
    clean_start: bool = True
    session_expiry_s: int = Field(default=0, ge=0, le=0xFFFFFFFF,
                                  description="MQTT 5: how long the broker keeps the session")
    receive_maximum: int = Field(default=65535, ge=1, le=65535)
    connect_timeout_s: float = Field(default=5.0, gt=0)
    reconnect_min_s: float = Field(default=0.5, gt=0)
    reconnect_max_s: float = Field(default=30.0, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _no_password(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "password" in data:
            raise ValueError("no password in twin.yaml: put it in an environment variable "
                             "and name that in password_env")
        return data

    @model_validator(mode="after")
    def _check(self) -> BrokerConfig:
        if self.password_env is not None and self.username is None:
            raise ValueError("password_env given without username")
        _checked(lambda: self._settings(None))
        return self

    def _settings(self, password: str | None, base_dir: str | Path = ".") -> BrokerSettings:
        return BrokerSettings(
            host=self.host, port=self.port, client_id=self.client_id, protocol=self.protocol,
            username=self.username, password=password,
            tls=self.tls.settings(base_dir) if self.tls else None,
            keepalive_s=self.keepalive_s, clean_start=self.clean_start,
            session_expiry_s=self.session_expiry_s, receive_maximum=self.receive_maximum,
            connect_timeout_s=self.connect_timeout_s, reconnect_min_s=self.reconnect_min_s,
            reconnect_max_s=self.reconnect_max_s)

    def settings(self, *, base_dir: str | Path = ".", where: str = "broker",
                 env: Mapping[str, str] | None = None) -> BrokerSettings:
        """The session settings, with the password from the environment.

        Raises :class:`ConfigError` (at ``where.password_env``) when the variable is unset.
        """
        password = None
        if self.password_env is not None:
            password = (os.environ if env is None else env).get(self.password_env)
            if password is None:
                raise ConfigError([ConfigProblem(
                    f"{where}.password_env",
                    f"environment variable {self.password_env} is not set")])
        return self._settings(password, base_dir)


_QUALITY_NAMES = {"good": Quality.GOOD, "uncertain": Quality.UNCERTAIN, "bad": Quality.BAD}


class MqttPayloadConfig(_Frozen):
    """Where the readings are in a JSON payload (JSONPath-like: ``$.a.b``, ``@.v``,
    ``$.readings[*]``); see :class:`~processtwin.connectors.mqtt.settings.PayloadFormat`."""

    readings: str | None = None
    value: str = "@.v"
    ts: str | None = "@.ts"
    quality: str | None = None
    unit: str | None = None
    point: str | None = None
    ts_unit: Literal["s", "ms", "us", "ns", "auto"] = "s"
    require_ts: bool = False
    quality_map: dict[str, Literal["good", "uncertain", "bad"]] | None = Field(
        default=None, description="payload quality text → our level (default: 0/1/2, "
        "good/uncertain/bad, true/false)")

    @model_validator(mode="after")
    def _check(self) -> MqttPayloadConfig:
        _checked(self.format)
        return self

    def format(self) -> PayloadFormat:
        qmap = DEFAULT_QUALITY_MAP if self.quality_map is None else {
            k: _QUALITY_NAMES[v] for k, v in self.quality_map.items()}
        return PayloadFormat(readings=self.readings, value=self.value, ts=self.ts,
                             quality=self.quality, unit=self.unit, point=self.point,
                             ts_unit=self.ts_unit, require_ts=self.require_ts,
                             quality_map=qmap)


class MqttRouteConfig(_Frozen):
    """A topic template (``plant/{twin}/{point}``, ``site/+/{twin}/#``) and how its
    messages map onto twin points; ``twin``/``point`` fix what the topic does not name."""

    topic: str
    twin: str | None = None
    point: str | None = None
    qos: int = Field(default=1, ge=0, le=2)
    payload: MqttPayloadConfig = MqttPayloadConfig()

    @model_validator(mode="after")
    def _check(self) -> MqttRouteConfig:
        _checked(self.route)
        return self

    def route(self) -> MqttRoute:
        return MqttRoute(topic=self.topic, twin=self.twin, point=self.point, qos=self.qos,
                         format=self.payload.format())


class InputWriteConfig(_Frozen):
    """A twin input (a DTDL command) a source writes when the gate releases it."""

    twin: str
    input: str


class MqttWriteConfig(InputWriteConfig):
    """A gate-released twin input published as JSON to ``topic``."""

    topic: str
    qos: int = Field(default=1, ge=0, le=2)
    retain: bool = False

    @model_validator(mode="after")
    def _check(self) -> MqttWriteConfig:
        _checked(self.command)
        return self

    def command(self) -> MqttCommand:
        return MqttCommand(twin=self.twin, input=self.input, topic=self.topic, qos=self.qos,
                           retain=self.retain)


class MqttSourceConfig(_Frozen):
    """``kind: mqtt``: JSON readings over MQTT; ``points`` declares the twin points the
    routes feed (a message for any other point is a dead letter)."""

    name: str
    kind: Literal["mqtt"] = "mqtt"
    broker: BrokerConfig = BrokerConfig()
    shared_group: str | None = Field(default=None, description="MQTT 5 shared subscription "
                                     "group ($share/{group}/...)")
    routes: tuple[MqttRouteConfig, ...] = ()
    points: tuple[PointConfig, ...] = ()
    writes: tuple[MqttWriteConfig, ...] = ()
    max_queued: int = Field(default=200_000, ge=1)
    batch_rows: int = Field(default=50_000, ge=1)
    write_timeout_s: float = Field(default=5.0, gt=0)

    @model_validator(mode="after")
    def _check(self) -> MqttSourceConfig:
        if not self.routes:
            raise ValueError(f"mqtt source {self.name!r}: routes is empty (nothing to "
                             "subscribe)")
        _checked(lambda: self._settings(BrokerSettings()))
        return self

    def _settings(self, broker: BrokerSettings) -> MqttSettings:
        return MqttSettings(name=self.name, broker=broker,
                            routes=tuple(r.route() for r in self.routes),
                            commands=tuple(w.command() for w in self.writes),
                            shared_group=self.shared_group, max_queued=self.max_queued,
                            batch_rows=self.batch_rows, write_timeout_s=self.write_timeout_s)

    def settings(self, *, base_dir: str | Path = ".", where: str = "source",
                 env: Mapping[str, str] | None = None) -> MqttSettings:
        return self._settings(self.broker.settings(base_dir=base_dir, where=f"{where}.broker",
                                                   env=env))


class SparkplugWriteConfig(InputWriteConfig):
    """A gate-released twin input written as NCMD/DCMD to the born metric of that name."""


class SparkplugSourceConfig(_Frozen):
    """``kind: sparkplug``: a Sparkplug B host application. Births are authoritative: each
    NBIRTH/DBIRTH creates (or updates) the twin ``node_twin``/``device_twin`` (templates
    over ``{group}``, ``{edge}``, ``{device}``) with a point per numeric metric, of
    ``node_model``/``device_model`` when given (else a generic Sparkplug model)."""

    name: str
    kind: Literal["sparkplug"] = "sparkplug"
    broker: BrokerConfig = BrokerConfig()
    host_id: str
    groups: tuple[str, ...] = Field(default=(), description="() subscribes to every group")
    node_twin: str = "{group}-{edge}"
    device_twin: str = "{group}-{edge}-{device}"
    node_model: str | None = Field(default=None, description="DTMI of node twins")
    device_model: str | None = Field(default=None, description="DTMI of device twins")
    max_age_s: float | None = Field(default=None, gt=0,
                                    description="born points: stale when older")
    writes: tuple[SparkplugWriteConfig, ...] = ()
    rebirth_interval_s: float = Field(default=5.0, ge=0)
    command_qos: int = Field(default=0, ge=0, le=2)
    max_queued: int = Field(default=200_000, ge=1)
    batch_rows: int = Field(default=50_000, ge=1)
    write_timeout_s: float = Field(default=5.0, gt=0)

    @model_validator(mode="after")
    def _check(self) -> SparkplugSourceConfig:
        _checked(lambda: self._settings(BrokerSettings()))
        return self

    def _settings(self, broker: BrokerSettings) -> SparkplugSettings:
        return SparkplugSettings(
            name=self.name, host_id=self.host_id, broker=broker, groups=self.groups,
            node_twin=self.node_twin, device_twin=self.device_twin,
            rebirth_interval_s=self.rebirth_interval_s, command_qos=self.command_qos,
            max_queued=self.max_queued, batch_rows=self.batch_rows,
            write_timeout_s=self.write_timeout_s)

    def settings(self, *, base_dir: str | Path = ".", where: str = "source",
                 env: Mapping[str, str] | None = None) -> SparkplugSettings:
        return self._settings(self.broker.settings(base_dir=base_dir, where=f"{where}.broker",
                                                   env=env))

    def twin_id(self, device_key: str) -> str:
        """The twin of a node (``group/edge``) or device (``group/edge/device``)."""
        group, edge, *device = device_key.split("/", 2)
        return self._settings(BrokerSettings()).twin_id(group, edge,
                                                        device[0] if device else None)

    def model_for(self, device_key: str) -> str | None:
        return self.device_model if device_key.count("/") >= 2 else self.node_model
