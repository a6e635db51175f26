"""The host's view of edge nodes and devices: births, aliases, sequence, deaths (pure).

:meth:`Registry.handle` takes one message (topic, raw payload) and appends readings and dead
letters to :class:`~processtwin.connectors.mqtt.columns.Columns`; what needs I/O comes back
as :class:`Effects` (rebirth requests to publish, births to report). Nothing raises.

Rules (Sparkplug 3.0 host application behaviour):

* **Births are authoritative.** NBIRTH replaces the node (its devices must be born again);
  DBIRTH replaces the device's metric set. Each named metric gets its point
  ``twin.point`` (:meth:`SparkplugSettings.twin_id`, :func:`point_name`); aliases map to
  them. A birth is reported (``Effects.births``) and its values are emitted by
  :meth:`Registry.bind` once the caller has created the points.
* **seq**: NBIRTH sets it; every later DBIRTH, NDATA, DDATA and DDEATH of that node must
  carry the next value (0–255, wrapping). A gap is a dead letter of category ``sequence``
  and a rebirth request; the message's values are still used (they are real readings, and
  their aliases come from the last birth).
* **Data before birth** (unknown or dead node or device, unknown alias): a dead letter per
  metric (category ``unknown``) and a rebirth request.
* **Deaths**: NDEATH whose ``bdSeq`` matches the birth's (an older session's will is
  ignored, as a ``sequence`` dead letter) and DDEATH mark every point of that node (and its
  devices) or device bad with reasons ``stale`` and ``comm``.
* Rebirth requests go out at most once per ``rebirth_interval_s`` per node.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from processtwin.connectors.mqtt.columns import Columns, PointResolver
from processtwin.connectors.sparkplug.payload import (
    BD_SEQ,
    NUMERIC,
    REBIRTH_METRIC,
    DataType,
    Payload,
    decode_payload,
    encode_payload,
    metric,
    metric_number,
    properties,
    value_field,
)
from processtwin.connectors.sparkplug.settings import SparkplugSettings, point_name
from processtwin.connectors.sparkplug.topics import SpbTopic, node_key, parse_topic, topic_for
from processtwin.core.quality import Quality, Reason
from processtwin.errors import ConnectorError, InvalidInputError

__all__ = ["BirthMetric", "Effects", "Registry", "rebirth_request"]

_GOOD = int(Quality.GOOD)
_DEAD_REASON = int(Reason.STALE | Reason.COMM)
_INT_LIMITS = {DataType.Int8: (-2**7, 2**7 - 1), DataType.Int16: (-2**15, 2**15 - 1),
               DataType.Int32: (-2**31, 2**31 - 1), DataType.Int64: (-2**63, 2**63 - 1),
               DataType.UInt8: (0, 2**8 - 1), DataType.UInt16: (0, 2**16 - 1),
               DataType.UInt32: (0, 2**32 - 1), DataType.UInt64: (0, 2**64 - 1)}


@dataclass(frozen=True, slots=True)
class BirthMetric:
    """One metric as a birth declares it: what a twin point needs to be created.

    ``numeric`` metrics can become points; the others are reported for completeness (their
    data is dead-lettered as ``type``). ``lo``/``hi`` are the ``engLow``/``engHigh``
    properties, ``unit`` the ``engUnit`` property ("" when absent).
    """

    name: str
    alias: int | None
    datatype: str
    unit: str
    twin: str
    point: str
    numeric: bool
    lo: float | None = None
    hi: float | None = None
    value: float | None = None

    @property
    def key(self) -> str:
        return f"{self.twin}.{self.point}"


@dataclass(slots=True)
class Effects:
    """What one message asks of the host: rebirth requests and births to report."""

    rebirth: list[tuple[str, str]] = field(default_factory=list)
    births: list[tuple[str, tuple[BirthMetric, ...]]] = field(default_factory=list)

    def clear(self) -> None:
        self.rebirth.clear()
        self.births.clear()


@dataclass(slots=True)
class _Metric:
    name: str
    alias: int | None
    dt: int
    field: str | None
    point: str
    key: str
    numeric: bool
    idx: int | None = None


@dataclass(slots=True)
class _Device:
    key: str
    twin: str
    device: str | None
    online: bool = True
    by_alias: dict[int, _Metric] = field(default_factory=dict)
    by_name: dict[str, _Metric] = field(default_factory=dict)
    by_point: dict[str, _Metric] = field(default_factory=dict)
    pending: list[tuple[_Metric, float, float | None, int, int]] = field(default_factory=list)

    def points(self) -> list[int]:
        return [m.idx for m in self.by_name.values() if m.idx is not None]


@dataclass(slots=True)
class _Node:
    group: str
    edge: str
    seq: int
    bd_seq: int | None
    node: _Device
    online: bool = True
    devices: dict[str, _Device] = field(default_factory=dict)


def _quality(value: Any) -> tuple[int, int]:
    """A ``Quality`` metric property (OPC DA style: 192 good, 500 stale) as ours."""
    if value == 192:
        return _GOOD, 0
    if isinstance(value, int) and 64 <= value < 192:
        return int(Quality.UNCERTAIN), int(Reason.SOURCE)
    if value == 500:
        return int(Quality.BAD), int(Reason.SOURCE | Reason.STALE)
    return int(Quality.BAD), int(Reason.SOURCE)


def _ms(ts: int) -> float:
    return ts / 1000.0


def rebirth_request(group: str, edge: str, now_ms: int) -> tuple[str, bytes]:
    """The NCMD that asks an edge node to publish its births again."""
    return topic_for("NCMD", group, edge), encode_payload(
        [metric(REBIRTH_METRIC, True, DataType.Boolean, timestamp_ms=now_ms)], seq=None,
        timestamp_ms=now_ms)


class Registry:
    """Edge nodes and devices as their births declared them, and the rules above."""

    def __init__(self, settings: SparkplugSettings, points: PointResolver) -> None:
        self.settings = settings
        self._points = points
        self.nodes: dict[str, _Node] = {}
        self._by_twin: dict[str, tuple[_Node, _Device]] = {}
        self._last_rebirth: dict[str, float] = {}
        self.seq_gaps = 0
        self.rebirths = 0
        self._groups = frozenset(settings.groups)

    # ------------------------------------------------------------------ dispatch
    def handle(self, topic: str, raw: bytes, now: float, out: Columns, fx: Effects) -> None:
        t = parse_topic(topic)
        if isinstance(t, str):
            out.reject(topic, raw, t, t.partition(":")[0])
            return
        if t.kind in ("STATE", "NCMD", "DCMD"):
            return  # host states and commands are not data
        if self._groups and t.group not in self._groups:
            return
        try:
            p = decode_payload(raw)
        except InvalidInputError as exc:
            out.reject(t.key, raw, str(exc), "invalid")
            return
        handler: Callable[[SpbTopic, Payload, float, Columns, Effects], None] = getattr(
            self, f"_on_{t.kind.lower()}")
        handler(t, p, now, out, fx)

    def _rebirth(self, group: str, edge: str, now: float, fx: Effects) -> None:
        key = node_key(group, edge, None)
        last = self._last_rebirth.get(key)
        if last is not None and now - last < self.settings.rebirth_interval_s:
            return
        self._last_rebirth[key] = now
        self.rebirths += 1
        fx.rebirth.append((group, edge))

    def _seq_ok(self, node: _Node, t: SpbTopic, p: Payload, now: float, out: Columns,
                fx: Effects) -> None:
        if not p.HasField("seq") or p.seq > 255:
            out.reject(t.key, f"seq={p.seq if p.HasField('seq') else None}",
                       f"sequence: {t.kind} without a seq in 0..255; rebirth requested",
                       "sequence")
            self._rebirth(node.group, node.edge, now, fx)
            return
        expected = (node.seq + 1) % 256
        if p.seq != expected:
            self.seq_gaps += 1
            lost = (p.seq - expected) % 256
            out.reject(t.key, f"seq={p.seq}", f"sequence: expected seq {expected}, got "
                       f"{p.seq} ({lost} message(s) lost or out of order); rebirth requested",
                       "sequence")
            self._rebirth(node.group, node.edge, now, fx)
        node.seq = p.seq

    def _live_node(self, t: SpbTopic, p: Payload, now: float, out: Columns,
                   fx: Effects) -> _Node | None:
        node = self.nodes.get(node_key(t.group, t.edge, None))
        if node is None or not node.online:
            what = "never born" if node is None else "dead"
            why = (f"unknown: {t.kind} from edge node {t.group}/{t.edge}, which is {what}; "
                   "rebirth requested")
            names = [m.name or f"alias {m.alias}" for m in p.metrics] or [""]
            for name in names:
                out.reject(t.key + (f":{name}" if name else ""), t.kind, why, "unknown")
            self._rebirth(t.group, t.edge, now, fx)
            return None
        return node

    # ------------------------------------------------------------------ births
    def _on_nbirth(self, t: SpbTopic, p: Payload, now: float, out: Columns,
                   fx: Effects) -> None:
        if not p.HasField("seq") or p.seq > 255:
            out.reject(t.key, "NBIRTH", "invalid: NBIRTH without a seq in 0..255; rebirth "
                       "requested", "invalid")
            self._rebirth(t.group, t.edge, now, fx)
            return
        bd = next((m.long_value for m in p.metrics if m.name == BD_SEQ), None)
        old = self.nodes.get(t.key)
        if old is not None:
            for d in (old.node, *old.devices.values()):
                self._by_twin.pop(d.twin, None)
        dev = self._device(t, None, p, now, out)
        node = _Node(t.group, t.edge, p.seq, bd, dev)
        self.nodes[t.key] = node
        self._by_twin[dev.twin] = (node, dev)
        self._last_rebirth.pop(t.key, None)
        fx.births.append((dev.key, self._birth_metrics(dev, p)))

    def _on_dbirth(self, t: SpbTopic, p: Payload, now: float, out: Columns,
                   fx: Effects) -> None:
        node = self._live_node(t, p, now, out, fx)
        if node is None or t.device is None:
            return
        self._seq_ok(node, t, p, now, out, fx)
        old = node.devices.get(t.device)
        if old is not None:
            self._by_twin.pop(old.twin, None)
        dev = self._device(t, t.device, p, now, out)
        node.devices[t.device] = dev
        self._by_twin[dev.twin] = (node, dev)
        fx.births.append((dev.key, self._birth_metrics(dev, p)))

    def _device(self, t: SpbTopic, device: str | None, p: Payload, now: float,
                out: Columns) -> _Device:
        twin = self.settings.twin_id(t.group, t.edge, device)
        dev = _Device(node_key(t.group, t.edge, device), twin, device)
        base_ts = _ms(p.timestamp) if p.HasField("timestamp") else now
        for m in p.metrics:
            name: object = m.name  # upb hands proto2 text that is not UTF-8 over as bytes
            if not isinstance(name, str):
                out.reject(dev.key, name, "invalid: metric name is not UTF-8 text", "invalid")
                continue
            if name == BD_SEQ or name.startswith("Node Control/"):
                continue
            if not name or not m.HasField("datatype"):
                out.reject(dev.key, name if name else f"alias {m.alias}",
                           "invalid: birth metric without name or datatype", "invalid")
                continue
            alias = m.alias if m.HasField("alias") else None
            point = point_name(name)
            if name in dev.by_name or point in dev.by_point or (
                    alias is not None and alias in dev.by_alias):
                out.reject(f"{dev.key}:{name}", alias, "invalid: metric name, point name "
                           "or alias twice in one birth (the first one is kept)", "invalid")
                continue
            rec = _Metric(name, alias, m.datatype, value_field(m.datatype), point,
                          f"{twin}.{point}", m.datatype in NUMERIC)
            dev.by_name[name] = rec
            dev.by_point[point] = rec
            if alias is not None:
                dev.by_alias[alias] = rec
            if rec.numeric:
                ts = _ms(m.timestamp) if m.HasField("timestamp") else base_ts
                v = metric_number(m, m.datatype)
                if isinstance(v, str):
                    out.reject(rec.key, name, v, v.partition(":")[0])
                    continue
                q, r = _GOOD, 0
                if m.HasField("properties"):
                    qp = properties(m).get("Quality")
                    if qp is not None:
                        q, r = _quality(qp)
                if v is None and q == _GOOD:
                    q, r = int(Quality.BAD), int(Reason.SOURCE)
                dev.pending.append((rec, ts, v, q, r))
        return dev

    def _birth_metrics(self, dev: _Device, p: Payload) -> tuple[BirthMetric, ...]:
        out = []
        for m in p.metrics:
            rec = dev.by_name.get(m.name)
            if rec is None or rec.dt != m.datatype:
                continue
            props = properties(m)
            unit = props.get("engUnit")
            lo, hi = props.get("engLow"), props.get("engHigh")
            v = metric_number(m, m.datatype) if rec.numeric else None
            out.append(BirthMetric(
                name=rec.name, alias=rec.alias, datatype=_dt_name(rec.dt),
                unit=unit if isinstance(unit, str) else "", twin=dev.twin, point=rec.point,
                numeric=rec.numeric,
                lo=float(lo) if isinstance(lo, int | float) and not isinstance(lo, bool)
                else None,
                hi=float(hi) if isinstance(hi, int | float) and not isinstance(hi, bool)
                else None,
                value=v if isinstance(v, float) else None))
        return tuple(out)

    def bind(self, device_key: str, out: Columns) -> int:
        """Resolve a born device's points and emit its birth values; returns points bound.

        Call after the birth was reported (and the points were created). Also call it (via
        :meth:`rebind_all`) after the point table changed.
        """
        dev = self._find(device_key)
        if dev is None:
            return 0
        n = 0
        for rec in dev.by_name.values():
            rec.idx = self._points.get(rec.key) if rec.numeric else None
            n += rec.idx is not None
        for rec, ts, v, q, r in dev.pending:
            if rec.idx is None:
                out.reject(rec.key, v, f"unknown: no point {rec.key!r} for metric "
                           f"{rec.name!r}", "unknown")
            else:
                out.add(rec.idx, ts, float("nan") if v is None else v, q, r)
        dev.pending.clear()
        return n

    def rebind_all(self, points: PointResolver | None = None) -> None:
        """Re-resolve every metric's point (after the point table changed or was replaced)."""
        if points is not None:
            self._points = points
        for node in self.nodes.values():
            for dev in (node.node, *node.devices.values()):
                for rec in dev.by_name.values():
                    rec.idx = self._points.get(rec.key) if rec.numeric else None

    def _find(self, device_key: str) -> _Device | None:
        parts = device_key.split("/")
        node = self.nodes.get("/".join(parts[:2]))
        if node is None:
            return None
        return node.node if len(parts) == 2 else node.devices.get(parts[2])

    # ------------------------------------------------------------------ data
    def _on_ndata(self, t: SpbTopic, p: Payload, now: float, out: Columns,
                  fx: Effects) -> None:
        node = self._live_node(t, p, now, out, fx)
        if node is None:
            return
        self._seq_ok(node, t, p, now, out, fx)
        self._values(node, node.node, t, p, now, out, fx)

    def _on_ddata(self, t: SpbTopic, p: Payload, now: float, out: Columns,
                  fx: Effects) -> None:
        node = self._live_node(t, p, now, out, fx)
        if node is None or t.device is None:
            return
        self._seq_ok(node, t, p, now, out, fx)
        dev = node.devices.get(t.device)
        if dev is None or not dev.online:
            what = "never born" if dev is None else "dead"
            out.reject(t.key, "DDATA", f"unknown: DDATA from device {t.key}, which is "
                       f"{what}; rebirth requested", "unknown")
            self._rebirth(t.group, t.edge, now, fx)
            return
        self._values(node, dev, t, p, now, out, fx)

    def _values(self, node: _Node, dev: _Device, t: SpbTopic, p: Payload, now: float,
                out: Columns, fx: Effects) -> None:
        base_ts = _ms(p.timestamp) if p.HasField("timestamp") else now
        by_alias, by_name = dev.by_alias, dev.by_name
        for m in p.metrics:
            rec = by_alias.get(m.alias) if m.HasField("alias") else by_name.get(m.name)
            if rec is None:
                if m.HasField("alias") and m.name:
                    rec = by_name.get(m.name)
                if rec is None:
                    out.reject(f"{dev.key}:{m.name or f'alias {m.alias}'}", "DATA",
                               "unknown: metric not in the birth; rebirth requested",
                               "unknown")
                    self._rebirth(node.group, node.edge, now, fx)
                    continue
            if rec.idx is None:
                if rec.numeric:
                    out.reject(rec.key, rec.name, f"unknown: no point {rec.key!r}", "unknown")
                else:
                    out.reject(rec.key, rec.name, f"type: not a number: "
                               f"{_dt_name(rec.dt)}", "type")
                continue
            which = m.WhichOneof("value")
            v: float | str | None
            if which == "double_value" and rec.field == which and not m.is_null:
                v = m.double_value
            else:
                v = metric_number(m, rec.dt)
            if isinstance(v, str):
                out.reject(rec.key, rec.name, v, v.partition(":")[0])
                continue
            q, r = _GOOD, 0
            if m.HasField("properties"):
                qp = properties(m).get("Quality")
                if qp is not None:
                    q, r = _quality(qp)
            if v is None:
                if q == _GOOD:
                    q, r = int(Quality.BAD), int(Reason.SOURCE)
                v = float("nan")
            out.add(rec.idx, _ms(m.timestamp) if m.HasField("timestamp") else base_ts,
                    v, q, r)

    # ------------------------------------------------------------------ deaths
    def _on_ndeath(self, t: SpbTopic, p: Payload, now: float, out: Columns,
                   fx: Effects) -> None:
        node = self.nodes.get(t.key)
        if node is None:
            out.reject(t.key, "NDEATH", "unknown: NDEATH of an edge node never born",
                       "unknown")
            return
        bd = next((m.long_value for m in p.metrics if m.name == BD_SEQ), None)
        if node.bd_seq is not None and bd != node.bd_seq:
            out.reject(t.key, f"bdSeq={bd}", f"sequence: NDEATH bdSeq {bd} does not match "
                       f"the birth's {node.bd_seq} (an older session's will): ignored",
                       "sequence")
            return
        if not node.online:
            return
        node.online = False
        for dev in (node.node, *node.devices.values()):
            dev.online = False
            self._mark_dead(dev, now, out)

    def _on_ddeath(self, t: SpbTopic, p: Payload, now: float, out: Columns,
                   fx: Effects) -> None:
        node = self._live_node(t, p, now, out, fx)
        if node is None or t.device is None:
            return
        self._seq_ok(node, t, p, now, out, fx)
        dev = node.devices.get(t.device)
        if dev is None:
            out.reject(t.key, "DDEATH", "unknown: DDEATH of a device never born", "unknown")
            return
        if dev.online:
            dev.online = False
            self._mark_dead(dev, _ms(p.timestamp) if p.HasField("timestamp") else now, out)

    @staticmethod
    def _mark_dead(dev: _Device, ts: float, out: Columns) -> None:
        bad = int(Quality.BAD)
        for idx in dev.points():
            out.add(idx, ts, float("nan"), bad, _DEAD_REASON)

    def all_points(self) -> list[int]:
        return [i for n in self.nodes.values() for d in (n.node, *n.devices.values())
                for i in d.points()]

    # ------------------------------------------------------------------ commands
    def command(self, twin: str, name: str, value: float, now_ms: int) -> tuple[str, bytes]:
        """The NCMD/DCMD (topic, payload) that writes ``value`` to a born metric."""
        hit = self._by_twin.get(twin)
        rec = None if hit is None else hit[1].by_point.get(name)
        if hit is None or rec is None:
            raise InvalidInputError(f"no Sparkplug metric for {twin}.{name} in any birth")
        node, dev = hit
        if not node.online or not dev.online:
            raise ConnectorError(f"{dev.key} is offline: cannot command {rec.name!r}")
        try:
            dt = DataType(rec.dt)
        except ValueError:
            dt = DataType.Unknown
        if dt in _INT_LIMITS:
            lo, hi = _INT_LIMITS[dt]
            if value != int(value) or not lo <= value <= hi:
                raise InvalidInputError(f"{twin}.{name}: {value} is not a {dt.name}")
        elif dt is DataType.Boolean:
            if value not in (0.0, 1.0):
                raise InvalidInputError(f"{twin}.{name}: {value} is not a Boolean (0 or 1)")
        elif dt not in (DataType.Float, DataType.Double):
            raise InvalidInputError(f"{twin}.{name}: a {dt.name} metric takes no number")
        m = metric(rec.name, value if dt in (DataType.Float, DataType.Double) else int(value),
                   dt, alias=rec.alias, timestamp_ms=now_ms)
        kind = "NCMD" if dev.device is None else "DCMD"
        return (topic_for(kind, node.group, node.edge, dev.device),
                encode_payload([m], seq=None, timestamp_ms=now_ms))


def _dt_name(dt: int) -> str:
    try:
        return DataType(dt).name
    except ValueError:
        return f"Unknown({dt})"
