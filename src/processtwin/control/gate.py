"""The command gate: the only way from a proposal to a plant write.

:meth:`CommandGate.evaluate` is a pure function of a request and a :class:`GateContext`. It
checks, and reports *every* failed check, not just the first:

* **known input** – the twin has a write binding for each input;
* **envelope** – each value within ``[lo, hi]``;
* **rate** – each change from the current plant value at most ``max_step``, and at least
  ``min_interval_s`` since that input was last written;
* **staleness** – the twin's newest measurement is at most ``max_staleness_s`` old (a
  stale twin fails safe: it may not command);
* **mode** – ``advisory`` never writes, ``approve`` writes only what a person approved,
  ``closed`` writes what passes the checks.

The verdict's ``outcome`` is ``refused``, ``advisory``, ``pending`` or ``released``. Only a
``released`` verdict can be turned into :class:`~processtwin.core.commands.ReleasedWrite`
objects, by :meth:`CommandGate.release`. The gate never clamps a value: a command outside its
limits is refused whole, because a silently changed command is a safety defect.

Example:
    >>> gate = CommandGate(GateConfig(mode=Mode.CLOSED,
    ...     limits={"F": InputLimit(lo=5, hi=100, max_step=10)}, max_staleness_s=5))
    >>> ctx = GateContext(now=100.0, data_age_s=0.5, current={"F": 20.0})
    >>> v = gate.evaluate(CommandRequest(twin="r1", inputs={"F": 50.0}, origin="test"), ctx)
    >>> v.outcome, v.reasons
    ('refused', ('rate: F step 30 > max_step 10',))
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

import numpy as np

from processtwin.core.commands import _GATE_TOKEN, ReleasedWrite
from processtwin.errors import CommandRefusedError, InvalidInputError

__all__ = [
    "CommandGate",
    "CommandRequest",
    "GateConfig",
    "GateContext",
    "InputLimit",
    "Mode",
    "Verdict",
]


class Mode(StrEnum):
    ADVISORY = "advisory"
    APPROVE = "approve"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True, kw_only=True)
class InputLimit:
    """The envelope of one input: hard range, largest step, shortest interval between writes."""

    lo: float
    hi: float
    max_step: float = float("inf")
    min_interval_s: float = 0.0

    def __post_init__(self) -> None:
        if not self.lo <= self.hi:
            raise InvalidInputError(f"input limit lo {self.lo} > hi {self.hi}")
        if self.max_step <= 0 or self.min_interval_s < 0:
            raise InvalidInputError("max_step must be > 0 and min_interval_s >= 0")


@dataclass(frozen=True, slots=True, kw_only=True)
class GateConfig:
    mode: Mode = Mode.ADVISORY
    limits: Mapping[str, InputLimit] = field(default_factory=dict)
    max_staleness_s: float = 5.0


_counter = itertools.count(1)


def _new_id(prefix: str) -> str:
    return f"{prefix}-{next(_counter):06d}-{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandRequest:
    """A wish to set inputs of a twin, from the optimiser or a person."""

    twin: str
    inputs: Mapping[str, float]
    origin: str
    id: str = field(default_factory=lambda: _new_id("cmd"))
    created: float = field(default_factory=time.time)
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "twin": self.twin, "inputs": dict(self.inputs),
                "origin": self.origin, "created": self.created, "note": self.note}


@dataclass(frozen=True, slots=True, kw_only=True)
class GateContext:
    """What the gate knows of the plant when it decides."""

    now: float
    data_age_s: float
    current: Mapping[str, float] = field(default_factory=dict)
    last_write: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """The gate's decision on one request, with every reason."""

    id: str
    request_id: str
    twin: str
    outcome: str  # refused | advisory | pending | released
    mode: Mode
    reasons: tuple[str, ...]
    checks: Mapping[str, bool]
    inputs: Mapping[str, float]
    approved_by: str | None
    ts: float

    @property
    def released(self) -> bool:
        return self.outcome == "released"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "request_id": self.request_id, "twin": self.twin,
                "outcome": self.outcome, "mode": self.mode.value, "reasons": list(self.reasons),
                "checks": dict(self.checks), "inputs": dict(self.inputs),
                "approved_by": self.approved_by, "ts": self.ts}


class CommandGate:
    """Evaluates requests against the envelope, rates, staleness and mode."""

    def __init__(self, config: GateConfig) -> None:
        self.config = config
        self._mode = config.mode

    @property
    def mode(self) -> Mode:
        return self._mode

    def set_mode(self, mode: Mode | str) -> Mode:
        self._mode = Mode(mode)
        return self._mode

    def evaluate(self, req: CommandRequest, ctx: GateContext,
                 approved_by: str | None = None) -> Verdict:
        reasons: list[str] = []
        checks = {"known": True, "envelope": True, "rate": True, "fresh": True}
        if not req.inputs:
            checks["known"] = False
            reasons.append("empty: no inputs in the request")
        for name, value in req.inputs.items():
            lim = self.config.limits.get(name)
            if lim is None:
                checks["known"] = False
                reasons.append(f"unknown input {name!r}: not in the envelope")
                continue
            if not np.isfinite(value):
                checks["envelope"] = False
                reasons.append(f"envelope: {name} value {value} is not finite")
                continue
            if not lim.lo <= value <= lim.hi:
                checks["envelope"] = False
                reasons.append(f"envelope: {name}={value:g} outside [{lim.lo:g}, {lim.hi:g}]")
            cur = ctx.current.get(name)
            if cur is None or not np.isfinite(cur):
                checks["rate"] = False
                reasons.append(f"rate: current value of {name} unknown")
            elif abs(value - cur) > lim.max_step:
                checks["rate"] = False
                reasons.append(f"rate: {name} step {abs(value - cur):g} > max_step "
                               f"{lim.max_step:g}")
            last = ctx.last_write.get(name)
            if last is not None and ctx.now - last < lim.min_interval_s:
                checks["rate"] = False
                reasons.append(f"rate: {name} written {ctx.now - last:.1f} s ago < "
                               f"min_interval {lim.min_interval_s:g} s")
        if not ctx.data_age_s <= self.config.max_staleness_s:
            checks["fresh"] = False
            reasons.append(f"stale: twin data {ctx.data_age_s:.1f} s old > "
                           f"{self.config.max_staleness_s:g} s")
        mode = self._mode
        if reasons:
            outcome = "refused"
        elif mode is Mode.ADVISORY:
            outcome = "advisory"
            reasons.append("mode advisory: shown only, never written")
        elif mode is Mode.APPROVE and approved_by is None:
            outcome = "pending"
            reasons.append("mode approve: waiting for a person to approve")
        else:
            outcome = "released"
        return Verdict(id=_new_id("verdict"), request_id=req.id, twin=req.twin,
                       outcome=outcome, mode=mode, reasons=tuple(reasons),
                       checks=MappingProxyType(checks), inputs=MappingProxyType(dict(req.inputs)),
                       approved_by=approved_by, ts=ctx.now)

    def release(self, verdict: Verdict) -> list[ReleasedWrite]:
        """The writes of a released verdict; raises CommandRefusedError for any other."""
        if not verdict.released:
            raise CommandRefusedError(verdict)
        return [ReleasedWrite(verdict.twin, name, value, verdict_id=verdict.id,
                              token=_GATE_TOKEN) for name, value in verdict.inputs.items()]
