"""``ptwin whatif SCENARIO.yaml``: Monte Carlo what-if, offline or against a running twin.

Offline (default) it starts from the model's nominal state with the twin.yaml estimator's
initial covariance (``--config``; without it, the van de Vusse model's nominal point with
no state uncertainty) and shows a progress bar over the sample chunks. With ``--url`` it
asks a running twin service, which starts from its live estimate. ``--out`` draws the bands
and constraint lines into a PNG (matplotlib); ``--json`` prints the whole result.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from processtwin.errors import ConfigError, ConfigProblem, InvalidInputError, ProcessTwinError
from processtwin.whatif.models import WhatIfRequest, WhatIfResult

__all__ = ["plot_result", "whatif"]

console = Console(stderr=True)


def _request(path: Path, n: int | None, seed: int | None) -> WhatIfRequest:
    where = str(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError([ConfigProblem("", f"cannot read the scenario: {exc}", where)]
                          ) from exc
    if not isinstance(raw, dict):
        raise ConfigError([ConfigProblem("", "a scenario is a mapping", where)])
    if n is not None:
        raw["n"] = n
    if seed is not None:
        raw["seed"] = seed
    try:
        return WhatIfRequest.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError([ConfigProblem(".".join(map(str, e["loc"])), e["msg"], where)
                           for e in exc.errors()]) from exc


def _remote(url: str, twin: str, req: WhatIfRequest) -> WhatIfResult:
    import httpx

    target = f"{url.rstrip('/')}/api/v1/twins/{twin}/whatif"
    try:
        with console.status(f"what-if on {target} ({req.n} samples)"):
            r = httpx.post(target, content=req.model_dump_json(exclude_defaults=True),
                           headers={"content-type": "application/json"}, timeout=600.0)
    except httpx.HTTPError as exc:
        raise ProcessTwinError(f"{target}: {exc}") from exc
    if r.status_code != 200:
        body = r.json() if r.headers.get("content-type", "").endswith("json") else {}
        reasons = [e.get("msg", "") for e in body.get("errors", [])]
        raise ProcessTwinError(f"{target}: {r.status_code} {body.get('detail', r.text)}"
                               + "".join(f"\n  {m}" for m in reasons))
    return WhatIfResult.model_validate(r.json())


def _local(config: Path | None, req: WhatIfRequest) -> WhatIfResult:
    from processtwin.whatif.live import offline_fork

    est_cfg = None
    if config is not None:
        from processtwin.runtime.config import load_config

        est_cfg = load_config(config).estimator
    start = offline_fork(est_cfg)
    cols = (TextColumn("what-if"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*cols, console=console, transient=True) as bar:
        task = bar.add_task("samples", total=req.n)
        return start.run(req, chunk=max(1, min(250, req.n // 8 or 1)),
                         progress=lambda done, total: bar.update(task, completed=done))


def plot_result(res: WhatIfResult, path: Path, variables: list[str] | None = None) -> Path:
    """Bands (outer percentiles shaded, the middle one drawn) and constraint lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = variables or list(dict.fromkeys(
        [c.variable for c in res.constraints]
        + [k for k, b in res.variables.items() if b.kind == "state"]))[:6]
    t_min = [t / 60.0 for t in res.t_s]
    fig, axes = plt.subplots(len(names), 1, figsize=(8, 2.2 * len(names) + 0.6), sharex=True,
                             squeeze=False)
    for ax, name in zip(axes[:, 0], names, strict=True):
        band = res.variables[name]
        keys = list(band.percentiles)
        lo, hi = band.percentiles[keys[0]], band.percentiles[keys[-1]]
        ax.fill_between(t_min, lo, hi, alpha=0.3, color="tab:blue",
                        label=f"{keys[0]}–{keys[-1]}")
        mid = keys[len(keys) // 2]
        ax.plot(t_min, band.percentiles[mid], color="tab:blue", label=mid)
        for c in res.constraints:
            if c.variable == name:
                limit = c.above if c.above is not None else c.below
                ax.axhline(limit, color="tab:red", ls="--",
                           label=f"{c.label}: P={c.probability:.3f} "
                                 f"[{c.ci_low:.3f}, {c.ci_high:.3f}]")
        ax.set_ylabel(f"{name} [{band.unit}]")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    axes[-1, 0].set_xlabel("minutes from now")
    fig.suptitle(f"what-if on {res.model}: {res.n} samples from the {res.origin} state",
                 fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _render(res: WhatIfResult) -> None:
    out = Console()
    t = Table(title=f"what-if: {res.n} samples ({res.n_failed} failed), from the {res.origin} "
                    f"state, {res.elapsed_s:.2f} s")
    for col in ("constraint", "P(violation)", "CI", "violations"):
        t.add_column(col)
    for c in res.constraints:
        t.add_row(c.label, f"{c.probability:.4f}",
                  f"[{c.ci_low:.4f}, {c.ci_high:.4f}] ({c.confidence:.0%})",
                  f"{c.violations}/{c.n}")
    out.print(t)
    end = Table(title=f"at {res.t_s[-1]:g} s")
    end.add_column("variable")
    keys = list(next(iter(res.variables.values())).percentiles)
    for k in keys:
        end.add_column(k)
    for name, b in res.variables.items():
        end.add_row(escape(f"{name} [{b.unit}]"), *(f"{b.percentiles[k][-1]:.4g}" for k in keys))
    out.print(end)


def whatif(
    scenario: Annotated[Path, typer.Argument(help="scenario YAML (a what-if request)")],
    config: Annotated[Path | None, typer.Option(help="twin.yaml: its model, parameters, "
                                                "walks and initial covariance")] = None,
    url: Annotated[str | None, typer.Option(help="a running twin service, e.g. "
                                            "http://127.0.0.1:8000 (its live estimate)")
                   ] = None,
    twin: Annotated[str | None, typer.Option(help="twin id for --url (default: the "
                                             "config's estimator twin)")] = None,
    n: Annotated[int | None, typer.Option("--n", help="samples (overrides the file)")] = None,
    seed: Annotated[int | None, typer.Option(help="random seed (overrides the file)")
                    ] = None,
    out: Annotated[Path | None, typer.Option(help="write a PNG of the bands here")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")
                       ] = False,
) -> None:
    """Monte Carlo what-if: bands per variable and constraint-violation probabilities.

    Example: ``ptwin whatif cooling_loss.yaml --config examples/cstr/twin.yaml --n 1000
    --out whatif.png``
    """
    try:
        req = _request(scenario, n, seed)
        if url is not None:
            target = twin
            if target is None and config is not None:
                from processtwin.runtime.config import load_config

                est = load_config(config).estimator
                target = est.twin if est is not None else None
            if target is None:
                raise InvalidInputError("--url needs --twin (or a --config with an estimator)")
            res = _remote(url, target, req)
        else:
            res = _local(config, req)
    except ProcessTwinError as exc:
        console.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(2) from None
    if out is not None:
        plot_result(res, out)
        console.print(f"wrote {out}")
    if as_json:
        payload: dict[str, Any] = res.model_dump(mode="json")
        print(json.dumps(payload))
    else:
        _render(res)
