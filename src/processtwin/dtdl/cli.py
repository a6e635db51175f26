"""``ptwin dtdl`` commands: validate DTDL model files.

    $ ptwin dtdl validate models/ extra/Pump.json
    $ ptwin dtdl validate models/ --json

All ``.json`` files given (directories are searched recursively) are parsed *together*, so
references between files resolve. The exit code is 0 when the models are valid, 1 when
they are not and 2 when files cannot be read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from processtwin.dtdl import DTDLProblem, DTDLValidationError, parse

__all__ = ["app", "collect_files"]

app = typer.Typer(help="Work with DTDL (Digital Twins Definition Language) models.",
                  no_args_is_help=True)


@app.callback()
def _main() -> None:
    """Work with DTDL (Digital Twins Definition Language) models."""


def collect_files(paths: list[Path]) -> list[Path]:
    """The ``.json`` files named by ``paths`` (directories searched recursively), sorted."""
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files.extend(sorted(q for q in p.rglob("*.json") if q.is_file()))
        else:
            files.append(p)
    return list(dict.fromkeys(files))


def _problem_dict(p: DTDLProblem) -> dict[str, str | None]:
    return {"validation_id": p.validation_id, "element_id": p.element_id,
            "property": p.property, "message": p.message, "file": p.source}


@app.command()
def validate(
    paths: Annotated[list[Path], typer.Argument(help="DTDL files or directories.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print problems as JSON.")] = False,
    allow_undefined_extensions: Annotated[
        bool, typer.Option(help="Accept extension contexts the parser does not know.")
    ] = False,
) -> None:
    """Validate DTDL model files together; exit non-zero when they are invalid."""
    console = Console()
    files = collect_files(paths)
    texts: list[str] = []
    for f in files:
        try:
            texts.append(f.read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError) as exc:
            console.print(f"[red]cannot read {f}: {exc}[/red]")
            raise typer.Exit(2) from exc
    try:
        models = parse(texts, allow_undefined_extensions=allow_undefined_extensions,
                       names=[str(f) for f in files])
    except DTDLValidationError as exc:
        if as_json:
            typer.echo(json.dumps([_problem_dict(p) for p in exc.errors], indent=2))
        else:
            table = Table(title=f"{len(exc.errors)} DTDL problem(s) in {len(files)} file(s)")
            for col in ("file", "validation id", "element", "property", "message"):
                table.add_column(col, overflow="fold")
            for p in exc.errors:
                table.add_row(p.source or "", p.validation_id.rsplit(":", 1)[-1],
                              p.element_id or "", p.property or "", p.message)
            console.print(table)
        raise typer.Exit(1) from exc
    if as_json:
        typer.echo("[]")
    else:
        console.print(
            f"[green]OK[/green]: {len(models.interfaces)} interface(s) in {len(files)} file(s)"
        )
