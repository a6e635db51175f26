"""``ptwin edge CONFIG``: run a twin's sources and forward them to the central twin."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from processtwin.errors import ConfigError, ProcessTwinError

__all__ = ["edge"]

console = Console(stderr=True)


def edge(
    config: Annotated[Path, typer.Argument(help="edge.yaml (names the twin.yaml to run)")],
    duration: Annotated[float | None, typer.Option("--for", help="run this many seconds, "
                                                   "then print a JSON summary")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run only the sources of a twin.yaml and forward their readings over MQTT.

    While the link is down readings are buffered on disk (bounded, oldest dropped first)
    and replayed in order when it returns. Example: ``ptwin edge edge.yaml``
    """
    from processtwin.edge.runner import run_edge
    from processtwin.edge.settings import load_edge_config

    if verbose:
        logging.getLogger("processtwin.edge").setLevel(logging.INFO)
    try:
        cfg = load_edge_config(config)
        summary = asyncio.run(run_edge(cfg, duration=duration, on_ready=lambda f: console.print(
            f"[green]edge {cfg.edge.name}[/green] forwarding to {cfg.edge.link.host}:"
            f"{cfg.edge.link.port} topic {f.topic}, buffer {f.log.dir}")))
    except ConfigError as exc:
        for p in exc.problems:
            console.print(f"[red]error[/red] {p}")
        raise typer.Exit(2) from None
    except ProcessTwinError as exc:
        console.print(f"[red]error[/red] {exc}")
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    print(json.dumps(summary))
