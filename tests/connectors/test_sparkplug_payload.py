"""Sparkplug B payloads and the host's registry without a broker, plus decoder fuzz."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from processtwin.connectors.mqtt import Columns
from processtwin.connectors.sparkplug import (
    DataType,
    Effects,
    Registry,
    SparkplugSettings,
    decode_payload,
    encode_data,
    encode_payload,
    metric,
    metric_number,
    parse_topic,
)
from processtwin.connectors.sparkplug import sparkplug_b_pb2 as pb
from processtwin.connectors.sparkplug.payload import Payload
from processtwin.core import PointSpec, PointTable, Quality, Reason
from processtwin.errors import ConnectorError, InvalidInputError

CATEGORIES = {"invalid", "unknown", "type", "sequence"}
T0 = 1_700_000_000_000
TABLE = PointTable([
    PointSpec(twin="g-e1", name="Uptime"),
    PointSpec(twin="g-e1-d1", name="T", unit="degC"),
    PointSpec(twin="g-e1-d1", name="P", unit="bar"),
    PointSpec(twin="g-e1-d1", name="Count"),
    PointSpec(twin="g-e1-d1", name="Folder/On"),
])
IDX = {s.key: i for i, s in enumerate(TABLE)}


def test_datatypes_match_the_generated_schema() -> None:
    assert dict(pb.DataType.items()) == {t.name: t.value for t in DataType}


@pytest.mark.parametrize(("dt", "value"), [
    (DataType.Int8, -128), (DataType.Int8, 127), (DataType.Int16, -3), (DataType.Int32, -2**31),
    (DataType.Int64, -2**63), (DataType.Int64, 2**63 - 1), (DataType.UInt8, 255),
    (DataType.UInt32, 2**32 - 1), (DataType.UInt64, 2**64 - 1), (DataType.Float, 1.5),
    (DataType.Double, -2.25), (DataType.Boolean, True), (DataType.Boolean, False),
])
def test_numbers_round_trip_by_datatype(dt: DataType, value: float) -> None:
    raw = encode_payload([metric("m", value, dt)], seq=0, timestamp_ms=T0)
    assert metric_number(decode_payload(raw).metrics[0], dt) == float(value)


def test_signed_ints_decode_alike_zero_or_sign_extended() -> None:
    m = Payload.Metric(int_value=0xFB)  # -5 as 8 bits, zero-extended
    assert metric_number(m, DataType.Int8) == -5.0
    m = Payload.Metric(int_value=0xFFFFFFFB)  # -5 sign-extended to 32 bits
    assert metric_number(m, DataType.Int8) == -5.0
    assert metric_number(Payload.Metric(int_value=1), DataType.Boolean) == 1.0


def test_non_numbers_and_nulls() -> None:
    assert metric_number(metric("s", "x", DataType.String), DataType.String) == \
        "type: not a number: String"
    assert metric_number(metric("n", None, DataType.Double), DataType.Double) is None
    assert metric_number(Payload.Metric(), DataType.Double) == \
        "invalid: Double metric without a value"
    assert metric_number(Payload.Metric(string_value="1"), DataType.Double) == \
        "type: Double metric carries string_value"
    assert metric_number(Payload.Metric(double_value=1), 99) == "type: unknown datatype 99"
    with pytest.raises(InvalidInputError, match="not a Sparkplug B payload"):
        decode_payload(b"\xff\xff\xff")


def test_topics() -> None:
    t = parse_topic("spBv1.0/g/DBIRTH/e1/d1")
    assert not isinstance(t, str) and (t.kind, t.key) == ("DBIRTH", "g/e1/d1")
    assert parse_topic("spBv1.0/STATE/host") == parse_topic("spBv1.0/STATE/host")
    assert parse_topic("spBv1.0/g/DDATA/e1") == "invalid: DDATA topic without a device level"
    assert parse_topic("spBv1.0/g/XDATA/e1") == "invalid: unknown message type 'XDATA'"
    assert parse_topic("spAv1.0/g/NDATA/e1") == "unknown: not in the spBv1.0 namespace"
    assert parse_topic("spBv1.0//NDATA/e1") == "invalid: not spBv1.0/group/type/edge[/device]"


# ---------------------------------------------------------------------- registry
class Host:
    """A registry driven like the host drives it (births bound at once)."""

    def __init__(self, table: PointTable = TABLE, **kw: object) -> None:
        self.reg = Registry(SparkplugSettings(name="t", host_id="h", **kw), table)  # type: ignore[arg-type]
        self.cols = Columns("t")
        self.fx = Effects()
        self.rebirths: list[tuple[str, str]] = []
        self.births: list[tuple[str, tuple[object, ...]]] = []

    def send(self, topic: str, raw: bytes, now: float = 1.0) -> None:
        self.reg.handle(topic, raw, now, self.cols, self.fx)
        self.rebirths += self.fx.rebirth
        for key, ms in self.fx.births:
            self.births.append((key, ms))
            self.reg.bind(key, self.cols)
        self.fx.clear()


def nbirth(seq: int = 0, bd: int = 7) -> bytes:
    return encode_payload([
        metric("bdSeq", bd, DataType.Int64), metric("Node Control/Rebirth", False,
                                                     DataType.Boolean),
        metric("Uptime", 5, DataType.Int64, alias=1)], seq=seq, timestamp_ms=T0)


def dbirth(seq: int) -> bytes:
    t = metric("T", 20.5, DataType.Double, alias=10, unit="degC")
    t.properties.keys.extend(["engLow", "engHigh"])
    for v in (-20.0, 200.0):
        pv = t.properties.values.add()
        pv.type = DataType.Double
        pv.double_value = v
    return encode_payload([t, metric("P", 1.0, DataType.Float, alias=11, unit="bar"),
                           metric("Count", -2, DataType.Int16, alias=12),
                           metric("Folder/On", True, DataType.Boolean, alias=13),
                           metric("Mode", "auto", DataType.String, alias=14)],
                          seq=seq, timestamp_ms=T0)


def born(**kw: object) -> Host:
    h = Host(**kw)
    h.send("spBv1.0/g/NBIRTH/e1", nbirth())
    h.send("spBv1.0/g/DBIRTH/e1/d1", dbirth(1))
    return h


def test_births_report_typed_metrics_and_emit_their_values() -> None:
    h = born()
    assert [k for k, _ in h.births] == ["g/e1", "g/e1/d1"]
    metrics = {m.name: m for m in h.births[1][1]}  # type: ignore[attr-defined]
    t = metrics["T"]
    assert (t.datatype, t.unit, t.alias, t.key, t.lo, t.hi, t.value) == (
        "Double", "degC", 10, "g-e1-d1.T", -20.0, 200.0, 20.5)
    assert metrics["Mode"].numeric is False and metrics["Mode"].datatype == "String"
    assert metrics["Folder/On"].point == "Folder/On"
    node_metrics = [m.name for m in h.births[0][1]]  # type: ignore[attr-defined]
    assert node_metrics == ["Uptime"]  # bdSeq and Node Control are protocol, not points
    batch, dead = h.cols.build()
    assert dead == []
    assert dict(zip(batch.point.tolist(), batch.value.tolist(), strict=True)) == {
        IDX["g-e1.Uptime"]: 5.0, IDX["g-e1-d1.T"]: 20.5, IDX["g-e1-d1.P"]: 1.0,
        IDX["g-e1-d1.Count"]: -2.0, IDX["g-e1-d1.Folder/On"]: 1.0}
    assert set(batch.ts.tolist()) == {T0 / 1000}


def test_data_by_alias_and_name_with_seq_wrap() -> None:
    h = born()
    h.reg.nodes["g/e1"].seq = 254
    h.send("spBv1.0/g/DDATA/e1/d1", encode_data([(10, 21.0), (11, 2.0)], seq=255,
                                                 timestamp_ms=T0 + 1000))
    h.send("spBv1.0/g/DDATA/e1/d1", encode_payload(
        [metric("T", 22.0, DataType.Double), metric(None, 9, DataType.Int16, alias=12),
         metric(None, None, DataType.Double, alias=10)], seq=0, timestamp_ms=T0 + 2000))
    h.send("spBv1.0/g/NDATA/e1", encode_payload([metric(None, 6, DataType.Int64, alias=1)],
                                                seq=1, timestamp_ms=T0 + 3000))
    batch, dead = h.cols.build()
    assert dead == [] and h.rebirths == []
    assert batch.point.tolist()[-6:] == [IDX["g-e1-d1.T"], IDX["g-e1-d1.P"], IDX["g-e1-d1.T"],
                                          IDX["g-e1-d1.Count"], IDX["g-e1-d1.T"],
                                          IDX["g-e1.Uptime"]]
    assert batch.value.tolist()[-6:-2] == [21.0, 2.0, 22.0, 9.0]
    assert math.isnan(batch.value[-2]) and batch.quality[-2] == Quality.BAD
    assert batch.ts.tolist()[-1] == (T0 + 3000) / 1000


def test_seq_gap_is_a_dead_letter_and_a_rebirth_request_values_still_count() -> None:
    h = born()
    h.send("spBv1.0/g/DDATA/e1/d1", encode_data([(10, 30.0)], seq=5, timestamp_ms=T0))
    h.send("spBv1.0/g/DDATA/e1/d1", encode_data([(10, 31.0)], seq=9, timestamp_ms=T0))
    batch, dead = h.cols.build()
    assert [d.category for d in dead] == ["sequence", "sequence"]
    assert dead[0].reason.startswith("sequence: expected seq 2, got 5 (3 message(s) lost")
    assert h.rebirths == [("g", "e1")]  # once: the second is within rebirth_interval_s
    assert batch.value.tolist()[-2:] == [30.0, 31.0]
    assert h.reg.seq_gaps == 2


def test_data_before_birth_and_unknown_aliases_ask_for_rebirth() -> None:
    h = Host(rebirth_interval_s=0)
    h.send("spBv1.0/g/DDATA/e1/d1", encode_data([(10, 1.0), (11, 2.0)], seq=3,
                                                 timestamp_ms=T0))
    h.send("spBv1.0/g/NBIRTH/e1", nbirth())
    h.send("spBv1.0/g/DDATA/e1/d1", encode_data([(10, 1.0)], seq=1, timestamp_ms=T0))
    h.send("spBv1.0/g/NDATA/e1", encode_data([(99, 1.0)], seq=2, timestamp_ms=T0))
    _, dead = h.cols.build()
    assert [d.category for d in dead] == ["unknown"] * 4
    assert "which is never born; rebirth requested" in dead[0].reason
    assert "device g/e1/d1, which is never born" in dead[2].reason
    assert dead[3].reason == "unknown: metric not in the birth; rebirth requested"
    assert h.rebirths == [("g", "e1")] * 3


def test_ndeath_with_matching_bdseq_marks_node_and_devices_bad() -> None:
    h = born()
    h.cols.build()
    h.send("spBv1.0/g/NDEATH/e1", encode_payload([metric("bdSeq", 6, DataType.Int64)],
                                                 seq=None, timestamp_ms=T0), now=50.0)
    _, dead = h.cols.build()
    assert dead[0].category == "sequence" and "an older session's will" in dead[0].reason
    h.send("spBv1.0/g/NDEATH/e1", encode_payload([metric("bdSeq", 7, DataType.Int64)],
                                                 seq=None, timestamp_ms=T0), now=60.0)
    batch, dead = h.cols.build()
    assert dead == []
    assert sorted(batch.point.tolist()) == sorted(IDX.values())
    assert (batch.quality == Quality.BAD).all() and set(batch.ts.tolist()) == {60.0}
    assert set(batch.reason.tolist()) == {Reason.STALE | Reason.COMM}
    assert all(math.isnan(v) for v in batch.value)
    h.send("spBv1.0/g/DDATA/e1/d1", encode_data([(10, 1.0)], seq=2, timestamp_ms=T0))
    assert "which is dead" in h.cols.build()[1][0].reason


def test_ddeath_marks_only_the_device_bad() -> None:
    h = born()
    h.cols.build()
    h.send("spBv1.0/g/DDEATH/e1/d1", encode_payload([], seq=2, timestamp_ms=T0 + 5))
    batch, dead = h.cols.build()
    assert dead == [] and IDX["g-e1.Uptime"] not in batch.point.tolist()
    assert len(batch) == 4 and (batch.quality == Quality.BAD).all()


def test_commands_follow_the_birth() -> None:
    h = born()
    topic, raw = h.reg.command("g-e1-d1", "Count", 7.0, T0)
    assert topic == "spBv1.0/g/DCMD/e1/d1"
    m = decode_payload(raw).metrics[0]
    assert (m.name, m.alias, m.datatype, metric_number(m, m.datatype)) == (
        "Count", 12, DataType.Int16, 7.0)
    topic, raw = h.reg.command("g-e1", "Uptime", 1.0, T0)
    assert topic == "spBv1.0/g/NCMD/e1"
    with pytest.raises(InvalidInputError, match="not a Int16"):
        h.reg.command("g-e1-d1", "Count", 1.5, T0)
    with pytest.raises(InvalidInputError, match="not a Int16"):
        h.reg.command("g-e1-d1", "Count", 40_000, T0)
    with pytest.raises(InvalidInputError, match="not a Boolean"):
        h.reg.command("g-e1-d1", "Folder/On", 2, T0)
    with pytest.raises(InvalidInputError, match="takes no number"):
        h.reg.command("g-e1-d1", "Mode", 1, T0)
    with pytest.raises(InvalidInputError, match="no Sparkplug metric"):
        h.reg.command("g-e1-d1", "Nope", 1, T0)
    h.send("spBv1.0/g/DDEATH/e1/d1", encode_payload([], seq=2, timestamp_ms=T0))
    with pytest.raises(ConnectorError, match="offline"):
        h.reg.command("g-e1-d1", "T", 1.0, T0)


def test_births_without_points_dead_letter_their_values() -> None:
    h = Host(table=PointTable([]))
    h.send("spBv1.0/g/NBIRTH/e1", nbirth())
    _, dead = h.cols.build()
    assert [d.reason for d in dead] == ["unknown: no point 'g-e1.Uptime' for metric 'Uptime'"]


# ---------------------------------------------------------------------- fuzz
# As for JSON: Hypothesis draws seeds and shapes, a seeded generator makes the messages.
# Cases: 5500 examples (3000 + 2500) of up to 10 messages each.
_KINDS = ["NBIRTH", "DBIRTH", "NDATA", "DDATA", "NDEATH", "DDEATH", "NCMD", "STATE", "XX"]


def _rand_metric(rng: random.Random) -> Payload.Metric:
    m = Payload.Metric()
    if rng.random() < 0.6:
        m.name = rng.choice(["T", "P", "Count", "Mode", "bdSeq", "", "Folder/On", "x.y",
                             "Node Control/Rebirth"])
    if rng.random() < 0.6:
        m.alias = rng.choice([1, 10, 11, 12, 13, 14, 99, 2**64 - 1])
    if rng.random() < 0.7:
        m.datatype = rng.randrange(0, 40)
    if rng.random() < 0.5:
        m.timestamp = rng.choice([0, T0, 2**64 - 1, rng.randrange(2**63)])
    if rng.random() < 0.1:
        m.is_null = True
    field = rng.choice(["int_value", "long_value", "float_value", "double_value",
                        "boolean_value", "string_value", "bytes_value", None])
    if field == "int_value":
        m.int_value = rng.randrange(2**32)
    elif field == "long_value":
        m.long_value = rng.randrange(2**64)
    elif field in ("float_value", "double_value"):
        setattr(m, field, rng.choice([0.0, -1.5, 1e300, math.inf, -math.inf, math.nan]))
    elif field == "boolean_value":
        m.boolean_value = rng.random() < 0.5
    elif field == "string_value":
        m.string_value = "é" * rng.randrange(3)
    elif field == "bytes_value":
        m.bytes_value = rng.randbytes(rng.randrange(5))
    if rng.random() < 0.2:
        m.properties.keys.append(rng.choice(["Quality", "engUnit", "engLow"]))
        pv = m.properties.values.add()
        if rng.random() < 0.5:
            pv.int_value = rng.choice([0, 64, 192, 500])
        else:
            pv.string_value = "x"
    return m


def _junk(rng: random.Random, valid: bytes) -> tuple[str, bytes]:
    kind = rng.randint(0, 3)
    if kind == 0:
        raw = rng.randbytes(rng.randrange(40))
    elif kind == 1:
        p = Payload()
        if rng.random() < 0.8:
            p.seq = rng.choice([0, 1, 2, 255, 256, 2**64 - 1, rng.randrange(256)])
        if rng.random() < 0.5:
            p.timestamp = rng.choice([0, T0, 2**64 - 1])
        p.metrics.extend(_rand_metric(rng) for _ in range(rng.randrange(5)))
        raw = p.SerializeToString()
    else:
        buf = bytearray(valid)
        for _ in range(rng.randint(1, 4)):
            buf[rng.randrange(len(buf))] = rng.randrange(256)
        raw = bytes(buf) if kind == 2 else bytes(buf[: rng.randrange(len(buf))])
    where = rng.random()
    if where < 0.5:  # data at the live node and device: must not disturb valid values
        topic = rng.choice(["spBv1.0/g/DDATA/e1/d1", "spBv1.0/g/NDATA/e1"])
    elif where < 0.9:  # anything at other nodes
        kind_s = rng.choice(_KINDS)
        dev = "/d1" if kind_s.startswith("D") else ""
        topic = f"spBv1.0/g/{kind_s}/e{rng.randint(2, 3)}{dev}"
    else:
        topic = rng.choice(["spBv1.0/g/DDATA", "x/y", "spBv1.0/STATE/h", "spBv1.0///"])
    return topic, raw


def _check(dead: list[object]) -> None:
    for d in dead:
        cat, reason = d.category, d.reason  # type: ignore[attr-defined]
        assert cat in CATEGORIES and reason.startswith(cat + ":"), d


@settings(max_examples=3000, deadline=None)
@given(st.integers(0, 2**32), st.lists(st.booleans(), min_size=1, max_size=10))
def test_fuzz_host_with_valid_traffic_interleaved(seed: int, shape: list[bool]) -> None:
    rng = random.Random(seed)
    h = born(rebirth_interval_s=0)
    h.cols.build()
    expected = []
    for k, valid in enumerate(shape):
        v = rng.uniform(-1e6, 1e6)
        good = encode_data([(10, v)], seq=0, timestamp_ms=T0 + k)
        if valid:
            h.send("spBv1.0/g/DDATA/e1/d1", encode_data(
                [(10, v)], seq=(h.reg.nodes["g/e1"].seq + 1) % 256, timestamp_ms=T0 + k))
            expected.append(((T0 + k) / 1000, v))
        else:
            h.send(*_junk(rng, good))
    batch, dead = h.cols.build()
    _check(dead)
    t = batch.take(batch.point == IDX["g-e1-d1.T"])
    got = Counter(zip(t.ts.tolist(), t.value.tolist(), strict=True))
    assert not Counter(expected) - got  # every valid reading stored


@settings(max_examples=2500, deadline=None)
@given(st.integers(0, 2**32), st.integers(1, 10))
def test_fuzz_any_message_anywhere_never_raises(seed: int, n: int) -> None:
    rng = random.Random(seed)
    h = born(rebirth_interval_s=0)
    for _ in range(n):
        topic, raw = _junk(rng, dbirth(2))
        if rng.random() < 0.5:
            kind = rng.choice(_KINDS)
            topic = f"spBv1.0/g/{kind}/e1" + ("/d1" if kind.startswith("D") else "")
        h.send(topic, raw)
    _check(h.cols.build()[1])
    assert all(isinstance(g, str) and isinstance(e, str) for g, e in h.rebirths)


def test_rebinding_after_the_point_table_grew() -> None:
    h = Host(table=PointTable([]))
    h.send("spBv1.0/g/NBIRTH/e1", nbirth())
    h.send("spBv1.0/g/DBIRTH/e1/d1", dbirth(1))
    h.cols.build()
    h.send("spBv1.0/g/DDATA/e1/d1", encode_data([(10, 1.0)], seq=2, timestamp_ms=T0))
    assert h.cols.build()[1][0].reason == "unknown: no point 'g-e1-d1.T'"
    h.reg.rebind_all(TABLE)
    h.send("spBv1.0/g/DDATA/e1/d1", encode_data([(10, 2.0)], seq=3, timestamp_ms=T0))
    batch, dead = h.cols.build()
    assert dead == [] and batch.point.tolist() == [IDX["g-e1-d1.T"]]
    assert sorted(h.reg.all_points()) == sorted(IDX.values())
