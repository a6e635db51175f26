"""The safe expression evaluator and the unit algebra."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from processtwin.errors import InvalidInputError, UnitError
from processtwin.pipeline.expr import parse_expression
from processtwin.pipeline.units import DIMENSIONLESS, dim_text, parse_unit


@pytest.mark.parametrize("text", [
    "__import__('os').system('true')",
    "x.__class__",
    "x[0]",
    "(lambda: 1)()",
    "[a for a in x]",
    "x if y else z",
    "x < y",
    "open('f')",
    "sqrt(x=1)",
    "min(*x)",
    "'a' * 3",
    "True + 1",
    "f'{x}'",
    "x and y",
    "max(x)",
    "abs(x, y)",
    "sqrt()",
    "1j * x",
    "x @ y",
    "x // 2",
    "x % 2",
])
def test_anything_off_the_whitelist_is_refused_before_it_runs(text: str) -> None:
    with pytest.raises(InvalidInputError):
        parse_expression(text)


def test_syntax_errors_and_monsters_are_refused_with_a_place() -> None:
    with pytest.raises(InvalidInputError, match="column"):
        parse_expression("x + * y")
    with pytest.raises(InvalidInputError, match="longer"):
        parse_expression("x+" * 2000 + "x")
    with pytest.raises(InvalidInputError):
        parse_expression("(" * 300 + "x" + ")" * 300)


OPS = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b}


@st.composite
def trees(draw: st.DrawFn, depth: int = 0) -> tuple[str, object]:
    """An expression text and a per-value reference function of (x, y)."""
    if depth > 3 or draw(st.booleans()):
        leaf = draw(st.sampled_from(["x", "y", "2.5", "3"]))
        return leaf, (lambda x, y, leaf=leaf: {"x": x, "y": y}.get(leaf) if leaf in "xy"
                      else float(leaf))
    kind = draw(st.sampled_from(["bin", "neg", "abs", "min", "max", "sqrt", "exp", "div"]))
    a_text, a = draw(trees(depth + 1))
    if kind in ("bin", "min", "max", "div"):
        b_text, b = draw(trees(depth + 1))
    if kind == "bin":
        op = draw(st.sampled_from(sorted(OPS)))
        return f"({a_text} {op} {b_text})", lambda x, y: OPS[op](a(x, y), b(x, y))
    if kind == "div":
        return f"({a_text} / (abs({b_text}) + 1))", lambda x, y: a(x, y) / (abs(b(x, y)) + 1)
    if kind == "neg":
        return f"-{a_text}", lambda x, y: -a(x, y)
    if kind in ("min", "max"):
        fn = min if kind == "min" else max
        return f"{kind}({a_text}, {b_text})", lambda x, y: fn(a(x, y), b(x, y))
    if kind == "sqrt":
        return f"sqrt(abs({a_text}))", lambda x, y: math.sqrt(abs(a(x, y)))
    if kind == "exp":
        return f"exp(min({a_text}, 5))", lambda x, y: math.exp(min(a(x, y), 5))
    return f"abs({a_text})", lambda x, y: abs(a(x, y))


@settings(max_examples=300, deadline=None)
@given(trees(), st.lists(st.tuples(st.floats(-50, 50), st.floats(-50, 50)), min_size=1,
                          max_size=8))
def test_vectorised_evaluation_equals_per_value_python(tree: tuple[str, object],
                                                       points: list[tuple[float, float]]
                                                       ) -> None:
    text, ref = tree
    e = parse_expression(text)
    xs = np.array([p[0] for p in points])
    ys = np.array([p[1] for p in points])
    got = np.broadcast_to(e({"x": xs, "y": ys}), xs.shape)
    want = [ref(x, y) for x, y in points]  # type: ignore[operator]
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_bad_domains_give_nan_or_inf_instead_of_raising() -> None:
    e = parse_expression("log(x) + 1 / y")
    out = e({"x": np.array([-1.0, 1.0]), "y": np.array([1.0, 0.0])})
    assert np.isnan(out[0]) and np.isinf(out[1])
    with pytest.raises(InvalidInputError, match="no value"):
        e({"x": 1.0})


def D(**kw: float) -> tuple[Fraction, ...]:
    from processtwin.pipeline.units import BASE
    return tuple(Fraction(kw.get(b, 0)).limit_denominator() for b in BASE)


@pytest.mark.parametrize(("text", "dims"), [
    ("F * rho * cp * (T2 - T1)", D(kg=1, m=2, s=-3)),
    ("sqrt(A)", D(m=1)),
    ("A ** 1.5", D(m=3)),
    ("exp(-E / (R * T2))", DIMENSIONLESS),
    ("max(T1, T2) - min(T1, T2)", D(K=1)),
    ("x ** y", DIMENSIONLESS),
])
def test_dimensions_are_computed(text: str, dims: tuple[Fraction, ...]) -> None:
    env = {"F": D(m=3, s=-1), "rho": D(kg=1, m=-3), "cp": D(m=2, s=-2, K=-1),
           "T1": D(K=1), "T2": D(K=1), "A": D(m=2), "E": D(kg=1, m=2, s=-2, mol=-1),
           "R": D(kg=1, m=2, s=-2, K=-1, mol=-1), "x": DIMENSIONLESS, "y": DIMENSIONLESS}
    assert parse_expression(text).dimension(env) == dims


@pytest.mark.parametrize(("text", "match"), [
    ("F + T1", "cannot add"),
    ("T1 - F", "cannot subtract"),
    ("exp(T1)", "dimensionless"),
    ("F ** x", "constant exponent"),
    ("x ** T1", "exponent must be dimensionless"),
    ("min(T1, F)", "differ in dimension"),
])
def test_dimension_errors_say_what_is_wrong(text: str, match: str) -> None:
    env = {"F": D(m=3, s=-1), "T1": D(K=1), "x": DIMENSIONLESS}
    with pytest.raises(UnitError, match=match):
        parse_expression(text).dimension(env)


@pytest.mark.parametrize(("text", "scale", "dims", "offset"), [
    ("kJ/(kg*K)", 1000.0, D(m=2, s=-2, K=-1), 0.0),
    ("kJ/kg/K", 1000.0, D(m=2, s=-2, K=-1), 0.0),
    ("kJ/(kg·degC)", 1000.0, D(m=2, s=-2, K=-1), 0.0),  # a difference inside a compound
    ("m3/h", 1 / 3600, D(m=3, s=-1), 0.0),
    ("m^3/h", 1 / 3600, D(m=3, s=-1), 0.0),
    ("1/h", 1 / 3600, D(s=-1), 0.0),
    ("mol/l", 1000.0, D(mol=1, m=-3), 0.0),
    ("W/m^-2", 1.0, D(kg=1, m=4, s=-3), 0.0),
    ("kg m s-2", 1.0, D(kg=1, m=1, s=-2), 0.0),
    ("%", 0.01, DIMENSIONLESS, 0.0),
    ("", 1.0, DIMENSIONLESS, 0.0),
    ("degC", 1.0, D(K=1), 273.15),
    ("degF", 5 / 9, D(K=1), 255.3722222222222),
    ("barg", 1e5, D(kg=1, m=-1, s=-2), 101325.0),
    ("kPa", 1e3, D(kg=1, m=-1, s=-2), 0.0),
    ("degreeCelsius", 1.0, D(K=1), 273.15),
    ("litrePerHour", 1e-3 / 3600, D(m=3, s=-1), 0.0),
    ("kilowatt", 1e3, D(kg=1, m=2, s=-3), 0.0),
])
def test_units_parse_to_scale_dimension_and_offset(text: str, scale: float,
                                                   dims: tuple[Fraction, ...], offset: float
                                                   ) -> None:
    u = parse_unit(text)
    assert u.scale == pytest.approx(scale) and u.dim == dims
    assert u.offset == pytest.approx(offset)


@pytest.mark.parametrize("text", ["furlong", "kg/(m", "2*kg", "m^x", "m^1.5", "kg)", "K^"])
def test_bad_units_are_refused(text: str) -> None:
    with pytest.raises(UnitError):
        parse_unit(text)


def test_unit_conversion_round_trips_and_text() -> None:
    f = parse_unit("degF")
    assert f.to_si(212.0) == pytest.approx(373.15)
    assert f.from_si(f.to_si(-40.0)) == pytest.approx(-40.0)
    assert dim_text(parse_unit("kJ/h").dim) == "kg·m^2·s^-3"
