"""The benchmark runner behind ``ptwin bench NAME``.

Benchmarks live in the repository's ``bench/`` folder (or ``$PTWIN_BENCH_DIR``), one module
``bench_<name>.py`` each, with ``run(quick: bool) -> dict`` returning::

    {"bench": NAME, "results": [{"name", "value", "unit", "baseline", "baseline_value",
     "ratio"}], "notes": [...]}

``ratio`` is ours over the baseline, oriented so that higher is better. Timing figures are
medians over repeats; they are printed, never asserted.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

__all__ = ["available", "bench_dir", "render", "run_bench"]


def bench_dir() -> Path:
    env = os.environ.get("PTWIN_BENCH_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "bench"


def available() -> list[str]:
    d = bench_dir()
    return sorted(p.stem.removeprefix("bench_") for p in d.glob("bench_*.py")) if d.is_dir() else []


def run_bench(name: str, *, quick: bool = False) -> dict[str, Any]:
    path = bench_dir() / f"bench_{name}.py"
    if not path.is_file():
        raise KeyError(name)
    spec = importlib.util.spec_from_file_location(f"ptwin_bench_{name}", path)
    if spec is None or spec.loader is None:
        raise KeyError(name)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    result: dict[str, Any] = mod.run(quick=quick)
    return result


def render(result: dict[str, Any], console: Console) -> None:
    table = Table(title=f"ptwin bench {result['bench']}")
    for col in ("name", "value", "unit", "baseline", "baseline value", "ratio"):
        table.add_column(col)
    for r in result["results"]:
        bv = r.get("baseline_value")
        ratio = r.get("ratio")
        table.add_row(r["name"], f"{r['value']:.4g}", r["unit"], str(r.get("baseline") or ""),
                      "" if bv is None else f"{bv:.4g}", "" if ratio is None else f"{ratio:.3g}")
    console.print(table)
    for n in result.get("notes", []):
        console.print(f"· {n}")
