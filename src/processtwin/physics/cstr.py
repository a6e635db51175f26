"""The van de Vusse CSTR (Klatt & Engell 1998), with do-mpc's parameters.

Reactions A → B → C and 2A → D in a jacketed CSTR. States: C_a, C_b (mol/l), reactor
temperature T_R and jacket temperature T_K (°C). Inputs: the normalised feed flow F
(1/h, i.e. volumetric flow over reactor volume) and the heat removed by the jacket Q̇ (kJ/h,
negative for cooling). Time is in hours::

    k1 = β·k0ab·exp(−E_ab/(T_R+273.15))      k2 = k0bc·exp(−E_bc/(T_R+273.15))
    k3 = k0ad·exp(−α·E_ad/(T_R+273.15))
    dC_a/dt = F(C_A0 − C_a) − k1·C_a − k3·C_a²
    dC_b/dt = −F·C_b + k1·C_a − k2·C_b
    dT_R/dt = (k1·C_a·ΔH_ab + k2·C_b·ΔH_bc + k3·C_a²·ΔH_ad)/(−ρ·Cp) + F(T_in − T_R)
              + K_w·A_R·(T_K − T_R)/(ρ·Cp·V_R)
    dT_K/dt = (Q̇ + K_w·A_R·(T_R − T_K))/(m_k·Cp_k)

Sources: H.-G. Klatt and S. Engell, "Gain-scheduling trajectory control of a continuous
stirred tank reactor", Computers & Chemical Engineering 22 (1998) 491–502; the do-mpc CSTR
example (α and β are the uncertain-parameter multipliers, 1 nominally).

do-mpc versus Klatt & Engell: the kinetic, thermal and geometric parameters are the same
except V_R, 10.01 l in do-mpc against 10 l in the paper (do-mpc's T_in = 130 °C is its own
nominal feed temperature, not a parameter difference). V_R enters only the jacket term
K_w·A_R·(T_K − T_R)/(ρ·Cp·V_R), so the 0.1 % difference moves the operating point by about
3 mK in T_R and T_K and 2e-4 mol/l in C_a: both sets give Klatt & Engell's
C_a 2.14, C_b 1.09 mol/l, T_R 114.2, T_K 112.9 °C to the stated digits at
F/V_R = 14.19 1/h, Q̇ = −1113.5 kJ/h, T_in = 104.9 °C. :data:`KLATT_ENGELL_1998` holds the
paper's values (``van_de_vusse(**KLATT_ENGELL_1998)``) and :data:`KLATT_ENGELL_INPUTS` the
operating point's inputs.

Example:
    >>> import numpy as np
    >>> m = van_de_vusse(**KLATT_ENGELL_1998)
    >>> c_a, c_b, t_r, t_k = m.steady_state(np.array(KLATT_ENGELL_INPUTS))
    >>> round(float(c_a), 2), round(float(c_b), 2), round(float(t_r), 1), round(float(t_k), 1)
    (2.14, 1.09, 114.2, 112.9)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from processtwin.physics.model import ProcessModel, Var

__all__ = ["KLATT_ENGELL_1998", "KLATT_ENGELL_INPUTS", "van_de_vusse"]

#: Klatt & Engell's (1998) values where they differ from do-mpc's, and their feed temperature.
KLATT_ENGELL_1998: Mapping[str, float] = {"V_R": 10.0, "T_in": 104.9}
#: The operating point's inputs (F/V_R in 1/h, Q̇ in kJ/h).
KLATT_ENGELL_INPUTS: tuple[float, float] = (14.19, -1113.5)


def _rhs(m: Any, x: Sequence[Any], u: Sequence[Any], p: Mapping[str, Any]) -> tuple[Any, ...]:
    c_a, c_b, t_r, t_k = x
    f, q = u
    k1 = p["beta"] * p["k0_ab"] * m.exp(-p["E_ab"] / (t_r + 273.15))
    k2 = p["k0_bc"] * m.exp(-p["E_bc"] / (t_r + 273.15))
    k3 = p["k0_ad"] * m.exp(-p["alpha"] * p["E_ad"] / (t_r + 273.15))
    rho_cp = p["rho"] * p["Cp"]
    ua = p["K_w"] * p["A_R"]
    dc_a = f * (p["C_A0"] - c_a) - k1 * c_a - k3 * c_a**2
    dc_b = -f * c_b + k1 * c_a - k2 * c_b
    heat = k1 * c_a * p["dH_ab"] + k2 * c_b * p["dH_bc"] + k3 * c_a**2 * p["dH_ad"]
    dt_r = heat / (-rho_cp) + f * (p["T_in"] - t_r) + ua * (t_k - t_r) / (rho_cp * p["V_R"])
    dt_k = (q + ua * (t_r - t_k)) / (p["m_k"] * p["Cp_k"])
    return dc_a, dc_b, dt_r, dt_k


def van_de_vusse(**overrides: float) -> ProcessModel:
    """The van de Vusse CSTR; keyword arguments override nominal parameter values."""
    params = {
        "k0_ab": (1.287e12, "1/h"),
        "k0_bc": (1.287e12, "1/h"),
        "k0_ad": (9.043e9, "l/(mol*h)"),
        "E_ab": (9758.3, "K"),
        "E_bc": (9758.3, "K"),
        "E_ad": (8560.0, "K"),
        "dH_ab": (4.2, "kJ/mol"),
        "dH_bc": (-11.0, "kJ/mol"),
        "dH_ad": (-41.85, "kJ/mol"),
        "rho": (0.9342, "kg/l"),
        "Cp": (3.01, "kJ/(kg*K)"),
        "Cp_k": (2.0, "kJ/(kg*K)"),
        "m_k": (5.0, "kg"),
        "A_R": (0.215, "m^2"),
        "V_R": (10.01, "l"),
        "K_w": (4032.0, "kJ/(h*m^2*K)"),
        "T_in": (130.0, "degC"),
        "C_A0": (5.1, "mol/l"),
        "alpha": (1.0, "1"),
        "beta": (1.0, "1"),
    }
    unknown = set(overrides) - set(params)
    if unknown:
        from processtwin.errors import ModelDefinitionError

        raise ModelDefinitionError(f"van_de_vusse: unknown parameters {sorted(unknown)}")
    return ProcessModel(
        name="van_de_vusse_cstr",
        description="van de Vusse CSTR, Klatt & Engell 1998 / do-mpc parameters",
        states=(
            Var(name="C_a", unit="mol/l", nominal=1.2344, lo=0.0, hi=5.1,
                description="concentration of A"),
            Var(name="C_b", unit="mol/l", nominal=0.8998, lo=0.0, hi=5.1,
                description="concentration of B (product)"),
            Var(name="T_R", unit="degC", nominal=134.15, lo=50.0, hi=180.0,
                description="reactor temperature"),
            Var(name="T_K", unit="degC", nominal=128.96, lo=50.0, hi=180.0,
                description="jacket temperature"),
        ),
        inputs=(
            Var(name="F", unit="1/h", nominal=18.83, lo=5.0, hi=100.0,
                description="feed flow over reactor volume"),
            Var(name="Q", unit="kJ/h", nominal=-4495.7, lo=-8500.0, hi=0.0,
                description="heat added by the jacket (negative: cooling)"),
        ),
        params=tuple(
            Var(name=k, unit=unit, nominal=overrides.get(k, val))
            for k, (val, unit) in params.items()
        ),
        rhs=_rhs,
        outputs=("T_R", "T_K", "F", "Q", "C_b"),
        time_unit="h",
    )
