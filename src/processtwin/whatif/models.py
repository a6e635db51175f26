"""What-if requests and results: frozen pydantic models (unknown fields are refused).

A :class:`Scenario` says what happens from *now* on: input trajectories as steps and ramps
(:class:`Change`), parameters changed for the whole run, disturbances (parameters that move
during the run, e.g. a step in the feed temperature ``T_in``), parameters whose value is
uncertain (a :class:`Normal`, :class:`Uniform` or :class:`LogNormal` distribution, sampled
once per run), and the constraints whose violation probability is wanted. Times are plant
seconds from now. :class:`WhatIfRequest` adds the sample count and the seed.

Names are checked against the model by :func:`scenario_problems`, which lists every
unknown state, input or parameter at once (with where it was named).

Example:
    >>> s = Scenario.model_validate({"horizon_s": 3600, "inputs": {"F": [{"at_s": 600,
    ...     "delta": 5, "ramp_s": 300}]}, "constraints": [{"variable": "T_R", "above": 140}]})
    >>> s.constraints[0].label
    'T_R > 140'
"""

from __future__ import annotations

import itertools
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from processtwin.physics.model import ProcessModel

__all__ = [
    "Band",
    "Change",
    "Constraint",
    "ConstraintResult",
    "Distribution",
    "LogNormal",
    "Normal",
    "Scenario",
    "Uniform",
    "WhatIfRequest",
    "WhatIfResult",
    "scenario_problems",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Change(_Frozen):
    """At ``at_s`` the value moves to ``value`` (or by ``delta``), linearly over ``ramp_s``
    (0: a step)."""

    at_s: float = Field(ge=0, description="seconds from now")
    value: float | None = None
    delta: float | None = None
    ramp_s: float = Field(default=0.0, ge=0)

    @model_validator(mode="after")
    def _one(self) -> Change:
        if (self.value is None) == (self.delta is None):
            raise ValueError("give exactly one of value and delta")
        return self


class Normal(_Frozen):
    """Normal around ``mean`` (default: the current value), clipped to [lo, hi]."""

    dist: Literal["normal"] = "normal"
    std: float = Field(ge=0)
    mean: float | None = None
    lo: float | None = Field(default=None, description="default: unbounded")
    hi: float | None = Field(default=None, description="default: unbounded")


class Uniform(_Frozen):
    dist: Literal["uniform"]
    lo: float
    hi: float

    @model_validator(mode="after")
    def _order(self) -> Uniform:
        if not self.lo <= self.hi:
            raise ValueError(f"lo ({self.lo}) must be <= hi ({self.hi})")
        return self


class LogNormal(_Frozen):
    """Log-normal with median ``median`` (default: the current value) and log-std ``sigma``."""

    dist: Literal["lognormal"]
    sigma: float = Field(ge=0)
    median: float | None = Field(default=None, gt=0)


def _dist_tag(v: Any) -> str:
    tag = v.get("dist", "normal") if isinstance(v, dict) else getattr(v, "dist", "normal")
    return str(tag)


#: A parameter's distribution; ``dist`` defaults to ``normal``.
Distribution = Annotated[Annotated[Normal, Tag("normal")] | Annotated[Uniform, Tag("uniform")]
                         | Annotated[LogNormal, Tag("lognormal")], Discriminator(_dist_tag)]


class Constraint(_Frozen):
    """``variable`` above ``above`` (or below ``below``) at any time within ``within_s``."""

    variable: str
    above: float | None = None
    below: float | None = None
    within_s: float | None = Field(default=None, gt=0,
                                   description="default: the whole horizon")

    @model_validator(mode="after")
    def _one(self) -> Constraint:
        if (self.above is None) == (self.below is None):
            raise ValueError("give exactly one of above and below")
        return self

    @property
    def label(self) -> str:
        op, lim = (">", self.above) if self.above is not None else ("<", self.below)
        text = f"{self.variable} {op} {lim:g}"
        return text if self.within_s is None else f"{text} within {self.within_s:g} s"


class Scenario(_Frozen):
    """What happens from now on, and what to report."""

    horizon_s: float = Field(default=3600.0, gt=0)
    dt_s: float = Field(default=60.0, gt=0, description="spacing of the reported times")
    inputs: dict[str, list[Change]] = Field(default_factory=dict,
                                            description="input -> steps and ramps")
    params: dict[str, float] = Field(default_factory=dict,
                                     description="parameters changed for the whole run")
    disturbances: dict[str, list[Change]] = Field(
        default_factory=dict, description="parameter -> steps and ramps during the run")
    uncertain: dict[str, Distribution] = Field(
        default_factory=dict, description="parameter -> distribution, sampled per run")
    constraints: list[Constraint] = Field(default_factory=list)
    percentiles: list[float] = Field(default_factory=lambda: [5.0, 50.0, 95.0])
    confidence: float = Field(default=0.95, gt=0, lt=1,
                              description="level of the Wilson interval on probabilities")
    method: Literal["dopri5", "ros23"] = "dopri5"

    @model_validator(mode="after")
    def _check(self) -> Scenario:
        problems = []
        if self.horizon_s / self.dt_s > 10_000:
            problems.append("more than 10000 reported times: raise dt_s")
        if any(not 0 <= p <= 100 for p in self.percentiles) or not self.percentiles:
            problems.append("percentiles must lie in [0, 100]")
        if len(set(self.percentiles)) != len(self.percentiles):
            problems.append("percentiles repeat")
        for section, profiles in (("inputs", self.inputs), ("disturbances", self.disturbances)):
            for name, changes in profiles.items():
                for a, b in itertools.pairwise(changes):
                    if b.at_s < a.at_s + a.ramp_s:
                        problems.append(f"{section}.{name}: changes must be in time order and "
                                        f"not overlap ({b.at_s} s starts before "
                                        f"{a.at_s + a.ramp_s} s)")
        both = sorted(set(self.params) & set(self.uncertain))
        if both:
            problems.append(f"params {both} are both fixed and uncertain")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def percentile_keys(self) -> list[str]:
        return [f"p{p:g}" for p in self.percentiles]


#: The most samples × reported times one request may ask for (memory bound).
MAX_VALUES = 5_000_000


class WhatIfRequest(Scenario):
    """A scenario with the Monte Carlo sample count and seed."""

    n: int = Field(default=500, ge=1, le=20_000, description="Monte Carlo samples")
    seed: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _size(self) -> WhatIfRequest:
        times = self.horizon_s / self.dt_s + 1
        if self.n * times > MAX_VALUES:
            raise ValueError(f"n x reported times = {self.n * times:.0f} exceeds {MAX_VALUES}: "
                             "ask for fewer samples or a larger dt_s")
        return self


def scenario_problems(model: ProcessModel, s: Scenario,
                      extra_params: tuple[str, ...] = ()) -> list[dict[str, object]]:
    """Every name in ``s`` the model does not know, as ``{"loc": [...], "msg": ...}``.

    ``extra_params`` are parameters estimated jointly (known under their own names).
    """
    out: list[dict[str, object]] = []
    params = set(model.param_names) | set(extra_params)
    variables = set(model.state_names) | set(model.algebraic_names) | set(model.input_names)
    for name in s.inputs:
        if name not in model.input_names:
            out.append({"loc": ["inputs", name],
                        "msg": f"unknown input {name!r}; {model.name} has "
                               f"{list(model.input_names)}"})
    for section in ("params", "disturbances", "uncertain"):
        for name in getattr(s, section):
            if name not in params:
                out.append({"loc": [section, name],
                            "msg": f"unknown parameter {name!r} of {model.name}"})
    for i, c in enumerate(s.constraints):
        if c.variable not in variables:
            out.append({"loc": ["constraints", i, "variable"],
                        "msg": f"unknown state or output {c.variable!r}; {model.name} has "
                               f"{sorted(variables)}"})
    return out


class Band(_Frozen):
    """One variable over the time grid: mean and percentiles across the samples."""

    unit: str
    kind: Literal["state", "algebraic", "input", "param"]
    mean: list[float]
    percentiles: dict[str, list[float]]


class ConstraintResult(_Frozen):
    """How many samples violated a constraint, the probability and its Wilson interval."""

    label: str
    variable: str
    above: float | None
    below: float | None
    within_s: float
    violations: int
    n: int
    probability: float
    ci_low: float
    ci_high: float
    confidence: float


class WhatIfResult(_Frozen):
    """Time grid (s from now), bands per variable, constraint probabilities."""

    model: str
    origin: str = Field(description="'estimate' (the live estimator), 'nominal' or 'given'")
    t_s: list[float]
    n: int
    n_failed: int = Field(description="samples whose integration failed (left out)")
    seed: int | None
    x0: dict[str, float]
    x0_std: dict[str, float]
    inputs0: dict[str, float]
    variables: dict[str, Band]
    constraints: list[ConstraintResult]
    elapsed_s: float
