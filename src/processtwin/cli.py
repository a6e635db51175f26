"""``ptwin``: the processtwin command line.

Examples::

    ptwin demo                      # simulated CSTR + twin + dashboard on http://127.0.0.1:8000/
    ptwin demo --for 30             # run 30 s, print a one-line JSON summary
    ptwin sim --port 4840           # serve the simulated plant alone over OPC UA
    ptwin serve examples/cstr/twin.yaml
    ptwin validate examples/cstr/twin.yaml
    ptwin bench pipeline --json
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from processtwin.errors import ConfigError, ProcessTwinError

if TYPE_CHECKING:
    from processtwin.runtime.config import TwinFile

app = typer.Typer(help="processtwin: a live digital twin of a process plant.",
                  no_args_is_help=True, add_completion=False)
console = Console(stderr=True)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "cstr" / "twin.yaml"


def _load(path: Path) -> TwinFile:
    from processtwin.runtime.config import load_config

    try:
        return load_config(path)
    except ConfigError as exc:
        for p in exc.problems:
            console.print(f"[red]error[/red] {p}")
        raise typer.Exit(2) from None


def _run_and_report(cfg: TwinFile, *, host: str, port: int, duration: float | None,
                    on_ready: Callable[[str], None]) -> None:
    """Run a twin with its service; with a duration, print the one-line JSON summary."""
    from processtwin.runtime.service import run, summary_line

    try:
        summary = asyncio.run(run(cfg, host=host, port=port, duration=duration,
                                  on_ready=on_ready))
    except ProcessTwinError as exc:
        console.print(f"[red]error[/red] {exc}")
        raise typer.Exit(1) from None
    if duration is not None:
        print(summary_line(summary))


@app.command()
def demo(
    duration: Annotated[float | None, typer.Option("--for", help="run N seconds, then print a "
                                                    "one-line JSON summary and exit")] = None,
    port: Annotated[int, typer.Option(help="HTTP port (0: any free port)")] = 8000,
    host: Annotated[str, typer.Option(help="HTTP host")] = "127.0.0.1",
    config: Annotated[Path, typer.Option(help="twin.yaml to run")] = EXAMPLE,
    data_dir: Annotated[str, typer.Option(help="where history and audit go")] = ".ptwin",
    seed: Annotated[int | None, typer.Option(help="simulator seed")] = None,
    time_scale: Annotated[float | None, typer.Option(help="plant seconds per clock second")
                          ] = None,
) -> None:
    """Run the simulated CSTR, its live twin and the dashboard, with no external servers.

    Example: ``ptwin demo --for 30``
    """
    from processtwin.runtime.service import demo_config

    cfg = _load(config)
    cfg = demo_config(cfg, data_dir=data_dir, seed=seed, time_scale=time_scale)

    def ready(url: str) -> None:
        console.print(f"[green]processtwin demo running[/green]: dashboard at [bold]{url}[/bold]"
                      f" · API {url}api/v1/twins · metrics {url}metrics"
                      + ("" if duration else " · Ctrl-C to stop"))

    _run_and_report(cfg, host=host, port=port, duration=duration, on_ready=ready)


@app.command()
def serve(
    config: Annotated[Path, typer.Argument(help="twin.yaml")],
    port: Annotated[int | None, typer.Option(help="HTTP port (default: service.port)")] = None,
    host: Annotated[str | None, typer.Option(help="HTTP host (default: service.host)")] = None,
    duration: Annotated[float | None, typer.Option("--for", help="run N seconds")] = None,
) -> None:
    """Run a twin from a config against its real sources.

    Example: ``ptwin serve examples/cstr/twin.yaml --port 8000``
    """
    cfg = _load(config)
    _run_and_report(cfg, host=host or cfg.service.host,
                    port=port if port is not None else cfg.service.port, duration=duration,
                    on_ready=lambda u: console.print(f"serving on [bold]{u}[/bold]"))


@app.command()
def sim(
    port: Annotated[int, typer.Option(help="OPC UA port")] = 4840,
    host: Annotated[str, typer.Option(help="OPC UA host")] = "127.0.0.1",
    time_scale: Annotated[float, typer.Option(help="plant seconds per clock second")] = 10.0,
    seed: Annotated[int, typer.Option(help="random seed")] = 1,
    fault_rate: Annotated[float, typer.Option(help="sensor faults per plant hour")] = 3.0,
) -> None:
    """Serve the simulated CSTR plant over OPC UA (opc.tcp://HOST:PORT/processtwin/sim).

    Example: ``ptwin sim --port 4840 --time-scale 10``
    """
    from processtwin.connectors.simulator import PlantConfig, PlantServer, SimulatedPlant

    async def main() -> None:
        plant = SimulatedPlant(PlantConfig(seed=seed, time_scale=time_scale,
                                           fault_rate_per_h=fault_rate))
        async with PlantServer(plant, host=host, port=port) as srv:
            console.print(f"simulated plant on [bold]{srv.url}[/bold] · Ctrl-C to stop")
            await asyncio.Event().wait()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass


@app.command()
def validate(config: Annotated[Path, typer.Argument(help="twin.yaml")]) -> None:
    """Check a twin.yaml and report every problem with its place.

    Example: ``ptwin validate examples/cstr/twin.yaml``
    """
    cfg = _load(config)
    console.print(f"[green]ok[/green] {config}: {cfg.name}")


@app.command()
def export(
    config: Annotated[Path, typer.Argument(help="twin.yaml of the twin whose history to export")],
    out: Annotated[Path, typer.Argument(help="output file: .parquet or .csv")],
    points: Annotated[list[str] | None, typer.Option(
        "--point", "-p", help="point key twin.point (repeat; default: all)")] = None,
    start: Annotated[str | None, typer.Option(help="ISO-8601 time or epoch seconds")] = None,
    end: Annotated[str | None, typer.Option(help="ISO-8601 time or epoch seconds")] = None,
    every: Annotated[float | None, typer.Option(help="downsample to this interval (s)")] = None,
    agg: Annotated[str, typer.Option(help="avg|min|max|first|last|count|twa")] = "avg",
    data_dir: Annotated[Path | None, typer.Option(help="data folder (default: the config's)")
                        ] = None,
) -> None:
    """Export a twin's history, with quality, to Parquet or CSV (pandas/Polars read both).

    Example: ``ptwin export examples/cstr/twin.yaml cstr.parquet -p reactor1.T_R --every 60``

    The embedded store is one process's file: stop the twin first, or use the history API.
    """
    from processtwin.api.app import _time
    from processtwin.store import open_store
    from processtwin.store.export import export as export_history

    cfg = _load(config)
    folder = data_dir or Path(cfg.base_dir) / cfg.data_dir
    try:
        store = open_store(cfg.store.spec(), folder)
        try:
            n = export_history(store, out, points or None, _time(start, "start"),
                               _time(end, "end"), every, agg)
        finally:
            store.close()
    except ProcessTwinError as exc:
        console.print(f"[red]error[/red] {exc}")
        raise typer.Exit(1) from None
    console.print(f"[green]ok[/green] {n} rows written to {out}")


@app.command()
def bench(
    name: Annotated[str, typer.Argument(help="benchmark name (see --list)")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    quick: Annotated[bool, typer.Option(help="smaller sizes, for a smoke run")] = False,
    list_: Annotated[bool, typer.Option("--list", help="list the benchmarks")] = False,
) -> None:
    """Run a benchmark: our figure, a baseline measured in the same run, and their ratio.

    Example: ``ptwin bench pipeline --json``
    """
    from processtwin.benchrunner import available, render, run_bench

    if list_ or not name:
        for n in available():
            print(n)
        return
    try:
        result = run_bench(name, quick=quick)
    except KeyError:
        console.print(f"[red]unknown benchmark {name!r}[/red]; have: {', '.join(available())}")
        raise typer.Exit(2) from None
    if as_json:
        print(json.dumps(result))
    else:
        render(result, Console())


def _mount_optional() -> None:
    try:
        from processtwin.dtdl.cli import app as dtdl_app
    except ImportError:
        return
    app.add_typer(dtdl_app, name="dtdl", help="DTDL v2/v3 models: validate.")


_mount_optional()

from processtwin.edge.cli import edge as _edge  # noqa: E402

app.command(name="edge")(_edge)

from processtwin.bus.cli import worker as _worker  # noqa: E402

app.command(name="worker")(_worker)

from processtwin.replay.cli import replay as _replay  # noqa: E402

app.command(name="replay")(_replay)

from processtwin.whatif.cli import whatif as _whatif  # noqa: E402

app.command(name="whatif")(_whatif)

from processtwin.estimation.cli import estimate_app as _estimate_app  # noqa: E402

app.add_typer(_estimate_app, name="estimate")

from processtwin.connectors.opcua.cli import app as _opcua_app  # noqa: E402

app.add_typer(_opcua_app, name="opcua")


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("asyncua", "uvicorn.error"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    app()


if __name__ == "__main__":
    main()
    sys.exit(0)
