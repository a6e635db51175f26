"""FMU co-simulation: an FMI 2.0 co-simulation FMU standing in for a unit model.

:class:`FmuUnit` loads an FMU with FMPy and maps its variables onto our names: states (set
at the start, read back after every step), inputs, further outputs and parameters, each
declared as a :class:`~processtwin.physics.model.Var` with *our* unit (``FmuUnit.like(path,
model)`` takes them from a :class:`ProcessModel`; ``alias`` maps our names onto differently
named FMU variables). Where the modelDescription declares a unit (its ``UnitDefinitions``
``BaseUnit``, else the unit's name parsed like ours), it is checked against ours: the same
dimension is converted (``K`` ↔ ``degC``, ``mol/l`` ↔ ``mol/m^3``), a different dimension is
a :class:`~processtwin.errors.UnitError` listing every mismatch. FMU time is in the unit of
its independent variable when declared, else seconds.

``unit.instantiate(n)`` gives an :class:`FmuBatch` of ``n`` instances, one per scenario;
``start``, ``set_inputs``, ``step``, ``states``, ``outputs`` work on all of them in our units,
``reset`` returns them to the instantiated state for another run.

:func:`cosimulate` is a fixed-step co-simulation master (Jacobi scheme, zero-order hold):
native models (stepped by :func:`~processtwin.physics.simulate` over each communication
interval) and FMUs advance together from one communication point to the next; at each point
the connected variables are exchanged, converted between units like :func:`compose`, and
passed along chains of direct feed-through (one pass per part). The coupling error is of the
order of the communication step; :func:`compose` (one monolithic model) has none and is
preferred whenever every part is a native model.

Source: FMI 2.0.4 standard, chapter 4 (co-simulation: instantiation, initialisation mode,
``fmi2DoStep``) and section 2.2.2 (unit definitions, ``value_SI = factor·value + offset``).
"""

from __future__ import annotations

import contextlib
import shutil
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt

from processtwin.errors import InvalidInputError, ModelDefinitionError, SolverError, UnitError
from processtwin.physics.batch import Method, simulate
from processtwin.physics.model import ProcessModel, Var
from processtwin.physics.scenarios import Scenarios
from processtwin.pipeline.units import BASE, Unit, parse_unit

__all__ = ["CoSimResult", "FmuBatch", "FmuUnit", "cosimulate"]

F64 = npt.NDArray[np.float64]
#: a free input: a constant, one value per scenario (N,), or a function of master time
InputSpec = float | Sequence[float] | F64 | Callable[[float], npt.ArrayLike]


@dataclass(frozen=True, slots=True)
class _Port:
    """One mapped variable: our name, the FMU's value reference, ``fmu = a·ours + b``."""

    name: str
    vr: int
    a: float
    b: float


def _affine(src: Unit, dst: Unit) -> tuple[float, float]:
    """``v_dst = a·v_src + b`` between two units of one dimension."""
    return src.scale / dst.scale, (src.offset - dst.offset) / dst.scale


def _fmu_unit(md: Any, name: str) -> Unit:
    for ud in md.unitDefinitions:
        if ud.name == name and ud.baseUnit is not None:
            bu = ud.baseUnit
            exps = {"m": bu.m, "kg": bu.kg, "s": bu.s, "K": bu.K, "mol": bu.mol, "A": bu.A,
                    "cd": bu.cd}
            dim = tuple(parse_unit("1").dim[i] + exps[b] for i, b in enumerate(BASE))
            return Unit(float(bu.factor), dim, float(bu.offset), name)
    return parse_unit(name)


class FmuUnit:
    """An FMI 2.0 co-simulation FMU with its variables mapped onto ours (module docstring)."""

    def __init__(self, path: str | Path, *, states: Sequence[Var], inputs: Sequence[Var],
                 outputs: Sequence[Var] = (), params: Sequence[Var] = (),
                 alias: Mapping[str, str] | None = None, name: str | None = None) -> None:
        try:
            from fmpy import extract, read_model_description  # type: ignore[import-untyped]
        except ImportError as exc:  # pragma: no cover - fmpy is a dependency
            raise ModelDefinitionError("FMU support needs the fmpy package") from exc
        self.path = Path(path)
        try:
            md = read_model_description(str(self.path))
        except Exception as exc:  # FMPy raises plain exceptions for broken archives and XML
            raise ModelDefinitionError(f"{self.path}: not a readable FMU: {exc}") from exc
        if md.fmiVersion != "2.0" or md.coSimulation is None:
            raise ModelDefinitionError(f"{self.path}: not an FMI 2.0 co-simulation FMU "
                                       f"(fmiVersion {md.fmiVersion})")
        self.name = name or md.modelName
        self.states, self.inputs = tuple(states), tuple(inputs)
        self.outputs, self.params = tuple(outputs), tuple(params)
        self._md = md
        alias = dict(alias or {})
        fvars = {v.name: v for v in md.modelVariables}
        problems: list[str] = []
        units: list[str] = []
        self.time_unit = "s"
        for v in md.modelVariables:
            if v.causality == "independent" and v.unit:
                self.time_unit = v.unit

        def port(var: Var, causality: set[str] | None) -> _Port:
            fname = alias.get(var.name, var.name)
            fv = fvars.get(fname)
            if fv is None or fv.type != "Real":
                problems.append(f"{var.name}: no Real variable {fname!r} in the FMU")
                return _Port(var.name, -1, 1.0, 0.0)
            if causality is not None and fv.causality not in causality:
                problems.append(f"{var.name}: FMU variable {fname!r} has causality "
                                f"{fv.causality}, expected {'/'.join(sorted(causality))}")
            ours = parse_unit(var.unit)
            unit = fv.unit or (fv.declaredType.unit if fv.declaredType is not None else None)
            if not unit:
                return _Port(var.name, fv.valueReference, 1.0, 0.0)
            theirs = _fmu_unit(md, unit)
            if theirs.dim != ours.dim:
                units.append(f"{var.name} [{var.unit}] vs FMU {fname} [{unit}]")
                return _Port(var.name, fv.valueReference, 1.0, 0.0)
            return _Port(var.name, fv.valueReference, *_affine(ours, theirs))

        self._x = tuple(port(v, None) for v in self.states)
        self._u = tuple(port(v, {"input"}) for v in self.inputs)
        self._y = tuple(port(v, None) for v in self.outputs)
        self._p = tuple(port(v, {"parameter"}) for v in self.params)
        if problems:
            raise ModelDefinitionError(f"{self.name}: " + "; ".join(problems))
        if units:
            raise UnitError(f"{self.name}: {len(units)} unit mismatch(es): " + "; ".join(units))
        self._dir: str | None = extract(str(self.path))
        self._cleanup = weakref.finalize(self, shutil.rmtree, self._dir, True)

    @classmethod
    def like(cls, path: str | Path, model: ProcessModel, *,
             alias: Mapping[str, str] | None = None, params: Sequence[str] = (),
             name: str | None = None) -> FmuUnit:
        """An FMU standing in for ``model``: its states, inputs and algebraic outputs, and
        the parameters named in ``params``."""
        return cls(path, states=model.states, inputs=model.inputs, outputs=model.algebraic,
                   params=tuple(model.var(p) for p in params), alias=alias,
                   name=name or model.name)

    @property
    def state_names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.states)

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.inputs)

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.outputs)

    @property
    def x0(self) -> F64:
        return np.array([v.nominal for v in self.states])

    @property
    def u0(self) -> F64:
        return np.array([v.nominal for v in self.inputs])

    def instantiate(self, n: int = 1) -> FmuBatch:
        """``n`` instances of the FMU, one per scenario (call :meth:`FmuBatch.start`)."""
        if self._dir is None:
            raise InvalidInputError(f"{self.name}: the FMU is closed")
        if n < 1:
            raise InvalidInputError(f"need at least one instance, not {n}")
        return FmuBatch(self, n, self._dir)

    def close(self) -> None:
        """Remove the extracted FMU (instances must be closed first)."""
        self._cleanup()
        self._dir = None

    def __enter__(self) -> FmuUnit:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _rows(value: npt.ArrayLike | None, default: F64, n: int, what: str) -> F64:
    a = np.asarray(default if value is None else value, dtype=np.float64)
    try:
        out = np.broadcast_to(a, (n, default.shape[0]))
    except ValueError as exc:
        raise InvalidInputError(f"{what} must be ({default.shape[0]},) or ({n}, "
                                f"{default.shape[0]}), got {a.shape}") from exc
    if not np.all(np.isfinite(out)):
        raise InvalidInputError(f"{what} is not finite")
    return np.array(out)


class FmuBatch:
    """``n`` instances of one FMU, stepped in lock-step; values in our units, (N, k)."""

    def __init__(self, unit: FmuUnit, n: int, unzipdir: str) -> None:
        from fmpy.fmi2 import FMU2Slave  # type: ignore[import-untyped]

        self.unit, self.n = unit, n
        self.t = 0.0
        self._slaves: list[Any] = []
        md = unit._md
        try:
            for i in range(n):
                s = FMU2Slave(guid=md.guid, unzipDirectory=unzipdir,
                              modelIdentifier=md.coSimulation.modelIdentifier,
                              instanceName=f"{unit.name}[{i}]")
                s.instantiate()
                self._slaves.append(s)
        except Exception as exc:
            self.close()
            raise SolverError(f"{unit.name}: cannot instantiate the FMU: {exc}") from exc
        self._u = np.tile(unit.u0, (n, 1))

    def _call(self, what: str, fn: Callable[[int, Any], Any]) -> list[Any]:
        out = []
        for i, s in enumerate(self._slaves):
            try:
                out.append(fn(i, s))
            except Exception as exc:  # FMPy's FMICallException, ctypes errors
                raise SolverError(f"{self.unit.name}[{i}]: {what} failed at t={self.t}: "
                                  f"{exc}") from exc
        return out

    def _set(self, ports: Sequence[_Port], values: F64) -> None:
        vrs = [p.vr for p in ports]
        a = np.array([p.a for p in ports])
        b = np.array([p.b for p in ports])
        fmu = values * a + b
        self._call("set", lambda i, s: s.setReal(vrs, [float(v) for v in fmu[i]]))

    def _get(self, ports: Sequence[_Port]) -> F64:
        if not ports:
            return np.zeros((self.n, 0))
        vrs = [p.vr for p in ports]
        raw = np.array(self._call("get", lambda _, s: s.getReal(vrs)), dtype=np.float64)
        out: F64 = (raw - np.array([p.b for p in ports])) / np.array([p.a for p in ports])
        return out

    def start(self, *, x0: npt.ArrayLike | None = None, u: npt.ArrayLike | None = None,
              params: Mapping[str, npt.ArrayLike] | None = None, t0: float = 0.0) -> None:
        """Set up the experiment at ``t0`` (FMU time), set initial states (nx,) or (N, nx),
        inputs and parameters (scalars or (N,)), and leave initialisation mode."""
        unit = self.unit
        x = _rows(x0, unit.x0, self.n, "x0")
        self._u = _rows(u, unit.u0, self.n, "u")
        pnames = [v.name for v in unit.params]
        unknown = set(params or {}) - set(pnames)
        if unknown:
            raise InvalidInputError(f"{unit.name}: unknown FMU parameters {sorted(unknown)}")
        pp = [p for p in unit._p if p.name in (params or {})]
        pv = (np.stack([np.broadcast_to(np.asarray((params or {})[p.name], float), (self.n,))
                        for p in pp], axis=1) if pp else np.zeros((self.n, 0)))
        self.t = float(t0)
        self._call("setupExperiment", lambda _, s: s.setupExperiment(startTime=self.t))
        self._set(unit._x, x)
        self._set(unit._u, self._u)
        if pp:
            self._set(pp, pv)
        self._call("enterInitializationMode", lambda _, s: s.enterInitializationMode())
        self._call("exitInitializationMode", lambda _, s: s.exitInitializationMode())

    def set_inputs(self, u: npt.ArrayLike) -> None:
        """Inputs (nu,) or (N, nu), held until the next call (zero-order hold)."""
        self._u = _rows(u, self.unit.u0, self.n, "u")
        self._set(self.unit._u, self._u)

    def step(self, h: float) -> None:
        """Advance every instance by ``h`` (FMU time units)."""
        if not h > 0:
            raise InvalidInputError(f"communication step must be positive, got {h}")
        self._call("doStep", lambda _, s: s.doStep(currentCommunicationPoint=self.t,
                                                communicationStepSize=h))
        self.t += h

    def states(self) -> F64:
        return self._get(self.unit._x)

    def inputs(self) -> F64:
        return self._u.copy()

    def outputs(self) -> F64:
        return self._get(self.unit._y)

    def reset(self) -> None:
        """Back to the instantiated state; call :meth:`start` before stepping again."""
        self._call("reset", lambda _, s: s.reset())
        self.t = 0.0

    def close(self) -> None:
        for s in self._slaves:
            with contextlib.suppress(Exception):  # a failed instance may refuse terminate
                s.terminate()
            s.freeInstance()
        self._slaves = []

    def __enter__(self) -> FmuBatch:
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


# ---------------------------------------------------------------------- co-simulation master
@dataclass(frozen=True, eq=False)
class CoSimResult:
    """``values["part.var"]`` is (N, T) at the communication points ``t`` (master time)."""

    t: F64
    values: Mapping[str, F64]
    time_unit: str

    def __getitem__(self, name: str) -> F64:
        try:
            return self.values[name]
        except KeyError:
            raise InvalidInputError(f"no variable {name!r}; known: {sorted(self.values)}") \
                from None


class _Native:
    """A native model stepped by the batch simulator over each communication interval."""

    def __init__(self, model: ProcessModel, x0: F64, p: Mapping[str, F64], speed: float,
                 method: Method, rtol: float) -> None:
        self.model, self.x, self.p = model, x0, dict(p)
        self.u = np.tile(model.u0, (x0.shape[0], 1))
        self.speed, self.method, self.rtol = speed, method, rtol
        self.outs = (*model.state_names, *model.algebraic_names)

    def value(self, name: str) -> F64:
        m = self.model
        if name in m.state_names:
            return self.x[:, m.state_names.index(name)]
        z = m.z(self.x, self.u, m.params_with(self.p))
        return z[:, m.algebraic_names.index(name)]

    def set_input(self, j: int, v: F64) -> None:
        self.u[:, j] = v

    def step(self, h: float) -> None:
        sc = Scenarios(x0=self.x, u=self.u.copy(), params=self.p)
        tr = simulate(self.model, sc, np.array([0.0, h * self.speed]), method=self.method,
                      rtol=self.rtol)
        self.x = np.array(tr.x[:, -1], dtype=np.float64)


class _Fmu:
    """An FMU batch behind the same face as :class:`_Native`."""

    def __init__(self, batch: FmuBatch, speed: float) -> None:
        self.batch, self.speed = batch, speed
        self.u = batch.inputs()
        self.outs = (*batch.unit.state_names, *batch.unit.output_names)

    def value(self, name: str) -> F64:
        unit = self.batch.unit
        if name in unit.state_names:
            return self.batch.states()[:, unit.state_names.index(name)]
        return self.batch.outputs()[:, unit.output_names.index(name)]

    def set_input(self, j: int, v: F64) -> None:
        self.u[:, j] = v
        self.batch.set_inputs(self.u)

    def step(self, h: float) -> None:
        self.batch.step(h * self.speed)


def cosimulate(
    parts: Sequence[tuple[str, ProcessModel | FmuUnit]],
    connections: Sequence[tuple[str, str]],
    t: npt.ArrayLike,
    *,
    n: int = 1,
    x0: Mapping[str, npt.ArrayLike] | None = None,
    u: Mapping[str, InputSpec] | None = None,
    params: Mapping[str, npt.ArrayLike] | None = None,
    time_unit: str = "h",
    method: Method = "dopri5",
    rtol: float = 1e-8,
) -> CoSimResult:
    """Co-simulate native models and FMUs for ``n`` scenarios over communication points ``t``.

    ``connections`` are ``("part.output", "part.input")`` pairs (a state, algebraic output or
    FMU output feeding an input); ``x0`` maps a part to its initial states (nx,) or (N, nx);
    ``u`` maps each free input ``"part.input"`` to a constant, (N,) values or a function of
    master time sampled at the communication points (default: nominal); ``params`` maps
    ``"part.param"`` to a scalar or (N,) values. ``method`` and ``rtol`` are those of the
    native parts' integrator.
    """
    ta = np.asarray(t, dtype=np.float64)
    if ta.ndim != 1 or ta.size < 2 or not np.all(np.diff(ta) > 0):
        raise InvalidInputError("t must hold at least two increasing communication points")
    names = [nm for nm, _ in parts]
    if len(set(names)) != len(names) or any("." in nm for nm in names):
        raise ModelDefinitionError(f"cosimulate: part names must be distinct and free of "
                                   f"'.': {names}")
    index = {nm: i for i, nm in enumerate(names)}
    sec = parse_unit(time_unit).scale
    x0, u, params = dict(x0 or {}), dict(u or {}), dict(params or {})
    stray = sorted(k for k in [*x0, *(k.partition(".")[0] for k in params)] if k not in index)
    if stray:
        raise InvalidInputError(f"cosimulate: x0 or params for unknown parts {stray}")
    runners: list[_Native | _Fmu] = []
    ins: list[tuple[Var, ...]] = []
    try:
        for nm, part in parts:
            pp = {k.partition(".")[2]: np.broadcast_to(np.asarray(v, float), (n,))
                  for k, v in params.items() if k.partition(".")[0] == nm}
            if isinstance(part, ProcessModel):
                x = _rows(x0.get(nm), part.x0, n, f"x0 of {nm}")
                part.params_with(pp)  # refuses unknown parameters
                runners.append(_Native(part, x, pp,
                                       sec / part.seconds_per_time_unit, method, rtol))
                ins.append(part.inputs)
            else:
                batch = part.instantiate(n)
                runners.append(_Fmu(batch, sec / parse_unit(part.time_unit).scale))
                batch.start(x0=x0.get(nm), params=pp, t0=float(ta[0]) * runners[-1].speed)
                ins.append(part.inputs)
        links, fed = _links(parts, runners, ins, index, connections)
        free = {}
        for i, (nm, _) in enumerate(parts):
            for j, v in enumerate(ins[i]):
                key = f"{nm}.{v.name}"
                if (i, j) in fed:
                    if key in u:
                        raise InvalidInputError(f"{key} is fed by a connection; do not set it")
                    continue
                free[(i, j)] = u.pop(key, v.nominal)
        if u:
            raise InvalidInputError(f"unknown free inputs {sorted(u)}")
        out: dict[str, F64] = {}
        for k, tk in enumerate(ta):
            for (i, j), spec in free.items():
                val = np.asarray(spec(float(tk)) if callable(spec) else spec, float)
                if val.shape not in ((), (n,)) or not np.all(np.isfinite(val)):
                    raise InvalidInputError(f"input {names[i]}.{ins[i][j].name} at t={tk}: "
                                            f"need a finite scalar or ({n},) values")
                runners[i].set_input(j, np.broadcast_to(val, (n,)))
            for _ in parts:  # settle chains of feed-through, one pass per part
                for si, sname, di, dj, a, b in links:
                    runners[di].set_input(dj, a * runners[si].value(sname) + b)
            for i, r in enumerate(runners):
                for vn in (*r.outs, *(v.name for v in ins[i])):
                    col = r.u[:, [v.name for v in ins[i]].index(vn)] if vn not in r.outs \
                        else r.value(vn)
                    out.setdefault(f"{names[i]}.{vn}", np.empty((n, ta.size)))[:, k] = col
            if k + 1 < ta.size:
                for r in runners:
                    r.step(float(ta[k + 1] - tk))
    finally:
        for r in runners:
            if isinstance(r, _Fmu):
                r.batch.close()
    return CoSimResult(t=ta, values=out, time_unit=time_unit)


def _links(parts: Sequence[tuple[str, ProcessModel | FmuUnit]],
           runners: Sequence[_Native | _Fmu], ins: Sequence[tuple[Var, ...]],
           index: Mapping[str, int], connections: Sequence[tuple[str, str]]
           ) -> tuple[list[tuple[int, str, int, int, float, float]], set[tuple[int, int]]]:
    links, fed, problems = [], set(), []
    for src, dst in connections:
        (sp, _, sn), (dp, _, dn) = src.partition("."), dst.partition(".")
        if sp not in index or dp not in index:
            problems.append(f"{src} -> {dst}: unknown part")
            continue
        si, di = index[sp], index[dp]
        if sn not in runners[si].outs:
            problems.append(f"{src}: not a state or output of {sp}")
            continue
        dnames = [v.name for v in ins[di]]
        if dn not in dnames or (di, dnames.index(dn)) in fed:
            problems.append(f"{dst}: not an input of {dp}, or fed twice")
            continue
        part = parts[si][1]
        svar = part.var(sn) if isinstance(part, ProcessModel) else next(
            v for v in (*part.states, *part.outputs) if v.name == sn)
        dj = dnames.index(dn)
        su, du = parse_unit(svar.unit), parse_unit(ins[di][dj].unit)
        if su.dim != du.dim:
            raise UnitError(f"{src} [{svar.unit}] cannot feed {dst} [{ins[di][dj].unit}]")
        fed.add((di, dj))
        links.append((si, sn, di, dj, *_affine(su, du)))
    if problems:
        raise ModelDefinitionError("cosimulate: " + "; ".join(problems))
    return links, fed
