"""Exothermic jacketed CSTR, A → B, first order: the classic reactor with a runaway region.

States: C_A (mol/l), reactor temperature T (K), jacket temperature T_j (K). Inputs: feed
flow q (l/min), coolant inlet temperature T_cin (K), coolant flow q_c (l/min). Time is in
minutes::

    k(T)      = k0 · exp(−E_R / T)
    dC_A/dt   = q/V · (C_Af − C_A) − k(T)·C_A
    dT/dt     = q/V · (T_f − T) + (−ΔH)/(ρ·Cp) · k(T)·C_A + UA/(V·ρ·Cp) · (T_j − T)
    dT_j/dt   = q_c/V_j · (T_cin − T_j) + UA/(V_j·ρ_j·Cp_j) · (T − T_j)

Algebraic outputs: conversion X = 1 − C_A/C_Af (1), heat removed by the jacket
Q_j = UA·(T − T_j) (J/min) and reaction rate r = k(T)·C_A (mol/(l·min)).

The heat generated, a sigmoid in T, and the heat removed, a line in T, cross up to three
times: for coolant inlet temperatures between about 283 K and 295 K there are three steady
states, a cold one (low conversion), an unstable middle one and a hot, ignited one, joined
by two turning points (the S-curve; see
:func:`~processtwin.physics.continuation.continuation`). Raising T_cin past the upper
turning point makes the reactor run away to the hot branch.

Sources: reactor and kinetic parameters from D. E. Seborg, T. F. Edgar, D. A. Mellichamp,
F. J. Doyle, *Process Dynamics and Control*, 3rd ed., Wiley 2011, Example 2.5 (the
non-isothermal CSTR, also MATLAB's CSTR example); the jacket energy balance as in
B. W. Bequette, *Process Dynamics: Modeling, Analysis and Simulation*, Prentice Hall 1998,
the jacketed CSTR of chapter 4; the steady-state multiplicity analysis after C. van Heerden,
Ind. Eng. Chem. 45 (1953) 1242–1247. V_j, ρ_j, Cp_j and q_c are this library's choices.

Example:
    >>> import numpy as np
    >>> m = exothermic_cstr()
    >>> x = m.steady_state(m.u0)
    >>> round(float(x[1]), 1)
    318.3
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from processtwin.physics._library import param_vars
from processtwin.physics.model import ProcessModel, Var

__all__ = ["exothermic_cstr"]

_PARAMS = {
    "V": (100.0, "l", "reactor volume"),
    "C_Af": (1.0, "mol/l", "feed concentration of A"),
    "T_f": (350.0, "K", "feed temperature"),
    "rho": (1000.0, "g/l", "density of the reacting mixture"),
    "Cp": (0.239, "J/(g*K)", "heat capacity of the reacting mixture"),
    "dH": (-5.0e4, "J/mol", "heat of reaction (negative: exothermic)"),
    "E_R": (8750.0, "K", "activation energy over the gas constant"),
    "k0": (7.2e10, "1/min", "pre-exponential factor"),
    "UA": (5.0e4, "J/(min*K)", "jacket heat-transfer coefficient times area"),
    "V_j": (10.0, "l", "jacket volume"),
    "rho_j": (1000.0, "g/l", "coolant density"),
    "Cp_j": (4.184, "J/(g*K)", "coolant heat capacity"),
}


def _k(m: Any, t: Any, p: Mapping[str, Any]) -> Any:
    return p["k0"] * m.exp(-p["E_R"] / t)


def _rhs(m: Any, x: Sequence[Any], u: Sequence[Any], p: Mapping[str, Any]) -> tuple[Any, ...]:
    c_a, t, t_j = x
    q, t_cin, q_c = u
    r = _k(m, t, p) * c_a
    d = q / p["V"]
    dc_a = d * (p["C_Af"] - c_a) - r
    dt = (d * (p["T_f"] - t) + (-p["dH"]) / (p["rho"] * p["Cp"]) * r
          + p["UA"] / (p["V"] * p["rho"] * p["Cp"]) * (t_j - t))
    dt_j = (q_c / p["V_j"] * (t_cin - t_j)
            + p["UA"] / (p["V_j"] * p["rho_j"] * p["Cp_j"]) * (t - t_j))
    return dc_a, dt, dt_j


def _alg(m: Any, x: Sequence[Any], u: Sequence[Any], p: Mapping[str, Any]) -> tuple[Any, ...]:
    c_a, t, t_j = x
    return 1.0 - c_a / p["C_Af"], p["UA"] * (t - t_j), _k(m, t, p) * c_a


def exothermic_cstr(**overrides: float) -> ProcessModel:
    """The jacketed exothermic CSTR; keyword arguments override nominal parameter values."""
    return ProcessModel(
        name="exothermic_cstr",
        description="jacketed exothermic CSTR A -> B (Seborg et al. Example 2.5 + jacket)",
        states=(
            Var(name="C_A", unit="mol/l", nominal=0.93, lo=0.0, hi=1.0,
                description="concentration of A"),
            Var(name="T", unit="K", nominal=318.0, lo=250.0, hi=600.0,
                description="reactor temperature"),
            Var(name="T_j", unit="K", nominal=295.0, lo=250.0, hi=600.0,
                description="jacket temperature"),
        ),
        inputs=(
            Var(name="q", unit="l/min", nominal=100.0, lo=0.0, hi=300.0,
                description="feed flow"),
            Var(name="T_cin", unit="K", nominal=290.0, lo=250.0, hi=350.0,
                description="coolant inlet temperature"),
            Var(name="q_c", unit="l/min", nominal=50.0, lo=0.0, hi=500.0,
                description="coolant flow"),
        ),
        params=param_vars("exothermic_cstr", _PARAMS, overrides),
        algebraic=(
            Var(name="X", unit="1", nominal=0.0, lo=0.0, hi=1.0, description="conversion of A"),
            Var(name="Q_j", unit="J/min", nominal=0.0, description="heat removed by the jacket"),
            Var(name="r", unit="mol/(l*min)", nominal=0.0, lo=0.0, description="reaction rate"),
        ),
        rhs=_rhs,
        alg=_alg,
        outputs=("T", "T_j", "q", "T_cin", "q_c", "Q_j"),
        time_unit="min",
    )
