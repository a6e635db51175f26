"""MQTT payload decoding without a broker: paths, topic templates, settings, decoder, fuzz."""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from processtwin.connectors.mqtt import (
    MISSING,
    BrokerSettings,
    Columns,
    MqttCommand,
    MqttRoute,
    MqttSettings,
    PayloadFormat,
    Router,
    TlsSettings,
    TopicTemplate,
    compile_path,
    shared_filter,
)
from processtwin.core import PointSpec, PointTable, Quality, Reason
from processtwin.errors import InvalidInputError

CATEGORIES = {"invalid", "unknown", "type", "timestamp", "quality", "unit"}
TABLE = PointTable([PointSpec(twin=f"r{i}", name=n, unit=u) for i in range(3)
                    for n, u in (("T", "degC"), ("F", "m3/h"), ("free", ""))])
TS = 1_700_000_000.0


def decode(route: MqttRoute, topic: str | bytes, *payloads: bytes, now: float = 5.0,
           table: PointTable = TABLE) -> Columns:
    router = Router([route], table)
    cols = Columns("test")
    for p in payloads:
        hit = router.route(topic)
        if isinstance(hit, str):
            cols.reject(str(topic), p, hit, hit.partition(":")[0])
            continue
        dec, target = hit
        dec.decode(p, target, now, cols)
    return cols


SINGLE = MqttRoute(topic="p/{twin}/{point}", format=PayloadFormat(
    value="$.v", ts="$.ts", quality="$.q", unit="$.u"))


# ---------------------------------------------------------------------- paths and topics
def test_paths_select_like_jsonpath() -> None:
    doc = {"a": {"b": [10, {"c": 3}]}, "r": [{"v": 1}, {"v": 2}], "k.x": 7}
    assert compile_path("$.a.b[0]").first(doc) == 10
    assert compile_path("$.a.b[-1].c").first(doc) == 3
    assert compile_path("$['k.x']").first(doc) == 7
    assert compile_path('$["a"]["b"][1]["c"]').first(doc) == 3
    assert compile_path("$").first(5) == 5
    assert compile_path("$.r[*].v").all(doc) == [1, 2]
    assert compile_path("$.a.*").all(doc) == [[10, {"c": 3}]]
    assert compile_path("$.a.b[5]").first(doc) is MISSING
    assert compile_path("$.a.b.c").first(doc) is MISSING
    assert compile_path("$.x").first([1]) is MISSING
    assert compile_path("$.r[*]").multi and not compile_path("$.r[0]").multi


@pytest.mark.parametrize("bad", ["", "v", "$.", "$..a", "$[x]", "$.a[", "$ .a", "$.*x"])
def test_bad_paths_say_where(bad: str) -> None:
    with pytest.raises(InvalidInputError, match="JSON path"):
        compile_path(bad)


def test_topic_templates() -> None:
    t = TopicTemplate.parse("site/+/{twin}/#")
    assert t.filter == "site/+/+/#"
    assert t.match("site/a/r1/x/y") == {"twin": "r1"}
    assert t.match("site/a/r1") == {"twin": "r1"}  # '#' matches the parent level too
    assert t.match("other/a/r1/x") is None
    assert TopicTemplate.parse("{twin}/{point}").match("$SYS/broker") is None
    assert TopicTemplate.parse("plain/topic").match("plain/topic") == {}
    assert shared_filter("a/+", "g1") == "$share/g1/a/+"
    for bad in ("a/{nope}", "a/x{twin}", "a/#/b", "a/b+", "$share/g/a", "{twin}/{twin}"):
        with pytest.raises(InvalidInputError):
            TopicTemplate.parse(bad)


def test_settings_validate_once_with_clear_messages() -> None:
    with pytest.raises(InvalidInputError, match="no point"):
        MqttRoute(topic="a/{twin}")
    with pytest.raises(InvalidInputError, match="twin both"):
        MqttRoute(topic="a/{twin}/{point}", twin="r1")
    with pytest.raises(InvalidInputError, match=r"'twin\.point'"):
        MqttRoute(topic="a/b", point="T")  # no twin anywhere: needs the full key
    assert MqttRoute(topic="a/b", point="r1.T").point == "r1.T"
    with pytest.raises(InvalidInputError, match="no wildcard"):
        PayloadFormat(value="$.r[*]")
    with pytest.raises(InvalidInputError, match="qos"):
        MqttRoute(topic="a/{twin}/{point}", qos=3)
    with pytest.raises(InvalidInputError, match="port"):
        BrokerSettings(port=0)
    with pytest.raises(InvalidInputError, match="session_expiry_s needs"):
        BrokerSettings(protocol="3.1.1", session_expiry_s=10)
    with pytest.raises(InvalidInputError, match="key_file"):
        TlsSettings(key_file="k.pem")
    with pytest.raises(InvalidInputError, match="plain topic"):
        MqttCommand(twin="r1", input="F", topic="cmd/+")
    with pytest.raises(InvalidInputError, match="same filter"):
        MqttSettings(name="x", routes=(MqttRoute(topic="a/{twin}/{point}"),
                                       MqttRoute(topic="a/+/{point}", twin="r1")))
    with pytest.raises(InvalidInputError, match="shared subscription group"):
        MqttSettings(name="x", shared_group="a/b", routes=(SINGLE,))
    assert "password" not in repr(BrokerSettings(username="u", password="secret"))


# ---------------------------------------------------------------------- decoder
def test_single_readings_map_topic_to_point_with_quality_and_unit() -> None:
    cols = decode(SINGLE, "p/r1/T",
                  b'{"v": 21.5, "ts": 1700000000.5, "q": "good", "u": "degC"}',
                  b'{"v": 3, "ts": 1700000001, "q": 1}',
                  b'{"v": null, "ts": 1700000002, "q": "bad"}',
                  b'{"v": true}')
    batch, dead = cols.build()
    assert dead == []
    idx = TABLE.index("r1.T")
    assert batch.point.tolist() == [idx] * 4
    assert batch.ts.tolist() == [TS + 0.5, TS + 1, TS + 2, 5.0]  # no ts: arrival time
    assert batch.value.tolist()[:2] == [21.5, 3.0] and math.isnan(batch.value[2])
    assert batch.value[3] == 1.0
    assert batch.quality.tolist() == [Quality.GOOD, Quality.UNCERTAIN, Quality.BAD,
                                      Quality.GOOD]
    assert batch.reason.tolist() == [0, Reason.SOURCE, Reason.SOURCE, 0]


def test_arrays_of_readings_with_root_timestamp_and_point_names() -> None:
    route = MqttRoute(topic="b/{twin}", format=PayloadFormat(
        readings="$.r[*]", point="@.p", value="@.v", ts="$.t", ts_unit="ms"))
    cols = decode(route, "b/r2", json.dumps({"t": 1_700_000_000_000, "r": [
        {"p": "T", "v": 1.0}, {"p": "F", "v": 2.0}, {"p": "nope", "v": 3.0},
        {"p": 5, "v": 4.0}, {"v": 5.0}]}).encode())
    batch, dead = cols.build()
    assert batch.point.tolist() == [TABLE.index("r2.T"), TABLE.index("r2.F")]
    assert batch.ts.tolist() == [TS, TS]
    assert [d.reason for d in dead] == [
        "unknown: no point 'r2.nope'", "invalid: point name is not text: int",
        "invalid: no point name at @.p"]
    assert [d.category for d in dead] == ["unknown", "invalid", "invalid"]


def test_top_level_array_and_full_keys_without_twin() -> None:
    route = MqttRoute(topic="all", format=PayloadFormat(readings="$[*]", point="@.k"))
    cols = decode(route, "all", b'[{"k": "r0.F", "v": 1}, {"k": "F", "v": 2}]')
    batch, dead = cols.build()
    assert batch.point.tolist() == [TABLE.index("r0.F")]
    assert "no point 'F'" in dead[0].reason


@pytest.mark.parametrize(("ts", "unit", "expected"), [
    (1_700_000_000, "s", TS), (1_700_000_000_000, "ms", TS), (1_700_000_000_000_000, "us", TS),
    (1_700_000_000_000_000_000, "ns", TS), (1_700_000_000_000, "auto", TS),
    (1_700_000_000, "auto", TS), ("2023-11-14T22:13:20Z", "s", TS),
    ("2023-11-14T23:13:20+01:00", "s", TS), ("2023-11-14T22:13:20", "s", TS),
])
def test_timestamps(ts: Any, unit: Any, expected: float) -> None:
    route = MqttRoute(topic="t/{twin}/{point}", format=PayloadFormat(ts_unit=unit))
    batch, dead = decode(route, "t/r0/T", json.dumps({"v": 1, "ts": ts}).encode()).build()
    assert dead == []
    assert batch.ts[0] == pytest.approx(expected)


@pytest.mark.parametrize(("ts", "why"), [
    ("yesterday", "not ISO 8601"), (-5, "not positive"), (0, "not positive"),
    (1_700_000_000_000, "implausible"), ([1], "not a number or ISO 8601 text: list"),
    (True, "not a number or ISO 8601 text: bool"),
])
def test_bad_timestamps_are_dead_letters(ts: Any, why: str) -> None:
    route = MqttRoute(topic="t/{twin}/{point}")
    batch, dead = decode(route, "t/r0/T", json.dumps({"v": 1, "ts": ts}).encode()).build()
    assert len(batch) == 0 and dead[0].category == "timestamp" and why in dead[0].reason


def test_required_timestamp() -> None:
    route = MqttRoute(topic="t/{twin}/{point}", format=PayloadFormat(require_ts=True))
    _batch, dead = decode(route, "t/r0/T", b'{"v": 1}').build()
    assert dead[0].reason == "timestamp: missing at @.ts"


@pytest.mark.parametrize(("payload", "category", "why"), [
    (b"{not json", "invalid", "invalid: not JSON"),
    (b"", "invalid", "invalid: not JSON"),
    (b'{"v": "12.5"}', "type", "type: not a number: str"),
    (b'{"v": {"x": 1}}', "type", "type: not a number: dict"),
    (b'{"v": [1]}', "type", "type: not a number: list"),
    (b'{"v": null}', "type", "type: null value with good quality"),
    (b'{"w": 1}', "invalid", "invalid: no value at $.v"),
    (b"[1, 2]", "invalid", "invalid: no value at $.v"),
    (b'{"v": 1, "q": "meh"}', "quality", "quality: unknown value 'meh'"),
    (b'{"v": 1, "q": 1.5}', "quality", "quality: unknown value 1.5"),
    (b'{"v": 1, "u": "K"}', "unit", "unit: 'K' but r1.T is in 'degC'"),
    (b'{"v": 1, "u": 7}', "unit", "unit: not text: int"),
])
def test_bad_payloads_are_dead_letters_with_reasons(payload: bytes, category: str,
                                                     why: str) -> None:
    batch, dead = decode(SINGLE, "p/r1/T", payload).build()
    assert len(batch) == 0
    assert len(dead) == 1 and dead[0].category == category and dead[0].reason.startswith(why)
    assert dead[0].key == "r1.T" and dead[0].source == "test"


def test_units_compare_by_meaning_and_points_without_unit_take_any() -> None:
    ok = decode(SINGLE, "p/r1/T", b'{"v": 1, "u": "degreeCelsius"}',
                b'{"v": 2, "u": "degC"}').build()
    assert len(ok[0]) == 2 and ok[1] == []
    assert len(decode(SINGLE, "p/r1/free", b'{"v": 1, "u": "bar"}').build()[0]) == 1
    _batch, dead = decode(SINGLE, "p/r1/F", b'{"v": 1, "u": "l/h"}').build()
    assert dead[0].category == "unit"


def test_unknown_topics_and_points() -> None:
    router = Router([SINGLE], TABLE)
    assert router.route("p/r9/T") == "unknown: no point 'r9.T'"
    assert router.route("q/r1/T") == "unknown: no route matches the topic"
    assert router.route(b"p/r1/\xff") == "invalid: topic is not UTF-8"
    assert router.route("p/r.1/T") == "unknown: topic level 'r.1' is not a twin id"
    hit = router.route(b"p/r1/T")
    assert not isinstance(hit, str) and hit[1].idx == TABLE.index("r1.T")


def test_no_readings_is_a_dead_letter() -> None:
    route = MqttRoute(topic="b/{twin}", format=PayloadFormat(readings="$.r[*]", point="@.p"))
    _batch, dead = decode(route, "b/r0", b'{"r": []}', b'{"x": 1}').build()
    assert [d.reason for d in dead] == ["invalid: no readings at $.r[*]"] * 2


def test_iso_timestamps_without_zone_are_utc() -> None:
    dt = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    route = MqttRoute(topic="t/{twin}/{point}")
    batch, _ = decode(route, "t/r0/T", json.dumps({"v": 1, "ts": "2024-01-02T03:04:05"})
                      .encode()).build()
    assert batch.ts[0] == dt.timestamp()


# ---------------------------------------------------------------------- fuzz
# Hypothesis draws a seed and a shape; a seeded generator makes the payloads of one example
# (drawing every byte through Hypothesis costs ~3 ms an example). Failures print the seed.
# Cases: 4500 examples (2000 + 1000 of up to 12 payloads each, 1500 structured documents).
_KEYS = ["v", "ts", "q", "u", "p", "r", "x", ""]
_LEAVES: list[Any] = [None, True, False, 0, -1, 2**63, 2**70, 1e308, -0.0, 3.5, "", "good",
                      "bad", "uncertain", "degC", "K", "T", "F", "r1.T", "2024-01-02T03:04:05Z",
                      "\u00e9\u20ac", 1_700_000_000_000, 1e20]


def _rand_json(rng: random.Random, depth: int = 0) -> Any:
    k = rng.random()
    if depth > 3 or k < 0.45:
        return rng.choice(_LEAVES) if rng.random() < 0.7 else rng.uniform(-1e9, 1e9)
    if k < 0.7:
        return [_rand_json(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {rng.choice(_KEYS): _rand_json(rng, depth + 1) for _ in range(rng.randint(0, 5))}


def _garbage(rng: random.Random, valid: bytes) -> bytes:
    kind = rng.randint(0, 4)
    if kind == 0:
        return rng.randbytes(rng.randint(0, 60))
    if kind == 1:
        return json.dumps(_rand_json(rng)).encode()
    if kind == 2:
        return json.dumps({"v": _rand_json(rng), "ts": _rand_json(rng), "q": _rand_json(rng),
                           "u": _rand_json(rng)}).encode()
    buf = bytearray(valid)
    if kind == 3:
        for _ in range(rng.randint(1, 4)):
            buf[rng.randrange(len(buf))] = rng.randrange(256)
        return bytes(buf)
    return bytes(buf[: rng.randrange(len(buf))])


def _valid_single(v: float, k: int) -> bytes:
    return json.dumps({"v": v, "ts": TS + k, "q": "good", "u": "degC"}).encode()


def _check(dead: list[Any]) -> None:
    for d in dead:
        assert d.reason and d.category in CATEGORIES, d
        assert d.reason.startswith(d.category + ":"), d
        assert len(d.value) <= 200


@settings(max_examples=2000, deadline=None)
@given(st.integers(0, 2**32), st.lists(st.booleans(), min_size=1, max_size=12))
def test_fuzz_single_reading_payloads(seed: int, shape: list[bool]) -> None:
    rng = random.Random(seed)
    dec, target = Router([SINGLE], TABLE).route("p/r1/T")  # type: ignore[misc]
    cols = Columns("fuzz")
    expected = []
    for k, valid in enumerate(shape):
        before = cols.pending()
        v = rng.uniform(-1e9, 1e9)
        if valid:
            dec.decode(_valid_single(v, k), target, 1.0, cols)
            expected.append((TS + k, v))
        else:
            dec.decode(_garbage(rng, _valid_single(v, k)), target, 1.0, cols)
        assert cols.pending() == before + 1  # one reading or one dead letter per message
    batch, dead = cols.build()
    _check(dead)
    got = Counter(zip(batch.ts.tolist(), batch.value.tolist(), strict=True))
    assert not Counter(expected) - got  # every valid reading is there


@settings(max_examples=1000, deadline=None)
@given(st.integers(0, 2**32), st.lists(st.integers(0, 5), min_size=1, max_size=8))
def test_fuzz_reading_arrays(seed: int, shape: list[int]) -> None:
    rng = random.Random(seed)
    route = MqttRoute(topic="b/{twin}", format=PayloadFormat(
        readings="$.r[*]", point="@.p", value="@.v", ts="@.ts", quality="@.q", unit="@.u"))
    dec, target = Router([route], TABLE).route("b/r0")  # type: ignore[misc]
    cols = Columns("fuzz")
    expected = []
    for k, n in enumerate(shape):
        before = cols.pending()
        items = [{"p": "F", "v": rng.uniform(-1e6, 1e6), "ts": TS + k + i / 10, "u": "m3/h"}
                 for i in range(n)]
        valid = json.dumps({"r": items}).encode()
        if n and rng.random() < 0.5:
            dec.decode(valid, target, 1.0, cols)
            expected += [(it["ts"], it["v"]) for it in items]
            assert cols.pending() == before + n
            continue
        if rng.random() < 0.5:  # valid readings mixed with junk ones in one message
            mixed: list[Any] = [*items, *(_rand_json(rng) for _ in range(rng.randint(1, 3)))]
            rng.shuffle(mixed)
            payload = json.dumps({"r": mixed}).encode()
            expected += [(it["ts"], it["v"]) for it in items]
        else:
            payload = _garbage(rng, valid)
        added = dec.decode(payload, target, 1.0, cols)
        assert added >= 1 and cols.pending() == before + added
    batch, dead = cols.build()
    _check(dead)
    got = Counter(zip(batch.ts.tolist(), batch.value.tolist(), strict=True))
    assert not Counter(expected) - got


_keys = st.sampled_from(_KEYS)
_leaf = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(
    allow_nan=False, allow_infinity=False) | st.text(max_size=6) | st.sampled_from(_LEAVES)
_json = st.recursive(_leaf, lambda ch: st.lists(ch, max_size=3)
                     | st.dictionaries(_keys, ch, max_size=4), max_leaves=8)


@settings(max_examples=1500, deadline=None)
@given(st.binary(max_size=30), _json)
def test_fuzz_structured_documents_and_topics(topic: bytes, doc: Any) -> None:
    router = Router([SINGLE, MqttRoute(topic="x/#", point="r0.T", format=PayloadFormat(
        readings="$.r[*]", quality="@.q", unit="@.u"))], TABLE)
    cols = Columns("fuzz")
    for t in (topic, b"p/r1/T", b"x/y"):
        hit = router.route(t)
        if isinstance(hit, str):
            assert hit.partition(":")[0] in CATEGORIES
            continue
        dec, target = hit
        payload = json.dumps(doc).encode()
        assert dec.decode(payload, target, 1.0, cols) >= 1
        assert dec.decode(json.dumps({"r": doc}).encode(), target, 1.0, cols) >= 1
    _check(cols.build()[1])


# ---------------------------------------------------------------------- API and subscriptions
@pytest.mark.parametrize("name", ["processtwin.connectors.mqtt",
                                  "processtwin.connectors.sparkplug"])
def test_public_api(name: str) -> None:
    from tests.test_public_api import test_all_matches_exports

    test_all_matches_exports(name)


def test_overlapping_routes_subscribe_once_and_plain_topics_win() -> None:
    s = MqttSettings(name="x", shared_group="g", routes=(
        MqttRoute(topic="p/r0/T", point="F", twin="r0", qos=2),
        MqttRoute(topic="p/{twin}/{point}", qos=0),
        MqttRoute(topic="q/#", point="r1.T", qos=1),
        MqttRoute(topic="q/a/{point}", twin="r2", qos=0)))
    assert s.subscriptions() == [("$share/g/p/+/+", 2), ("$share/g/q/#", 1)]
    router = Router(s.routes, TABLE)
    hit = router.route("p/r0/T")  # the plain topic's route, not the template's
    assert not isinstance(hit, str) and hit[1].idx == TABLE.index("r0.F")
    hit = router.route("q/a/F")  # templates in configuration order: q/# comes first
    assert not isinstance(hit, str) and hit[1].idx == TABLE.index("r1.T")


def test_replacing_the_point_table_clears_cached_lookups() -> None:
    router = Router([SINGLE], PointTable([]))
    assert router.route("p/r1/T") == "unknown: no point 'r1.T'"
    router.clear(TABLE)
    hit = router.route("p/r1/T")
    assert not isinstance(hit, str) and hit[1].idx == TABLE.index("r1.T")
