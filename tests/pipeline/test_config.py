"""Quality configuration: type defaults, layering, validation, NumPy columns."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml
from pydantic import ValidationError

from processtwin.core import PointSpec, PointTable
from processtwin.errors import ConfigError
from processtwin.pipeline.config import (
    MAX_FILL_ROWS,
    TYPE_DEFAULTS,
    FillMethod,
    PointType,
    QualityConfig,
    infer_type,
)

TABLE = PointTable([
    PointSpec(twin="r", name="T", unit="degC", lo=0, hi=200),
    PointSpec(twin="r", name="F", unit="m3/h"),
    PointSpec(twin="r", name="C", unit="mol/l"),
    PointSpec(twin="r", name="V", unit="%", lo=0, hi=100),
])

YAML = """
defaults:
  temperature: {k: 4, max_fill_s: 30}
points:
  r.V: {type: valve}
  r.F: {period_s: 0.1, fill: ffill, window: 11}
drift:
  - {sensor: r.T, reference: r.F, sigma: 0.1}
"""


def test_every_type_has_defaults_and_units_select_them() -> None:
    assert set(TYPE_DEFAULTS) == set(PointType)
    assert all(TYPE_DEFAULTS[t].type is t for t in PointType)
    assert [infer_type(s.unit) for s in TABLE] == [
        PointType.TEMPERATURE, PointType.FLOW, PointType.ANALYSER, PointType.GENERIC]
    assert infer_type("degreeCelsius") is PointType.TEMPERATURE
    assert not TYPE_DEFAULTS[PointType.ANALYSER].outlier
    assert TYPE_DEFAULTS[PointType.ANALYSER].fill is FillMethod.OFF


def test_layers_apply_in_order_type_then_defaults_then_point() -> None:
    cfg = QualityConfig.model_validate(yaml.safe_load(YAML))
    t = cfg.settings_for(TABLE.spec(0), period_s=0.05)
    assert (t.type, t.k, t.max_fill_s, t.fill, t.period_s) == (
        PointType.TEMPERATURE, 4.0, 30.0, FillMethod.LINEAR, 0.05)
    f = cfg.settings_for(TABLE.spec(1), period_s=0.05)
    assert (f.period_s, f.fill, f.window, f.k) == (0.1, FillMethod.FFILL, 11, 5.0)
    v = cfg.settings_for(TABLE.spec(3))
    assert v.type is PointType.VALVE and not v.outlier and v.period_s is None


def test_resolve_gives_read_only_columns_with_the_span_floor() -> None:
    cfg = QualityConfig.model_validate(yaml.safe_load(YAML))
    p = cfg.resolve(TABLE, {"r.T": 0.05, "r.C": 60.0})
    assert p.window.tolist() == [31, 11, 31, 31]
    assert p.outlier.tolist() == [True, True, False, False]
    assert p.min_scale.tolist() == [pytest.approx(0.2), 0.0, 0.0, pytest.approx(0.1)]
    assert p.period_s[0] == 0.05 and p.period_s[1] == 0.1 and math.isinf(p.period_s[3])
    assert p.fill.tolist() == [1, 2, 0, 2]
    with pytest.raises(ValueError, match="read-only"):
        p.k[0] = 1.0
    assert isinstance(p.k, np.ndarray)


def test_every_problem_is_reported_at_once() -> None:
    cfg = QualityConfig.model_validate({
        "points": {"r.nope": {"k": 3}, "r.T": {"period_s": 0.001, "max_fill_s": 60}},
        "drift": [{"sensor": "r.T", "reference": "r.gone"}]})
    with pytest.raises(ConfigError) as err:
        cfg.resolve(TABLE)
    paths = sorted(p.path for p in err.value.problems)
    assert paths == ["quality.drift.0.reference", "quality.points.r.T.max_fill_s",
                     "quality.points.r.nope"]
    assert str(MAX_FILL_ROWS) in str(err.value)


@pytest.mark.parametrize("bad", [
    {"points": {"r.T": {"k": 0}}},
    {"points": {"r.T": {"window": 2}}},
    {"points": {"r.T": {"gap_factor": 1.0}}},
    {"points": {"r.T": {"fill": "cubic"}}},
    {"points": {"r.T": {"colour": "red"}}},
    {"defaults": {"temperature": {"type": "flow"}}},
    {"defaults": {"humidity": {}}},
])
def test_invalid_settings_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        QualityConfig.model_validate(bad)


def test_config_is_frozen() -> None:
    cfg = QualityConfig()
    with pytest.raises(ValidationError):
        cfg.enabled = False  # type: ignore[misc]
