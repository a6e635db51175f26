"""``ptwin estimate``: observability reports and offline parameter fits from a twin.yaml.

Examples::

    ptwin estimate observability examples/cstr/twin.yaml --sensors T_R,T_K
    ptwin estimate observability examples/cstr/twin.yaml --sensors T_R --params K_w --json
    ptwin estimate params examples/cstr/twin.yaml --params K_w --from-store --last 3600
    ptwin estimate params examples/cstr/twin.yaml --params K_w,beta --csv run.csv --json

Both work offline on the model and settings of the twin.yaml's ``estimator`` section (the
operating point: the model's nominal inputs with the configured parameters). ``params``
reads the estimator's input and measurement points from the twin's store file, or from a
CSV with a time column (``ts``/``time``/``timestamp``: epoch seconds or ISO-8601) and one
column per point, named by point key (``pump1.F``) or by model input or state (``F``,
``T_R``); an empty cell is a missing value. Invalid input exits 2 with the reason; a
store or solver failure exits 1.
"""

from __future__ import annotations

import csv
import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from processtwin.core.jsonsafe import json_safe as _clean
from processtwin.errors import ConfigError, InvalidInputError, ProcessTwinError

if TYPE_CHECKING:
    from processtwin.estimation.offline import TwinHistory
    from processtwin.physics.model import ProcessModel
    from processtwin.runtime.config import EstimatorConfig, TwinFile
    from processtwin.store.base import TimeSeriesStore

__all__ = ["estimate_app", "read_csv_store"]

estimate_app = typer.Typer(help="Observability reports and offline parameter estimation.",
                           no_args_is_help=True, add_completion=False)
console = Console(stderr=True)
TIME_COLUMNS = ("ts", "time", "timestamp")


def _names(value: str | None) -> list[str]:
    return [s.strip() for s in (value or "").split(",") if s.strip()]


def _epoch(value: str, what: str) -> float:
    try:
        t = float(value)
    except ValueError:
        pass
    else:
        if not math.isfinite(t):
            raise InvalidInputError(f"{what}: not a finite time: {value!r}")
        return t
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInputError(f"{what}: not an ISO-8601 time or epoch seconds: {value!r}"
                                ) from None
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()


def _setup(config: Path) -> tuple[TwinFile, EstimatorConfig, ProcessModel]:
    from processtwin.physics.cstr import van_de_vusse
    from processtwin.runtime.config import load_config

    cfg = load_config(config)
    if cfg.estimator is None:
        raise InvalidInputError(f"{config}: no estimator section (the model and its points)")
    return cfg, cfg.estimator, van_de_vusse()


def _fail(exc: ProcessTwinError) -> typer.Exit:
    if isinstance(exc, ConfigError):
        for p in exc.problems:
            console.print(f"[red]error[/red] {escape(str(p))}")
    else:
        console.print(f"[red]error[/red] {escape(str(exc))}")
    return typer.Exit(2 if isinstance(exc, InvalidInputError) else 1)


def _fmt(v: float) -> str:
    return f"{v:.4g}" if math.isfinite(v) else "∞" if v > 0 else "-∞"


# ---------------------------------------------------------------------- observability
@estimate_app.command("observability")
def observability(
    config: Annotated[Path, typer.Argument(help="twin.yaml with an estimator section")],
    sensors: Annotated[str, typer.Option(help="measured states, comma-separated")],
    states: Annotated[str | None, typer.Option(help="report these states (default all)")
                      ] = None,
    params: Annotated[str | None, typer.Option(help="also test these parameters' "
                                               "identifiability")] = None,
    horizon_s: Annotated[float, typer.Option(help="experiment length, plant seconds")
                         ] = 600.0,
    sample_s: Annotated[float, typer.Option(help="sampling period, plant seconds")] = 5.0,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")
                       ] = False,
) -> None:
    """Can these sensors tell the states (and the parameters)? Rank, Cramér–Rao stds."""
    from processtwin.estimation.observability import (
        identifiability_report,
        observability_report,
    )
    from processtwin.estimation.offline import analysis_config, check_names

    try:
        _, est, model = _setup(config)
        sens, keep, pars = _names(sensors), _names(states), _names(params)
        problems = check_names(model, sensors=sens, states=keep, params=pars)
        if not sens:
            problems.insert(0, "--sensors names no state")
        if problems:
            raise InvalidInputError("; ".join(problems))
        acfg = analysis_config(model, est, sens, horizon_s=horizon_s, sample_s=sample_s)
        rep = observability_report(model, acfg)
        ident = identifiability_report(model, pars, acfg) if pars else None
    except ProcessTwinError as exc:
        raise _fail(exc) from None
    keep = keep or list(model.state_names)
    if as_json:
        body = rep.to_dict()
        body["states"] = {k: v for k, v in body["states"].items() if k in keep}
        body["state_verdicts"] = {k: v for k, v in body["state_verdicts"].items() if k in keep}
        print(json.dumps(_clean({"observability": body,
                                 "identifiability": ident.to_dict() if ident else None})))
        return
    out = Console()
    t = Table(title=escape(rep.verdict()))
    for col in ("state", "unit", "in observable subspace", "Cramér–Rao std", "required",
                "verdict"):
        t.add_column(col)
    for name in keep:
        v = rep.states[name]
        colour = {"observable": "green", "weakly observable": "yellow"}.get(v.verdict, "red")
        t.add_row(name, escape(rep.units.get(name, "")), "yes" if v.in_observable_subspace
                  else "no", _fmt(v.crb_std), _fmt(v.required_std),
                  f"[{colour}]{v.verdict}[/{colour}]")
    out.print(t)
    if ident is not None:
        it = Table(title=escape(f"identifiability of {', '.join(ident.params)}: "
                                f"{ident.reason}"))
        for col in ("parameter", "relative CRB std", "null direction"):
            it.add_column(col)
        for p in ident.params:
            it.add_row(p, _fmt(ident.crb_rel_std[p]), f"{ident.null_direction[p]:+.3f}")
        out.print(it)
        out.print(f"rank {ident.rank} of {len(ident.params)}, condition number "
                  f"{_fmt(ident.condition_number)}, collinearity index "
                  f"{_fmt(ident.collinearity_index)}")


# ---------------------------------------------------------------------- params
def _column_key(name: str, est: EstimatorConfig) -> str:
    if name in est.inputs:
        return est.inputs[name]
    if name in est.measurements:
        return est.measurements[name][0]
    if name in est.delayed:
        return est.delayed[name]
    return name


def read_csv_store(path: Path, est: EstimatorConfig) -> tuple[TimeSeriesStore, float, float]:
    """The CSV's point columns in a MemoryStore (all good quality), with its time range."""
    from processtwin.core.batch import Batch
    from processtwin.core.points import PointSpec, PointTable
    from processtwin.store.memory import MemoryStore

    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"{path}: cannot read: {exc}") from exc
    if len(rows) < 2:
        raise InvalidInputError(f"{path}: needs a header and at least one row")
    header = [h.strip() for h in rows[0]]
    tcol = next((i for i, h in enumerate(header) if h.lower() in TIME_COLUMNS), None)
    if tcol is None:
        raise InvalidInputError(f"{path}: no time column (one of {', '.join(TIME_COLUMNS)})")
    wanted = {*est.inputs.values(), *est.delayed.values(),
              *(k for keys in est.measurements.values() for k in keys)}
    cols = {i: _column_key(h, est) for i, h in enumerate(header) if i != tcol}
    cols = {i: k for i, k in cols.items() if k in wanted}
    if not cols:
        raise InvalidInputError(f"{path}: no column names an estimator point "
                                f"({', '.join(sorted(wanted))})")
    keys = sorted(set(cols.values()))
    table = PointTable([PointSpec(twin=k.split(".", 1)[0], name=k.split(".", 1)[1])
                        for k in keys])
    pts: list[int] = []
    ts: list[float] = []
    vals: list[float] = []
    for line, row in enumerate(rows[1:], start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if tcol >= len(row):
            raise InvalidInputError(f"{path}:{line}: {header[tcol]}: missing (row too short)")
        t = _epoch(row[tcol], f"{path}:{line}")
        for i, key in cols.items():
            cell = row[i].strip() if i < len(row) else ""
            if not cell:
                continue
            try:
                v = float(cell)
            except ValueError:
                raise InvalidInputError(f"{path}:{line}: {header[i]}: not a number: "
                                        f"{cell!r}") from None
            pts.append(table.index(key))
            ts.append(t)
            vals.append(v)
    if not ts:
        raise InvalidInputError(f"{path}: no values")
    store = MemoryStore()
    store.register(table)
    store.append(Batch.of(pts, ts, vals, [0] * len(pts), [0] * len(pts)))
    return store, float(min(ts)), float(max(ts))


def _store_range(store: TimeSeriesStore, est: EstimatorConfig) -> float:
    keys = [*est.inputs.values(), *(k for ks in est.measurements.values() for k in ks)]
    newest = [float(s.ts[0]) for s in (store.latest(k) for k in keys) if len(s)]
    if not newest:
        raise InvalidInputError("the store holds no history of the estimator's points")
    return max(newest)


def _render_fit(res: Any, th: TwinHistory) -> None:
    out = Console()
    span = f"{_iso(th.start)} – {_iso(th.end)}"
    t = Table(title=escape(f"parameter estimates over {span}, {len(th.history.t)} grid "
                           f"times at {th.grid_s:g} s"))
    for col in ("parameter", "estimate", "std", "CI low", "CI high", "profile CI",
                "identifiable"):
        t.add_column(col)
    for n in res.names:
        lo, hi = res.ci[n]
        prof = res.profiles.get(n)
        pci = f"[{_fmt(prof.ci[0])}, {_fmt(prof.ci[1])}]" if prof else "-"
        ok = res.identifiable[n]
        t.add_row(n, _fmt(res.estimate[n]), _fmt(res.std[n]), _fmt(lo), _fmt(hi),
                  escape(pci), "[green]yes[/green]" if ok else "[red]no[/red]")
    out.print(t)
    out.print(f"χ² {res.chi2:.4g} on {res.dof} dof (s² {res.s2:.3g}), rank {res.rank}, "
              f"condition number {_fmt(res.condition_number)}; samples {th.samples}")


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


@estimate_app.command("params")
def params_cmd(
    config: Annotated[Path, typer.Argument(help="twin.yaml with an estimator section")],
    params: Annotated[str, typer.Option("--params", help="parameters to fit, comma-separated")],
    from_store: Annotated[bool, typer.Option("--from-store", help="read the twin's store")
                          ] = False,
    csv_file: Annotated[Path | None, typer.Option("--csv", help="read a CSV of the points")
                        ] = None,
    start: Annotated[str | None, typer.Option(help="ISO-8601 or epoch seconds")] = None,
    end: Annotated[str | None, typer.Option(help="ISO-8601 or epoch seconds (exclusive)")
                   ] = None,
    last: Annotated[float, typer.Option(help="without --start: this many seconds before "
                                        "the end")] = 3600.0,
    grid_s: Annotated[float, typer.Option(help="grid step, seconds")] = 10.0,
    profile: Annotated[bool, typer.Option(help="profile likelihood per parameter")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")
                       ] = False,
) -> None:
    """Fit parameters to history: estimates, stds, 95 % CIs, correlation, profiles."""
    from processtwin.estimation.offline import enough_data, history_from_store, paramest_config
    from processtwin.estimation.paramest import estimate_parameters

    store: TimeSeriesStore | None = None
    try:
        if from_store == (csv_file is not None):
            raise InvalidInputError("give exactly one of --from-store and --csv FILE")
        cfg, est, model = _setup(config)
        pcfg = paramest_config(model, est, _names(params), profile=profile)
        first: float | None = None
        if csv_file is not None:
            store, first, newest = read_csv_store(csv_file, est)
        else:
            from processtwin.runtime.runtime import build_point_table
            from processtwin.store import open_store

            store = open_store(cfg.store.spec(), Path(cfg.base_dir) / cfg.data_dir)
            store.register(build_point_table(cfg))
            newest = _store_range(store, est)
        t1 = newest + grid_s / 2 if end is None else _epoch(end, "--end")
        if start is not None:
            t0 = _epoch(start, "--start")
        else:
            t0 = first if first is not None else t1 - last
        th = history_from_store(store, model, est, t0, t1, grid_s)
        enough_data(th, model, len(pcfg.params))
        with console.status(f"fitting {', '.join(pcfg.params)} to {len(th.history.t)} "
                            "grid times"):
            res = estimate_parameters(model, th.history, pcfg)
    except ProcessTwinError as exc:
        raise _fail(exc) from None
    finally:
        if store is not None:
            store.close()
    if as_json:
        print(json.dumps(_clean({"data": th.to_dict(), **res.to_dict()})))
    else:
        _render_fit(res, th)
