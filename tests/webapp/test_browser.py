"""The dashboard in a real headless Chromium, opened from the local chat's /dashboard button.

``DASHBOARD_SCREENSHOTS=docs`` saves the 390×844 screenshots the README shows
(``dashboard-positions.png``, ``dashboard-pnl.png``, ``dashboard-funding.png``,
``dashboard-close.png``, ``dashboard-401.png``).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.localchat.conftest import local_settings, running
from tests.localchat.test_browser import CHROMIUM, FLAGS, PHONE, WAIT_MS, browser
from tests.webapp.conftest import VIEWER, init_data

async_api = pytest.importorskip("playwright.async_api", reason="playwright is not installed")
if not Path(CHROMIUM).exists():
    pytest.skip("Chromium is not installed (apt-get install chromium)", allow_module_level=True)

pytestmark = pytest.mark.timeout(180)


def shot(tmp_path: Path, name: str) -> str:
    folder = os.environ.get("DASHBOARD_SCREENSHOTS")
    return str(Path(folder) / name if folder else tmp_path / name)


async def say(page: Any, text: str, wait_for: str) -> str:
    """Send ``text`` in the local chat and return the text of the bot's answer."""
    before = await page.locator("article.msg.in").count()
    box = page.get_by_label("Message")
    await box.fill(text)
    await box.press("Enter")
    handle = await page.wait_for_function(
        """([before, wanted]) => {
          const all = [...document.querySelectorAll("article.msg.in")].slice(before);
          const hit = all.find((m) => m.innerText.includes(wanted));
          return hit ? hit.innerText : null;
        }""",
        arg=[before, wait_for],
        timeout=WAIT_MS,
    )
    return str(await handle.json_value())


async def test_dashboard_from_the_local_chat(tmp_path: Path) -> None:
    expect = async_api.expect
    async with (
        running(local_settings(tmp_path)) as url,
        async_api.async_playwright() as pw,
    ):
        context = await pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=CHROMIUM,
            headless=True,
            args=FLAGS,
            viewport={"width": 480, "height": 900},
        )
        try:
            chat = await context.new_page()
            await chat.goto(url)
            preview = await say(chat, "/buy BTC 0.01", "Nothing is sent until you tap")
            assert "BTC_USDC_PERP" in preview
            pending = chat.locator("article.msg.in").filter(has_text="Nothing is sent")
            card = chat.locator(f"#msg-{await pending.get_attribute('data-id')}")
            await card.get_by_role("button", name="Confirm").click()
            await expect(card).to_contain_text("filled at", timeout=WAIT_MS)
            await say(chat, "/sell ETH 0.2", "Nothing is sent until you tap")
            pending = chat.locator("article.msg.in").filter(has_text="Nothing is sent")
            second = chat.locator(f"#msg-{await pending.get_attribute('data-id')}")
            await second.get_by_role("button", name="Confirm").click()
            await expect(second).to_contain_text("filled at", timeout=WAIT_MS)
            positions = await say(chat, "/positions", "entry")
            pnl = await say(chat, "/pnl", "PnL,")

            await say(chat, "/dashboard", "Dashboard")
            link = chat.get_by_role("link", name=re.compile("Open the dashboard"))
            assert "#tgWebAppData=" in str(await link.get_attribute("href"))
            async with context.expect_page() as opened:
                await link.click()
            dash = await opened.value
            await dash.set_viewport_size(PHONE)

            # Positions: the same size and entry as /positions.
            btc = dash.locator("#positions article[data-symbol=BTC_USDC_PERP]")
            await expect(btc).to_be_visible(timeout=WAIT_MS)
            await expect(
                dash.get_by_role("heading", name="Positions across venues")
            ).to_be_visible()
            facts = await btc.locator("dd").all_inner_texts()
            labels = await btc.locator("dt").all_inner_texts()
            seen = dict(zip(labels, facts, strict=True))
            assert seen["Entry"] in positions, (seen, positions)
            assert "LONG 0.01" in await btc.locator(".title").inner_text()
            assert "entry " + seen["Entry"] in positions
            await dash.screenshot(path=shot(tmp_path, "dashboard-positions.png"))

            # PnL: realised and fees as /pnl shows them (unrealised moves with the market).
            await dash.get_by_role("button", name="PnL").click()
            total = dash.locator("#pnl-total")
            await expect(total).to_contain_text("Fees", timeout=WAIT_MS)
            values = dict(
                zip(
                    await total.locator("dt").all_inner_texts(),
                    await total.locator("dd").all_inner_texts(),
                    strict=True,
                )
            )
            assert f"fees {values['Fees']}" in pnl, (values, pnl)
            assert f"realised {values['Realised']}" in pnl, (values, pnl)
            await expect(dash.locator("#pnl-curve svg polyline")).to_have_count(1)
            await dash.screenshot(path=shot(tmp_path, "dashboard-pnl.png"), full_page=True)

            await dash.get_by_role("button", name="Funding").click()
            await expect(
                dash.get_by_role("heading", name=re.compile("Funding earned"))
            ).to_be_visible()
            await dash.screenshot(path=shot(tmp_path, "dashboard-funding.png"))

            # Close from the page: a preview first, then its ✅, then no position.
            await dash.get_by_role("button", name="Positions").click()
            await dash.get_by_role("button", name="Close BTC_USDC_PERP").click()
            confirm = dash.locator("#confirm")
            await expect(confirm).to_be_visible(timeout=WAIT_MS)
            await expect(confirm).to_contain_text("BTC_USDC_PERP")
            await dash.screenshot(path=shot(tmp_path, "dashboard-close.png"), full_page=True)
            await expect(dash.locator("#result")).to_be_hidden()
            assert "BTC_USDC_PERP" in await say(chat, "/positions", "entry")
            await dash.get_by_role("button", name="Confirm").click()
            await expect(dash.locator("#result")).to_contain_text("filled", timeout=WAIT_MS)
            await expect(confirm).to_be_hidden()
            await expect(btc).to_have_count(0)
            eth = dash.locator("#positions article[data-symbol=ETH_USDC_PERP]")
            await expect(eth).to_be_visible()
            assert "BTC_USDC_PERP" not in await say(chat, "/positions", "ETH_USDC_PERP")

            # A forged initData: the 401 page, and no numbers.
            href = str(await link.get_attribute("href"))
            assert "first_name" in href
            forged = href.replace("first_name", "first_nane")  # one changed byte
            other = await context.new_page()
            await other.set_viewport_size(PHONE)
            await other.goto(forged)
            await expect(
                other.get_by_role("heading", name="Not signed in by Telegram")
            ).to_be_visible(timeout=WAIT_MS)
            await expect(other.locator("#positions article")).to_have_count(0)
            await expect(other.get_by_role("navigation")).to_be_hidden()
            await other.screenshot(path=shot(tmp_path, "dashboard-401.png"))
        finally:
            await context.close()


async def test_a_viewer_cannot_change_a_setting(dash_bot: Any, tmp_path: Path) -> None:
    """The viewer sees the strategy without controls, and the API refuses a change anyway."""
    expect = async_api.expect
    server = dash_bot.app.bot_data.dashboard
    # Telegram's dark theme leaves out secondary_bg_color on some clients: derived then.
    theme = quote(json.dumps({"bg_color": "#17212b", "text_color": "#f5f5f5"}), safe="")
    url = (
        f"{server.url}/#tgWebAppData={quote(init_data(VIEWER), safe='')}&page=strategy"
        f"&tgWebAppThemeParams={theme}"
    )
    async with async_api.async_playwright() as pw:
        context = await browser(pw, tmp_path)
        try:
            page = await context.new_page()
            await page.goto(url)
            await expect(page.get_by_role("heading", name="The funding strategy")).to_be_visible(
                timeout=WAIT_MS
            )
            await expect(page.locator("#strategy-config th").first).to_be_visible(timeout=WAIT_MS)
            await expect(page.locator("#strategy-config input")).to_have_count(0)
            await expect(page.get_by_role("group", name="Strategy mode")).to_be_hidden()
            await expect(page.locator("#strategy-note")).to_contain_text("may read the strategy")
            background = await page.evaluate("getComputedStyle(document.body).backgroundColor")
            assert background == "rgb(23, 33, 43)"  # Telegram's theme colours are applied
            card = await page.evaluate(
                "getComputedStyle(document.querySelector('#page-strategy .card')).backgroundColor"
            )
            assert card not in ("rgb(241, 241, 244)", "rgb(255, 255, 255)")  # not a light card
            status = await page.evaluate(
                """async (data) => (await fetch("/api/strategy/mode", {method: "POST",
                     headers: {Authorization: "tma " + data, "Content-Type": "application/json"},
                     body: JSON.stringify({mode: "auto"})})).status""",
                init_data(VIEWER),
            )
            assert status == 403
            await page.screenshot(path=shot(tmp_path, "dashboard-strategy-viewer.png"))

            await page.get_by_role("button", name="Alerts").click()
            box = page.get_by_label("New alert")
            page.once("dialog", lambda d: d.accept())  # BTC is already above: arm it anyway
            await box.fill("BTC > 70000")
            await box.press("Enter")
            await expect(page.locator("#alerts article")).to_have_count(1, timeout=WAIT_MS)
            await expect(page.locator("#alerts")).to_contain_text("70,000")
            await page.screenshot(path=shot(tmp_path, "dashboard-alerts.png"))
        finally:
            await context.close()
    assert (await dash_bot.services.strategy.store.settings()).mode == "off"
