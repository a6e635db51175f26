"""Checking JSON values against DTDL schemas.

:class:`SchemaChecker` compiles each schema once into a small function, so checking a value
costs a few dictionary look-ups. A check never stops at the first problem: it appends every
``(json_pointer, code, message)`` it finds to ``out``.

Codes: ``type`` (wrong JSON kind or null), ``range`` (a number outside its type, a
coordinate outside WGS 84), ``format`` (a string that is not a date, duration, uuid...),
``enum`` (not one of the values), ``unknown-field`` (an Object member the schema lacks).

Temporal strings follow RFC 3339 / ISO 8601: ``date`` ``2024-05-01``, ``dateTime``
``2024-05-01T12:00:00Z`` (an offset is required), ``time`` ``12:00:00`` (offset optional),
``duration`` ``P1DT2H``. Geospatial schemas take GeoJSON objects (``{"type": "Point",
"coordinates": [lon, lat]}``, degrees).

    >>> from processtwin.dtdl.model import PrimitiveSchema
    >>> check = SchemaChecker().compile(PrimitiveSchema("dtmi:dtdl:instance:Schema:date;3", "date"))
    >>> out: list[Problem] = []
    >>> check("2024-02-30", "/due", out)
    >>> out
    [('/due', 'format', "expected a date (YYYY-MM-DD), got '2024-02-30'")]
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import date, datetime, time
from typing import Any

from processtwin.dtdl.model import (
    ArraySchema,
    EnumSchema,
    MapSchema,
    ObjectSchema,
    PrimitiveSchema,
    Schema,
)

__all__ = ["Check", "Problem", "SchemaChecker", "describe", "pointer"]

#: One problem: JSON Pointer, short code, message.
Problem = tuple[str, str, str]
#: A compiled check: ``check(value, path, out)`` appends problems to ``out``.
Check = Callable[[Any, str, list[Problem]], None]

_FLOAT_MAX = 3.4028234663852886e38
_INT_RANGES: dict[str, tuple[int, int, str]] = {
    "byte": (-(2**7), 2**7 - 1, "8-bit integer"),
    "short": (-(2**15), 2**15 - 1, "16-bit integer"),
    "integer": (-(2**31), 2**31 - 1, "32-bit integer"),
    "long": (-(2**63), 2**63 - 1, "64-bit integer"),
    "unsignedByte": (0, 2**8 - 1, "unsigned 8-bit integer"),
    "unsignedShort": (0, 2**16 - 1, "unsigned 16-bit integer"),
    "unsignedInteger": (0, 2**32 - 1, "unsigned 32-bit integer"),
    "unsignedLong": (0, 2**64 - 1, "unsigned 64-bit integer"),
}
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_TIME = r"(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?"
_OFFSET = r"(?:[Zz]|[+-](\d{2}):(\d{2}))"
_DATETIME = re.compile(rf"^(\d{{4}})-(\d{{2}})-(\d{{2}})[Tt]{_TIME}{_OFFSET}$")
_TIME_RE = re.compile(rf"^{_TIME}{_OFFSET}?$")
_N = r"\d+(?:[.,]\d+)?"
_DURATION = re.compile(
    rf"^-?P(?=[\dT])(?:{_N}Y)?(?:{_N}M)?(?:{_N}W)?(?:{_N}D)?(?:T(?=\d)(?:{_N}H)?(?:{_N}M)?(?:{_N}S)?)?$"
)
_UUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_BASE64 = re.compile(r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$")
_DECIMAL = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")
_GEO_TYPES = {"point": "Point", "multiPoint": "MultiPoint", "lineString": "LineString",
              "multiLineString": "MultiLineString", "polygon": "Polygon",
              "multiPolygon": "MultiPolygon"}


def pointer(path: str, key: str | int) -> str:
    """``path`` extended by one JSON Pointer segment (``~`` and ``/`` escaped).

        >>> pointer("/m", "a/b")
        '/m/a~1b'
    """
    if isinstance(key, int):
        return f"{path}/{key}"
    return f"{path}/{key.replace('~', '~0').replace('/', '~1')}"


def describe(value: Any) -> str:
    """A short description of ``value`` for messages: its JSON kind and a clipped repr."""
    kind = {bool: "boolean", int: "integer", float: "number", str: "string",
            type(None): "null"}.get(type(value))
    if kind is None:
        kind = ("object" if isinstance(value, dict) else "array"
                if isinstance(value, list | tuple) else type(value).__name__)
        return kind
    text = repr(value)
    return f"{kind} {text[:40] + '...' if len(text) > 43 else text}"


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _integer(lo: int, hi: int, label: str) -> Check:
    def check(v: Any, path: str, out: list[Problem]) -> None:
        if not isinstance(v, int) or isinstance(v, bool):
            out.append((path, "type", f"expected a {label}, got {describe(v)}"))
        elif not lo <= v <= hi:
            out.append((path, "range", f"{v} is outside the {label} range [{lo}, {hi}]"))
    return check


def _real(label: str, limit: float) -> Check:
    def check(v: Any, path: str, out: list[Problem]) -> None:
        if not _is_number(v):
            out.append((path, "type", f"expected a {label}, got {describe(v)}"))
        elif not math.isfinite(v) or abs(v) > limit:
            out.append((path, "range", f"{v} is not a finite {label}"))
    return check


def _decimal(v: Any, path: str, out: list[Problem]) -> None:
    if isinstance(v, str):
        if not _DECIMAL.match(v):
            out.append((path, "format", f"expected a decimal number, got {describe(v)}"))
    elif not _is_number(v):
        out.append((path, "type", f"expected a decimal number, got {describe(v)}"))
    elif not math.isfinite(v):
        out.append((path, "range", f"{v} is not a finite decimal"))


def _boolean(v: Any, path: str, out: list[Problem]) -> None:
    if not isinstance(v, bool):
        out.append((path, "type", f"expected a boolean, got {describe(v)}"))


def _string(v: Any, path: str, out: list[Problem]) -> None:
    if not isinstance(v, str):
        out.append((path, "type", f"expected a string, got {describe(v)}"))


def _valid_date(text: str) -> bool:
    m = _DATE.match(text)
    if m is None:
        return False
    try:
        date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return False
    return True


def _valid_clock(h: str, mi: str, s: str, oh: str | None, om: str | None) -> bool:
    try:
        time(int(h), int(mi), int(s))
    except ValueError:
        return False
    return oh is None or (int(oh) < 24 and int(om or 0) < 60)


def _valid_datetime(text: str) -> bool:
    m = _DATETIME.match(text)
    if m is None:
        return False
    try:
        datetime(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return False
    return _valid_clock(m[4], m[5], m[6], m[7], m[8])


def _valid_time(text: str) -> bool:
    m = _TIME_RE.match(text)
    return m is not None and _valid_clock(m[1], m[2], m[3], m[4], m[5])


def _formatted(label: str, valid: Callable[[str], bool]) -> Check:
    def check(v: Any, path: str, out: list[Problem]) -> None:
        if not isinstance(v, str):
            out.append((path, "type", f"expected a {label} string, got {describe(v)}"))
        elif not valid(v):
            out.append((path, "format", f"expected a {label}, got {describe(v)[7:]}"))
    return check


def _position(v: Any, path: str, out: list[Problem]) -> None:
    if not isinstance(v, list | tuple) or not 2 <= len(v) <= 3:
        out.append((path, "type", f"expected a position [lon, lat(, alt)], got {describe(v)}"))
        return
    for i, c in enumerate(v):
        if not _is_number(c) or not math.isfinite(c):
            out.append((pointer(path, i), "type", f"expected a number, got {describe(c)}"))
    lon, lat = v[0], v[1]
    if _is_number(lon) and not -180 <= lon <= 180:
        out.append((pointer(path, 0), "range", f"longitude {lon} is outside [-180, 180]"))
    if _is_number(lat) and not -90 <= lat <= 90:
        out.append((pointer(path, 1), "range", f"latitude {lat} is outside [-90, 90]"))


def _many(inner: Check, minimum: int, what: str, ring: bool = False) -> Check:
    def check(v: Any, path: str, out: list[Problem]) -> None:
        if not isinstance(v, list | tuple):
            out.append((path, "type", f"expected an array of {what}, got {describe(v)}"))
            return
        if len(v) < minimum:
            out.append((path, "range", f"expected at least {minimum} {what}, got {len(v)}"))
        for i, item in enumerate(v):
            inner(item, pointer(path, i), out)
        if ring and len(v) >= minimum and list(v[0]) != list(v[-1]):
            out.append((path, "format", "a linear ring must end where it starts"))
    return check


_LINE = _many(_position, 2, "positions")
_RING = _many(_position, 4, "positions", ring=True)
_POLYGON = _many(_RING, 1, "linear rings")
_COORDINATES: dict[str, Check] = {
    "point": _position,
    "multiPoint": _many(_position, 0, "positions"),
    "lineString": _LINE,
    "multiLineString": _many(_LINE, 0, "line strings"),
    "polygon": _POLYGON,
    "multiPolygon": _many(_POLYGON, 0, "polygons"),
}


def _geospatial(name: str) -> Check:
    geo_type = _GEO_TYPES[name]
    coordinates = _COORDINATES[name]

    def check(v: Any, path: str, out: list[Problem]) -> None:
        if not isinstance(v, dict):
            out.append((path, "type", f"expected a GeoJSON {geo_type} object, got {describe(v)}"))
            return
        if v.get("type") != geo_type:
            out.append((pointer(path, "type"), "type" if "type" in v else "missing-field",
                        f"a {name} needs \"type\": \"{geo_type}\""))
        if "coordinates" in v:
            coordinates(v["coordinates"], pointer(path, "coordinates"), out)
        else:
            out.append((pointer(path, "coordinates"), "missing-field",
                        f"a {name} needs \"coordinates\""))
        for key in v:
            if key not in ("type", "coordinates", "bbox"):
                out.append((pointer(path, key), "unknown-field", f"a {name} has no '{key}'"))
    return check


def _primitive(name: str) -> Check:
    if name in _INT_RANGES:
        return _integer(*_INT_RANGES[name])
    if name in _GEO_TYPES:
        return _geospatial(name)
    simple: dict[str, Check] = {
        "boolean": _boolean,
        "string": _string,
        "double": _real("double", math.inf),
        "float": _real("float (32-bit)", _FLOAT_MAX),
        "decimal": _decimal,
        "date": _formatted("date (YYYY-MM-DD)", _valid_date),
        "dateTime": _formatted("dateTime (RFC 3339 with offset)", _valid_datetime),
        "time": _formatted("time (hh:mm:ss)", _valid_time),
        "duration": _formatted("duration (ISO 8601, e.g. PT5M)",
                               lambda s: _DURATION.match(s) is not None),
        "uuid": _formatted("uuid", lambda s: _UUID.match(s) is not None),
        "bytes": _formatted("base64 string", lambda s: _BASE64.match(s) is not None),
    }
    found = simple.get(name)
    if found is None:
        return _unknown_schema(name)
    return found


def _unknown_schema(name: str) -> Check:
    def check(v: Any, path: str, out: list[Problem]) -> None:
        out.append((path, "schema", f"values of schema '{name}' cannot be checked"))
    return check


def _null_guard(inner: Check) -> Check:
    def check(v: Any, path: str, out: list[Problem]) -> None:
        if v is None:
            out.append((path, "type", "null is not a value; remove the property instead"))
        else:
            inner(v, path, out)
    return check


class SchemaChecker:
    """Compiles DTDL schemas into checks, each schema once (cached by its identifier).

    One instance belongs to one :class:`~processtwin.dtdl.model.ModelSet`: identifiers are
    unique within it.
    """

    def __init__(self) -> None:
        self._cache: dict[str, Check] = {}

    def compile(self, schema: Schema) -> Check:
        """The check for ``schema``."""
        key = schema.id or f"{type(schema).__name__}@{id(schema)}"
        found = self._cache.get(key)
        if found is None:
            found = _null_guard(self._build(schema))
            self._cache[key] = found
        return found

    def _build(self, schema: Schema) -> Check:
        if isinstance(schema, PrimitiveSchema):
            return _primitive(schema.name)
        if isinstance(schema, ObjectSchema):
            return self._object(schema)
        if isinstance(schema, EnumSchema):
            return _enum(schema)
        if isinstance(schema, MapSchema):
            return self._map(schema)
        return self._array(schema)

    def _object(self, schema: ObjectSchema) -> Check:
        fields = {f.name: self.compile(f.schema) for f in schema.fields}

        def check(v: Any, path: str, out: list[Problem]) -> None:
            if not isinstance(v, dict):
                out.append((path, "type", f"expected an object, got {describe(v)}"))
                return
            for key, item in v.items():
                sub = pointer(path, key)
                field_check = fields.get(key)
                if field_check is None:
                    known = ", ".join(fields) or "none"
                    out.append((sub, "unknown-field", f"no field '{key}' (fields: {known})"))
                else:
                    field_check(item, sub, out)
        return check

    def _map(self, schema: MapSchema) -> Check:
        value_check = self.compile(schema.value.schema)

        def check(v: Any, path: str, out: list[Problem]) -> None:
            if not isinstance(v, dict):
                out.append((path, "type", f"expected a map (object), got {describe(v)}"))
                return
            for key, item in v.items():
                if not isinstance(key, str) or not key:
                    out.append((path, "type", f"map keys must be non-empty strings: {key!r}"))
                    continue
                value_check(item, pointer(path, key), out)
        return check

    def _array(self, schema: ArraySchema) -> Check:
        element = self.compile(schema.element_schema)

        def check(v: Any, path: str, out: list[Problem]) -> None:
            if not isinstance(v, list | tuple):
                out.append((path, "type", f"expected an array, got {describe(v)}"))
                return
            for i, item in enumerate(v):
                element(item, pointer(path, i), out)
        return check


def _enum(schema: EnumSchema) -> Check:
    allowed = {ev.value: ev.name for ev in schema.values}
    integer = schema.value_schema == "integer"
    listing = ", ".join(repr(a) for a in list(allowed)[:10]) + (", ..." if len(allowed) > 10
                                                                else "")

    def check(v: Any, path: str, out: list[Problem]) -> None:
        ok_type = (isinstance(v, int) and not isinstance(v, bool)) if integer else (
            isinstance(v, str))
        if not ok_type:
            kind = "integer" if integer else "string"
            out.append((path, "type", f"expected an enum {kind}, got {describe(v)}"))
        elif v not in allowed:
            hint = next((f" (the value of '{n}' is {a!r})" for a, n in allowed.items()
                         if n == v), "")
            out.append((path, "enum", f"{v!r} is not one of {listing}{hint}"))
    return check
