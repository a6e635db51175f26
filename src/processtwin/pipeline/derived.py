"""Derived points: values computed from other points, live from batches and over history.

A derived point is an expression over input points and named constants, with units::

    derived:
      - twin: jacket1
        name: Q_calc
        unit: kW
        expr: F * rho * cp * (T_out - T_in)
        inputs: {F: pump1.F_vol, T_in: jacket1.T_in, T_out: jacket1.T_out}
        constants: {rho: {value: 998, unit: kg/m3}, cp: {value: 4.18, unit: kJ/(kg*K)}}

or a Python function (:meth:`DerivedPoint.from_function`). Expressions go through the safe
evaluator of :mod:`~processtwin.pipeline.expr` and are checked once, when built:

* **Units.** Every input (in its point's unit) and constant is converted to coherent SI, the
  expression is evaluated in SI and the result converted to the declared unit, so the
  expression is physics, free of conversion factors (above: m³/h·kg/m³·J/(kg·K)·K = W, then
  kW). The result's dimension must equal the declared unit's (:class:`UnitError` otherwise).
  A result declared in an offset unit (``degC``, ``barg``) must be an *absolute* value: this
  is checked by shifting every input of that dimension by δ and requiring the result to move
  by δ, so ``T_out - T_in`` declared in ``degC`` is refused (declare ``K`` or ``delta_degC``).
* **Alignment (live and history alike).** Results are computed at every timestamp at which
  any input has a sample (the *union grid*), or at given grid times; each input contributes
  its newest sample at or before that time (zero-order hold, :mod:`~processtwin.pipeline.align`).
  Times before every input has a sample give no result.
* **Quality.** The worst input quality, with the union of the input reasons. An input older
  than ``max_age_s`` at the result's time makes the result at least *uncertain* (``stale``);
  a non-finite result is *bad* (``nan``). Imputed samples (filled gaps) are not used: they
  are made after the fact, when a gap closes, so a live result could not have seen them.

:class:`DerivedEngine` does this live: it carries each point's newest sample across batches,
so feeding batches in time order gives exactly what :func:`recompute` gives over the whole
history on the union grid. Derived points may feed other derived points (evaluated in
dependency order; cycles are refused).

Example:
    >>> import numpy as np
    >>> dp = DerivedPoint.from_expression(
    ...     "u.dT", "T_out - T_in", {"T_out": "u.T2", "T_in": "u.T1"},
    ...     {"u.T2": "degC", "u.T1": "degC"}, unit="K")
    >>> s = recompute(dp, {"u.T1": Series.of([0, 2], [20, 21]), "u.T2": Series.of([1], [30])})
    >>> s.ts.tolist(), s.value.round(6).tolist()
    ([1.0, 2.0], [10.0, 9.0])
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, field_validator

from processtwin.core.batch import Batch
from processtwin.core.points import PointKind, PointSpec, PointTable
from processtwin.core.quality import Quality, Reason
from processtwin.errors import ConfigError, ConfigProblem, InvalidInputError, UnitError
from processtwin.pipeline.align import Latest, Series, asof_index, point_slices
from processtwin.pipeline.expr import parse_expression
from processtwin.pipeline.units import Unit, dim_text, parse_unit

__all__ = [
    "ConstantConfig",
    "DerivedConfig",
    "DerivedEngine",
    "DerivedPoint",
    "compile_derived",
    "derived_specs",
    "recompute",
]

F64 = npt.NDArray[np.float64]
Compute = Callable[[Mapping[str, F64]], F64]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ConstantConfig(_Frozen):
    """A named constant of an expression, with its unit."""

    value: float
    unit: str = ""


class DerivedConfig(_Frozen):
    """One derived point in ``twin.yaml`` (``derived:`` list)."""

    twin: str
    name: str
    unit: str = ""
    expr: str
    inputs: dict[str, str] = Field(description="symbol -> point key (twin.point)")
    constants: dict[str, ConstantConfig] = Field(default_factory=dict)
    max_age_s: float | None = Field(default=None, gt=0,
                                    description="an input older than this makes it stale")
    lo: float = float("-inf")
    hi: float = float("inf")
    description: str = ""

    @field_validator("name")
    @classmethod
    def _no_dot(cls, v: str) -> str:
        if "." in v or not v:
            raise ValueError("point names must be non-empty and contain no '.'")
        return v

    @property
    def key(self) -> str:
        return f"{self.twin}.{self.name}"


@dataclass(frozen=True, slots=True)
class DerivedPoint:
    """A built derived point: its key, inputs (symbol → point key) and compute function.

    ``compute`` takes each symbol's values in its input point's unit and returns the result
    in ``unit``.
    """

    key: str
    unit: str
    inputs: Mapping[str, str]
    compute: Compute = field(repr=False, compare=False)
    max_age_s: float | None = None
    text: str = ""

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(self.inputs.values())

    @classmethod
    def from_function(cls, key: str, fn: Callable[..., F64], inputs: Mapping[str, str],
                      unit: str = "", max_age_s: float | None = None) -> DerivedPoint:
        """A derived point computed by ``fn(**{symbol: array})`` in the inputs' own units.

        No unit check is possible: ``fn`` must return the result in ``unit``.
        """
        def compute(values: Mapping[str, F64]) -> F64:
            return np.asarray(fn(**values), dtype=np.float64)

        return cls(key, unit, dict(inputs), compute, max_age_s, getattr(fn, "__name__", ""))

    @classmethod
    def from_expression(cls, key: str, expr: str, inputs: Mapping[str, str],
                        units: Mapping[str, str], unit: str = "",
                        constants: Mapping[str, tuple[float, str]] | None = None,
                        max_age_s: float | None = None) -> DerivedPoint:
        """Parse, whitelist and unit-check ``expr``; ``units`` maps point key → unit.

        Raises :class:`~processtwin.errors.InvalidInputError` (or its subclass
        :class:`~processtwin.errors.UnitError`) saying what is wrong.
        """
        e = parse_expression(expr)
        constants = dict(constants or {})
        clash = set(inputs) & set(constants)
        if clash:
            raise InvalidInputError(f"{sorted(clash)} are both inputs and constants")
        unknown = e.names - set(inputs) - set(constants)
        if unknown:
            raise InvalidInputError(f"unknown name(s) {sorted(unknown)} in {expr!r}")
        unused = set(inputs) - e.names
        if unused:
            raise InvalidInputError(f"input(s) {sorted(unused)} not used in {expr!r}")
        in_units = {s: parse_unit(units.get(k, "")) for s, k in inputs.items()}
        const_si: dict[str, float] = {}
        const_units: dict[str, Unit] = {}
        for s, (val, cu) in constants.items():
            u = parse_unit(cu)
            const_units[s] = u
            const_si[s] = u.to_si(val)
        out = parse_unit(unit)
        dims = {s: u.dim for s, u in {**in_units, **const_units}.items()}
        got = e.dimension(dims)
        if got != out.dim:
            raise UnitError(f"{key}: {expr!r} has dimension {dim_text(got)}, but the unit "
                            f"{unit!r} is {dim_text(out.dim)}")
        scales = {s: (u.scale, u.offset) for s, u in in_units.items()}

        def compute(values: Mapping[str, F64]) -> F64:
            env: dict[str, F64 | float] = dict(const_si)
            for s, (a, b) in scales.items():
                env[s] = a * np.asarray(values[s], dtype=np.float64) + b
            return (e(env) - out.offset) / out.scale

        if out.offset:
            _require_absolute(key, expr, unit, e, in_units, const_si, out)
        return cls(key, unit, dict(inputs), compute, max_age_s, expr)


def _require_absolute(key: str, expr: str, unit: str, e: Callable[[Mapping[str, F64 | float]],
                      F64], in_units: Mapping[str, Unit], const_si: Mapping[str, float],
                      out: Unit) -> None:
    """Refuse a result in an offset unit unless it moves one-for-one with its inputs."""
    rng = np.random.default_rng(7)
    base: dict[str, F64 | float] = dict(const_si)
    shifted: dict[str, F64 | float] = dict(const_si)
    for s, u in in_units.items():
        typical = abs(u.offset) if u.offset else 1.0
        x = typical * rng.uniform(1.0, 1.5, 4)
        base[s] = x
        shifted[s] = x + (1.0 if u.dim == out.dim else 0.0)
    moved = e(shifted) - e(base)
    if not np.allclose(moved, 1.0, rtol=1e-6, atol=1e-9):
        what = "a difference" if np.allclose(moved, 0.0, atol=1e-9) else "not an absolute value"
        raise UnitError(f"{key}: {expr!r} is {what}, so it cannot be given in the offset unit "
                        f"{unit!r}; declare it in an absolute-zero unit (K, delta_degC, Pa)")


def derived_specs(configs: Sequence[DerivedConfig]) -> list[PointSpec]:
    """The point specs the runtime adds to its table for the derived points."""
    return [PointSpec(twin=c.twin, name=c.name, unit=c.unit, kind=PointKind.DERIVED, lo=c.lo,
                      hi=c.hi, description=c.description or c.expr) for c in configs]


def _order(points: Sequence[DerivedPoint]) -> list[DerivedPoint]:
    """Dependency order (inputs first); raises on a cycle."""
    by_key = {p.key: p for p in points}
    done: list[DerivedPoint] = []
    state: dict[str, int] = {}

    def visit(p: DerivedPoint, path: tuple[str, ...]) -> None:
        if state.get(p.key) == 2:
            return
        if state.get(p.key) == 1:
            raise InvalidInputError("derived points form a cycle: "
                                    + " -> ".join((*path, p.key)))
        state[p.key] = 1
        for src in p.sources:
            if src in by_key:
                visit(by_key[src], (*path, p.key))
        state[p.key] = 2
        done.append(p)

    for p in points:
        visit(p, ())
    return done


def compile_derived(configs: Sequence[DerivedConfig], table: PointTable
                    ) -> list[DerivedPoint]:
    """Build every derived point of ``twin.yaml`` against a table, in dependency order.

    The table must already hold the derived points (:func:`derived_specs`). Raises
    :class:`~processtwin.errors.ConfigError` listing every problem with its place
    (``derived.<i>.<field>``).
    """
    problems: list[ConfigProblem] = []
    built: list[DerivedPoint] = []
    units = {s.key: s.unit for s in table}
    for i, c in enumerate(configs):
        bad = [k for k in c.inputs.values() if k not in table]
        for k in bad:
            problems.append(ConfigProblem(f"derived.{i}.inputs", f"unknown point {k!r}"))
        if c.key not in table:
            problems.append(ConfigProblem(f"derived.{i}.name",
                                          f"{c.key} is not in the point table"))
        if bad:
            continue
        try:
            built.append(DerivedPoint.from_expression(
                c.key, c.expr, c.inputs, units, c.unit,
                {s: (k.value, k.unit) for s, k in c.constants.items()}, c.max_age_s))
        except InvalidInputError as exc:
            problems.append(ConfigProblem(f"derived.{i}.expr", str(exc)))
    try:
        ordered = _order(built)
    except InvalidInputError as exc:
        problems.append(ConfigProblem("derived", str(exc)))
        ordered = []
    if problems:
        raise ConfigError(problems)
    return ordered


def _combine(dp: DerivedPoint, inputs: Mapping[str, Series], grid: F64) -> Series:
    """Evaluate ``dp`` at ``grid`` (sorted) from each symbol's series (sorted by ts)."""
    n = len(grid)
    ok = np.ones(n, dtype=bool)
    values: dict[str, F64] = {}
    q = np.zeros(n, dtype=np.uint8)
    r = np.zeros(n, dtype=np.uint32)
    for sym, s in inputs.items():
        idx = asof_index(s.ts, grid)
        ok &= idx >= 0
        at = np.maximum(idx, 0)
        if len(s) == 0:
            values[sym] = np.full(n, np.nan)
            continue
        values[sym] = s.value[at]
        np.maximum(q, s.quality[at], out=q)
        r |= s.reason[at]
        if dp.max_age_s is not None:
            stale = (grid - s.ts[at]) > dp.max_age_s
            q[stale] = np.maximum(q[stale], np.uint8(Quality.UNCERTAIN))
            r[stale] |= np.uint32(Reason.STALE)
    keep = np.flatnonzero(ok)
    if len(keep) < n:
        grid, q, r = grid[keep], q[keep], r[keep]
        values = {k: v[keep] for k, v in values.items()}
    if len(grid) == 0:
        return Series.of([], [])
    with np.errstate(all="ignore"):
        y = np.broadcast_to(dp.compute(values), grid.shape).astype(np.float64)
    bad = ~np.isfinite(y) & (q != Quality.BAD)
    q[bad] = np.uint8(Quality.BAD)
    r[bad] |= np.uint32(Reason.NAN)
    return Series(grid.copy(), y, q, r)


def _measured(s: Series) -> Series:
    imputed = (s.reason & np.uint32(Reason.IMPUTED)) != 0
    return s.take(np.flatnonzero(~imputed)) if imputed.any() else s


def recompute(dp: DerivedPoint, series: Mapping[str, Series], grid: npt.ArrayLike | None = None
              ) -> Series:
    """Recompute a derived point over history from its inputs' series (keyed by point key).

    ``grid=None`` evaluates at the union of the input timestamps (what the live engine
    produces); otherwise at the given times (sorted here). Each series must be sorted by ts.
    Grid times before every input has a sample are left out. Imputed samples are left out,
    as live.
    """
    missing = [k for k in dp.sources if k not in series]
    if missing:
        raise InvalidInputError(f"{dp.key}: no series for {missing}")
    by_sym = {sym: _measured(series[key]) for sym, key in dp.inputs.items()}
    if grid is None:
        g = np.unique(np.concatenate([s.ts for s in by_sym.values()]))
    else:
        g = np.sort(np.asarray(grid, dtype=np.float64))
    return _combine(dp, by_sym, g)


class DerivedEngine:
    """Computes derived points live, batch by batch, carrying each point's newest sample."""

    def __init__(self, points: Sequence[DerivedPoint], table: PointTable) -> None:
        self.points = _order(points)
        self.table = table
        self._ids = {p.key: table.index(p.key) for p in self.points}
        self._src = {p.key: {s: table.index(k) for s, k in p.inputs.items()}
                     for p in self.points}
        self.latest = Latest(len(table))

    def compute(self, batch: Batch) -> Batch:
        """Derived rows for a batch sorted by (point, ts), themselves sorted by (point, ts)."""
        if not self.points or len(batch) == 0:
            return Batch.empty()
        produced: dict[int, Series] = {}
        out: list[Batch] = []
        needed = np.array(sorted({i for m in self._src.values() for i in m.values()}),
                          dtype=np.int32)
        lo, hi = point_slices(batch, needed)
        rows = {int(p): (int(a), int(b)) for p, a, b in zip(needed, lo, hi, strict=True)}
        for dp in self.points:
            fresh: dict[str, Series] = {}
            for sym, pid in self._src[dp.key].items():
                if pid in produced:
                    fresh[sym] = produced[pid]
                else:
                    a, b = rows[pid]
                    fresh[sym] = _measured(Series(batch.ts[a:b], batch.value[a:b],
                                                  batch.quality[a:b], batch.reason[a:b]))
            stamps = [s.ts for s in fresh.values() if len(s)]
            if not stamps:
                continue
            grid = np.unique(np.concatenate(stamps))
            full = {sym: _with_carried(self.latest.series(pid), fresh[sym])
                    for sym, pid in self._src[dp.key].items()}
            res = _combine(dp, full, grid)
            if len(res) == 0:
                continue
            did = self._ids[dp.key]
            produced[did] = res
            out.append(Batch(np.full(len(res), did, np.int32), res.ts, res.value,
                             res.quality, res.reason))
        derived = Batch.concat(out).sorted() if out else Batch.empty()
        imputed = (batch.reason & np.uint32(Reason.IMPUTED)) != 0
        self.latest.update(batch.take(np.flatnonzero(~imputed)) if imputed.any() else batch)
        self.latest.update(derived)
        return derived


def _with_carried(carried: Series, fresh: Series) -> Series:
    if len(carried) == 0:
        return fresh
    if len(fresh) == 0:
        return carried
    s = Series(np.concatenate([carried.ts, fresh.ts]),
               np.concatenate([carried.value, fresh.value]),
               np.concatenate([carried.quality, fresh.quality]),
               np.concatenate([carried.reason, fresh.reason]))
    if fresh.ts[0] < carried.ts[0]:  # late data: order by time, newest last among equals
        s = s.take(np.argsort(s.ts, kind="stable"))
    return s
