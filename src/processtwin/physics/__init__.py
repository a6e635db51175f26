"""Process models: one frozen definition per unit, evaluated with NumPy or CasADi."""

from processtwin.physics.cstr import van_de_vusse
from processtwin.physics.model import ProcessModel, Var
from processtwin.physics.simulate import rk4, steady_state

__all__ = ["ProcessModel", "Var", "rk4", "steady_state", "van_de_vusse"]
