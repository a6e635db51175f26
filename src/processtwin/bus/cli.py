"""``ptwin worker``: run a twin worker on partitions of a site's JetStream stream.

Example::

    ptwin worker examples/cstr/twin.yaml --site plant1 --partitions 4 --partition 0 --partition 1

Prints one JSON line of counts when it stops (SIGTERM/SIGINT, or ``--until-idle`` once its
partitions are empty).
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from processtwin.errors import ConfigError, ProcessTwinError

__all__ = ["main", "worker"]

_console = Console(stderr=True)


def worker(
    config: Annotated[Path, typer.Argument(help="twin.yaml (points, quality, store)")],
    site: Annotated[str, typer.Option(help="site: the stream is PTWIN_<site>")],
    partition: Annotated[list[int], typer.Option(help="partition to consume (repeatable)")],
    partitions: Annotated[int, typer.Option(help="partitions of the site's stream")] = 4,
    url: Annotated[str, typer.Option(help="NATS server")] = "nats://127.0.0.1:4222",
    max_ack_pending: Annotated[int, typer.Option(help="frames in flight per partition")] = 256,
    ack_wait: Annotated[float, typer.Option(help="seconds before JetStream redelivers")] = 30.0,
    fetch_batch: Annotated[int, typer.Option(help="frames per fetch")] = 64,
    data_dir: Annotated[Path | None, typer.Option(help="data folder (default: twin.yaml's)")]
    = None,
    until_idle: Annotated[bool, typer.Option(help="stop once the partitions are empty")]
    = False,
) -> None:
    """Consume partitions of a site's stream into the store, acknowledging after commit."""
    from processtwin.bus.settings import BusSettings
    from processtwin.bus.worker import IngestWorker
    from processtwin.runtime.config import load_config

    try:
        cfg = load_config(config)
        settings = BusSettings(url=url, site=site, partitions=partitions,
                               max_ack_pending=max_ack_pending, ack_wait_s=ack_wait,
                               fetch_batch=fetch_batch)
        w = IngestWorker.from_config(cfg, settings, partition, data_dir=data_dir)
    except ConfigError as exc:
        for p in exc.problems:
            _console.print(f"[red]error[/red] {p}")
        raise typer.Exit(2) from None
    except (ProcessTwinError, ValueError) as exc:
        _console.print(f"[red]error[/red] {exc}")
        raise typer.Exit(2) from None

    async def run() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, w.stop)
        await w.run(until_idle=until_idle)

    try:
        asyncio.run(run())
    except ProcessTwinError as exc:
        _console.print(f"[red]error[/red] {exc}")
        raise typer.Exit(1) from None
    print(json.dumps(w.stats.to_dict()), flush=True)


def main() -> None:
    """``python -m processtwin.bus``: the worker command alone."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app = typer.Typer(add_completion=False)
    app.command()(worker)
    app()
