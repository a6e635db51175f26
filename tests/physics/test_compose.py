from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytest

from processtwin.errors import ModelDefinitionError
from processtwin.physics import (
    ProcessModel,
    Var,
    centrifugal_pump,
    compose,
    exothermic_cstr,
    gravity_tank,
    heat_exchanger,
)

PUMP = {"H0": 20.0, "a_p": 2.0e6, "K_sys": 4.0e6, "Q_bep0": 0.0017}


def _line() -> tuple[ProcessModel, ProcessModel, ProcessModel, ProcessModel]:
    pump = centrifugal_pump(**PUMP)
    tank = gravity_tank(a=6.4e-4)
    reactor = exothermic_cstr()
    plant = compose([("pump", pump), ("tank", tank), ("reactor", reactor)],
                    [("pump.Q", "tank.q_in"), ("tank.h", "pump.H_st"),
                     ("tank.q_out", "reactor.q")], name="line")
    return plant, pump, tank, reactor


def test_pump_tank_reactor_equals_the_parts_wired_by_hand() -> None:
    plant, pump, tank, reactor = _line()
    assert plant.state_names == ("pump.D", "tank.h", "reactor.C_A", "reactor.T", "reactor.T_j")
    assert plant.input_names == ("pump.n", "reactor.T_cin", "reactor.q_c")
    assert plant.time_unit == "s"
    rng = np.random.default_rng(0)
    for _ in range(5):
        x = plant.x0 * rng.uniform(0.9, 1.1, plant.nx) + [0.01, 0, 0, 0, 0]
        u = plant.u0 * rng.uniform(0.9, 1.1, plant.nu)
        d, h, c_a, t, t_j = x
        n, t_cin, q_c = u
        q_pump = pump.z([d], [n, h])[0]
        q_out = tank.z([h], [q_pump])[0]
        q_l_min = q_out * 1000.0 * 60.0
        want = np.concatenate([pump.f([d], [n, h]), tank.f([h], [q_pump]),
                               reactor.f([c_a, t, t_j], [q_l_min, t_cin, q_c]) / 60.0])
        np.testing.assert_allclose(plant.f(x, u), want, rtol=1e-12)
        z = dict(zip(plant.algebraic_names, plant.z(x, u), strict=True))
        assert z["reactor.q"] == pytest.approx(q_l_min)  # fed inputs stay visible
        assert z["pump.H_st"] == pytest.approx(h)
        sym = np.array(plant.casadi_rhs(x, u, plant.param_vector())).ravel()
        np.testing.assert_allclose(sym, want, rtol=1e-10)


def test_composite_parameters_and_outputs_are_prefixed() -> None:
    plant, *_ = _line()
    assert "tank.a" in plant.param_names and "reactor.UA" in plant.param_names
    assert plant.nominal_params["pump.H0"] == 20.0
    assert "tank.q_in" in plant.outputs and "reactor.T" in plant.outputs
    y = plant.y(plant.x0, plant.u0)
    assert y.shape == (len(plant.outputs),)
    x = plant.steady_state(plant.u0, {"pump.k_D": 0.0}, guess=plant.x0)
    assert np.allclose(plant.f(x, plant.u0, {"pump.k_D": 0.0}), 0.0, atol=1e-9)


def test_absolute_temperatures_convert_with_their_offset() -> None:
    # reactor temperature in K feeds the hot inlet of an exchanger in degC
    plant = compose([("r", exothermic_cstr()), ("hx", heat_exchanger(2))],
                    [("r.T", "hx.T_h_in")])
    z = dict(zip(plant.algebraic_names, plant.z(plant.x0, plant.u0), strict=True))
    assert z["hx.T_h_in"] == pytest.approx(plant.x0[1] - 273.15)


def test_a_dimension_mismatch_is_refused_with_both_units() -> None:
    with pytest.raises(ModelDefinitionError, match=r"m\^3/s\] cannot feed r.T_cin \[K\]"):
        compose([("t", gravity_tank()), ("r", exothermic_cstr())], [("t.q_out", "r.T_cin")])


@pytest.mark.parametrize(
    ("connections", "message"),
    [([("t.nope", "r.q")], "not a state or algebraic output"),
     ([("t.q_out", "r.nope")], "not an input"),
     ([("t.q_out", "r.q"), ("t.V", "r.q")], "fed twice"),
     ([("x.q_out", "r.q")], "not PART.VARIABLE")],
)
def test_bad_connections_are_refused(connections: list[tuple[str, str]], message: str) -> None:
    with pytest.raises(ModelDefinitionError, match=message):
        compose([("t", gravity_tank()), ("r", exothermic_cstr())], connections)


def test_recycles_through_states_are_not_algebraic_loops() -> None:
    # each tank's outflow depends on its level only, so a - b - a is no loop
    two = compose([("a", gravity_tank()), ("b", gravity_tank())],
                  [("a.q_out", "b.q_in"), ("b.q_out", "a.q_in")])
    assert two.nu == 0
    x = np.array([1.0, 0.25])
    qa, qb = gravity_tank().z([1.0], [0.0])[0], gravity_tank().z([0.25], [0.0])[0]
    area = gravity_tank().nominal_params["A"]
    np.testing.assert_allclose(two.f(x, np.zeros(0)), [(qb - qa) / area, (qa - qb) / area])


def _passthrough() -> ProcessModel:
    def rhs(m: Any, x: Sequence[Any], u: Sequence[Any], p: Mapping[str, Any]) -> list[Any]:
        return [-x[0] / p["tau"]]

    def alg(m: Any, x: Sequence[Any], u: Sequence[Any], p: Mapping[str, Any]) -> list[Any]:
        return [u[0] * p["gain"]]

    return ProcessModel(name="pt", states=(Var(name="s", unit="1", nominal=0.0),),
                        inputs=(Var(name="i", unit="m^3/s", nominal=0.0),),
                        params=(Var(name="tau", unit="s", nominal=1.0),
                                Var(name="gain", unit="1", nominal=0.5)),
                        algebraic=(Var(name="o", unit="m^3/s", nominal=0.0),), alg=alg,
                        rhs=rhs, time_unit="s")


def test_a_true_algebraic_loop_is_refused_and_named() -> None:
    with pytest.raises(ModelDefinitionError, match=r"algebraic loop .*a\.o.*b\.i"):
        compose([("a", _passthrough()), ("b", _passthrough())], [("a.o", "b.i"), ("b.o", "a.i")])


def test_a_chain_of_algebraic_outputs_evaluates_in_order() -> None:
    chain = compose([("c", _passthrough()), ("b", _passthrough()), ("a", _passthrough())],
                    [("a.o", "b.i"), ("b.o", "c.i")])
    z = dict(zip(chain.algebraic_names, chain.z(chain.x0, [8.0]), strict=True))
    assert (z["a.o"], z["b.o"], z["c.o"]) == (4.0, 2.0, 1.0)


def test_part_names_must_be_distinct() -> None:
    with pytest.raises(ModelDefinitionError, match="distinct"):
        compose([gravity_tank(), gravity_tank()], [])


def test_a_closed_recycle_conserves_its_hold_up_in_simulation() -> None:
    from processtwin.physics import Scenarios, simulate

    two = compose([("a", gravity_tank()), ("b", gravity_tank())],
                  [("a.q_out", "b.q_in"), ("b.q_out", "a.q_in")])
    s = Scenarios.of(two, x0=[[1.0, 0.2], [0.5, 0.5]])
    tr = simulate(two, s, np.linspace(0.0, 600.0, 7), method="ros23", rtol=1e-8)
    np.testing.assert_allclose(tr.x.sum(axis=2), [[1.2] * 7, [1.0] * 7], rtol=1e-9)
    np.testing.assert_allclose(tr.x[0, -1], [0.6, 0.6], atol=1e-3)  # levels equalise
