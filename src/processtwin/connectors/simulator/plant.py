"""A simulated van de Vusse CSTR plant: true dynamics, noisy sensors, faults, an analyser.

This is the *plant*, not the twin: it integrates the model with its own ("true")
parameters, which may differ from the twin's, and exposes only what real instruments would
measure. C_a is never measured; C_b comes from a slow analyser that takes a sample every
``analyser_period_s`` and reports it ``analyser_delay_s`` later, stamped with the sample time.

Faults happen at random (seeded): a stuck sensor (value frozen), a spike (one wild sample) and
a dropout (the sensor reports a bad status). ``time_scale`` runs the plant faster than the
wall clock: one second of clock is ``time_scale`` seconds of plant time.

Example:
    >>> plant = SimulatedPlant(PlantConfig(seed=1, fault_rate_per_h=0.0))
    >>> out = plant.step(1.0, now=1000.0)
    >>> sorted(r.tag for r in out)[:3]
    ['FT101', 'JQ101', 'LT101']
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from processtwin.physics.cstr import van_de_vusse
from processtwin.physics.model import ProcessModel
from processtwin.physics.simulate import rk4

__all__ = ["FaultKind", "PlantConfig", "PlantReading", "SensorSpec", "SimulatedPlant"]


class FaultKind(StrEnum):
    STUCK = "stuck"
    SPIKE = "spike"
    DROPOUT = "dropout"


@dataclass(frozen=True, slots=True, kw_only=True)
class SensorSpec:
    """One instrument: what it measures (a state, an input, or ``level``) and its noise."""

    tag: str
    measures: str
    unit: str
    noise_std: float
    description: str = ""


def default_sensors() -> tuple[SensorSpec, ...]:
    return (
        SensorSpec(tag="TT101", measures="T_R", unit="degC", noise_std=0.05,
                   description="reactor temperature A"),
        SensorSpec(tag="TT102", measures="T_R", unit="degC", noise_std=0.08,
                   description="reactor temperature B (redundant)"),
        SensorSpec(tag="TT201", measures="T_K", unit="degC", noise_std=0.05,
                   description="jacket temperature"),
        SensorSpec(tag="FT101", measures="F", unit="1/h", noise_std=0.05,
                   description="feed flow (normalised by reactor volume)"),
        SensorSpec(tag="JQ101", measures="Q", unit="kJ/h", noise_std=5.0,
                   description="jacket heat duty"),
        SensorSpec(tag="LT101", measures="level", unit="%", noise_std=0.2,
                   description="reactor level"),
    )


@dataclass(frozen=True, kw_only=True)
class PlantConfig:
    """Simulated plant settings. Times are plant seconds unless named ``_wall``."""

    seed: int = 0
    time_scale: float = 1.0
    sensors: tuple[SensorSpec, ...] = field(default_factory=default_sensors)
    true_params: Mapping[str, float] = field(default_factory=dict)
    x0: tuple[float, ...] | None = None
    u0: tuple[float, float] | None = None
    fault_rate_per_h: float = 2.0
    fault_duration_s: float = 120.0
    analyser_period_s: float = 120.0
    analyser_delay_s: float = 60.0
    analyser_noise_std: float = 0.01
    actuator_tau_s: float = 5.0


@dataclass(frozen=True, slots=True)
class PlantReading:
    """One instrument value as the plant reports it."""

    tag: str
    value: float
    ts: float
    good: bool = True


@dataclass
class _Fault:
    kind: FaultKind
    tag: str
    until: float
    value: float


class SimulatedPlant:
    """The true process plus its instruments. Not thread-safe; step it from one task."""

    def __init__(self, config: PlantConfig | None = None,
                 model: ProcessModel | None = None) -> None:
        self.config = config or PlantConfig()
        self.model = model or van_de_vusse()
        self._p = self.model.params_with(self.config.true_params)
        self._rng = np.random.default_rng(self.config.seed)
        self.u: npt.NDArray[np.float64] = (
            np.array(self.config.u0, float) if self.config.u0 else self.model.u0.copy()
        )
        self.setpoint = self.u.copy()
        self.x: npt.NDArray[np.float64] = (
            np.array(self.config.x0, float) if self.config.x0
            else self.model.steady_state(self.u, self._p)
        )
        self.t_plant = 0.0
        self._faults: dict[str, _Fault] = {}
        self._last: dict[str, float] = {}
        self._analyser_next = 0.0
        self._analyser_queue: list[tuple[float, float, float]] = []  # (due, sample_ts, value)
        self.faults_started = 0
        self._lo = np.array([v.lo for v in self.model.inputs])
        self._hi = np.array([v.hi for v in self.model.inputs])

    @property
    def tags(self) -> tuple[str, ...]:
        return (*(s.tag for s in self.config.sensors), "AT101")

    def true_state(self) -> dict[str, float]:
        return dict(zip(self.model.state_names, map(float, self.x), strict=True))

    def write_setpoint(self, name: str, value: float) -> None:
        """Set an input setpoint (the plant's own actuator limits still apply)."""
        i = self.model.input_names.index(name)
        self.setpoint[i] = float(np.clip(value, self._lo[i], self._hi[i]))

    def step(self, dt_wall: float, now: float) -> list[PlantReading]:
        """Advance ``dt_wall`` clock seconds; return instrument readings stamped ``now``."""
        dt = dt_wall * self.config.time_scale
        alpha = 1.0 - np.exp(-dt / max(self.config.actuator_tau_s, 1e-9))
        self.u = self.u + alpha * (self.setpoint - self.u)
        n_sub = max(1, int(np.ceil(dt / 2.0)))
        self.x = rk4(self.model, self.x, self.u, dt / self.model.seconds_per_time_unit,
                     self._p, substeps=n_sub)
        self.t_plant += dt
        self._maybe_fault(dt, now)
        out = [self._read(s, now) for s in self.config.sensors]
        out.extend(self._analyser(now, dt_wall))
        return out

    # ------------------------------------------------------------------ instruments
    def _true_value(self, measures: str) -> float:
        if measures == "level":
            return 80.0
        if measures in self.model.state_names:
            return float(self.x[self.model.state_names.index(measures)])
        return float(self.u[self.model.input_names.index(measures)])

    def _read(self, s: SensorSpec, now: float) -> PlantReading:
        fault = self._faults.get(s.tag)
        if fault and now >= fault.until:
            del self._faults[s.tag]
            fault = None
        value = self._true_value(s.measures) + self._rng.normal(0.0, s.noise_std)
        if fault is None:
            self._last[s.tag] = value
            return PlantReading(s.tag, value, now)
        if fault.kind is FaultKind.STUCK:
            return PlantReading(s.tag, fault.value, now)
        if fault.kind is FaultKind.SPIKE:
            del self._faults[s.tag]
            return PlantReading(s.tag, value + fault.value, now)
        return PlantReading(s.tag, value, now, good=False)

    def _maybe_fault(self, dt: float, now: float) -> None:
        rate = self.config.fault_rate_per_h * dt / 3600.0
        if rate <= 0 or self._rng.random() >= rate:
            return
        s = self.config.sensors[int(self._rng.integers(len(self.config.sensors)))]
        if s.tag in self._faults:
            return
        kind = FaultKind(self._rng.choice([k.value for k in FaultKind]))
        until = now + self.config.fault_duration_s / self.config.time_scale
        value = self._last.get(s.tag, self._true_value(s.measures))
        if kind is FaultKind.SPIKE:
            value = float(self._rng.choice([-1, 1]) * 40 * max(s.noise_std, 0.1) * 10)
        self._faults[s.tag] = _Fault(kind, s.tag, until, value)
        self.faults_started += 1

    def active_faults(self) -> dict[str, str]:
        return {tag: f.kind.value for tag, f in self._faults.items()}

    def _analyser(self, now: float, dt_wall: float) -> list[PlantReading]:
        cfg = self.config
        if cfg.analyser_period_s <= 0:
            return []
        if self.t_plant >= self._analyser_next:
            self._analyser_next = self.t_plant + cfg.analyser_period_s
            value = self._true_value("C_b") + self._rng.normal(0.0, cfg.analyser_noise_std)
            due = now + cfg.analyser_delay_s / cfg.time_scale
            self._analyser_queue.append((due, now, value))
        ready = [q for q in self._analyser_queue if q[0] <= now]
        self._analyser_queue = [q for q in self._analyser_queue if q[0] > now]
        return [PlantReading("AT101", v, ts) for _, ts, v in ready]
