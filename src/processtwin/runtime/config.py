"""``twin.yaml``: the typed, frozen description of one plant's twin.

:func:`load_config` parses the YAML, validates it with pydantic and then checks every
cross-reference (twins, points, models, estimator and gate inputs). It reports **every**
problem at once, each with its file, line, column and key path, by raising
:class:`~processtwin.errors.ConfigError`.

Example:
    >>> cfg = load_config_text("name: x\\ntwins: [{id: r1, model: 'dtmi:a:b;1'}]\\n")
    >>> cfg.twins[0].id
    'r1'
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from processtwin.connectors.opcua.config import OpcUaDeadbandConfig, OpcUaSecurityConfig
from processtwin.control.gate import Mode
from processtwin.errors import ConfigError, ConfigProblem, InvalidInputError
from processtwin.pipeline.config import QualityConfig
from processtwin.pipeline.derived import DerivedConfig
from processtwin.pipeline.reconcile import BalanceConfig
from processtwin.runtime.source_config import (
    InputWriteConfig,
    MqttSourceConfig,
    PointConfig,
    SparkplugSourceConfig,
)
from processtwin.store.factory import StoreSpec

if TYPE_CHECKING:
    from processtwin.bus.settings import BusSettings

__all__ = [
    "BindingConfig",
    "BusConfig",
    "EstimatorConfig",
    "GateSettings",
    "MqttSourceConfig",
    "OpcUaSourceConfig",
    "OptimizerConfig",
    "PointConfig",
    "RelationshipConfig",
    "ServiceConfig",
    "SimulatorConfig",
    "SourceConfig",
    "SparkplugSourceConfig",
    "TwinConfig",
    "TwinFile",
    "WalkConfig",
    "load_config",
    "load_config_text",
    "model_files",
    "sampling_periods",
    "source_points",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BindingConfig(PointConfig):
    """One source node bound to one twin point, with the point's quality rules."""

    node: str


class WriteConfig(InputWriteConfig):
    node: str


class OpcUaSourceConfig(_Frozen):
    """``kind: opcua`` (the default): OPC UA subscriptions to bound nodes."""

    name: str
    kind: Literal["opcua"] = "opcua"
    url: str
    sampling_interval_ms: float = Field(default=100.0, gt=0)
    publishing_interval_ms: float = Field(default=100.0, gt=0)
    queue_size: int = Field(default=10, ge=0)
    deadband: OpcUaDeadbandConfig | None = None
    timestamps: Literal["source", "server"] = "source"
    reconnect_max_delay_s: float = Field(default=30.0, gt=0)
    security: OpcUaSecurityConfig = Field(default_factory=OpcUaSecurityConfig)
    bindings: tuple[BindingConfig, ...] = ()
    writes: tuple[WriteConfig, ...] = ()


def _source_kind(v: Any) -> str:
    kind = v.get("kind", "opcua") if isinstance(v, dict) else getattr(v, "kind", "opcua")
    return kind if isinstance(kind, str) else repr(kind)


#: One entry of ``sources``, told apart by ``kind`` (``opcua`` when absent).
SourceConfig = Annotated[
    Annotated[OpcUaSourceConfig, Tag("opcua")]
    | Annotated[MqttSourceConfig, Tag("mqtt")]
    | Annotated[SparkplugSourceConfig, Tag("sparkplug")],
    Discriminator(_source_kind, custom_error_type="source_kind",
                  custom_error_message="kind must be opcua, mqtt or sparkplug")]
SOURCE_KINDS = ("opcua", "mqtt", "sparkplug")


def source_points(s: OpcUaSourceConfig | MqttSourceConfig | SparkplugSourceConfig
                  ) -> tuple[PointConfig, ...]:
    """The twin points a source declares (a Sparkplug source's come from its births)."""
    if isinstance(s, OpcUaSourceConfig):
        return s.bindings
    if isinstance(s, MqttSourceConfig):
        return s.points
    return ()


class TwinSpec(_Frozen):
    id: str
    model: str
    properties: dict[str, Any] = Field(default_factory=dict)

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not v or "." in v or "/" in v:
            raise ValueError("twin ids must be non-empty and contain no '.' or '/'")
        return v


class RelationshipConfig(_Frozen):
    source: str
    name: str
    target: str


class WalkConfig(_Frozen):
    """A model parameter estimated jointly with the states as a random walk."""

    std: float = Field(ge=0, description="walk density, parameter unit per sqrt(model time "
                       "unit)")
    initial: float | None = Field(default=None, description="start value (default nominal)")
    initial_std: float | None = Field(default=None, gt=0,
                                      description="start spread (default 10 % of the start)")
    lo: float = float("-inf")
    hi: float = float("inf")
    point: str | None = Field(default=None, description="estimate point name on the twin "
                              "(default: the parameter's name)")

    @model_validator(mode="after")
    def _range(self) -> WalkConfig:
        if not self.lo < self.hi:
            raise ValueError(f"lo ({self.lo}) must be < hi ({self.hi})")
        return self


class EstimatorConfig(_Frozen):
    """A state estimator (EKF, UKF or MHE) on a process model, fed by twin points.

    ``walks`` estimates parameters jointly as random walks (written to the twin like the
    estimated states, with their ``_std``); ``bounds`` narrows state or walked-parameter
    bounds for the MHE; a measurement of uncertain (or imputed) quality has its variance
    multiplied by ``uncertain_variance_factor``; bad ones are skipped.
    """

    twin: str
    kind: Literal["ekf", "ukf", "mhe"] = "ekf"
    model: Literal["van_de_vusse_cstr"] = "van_de_vusse_cstr"
    time_scale: float = Field(default=1.0, gt=0,
                              description="plant seconds per clock second (1 for a real plant)")
    period_s: float = Field(default=0.5, gt=0)
    inputs: dict[str, str] = Field(description="model input -> point key")
    measurements: dict[str, list[str]] = Field(description="state -> point keys (averaged)")
    measurement_std: dict[str, float]
    process_std: dict[str, float] = Field(default_factory=dict)
    initial_std: dict[str, float] = Field(default_factory=dict)
    delayed: dict[str, str] = Field(default_factory=dict,
                                    description="state -> point key of a late analyser")
    estimates: dict[str, str] = Field(default_factory=dict,
                                      description="state -> estimate point name on the twin")
    params: dict[str, float] = Field(default_factory=dict)
    horizon: int = Field(default=20, ge=1, description="MHE: intervals in the window")
    bounds: dict[str, tuple[float, float]] = Field(
        default_factory=dict, description="MHE: state/walked-parameter -> (lo, hi)")
    walks: dict[str, WalkConfig] = Field(default_factory=dict,
                                         description="parameter -> random-walk settings")
    substeps: int = Field(default=2, ge=1, description="RK4 substeps per filter step")
    uncertain_variance_factor: float = Field(default=4.0, ge=1.0)
    late_horizon_s: float = Field(default=600.0, ge=0,
                                  description="how far back a late measurement may go")

    @model_validator(mode="after")
    def _names(self) -> EstimatorConfig:
        from processtwin.physics.cstr import van_de_vusse

        model = van_de_vusse()
        problems = []
        unknown = sorted(set(self.walks) - set(model.param_names))
        if unknown:
            problems.append(f"walks: unknown parameters {unknown} of {model.name}")
        names = set(model.state_names) | set(self.walks)
        unknown = sorted(set(self.bounds) - names)
        if unknown:
            problems.append(f"bounds: {unknown} are neither states nor walked parameters")
        bad = sorted(n for n, (lo, hi) in self.bounds.items() if not lo < hi)
        if bad:
            problems.append(f"bounds: need lo < hi for {bad}")
        pts = list(self.estimate_points().values())
        dup = sorted({p for p in pts if pts.count(p) > 1})
        if dup:
            problems.append(f"estimate point names used twice: {dup}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def estimate_points(self) -> dict[str, str]:
        """State or walked parameter -> the twin point carrying its estimate."""
        return {**self.estimates, **{n: w.point or n for n, w in self.walks.items()}}


class OptimizerConfig(_Frozen):
    twin: str
    output: str
    target: float
    period_s: float = Field(default=10.0, gt=0)
    state_max: dict[str, float] = Field(default_factory=dict)


class LimitConfig(_Frozen):
    lo: float
    hi: float
    max_step: float = Field(default=float("inf"), gt=0)
    min_interval_s: float = Field(default=0.0, ge=0)


class GateSettings(_Frozen):
    mode: Mode = Mode.ADVISORY
    max_staleness_s: float = Field(default=5.0, gt=0)
    limits: dict[str, LimitConfig] = Field(default_factory=dict)


class SimulatorConfig(_Frozen):
    """The built-in simulated plant (demo and tests)."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=4840, ge=0, le=65535)
    time_scale: float = Field(default=10.0, gt=0)
    seed: int = 0
    fault_rate_per_h: float = Field(default=2.0, ge=0)
    tick_s: float = Field(default=0.05, gt=0)
    true_params: dict[str, float] = Field(default_factory=dict)


class ServiceConfig(_Frozen):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)


class RetentionConfig(_Frozen):
    raw_days: float | None = Field(default=None, gt=0, description="raw rows kept (None: all)")
    rollup_days: float | None = Field(default=None, gt=0,
                                      description="1-minute aggregates kept (None: all)")


class StoreConfig(_Frozen):
    """Where history goes: the embedded DuckDB file (default), PostgreSQL or memory."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    kind: Literal["embedded", "memory", "postgres"] = "embedded"
    path: str = "history.duckdb"
    dsn: str | None = Field(default=None, description="PostgreSQL connection string")
    schema_: str = Field(default="ptwin", alias="schema")
    timescale: bool | None = None
    retention: RetentionConfig = RetentionConfig()
    buffer_rows: int = Field(default=1_000_000, ge=1,
                             description="rows held while the store is unreachable")
    flush_interval_s: float = Field(default=0.2, gt=0)
    rollup_interval_s: float = Field(default=10.0, gt=0)
    retention_interval_s: float = Field(default=3600.0, gt=0)

    @model_validator(mode="after")
    def _dsn(self) -> StoreConfig:
        if self.kind == "postgres" and not self.dsn:
            raise ValueError("a postgres store needs a dsn")
        return self

    def spec(self) -> StoreSpec:
        from processtwin.store import BufferPolicy, Retention

        return StoreSpec(kind=self.kind, path=self.path, dsn=self.dsn, schema=self.schema_,
                         timescale=self.timescale,
                         retention=Retention(raw_days=self.retention.raw_days,
                                             rollup_days=self.retention.rollup_days),
                         buffer_policy=BufferPolicy(max_rows=self.buffer_rows))


class BusConfig(_Frozen):
    """``bus:``, how sources reach the twin. ``inprocess`` (default): connectors feed the
    runtime directly. ``jetstream``: connectors publish to the site's stream and the runtime
    consumes the partitions in ``consume`` (all when omitted), acknowledging each frame after
    its store committed the rows; ``ptwin worker`` processes may consume the others."""

    kind: Literal["inprocess", "jetstream"] = "inprocess"
    url: str = "nats://127.0.0.1:4222"
    site: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$",
                             validate_default=True, description="the stream is PTWIN_<site>")
    partitions: int = Field(default=4, ge=1, le=1024)
    consume: tuple[int, ...] | None = Field(default=None, description="None: all partitions")
    storage: Literal["file", "memory"] = "file"
    max_bytes: int = Field(default=1 << 30, ge=1 << 16, description="stream ceiling, bytes")
    max_ack_pending: int = Field(default=256, ge=1, description="frames in flight a partition")
    ack_wait_s: float = Field(default=30.0, gt=0)
    fetch_batch: int = Field(default=64, ge=1)

    @field_validator("site")
    @classmethod
    def _site(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is None and info.data.get("kind") == "jetstream":
            raise ValueError("a jetstream bus needs a site (its stream is PTWIN_<site>)")
        return v

    @field_validator("consume")
    @classmethod
    def _consume(cls, v: tuple[int, ...] | None, info: ValidationInfo
                 ) -> tuple[int, ...] | None:
        n = info.data.get("partitions")
        if v is not None and (not v or (n is not None and not all(0 <= k < n for k in v))):
            raise ValueError(f"consume lists partitions in [0, {n}) (omit it for all)")
        return v

    def settings(self) -> BusSettings:
        from processtwin.bus.settings import BusSettings

        return BusSettings(url=self.url, site=self.site or "", partitions=self.partitions,
                           storage=self.storage, max_bytes=self.max_bytes,
                           max_ack_pending=self.max_ack_pending, ack_wait_s=self.ack_wait_s,
                           fetch_batch=self.fetch_batch)

    def consumed(self) -> list[int]:
        return sorted(set(self.consume)) if self.consume else list(range(self.partitions))


class TwinFile(_Frozen):
    """The whole ``twin.yaml``."""

    name: str
    data_dir: str = ".ptwin"
    models: tuple[str, ...] = ()
    twins: tuple[TwinSpec, ...] = ()
    relationships: tuple[RelationshipConfig, ...] = ()
    sources: tuple[SourceConfig, ...] = ()
    estimator: EstimatorConfig | None = None
    optimizer: OptimizerConfig | None = None
    gate: GateSettings = GateSettings()
    simulator: SimulatorConfig = SimulatorConfig()
    service: ServiceConfig = ServiceConfig()
    store: StoreConfig = StoreConfig()
    quality: QualityConfig = QualityConfig()
    derived: tuple[DerivedConfig, ...] = ()
    balances: tuple[BalanceConfig, ...] = ()
    bus: BusConfig = BusConfig()
    base_dir: str = Field(default=".", exclude=True)


TwinConfig = TwinFile


# ---------------------------------------------------------------------- locations
def _locations(text: str) -> dict[tuple[Any, ...], tuple[int, int]]:
    """Map every key path of a YAML document to its (line, column), 1-based."""
    out: dict[tuple[Any, ...], tuple[int, int]] = {}
    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return out

    def walk(node: yaml.Node | None, path: tuple[Any, ...]) -> None:
        if node is None:
            return
        out[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                key = k.value
                out[(*path, key)] = (k.start_mark.line + 1, k.start_mark.column + 1)
                walk(v, (*path, key))
                if isinstance(v, yaml.MappingNode | yaml.SequenceNode):
                    out[(*path, key)] = (k.start_mark.line + 1, k.start_mark.column + 1)
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                walk(v, (*path, i))

    walk(root, ())
    return out


def _place(locs: dict[tuple[Any, ...], tuple[int, int]], path: tuple[Any, ...]
           ) -> tuple[int | None, int | None]:
    for n in range(len(path), -1, -1):
        if path[:n] in locs:
            return locs[path[:n]]
    return None, None


def _problem(file: str | None, locs: dict[tuple[Any, ...], tuple[int, int]],
             path: tuple[Any, ...], msg: str) -> ConfigProblem:
    line, col = _place(locs, path)
    return ConfigProblem(".".join(str(p) for p in path), msg, file, line, col)


def _cross_check(cfg: TwinFile, file: str | None,
                 locs: dict[tuple[Any, ...], tuple[int, int]]) -> list[ConfigProblem]:
    probs: list[ConfigProblem] = []
    twins = {t.id for t in cfg.twins}
    seen: set[str] = set()
    for i, t in enumerate(cfg.twins):
        if t.id in seen:
            probs.append(_problem(file, locs, ("twins", i, "id"), f"duplicate twin id {t.id!r}"))
        seen.add(t.id)
    for i, r in enumerate(cfg.relationships):
        for end in ("source", "target"):
            if getattr(r, end) not in twins:
                probs.append(_problem(file, locs, ("relationships", i, end),
                                      f"unknown twin {getattr(r, end)!r}"))
    if cfg.bus.kind == "jetstream" and any(isinstance(s, SparkplugSourceConfig)
                                           for s in cfg.sources):
        probs.append(_problem(file, locs, ("bus", "kind"),
                              "a jetstream bus cannot carry Sparkplug sources (births add "
                              "points at run time); use kind: inprocess"))
    points: set[str] = set()
    nodes: set[tuple[str, str]] = set()
    names: set[str] = set()
    for si, s in enumerate(cfg.sources):
        if s.name in names:
            probs.append(_problem(file, locs, ("sources", si, "name"),
                                  f"duplicate source name {s.name!r}"))
        names.add(s.name)
        section = "bindings" if isinstance(s, OpcUaSourceConfig) else "points"
        for bi, b in enumerate(source_points(s)):
            where = ("sources", si, section, bi)
            if b.twin not in twins:
                probs.append(_problem(file, locs, (*where, "twin"), f"unknown twin {b.twin!r}"))
            key = f"{b.twin}.{b.point}"
            if key in points:
                probs.append(_problem(file, locs, (*where, "point"), f"point {key} bound twice"))
            points.add(key)
            if isinstance(b, BindingConfig):
                if (s.name, b.node) in nodes:
                    probs.append(_problem(file, locs, (*where, "node"),
                                          f"node {b.node} bound twice"))
                nodes.add((s.name, b.node))
            if b.lo > b.hi:
                probs.append(_problem(file, locs, (*where, "lo"), f"lo {b.lo} > hi {b.hi}"))
        if isinstance(s, MqttSourceConfig):
            probs.extend(_check_routes(s, si, twins, file, locs))
        for wi, w in enumerate(s.writes):
            if w.twin not in twins and not isinstance(s, SparkplugSourceConfig):
                probs.append(_problem(file, locs, ("sources", si, "writes", wi, "twin"),
                                      f"unknown twin {w.twin!r}"))
            if w.input not in cfg.gate.limits:
                probs.append(_problem(file, locs, ("sources", si, "writes", wi, "input"),
                                      f"input {w.input!r} has no gate limits (gate.limits)"))
    est = cfg.estimator
    if est is not None:
        from processtwin.physics.cstr import van_de_vusse

        model = van_de_vusse()
        if est.twin not in twins:
            probs.append(_problem(file, locs, ("estimator", "twin"), f"unknown twin {est.twin!r}"))
        for name, key in est.inputs.items():
            if name not in model.input_names:
                probs.append(_problem(file, locs, ("estimator", "inputs", name),
                                      f"{name!r} is not an input of {model.name}"))
            if key not in points:
                probs.append(_problem(file, locs, ("estimator", "inputs", name),
                                      f"unknown point {key!r}"))
        for name in set(model.input_names) - set(est.inputs):
            probs.append(_problem(file, locs, ("estimator", "inputs"),
                                  f"model input {name!r} has no point"))
        for section in ("measurements", "delayed"):
            for name, keys in getattr(est, section).items():
                if name not in model.state_names:
                    probs.append(_problem(file, locs, ("estimator", section, name),
                                          f"{name!r} is not a state of {model.name}"))
                for key in [keys] if isinstance(keys, str) else keys:
                    if key not in points:
                        probs.append(_problem(file, locs, ("estimator", section, name),
                                              f"unknown point {key!r}"))
                if name not in est.measurement_std:
                    probs.append(_problem(file, locs, ("estimator", "measurement_std"),
                                          f"no measurement_std for {name!r}"))
        for name, pname in est.estimates.items():
            if name not in model.state_names:
                probs.append(_problem(file, locs, ("estimator", "estimates", name),
                                      f"{name!r} is not a state of {model.name}"))
            if f"{est.twin}.{pname}" in points:
                probs.append(_problem(file, locs, ("estimator", "estimates", name),
                                      f"estimate point {pname!r} clashes with a bound point"))
        for pname in est.params:
            if pname not in model.nominal_params:
                probs.append(_problem(file, locs, ("estimator", "params", pname),
                                      f"unknown parameter {pname!r} of {model.name}"))
    opt = cfg.optimizer
    if opt is not None:
        if est is None or opt.twin != est.twin:
            probs.append(_problem(file, locs, ("optimizer", "twin"),
                                  "the optimiser needs an estimator on the same twin"))
        if est is not None and opt.output not in est.estimates:
            probs.append(_problem(file, locs, ("optimizer", "output"),
                                  f"{opt.output!r} is not an estimated state"))
        for name in ("F", "Q"):
            if name not in cfg.gate.limits:
                probs.append(_problem(file, locs, ("gate", "limits"),
                                      f"the optimiser needs gate limits for input {name!r}"))
    written = {w.input for s in cfg.sources for w in s.writes}
    for name, lim in cfg.gate.limits.items():
        if name not in written:
            probs.append(_problem(file, locs, ("gate", "limits", name),
                                  f"input {name!r} has limits but no source writes it "
                                  "(sources.*.writes)"))
        if lim.lo > lim.hi:
            probs.append(_problem(file, locs, ("gate", "limits", name, "lo"),
                                  f"lo {lim.lo} > hi {lim.hi}"))
    return probs


def _check_routes(s: MqttSourceConfig, si: int, twins: set[str], file: str | None,
                  locs: dict[tuple[Any, ...], tuple[int, int]]) -> list[ConfigProblem]:
    """An MQTT route's fixed twin must exist; its fixed twin.point must be declared."""
    probs: list[ConfigProblem] = []
    declared = {f"{p.twin}.{p.point}" for p in s.points}
    for ri, r in enumerate(s.routes):
        if r.twin is not None and r.twin not in twins:
            probs.append(_problem(file, locs, ("sources", si, "routes", ri, "twin"),
                                  f"unknown twin {r.twin!r}"))
        key = (f"{r.twin}.{r.point}" if r.twin is not None and r.point is not None
               else r.point if r.point is not None and "." in r.point else None)
        if key is not None and key not in declared:
            probs.append(_problem(file, locs, ("sources", si, "routes", ri, "point"),
                                  f"point {key} is not in this source's points"))
    return probs


def _check_models(cfg: TwinFile, file: str | None,
                  locs: dict[tuple[Any, ...], tuple[int, int]]) -> list[ConfigProblem]:
    """Load the DTDL models through the parser and check every twin against its model."""
    from processtwin.dtdl import DTDLValidationError, parse
    from processtwin.graph.validate import Validators

    probs: list[ConfigProblem] = []
    docs: list[str] = []
    names: list[str] = []
    for i, pattern in enumerate(cfg.models):
        paths = _model_paths(cfg, pattern)
        if not paths:
            probs.append(_problem(file, locs, ("models", i), f"no file matches {pattern!r}"))
        for path in paths:
            try:
                docs.append(path.read_text(encoding="utf-8-sig"))
                names.append(str(path))
            except OSError as exc:
                probs.append(_problem(file, locs, ("models", i),
                                      f"cannot read {path}: {exc.strerror}"))
    if probs or not docs:
        return probs
    try:
        models = parse(docs, names=names)
    except DTDLValidationError as exc:
        return [_problem(file, locs, ("models",), f"{e.source or ''}: {e.validation_id} at "
                         f"{e.element_id}{'.' + e.property if e.property else ''}: {e.message}")
                for e in exc.errors]
    ifaces = models.interfaces
    validators = Validators(models)
    model_of: dict[str, Any] = {}
    for i, t in enumerate(cfg.twins):
        iface = ifaces.get(t.model)
        if iface is None:
            probs.append(_problem(file, locs, ("twins", i, "model"),
                                  f"no interface {t.model!r} in the models"))
            continue
        model_of[t.id] = iface
        for tp in validators.twin(t.id, t.model, t.properties):
            parts = [x for x in tp.path.split("/") if x]
            key_path = ("twins", i, "properties", *parts[:1]) if parts else ("twins", i)
            probs.append(_problem(file, locs, key_path, f"{tp.code}: {tp.message}"))
    for i, r in enumerate(cfg.relationships):
        src, dst = model_of.get(r.source), model_of.get(r.target)
        if src is None:
            continue
        rel = next((x for x in src.relationships if x.name == r.name), None)
        if rel is None:
            probs.append(_problem(file, locs, ("relationships", i, "name"),
                                  f"{src.id} has no relationship {r.name!r}"))
        elif rel.target and dst is not None and rel.target != dst.id and \
                rel.target not in _ancestors(dst, ifaces):
            probs.append(_problem(file, locs, ("relationships", i, "target"),
                                  f"{r.name!r} must target a {rel.target}, not {dst.id}"))
    for si, s in enumerate(cfg.sources):
        section = "bindings" if isinstance(s, OpcUaSourceConfig) else "points"
        for bi, b in enumerate(source_points(s)):
            iface = model_of.get(b.twin)
            if iface is not None and b.point not in {t.name for t in iface.telemetries} | {
                    p.name for p in iface.properties}:
                probs.append(_problem(file, locs, ("sources", si, section, bi, "point"),
                                      f"{b.point!r} is no telemetry or property of {iface.id}"))
        if isinstance(s, SparkplugSourceConfig):
            for key in ("node_model", "device_model"):
                dtmi = getattr(s, key)
                if dtmi is not None and dtmi not in ifaces:
                    probs.append(_problem(file, locs, ("sources", si, key),
                                          f"no interface {dtmi!r} in the models"))
        for wi, w in enumerate(s.writes):
            iface = model_of.get(w.twin)
            if iface is not None and w.input not in {c.name for c in iface.commands}:
                probs.append(_problem(file, locs, ("sources", si, "writes", wi, "input"),
                                      f"{w.input!r} is not a command of {iface.id}"))
    return probs


def sampling_periods(cfg: TwinFile) -> dict[str, float]:
    """Each bound point's expected sampling period in seconds (its source's interval)."""
    return {f"{b.twin}.{b.point}": s.sampling_interval_ms / 1000.0
            for s in cfg.sources if isinstance(s, OpcUaSourceConfig) for b in s.bindings}


def _relocate(file: str | None, locs: dict[tuple[Any, ...], tuple[int, int]],
              p: ConfigProblem) -> ConfigProblem:
    """Give a problem found by a section's own checks its place in the file. Point keys
    (``twin.point``) hold a dot, so ``quality.points.r1.T.k`` is split with care."""
    parts: list[Any] = p.path.split(".") if p.path else []
    if parts[:2] == ["quality", "points"] and len(parts) >= 4:
        parts = ["quality", "points", f"{parts[2]}.{parts[3]}", *parts[4:]]
    path = tuple(int(x) if isinstance(x, str) and x.isdigit() else x for x in parts)
    return _problem(file, locs, path, p.message)


def _check_pipeline(cfg: TwinFile, file: str | None,
                    locs: dict[tuple[Any, ...], tuple[int, int]]) -> list[ConfigProblem]:
    """The quality section, derived points and balances against the twin's points."""
    from processtwin.pipeline.derived import compile_derived
    from processtwin.runtime.runtime import build_point_table

    probs: list[ConfigProblem] = []
    bound = set(sampling_periods(cfg))
    for i, d in enumerate(cfg.derived):
        if d.key in bound:
            probs.append(_problem(file, locs, ("derived", i, "name"),
                                  f"{d.key} is already a bound point"))
    if probs:
        return probs
    try:
        table = build_point_table(cfg)
    except InvalidInputError as exc:
        return [_problem(file, locs, ("derived",), str(exc))]
    for check in (lambda: cfg.quality.resolve(table, sampling_periods(cfg)),
                  lambda: compile_derived(cfg.derived, table)):
        try:
            check()
        except ConfigError as exc:
            probs.extend(_relocate(file, locs, p) for p in exc.problems)
    for i, b in enumerate(cfg.balances):
        for sym, key in b.measured.items():
            if key not in table:
                probs.append(_problem(file, locs, ("balances", i, "measured", sym),
                                      f"unknown point {key!r}"))
    return probs


def _model_paths(cfg: TwinFile, pattern: str) -> list[Path]:
    base = Path(cfg.base_dir)
    if any(c in pattern for c in "*?["):
        return sorted(base.glob(pattern))
    return [base / pattern] if (base / pattern).exists() else []


def model_files(cfg: TwinFile) -> list[Path]:
    """The DTDL files ``cfg.models`` names (globs expanded), in order, without repeats."""
    return list(dict.fromkeys(p for pat in cfg.models for p in _model_paths(cfg, pat)))


def _ancestors(iface: Any, ifaces: Any) -> set[str]:
    out: set[str] = set()
    todo = list(iface.extends)
    while todo:
        x = todo.pop()
        if x not in out:
            out.add(x)
            if x in ifaces:
                todo.extend(ifaces[x].extends)
    return out


def _untagged(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """A pydantic error place without the source-kind tag (``sources.0.mqtt.routes``)."""
    if len(loc) > 2 and loc[0] == "sources" and loc[2] in SOURCE_KINDS:
        return (*loc[:2], *loc[3:])
    return loc


def load_config_text(text: str, *, file: str | None = None, base_dir: str = ".") -> TwinFile:
    """Parse and validate twin.yaml text; raise ConfigError listing every problem."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError([ConfigProblem(
            "", f"not valid YAML: {getattr(exc, 'problem', exc)}", file,
            mark.line + 1 if mark else None, mark.column + 1 if mark else None)]) from exc
    locs = _locations(text)
    if not isinstance(raw, dict):
        raise ConfigError([ConfigProblem("", "the file must be a mapping", file, 1, 1)])
    raw = {**raw, "base_dir": base_dir}
    try:
        cfg = TwinFile.model_validate(raw)
    except ValidationError as exc:
        probs = [_problem(file, locs, _untagged(tuple(e["loc"])), e["msg"])
                 for e in exc.errors()]
        raise ConfigError(probs) from None
    probs = _cross_check(cfg, file, locs) + _check_models(cfg, file, locs)
    if not probs:
        probs = _check_pipeline(cfg, file, locs)
    if probs:
        raise ConfigError(probs)
    return cfg


def load_config(path: str | Path) -> TwinFile:
    """Load a twin.yaml file (paths inside it are relative to its folder)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([ConfigProblem("", f"cannot read: {exc.strerror}", str(p))]) from exc
    return load_config_text(text, file=str(p), base_dir=str(p.resolve().parent))
