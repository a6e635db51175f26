"""Dimension checking of a model's equations by evaluating them on unit-carrying tracers.

A right-hand side is written once against a math namespace ``m``. Evaluated with
:class:`DimMath` and every state, input and parameter replaced by a :class:`Dq` (a scale and
a dimension vector from :func:`~processtwin.pipeline.units.parse_unit`), it computes the unit
of every term instead of its value. The rules::

    [a ± b]  requires dim a = dim b and scale a = scale b   (mol/l + mol/m³ is a mistake)
    [a · b] = [a]·[b]      [a / b] = [a]/[b]      [a^r] = [a]^r (r a number)
    exp, log, tanh, sin, cos take a dimensionless argument of scale 1
    sqrt halves the exponents; fmax, fmin follow the rule of ±; fabs keeps the unit

A derivative must come out in *state unit / time unit* and an algebraic output in its
declared unit, scale included (so a K_w in kJ/(h·m²·K) over a volume in l must still come
out in K/h). Numeric literals are dimensionless factors in products and quotients, and take
the unit of the other operand in sums, as Modelica's unit checking treats literals
(``T + 273.15`` is a temperature); a literal ``0`` times anything is zero in any unit.

Source: the Modelica Language Specification 3.6, section 19.1 (unit expressions, and the
rule that a literal without a unit adopts the unit required by its context); the dimension
algebra of :mod:`processtwin.pipeline.units` (BIPM SI brochure, 9th ed.).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from numbers import Real
from typing import Any

import numpy as np

from processtwin.pipeline.units import Dim, Unit, dim_text, parse_unit

__all__ = ["DimMath", "Dq", "check_equations", "unit_text"]

_RTOL = 1e-9


@dataclass
class _Log:
    problems: list[str] = field(default_factory=list)

    def add(self, text: str) -> None:
        if text not in self.problems:
            self.problems.append(text)


def unit_text(scale: float, dim: Dim) -> str:
    """``3600·s`` style text: the SI dimension with the scale when it is not 1."""
    d = dim_text(dim)
    return d if _close(scale, 1.0) else f"{scale:.6g}·{d}"


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= _RTOL * max(abs(a), abs(b))


def _literal(v: object) -> bool:
    return isinstance(v, Real | np.ndarray | np.generic) and not isinstance(v, bool)


class Dq:
    """A quantity known only by its unit: ``scale`` to SI and dimension ``dim``.

    ``dim is None`` marks *any unit* (a literal zero, a result already in error).
    """

    __slots__ = ("dim", "label", "log", "scale")

    def __init__(self, scale: float, dim: Dim | None, label: str, log: _Log) -> None:
        self.scale = scale
        self.dim = dim
        self.label = label if len(label) <= 60 else label[:57] + "..."
        self.log = log

    def __repr__(self) -> str:
        return f"Dq({self.label} [{self.unit_str()}])"

    def unit_str(self) -> str:
        return "any" if self.dim is None else unit_text(self.scale, self.dim)

    def _new(self, scale: float, dim: Dim | None, label: str) -> Dq:
        return Dq(scale, dim, label, self.log)

    def _sum(self, other: object, op: str, swap: bool = False) -> Dq:
        if not isinstance(other, Dq):
            if not _literal(other):
                return NotImplemented  # type: ignore[no-any-return]
            lab = f"{other!r} {op} {self.label}" if swap else f"{self.label} {op} {other!r}"
            return self._new(self.scale, self.dim, f"({lab})")
        lab = f"({other.label} {op} {self.label})" if swap else f"({self.label} {op} {other.label})"
        if self.dim is None:
            return self._new(other.scale, other.dim, lab)
        if other.dim is None:
            return self._new(self.scale, self.dim, lab)
        if self.dim != other.dim or not _close(self.scale, other.scale):
            self.log.add(f"cannot {'add' if op == '+' else 'subtract'} {self.label} "
                         f"[{self.unit_str()}] and {other.label} [{other.unit_str()}]")
            return self._new(1.0, None, lab)
        return self._new(self.scale, self.dim, lab)

    def __add__(self, other: object) -> Dq:
        return self._sum(other, "+")

    def __radd__(self, other: object) -> Dq:
        return self._sum(other, "+", swap=True)

    def __sub__(self, other: object) -> Dq:
        return self._sum(other, "-")

    def __rsub__(self, other: object) -> Dq:
        return self._sum(other, "-", swap=True)

    def __neg__(self) -> Dq:
        return self._new(self.scale, self.dim, f"-{self.label}")

    def __pos__(self) -> Dq:
        return self

    def _prod(self, other: object, sign: int, swap: bool = False) -> Dq:
        op = "*" if sign > 0 else "/"
        if not isinstance(other, Dq):
            if not _literal(other):
                return NotImplemented  # type: ignore[no-any-return]
            lab = f"{other!r}{op}{self.label}" if swap else f"{self.label}{op}{other!r}"
            if sign > 0 and np.all(np.asarray(other) == 0):
                return self._new(1.0, None, lab)  # zero has every unit
            if self.dim is None:
                return self._new(1.0, None, lab)
            if swap and sign < 0:  # literal / self
                return self._new(1.0 / self.scale, tuple(-d for d in self.dim), lab)
            return self._new(self.scale, self.dim, lab)
        a, b = (other, self) if swap else (self, other)
        blab = f"({b.label})" if sign < 0 and any(c in b.label for c in "*/") else b.label
        lab = f"{a.label}{op}{blab}"
        if a.dim is None or b.dim is None:
            return self._new(1.0, None, lab)
        if sign > 0:
            return self._new(a.scale * b.scale,
                             tuple(x + y for x, y in zip(a.dim, b.dim, strict=True)), lab)
        return self._new(a.scale / b.scale,
                         tuple(x - y for x, y in zip(a.dim, b.dim, strict=True)), lab)

    def __mul__(self, other: object) -> Dq:
        return self._prod(other, 1)

    def __rmul__(self, other: object) -> Dq:
        return self._prod(other, 1, swap=True)

    def __truediv__(self, other: object) -> Dq:
        return self._prod(other, -1)

    def __rtruediv__(self, other: object) -> Dq:
        return self._prod(other, -1, swap=True)

    def dimensionless(self) -> bool:
        return self.dim is None or (all(d == 0 for d in self.dim) and _close(self.scale, 1.0))

    def __pow__(self, other: object) -> Dq:
        base = f"({self.label})" if any(c in self.label for c in "*/") else self.label
        lab = f"{base}**{other.label if isinstance(other, Dq) else other!r}"
        if isinstance(other, Dq):
            if not (self.dimensionless() and other.dimensionless()):
                self.log.add(f"power {lab} needs a dimensionless base and exponent")
            return self._new(1.0, (Fraction(0),) * 7, lab)
        if not _literal(other):
            return NotImplemented
        value = np.asarray(other, dtype=np.float64)
        if value.ndim != 0:
            return NotImplemented
        if self.dim is None:
            return self._new(1.0, None, lab)
        r = Fraction(float(value)).limit_denominator(1000)
        return self._new(self.scale ** float(r), tuple(d * r for d in self.dim), lab)

    def __rpow__(self, other: object) -> Dq:
        if not self.dimensionless():
            self.log.add(f"exponent {self.label} [{self.unit_str()}] must be dimensionless")
        return self._new(1.0, (Fraction(0),) * 7, f"{other!r}**{self.label}")


class DimMath:
    """The math namespace for :class:`Dq` tracers, mirroring NumPy's and CasADi's names."""

    def __init__(self) -> None:
        self.record = _Log()

    def quantity(self, unit: str | Unit, label: str) -> Dq:
        """A tracer carrying ``unit`` (text or parsed)."""
        u = parse_unit(unit) if isinstance(unit, str) else unit
        return Dq(u.scale, u.dim, label, self.record)

    def convert(self, v: object, src: Unit, dst: Unit) -> object:
        """``v`` (which must carry ``src``) re-expressed in ``dst``: a unit conversion."""
        if isinstance(v, Dq) and v.dim is not None and (
                v.dim != src.dim or not _close(v.scale, src.scale)):
            self.record.add(f"{v.label} is [{v.unit_str()}], expected "
                            f"[{unit_text(src.scale, src.dim)}]")
        if not isinstance(v, Dq):
            return v
        return Dq(dst.scale, dst.dim, v.label, self.record)

    def _dimensionless(self, fn: str, a: object) -> Dq:
        if isinstance(a, Dq):
            if not a.dimensionless():
                self.record.add(f"{fn}({a.label}) needs a dimensionless argument, got "
                             f"[{a.unit_str()}]")
            return Dq(1.0, (Fraction(0),) * 7, f"{fn}({a.label})", self.record)
        return Dq(1.0, (Fraction(0),) * 7, f"{fn}({a!r})", self.record)

    def exp(self, a: object) -> Dq:
        return self._dimensionless("exp", a)

    def log(self, a: object) -> Dq:
        return self._dimensionless("log", a)

    def tanh(self, a: object) -> Dq:
        return self._dimensionless("tanh", a)

    def sin(self, a: object) -> Dq:
        return self._dimensionless("sin", a)

    def cos(self, a: object) -> Dq:
        return self._dimensionless("cos", a)

    def sqrt(self, a: object) -> Dq | object:
        if not isinstance(a, Dq):
            return a
        return a ** 0.5

    def fabs(self, a: object) -> object:
        return a

    def fmax(self, a: object, b: object) -> object:
        return _pair(a, b, "fmax")

    def fmin(self, a: object, b: object) -> object:
        return _pair(a, b, "fmin")


def _pair(a: object, b: object, fn: str) -> object:
    if isinstance(a, Dq):
        r = a._sum(b, ",")
    elif isinstance(b, Dq):
        r = b._sum(a, ",", swap=True)
    else:
        return a
    r.label = f"{fn}{r.label}"
    return r


def check_equations(
    fn: Any,
    states: Sequence[tuple[str, str]],
    inputs: Sequence[tuple[str, str]],
    params: Sequence[tuple[str, str]],
    expected: Sequence[tuple[str, Unit, str]],
    what: str,
) -> list[str]:
    """Evaluate ``fn(m, x, u, p)`` on tracers; return every unit problem found (empty: fine).

    ``states``, ``inputs`` and ``params`` are ``(name, unit)`` pairs; ``expected`` pairs each
    returned value with the label it is reported under, the unit it must have and that
    unit's text.
    """
    m = DimMath()
    problems = m.record.problems
    x = [m.quantity(u, n) for n, u in states]
    uu = [m.quantity(u, n) for n, u in inputs]
    p: Mapping[str, Dq] = {n: m.quantity(u, n) for n, u in params}
    out = list(fn(m, x, uu, p))
    if len(out) != len(expected):
        return [f"{what} returns {len(out)} values, expected {len(expected)}"]
    for (label, unit, text), v in zip(expected, out, strict=True):
        if not isinstance(v, Dq) or v.dim is None:
            continue  # a literal or a zero: any unit
        if v.dim != unit.dim or not _close(v.scale, unit.scale):
            problems.append(f"{label} comes out in [{v.unit_str()}], expected "
                            f"[{unit_text(unit.scale, unit.dim)}] ({text}):"
                            f" {v.label}")
    return list(problems)
