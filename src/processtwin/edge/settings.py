"""``edge.yaml``: what an edge forwarder runs and where it sends the readings.

An edge file names the twin.yaml whose sources the edge runs (only the sources: no pipeline,
store or analytics) and says how to reach the central twin and how to buffer meanwhile::

    twin: twin.yaml                 # relative to this file; its sources are read here
    edge:
      name: line1                   # one topic level: {topic_prefix}/{name}
      link: {kind: mqtt, host: central.example, port: 1883, topic_prefix: ptwin/edge, qos: 1}
      buffer: {dir: edge-buffer, max_bytes: 268435456, fsync: interval}
      metrics_port: 9108            # optional: GET /metrics (Prometheus), GET /status (JSON)

Problems are reported all at once, each with its file, line and key
(:class:`~processtwin.errors.ConfigError`).

Example:
    >>> EdgeSettings(name="line1").link.topic("line1")
    'ptwin/edge/line1'
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from processtwin.connectors.mqtt.settings import BrokerSettings
from processtwin.errors import ConfigError, ConfigProblem, InvalidInputError

__all__ = ["BufferConfig", "EdgeFile", "EdgeSettings", "LinkConfig", "load_edge_config"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LinkConfig(_Frozen):
    """The MQTT link to the central twin's broker."""

    kind: Literal["mqtt"] = "mqtt"
    host: str = "127.0.0.1"
    port: int = Field(default=1883, gt=0, lt=65536)
    client_id: str = ""
    protocol: Literal["5", "3.1.1"] = "5"
    username: str | None = None
    password: str | None = Field(default=None, repr=False)
    topic_prefix: str = "ptwin/edge"
    qos: Literal[0, 1, 2] = 1
    window: int = Field(default=64, ge=1, le=65535,
                        description="messages published and not yet acknowledged")
    publish_timeout_s: float = Field(default=10.0, gt=0)
    keepalive_s: int = Field(default=15, ge=1, le=65535)
    reconnect_min_s: float = Field(default=0.5, gt=0)
    reconnect_max_s: float = Field(default=10.0, gt=0)

    @field_validator("topic_prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        if not v or any(c in v for c in "+#\x00") or v.startswith("/") or v.endswith("/"):
            raise ValueError("topic_prefix must be a plain topic without wildcards or "
                             "leading/trailing '/'")
        return v

    def topic(self, edge: str) -> str:
        return f"{self.topic_prefix}/{edge}"

    def broker(self, edge: str) -> BrokerSettings:
        try:
            return BrokerSettings(host=self.host, port=self.port, client_id=self.client_id,
                                  protocol=self.protocol, username=self.username,
                                  password=self.password, keepalive_s=self.keepalive_s,
                                  reconnect_min_s=self.reconnect_min_s,
                                  reconnect_max_s=max(self.reconnect_max_s,
                                                      self.reconnect_min_s))
        except InvalidInputError as exc:
            raise ConfigError([ConfigProblem("edge.link", str(exc))]) from exc


class BufferConfig(_Frozen):
    """The disk buffer that holds readings while the link is down."""

    dir: str = "edge-buffer"
    max_bytes: int = Field(default=256 * 1024 * 1024, ge=4096)
    segment_bytes: int | None = Field(default=None, ge=1024)
    fsync: Literal["always", "interval", "never"] = "interval"
    fsync_interval_s: float = Field(default=1.0, gt=0)


class EdgeSettings(_Frozen):
    """One edge forwarder."""

    name: str
    link: LinkConfig = LinkConfig()
    buffer: BufferConfig = BufferConfig()
    max_readings: int = Field(default=500, ge=1, le=100_000,
                              description="readings per forwarded message")
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = Field(default=None, ge=0, le=65535,
                                     description="serve /metrics and /status (None: off)")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not v or any(c in v for c in "/+#\x00"):
            raise ValueError("the edge name is one topic level: non-empty, no '/', '+', '#'")
        return v


class EdgeFile(_Frozen):
    """The whole ``edge.yaml`` (``twin`` resolved against the file's folder)."""

    twin: str
    edge: EdgeSettings
    base_dir: str = Field(default=".", exclude=True)

    def twin_path(self) -> Path:
        return Path(self.base_dir) / self.twin

    def buffer_dir(self) -> Path:
        return Path(self.base_dir) / self.edge.buffer.dir


def load_edge_config(path: str | Path) -> EdgeFile:
    """Load and validate an ``edge.yaml``; raise ConfigError listing every problem."""
    from processtwin.runtime.config import _locations, _problem

    p = Path(path)
    file = str(p)
    try:
        text = p.read_text(encoding="utf-8")
        raw = yaml.safe_load(text)
    except OSError as exc:
        raise ConfigError([ConfigProblem("", f"cannot read: {exc.strerror}", file)]) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError([ConfigProblem(
            "", f"not valid YAML: {getattr(exc, 'problem', exc)}", file,
            mark.line + 1 if mark else None, mark.column + 1 if mark else None)]) from exc
    if not isinstance(raw, dict):
        raise ConfigError([ConfigProblem("", "the file must be a mapping", file, 1, 1)])
    locs = _locations(text)
    try:
        cfg = EdgeFile.model_validate({**raw, "base_dir": str(p.resolve().parent)})
    except ValidationError as exc:
        raise ConfigError([_problem(file, locs, tuple(e["loc"]), e["msg"])
                           for e in exc.errors()]) from None
    if not cfg.twin_path().is_file():
        raise ConfigError([_problem(file, locs, ("twin",),
                                    f"no twin file {str(cfg.twin_path())!r}")])
    return cfg
