"""The dashboard in real headless Chromium (Debian's /usr/bin/chromium via Playwright)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, sync_playwright

from processtwin.control import Mode
from processtwin.runtime.config import TwinFile, load_config
from processtwin.runtime.runtime import TwinRuntime
from processtwin.runtime.service import demo_config, http_service

pytestmark = [pytest.mark.integration, pytest.mark.browser]
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


def _demo(example_path: Path, data_dir: Path, fault_rate_per_h: float | None = None
          ) -> TwinFile:
    cfg = demo_config(load_config(example_path), data_dir=str(data_dir), time_scale=30)
    sim = cfg.simulator if fault_rate_per_h is None else cfg.simulator.model_copy(
        update={"fault_rate_per_h": fault_rate_per_h})
    return cfg.model_copy(update={
        "simulator": sim, "gate": cfg.gate.model_copy(update={"mode": Mode.APPROVE}),
        "optimizer": cfg.optimizer.model_copy(update={"period_s": 2.0})
        if cfg.optimizer else None})


@contextmanager
def _serve(cfg: TwinFile) -> Iterator[str]:
    """The twin and its service, on a loop in a background thread."""
    ready = threading.Event()
    stop: list[asyncio.Event] = []
    addr: list[str] = []
    loop = asyncio.new_event_loop()

    async def main() -> None:
        rt = TwinRuntime(cfg)
        await rt.start()
        try:
            async with http_service(rt) as a:
                addr.append(a)
                stop.append(asyncio.Event())
                ready.set()
                await stop[0].wait()
        finally:
            await rt.stop()

    th = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    th.start()
    if not ready.wait(30):
        raise RuntimeError("service did not start")
    try:
        yield f"http://{addr[0]}/"
    finally:
        loop.call_soon_threadsafe(stop[0].set)
        th.join(20)


@pytest.fixture
def live_url(example_path: Path, tmp_path: Path) -> Iterator[str]:
    """The demo twin and its service."""
    with _serve(_demo(example_path, tmp_path)) as url:
        yield url


@pytest.fixture
def faulty_url(example_path: Path, tmp_path: Path) -> Iterator[str]:
    """The demo twin on a plant whose sensors fail often (stuck, spikes, dropouts)."""
    with _serve(_demo(example_path, tmp_path, fault_rate_per_h=120.0)) as url:
        yield url


def test_dashboard_updates_live_and_approves(live_url: str, tmp_path: Path) -> None:
    with _browser() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(live_url)
        page.wait_for_selector("#conn.ok", timeout=15_000)
        page.wait_for_selector("#kpi-telemetry-T_R .v", timeout=15_000)
        seen = set()
        for _ in range(6):  # the value changes from second to second
            seen.add(page.inner_text("#kpi-telemetry-T_R .v"))
            page.wait_for_timeout(600)
        assert len(seen) >= 3, seen
        page.wait_for_selector("#kpi-estimates-C_b .v", timeout=15_000)
        assert "±" in page.inner_text("#kpi-estimates-C_b .v")
        n_points = page.evaluate(
            "document.getElementById('chart-temp').data[0].x.length")
        assert n_points > 10
        # a pending proposal gets approved from the page
        page.wait_for_selector("button.approve", timeout=20_000)
        row_id = page.get_attribute("tr:has(button.approve)", "data-id")
        page.click(f"tr[data-id='{row_id}'] button.approve")
        page.wait_for_function(
            f"document.querySelector(\"tr[data-id='{row_id}']\")?.children[5]"
            ".textContent === 'applied'", timeout=10_000)
        page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
        assert (tmp_path / "dashboard.png").stat().st_size > 10_000


@contextmanager
def _browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: .ci/run installs it (apt-get install chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


_ROWS_JS = """[...document.querySelectorAll('#quality tbody tr')].map(tr => ({
  key: tr.dataset.key, rows: Number(tr.dataset.rows),
  shares: [...tr.querySelectorAll('td.share')].map(td => td.textContent),
  problem: tr.children[7].textContent, age: tr.children[8].textContent,
  drift: tr.querySelector('td:last-child .badge')?.textContent ?? null}))"""

_MARKS_JS = """['chart-temp', 'chart-conc', 'chart-inputs'].flatMap(id =>
  document.getElementById(id).data.filter(t => t.name === 'uncertain' || t.name === 'bad')
    .flatMap(t => t.text.map(q => [t.name, q])))"""


def _quality_rows(page: Page) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = page.evaluate(_ROWS_JS)
    return rows


def test_quality_panel_shows_the_running_twins_points(faulty_url: str) -> None:
    with _browser() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(faulty_url)
        page.wait_for_function(
            "Number(document.querySelector(\"#quality tr[data-key='reactor1.T_R']\")"
            "?.dataset.rows) > 0", timeout=15_000)
        rows = _quality_rows(page)
        api = page.evaluate("fetch('/api/v1/quality').then(r => r.json())")
        # one row per point of the running twin, in the service's order
        assert [r["key"] for r in rows] == [p["key"] for p in api["points"]]
        live = {r["key"]: r for r in rows if r["rows"] > 0}
        assert {"reactor1.T_R", "reactor1.T_R_B", "jacket1.T_K", "pump1.F",
                "jacket1.Q"} <= set(live)
        for key, r in live.items():
            shares = [float(v.removesuffix(" %")) for v in r["shares"]]
            assert all(0.0 <= v <= 100.0 for v in shares), (key, shares)
            assert sum(shares) == pytest.approx(100.0, abs=0.25), (key, shares)
            assert r["drift"] == "ok" or r["drift"].startswith("drift"), r
        for key, r in ((k, r) for k, r in {x["key"]: x for x in rows}.items()
                       if k not in live):
            assert r["shares"] == ["–"] * 4, (key, r)  # no rows yet: no shares
        # the first values came from a source still connecting: a problem, with its age
        assert any(r["problem"] != "–" and r["age"].endswith("ago") for r in live.values())
        # refreshed from the running twin: the row counts grow
        n0 = live["reactor1.T_R"]["rows"]
        page.wait_for_function(
            "Number(document.querySelector(\"#quality tr[data-key='reactor1.T_R']\")"
            f".dataset.rows) > {n0}", timeout=15_000)
        # sensor faults put quality marks on the trends, each with its quality text
        page.wait_for_function(f"({_MARKS_JS}).length > 0", timeout=30_000)
        marks = page.evaluate(_MARKS_JS)
        assert all(q.startswith(cat) for cat, q in marks), marks
