"""The dashboard in real headless Chromium (Debian's /usr/bin/chromium via Playwright)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from processtwin.control import Mode
from processtwin.runtime.config import load_config
from processtwin.runtime.runtime import TwinRuntime
from processtwin.runtime.service import demo_config, http_service

pytestmark = [pytest.mark.integration, pytest.mark.browser]
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


@pytest.fixture
def live_url(example_path: Path, tmp_path: Path) -> Iterator[str]:
    """The demo twin and its service, on a loop in a background thread."""
    cfg = demo_config(load_config(example_path), data_dir=str(tmp_path), time_scale=30)
    cfg = cfg.model_copy(update={"gate": cfg.gate.model_copy(update={"mode": Mode.APPROVE}),
                                 "optimizer": cfg.optimizer.model_copy(update={"period_s": 2.0})
                                 if cfg.optimizer else None})
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
    yield f"http://{addr[0]}/"
    loop.call_soon_threadsafe(stop[0].set)
    th.join(20)


def test_dashboard_updates_live_and_approves(live_url: str, tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: .ci/run installs it (apt-get install chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
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
        browser.close()
