"""Straight-line Python source from a CasADi SX function, for batched NumPy evaluation.

CasADi records an SX function as a list of scalar instructions (``w3 = w1 * w2``) after common
subexpression elimination. Emitting them as Python lines over NumPy arrays gives a function
that evaluates the expression, its exact Jacobian for instance, for N scenarios at once at
NumPy speed, instead of N calls into CasADi. The same source with ``math`` and a loop is what
a JIT compiler (numba) would take.

Source: J. A. E. Andersson et al., "CasADi: a software framework for nonlinear optimization
and optimal control", Math. Prog. Comp. 11 (2019) 1–36, section 3 (the SX virtual machine).

Example:
    >>> import casadi, numpy as np
    >>> x = casadi.SX.sym("x", 2)
    >>> fn = batched(casadi.Function("f", [x], [casadi.jacobian(x[0] * casadi.exp(x[1]), x)]))
    >>> xs = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 1.0]])  # x for 3 scenarios, (nx, N)
    >>> [o.shape for o in fn([xs])]
    [(3, 1, 2)]
    >>> fn([xs])[0][2].tolist()
    [[2.718281828459045, 8.154845485377136]]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import casadi
import numpy as np
import numpy.typing as npt

from processtwin.errors import ModelDefinitionError

__all__ = ["batched", "numpy_source"]

F64 = npt.NDArray[np.float64]

_BINARY = {
    casadi.OP_ADD: "{0} + {1}", casadi.OP_SUB: "{0} - {1}", casadi.OP_MUL: "{0} * {1}",
    casadi.OP_DIV: "{0} / {1}", casadi.OP_POW: "{0} ** {1}", casadi.OP_CONSTPOW: "{0} ** {1}",
    casadi.OP_FMAX: "fmax({0}, {1})", casadi.OP_FMIN: "fmin({0}, {1})",
    casadi.OP_LT: "1.0 * ({0} < {1})", casadi.OP_LE: "1.0 * ({0} <= {1})",
    casadi.OP_EQ: "1.0 * ({0} == {1})", casadi.OP_NE: "1.0 * ({0} != {1})",
    casadi.OP_IF_ELSE_ZERO: "where({0} != 0, {1}, 0.0)",
    casadi.OP_ATAN2: "arctan2({0}, {1})", casadi.OP_COPYSIGN: "copysign({0}, {1})",
}
_UNARY = {
    casadi.OP_ASSIGN: "{0}", casadi.OP_NEG: "-{0}", casadi.OP_EXP: "exp({0})",
    casadi.OP_LOG: "log({0})", casadi.OP_SQ: "{0} * {0}", casadi.OP_SQRT: "sqrt({0})",
    casadi.OP_TWICE: "2.0 * {0}", casadi.OP_INV: "1.0 / {0}", casadi.OP_FABS: "fabs({0})",
    casadi.OP_TANH: "tanh({0})", casadi.OP_SIN: "sin({0})", casadi.OP_COS: "cos({0})",
    casadi.OP_TAN: "tan({0})", casadi.OP_SINH: "sinh({0})", casadi.OP_COSH: "cosh({0})",
    casadi.OP_ATAN: "arctan({0})", casadi.OP_SIGN: "sign({0})", casadi.OP_FLOOR: "floor({0})",
    casadi.OP_CEIL: "ceil({0})", casadi.OP_EXPM1: "expm1({0})", casadi.OP_LOG1P: "log1p({0})",
}


def _const(v: float) -> str:
    if np.isnan(v):
        return "nan"
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    return repr(float(v))


def numpy_source(fn: casadi.Function, name: str = "generated") -> str:
    """Python source of ``def name(i0, i1, ...)`` returning one list of nonzeros per output.

    ``i{k}`` is a sequence of the nonzeros of input ``k``; names ``exp``, ``fmax``... must
    be bound in the globals the source is executed with (NumPy's serve).
    """
    if not fn.is_a("SXFunction"):
        raise ModelDefinitionError(f"codegen needs an SX function, got {fn.class_name()}")
    args = ", ".join(f"i{k}" for k in range(fn.n_in()))
    lines = [f"def {name}({args}):"]
    outs = [[_const(0.0)] * fn.nnz_out(k) for k in range(fn.n_out())]
    for k in range(fn.n_instructions()):
        op = fn.instruction_id(k)
        a = fn.instruction_input(k)
        o = fn.instruction_output(k)
        if op == casadi.OP_INPUT:
            lines.append(f"    w{o[0]} = i{a[0]}[{a[1]}]")
        elif op == casadi.OP_OUTPUT:
            lines.append(f"    o{o[0]}_{o[1]} = w{a[0]}")
            outs[o[0]][o[1]] = f"o{o[0]}_{o[1]}"
        elif op == casadi.OP_CONST:
            lines.append(f"    w{o[0]} = {_const(fn.instruction_constant(k))}")
        elif op in _BINARY:
            lines.append(f"    w{o[0]} = " + _BINARY[op].format(f"w{a[0]}", f"w{a[1]}"))
        elif op in _UNARY:
            lines.append(f"    w{o[0]} = " + _UNARY[op].format(f"w{a[0]}"))
        else:
            raise ModelDefinitionError(f"codegen: CasADi operation {op} is not supported")
    lines.append("    return [" + ", ".join("[" + ", ".join(o) + "]" for o in outs) + "]")
    return "\n".join(lines) + "\n"


_NS: dict[str, Any] = {
    n: getattr(np, n) for n in ("exp", "log", "sqrt", "fmax", "fmin", "where", "arctan2",
                                "copysign", "fabs", "tanh", "sin", "cos", "tan", "sinh", "cosh",
                                "arctan", "sign", "floor", "ceil", "expm1", "log1p", "nan", "inf")
}


def batched(fn: casadi.Function) -> Callable[[Sequence[Any]], list[F64]]:
    """``fn`` evaluated for N scenarios at once with NumPy.

    Call it with one array per input, shaped (nnz_in_k, N) (or (nnz_in_k,) when shared by
    all scenarios), or a sequence of nnz_in_k scalars and (N,) arrays; it returns one dense
    array per output, shaped (N, rows, cols), or (1, rows, cols) when no input varies.
    """
    src = numpy_source(fn)
    ns: dict[str, Any] = dict(_NS)
    exec(compile(src, f"<casadi {fn.name()}>", "exec"), ns)  # our own source
    gen = ns["generated"]
    sparsity = [fn.sparsity_out(k) for k in range(fn.n_out())]
    rows_cols = [(np.array(s.row()), np.array(s.get_col())) for s in sparsity]

    def call(inputs: Sequence[Any]) -> list[F64]:
        nzs = gen(*inputs)
        result = []
        for k, nz in enumerate(nzs):
            sp = sparsity[k]
            shape = np.broadcast_shapes(*(np.shape(v) for v in nz)) if nz else ()
            dense = np.zeros((*(shape or (1,)), sp.size1(), sp.size2()))
            if dense.ndim != 3:
                raise ModelDefinitionError(f"codegen: inputs must be rows of (N,), got {shape}")
            r, c = rows_cols[k]
            for j, v in enumerate(nz):
                dense[:, r[j], c[j]] = v
            result.append(dense)
        return result

    return call
