"""Binary distillation column: constant molar overflow, constant relative volatility.

Time is in minutes. Stages are numbered from the bottom: stage 1 is the reboiler, stage N
the total condenser, the feed enters stage N_F. States: the liquid mole fraction of the
light component on every stage, x1..xN (mol/mol). Inputs: reflux L_T and boilup V_B
(kmol/min), feed F (kmol/min), feed composition z_F (mol/mol) and liquid fraction of the
feed q_F (1). Hold-ups are constant (M on trays, M_D in the condenser, M_B in the
reboiler), so the product flows follow from the flow balance::

    y_i = α·x_i / (1 + (α − 1)·x_i)                       (constant relative volatility)
    V_T = V_B + (1 − q_F)·F,  L_B = L_T + q_F·F           (constant molar overflow)
    D = V_T − L_T,  B = L_B − V_B
    L_i = L_B for i ≤ N_F, L_T above;  V_i = V_B for i < N_F, V_T from N_F up
    M·dx_i/dt = L_{i+1}·(x_{i+1} − x_i) + V_{i−1}·(y_{i−1} − x_i) − V_i·(y_i − x_i)
                [+ F·(z_F − x_i) on the feed stage]
    M_B·dx_1/dt = L_2·(x_2 − x_1) − V_B·(y_1 − x_1)
    M_D·dx_N/dt = V_T·(y_{N−1} − x_N)

Algebraic outputs: distillate D and bottoms B (kmol/min). The defaults are Skogestad's
"column A": N = 41, N_F = 21, α = 1.5, F = 1 kmol/min, z_F = 0.5, q_F = 1, L_T = 2.706,
V_B = 3.206 kmol/min, hold-ups 0.5 kmol, whose steady state has x_D = 0.99 and x_B = 0.01.

Sources: S. Skogestad, "Dynamics and control of distillation columns: a tutorial
introduction", Trans. IChemE 75 A (1997) 539–562 (column A, and its model ``colamod``);
S. Skogestad and I. Postlethwaite, *Multivariable Feedback Control*, 2nd ed., Wiley 2005,
section 13.4.

Example:
    >>> m = distillation_column()
    >>> x = m.steady_state(m.u0)
    >>> round(float(x[-1]), 3), round(float(x[0]), 3)
    (0.99, 0.01)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from processtwin.errors import ModelDefinitionError
from processtwin.physics._library import param_vars
from processtwin.physics.model import ProcessModel, Var

__all__ = ["distillation_column"]

_PARAMS = {
    "alpha": (1.5, "1", "relative volatility"),
    "M": (0.5, "kmol", "liquid hold-up on a tray"),
    "M_D": (0.5, "kmol", "condenser hold-up"),
    "M_B": (0.5, "kmol", "reboiler hold-up"),
}


def distillation_column(n_stages: int = 41, feed_stage: int = 21,
                        **overrides: float) -> ProcessModel:
    """A binary column of ``n_stages`` stages (reboiler and condenser included)."""
    n, nf = n_stages, feed_stage
    if n < 3 or not 1 < nf < n:
        raise ModelDefinitionError(
            f"distillation_column: need n_stages >= 3 and 1 < feed_stage < n_stages, "
            f"got {n}, {nf}")

    def flows(u: Sequence[Any]) -> tuple[Any, Any, Any, Any]:
        l_t, v_b, f, _, q_f = u
        return l_t, v_b, v_b + (1.0 - q_f) * f, l_t + q_f * f

    def rhs(m: Any, x: Sequence[Any], u: Sequence[Any], p: Mapping[str, Any]
            ) -> tuple[Any, ...]:
        l_t, v_b, v_t, l_b = flows(u)
        f, z_f = u[2], u[3]
        a = p["alpha"]
        y = [a * xi / (1.0 + (a - 1.0) * xi) for xi in x]
        dx = [(l_b * (x[1] - x[0]) - v_b * (y[0] - x[0])) / p["M_B"]]
        for s in range(2, n):  # stage numbers 2..n-1, index s-1
            i = s - 1
            l_above = l_b if s + 1 <= nf else l_t
            v_below = v_b if s - 1 < nf else v_t
            v_here = v_b if s < nf else v_t
            acc = (l_above * (x[i + 1] - x[i]) + v_below * (y[i - 1] - x[i])
                   - v_here * (y[i] - x[i]))
            if s == nf:
                acc = acc + f * (z_f - x[i])
            dx.append(acc / p["M"])
        dx.append(v_t * (y[n - 2] - x[n - 1]) / p["M_D"])
        return tuple(dx)

    def alg(m: Any, x: Sequence[Any], u: Sequence[Any], p: Mapping[str, Any]
            ) -> tuple[Any, ...]:
        l_t, v_b, v_t, l_b = flows(u)
        return v_t - l_t, l_b - v_b

    frac: dict[str, Any] = {"unit": "mol/mol", "lo": 0.0, "hi": 1.0}
    flow: dict[str, Any] = {"unit": "kmol/min", "lo": 0.0, "hi": 20.0}
    return ProcessModel(
        name="distillation_column",
        description=f"binary distillation column, {n} stages, feed on {nf}, CMO, constant α",
        states=tuple(Var(name=f"x{i + 1}", nominal=0.01 + 0.98 * i / (n - 1),
                         description=f"light-component liquid fraction, stage {i + 1}", **frac)
                     for i in range(n)),
        inputs=(Var(name="L_T", nominal=2.706, description="reflux", **flow),
                Var(name="V_B", nominal=3.206, description="boilup", **flow),
                Var(name="F", nominal=1.0, description="feed", **flow),
                Var(name="z_F", nominal=0.5, description="feed composition", **frac),
                Var(name="q_F", unit="1", nominal=1.0, lo=0.0, hi=1.0,
                    description="liquid fraction of the feed")),
        params=param_vars("distillation_column", _PARAMS, overrides),
        algebraic=(Var(name="D", unit="kmol/min", nominal=0.5, description="distillate"),
                   Var(name="B", unit="kmol/min", nominal=0.5, description="bottoms")),
        rhs=rhs,
        alg=alg,
        outputs=(f"x{n}", "x1", "L_T", "V_B"),
        time_unit="min",
    )
