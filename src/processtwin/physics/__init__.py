"""Process models and their numerics: one frozen definition per unit, NumPy or CasADi.

* :class:`ProcessModel` — states, inputs, parameters, algebraic and measured outputs with
  units and bounds; equations written once; unit-checked and self-validated when built.
* The library — :func:`van_de_vusse`, :func:`exothermic_cstr`, :func:`gravity_tank`,
  :func:`four_tank`, :func:`heat_exchanger`, :func:`centrifugal_pump`,
  :func:`distillation_column` — and :func:`compose` to connect them.
* :func:`simulate` — N scenarios at once (``dopri5``, stiff ``ros23``, fixed ``rk4``) with
  dense output; :func:`sweep` over chunks, optionally on a Dask cluster.
* :func:`steady_state` and :func:`continuation` (pseudo-arclength, turning points).
* :class:`FmuUnit` — an FMI 2.0 co-simulation FMU (loaded with FMPy) standing in for a unit:
  its variables mapped onto our state, input and output names, declared units checked
  (converted within a dimension, :class:`~processtwin.errors.UnitError` across), one
  instance per scenario (:class:`FmuBatch`, with reset). :func:`cosimulate` steps native
  models and FMUs together at fixed communication points, exchanging connected variables
  there (zero-order hold: first-order coupling error, which :func:`compose` avoids when
  every part is native).
"""

# the module simulate.py (rk4, steady_state) is imported before the function simulate is
# bound here, so that ``processtwin.physics.simulate`` is the batch simulator function
from processtwin.physics.simulate import rk4, steady_state  # isort: skip
from processtwin.physics.batch import METHODS, Method, simulate  # isort: skip
from processtwin.physics.compose import compose
from processtwin.physics.continuation import Branch, TurningPoint, continuation
from processtwin.physics.cstr import KLATT_ENGELL_1998, KLATT_ENGELL_INPUTS, van_de_vusse
from processtwin.physics.distillation import distillation_column
from processtwin.physics.exothermic import exothermic_cstr
from processtwin.physics.fmu import CoSimResult, FmuBatch, FmuUnit, cosimulate
from processtwin.physics.heat_exchanger import heat_exchanger
from processtwin.physics.model import ProcessModel, Rhs, Var
from processtwin.physics.pump import centrifugal_pump
from processtwin.physics.scenarios import Scenarios, Trajectory
from processtwin.physics.sweep import SweepClient, sweep
from processtwin.physics.tanks import FOUR_TANK_P_PLUS, four_tank, gravity_tank

__all__ = [
    "FOUR_TANK_P_PLUS",
    "KLATT_ENGELL_1998",
    "KLATT_ENGELL_INPUTS",
    "METHODS",
    "Branch",
    "CoSimResult",
    "FmuBatch",
    "FmuUnit",
    "Method",
    "ProcessModel",
    "Rhs",
    "Scenarios",
    "SweepClient",
    "Trajectory",
    "TurningPoint",
    "Var",
    "centrifugal_pump",
    "compose",
    "continuation",
    "cosimulate",
    "distillation_column",
    "exothermic_cstr",
    "four_tank",
    "gravity_tank",
    "heat_exchanger",
    "rk4",
    "simulate",
    "steady_state",
    "sweep",
    "van_de_vusse",
]
