"""A safe, vectorised expression language for derived points.

An expression is parsed with :mod:`ast` in ``eval`` mode and accepted only if every node is on
a whitelist:

* numbers (``int``/``float`` literals; no strings, booleans, complex numbers);
* names (input or constant symbols, resolved when the derived point is built);
* ``+ - * / **`` and unary ``+ -``;
* calls of ``min``, ``max`` (two or more arguments), ``abs``, ``sqrt``, ``exp``, ``log``
  (natural) by bare name, with positional arguments only.

Everything else is refused before anything runs: attribute access, subscripts, lambdas,
comprehensions, comparisons, keywords, other calls. Nothing is ever passed to :func:`eval`;
the tree is compiled to a closure of NumPy operations, so one evaluation over arrays of any
length costs one NumPy call per node. Division by zero, ``log`` of a non-positive number and
the like give ``inf``/``nan`` (no exception); the caller flags non-finite results.

:meth:`Expression.dimension` checks dimensions (see :mod:`~processtwin.pipeline.units`):
``+ − min max`` need equal dimensions, ``exp``/``log`` a dimensionless argument, ``**`` a
constant exponent unless the base is dimensionless, ``sqrt`` halves the exponents.

Example:
    >>> import numpy as np
    >>> e = parse_expression("F * rho * cp * (T_out - T_in)")
    >>> sorted(e.names)
    ['F', 'T_in', 'T_out', 'cp', 'rho']
    >>> e({"F": np.array([1.0, 2.0]), "rho": 1.0, "cp": 2.0, "T_out": 5.0, "T_in": 3.0})
    array([4., 8.])
    >>> parse_expression("__import__('os')")
    Traceback (most recent call last):
    ...
    processtwin.errors.InvalidInputError: call of '__import__' is not allowed (column 1)
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from functools import reduce
from typing import Any, TypeGuard

import numpy as np
import numpy.typing as npt

from processtwin.errors import InvalidInputError, UnitError
from processtwin.pipeline.units import DIMENSIONLESS, Dim, dim_text

__all__ = ["FUNCTIONS", "MAX_LENGTH", "Expression", "parse_expression"]

F64 = npt.NDArray[np.float64]
Value = F64 | float
Env = Mapping[str, Value]
_Fn = Callable[[Env], Any]

#: The functions an expression may call, with their argument counts (min, max).
FUNCTIONS: dict[str, tuple[int, int]] = {
    "min": (2, 64), "max": (2, 64), "abs": (1, 1), "sqrt": (1, 1), "exp": (1, 1),
    "log": (1, 1),
}
#: Longest expression text accepted, and most nodes in its tree.
MAX_LENGTH = 2000
_MAX_NODES = 500

_BINOPS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.true_divide,
    ast.Pow: np.power,
}
_UNARY: dict[str, Callable[[Any], Any]] = {
    "abs": np.abs, "sqrt": np.sqrt, "exp": np.exp, "log": np.log,
}


def _where(node: ast.AST) -> str:
    return f"(column {getattr(node, 'col_offset', 0) + 1})"


def _const(node: ast.expr) -> float | None:
    """The value of a literal number, or of a unary minus/plus applied to one."""
    if isinstance(node, ast.Constant) and _number(node.value):
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        inner = _const(node.operand)
        if inner is not None:
            return -inner if isinstance(node.op, ast.USub) else inner
    return None


def _number(v: object) -> TypeGuard[int | float]:
    return type(v) in (int, float)


def _compile(node: ast.expr, names: set[str]) -> _Fn:
    if isinstance(node, ast.Constant):
        if not _number(node.value):
            raise InvalidInputError(f"only numbers may be literals, not "
                                    f"{type(node.value).__name__} {_where(node)}")
        c = float(node.value)
        return lambda env: c
    if isinstance(node, ast.Name):
        name = node.id
        names.add(name)
        return lambda env: env[name]
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        op = _BINOPS[type(node.op)]
        left, right = _compile(node.left, names), _compile(node.right, names)
        return lambda env: op(left(env), right(env))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        inner = _compile(node.operand, names)
        if isinstance(node.op, ast.UAdd):
            return inner
        return lambda env: np.negative(inner(env))
    if isinstance(node, ast.Call):
        fname = node.func.id if isinstance(node.func, ast.Name) else None
        if fname not in FUNCTIONS or node.keywords:
            what = fname or type(node.func).__name__
            raise InvalidInputError(f"call of {what!r} is not allowed {_where(node)}")
        lo, hi = FUNCTIONS[fname]
        if not lo <= len(node.args) <= hi or any(isinstance(a, ast.Starred)
                                                 for a in node.args):
            raise InvalidInputError(f"{fname}() takes {lo}" + (f"..{hi}" if hi > lo else "")
                                    + f" positional argument(s) {_where(node)}")
        args = [_compile(a, names) for a in node.args]
        if fname in ("min", "max"):
            red = np.minimum if fname == "min" else np.maximum
            return lambda env: reduce(red, [a(env) for a in args])
        fn, arg = _UNARY[fname], args[0]
        return lambda env: fn(arg(env))
    raise InvalidInputError(f"{type(node).__name__} is not allowed in an expression "
                            f"{_where(node)}")


@dataclass(frozen=True, slots=True)
class Expression:
    """A parsed, whitelisted expression; call it with a mapping of name → array or float."""

    text: str
    names: frozenset[str]
    _tree: ast.expr = field(repr=False, compare=False)
    _fn: _Fn = field(repr=False, compare=False)

    def __call__(self, env: Env) -> F64:
        missing = self.names - set(env)
        if missing:
            raise InvalidInputError(f"no value for {sorted(missing)} in {self.text!r}")
        with np.errstate(all="ignore"):
            return np.asarray(self._fn(env), dtype=np.float64)

    def dimension(self, dims: Mapping[str, Dim]) -> Dim:
        """The dimension of the result given each name's; raises :class:`UnitError`."""
        return _dim(self._tree, dims, self.text)


def _dim(node: ast.expr, dims: Mapping[str, Dim], text: str) -> Dim:
    if isinstance(node, ast.Constant):
        return DIMENSIONLESS
    if isinstance(node, ast.Name):
        return dims[node.id]
    if isinstance(node, ast.UnaryOp):
        return _dim(node.operand, dims, text)
    if isinstance(node, ast.BinOp):
        a = _dim(node.left, dims, text)
        if isinstance(node.op, ast.Pow):
            b = _dim(node.right, dims, text)
            if b != DIMENSIONLESS:
                raise UnitError(f"exponent must be dimensionless, not {dim_text(b)} "
                                f"{_where(node.right)} in {text!r}")
            if a == DIMENSIONLESS:
                return a
            p = _const(node.right)
            if p is None:
                raise UnitError(f"a base of dimension {dim_text(a)} needs a constant exponent "
                                f"{_where(node.right)} in {text!r}")
            frac = Fraction(p).limit_denominator(1000)
            return tuple(x * frac for x in a)
        b = _dim(node.right, dims, text)
        if isinstance(node.op, ast.Mult):
            return tuple(x + y for x, y in zip(a, b, strict=True))
        if isinstance(node.op, ast.Div):
            return tuple(x - y for x, y in zip(a, b, strict=True))
        if a != b:
            sign = "+" if isinstance(node.op, ast.Add) else "-"
            raise UnitError(f"cannot {'add' if sign == '+' else 'subtract'} {dim_text(b)} "
                            f"{'to' if sign == '+' else 'from'} {dim_text(a)} "
                            f"{_where(node)} in {text!r}")
        return a
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        fname = node.func.id
        args = [_dim(a, dims, text) for a in node.args]
        if fname in ("min", "max"):
            if any(d != args[0] for d in args):
                raise UnitError(f"{fname}() arguments differ in dimension "
                                f"({', '.join(dim_text(d) for d in args)}) {_where(node)} "
                                f"in {text!r}")
            return args[0]
        if fname == "abs":
            return args[0]
        if fname == "sqrt":
            return tuple(x / 2 for x in args[0])
        if args[0] != DIMENSIONLESS:
            raise UnitError(f"{fname}() needs a dimensionless argument, not "
                            f"{dim_text(args[0])} {_where(node)} in {text!r}")
        return DIMENSIONLESS
    raise UnitError(f"cannot type {type(node).__name__} in {text!r}")  # pragma: no cover


def parse_expression(text: str) -> Expression:
    """Parse and whitelist ``text``; raises :class:`InvalidInputError` saying where."""
    if len(text) > MAX_LENGTH:
        raise InvalidInputError(f"expression longer than {MAX_LENGTH} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise InvalidInputError(f"expression does not parse: {exc.msg} "
                                f"(column {exc.offset or 0})") from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise InvalidInputError(f"expression does not parse: {type(exc).__name__}") from None
    if sum(1 for _ in ast.walk(tree)) > _MAX_NODES:
        raise InvalidInputError(f"expression has more than {_MAX_NODES} nodes")
    names: set[str] = set()
    try:
        fn = _compile(tree.body, names)
    except RecursionError:
        raise InvalidInputError("expression nests too deeply") from None
    return Expression(text.strip(), frozenset(names), tree.body, fn)
