"""Composition: connect outputs of models to inputs of others, giving one ProcessModel.

``compose([("pump", pump), ("tank", tank), ("reactor", cstr)], [("pump.Q", "tank.q_in"),
("tank.h", "pump.H_st"), ("tank.q_out", "reactor.q")])`` builds a model whose states,
parameters and algebraic outputs are those of the parts, prefixed with the part's name
(``tank.h``), and whose inputs are the parts' inputs that no connection feeds. A connection
runs from a state or algebraic output of one part to an input of another; its value is
converted between the two units (dimensions must agree; ``m^3/s`` → ``l/min`` multiplies by
60 000, ``K`` → ``degC`` shifts by 273.15)::

    u_target = (scale_src·v + offset_src − offset_dst) / scale_dst

Each fed input stays visible as an algebraic output of the same name, so the parts'
measured outputs keep their meaning. Fed inputs and the algebraic outputs feeding them are
evaluated in the order of their structural dependencies (the sparsity of CasADi's
Jacobian dz/du of each part); a cycle among them is an algebraic loop and refused. A
connection from a state closes no loop, nor does one from an output that does not depend on
the inputs it would feed back to (a tank's outflow depends on its level only). Each part's
derivatives are rescaled to the composite time unit (by default the shortest of the parts'):
dx/dτ = dx/dt_part · (seconds per τ)/(seconds per t_part).

Source: the connection semantics of Modelica's causal connectors (Modelica Language
Specification 3.6, chapter 9), restricted to explicit, loop-free signal flow.

Example:
    >>> from processtwin.physics.pump import centrifugal_pump
    >>> from processtwin.physics.tanks import gravity_tank
    >>> plant = compose([("pump", centrifugal_pump()), ("tank", gravity_tank())],
    ...                 [("pump.Q", "tank.q_in"), ("tank.h", "pump.H_st")])
    >>> plant.state_names, plant.input_names
    (('pump.D', 'tank.h'), ('pump.n',))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from typing import Any

from processtwin.errors import ModelDefinitionError
from processtwin.physics.dimcheck import DimMath
from processtwin.physics.model import ProcessModel, Var
from processtwin.pipeline.units import Unit, parse_unit

__all__ = ["compose"]

Part = ProcessModel | tuple[str, ProcessModel]


@dataclass(frozen=True, slots=True)
class _Link:
    """Where a fed input's value comes from, and how to convert it."""

    part: int  # source part
    kind: str  # "x" state or "z" algebraic output
    index: int
    src: Unit
    dst: Unit


def _convert(m: Any, v: Any, src: Unit, dst: Unit) -> Any:
    if isinstance(m, DimMath):
        return m.convert(v, src, dst)
    a = src.scale / dst.scale
    b = (src.offset - dst.offset) / dst.scale
    if a != 1.0:
        v = v * a
    return v + b if b != 0.0 else v


def _placeholder(m: Any, v: Var) -> Any:
    if isinstance(m, DimMath):
        return m.quantity(v.unit, v.name)
    return v.nominal


def _order(named: Sequence[tuple[str, ProcessModel]], links: Mapping[tuple[int, int], _Link]
           ) -> list[tuple[str, int, int]]:
    """Evaluation order of fed inputs ("u", part, input) and the algebraic outputs feeding
    them ("z", part, output), from CasADi's structural dependencies of z on u."""
    graph: dict[tuple[str, int, int], set[tuple[str, int, int]]] = {}
    for (i, j), lk in links.items():
        graph[("u", i, j)] = {("z", lk.part, lk.index)} if lk.kind == "z" else set()
    for node in [n for deps in graph.values() for n in deps]:
        _, i, k = node
        sp = _dependencies(named[i][1])
        graph[node] = {("u", i, j) for j in sp[k] if (i, j) in links}
    try:
        return list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        cycle = []
        for kind, i, k in exc.args[1]:
            mm = named[i][1]
            names = mm.input_names if kind == "u" else mm.algebraic_names
            cycle.append(f"{named[i][0]}.{names[k]}")
        raise ModelDefinitionError(f"compose: algebraic loop {' -> '.join(cycle)}") from exc


def _dependencies(model: ProcessModel) -> list[set[int]]:
    """For each algebraic output, the inputs it structurally depends on."""
    import casadi

    x = casadi.SX.sym("x", model.nx)
    u = casadi.SX.sym("u", model.nu)
    p = casadi.SX.sym("p", len(model.params))
    z = model.casadi_alg(x, u, p)
    sp = casadi.jacobian_sparsity(z, u)
    deps: list[set[int]] = [set() for _ in range(model.nz)]
    for r, c in zip(sp.row(), sp.get_col(), strict=True):
        deps[r].add(c)
    return deps


def _split(ref: str, prefixes: Mapping[str, int]) -> tuple[int, str]:
    head, _, tail = ref.partition(".")
    if not tail or head not in prefixes:
        raise ModelDefinitionError(f"compose: {ref!r} is not PART.VARIABLE of a known part "
                                   f"({sorted(prefixes)})")
    return prefixes[head], tail


def compose(
    parts: Sequence[Part],
    connections: Sequence[tuple[str, str]],
    *,
    name: str = "composite",
    time_unit: str | None = None,
    outputs: Sequence[str] | None = None,
) -> ProcessModel:
    """Connect ``parts`` (models, or ``(prefix, model)`` pairs) by ``(source, target)`` pairs.

    ``outputs`` names the composite's measured outputs; by default the parts' own, prefixed.
    """
    named = [(p if isinstance(p, tuple) else (p.name, p)) for p in parts]
    prefixes = {n: i for i, (n, _) in enumerate(named)}
    if len(prefixes) != len(named) or any("." in n for n in prefixes):
        raise ModelDefinitionError(f"compose: part names must be distinct and free of '.': "
                                   f"{[n for n, _ in named]}")
    models = [m for _, m in named]
    links: dict[tuple[int, int], _Link] = {}
    problems: list[str] = []
    for src_ref, dst_ref in connections:
        si, sname = _split(src_ref, prefixes)
        di, dname = _split(dst_ref, prefixes)
        sm, dm = models[si], models[di]
        if sname in sm.state_names:
            kind, idx = "x", sm.state_names.index(sname)
            su = sm.states[idx].unit
        elif sname in sm.algebraic_names:
            kind, idx = "z", sm.algebraic_names.index(sname)
            su = sm.algebraic[idx].unit
        else:
            problems.append(f"{src_ref}: not a state or algebraic output of {sm.name}")
            continue
        if dname not in dm.input_names:
            problems.append(f"{dst_ref}: not an input of {dm.name}")
            continue
        j = dm.input_names.index(dname)
        if (di, j) in links:
            problems.append(f"{dst_ref}: fed twice")
            continue
        s_unit, d_unit = parse_unit(su), parse_unit(dm.inputs[j].unit)
        if s_unit.dim != d_unit.dim:
            problems.append(f"{src_ref} [{su}] cannot feed {dst_ref} [{dm.inputs[j].unit}]: "
                            "dimensions differ")
            continue
        links[(di, j)] = _Link(si, kind, idx, s_unit, d_unit)
    if problems:
        raise ModelDefinitionError(f"compose {name}: " + "; ".join(problems))
    order = _order(named, links)

    tu = time_unit or min((m.time_unit for m in models), key=lambda t: parse_unit(t).scale)
    tscale = parse_unit(tu)
    rates = [parse_unit(m.time_unit) for m in models]

    def pre(i: int, v: Var) -> Var:
        return Var(name=f"{named[i][0]}.{v.name}", unit=v.unit, nominal=v.nominal, lo=v.lo,
                   hi=v.hi, description=v.description)

    xoff, uoff, free = [], [], []
    nx = nu = 0
    for i, m in enumerate(models):
        xoff.append(nx)
        nx += m.nx
        uo = []
        for j in range(m.nu):
            if (i, j) in links:
                uo.append(-1)
            else:
                uo.append(nu)
                free.append(pre(i, m.inputs[j]))
                nu += 1
        uoff.append(uo)
    fed = sorted(links)

    def evaluate(m: Any, x: Sequence[Any], u: Sequence[Any], p: Mapping[str, Any],
                 want_z: bool) -> tuple[list[Any], list[Any]]:
        xs = [list(x[xoff[i]:xoff[i] + mm.nx]) for i, mm in enumerate(models)]
        ps = [{v.name: p[f"{named[i][0]}.{v.name}"] for v in mm.params}
              for i, mm in enumerate(models)]
        # inputs not known yet hold a placeholder that the outputs asked for do not depend on
        us: list[list[Any]] = [
            [u[uoff[i][j]] if uoff[i][j] >= 0 else _placeholder(m, mm.inputs[j])
             for j in range(mm.nu)] for i, mm in enumerate(models)]
        cache: dict[int, list[Any]] = {}  # a part's z for its current inputs
        zval: dict[tuple[int, int], Any] = {}
        for kind, i, k in order:
            if kind == "u":
                lk = links[(i, k)]
                v = xs[lk.part][lk.index] if lk.kind == "x" else zval[(lk.part, lk.index)]
                us[i][k] = _convert(m, v, lk.src, lk.dst)
                cache.pop(i, None)
            else:
                if i not in cache:
                    alg_i = models[i].alg
                    assert alg_i is not None
                    cache[i] = list(alg_i(m, xs[i], us[i], ps[i]))
                zval[(i, k)] = cache[i][k]
        if want_z:
            flat_z: list[Any] = []
            for i, mm in enumerate(models):
                if mm.alg is not None:
                    flat_z += list(mm.alg(m, xs[i], us[i], ps[i]))
            return [], flat_z + [us[i][j] for i, j in fed]
        flat_dx: list[Any] = []
        for i, mm in enumerate(models):
            r = rates[i]
            flat_dx += [_convert(m, d, parse_unit(v.unit) / r, parse_unit(v.unit) / tscale)
                        for d, v in zip(mm.rhs(m, xs[i], us[i], ps[i]), mm.states,
                                        strict=True)]
        return flat_dx, []

    def rhs(m: Any, x: Sequence[Any], u: Sequence[Any], p: Mapping[str, Any]) -> list[Any]:
        return evaluate(m, x, u, p, want_z=False)[0]

    def alg(m: Any, x: Sequence[Any], u: Sequence[Any], p: Mapping[str, Any]) -> list[Any]:
        return evaluate(m, x, u, p, want_z=True)[1]

    algebraic = [pre(i, v) for i, m in enumerate(models) for v in m.algebraic]
    algebraic += [pre(i, models[i].inputs[j]) for i, j in fed]
    default_outputs = [f"{named[i][0]}.{o}" for i, m in enumerate(models) for o in m.outputs]
    return ProcessModel(
        name=name,
        description="composite of " + ", ".join(f"{n} ({m.name})" for n, m in named),
        states=tuple(pre(i, v) for i, m in enumerate(models) for v in m.states),
        inputs=tuple(free),
        params=tuple(pre(i, v) for i, m in enumerate(models) for v in m.params),
        algebraic=tuple(algebraic),
        rhs=rhs,
        alg=alg if algebraic else None,
        outputs=tuple(default_outputs if outputs is None else outputs),
        time_unit=tu,
    )
