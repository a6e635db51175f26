"""Counter-current heat exchanger as n mixing cells per side, with fouling as a slow state.

Time is in seconds. States: hot-side cell temperatures T_h1..T_hn and cold-side
T_c1..T_cn (°C), and the fouling resistance R_f (m²·K/W). The hot stream enters cell 1 and
leaves cell n; the cold stream enters cell n and leaves cell 1 (counter-current), so hot
cell i exchanges with cold cell i. Inputs: hot and cold mass flows m_h, m_c (kg/s) and
inlet temperatures T_h_in, T_c_in (°C)::

    UA      = A / (1/U_clean + R_f)
    dT_hi/dt = [m_h·cp_h·(T_h,i−1 − T_hi) − UA/n·(T_hi − T_ci)] / (M_h/n·cp_h),  T_h0 = T_h_in
    dT_ci/dt = [m_c·cp_c·(T_c,i+1 − T_ci) + UA/n·(T_hi − T_ci)] / (M_c/n·cp_c),  T_c,n+1 = T_c_in
    dR_f/dt  = (R_f∞ − R_f) / τ_f

The fouling resistance follows the asymptotic Kern–Seaton law, with a time constant of
weeks against the seconds of the thermal modes: a stiff system. Algebraic outputs: outlet
temperatures T_h_out = T_hn and T_c_out = T_c1 (°C), duty Q = m_c·cp_c·(T_c_out − T_c_in)
(W) and UA (W/K). As n grows the steady state tends to the ε-NTU counter-flow solution.

Sources: D. Q. Kern and R. E. Seaton, "A theoretical analysis of thermal surface fouling",
Brit. Chem. Eng. 4 (1959) 258–262; the cell model as in W. Roetzel and Y. Xuan, *Dynamic
Behaviour of Heat Exchangers*, WIT Press 1999, chapter 2; ε-NTU after F. P. Incropera et
al., *Fundamentals of Heat and Mass Transfer*, 7th ed., Wiley 2011, section 11.4.

Example:
    >>> m = heat_exchanger()
    >>> x = m.steady_state(m.u0)
    >>> [round(float(v), 1) for v in m.z(x, m.u0)[:2]]
    [46.9, 53.1]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from processtwin.errors import ModelDefinitionError
from processtwin.physics._library import param_vars
from processtwin.physics.model import ProcessModel, Var

__all__ = ["heat_exchanger"]

_PARAMS = {
    "A": (10.0, "m^2", "heat-transfer area"),
    "U_clean": (800.0, "W/(m^2*K)", "overall heat-transfer coefficient when clean"),
    "M_h": (40.0, "kg", "hot-side hold-up"),
    "M_c": (40.0, "kg", "cold-side hold-up"),
    "cp_h": (4180.0, "J/(kg*K)", "hot-stream heat capacity"),
    "cp_c": (4180.0, "J/(kg*K)", "cold-stream heat capacity"),
    "R_f_inf": (4.0e-4, "m^2*K/W", "asymptotic fouling resistance"),
    "tau_f": (30.0 * 86400.0, "s", "fouling time constant"),
}


def heat_exchanger(n_cells: int = 8, **overrides: float) -> ProcessModel:
    """A counter-current exchanger of ``n_cells`` cells per side with Kern–Seaton fouling."""
    if n_cells < 1:
        raise ModelDefinitionError(f"heat_exchanger: n_cells must be >= 1, not {n_cells}")
    n = n_cells

    def ua(p: Mapping[str, Any], r_f: Any) -> Any:
        return p["A"] / (1.0 / p["U_clean"] + r_f)

    def rhs(m: Any, x: Sequence[Any], u: Sequence[Any], p: Mapping[str, Any]
            ) -> tuple[Any, ...]:
        th, tc, r_f = x[:n], x[n:2 * n], x[2 * n]
        m_h, th_in, m_c, tc_in = u
        k = ua(p, r_f) / n
        ch = p["M_h"] / n * p["cp_h"]
        cc = p["M_c"] / n * p["cp_c"]
        dth = []
        dtc = []
        for i in range(n):
            up_h = th_in if i == 0 else th[i - 1]
            up_c = tc_in if i == n - 1 else tc[i + 1]
            q = k * (th[i] - tc[i])
            dth.append((m_h * p["cp_h"] * (up_h - th[i]) - q) / ch)
            dtc.append((m_c * p["cp_c"] * (up_c - tc[i]) + q) / cc)
        return (*dth, *dtc, (p["R_f_inf"] - r_f) / p["tau_f"])

    def alg(m: Any, x: Sequence[Any], u: Sequence[Any], p: Mapping[str, Any]
            ) -> tuple[Any, ...]:
        m_c, tc_in = u[2], u[3]
        return (x[n - 1], x[n], m_c * p["cp_c"] * (x[n] - tc_in), ua(p, x[2 * n]))

    temps: dict[str, Any] = {"unit": "degC", "lo": -50.0, "hi": 400.0}
    states = (
        *(Var(name=f"T_h{i + 1}", nominal=80.0 - 25.0 * (i + 1) / n,
              description=f"hot side, cell {i + 1}", **temps) for i in range(n)),
        *(Var(name=f"T_c{i + 1}", nominal=45.0 - 25.0 * (i + 1) / n,
              description=f"cold side, cell {i + 1}", **temps) for i in range(n)),
        Var(name="R_f", unit="m^2*K/W", nominal=0.0, lo=0.0, hi=1e-2,
            description="fouling resistance"),
    )
    return ProcessModel(
        name="heat_exchanger",
        description=f"counter-current heat exchanger, {n} cells per side, Kern-Seaton fouling",
        states=states,
        inputs=(
            Var(name="m_h", unit="kg/s", nominal=1.0, lo=0.0, hi=20.0,
                description="hot mass flow"),
            Var(name="T_h_in", unit="degC", nominal=80.0, lo=-50.0, hi=400.0,
                description="hot inlet temperature"),
            Var(name="m_c", unit="kg/s", nominal=1.0, lo=0.0, hi=20.0,
                description="cold mass flow"),
            Var(name="T_c_in", unit="degC", nominal=20.0, lo=-50.0, hi=400.0,
                description="cold inlet temperature"),
        ),
        params=param_vars("heat_exchanger", _PARAMS, overrides),
        algebraic=(
            Var(name="T_h_out", unit="degC", nominal=55.0, description="hot outlet"),
            Var(name="T_c_out", unit="degC", nominal=45.0, description="cold outlet"),
            Var(name="Q", unit="W", nominal=1.0e5, description="duty"),
            Var(name="UA", unit="W/K", nominal=8.0e3, description="conductance"),
        ),
        rhs=rhs,
        alg=alg,
        outputs=("T_h_out", "T_c_out", "m_h", "m_c", "T_h_in", "T_c_in"),
        time_unit="s",
    )
