"""Gravity-drained tanks: one open tank, and Johansson's four-tank process.

**Gravity-drained tank** (time in s). State: level h (m). Input: inflow q_in (m³/s).
Torricelli's law with a discharge coefficient for the outlet::

    q_out = c_d · a · √(2·g·max(h, 0))
    dh/dt = (q_in − q_out) / A

Algebraic outputs: q_out (m³/s) and the hold-up V = A·h (m³). Sources: E. Torricelli,
*De motu gravium* (1644); the standard liquid-level model of D. E. Seborg et al., *Process
Dynamics and Control*, 3rd ed., Wiley 2011, section 2.4.5.

**Four-tank process** (time in s, lengths in cm). States: levels h1..h4 (cm) of the lower
tanks 1, 2 and the upper tanks 3, 4. Inputs: pump voltages v1, v2 (V). Pump i delivers
k_i·v_i (cm³/s), split by the valves: γ1 to tank 1 and 1−γ1 to tank 4; γ2 to tank 2 and
1−γ2 to tank 3. Upper tank 3 drains into 1, 4 into 2::

    dh1/dt = −a1/A1·√(2g·h1) + a3/A1·√(2g·h3) + γ1·k1/A1·v1
    dh2/dt = −a2/A2·√(2g·h2) + a4/A2·√(2g·h4) + γ2·k2/A2·v2
    dh3/dt = −a3/A3·√(2g·h3) + (1 − γ2)·k2/A3·v2
    dh4/dt = −a4/A4·√(2g·h4) + (1 − γ1)·k1/A4·v1

Measured outputs y_i = k_c·h_i (V) for the lower tanks. With γ1 + γ2 > 1 (operating point
P−, the default) the linearisation is minimum phase; with γ1 + γ2 < 1 (P+) it has a
right-half-plane zero. :data:`FOUR_TANK_P_PLUS` holds P+'s inputs and parameters.

Source: K. H. Johansson, "The quadruple-tank process: a multivariable laboratory process
with an adjustable zero", IEEE Trans. Control Syst. Technol. 8 (2000) 456–465, Tables I and
II. The steady state of these equations with Table I's areas and Table II's k_i, γ_i
agrees with the tabulated levels of P− and P+ within 0.2 cm (P−: 12.26, 12.78, 1.63,
1.41 cm against 12.4, 12.7, 1.8, 1.4 cm), as expected of tabulated values that belong to
the laboratory rig, whose k_i and γ_i were identified; with γ1 + γ2 > 1 the linearisation's
multivariable zero is in the left half-plane, with γ1 + γ2 < 1 in the right (section III).

Example:
    >>> import numpy as np
    >>> m = four_tank()
    >>> [round(float(h), 1) for h in m.steady_state(m.u0)]
    [12.3, 12.8, 1.6, 1.4]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from processtwin.physics._library import param_vars
from processtwin.physics.model import ProcessModel, Var

__all__ = ["FOUR_TANK_P_PLUS", "four_tank", "gravity_tank"]

_TANK = {
    "A": (0.5, "m^2", "tank cross-section"),
    "a": (0.002, "m^2", "outlet cross-section"),
    "c_d": (0.61, "1", "outlet discharge coefficient"),
    "g": (9.81, "m/s^2", "gravitational acceleration"),
}


def _tank_out(m: Any, h: Any, p: Mapping[str, Any]) -> Any:
    return p["c_d"] * p["a"] * m.sqrt(2.0 * p["g"] * m.fmax(h, 0.0))


def _tank_rhs(m: Any, x: Sequence[Any], u: Sequence[Any], p: Mapping[str, Any]
              ) -> tuple[Any, ...]:
    return ((u[0] - _tank_out(m, x[0], p)) / p["A"],)


def _tank_alg(m: Any, x: Sequence[Any], u: Sequence[Any], p: Mapping[str, Any]
              ) -> tuple[Any, ...]:
    return _tank_out(m, x[0], p), p["A"] * x[0]


def gravity_tank(**overrides: float) -> ProcessModel:
    """An open tank drained by gravity through an orifice (Torricelli)."""
    return ProcessModel(
        name="gravity_tank",
        description="gravity-drained tank (Torricelli outflow)",
        states=(Var(name="h", unit="m", nominal=0.55, lo=0.0, hi=3.0, description="level"),),
        inputs=(Var(name="q_in", unit="m^3/s", nominal=0.004, lo=0.0, hi=0.05,
                    description="inflow"),),
        params=param_vars("gravity_tank", _TANK, overrides),
        algebraic=(Var(name="q_out", unit="m^3/s", nominal=0.004, lo=0.0,
                       description="outflow"),
                   Var(name="V", unit="m^3", nominal=0.27, lo=0.0, description="hold-up")),
        rhs=_tank_rhs,
        alg=_tank_alg,
        outputs=("h", "q_in"),
        time_unit="s",
    )


_FOUR = {
    "A1": (28.0, "cm^2", "cross-section of tank 1"),
    "A2": (32.0, "cm^2", "cross-section of tank 2"),
    "A3": (28.0, "cm^2", "cross-section of tank 3"),
    "A4": (32.0, "cm^2", "cross-section of tank 4"),
    "a1": (0.071, "cm^2", "outlet of tank 1"),
    "a2": (0.057, "cm^2", "outlet of tank 2"),
    "a3": (0.071, "cm^2", "outlet of tank 3"),
    "a4": (0.057, "cm^2", "outlet of tank 4"),
    "k1": (3.33, "cm^3/(V*s)", "pump 1 gain"),
    "k2": (3.35, "cm^3/(V*s)", "pump 2 gain"),
    "gamma1": (0.70, "1", "share of pump 1 to tank 1"),
    "gamma2": (0.60, "1", "share of pump 2 to tank 2"),
    "k_c": (0.50, "V/cm", "level sensor gain"),
    "g": (981.0, "cm/s^2", "gravitational acceleration"),
}

#: Johansson's operating point P+ (non-minimum phase): parameter overrides and inputs.
FOUR_TANK_P_PLUS: Mapping[str, float] = {"k1": 3.14, "k2": 3.29, "gamma1": 0.43,
                                         "gamma2": 0.34}


def _drain(m: Any, a: Any, h: Any, g: Any) -> Any:
    return a * m.sqrt(2.0 * g * m.fmax(h, 0.0))


def _four_rhs(m: Any, x: Sequence[Any], u: Sequence[Any], p: Mapping[str, Any]
              ) -> tuple[Any, ...]:
    v1, v2 = u
    g = p["g"]
    q1, q2, q3, q4 = (_drain(m, p[f"a{i}"], h, g) for i, h in zip((1, 2, 3, 4), x, strict=True))
    return (
        (-q1 + q3 + p["gamma1"] * p["k1"] * v1) / p["A1"],
        (-q2 + q4 + p["gamma2"] * p["k2"] * v2) / p["A2"],
        (-q3 + (1.0 - p["gamma2"]) * p["k2"] * v2) / p["A3"],
        (-q4 + (1.0 - p["gamma1"]) * p["k1"] * v1) / p["A4"],
    )


def _four_alg(m: Any, x: Sequence[Any], u: Sequence[Any], p: Mapping[str, Any]
              ) -> tuple[Any, ...]:
    return p["k_c"] * x[0], p["k_c"] * x[1]


def four_tank(**overrides: float) -> ProcessModel:
    """Johansson's quadruple-tank process at P− (pass ``**FOUR_TANK_P_PLUS`` for P+)."""
    lv: dict[str, Any] = {"lo": 0.0, "hi": 20.0, "unit": "cm"}
    return ProcessModel(
        name="four_tank",
        description="quadruple-tank process, Johansson 2000",
        states=(Var(name="h1", nominal=12.4, description="level of lower tank 1", **lv),
                Var(name="h2", nominal=12.7, description="level of lower tank 2", **lv),
                Var(name="h3", nominal=1.8, description="level of upper tank 3", **lv),
                Var(name="h4", nominal=1.4, description="level of upper tank 4", **lv)),
        inputs=(Var(name="v1", unit="V", nominal=3.0, lo=0.0, hi=10.0,
                    description="pump 1 voltage"),
                Var(name="v2", unit="V", nominal=3.0, lo=0.0, hi=10.0,
                    description="pump 2 voltage")),
        params=param_vars("four_tank", _FOUR, overrides),
        algebraic=(Var(name="y1", unit="V", nominal=6.2, description="level sensor 1"),
                   Var(name="y2", unit="V", nominal=6.35, description="level sensor 2")),
        rhs=_four_rhs,
        alg=_four_alg,
        outputs=("y1", "y2"),
        time_unit="s",
    )
