"""FMU co-simulation: a van de Vusse CSTR built as an FMU with pythonfmu, run through FMPy.

The FMU's Python class integrates our own CSTR right-hand side (``van_de_vusse().f``) with
RK4 substeps; it runs inside this interpreter (pythonfmu embeds the running Python), so it
imports processtwin like any module. It declares units in its modelDescription, C_b in a
unit of its own (``mol_per_m3``, defined only by its BaseUnit), so unit conversion and the
BaseUnit path are exercised too.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from processtwin.errors import (
    InvalidInputError,
    ModelDefinitionError,
    SolverError,
    UnitError,
)
from processtwin.physics import ProcessModel, Var, compose, van_de_vusse
from processtwin.physics.fmu import FmuUnit, cosimulate

SLAVE = textwrap.dedent('''
    """van de Vusse CSTR as an FMI 2.0 co-simulation slave; time in seconds, model in hours."""
    from xml.etree.ElementTree import Element, SubElement

    import numpy as np
    from pythonfmu import Fmi2Causality, Fmi2Initial, Fmi2Slave, Fmi2Variability, Real

    from processtwin.physics.cstr import van_de_vusse

    # unit -> FMI 2.0 BaseUnit attributes (value_SI = factor*value + offset)
    UNITS = {"mol/l": {"mol": "1", "m": "-3", "factor": "1000"},
             "mol_per_m3": {"mol": "1", "m": "-3"},
             "degC": {"K": "1", "offset": "273.15"},
             "1/h": {"s": "-1", "factor": str(1 / 3600)},
             "kJ/h": {"kg": "1", "m": "2", "s": "-3", "factor": str(1000 / 3600)},
             "1": {}}
    VAR_UNITS = {"C_a": "mol/l", "C_b": "mol_per_m3", "T_R": "degC", "T_K": "degC",
                 "F": "1/h", "Q": "kJ/h", "alpha": "1"}


    class VdvCstrFmu(Fmi2Slave):
        description = "van de Vusse CSTR (processtwin test FMU)"
        SUBSTEPS = 4

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.model = van_de_vusse()
            x0, u0 = self.model.x0, self.model.u0
            self.C_a, self.T_R, self.T_K = float(x0[0]), float(x0[2]), float(x0[3])
            self.C_b = 1000.0 * float(x0[1])  # mol/m^3
            self.F, self.Q = float(u0[0]), float(u0[1])
            self.alpha = 1.0
            for n in ("C_a", "C_b", "T_R", "T_K"):
                self.register_variable(Real(n, causality=Fmi2Causality.output,
                                            variability=Fmi2Variability.continuous,
                                            initial=Fmi2Initial.exact))
            for n in ("F", "Q"):
                self.register_variable(Real(n, causality=Fmi2Causality.input,
                                            variability=Fmi2Variability.continuous))
            self.register_variable(Real("alpha", causality=Fmi2Causality.parameter,
                                        variability=Fmi2Variability.fixed,
                                        initial=Fmi2Initial.exact))

        def to_xml(self, model_options=dict()):
            root = super().to_xml(model_options)
            defs = Element("UnitDefinitions")
            for name, base in UNITS.items():
                SubElement(SubElement(defs, "Unit", name=name), "BaseUnit", base)
            root.insert(1, defs)  # after <CoSimulation>, as the schema orders it
            for sv in root.find("ModelVariables"):
                sv.find("Real").set("unit", VAR_UNITS[sv.get("name")])
            return root

        def do_step(self, current_time, step_size):
            x = np.array([self.C_a, self.C_b / 1000.0, self.T_R, self.T_K])
            u = np.array([self.F, self.Q])
            p = {"alpha": self.alpha}
            h = step_size / 3600.0 / self.SUBSTEPS
            f = self.model.f
            with np.errstate(all="ignore"):  # a blow-up is reported as a failed step
                for _ in range(self.SUBSTEPS):
                    k1 = f(x, u, p)
                    k2 = f(x + 0.5 * h * k1, u, p)
                    k3 = f(x + 0.5 * h * k2, u, p)
                    k4 = f(x + h * k3, u, p)
                    x = x + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
            if not np.all(np.isfinite(x)):
                return False
            self.C_a, self.T_R, self.T_K = float(x[0]), float(x[2]), float(x[3])
            self.C_b = 1000.0 * float(x[1])
            return True
''')

#: 36 s communication steps (0.01 h); the slave takes 4 RK4 substeps of 9 s each
T = np.linspace(0.0, 0.5, 51)
#: bound on the FMU's error against BDF: RK4 at 9 s on time constants down to ~25 s
RK4_BOUND = 1e-4


@pytest.fixture(scope="module")
def fmu_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pythonfmu import FmuBuilder

    d = tmp_path_factory.mktemp("fmu")
    (d / "VdvCstrFmu.py").write_text(SLAVE)
    return Path(FmuBuilder.build_FMU(d / "VdvCstrFmu.py", dest=d))


@pytest.fixture
def unit(fmu_path: Path) -> Any:
    with FmuUnit.like(fmu_path, van_de_vusse(), params=("alpha",), name="cstr") as u:
        yield u


def _bdf(model: ProcessModel, x0: np.ndarray, u: Any, t: np.ndarray,
         p: Mapping[str, float] | None = None) -> np.ndarray:
    """Reference: SciPy's BDF at tight tolerances; ``u`` a vector or a function of t."""
    def f(tt: float, x: np.ndarray) -> np.ndarray:
        return model.f(x, u(tt) if callable(u) else u, p)

    sol = solve_ivp(f, (t[0], t[-1]), x0, method="BDF", t_eval=t, rtol=1e-11,
                    atol=1e-12 * model.x_scale, jac=lambda tt, x: model.jacobian(
                        x, u(tt) if callable(u) else u, p), max_step=0.01)
    assert sol.success
    return np.asarray(sol.y.T)


def _rel_err(a: np.ndarray, ref: np.ndarray) -> float:
    return float(np.max(np.abs(a - ref) / np.maximum(np.abs(ref), 1e-3)))


def test_fmu_cstr_matches_native_model_for_a_batch(unit: FmuUnit) -> None:
    model = van_de_vusse()
    x0 = np.array([[1.2344, 0.8998, 134.15, 128.96], [2.0, 0.5, 120.0, 118.0],
                   [0.8, 1.0, 140.0, 135.0]])
    u = np.array([[18.83, -4495.7], [14.19, -1113.5], [30.0, -6000.0]])
    alpha = np.array([1.0, 0.98, 1.02])
    res = cosimulate([("cstr", unit)], [], T, n=3, x0={"cstr": x0},
                     u={"cstr.F": u[:, 0], "cstr.Q": u[:, 1]}, params={"cstr.alpha": alpha})
    got = np.stack([res[f"cstr.{s}"] for s in model.state_names], axis=-1)
    assert got.shape == (3, T.size, 4)
    np.testing.assert_array_equal(res["cstr.F"], np.broadcast_to(u[:, :1], (3, T.size)))
    for i in range(3):
        ref = _bdf(model, x0[i], u[i], T, {"alpha": float(alpha[i])})
        assert _rel_err(got[i], ref) < RK4_BOUND
    # the trajectories move: the comparison is not between two constants
    assert np.ptp(got[1, :, 0]) > 0.1


def test_reset_reruns_bit_for_bit(unit: FmuUnit) -> None:
    def run(batch: Any) -> np.ndarray:
        batch.start(x0=[[1.0, 0.5, 130.0, 125.0], [1.5, 0.7, 128.0, 124.0]],
                    u=[18.83, -4495.7], params={"alpha": [1.0, 1.01]})
        xs = []
        for _ in range(5):
            batch.step(36.0)
            xs.append(batch.states())
        return np.stack(xs)

    with unit.instantiate(2) as batch:
        first = run(batch)
        batch.reset()
        second = run(batch)
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first[:, 0], first[:, 1])  # two scenarios, two trajectories


def test_compatible_units_are_converted(fmu_path: Path) -> None:
    m = van_de_vusse()
    kelvin = tuple(Var(name=v.name, unit="K", nominal=v.nominal + 273.15)
                   if v.unit == "degC" else v for v in m.states)
    with FmuUnit(fmu_path, states=kelvin, inputs=m.inputs) as u, u.instantiate(1) as b:
        b.start()
        shifted = m.x0 + np.array([0.0, 0.0, 273.15, 273.15])
        np.testing.assert_allclose(b.states()[0], shifted, rtol=1e-12)
    with FmuUnit.like(fmu_path, m) as u, u.instantiate(1) as b:
        b.start()  # C_b travels as mol/m^3 inside the FMU and comes back in mol/l
        np.testing.assert_allclose(b.states()[0], m.x0, rtol=1e-12)


def test_unit_mismatches_are_listed(fmu_path: Path) -> None:
    m = van_de_vusse()
    wrong = (Var(name="T_R", unit="mol/l", nominal=1.0), Var(name="C_b", unit="kJ/h",
                                                             nominal=1.0))
    with pytest.raises(UnitError, match=r"2 unit mismatch\(es\).*T_R.*C_b"):
        FmuUnit(fmu_path, states=wrong, inputs=m.inputs)


def test_unknown_variables_and_wrong_causality_are_refused(fmu_path: Path) -> None:
    m = van_de_vusse()
    with pytest.raises(ModelDefinitionError, match="no Real variable 'nope'"):
        FmuUnit(fmu_path, states=m.states, inputs=m.inputs, alias={"F": "nope"})
    with pytest.raises(ModelDefinitionError, match="causality output, expected input"):
        FmuUnit(fmu_path, states=m.states[1:], inputs=(m.states[0],))
    with pytest.raises(ModelDefinitionError, match="not a readable FMU"):
        FmuUnit(fmu_path.with_suffix(".missing"), states=m.states, inputs=m.inputs)


def test_bad_inputs_are_refused_before_reaching_the_fmu(unit: FmuUnit) -> None:
    with unit.instantiate(2) as batch:
        batch.start()
        with pytest.raises(InvalidInputError, match="not finite"):
            batch.set_inputs([np.nan, -4495.7])
        with pytest.raises(InvalidInputError, match="must be"):
            batch.set_inputs([1.0, 2.0, 3.0])
        with pytest.raises(InvalidInputError, match="positive"):
            batch.step(0.0)
        with pytest.raises(InvalidInputError, match="unknown FMU parameters"):
            batch.start(params={"beta": 1.0})


def test_a_failing_fmu_step_is_a_solver_error(unit: FmuUnit) -> None:
    with unit.instantiate(1) as batch:
        batch.start(u=[18.83, -1e300])  # finite, but the jacket temperature overflows
        with pytest.raises(SolverError, match=r"cstr\[0\]: doStep failed"):
            batch.step(3600.0)


def _feed() -> ProcessModel:
    """A feed valve with a first-order lag: q follows q_sp; F = q/V is the CSTR's input."""
    def rhs(m: Any, x: Sequence[Any], u: Sequence[Any], p: Mapping[str, Any]) -> list[Any]:
        return [(u[0] - x[0]) / p["tau"]]

    def alg(m: Any, x: Sequence[Any], u: Sequence[Any], p: Mapping[str, Any]) -> list[Any]:
        return [x[0] / p["V"]]

    return ProcessModel(
        name="feed", states=(Var(name="q", unit="l/h", nominal=188.4883),),
        inputs=(Var(name="q_sp", unit="l/h", nominal=188.4883),),
        params=(Var(name="tau", unit="h", nominal=0.02), Var(name="V", unit="l",
                                                             nominal=10.01)),
        algebraic=(Var(name="F", unit="1/h", nominal=18.83),), alg=alg, rhs=rhs,
        outputs=("F",), time_unit="h")


def _step_run(part: Any, t: np.ndarray, x_ss: np.ndarray) -> np.ndarray:
    res = cosimulate([("feed", _feed()), ("cstr", part)], [("feed.F", "cstr.F")], t,
                     x0={"cstr": x_ss}, u={"feed.q_sp": _q_sp, "cstr.Q": -4495.7})
    assert res["cstr.F"][0, 0] == pytest.approx(18.83, rel=1e-3)  # fed input, CSTR's unit
    assert res["cstr.F"][0, -1] == pytest.approx(Q_STEP / 10.01, rel=1e-3)
    return np.stack([res["cstr." + s][0] for s in van_de_vusse().state_names], axis=-1)


Q_STEP = 250.0  # l/h, from 188.5 at t = 0.1 h


def _q_sp(t: float) -> float:
    return 188.4883 if t < 0.1 else Q_STEP


def _composed_reference(t: np.ndarray, x_ss: np.ndarray) -> np.ndarray:
    """compose() of feed and native CSTR, BDF on both sides of the step."""
    plant = compose([("feed", _feed()), ("cstr", van_de_vusse())], [("feed.F", "cstr.F")])
    k = int(np.searchsorted(t, 0.1))
    before = _bdf(plant, np.concatenate([[188.4883], x_ss]), np.array([188.4883, -4495.7]),
                  t[:k + 1])
    after = _bdf(plant, before[-1], np.array([Q_STEP, -4495.7]), t[k:])
    return np.concatenate([before, after[1:]])[:, 1:]


def test_step_response_of_feed_to_fmu_cstr(unit: FmuUnit) -> None:
    cstr = van_de_vusse()
    x_ss = cstr.steady_state(cstr.u0)
    got = _step_run(unit, T, x_ss)
    # the FMU stands in for the native CSTR: same co-simulation, same answer
    assert _rel_err(got, _step_run(cstr, T, x_ss)) < RK4_BOUND
    # before the step the reactor rests; after it, it settles at the new steady state
    np.testing.assert_allclose(got[:11], np.broadcast_to(x_ss, (11, 4)), rtol=1e-6)
    new_ss = cstr.steady_state(np.array([Q_STEP / 10.01, -4495.7]), guess=x_ss)
    np.testing.assert_allclose(got[-1], new_ss, rtol=1e-3)
    assert got[-1, 0] > x_ss[0] + 0.1  # more feed, shorter residence: more unreacted A
    # against compose(): the zero-order hold of F (valve lag 72 s) costs 3 % at 36 s
    # communication steps and halves with the step (first-order coupling)
    coarse = _rel_err(got, _composed_reference(T, x_ss))
    t_fine = np.linspace(0.0, 0.5, 101)
    fine = _rel_err(_step_run(unit, t_fine, x_ss), _composed_reference(t_fine, x_ss))
    assert coarse < 0.05
    assert 0.35 < fine / coarse < 0.65


def test_cosimulate_refuses_bad_wiring(unit: FmuUnit) -> None:
    feed = _feed()
    with pytest.raises(ModelDefinitionError, match="not an input of cstr"):
        cosimulate([("feed", feed), ("cstr", unit)], [("feed.F", "cstr.nope")], T[:3])
    with pytest.raises(UnitError, match="cannot feed"):
        cosimulate([("feed", feed), ("cstr", unit)], [("feed.q", "cstr.F")], T[:3])
    with pytest.raises(InvalidInputError, match="fed by a connection"):
        cosimulate([("feed", feed), ("cstr", unit)], [("feed.F", "cstr.F")], T[:3],
                   u={"cstr.F": 10.0})
    with pytest.raises(InvalidInputError, match="unknown free inputs"):
        cosimulate([("cstr", unit)], [], T[:3], u={"cstr.G": 1.0})
    with pytest.raises(InvalidInputError, match=r"unknown parts \['reactor'\]"):
        cosimulate([("cstr", unit)], [], T[:3], params={"reactor.alpha": 1.0})
    with pytest.raises(InvalidInputError, match="need a finite scalar or"):
        cosimulate([("cstr", unit)], [], T[:3], n=2, u={"cstr.F": lambda t: [1.0, 2.0, 3.0]})


def test_close_removes_the_extracted_fmu(fmu_path: Path) -> None:
    unit = FmuUnit.like(fmu_path, van_de_vusse())
    where = Path(unit._dir or "")
    assert (where / "modelDescription.xml").exists()
    unit.close()
    assert not where.exists()
    with pytest.raises(InvalidInputError, match="closed"):
        unit.instantiate(1)
