from __future__ import annotations

from fractions import Fraction

import hypothesis.strategies as st
from hypothesis import given

from processtwin.physics.dimcheck import DimMath, Dq
from processtwin.pipeline.units import parse_unit

UNITS = ["m", "kg", "s", "K", "mol", "l", "h", "kJ", "W", "bar", "m^3/s", "mol/l", "1/h",
         "kJ/(kg*K)", "degC", "cm^2", "V", "1"]


@given(st.sampled_from(UNITS), st.sampled_from(UNITS))
def test_products_and_quotients_compose_like_the_parser(a: str, b: str) -> None:
    m = DimMath()
    qa, qb = m.quantity(a, "a"), m.quantity(b, "b")
    for got, want in ((qa * qb, parse_unit(a) * parse_unit(b)),
                      (qa / qb, parse_unit(a) / parse_unit(b))):
        assert got.dim == want.dim
        assert abs(got.scale - want.scale) <= 1e-12 * abs(want.scale)
    assert not m.record.problems


@given(st.sampled_from(UNITS), st.sampled_from(UNITS))
def test_a_sum_is_flagged_exactly_when_units_differ(a: str, b: str) -> None:
    m = DimMath()
    ua, ub = parse_unit(a), parse_unit(b)
    _ = m.quantity(a, "a") + m.quantity(b, "b")
    same = ua.dim == ub.dim and abs(ua.scale - ub.scale) <= 1e-9 * ua.scale
    assert bool(m.record.problems) == (not same)


@given(st.sampled_from(UNITS), st.integers(-3, 3))
def test_integer_powers_and_square_roots(a: str, k: int) -> None:
    m = DimMath()
    q = m.quantity(a, "a")
    p = q**k
    assert p.dim == tuple(d * k for d in parse_unit(a).dim)
    r = m.sqrt(q * q)
    assert isinstance(r, Dq) and r.dim == q.dim
    assert m.sqrt(q).dim == tuple(d * Fraction(1, 2) for d in q.dim)  # type: ignore[union-attr]


def test_functions_need_dimensionless_arguments_of_scale_one() -> None:
    m = DimMath()
    ratio = m.quantity("mol/l", "c") / m.quantity("mol/m^3", "c_ref")  # dimensionless, 1000
    m.exp(ratio)
    m.log(m.quantity("K", "T") / m.quantity("K", "T0"))
    assert len(m.record.problems) == 1 and "exp" in m.record.problems[0]


def test_convert_retags_and_checks_the_source_unit() -> None:
    m = DimMath()
    v = m.quantity("m^3/s", "q")
    out = m.convert(v, parse_unit("m^3/s"), parse_unit("l/min"))
    assert isinstance(out, Dq) and abs(out.scale - 1e-3 / 60) < 1e-15
    m.convert(v, parse_unit("l/min"), parse_unit("m^3/s"))
    assert len(m.record.problems) == 1
