"""``ptwin opcua``: look into an OPC UA server.

``ptwin opcua browse URL [--depth N] [--out bindings.yaml]`` prints the address space below
Objects as a tree (node ids, browse names, data types, units, ranges, writable nodes) and
can write the numeric variables as a binding list ready to paste under a source's
``bindings:`` in twin.yaml.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
import yaml
from asyncua import Client, ua
from rich.console import Console
from rich.markup import escape
from rich.tree import Tree

from processtwin.connectors.opcua.browse import BrowsedNode, bindings_from_tree, browse
from processtwin.connectors.opcua.security import ClientSecurity, apply_client_security
from processtwin.errors import ConnectorError, ProcessTwinError

__all__ = ["app", "browse_command", "render_tree"]

app = typer.Typer(help="OPC UA servers: browse the address space, write binding files.",
                  no_args_is_help=True)


def _label(n: BrowsedNode) -> str:
    parts = [f"[bold]{escape(n.browse_name)}[/bold]", f"[dim]{escape(n.node_id)}[/dim]"]
    if n.node_class != "Object":
        parts.append(f"[cyan]{n.node_class}[/cyan]")
    if n.data_type:
        parts.append(f"[green]{escape(n.data_type)}[/green]")
    if n.unit:
        parts.append(f"[yellow]{escape(n.unit)}[/yellow]")
    if n.eu_range:
        parts.append(escape(f"[{n.eu_range[0]:g} .. {n.eu_range[1]:g}]"))
    if n.writable:
        parts.append("[magenta]writable[/magenta]")
    return "  ".join(parts)


def render_tree(root: BrowsedNode) -> Tree:
    """A rich Tree of a browsed address space."""
    tree = Tree(_label(root))

    def add(parent: Tree, node: BrowsedNode) -> None:
        for child in node.children:
            add(parent.add(_label(child)), child)

    add(tree, root)
    return tree


async def _browse(url: str, root: str, depth: int, include_ns0: bool, sec: ClientSecurity,
                  timeout_s: float) -> BrowsedNode:
    client = Client(url, timeout=timeout_s)
    await apply_client_security(client, sec)
    try:
        await client.connect()
    except (TimeoutError, OSError, ua.UaError) as exc:
        raise ConnectorError(f"cannot connect to {url}: {exc!r}") from exc
    try:
        return await browse(client, root, depth=depth, include_ns0=include_ns0)
    finally:
        await client.disconnect()


@app.command("browse")
def browse_command(
    url: Annotated[str, typer.Argument(help="opc.tcp://host:port/path")],
    depth: Annotated[int, typer.Option(help="levels below the root")] = 3,
    root: Annotated[str, typer.Option(help="node id or browse path to start at")] = "0:Objects",
    out: Annotated[Path | None, typer.Option(help="write the bindings (YAML) here")] = None,
    twin: Annotated[str, typer.Option(help="twin id for the written bindings")] = "plant",
    by: Annotated[str, typer.Option(help="bind by 'path' (browse path) or 'id'")] = "path",
    all_namespaces: Annotated[bool, typer.Option(
        "--all-namespaces", help="also show namespace 0 (the Server object)")] = False,
    username: Annotated[str | None, typer.Option(help="user name")] = None,
    password_env: Annotated[str | None, typer.Option(
        help="environment variable holding the password")] = None,
    policy: Annotated[str, typer.Option(help="None, Basic256Sha256, ...")] = "None",
    mode: Annotated[str, typer.Option(help="None, Sign or SignAndEncrypt")] = "None",
    cert: Annotated[Path | None, typer.Option(help="client certificate (DER/PEM)")] = None,
    key: Annotated[Path | None, typer.Option(help="client private key (PEM)")] = None,
    timeout: Annotated[float, typer.Option(help="request timeout, seconds")] = 4.0,
) -> None:
    """Print the address space as a tree; with --out, write a binding list.

    Example: ``ptwin opcua browse opc.tcp://127.0.0.1:4840/processtwin/sim --out b.yaml``
    """
    console = Console()
    try:
        sec = ClientSecurity(policy=policy, mode=mode, certificate=cert,  # type: ignore[arg-type]
                             private_key=key, username=username, password_env=password_env)
        tree = asyncio.run(_browse(url, root, depth, all_namespaces, sec, timeout))
        bindings = bindings_from_tree(tree, twin, by=by) if out else []
    except ProcessTwinError as exc:
        console.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(1) from None
    console.print(render_tree(tree))
    if out is not None:
        out.write_text(yaml.safe_dump(bindings, sort_keys=False, allow_unicode=True))
        console.print(f"{len(bindings)} binding(s) written to {out}")
