"""A small dimension algebra for checking and converting the units of derived points.

A :class:`Unit` is an affine map to coherent SI plus a dimension vector over the SI base
quantities (m, kg, s, K, mol, A, cd)::

    x_SI = scale · x + offset

``offset`` is non-zero only for absolute scales with a shifted zero (``degC``, ``degF``,
gauge pressures ``barg``/``psig``), and only when such a unit stands alone. Inside a compound
it means a difference, as engineers write it: ``kJ/(kg*degC)`` is ``kJ/(kg*K)`` and
``degC/h`` is ``K/h``. A lone *difference* is written ``K`` or ``delta_degC``. Exponents are
fractions so that ``sqrt`` of an area is a length.

:func:`parse_unit` reads the symbols the point tables use (``degC``, ``kJ/h``, ``mol/l``,
``m3/h``, ``kJ/(kg*K)``, ``W/m^2``, ``1/h``, ``%``) and the DTDL unit names
(``degreeCelsius``, ``litrePerHour``, ...; see :data:`DTDL_UNITS`). Products are written with
``*``, ``·`` or a space, quotients with ``/`` (left-associative: ``kJ/kg/K`` is
``kJ/(kg*K)``), powers with ``^``, ``**`` or a trailing integer (``m3``).

Why not pint: this covers the checks derived points need (dimensions, scale, offset) in one
short module with no dependency; pint would add a large registry and its own quantity type
to the hot path. Sources for the factors: BIPM, *The International System of Units*, 9th ed.
(2019), and NIST SP 811 (2008), appendix B.

Example:
    >>> u = parse_unit("kJ/h")
    >>> round(u.scale, 6), u.dimension_text()
    (0.277778, 'kg·m^2·s^-3')
    >>> parse_unit("degC").to_si(25.0)
    298.15
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from processtwin.errors import UnitError

__all__ = ["BASE", "DIMENSIONLESS", "DTDL_UNITS", "Dim", "Unit", "parse_unit"]

#: The SI base quantities, in the order of a dimension vector.
BASE = ("m", "kg", "s", "K", "mol", "A", "cd")
_ORDER = (1, 0, 2, 3, 4, 5, 6)  # display order: kg first, then m, s, K, ...

Dim = tuple[Fraction, ...]
DIMENSIONLESS: Dim = (Fraction(0),) * 7


def _dim(**exps: int) -> Dim:
    return tuple(Fraction(exps.get(b, 0)) for b in BASE)


@dataclass(frozen=True, slots=True)
class Unit:
    """``x_SI = scale·x + offset`` with dimension ``dim`` (exponents over :data:`BASE`)."""

    scale: float
    dim: Dim
    offset: float = 0.0
    text: str = ""

    # a compound never keeps an offset: inside one, degC means a difference of degC
    def __mul__(self, other: Unit) -> Unit:
        return Unit(self.scale * other.scale, _add(self.dim, other.dim))

    def __truediv__(self, other: Unit) -> Unit:
        return Unit(self.scale / other.scale, _add(self.dim, _neg(other.dim)))

    def __pow__(self, p: int | Fraction) -> Unit:
        return Unit(self.scale ** float(p), tuple(d * p for d in self.dim))

    @property
    def dimensionless(self) -> bool:
        return self.dim == DIMENSIONLESS

    def to_si(self, x: float) -> float:
        return self.scale * x + self.offset

    def from_si(self, x: float) -> float:
        return (x - self.offset) / self.scale

    def dimension_text(self) -> str:
        return dim_text(self.dim)


def dim_text(dim: Dim) -> str:
    """``kg·m^2·s^-3`` style text of a dimension vector; ``1`` when dimensionless."""
    parts = []
    for i in _ORDER:
        e = dim[i]
        if e:
            parts.append(BASE[i] if e == 1 else f"{BASE[i]}^{e}")
    return "·".join(parts) or "1"


def _add(a: Dim, b: Dim) -> Dim:
    return tuple(x + y for x, y in zip(a, b, strict=True))


def _neg(a: Dim) -> Dim:
    return tuple(-x for x in a)


_PA = _dim(kg=1, m=-1, s=-2)
_J = _dim(kg=1, m=2, s=-2)
_ATM = 101325.0
#: symbol -> (scale to SI, dimension, offset, takes SI prefixes)
_SYMBOLS: dict[str, tuple[float, Dim, float, bool]] = {
    "1": (1.0, DIMENSIONLESS, 0.0, False),
    "%": (0.01, DIMENSIONLESS, 0.0, False),
    "ppm": (1e-6, DIMENSIONLESS, 0.0, False),
    "ppb": (1e-9, DIMENSIONLESS, 0.0, False),
    "rad": (1.0, DIMENSIONLESS, 0.0, False),
    "m": (1.0, _dim(m=1), 0.0, True),
    "g": (1e-3, _dim(kg=1), 0.0, True),
    "t": (1e3, _dim(kg=1), 0.0, False),
    "lb": (0.45359237, _dim(kg=1), 0.0, False),
    "s": (1.0, _dim(s=1), 0.0, True),
    "min": (60.0, _dim(s=1), 0.0, False),
    "h": (3600.0, _dim(s=1), 0.0, False),
    "d": (86400.0, _dim(s=1), 0.0, False),
    "K": (1.0, _dim(K=1), 0.0, False),
    "degC": (1.0, _dim(K=1), 273.15, False),
    "degF": (5.0 / 9.0, _dim(K=1), 273.15 - 32.0 * 5.0 / 9.0, False),
    "delta_degC": (1.0, _dim(K=1), 0.0, False),
    "delta_degF": (5.0 / 9.0, _dim(K=1), 0.0, False),
    "mol": (1.0, _dim(mol=1), 0.0, True),
    "A": (1.0, _dim(A=1), 0.0, True),
    "cd": (1.0, _dim(cd=1), 0.0, False),
    "l": (1e-3, _dim(m=3), 0.0, True),
    "L": (1e-3, _dim(m=3), 0.0, True),
    "Hz": (1.0, _dim(s=-1), 0.0, True),
    "N": (1.0, _dim(kg=1, m=1, s=-2), 0.0, True),
    "Pa": (1.0, _PA, 0.0, True),
    "bar": (1e5, _PA, 0.0, True),
    "barg": (1e5, _PA, _ATM, False),
    "atm": (_ATM, _PA, 0.0, False),
    "psi": (6894.757293168361, _PA, 0.0, False),
    "psig": (6894.757293168361, _PA, _ATM, False),
    "mmHg": (133.322387415, _PA, 0.0, False),
    "J": (1.0, _J, 0.0, True),
    "cal": (4.184, _J, 0.0, True),
    "Wh": (3600.0, _J, 0.0, True),
    "W": (1.0, _dim(kg=1, m=2, s=-3), 0.0, True),
    "V": (1.0, _dim(kg=1, m=2, s=-3, A=-1), 0.0, True),
}
_PREFIXES = {"G": 1e9, "M": 1e6, "k": 1e3, "h": 1e2, "d": 1e-1, "c": 1e-2, "m": 1e-3,
             "u": 1e-6, "µ": 1e-6, "n": 1e-9}

#: DTDL unit names (QuantitativeTypes) that map onto symbols; others are refused by name.
DTDL_UNITS: dict[str, str] = {
    "unity": "1", "percent": "%", "partsPerMillion": "ppm", "partsPerBillion": "ppb",
    "radian": "rad",
    "metre": "m", "centimetre": "cm", "millimetre": "mm", "kilometre": "km",
    "kilogram": "kg", "gram": "g", "milligram": "mg", "tonne": "t", "massPound": "lb",
    "second": "s", "millisecond": "ms", "minute": "min", "hour": "h", "day": "d",
    "kelvin": "K", "degreeCelsius": "degC", "degreeFahrenheit": "degF",
    "ampere": "A", "milliampere": "mA", "volt": "V", "millivolt": "mV", "hertz": "Hz",
    "newton": "N",
    "squareMetre": "m^2", "cubicMetre": "m^3", "litre": "l", "millilitre": "ml",
    "kilogramPerCubicMetre": "kg/m^3", "gramPerCubicMetre": "g/m^3",
    "pascal": "Pa", "kilopascal": "kPa", "hectopascal": "hPa", "bar": "bar",
    "millibar": "mbar", "poundPerSquareInch": "psi", "millimetresOfMercury": "mmHg",
    "joule": "J", "kilojoule": "kJ", "megajoule": "MJ", "gigajoule": "GJ",
    "kilowattHour": "kWh", "megawattHour": "MWh", "wattHour": "Wh",
    "watt": "W", "kilowatt": "kW", "megawatt": "MW", "joulePerSecond": "J/s",
    "kilojoulePerHour": "kJ/h", "megajoulePerHour": "MJ/h", "gigajoulePerHour": "GJ/h",
    "kilojoulePerSecond": "kJ/s",
    "metrePerSecond": "m/s", "kilometrePerHour": "km/h",
    "gramPerSecond": "g/s", "kilogramPerSecond": "kg/s", "gramPerHour": "g/h",
    "kilogramPerHour": "kg/h",
    "cubicMetrePerHour": "m^3/h", "cubicMetrePerSecond": "m^3/s",
    "cubicMetrePerMinute": "m^3/min", "litrePerSecond": "l/s", "litrePerMinute": "l/min",
    "litrePerHour": "l/h", "millilitrePerSecond": "ml/s", "millilitrePerMinute": "ml/min",
    "millilitrePerHour": "ml/h",
    "revolutionPerMinute": "1/min", "revolutionPerSecond": "1/s",
    "radianPerSecond": "rad/s", "wattPerSquareMetre": "W/m^2",
}

_TOKEN = re.compile(r"\s*(?:(?P<num>\d+(?:\.\d+)?)(?![A-Za-z_%µ])|(?P<sym>[A-Za-z_%µ]+)"
                    r"(?P<exp>-?\d+)?|(?P<op>\*\*|[*/^()·.-]))")


def _symbol(name: str, text: str) -> Unit:
    if name in _SYMBOLS:
        scale, dim, offset, _ = _SYMBOLS[name]
        return Unit(scale, dim, offset, name)
    if name[:1] in _PREFIXES and name[1:] in _SYMBOLS and _SYMBOLS[name[1:]][3]:
        scale, dim, offset, _ = _SYMBOLS[name[1:]]
        return Unit(_PREFIXES[name[0]] * scale, dim, offset, name)
    raise UnitError(f"unknown unit {name!r} in {text!r}")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks: list[tuple[str, str]] = []
        pos = 0
        stripped = text.strip()
        while pos < len(stripped):
            m = _TOKEN.match(stripped, pos)
            if m is None or m.end() == pos:
                raise UnitError(f"cannot read unit {text!r} at {stripped[pos:]!r}")
            pos = m.end()
            if m.group("num"):
                self.toks.append(("num", m.group("num")))
            elif m.group("sym"):
                self.toks.append(("sym", m.group("sym")))
                if m.group("exp"):
                    self.toks.append(("op", "^"))
                    self.toks.append(("num", m.group("exp")))
            elif m.group("op"):
                op = m.group("op")
                self.toks.append(("op", {"**": "^", "·": "*", ".": "*"}.get(op, op)))
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise UnitError(f"unit {self.text!r} ends too early")
        self.i += 1
        return tok

    def product(self) -> Unit:
        u = self.power()
        while (tok := self.peek()) is not None and tok != ("op", ")"):
            if tok == ("op", "*"):
                self.i += 1
                u = u * self.power()
            elif tok == ("op", "/"):
                self.i += 1
                u = u / self.power()
            elif tok[0] in ("sym", "num") or tok == ("op", "("):
                u = u * self.power()  # juxtaposition: "kg m"
            else:
                raise UnitError(f"unexpected {tok[1]!r} in unit {self.text!r}")
        return u

    def power(self) -> Unit:
        u = self.atom()
        if self.peek() == ("op", "^"):
            self.i += 1
            kind, val = self.take()
            sign = 1
            if (kind, val) == ("op", "-"):
                kind, val = self.take()
                sign = -1
            if kind != "num" or "." in val:
                raise UnitError(f"exponent must be an integer in unit {self.text!r}")
            u = u ** (sign * int(val))
        return u

    def atom(self) -> Unit:
        kind, val = self.take()
        if kind == "num":
            if float(val) != 1.0:
                raise UnitError(f"only the number 1 may stand in unit {self.text!r}")
            return Unit(1.0, DIMENSIONLESS, 0.0, "1")
        if kind == "sym":
            return _symbol(val, self.text)
        if val == "(":
            u = self.product()
            if self.take() != ("op", ")"):
                raise UnitError(f"unbalanced parentheses in unit {self.text!r}")
            return u
        raise UnitError(f"unexpected {val!r} in unit {self.text!r}")


def parse_unit(text: str) -> Unit:
    """Parse a unit symbol expression or a DTDL unit name; raises :class:`UnitError`.

    An empty text is dimensionless (scale 1).
    """
    key = text.strip()
    if not key:
        return Unit(1.0, DIMENSIONLESS, 0.0, "")
    key = DTDL_UNITS.get(key, key)
    p = _Parser(key)
    u = p.product()
    if p.peek() is not None:
        raise UnitError(f"unbalanced parentheses in unit {text!r}")
    return Unit(u.scale, u.dim, u.offset, text.strip())
