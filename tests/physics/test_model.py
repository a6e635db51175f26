from __future__ import annotations

import pickle
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytest

from processtwin.errors import ModelDefinitionError, UnitError
from processtwin.physics import ProcessModel, Var, gravity_tank, van_de_vusse
from processtwin.physics.cstr import _rhs as vdv_rhs


def _tank(rhs: Any, *, alg: Any = None, algebraic: tuple[Var, ...] = (),
          outputs: tuple[str, ...] = (), time_unit: str = "s", **kw: Any) -> ProcessModel:
    return ProcessModel(
        name="t",
        states=(Var(name="h", unit=kw.get("h_unit", "m"), nominal=1.0, lo=0.0, hi=5.0),),
        inputs=(Var(name="q", unit="m^3/s", nominal=0.01, lo=0.0, hi=1.0),),
        params=(Var(name="A", unit="m^2", nominal=2.0), Var(name="k", unit="m^2", nominal=0.01),
                Var(name="g", unit="m/s^2", nominal=1.0)),
        rhs=rhs, alg=alg, algebraic=algebraic, outputs=outputs, time_unit=time_unit)


def _good(m: Any, x: Sequence[Any], u: Sequence[Any], p: Mapping[str, Any]) -> list[Any]:
    return [(u[0] - p["k"] * m.sqrt(p["g"] * x[0])) / p["A"]]


def test_a_consistent_model_builds_and_evaluates() -> None:
    m = _tank(_good)
    assert m.f([1.0], [0.01]) == pytest.approx([0.0])
    assert m.f([4.0], [0.01]) == pytest.approx([(0.01 - 0.02) / 2.0])


def test_a_term_in_the_wrong_dimension_is_a_unit_error_naming_it() -> None:
    def bad(m: Any, x: Sequence[Any], u: Sequence[Any], p: Mapping[str, Any]) -> list[Any]:
        return [u[0] - p["k"] * m.sqrt(p["g"] * x[0]) / p["A"]]  # forgot to divide q by A

    with pytest.raises(UnitError, match="cannot subtract q"):
        _tank(bad)


def test_a_derivative_in_the_wrong_unit_is_a_unit_error() -> None:
    # right dimensions in every sum, but dh/dt comes out in m^3/s, not m/s
    def bad(m: Any, x: Sequence[Any], u: Sequence[Any], p: Mapping[str, Any]) -> list[Any]:
        return [u[0] - p["k"] * p["A"] * m.sqrt(p["g"] * x[0]) / p["A"]]

    with pytest.raises(UnitError, match=r"dh/dt comes out in \[m\^3·s\^-1\]"):
        _tank(bad)


def test_the_scale_of_a_unit_counts_not_only_its_dimension() -> None:
    # the same equation with the level declared in cm: the outflow comes out 10x off
    with pytest.raises(UnitError, match=r"cannot subtract q \[m\^3·s\^-1\] and .*0\.1·m\^3"):
        _tank(_good, h_unit="cm")
    # and declared per hour instead of per second
    with pytest.raises(UnitError, match="per h"):
        _tank(_good, time_unit="h")


def test_exp_of_a_dimensional_quantity_is_a_unit_error() -> None:
    def bad(m: Any, x: Sequence[Any], u: Sequence[Any], p: Mapping[str, Any]) -> list[Any]:
        return [(u[0] - p["k"] * m.sqrt(p["g"] * x[0]) * m.exp(x[0])) / p["A"]]

    with pytest.raises(UnitError, match=r"exp\(h\) needs a dimensionless argument"):
        _tank(bad)


def test_every_unit_problem_is_reported_at_once() -> None:
    m = van_de_vusse()

    def bad(mm: Any, x: Sequence[Any], u: Sequence[Any], p: Mapping[str, Any]) -> list[Any]:
        d = list(vdv_rhs(mm, x, u, p))
        d[3] = d[3] + x[0]
        d[2] = d[2] * p["V_R"]
        return d

    with pytest.raises(UnitError, match="2 unit problem") as err:
        ProcessModel(name="b", states=m.states, inputs=m.inputs, params=m.params, rhs=bad)
    assert "dT_R/dt" in str(err.value) and "C_a" in str(err.value)


def test_literals_adopt_units_in_sums_and_zero_has_every_unit() -> None:
    def rhs(m: Any, x: Sequence[Any], u: Sequence[Any], p: Mapping[str, Any]) -> list[Any]:
        out = (u[0] + 0.0 - p["k"] * m.sqrt(p["g"] * m.fmax(x[0], 1e-9) + 0.0)) / p["A"]
        return [out + 0.0 * x[0]]

    assert _tank(rhs).nx == 1


def test_algebraic_outputs_are_unit_checked_and_measurable() -> None:
    def alg(m: Any, x: Sequence[Any], u: Sequence[Any], p: Mapping[str, Any]) -> list[Any]:
        return [p["k"] * m.sqrt(p["g"] * x[0]), p["A"] * x[0]]

    q_out = Var(name="q_out", unit="m^3/s", nominal=0.01)
    vol = Var(name="V", unit="l", nominal=2000.0)  # declared in litres: a scale mismatch
    with pytest.raises(UnitError, match="V comes out in"):
        _tank(_good, alg=alg, algebraic=(q_out, vol))
    vol = Var(name="V", unit="m^3", nominal=2.0)
    m = _tank(_good, alg=alg, algebraic=(q_out, vol), outputs=("V", "h", "q"))
    assert m.output_index("V") == ("z", 1)
    y = m.y(np.array([[4.0], [1.0]]), [0.5])
    np.testing.assert_allclose(y, [[8.0, 4.0, 0.5], [2.0, 1.0, 0.5]])
    np.testing.assert_allclose(np.array(m.casadi_y([4.0], [0.5], m.param_vector())).ravel(),
                               [8.0, 4.0, 0.5])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"outputs": ("nope",)}, "neither a state"),
        ({"time_unit": "m"}, "is not a time"),
        ({"algebraic": (Var(name="z", unit="1", nominal=0.0),)}, "no alg function"),
    ],
)
def test_structural_problems_are_model_definition_errors(change: dict[str, Any],
                                                         message: str) -> None:
    with pytest.raises(ModelDefinitionError, match=message):
        _tank(_good, **change)


def test_nominal_point_must_be_finite() -> None:
    def rhs(m: Any, x: Sequence[Any], u: Sequence[Any], p: Mapping[str, Any]) -> list[Any]:
        return [(u[0] - p["k"] * m.sqrt(p["g"] * (x[0] - 2.0))) / p["A"]]  # sqrt(-1) at h = 1

    with pytest.raises(ModelDefinitionError, match="not finite"):
        _tank(rhs)


def test_params_may_be_arrays_per_scenario() -> None:
    m = gravity_tank()
    a = np.array([0.001, 0.002, 0.004])
    batch = m.f(np.full((3, 1), 1.0), m.u0, {"a": a})
    for i in range(3):
        np.testing.assert_allclose(batch[i], m.f([1.0], m.u0, {"a": a[i]}))
    # a scalar state with per-scenario parameters broadcasts too
    assert m.f([1.0], m.u0, {"a": a}).shape == (3, 1)


def test_a_model_pickles_without_its_compiled_functions() -> None:
    m = van_de_vusse()
    _ = m.casadi_rhs, m.jacobian_batched
    m2 = pickle.loads(pickle.dumps(m))
    np.testing.assert_array_equal(m2.f(m.x0, m.u0), m.f(m.x0, m.u0))
    np.testing.assert_allclose(m2.jacobian(m.x0, m.u0), m.jacobian(m.x0, m.u0))
    assert m2.nominal_params == m.nominal_params


def test_batched_jacobian_matches_casadi_per_scenario() -> None:
    m = van_de_vusse()
    rng = np.random.default_rng(3)
    x = (m.x0[:, None] * rng.uniform(0.9, 1.1, (4, 5)))
    alpha = rng.uniform(0.9, 1.1, 5)
    pv = [alpha if v.name == "alpha" else m.nominal_params[v.name] for v in m.params]
    jb = m.jacobian_batched(x, list(m.u0), pv)
    for i in range(5):
        np.testing.assert_allclose(jb[i], m.jacobian(x[:, i], m.u0, {"alpha": alpha[i]}),
                                   rtol=1e-12)
