"""Sparkplug B payloads: decode safely, read metric values by datatype, encode messages.

The protobuf classes are generated from :file:`sparkplug_b.proto` (written from the Eclipse
Sparkplug 3.0.0 specification, chapter 6) into :mod:`.sparkplug_b_pb2`. Signed integer
types travel as two's complement in the unsigned ``int_value`` (8/16/32 bit) and
``long_value`` (64 bit) fields; :func:`metric_number` masks them to their width and restores
the sign, so both zero- and sign-extended senders decode alike. Timestamps are milliseconds
since the Unix epoch (UTC).

Example:
    >>> raw = encode_payload([metric("T", 21.5, DataType.Double, alias=1)], seq=3,
    ...                      timestamp_ms=1_700_000_000_000)
    >>> p = decode_payload(raw)
    >>> p.seq, metric_number(p.metrics[0], DataType.Double)
    (3, 21.5)
    >>> metric_number(metric("x", -5, DataType.Int16), DataType.Int16)
    -5.0
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum
from typing import Any

from google.protobuf.message import DecodeError

from processtwin.connectors.sparkplug.sparkplug_b_pb2 import Payload
from processtwin.errors import InvalidInputError

__all__ = [
    "NUMERIC",
    "REBIRTH_METRIC",
    "DataType",
    "Payload",
    "decode_payload",
    "encode_data",
    "encode_payload",
    "metric",
    "metric_number",
    "properties",
    "value_field",
]

REBIRTH_METRIC = "Node Control/Rebirth"
BD_SEQ = "bdSeq"


class DataType(IntEnum):
    """Sparkplug B metric datatypes (specification 6.4.16)."""

    Unknown = 0
    Int8 = 1
    Int16 = 2
    Int32 = 3
    Int64 = 4
    UInt8 = 5
    UInt16 = 6
    UInt32 = 7
    UInt64 = 8
    Float = 9
    Double = 10
    Boolean = 11
    String = 12
    DateTime = 13
    Text = 14
    UUID = 15
    DataSet = 16
    Bytes = 17
    File = 18
    Template = 19
    PropertySet = 20
    PropertySetList = 21
    Int8Array = 22
    Int16Array = 23
    Int32Array = 24
    Int64Array = 25
    UInt8Array = 26
    UInt16Array = 27
    UInt32Array = 28
    UInt64Array = 29
    FloatArray = 30
    DoubleArray = 31
    BooleanArray = 32
    StringArray = 33
    DateTimeArray = 34


#: Datatypes whose values are numbers a point can hold.
NUMERIC = frozenset({DataType.Int8, DataType.Int16, DataType.Int32, DataType.Int64,
                     DataType.UInt8, DataType.UInt16, DataType.UInt32, DataType.UInt64,
                     DataType.Float, DataType.Double, DataType.Boolean})

_INT = frozenset({DataType.Int8, DataType.Int16, DataType.Int32, DataType.UInt8,
                  DataType.UInt16, DataType.UInt32})
_LONG = frozenset({DataType.Int64, DataType.UInt64, DataType.DateTime})
_STRING = frozenset({DataType.String, DataType.Text, DataType.UUID})
_BYTES = frozenset({DataType.Bytes, DataType.File}) | frozenset(
    t for t in DataType if t.name.endswith("Array"))
_WIDTH = {DataType.Int8: 8, DataType.Int16: 16, DataType.Int32: 32, DataType.Int64: 64,
          DataType.UInt8: 8, DataType.UInt16: 16, DataType.UInt32: 32, DataType.UInt64: 64}
_SIGNED = frozenset({DataType.Int8, DataType.Int16, DataType.Int32, DataType.Int64})


def value_field(dt: int) -> str | None:
    """The ``Metric.value`` oneof field a datatype travels in (None: unknown datatype)."""
    try:
        t = DataType(dt)
    except ValueError:
        return None
    if t in _INT:
        return "int_value"
    if t in _LONG:
        return "long_value"
    if t is DataType.Float:
        return "float_value"
    if t is DataType.Double:
        return "double_value"
    if t is DataType.Boolean:
        return "boolean_value"
    if t in _STRING:
        return "string_value"
    if t in _BYTES:
        return "bytes_value"
    if t is DataType.DataSet:
        return "dataset_value"
    if t is DataType.Template:
        return "template_value"
    return None


def decode_payload(raw: bytes) -> Payload:
    """Parse a Sparkplug B payload; raises InvalidInputError saying why it is not one."""
    try:
        return Payload.FromString(raw)
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise InvalidInputError(f"invalid: not a Sparkplug B payload: {exc}") from None


def metric_number(m: Payload.Metric, dt: int) -> float | str | None:
    """The metric's value as a float; None when it is null; else why it is no number.

    ``dt`` is the datatype the birth declared (data messages may omit it).
    """
    if m.is_null:
        return None
    try:
        t = DataType(dt)
    except ValueError:
        return f"type: unknown datatype {dt}"
    if t not in NUMERIC:
        return f"type: not a number: {t.name}"
    which = m.WhichOneof("value")
    if which is None:
        return f"invalid: {t.name} metric without a value"
    if which == "int_value" or which == "long_value":
        raw = m.int_value if which == "int_value" else m.long_value
        if t is DataType.Boolean:
            return float(raw != 0)
        width = _WIDTH.get(t)
        if width is None:
            return f"type: {which} does not hold a {t.name}"
        raw &= (1 << width) - 1
        if t in _SIGNED and raw >> (width - 1):
            raw -= 1 << width
        return float(raw)
    if which == "double_value":
        return float(m.double_value)
    if which == "float_value":
        return float(m.float_value)
    if which == "boolean_value":
        return 1.0 if m.boolean_value else 0.0
    return f"type: {t.name} metric carries {which}"


def properties(m: Payload.Metric) -> dict[str, Any]:
    """The metric's property set as a plain dict of scalars (nested sets are skipped)."""
    out: dict[str, Any] = {}
    if not m.HasField("properties"):
        return out
    ps = m.properties
    for key, pv in zip(ps.keys, ps.values, strict=False):
        if pv.is_null:
            out[key] = None
            continue
        which = pv.WhichOneof("value")
        if which in ("int_value", "long_value", "float_value", "double_value",
                     "boolean_value", "string_value"):
            out[key] = getattr(pv, which)
    return out


def metric(name: str | None, value: Any, datatype: DataType, *, alias: int | None = None,
           timestamp_ms: int | None = None, unit: str | None = None,
           is_null: bool = False) -> Payload.Metric:
    """Build one metric (``value`` in the field its datatype travels in)."""
    m = Payload.Metric()
    if name is not None:
        m.name = name
    if alias is not None:
        m.alias = alias
    if timestamp_ms is not None:
        m.timestamp = timestamp_ms
    m.datatype = int(datatype)
    if unit is not None:
        m.properties.keys.append("engUnit")
        pv = m.properties.values.add()
        pv.type = int(DataType.String)
        pv.string_value = unit
    if is_null or value is None:
        m.is_null = True
        return m
    field = value_field(datatype)
    if field == "int_value":
        m.int_value = int(value) & 0xFFFFFFFF
    elif field == "long_value":
        m.long_value = int(value) & 0xFFFFFFFFFFFFFFFF
    elif field == "float_value":
        m.float_value = float(value)
    elif field == "double_value":
        m.double_value = float(value)
    elif field == "boolean_value":
        m.boolean_value = bool(value)
    elif field == "string_value":
        m.string_value = str(value)
    elif field == "bytes_value":
        m.bytes_value = bytes(value)
    else:
        raise InvalidInputError(f"cannot encode a {datatype.name} value")
    return m


def encode_payload(metrics: Sequence[Payload.Metric], *, seq: int | None,
                   timestamp_ms: int) -> bytes:
    """Serialise a payload (``seq`` None for NDEATH, NCMD, DCMD)."""
    p = Payload(timestamp=timestamp_ms)
    if seq is not None:
        p.seq = seq
    p.metrics.extend(metrics)
    return p.SerializeToString()


def encode_data(values: Sequence[tuple[int, float]], *, seq: int, timestamp_ms: int) -> bytes:
    """A data payload of Double metrics by alias (fast path for simulators and benchmarks)."""
    p = Payload(timestamp=timestamp_ms, seq=seq)
    for alias, v in values:
        m = p.metrics.add()
        m.alias = alias
        m.timestamp = timestamp_ms
        m.datatype = DataType.Double
        m.double_value = v
    return p.SerializeToString()
