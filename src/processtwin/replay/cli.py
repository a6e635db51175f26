"""``ptwin replay FILE --to mqtt|sparkplug|opcua --speed N``."""

from __future__ import annotations

import asyncio
import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from processtwin.errors import ProcessTwinError

__all__ = ["To", "replay"]

console = Console(stderr=True)


class To(StrEnum):
    mqtt = "mqtt"
    sparkplug = "sparkplug"
    opcua = "opcua"


def replay(
    file: Annotated[Path, typer.Argument(help="recording: .csv or .parquet (long or wide)")],
    to: Annotated[To, typer.Option("--to", help="where the readings go")] = To.mqtt,
    speed: Annotated[float, typer.Option(help="N× real time; 0 = as fast as possible")] = 1.0,
    host: Annotated[str, typer.Option(help="broker host, or the OPC UA server's host")
                    ] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(help="default 1883 (MQTT) / 4840 (OPC UA)")
                    ] = None,
    topic: Annotated[str, typer.Option(help="MQTT topic (the edge payload format)")
                     ] = "ptwin/edge/replay",
    qos: Annotated[int, typer.Option(min=0, max=2)] = 1,
    group: Annotated[str, typer.Option(help="Sparkplug group id")] = "ptwin",
    edge_node: Annotated[str, typer.Option("--edge-node", help="Sparkplug edge node id")
                         ] = "replay",
    restamp: Annotated[bool, typer.Option(help="move the recording to start now "
                                          "(default: original timestamps, a backfill)")
                       ] = False,
    serve_for: Annotated[float, typer.Option("--serve-for", help="opcua: keep serving the "
                                             "last values this many seconds")] = 0.0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")] = False,
) -> None:
    """Replay recorded tag values at N× speed into MQTT, Sparkplug B or an OPC UA server.

    CSV/Parquet, long (timestamp, tag, value[, quality]) or wide (timestamp + one column per
    tag). Prints a JSON summary. Example: ``ptwin replay run.parquet --to mqtt --speed 0``
    """
    from processtwin.connectors.mqtt.settings import BrokerSettings
    from processtwin.replay.engine import ReplayTarget
    from processtwin.replay.engine import replay as run
    from processtwin.replay.opcua import OpcUaServerTarget
    from processtwin.replay.recording import load_recording
    from processtwin.replay.targets import MqttTarget, SparkplugTarget

    try:
        rec = load_recording(file)
        target: ReplayTarget
        if to is To.mqtt:
            target = MqttTarget(BrokerSettings(host=host, port=port or 1883), topic, qos=qos)
        elif to is To.sparkplug:
            target = SparkplugTarget(host=host, port=port or 1883, group=group, edge=edge_node)
        else:
            target = OpcUaServerTarget(host=host, port=port or 4840,
                                       keep_serving=serve_for > 0)
        for d in rec.dead[:5]:
            console.print(f"[yellow]skipped[/yellow] {d.key}: {d.reason}")
        if len(rec.dead) > 5:
            console.print(f"[yellow]skipped[/yellow] {len(rec.dead) - 5} more rows")

        async def go() -> dict[str, object]:
            with Progress(TextColumn("[bold]replay[/bold] {task.description}"), BarColumn(),
                          MofNCompleteColumn(), TextColumn("readings"), TimeElapsedColumn(),
                          TimeRemainingColumn(), console=console, disable=quiet,
                          transient=False) as bar:
                task = bar.add_task(f"{file.name} → {to.value}", total=len(rec))
                stats = await run(rec, target, speed=speed, restamp=restamp,
                                  progress=lambda n: bar.update(task, completed=n))
            if isinstance(target, OpcUaServerTarget) and serve_for > 0:
                console.print(f"serving {target.url} for {serve_for:g} s")
                await asyncio.sleep(serve_for)
                await target.shutdown()
            return {"file": str(file), "to": to.value, "readings": stats.readings,
                    "sends": stats.sends, "skipped": len(rec.dead), "tags": len(rec.tags),
                    "wall_s": round(stats.wall_s, 3), "max_late_s": round(stats.late_s, 3)}

        summary = asyncio.run(go())
    except ProcessTwinError as exc:
        console.print(f"[red]error[/red] {exc}")
        raise typer.Exit(1) from None
    print(json.dumps(summary))
