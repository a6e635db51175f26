"""Per-point quality configuration: defaults by point type, overrides per point.

The ``quality:`` section of ``twin.yaml`` is a :class:`QualityConfig`. Every point gets a
fully resolved :class:`QualitySettings` by layering, later wins:

1. the built-in defaults of its :class:`PointType` (:data:`TYPE_DEFAULTS`, table below);
2. ``quality.defaults.<type>`` (a :class:`QualityOverride`, only the fields given);
3. ``quality.points.<twin.point>`` (a :class:`QualityOverride`, only the fields given).

A point's type is ``quality.points.<key>.type`` when given, else guessed from its unit by
:func:`infer_type` (``degC`` → temperature, ``bar`` → pressure, ...), else ``generic``.
The expected sampling period ``period_s`` has no type default: it comes from the override,
else from the source's sampling interval (passed to :meth:`QualityConfig.resolve`), else gap
detection is off for that point.

Built-in defaults (``window``/``k``: Hampel filter, see :mod:`~processtwin.pipeline.outliers`;
``gap_factor``: a gap is ``Δt > gap_factor·period_s``; ``fill``/``max_fill_s``: imputation
of gaps up to that length, see :mod:`~processtwin.pipeline.gaps`):

===========  =======  ======  ===  ==========  ======  ==========
type         outlier  window  k    gap_factor  fill    max_fill_s
===========  =======  ======  ===  ==========  ======  ==========
temperature  on       31      5    3           linear  60
pressure     on       31      5    3           linear  5
flow         on       31      5    3           linear  5
level        on       31      5    3           linear  60
analyser     off      31      5    1.5         off     0
valve        off      31      5    3           ffill   30
generic      on       31      5    3           off     0
===========  =======  ======  ===  ==========  ======  ==========

Why: temperatures and levels are slow (thermowell τ 10–60 s, integrating tanks), so a minute
of interpolation is faithful; pressures and flows are fast and noisy, with real transients
(pump trips, valve slams), so only seconds are filled. An analyser gives sparse discrete
samples: a step between two is normal (no outlier test), one missed cycle is already a gap
(1.5) and a composition is never invented. A valve moves in steps and saturates at 0/100 %
(no outlier test) and holds its position (ffill). Unknown points are treated conservatively.

With ``window = 31`` and ``k = 5`` the causal Hampel filter flags 0.04 % of white Gaussian
noise (measured on 4·10⁵ samples; 0.5 % at ``window = 21, k = 4``, 5 % at ``11, 3``), so an
outlier flag means something. ``min_scale_span = 0.001`` floors the robust sigma at 0.1 % of
the point's ``hi − lo`` so a quantised or constant signal is not flagged on every step.

Example:
    >>> from processtwin.core import PointSpec, PointTable
    >>> cfg = QualityConfig.model_validate(
    ...     {"points": {"r.T": {"fill": "ffill"}}, "defaults": {"temperature": {"k": 4}}})
    >>> t = PointTable([PointSpec(twin="r", name="T", unit="degC")])
    >>> s = cfg.settings_for(t.spec(0), period_s=0.5)
    >>> s.type.value, s.k, s.fill.value, s.period_s
    ('temperature', 4.0, 'ffill', 0.5)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, model_validator

from processtwin.core.points import PointSpec, PointTable
from processtwin.errors import ConfigError, ConfigProblem
from processtwin.pipeline.drift import DriftPairConfig

__all__ = [
    "MAX_FILL_ROWS",
    "TYPE_DEFAULTS",
    "FillMethod",
    "PointType",
    "QualityConfig",
    "QualityOverride",
    "QualityParams",
    "QualitySettings",
    "infer_type",
]

#: Most imputed rows one gap may produce (``max_fill_s / period_s``); checked at resolve time.
MAX_FILL_ROWS = 10_000


class PointType(StrEnum):
    """What a point measures; selects the default quality settings."""

    TEMPERATURE = "temperature"
    PRESSURE = "pressure"
    FLOW = "flow"
    LEVEL = "level"
    ANALYSER = "analyser"
    VALVE = "valve"
    GENERIC = "generic"


class FillMethod(StrEnum):
    """How a gap is filled: not at all, by linear interpolation, or by holding the last value."""

    OFF = "off"
    LINEAR = "linear"
    FFILL = "ffill"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class QualitySettings(_Frozen):
    """The resolved quality settings of one point (every field has a value)."""

    type: PointType = PointType.GENERIC
    outlier: bool = True
    window: int = Field(default=31, ge=3, le=255, description="Hampel window, values")
    k: float = Field(default=5.0, gt=0, description="Hampel threshold, robust sigmas")
    min_scale: float = Field(default=0.0, ge=0, description="floor of the robust sigma, unit")
    min_scale_span: float = Field(default=0.001, ge=0,
                                  description="floor of the robust sigma, share of hi - lo")
    period_s: float | None = Field(default=None, gt=0, description="expected sampling period")
    gap_factor: float = Field(default=3.0, gt=1, description="gap when dt > gap_factor*period")
    fill: FillMethod = FillMethod.OFF
    max_fill_s: float = Field(default=0.0, ge=0, description="longest gap that is filled, s")


class QualityOverride(_Frozen):
    """Some fields of :class:`QualitySettings`; those not given keep the layer below."""

    type: PointType | None = None
    outlier: bool | None = None
    window: int | None = Field(default=None, ge=3, le=255)
    k: float | None = Field(default=None, gt=0)
    min_scale: float | None = Field(default=None, ge=0)
    min_scale_span: float | None = Field(default=None, ge=0)
    period_s: float | None = Field(default=None, gt=0)
    gap_factor: float | None = Field(default=None, gt=1)
    fill: FillMethod | None = None
    max_fill_s: float | None = Field(default=None, ge=0)


def _d(t: PointType, **kw: object) -> QualitySettings:
    return QualitySettings.model_validate({"type": t, **kw})


#: Built-in defaults per point type (see the module docstring for the reasons).
TYPE_DEFAULTS: Mapping[PointType, QualitySettings] = {
    PointType.TEMPERATURE: _d(PointType.TEMPERATURE, fill="linear", max_fill_s=60.0),
    PointType.PRESSURE: _d(PointType.PRESSURE, fill="linear", max_fill_s=5.0),
    PointType.FLOW: _d(PointType.FLOW, fill="linear", max_fill_s=5.0),
    PointType.LEVEL: _d(PointType.LEVEL, fill="linear", max_fill_s=60.0),
    PointType.ANALYSER: _d(PointType.ANALYSER, outlier=False, gap_factor=1.5),
    PointType.VALVE: _d(PointType.VALVE, outlier=False, fill="ffill", max_fill_s=30.0),
    PointType.GENERIC: _d(PointType.GENERIC),
}

_UNIT_TYPES: dict[str, PointType] = {}
for _t, _units in (
    (PointType.TEMPERATURE, "degC degF K degreeCelsius degreeFahrenheit kelvin"),
    (PointType.PRESSURE, "Pa kPa MPa bar mbar barg psi psig pascal kilopascal millibar "
                         "poundPerSquareInch"),
    (PointType.FLOW, "m3/h m3/s l/h l/min l/s kg/h kg/s t/h kmol/h mol/s 1/h "
                     "cubicMetrePerHour cubicMetrePerSecond litrePerHour litrePerMinute "
                     "litrePerSecond kilogramPerHour kilogramPerSecond"),
    (PointType.ANALYSER, "mol/l mol/m3 kmol/m3 ppm ppb mol% wt% partsPerMillion "
                         "partsPerBillion"),
):
    for _u in _units.split():
        _UNIT_TYPES[_u] = _t


def infer_type(unit: str) -> PointType:
    """Guess a point's type from its unit; ``generic`` when the unit says too little.

    ``%`` is ambiguous (level, valve position, concentration) and stays generic: say the type.

    >>> [infer_type(u).value for u in ("degC", "kg/h", "%")]
    ['temperature', 'flow', 'generic']
    """
    return _UNIT_TYPES.get(unit.strip(), PointType.GENERIC)


def _merge(base: QualitySettings, over: QualityOverride | None) -> QualitySettings:
    if over is None:
        return base
    given = {k: v for k, v in over.model_dump(exclude_none=True).items() if k != "type"}
    return base.model_copy(update=given) if given else base


class QualityConfig(_Frozen):
    """The ``quality:`` section of ``twin.yaml``.

    ``defaults`` overrides the built-in table per type; ``points`` overrides per point key
    (``twin.point``). ``stats_window_s`` is the sliding window of
    :class:`~processtwin.pipeline.stats.QualityStats`, ``drift`` the sensor pairs watched
    by :class:`~processtwin.pipeline.drift.DriftMonitor`. ``enabled: false`` keeps only the
    basic checks (NaN, range, rate of change, flatline).
    """

    enabled: bool = True
    defaults: dict[PointType, QualityOverride] = Field(default_factory=dict)
    points: dict[str, QualityOverride] = Field(default_factory=dict)
    drift: tuple[DriftPairConfig, ...] = ()
    stats_window_s: float = Field(default=3600.0, gt=0)
    stats_buckets: int = Field(default=60, ge=1, le=3600)

    @model_validator(mode="after")
    def _no_type_in_defaults(self) -> QualityConfig:
        for t, over in self.defaults.items():
            if over.type is not None and over.type != t:
                raise ValueError(f"defaults.{t.value}.type must not name another type")
        return self

    def type_of(self, spec: PointSpec) -> PointType:
        over = self.points.get(spec.key)
        if over is not None and over.type is not None:
            return over.type
        return infer_type(spec.unit)

    def settings_for(self, spec: PointSpec, period_s: float | None = None) -> QualitySettings:
        """The resolved settings of one point; ``period_s`` is the source's sampling period."""
        t = self.type_of(spec)
        s = _merge(TYPE_DEFAULTS[t], self.defaults.get(t))
        if s.period_s is None and period_s is not None:
            s = s.model_copy(update={"period_s": period_s})
        s = _merge(s, self.points.get(spec.key))
        return s.model_copy(update={"type": t})

    def resolve(self, table: PointTable, periods: Mapping[str, float] | None = None
                ) -> QualityParams:
        """Settings of every point of ``table`` as NumPy columns, checked once.

        Raises :class:`~processtwin.errors.ConfigError` listing every problem: overrides of
        points that do not exist, and gaps that would be filled with too many rows.
        """
        periods = periods or {}
        problems = [ConfigProblem(f"quality.points.{key}", "unknown point")
                    for key in self.points if key not in table]
        for i, pair in enumerate(self.drift):
            for end in ("sensor", "reference"):
                if getattr(pair, end) not in table:
                    problems.append(ConfigProblem(f"quality.drift.{i}.{end}",
                                                  f"unknown point {getattr(pair, end)!r}"))
        settings = [self.settings_for(s, periods.get(s.key)) for s in table]
        for spec, s in zip(table, settings, strict=True):
            if s.fill is not FillMethod.OFF and s.period_s is not None and \
                    s.max_fill_s / s.period_s > MAX_FILL_ROWS:
                problems.append(ConfigProblem(
                    f"quality.points.{spec.key}.max_fill_s",
                    f"max_fill_s/period_s = {s.max_fill_s / s.period_s:.0f} rows per gap "
                    f"exceeds {MAX_FILL_ROWS}"))
        if problems:
            raise ConfigError(problems)
        return QualityParams.of(table, settings)


def _ro(a: npt.NDArray[np.generic]) -> None:
    a.setflags(write=False)


@dataclass(frozen=True, slots=True)
class QualityParams:
    """Resolved settings of every point as read-only NumPy columns (indexed by point id).

    ``min_scale`` already includes the span floor: ``max(min_scale, min_scale_span·(hi−lo))``
    where the range is finite. ``period_s`` is ``inf`` where gap detection is off, and
    ``fill`` holds 0 (off), 1 (linear) or 2 (ffill).
    """

    settings: tuple[QualitySettings, ...]
    outlier: npt.NDArray[np.bool_]
    window: npt.NDArray[np.int64]
    k: npt.NDArray[np.float64]
    min_scale: npt.NDArray[np.float64]
    period_s: npt.NDArray[np.float64]
    gap_factor: npt.NDArray[np.float64]
    fill: npt.NDArray[np.int8]
    max_fill_s: npt.NDArray[np.float64]

    @classmethod
    def of(cls, table: PointTable, settings: list[QualitySettings]) -> QualityParams:
        span = table.hi - table.lo
        finite = np.isfinite(span)
        span_floor = np.zeros(len(settings))
        span_floor[finite] = np.array([s.min_scale_span for s in settings])[finite] * span[finite]
        fills = {FillMethod.OFF: 0, FillMethod.LINEAR: 1, FillMethod.FFILL: 2}
        out = cls(
            tuple(settings),
            np.array([s.outlier for s in settings], dtype=bool),
            np.array([s.window for s in settings], dtype=np.int64),
            np.array([s.k for s in settings], dtype=np.float64),
            np.maximum(np.array([s.min_scale for s in settings], dtype=np.float64),
                       span_floor),
            np.array([np.inf if s.period_s is None else s.period_s for s in settings],
                     dtype=np.float64),
            np.array([s.gap_factor for s in settings], dtype=np.float64),
            np.array([fills[s.fill] for s in settings], dtype=np.int8),
            np.array([s.max_fill_s for s in settings], dtype=np.float64),
        )
        for a in (out.outlier, out.window, out.k, out.min_scale, out.period_s, out.gap_factor,
                  out.fill, out.max_fill_s):
            _ro(a)
        return out

    @classmethod
    def uniform(cls, table: PointTable, settings: QualitySettings | None = None
                ) -> QualityParams:
        """The same settings for every point (tests, benchmarks)."""
        s = settings or QualitySettings()
        return cls.of(table, [s] * len(table))
