"""JSON payloads to columns: the pure, fuzzed part of the MQTT connector.

:class:`Router` maps a delivered topic onto a route and, where the topic names it, a point
(cached per topic). :class:`JsonDecoder` parses a payload with orjson and appends each
reading to :class:`~processtwin.connectors.mqtt.columns.Columns`, or one dead letter per
reading (or per message when the message itself is unusable) with a reason whose prefix is
its category:

========== ===========================================================================
category   when
========== ===========================================================================
invalid    not JSON, no value or readings where the format says, a non-text point name
unknown    a topic no route matches, a point no twin declares
type       a value that is not a number (text, object, array, ``null`` with good quality)
timestamp  a timestamp that is not a number or ISO 8601 text, not positive, implausible
quality    a quality value not in the format's ``quality_map``
unit       a reading whose unit differs from its point's unit
========== ===========================================================================

Nothing raises: every message yields at least one reading or one dead letter.

Example:
    >>> from processtwin.core.points import PointSpec, PointTable
    >>> from processtwin.connectors.mqtt.settings import MqttRoute, PayloadFormat
    >>> table = PointTable([PointSpec(twin="r1", name="T", unit="degC")])
    >>> router = Router([MqttRoute(topic="plant/{twin}/{point}",
    ...                            format=PayloadFormat(unit="@.u"))], table)
    >>> cols = Columns("demo")
    >>> dec, target = router.route("plant/r1/T")
    >>> dec.decode(b'{"v": 21.5, "ts": 1700000000, "u": "degC"}', target, 0.0, cols)
    1
    >>> dec.decode(b'{"v": 21.5, "u": "K"}', target, 0.0, cols)
    1
    >>> batch, dead = cols.build()
    >>> batch.value.tolist(), dead[0].reason
    ([21.5], "unit: 'K' but r1.T is in 'degC'")
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from processtwin.connectors.mqtt.columns import Columns, PointResolver
from processtwin.connectors.mqtt.paths import MISSING, JsonPath
from processtwin.connectors.mqtt.settings import MqttRoute, PayloadFormat
from processtwin.connectors.mqtt.topics import TopicTemplate
from processtwin.core.quality import Quality, Reason
from processtwin.errors import InvalidInputError

__all__ = ["MAX_TS_S", "JsonDecoder", "Router", "Target", "point_key", "units_match"]

#: Timestamps beyond this (year 5138) are taken for a wrong ``ts_unit``, not a date.
MAX_TS_S = 1e11
_SCALE = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
_CACHE_MAX = 100_000
_GOOD = int(Quality.GOOD)
_SOURCE = int(Reason.SOURCE)


def point_key(twin: str | None, name: str) -> str | None:
    """``twin.name``, or ``name`` itself when no twin is known; None when not a valid key."""
    if twin is not None:
        if not twin or not name or "." in name or "." in twin:
            return None
        return f"{twin}.{name}"
    head, dot, tail = name.partition(".")
    if not dot or not head or not tail or "." in tail:
        return None
    return name


_unit_cache: dict[tuple[str, str], bool] = {}


def units_match(got: str, expected: str) -> bool:
    """Same unit, written alike or not (``degC`` and ``degreeCelsius``); no unit: any."""
    if got == expected or not expected:
        return True
    hit = _unit_cache.get((got, expected))
    if hit is None:
        from processtwin.pipeline.units import parse_unit

        try:
            a, b = parse_unit(got), parse_unit(expected)
            hit = a.dim == b.dim and math.isclose(a.scale, b.scale, rel_tol=1e-12) and \
                math.isclose(a.offset, b.offset, rel_tol=1e-12, abs_tol=1e-12)
        except (InvalidInputError, ValueError, ZeroDivisionError, OverflowError):
            hit = False
        if len(_unit_cache) > 10_000:
            _unit_cache.clear()
        _unit_cache[(got, expected)] = hit
    return hit


@dataclass(frozen=True, slots=True)
class Target:
    """What the topic tells about the readings of a message.

    ``idx``/``unit`` are set when the topic (or route) names the point; ``key`` is the
    name dead letters carry (the point key, else the topic).
    """

    twin: str | None
    idx: int | None
    unit: str
    key: str


class JsonDecoder:
    """Decodes the JSON payloads of one route (one :class:`PayloadFormat`)."""

    def __init__(self, fmt: PayloadFormat, points: PointResolver) -> None:
        self.fmt = fmt
        self._points = points
        self._readings = fmt.path("readings")
        value = fmt.path("value")
        if value is None:
            raise InvalidInputError("payload.value is required")
        self._value: JsonPath = value
        self._ts = fmt.path("ts")
        self._quality = fmt.path("quality")
        self._unit = fmt.path("unit")
        self._point = fmt.path("point")
        self._qmap = fmt.quality_map
        self._scale = _SCALE.get(fmt.ts_unit)
        self._keys: dict[str, tuple[int, str] | None] = {}

    def lookup(self, key: str) -> tuple[int, str] | None:
        """(point id, unit) of ``twin.point``; None when no twin declares it."""
        try:
            return self._keys[key]
        except KeyError:
            pass
        idx = self._points.get(key)
        hit = None if idx is None else (idx, self._points.spec(idx).unit)
        if len(self._keys) >= _CACHE_MAX:
            self._keys.clear()
        self._keys[key] = hit
        return hit

    def clear(self, points: PointResolver | None = None) -> None:
        """Forget cached point lookups (after the point table changed or was replaced)."""
        if points is not None:
            self._points = points
        self._keys.clear()

    def decode(self, payload: bytes | bytearray, target: Target, now: float, out: Columns) -> int:
        """Append the readings of one message; returns readings plus dead letters added."""
        try:
            doc = orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            out.reject(target.key, payload, f"invalid: not JSON: {exc}", "invalid")
            return 1
        if self._readings is None:
            self._one(doc, doc, target, now, out)
            return 1
        items = self._readings.all(doc)
        if not items:
            out.reject(target.key, payload, f"invalid: no readings at {self._readings.text}",
                       "invalid")
            return 1
        for item in items:
            self._one(doc, item, target, now, out)
        return len(items)

    def _one(self, root: Any, item: Any, target: Target, now: float, out: Columns) -> None:
        idx, unit, key = target.idx, target.unit, target.key
        pp = self._point
        if pp is not None:
            name = pp.first(root if pp.from_root else item)
            if name is MISSING or name is None:
                if idx is None:
                    out.reject(key, item, f"invalid: no point name at {pp.text}", "invalid")
                    return
            elif type(name) is not str:
                out.reject(key, item, f"invalid: point name is not text: "
                           f"{type(name).__name__}", "invalid")
                return
            else:
                full = point_key(target.twin, name)
                hit = None if full is None else self.lookup(full)
                if hit is None:
                    out.reject(full or name, item, f"unknown: no point {full or name!r}",
                               "unknown")
                    return
                idx, unit = hit
                key = full or name
        if idx is None:  # the router only hands out targets without idx when pp is set
            out.reject(key, item, "unknown: no point for this topic", "unknown")
            return

        vp = self._value
        v = vp.first(root if vp.from_root else item)
        tv = type(v)
        number: float | None
        if tv is float or tv is int:
            number = float(v)
        elif tv is bool:
            number = 1.0 if v else 0.0
        elif v is None:
            number = None
        elif v is MISSING:
            out.reject(key, item, f"invalid: no value at {vp.text}", "invalid")
            return
        else:
            out.reject(key, item, f"type: not a number: {tv.__name__}", "type")
            return

        q, r = _GOOD, 0
        qp = self._quality
        if qp is not None:
            qv = qp.first(root if qp.from_root else item)
            if qv is not MISSING and qv is not None:
                level = self._qmap.get(str(qv).lower()) if type(qv) in (str, int, bool) \
                    else None
                if level is None:
                    out.reject(key, item, f"quality: unknown value {qv!r}"[:200], "quality")
                    return
                q = int(level)
                r = 0 if q == _GOOD else _SOURCE
        if number is None:
            if q == _GOOD:
                out.reject(key, item, "type: null value with good quality", "type")
                return
            number = math.nan

        tp = self._ts
        if tp is None:
            ts = now
        else:
            raw = tp.first(root if tp.from_root else item)
            if raw is MISSING or raw is None:
                if self.fmt.require_ts:
                    out.reject(key, item, f"timestamp: missing at {tp.text}", "timestamp")
                    return
                ts = now
            else:
                got = self._timestamp(raw)
                if type(got) is str:
                    out.reject(key, item, got, "timestamp")
                    return
                ts = float(got)

        up = self._unit
        if up is not None:
            uv = up.first(root if up.from_root else item)
            if uv is not MISSING and uv is not None:
                if type(uv) is not str:
                    out.reject(key, item, f"unit: not text: {type(uv).__name__}", "unit")
                    return
                if uv != unit and not units_match(uv, unit):
                    out.reject(key, item, f"unit: {uv!r} but {key} is in {unit!r}"[:300],
                               "unit")
                    return
        out.add(idx, ts, number, q, r)

    def _timestamp(self, raw: Any) -> float | str:
        """Seconds since the epoch, or the reason it is not a timestamp."""
        t = type(raw)
        if t is int or t is float:
            x = float(raw)
            scale = self._scale
            if scale is None:  # auto
                mag = abs(x)
                scale = 1e-9 if mag > 1e17 else 1e-6 if mag > 1e14 else 1e-3 if mag > 1e11 \
                    else 1.0
            ts = x * scale
        elif t is str:
            try:
                dt = datetime.fromisoformat(raw)
            except ValueError:
                return f"timestamp: not ISO 8601: {raw[:40]!r}"
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=UTC)
            try:
                ts = dt.timestamp()
            except (OverflowError, OSError, ValueError):
                return f"timestamp: out of range: {raw[:40]!r}"
        else:
            return f"timestamp: not a number or ISO 8601 text: {t.__name__}"
        if not ts > 0 or not math.isfinite(ts):
            return f"timestamp: not positive: {raw!r}"[:200]
        if ts > MAX_TS_S:
            return f"timestamp: implausible {ts:.6g} s (wrong ts_unit?)"
        return ts


class Router:
    """Maps delivered topics onto (decoder, target) through the routes.

    A route whose topic is plain (no wildcard, no placeholder) wins for that topic;
    otherwise the first template that matches, in configuration order.
    """

    def __init__(self, routes: Sequence[MqttRoute], points: PointResolver) -> None:
        self._points = points
        entries = [(r, r.template, JsonDecoder(r.format, points)) for r in routes]
        self._routes: list[tuple[MqttRoute, TopicTemplate, JsonDecoder]] = \
            [e for e in entries if not e[1].wildcard] + [e for e in entries if e[1].wildcard]
        self._cache: dict[bytes | str, tuple[JsonDecoder, Target] | str] = {}

    def clear(self, points: PointResolver | None = None) -> None:
        """Forget cached topics and points (after the point table changed or was replaced)."""
        if points is not None:
            self._points = points
        self._cache.clear()
        for _, _, dec in self._routes:
            dec.clear(points)

    def route(self, topic: bytes | str) -> tuple[JsonDecoder, Target] | str:
        """The decoder and target of ``topic``, or the reason no reading can come of it.

        ``topic`` may be the raw bytes of the PUBLISH packet (cached as they are).
        """
        hit = self._cache.get(topic)
        if hit is None:
            if isinstance(topic, bytes):
                try:
                    text = topic.decode()
                except UnicodeDecodeError:
                    return "invalid: topic is not UTF-8"
            else:
                text = topic
            hit = self._resolve(text)
            if len(self._cache) >= _CACHE_MAX:
                self._cache.clear()
            self._cache[topic] = hit
        return hit

    def _resolve(self, topic: str) -> tuple[JsonDecoder, Target] | str:
        for route, tmpl, dec in self._routes:
            m = tmpl.match(topic)
            if m is None:
                continue
            twin = m.get("twin", route.twin)
            name = m.get("point", route.point)
            if twin is not None and (not twin or "." in twin):
                return f"unknown: topic level {twin!r} is not a twin id"
            if name is None:  # the payload names the point
                return dec, Target(twin, None, "", topic)
            key = point_key(twin, name)
            if key is None:
                return f"unknown: {name!r} is not a point name" + (
                    "" if twin is not None else " (no twin in topic or route: use twin.point)")
            hit = dec.lookup(key)
            if hit is None:
                if route.format.point is not None:
                    return dec, Target(twin, None, "", key)
                return f"unknown: no point {key!r}"
            return dec, Target(twin, hit[0], hit[1], key)
        return "unknown: no route matches the topic"
