"""Centrifugal pump on a system curve: affinity laws, efficiency curve, wear as a slow state.

Time is in seconds. State: the degradation D (1), the fraction of head lost to impeller and
wear-ring wear. Inputs: speed n (1/min) and the static head of the system H_st (m), the
level difference the pump lifts against (connect a tank level to it). The pump curve at the
rated speed n0 is a parabola, scaled to speed n by the affinity laws (Q ∝ n, H ∝ n²); the
system curve is H_st + K_sys·Q². Their intersection gives the flow::

    s    = n / n0
    H_p  = (1 − D)·H0·s² − a_p·Q²                (pump curve; affinity-law scaled)
    Q    = √( max((1 − D)·H0·s² − H_st, 0) / (a_p + K_sys) )
    η    = η_max·(1 − D)·r·(2 − r),   r = Q / (Q_bep0·s)     (efficiency parabola)
    P    = ρ·g·Q·H_p / max(η, η_min)                        (shaft power)
    dD/dt = k_D·s³                                          (erosive wear ∝ velocity³)

Algebraic outputs: Q (m³/s), H (m), η (1) and P (W).

Sources: J. F. Gülich, *Centrifugal Pumps*, 3rd ed., Springer 2014: section 3.4 (affinity
laws), section 4.1 and 11.1 (head and efficiency curves, system curve and operating point),
chapter 14 (hydro-abrasive wear, whose rate grows with about the third power of the flow
velocity).

Example:
    >>> m = centrifugal_pump()
    >>> [round(float(v), 4) for v in m.z(m.x0, m.u0)[:2]]
    [0.0235, 22.0]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from processtwin.physics._library import param_vars
from processtwin.physics.model import ProcessModel, Var

__all__ = ["centrifugal_pump"]

_PARAMS = {
    "n0": (1450.0, "1/min", "rated speed"),
    "H0": (30.0, "m", "shut-off head at rated speed"),
    "a_p": (1.45e4, "s^2/m^5", "pump-curve coefficient"),
    "K_sys": (0.0, "s^2/m^5", "system friction coefficient"),
    "Q_bep0": (0.025, "m^3/s", "best-efficiency flow at rated speed"),
    "eta_max": (0.78, "1", "best efficiency when new"),
    "eta_min": (0.05, "1", "floor of the efficiency in the power formula"),
    "rho": (1000.0, "kg/m^3", "liquid density"),
    "g": (9.81, "m/s^2", "gravitational acceleration"),
    "k_D": (1.0 / (5.0 * 365.25 * 86400.0), "1/s", "wear rate at rated speed"),
}


def _operating(m: Any, x: Sequence[Any], u: Sequence[Any], p: Mapping[str, Any]
               ) -> tuple[Any, Any, Any]:
    d = x[0]
    n, h_st = u
    s = n / p["n0"]
    h_shut = (1.0 - d) * p["H0"] * s**2
    q = m.sqrt(m.fmax(h_shut - h_st, 0.0) / (p["a_p"] + p["K_sys"]))
    return s, q, h_shut - p["a_p"] * q**2


def _rhs(m: Any, x: Sequence[Any], u: Sequence[Any], p: Mapping[str, Any]) -> tuple[Any, ...]:
    s = u[0] / p["n0"]
    return (p["k_D"] * s**3,)


def _alg(m: Any, x: Sequence[Any], u: Sequence[Any], p: Mapping[str, Any]) -> tuple[Any, ...]:
    s, q, h = _operating(m, x, u, p)
    r = q / (p["Q_bep0"] * s)
    eta = p["eta_max"] * (1.0 - x[0]) * r * (2.0 - r)
    power = p["rho"] * p["g"] * q * h / m.fmax(eta, p["eta_min"])
    return q, h, eta, power


def centrifugal_pump(**overrides: float) -> ProcessModel:
    """A centrifugal pump against a static head; keyword arguments override parameters."""
    return ProcessModel(
        name="centrifugal_pump",
        description="centrifugal pump, affinity laws, efficiency parabola, wear state",
        states=(Var(name="D", unit="1", nominal=0.0, lo=0.0, hi=1.0,
                    description="degradation: fraction of head lost to wear"),),
        inputs=(Var(name="n", unit="1/min", nominal=1450.0, lo=0.0, hi=3000.0,
                    description="speed"),
                Var(name="H_st", unit="m", nominal=22.0, lo=-50.0, hi=100.0,
                    description="static head of the system")),
        params=param_vars("centrifugal_pump", _PARAMS, overrides),
        algebraic=(Var(name="Q", unit="m^3/s", nominal=0.0235, lo=0.0, description="flow"),
                   Var(name="H", unit="m", nominal=22.0, description="head"),
                   Var(name="eta", unit="1", nominal=0.78, description="efficiency"),
                   Var(name="P", unit="W", nominal=6.5e3, lo=0.0, description="shaft power")),
        rhs=_rhs,
        alg=_alg,
        outputs=("Q", "P", "n"),
        time_unit="s",
    )
