"""CUSUM drift detection: per-value reference, split invariance, alarms, pairing."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from processtwin.core import Batch, PointSpec, PointTable, Quality
from processtwin.errors import InvalidInputError
from processtwin.pipeline.drift import Cusum, DriftMonitor, DriftPairConfig


def reference(z: list[float], k: float, h: float) -> tuple[list[tuple[int, int, float]],
                                                            float, float]:
    """Per-value tabular CUSUM: rising edges (index, direction, bias) and final sums."""
    up = lo = 0.0
    nu = nl = 0
    events = []
    for i, x in enumerate(z):
        was_up, was_lo = up > h, lo > h
        up = max(0.0, up + x - k)
        lo = max(0.0, lo - x - k)
        nu = nu + 1 if up > 0 else 0
        nl = nl + 1 if lo > 0 else 0
        if up > h and not was_up:
            events.append((i, 1, k + up / nu))
        if lo > h and not was_lo:
            events.append((i, -1, -(k + lo / nl)))
    return events, up, lo


eighths = st.integers(-32, 32).map(lambda i: i / 8)  # exact in binary: sums do not round


@settings(max_examples=300, deadline=None)
@given(st.lists(eighths, min_size=1, max_size=200), st.integers(0, 200),
       st.integers(0, 8).map(lambda i: i / 8), st.integers(4, 64).map(lambda i: i / 8))
def test_cusum_matches_reference_and_does_not_depend_on_batch_split(
        z: list[float], cut: int, k: float, h: float) -> None:
    events, up, lo = reference(z, k, h)
    c = Cusum(k=k, h=h, sigma=1.0)
    got = c.update(np.arange(len(z), dtype=float), z)
    assert [(e.index, e.direction) for e in got] == [(i, d) for i, d, _ in events]
    assert [e.bias for e in got] == pytest.approx([b for _, _, b in events])
    assert (c.upper, c.lower) == pytest.approx((up, lo), abs=1e-9)
    cut = min(cut, len(z))
    split = Cusum(k=k, h=h, sigma=1.0)
    a = split.update(np.arange(cut, dtype=float), z[:cut])
    b = split.update(np.arange(cut, len(z), dtype=float), z[cut:])
    assert [(e.ts, e.direction) for e in a + b] == [(e.ts, e.direction) for e in got]
    assert (split.upper, split.lower) == pytest.approx((up, lo), abs=1e-9)


def test_a_slow_bias_is_found_with_its_size_and_no_alarm_without_it() -> None:
    rng = np.random.default_rng(11)
    n = 2000
    noise = rng.normal(0, 0.2, n)
    clean = Cusum(sigma=0.2)
    assert clean.update(np.arange(n, dtype=float), noise) == []
    drift = np.where(np.arange(n) > 1000, 0.3, 0.0)  # a 1.5-sigma bias from t = 1000
    c = Cusum(sigma=0.2)
    events = c.update(np.arange(n, dtype=float), noise + drift)
    assert len(events) == 1
    e = events[0]
    assert e.direction == 1 and 1000 < e.ts < 1040
    assert e.bias == pytest.approx(0.3, abs=0.1)
    assert c.active and c.bias() == pytest.approx(0.3, abs=0.05)
    c.reset()
    assert not c.active and c.bias() == 0.0


def test_sigma_is_learnt_from_the_warmup_when_not_given() -> None:
    rng = np.random.default_rng(2)
    c = Cusum(warmup=500, h=5.0)
    assert c.update(np.arange(300.0), rng.normal(0, 2.0, 300)) == []
    assert c.sigma is None
    c.update(np.arange(300.0, 600.0), rng.normal(0, 2.0, 300))
    assert c.sigma == pytest.approx(2.0, rel=0.1)


def test_nan_residuals_are_skipped() -> None:
    c = Cusum(sigma=1.0, h=4.0)  # 2.5 after the first residual, 5.0 after the last
    ev = c.update([0.0, 1.0, 2.0, 3.0], [3.0, np.nan, np.nan, 3.0])
    assert [e.index for e in ev] == [3]
    assert c.above.tolist() == [False, False, False, True]


TABLE = PointTable([PointSpec(twin="r", name=n) for n in ("TA", "TB", "TC", "model")])


def _batch(rng: np.random.Generator, t0: float, n: int, bias_b: float) -> Batch:
    ts = t0 + np.arange(n, dtype=float)
    truth = 100 + np.sin(ts / 50)
    rows = []
    for pid, bias, dt in ((0, 0.0, 0.0), (1, bias_b, 0.3), (2, 0.0, 0.6)):
        rows.append((np.full(n, pid), ts + dt, truth + bias + rng.normal(0, 0.05, n)))
    p = np.concatenate([r[0] for r in rows])
    return Batch.of(p, np.concatenate([r[1] for r in rows]),
                    np.concatenate([r[2] for r in rows])).sorted()


def test_three_sensors_isolate_the_one_that_drifted() -> None:
    pairs = [DriftPairConfig(sensor=a, reference=b, sigma=0.07, block_s=None, h=10.0)
             for a, b in (("r.TA", "r.TB"), ("r.TB", "r.TC"), ("r.TC", "r.TA"))]
    mon = DriftMonitor(pairs, TABLE)
    rng = np.random.default_rng(3)
    alarms, flags = mon.update_batch(_batch(rng, 0.0, 300, 0.0))
    assert alarms == [] and not flags.any()
    alarms = []
    batch = _batch(rng, 300.0, 300, 0.15)  # TB reads 0.15 high (about 2 sigma)
    found, flags = mon.update_batch(batch)
    alarms += found
    assert {(a.sensor, a.reference) for a in alarms} == {("r.TA", "r.TB"), ("r.TB", "r.TC")}
    ab = next(a for a in alarms if a.sensor == "r.TB")
    assert ab.bias == pytest.approx(0.15, abs=0.06) and ab.direction == 1
    assert mon.suspects() == ["r.TB"]
    assert flags.any() and set(batch.point[flags].tolist()) <= {0, 1}


def test_update_takes_model_residuals_and_bad_values_never_enter() -> None:
    mon = DriftMonitor([DriftPairConfig(sensor="r.TA", reference="r.model", sigma=1.0,
                                        h=3.0, block_s=None)], TABLE)
    assert mon.update("r.TA", [0.0, 1.0, 2.0], [2.0, 2.0, 2.0])[0].sensor == "r.TA"
    mon.reset("r.TA")
    b = Batch.of([0, 3, 0, 3], [0.0, 0.0, 1.0, 1.0], [500.0, 0.0, 500.0, 0.0],
                 [Quality.BAD, 0, Quality.UNCERTAIN, 0])
    alarms, flags = mon.update_batch(b)
    assert alarms == [] and not flags.any() and mon.status()[0].upper == 0.0


def test_pairs_are_validated() -> None:
    with pytest.raises(ValueError, match="must differ"):
        DriftPairConfig(sensor="r.TA", reference="r.TA")
    with pytest.raises(InvalidInputError):
        Cusum(sigma=0.0)
    mon = DriftMonitor([DriftPairConfig(sensor="r.TA", reference="r.TB")])
    with pytest.raises(InvalidInputError):
        mon.update("r.TC", [0.0], [1.0])


def test_block_means_feed_the_cusum_and_a_batch_split_changes_nothing() -> None:
    rng = np.random.default_rng(6)
    t = np.arange(0.0, 3600.0, 0.5)  # one hour at 2 Hz
    r = rng.normal(0, 0.5, len(t)) + np.where(t >= 1800, 0.1, 0.0)
    pair = DriftPairConfig(sensor="r.TA", reference="r.model", sigma=0.5 / np.sqrt(120),
                           block_s=60.0)
    whole = DriftMonitor([pair])
    alarms = whole.update("r.TA", t, r)
    assert len(alarms) == 1 and alarms[0].ts % 60.0 == 0 and alarms[0].ts > 1800
    sigma = pair.sigma or 0.0
    assert alarms[0].bias == pytest.approx(0.1, abs=1.5 * sigma)  # biased high at the alarm
    assert whole.status()[0].bias == pytest.approx(0.1, abs=0.5 * sigma)  # then settles
    assert whole.cusums[("r.TA", "r.model")].n_upper <= 30  # blocks, not samples
    split = DriftMonitor([pair])
    got = []
    for lo, hi in ((0, 1001), (1001, 4444), (4444, len(t))):
        got += split.update("r.TA", t[lo:hi], r[lo:hi])
    assert [(a.ts, round(a.bias, 9)) for a in got] == [(a.ts, round(a.bias, 9))
                                                       for a in alarms]


def test_raw_white_noise_does_not_alarm_with_the_default_thresholds() -> None:
    rng = np.random.default_rng(8)
    mon = DriftMonitor([DriftPairConfig(sensor="r.TA", reference="r.model", sigma=1.0,
                                        block_s=None)])
    assert mon.update("r.TA", np.arange(5000.0), rng.normal(0, 1.0, 5000)) == []
