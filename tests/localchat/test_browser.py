"""The local chat in a real headless Chromium: price, buy + confirm, a chart, reload.

Needs Debian's ``chromium`` (``.ci/run`` installs it) and Playwright's Python package (its own
driver only; no browser is downloaded). Screenshots are taken at a phone's 390×844;
``LOCAL_CHAT_SCREENSHOTS=docs`` saves them where the README and issue 18 show them
(``local-chat.png``, ``chat-strategy.png``, ``chat-filled.png``, ``chat-stop-fired.png``).
"""

from __future__ import annotations

import os
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot.container import Services
from tests.localchat.conftest import local_settings, running

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip("Chromium is not installed (apt-get install chromium)", allow_module_level=True)
async_api = pytest.importorskip("playwright.async_api", reason="playwright is not installed")

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 20_000
PHONE = {"width": 390, "height": 844}

pytestmark = pytest.mark.timeout(180)


def browser(pw: Any, tmp_path: Path) -> Any:
    return pw.chromium.launch_persistent_context(
        str(tmp_path / "profile"),  # a fresh profile for every test
        executable_path=CHROMIUM,
        headless=True,
        args=FLAGS,
        viewport=PHONE,
    )


class Chat:
    """The chat page in a browser context: ``say`` a command, get the bot's answer to it."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.box = page.get_by_label("Message")
        self.bot = page.locator("article.msg.in")

    @classmethod
    async def open(cls, context: Any, url: str) -> Chat:
        page = await context.new_page()
        await page.goto(url)
        return cls(page)

    async def say(self, text: str, answer: str) -> Any:
        """Send ``text``; the bot's next message, once it contains ``answer``."""
        expect = async_api.expect
        before = await self.bot.count()
        await self.box.fill(text)
        await self.box.press("Enter")
        await expect(self.bot).to_have_count(before + 1, timeout=WAIT_MS)
        await expect(self.bot.last).to_contain_text(answer)
        return self.bot.last


def shot(tmp_path: Path, name: str) -> Path:
    """Where a screenshot goes: ``LOCAL_CHAT_SCREENSHOTS`` (e.g. ``docs``) or the test's tmp."""
    folder = os.environ.get("LOCAL_CHAT_SCREENSHOTS")
    return Path(folder) / name if folder else tmp_path / name


async def test_price_buy_confirm_chart_and_reload(chat_url: str, tmp_path: Path) -> None:
    expect = async_api.expect
    async with async_api.async_playwright() as pw:
        context = await browser(pw, tmp_path)
        try:
            page = await context.new_page()
            await page.goto(chat_url)
            await expect(page.locator("#banner")).to_contain_text("built-in simulator")
            box = page.get_by_label("Message")

            # the command menu comes from setMyCommands
            await box.fill("/pr")
            await expect(page.get_by_role("option", name="/price")).to_be_visible()
            await box.press("Tab")
            await expect(box).to_have_value("/price ")

            await box.fill("/price BTC")
            await box.press("Enter")
            bot = page.locator("article.msg.in")
            price = bot.filter(has_text="BTC_USDC_PERP").filter(has_text="bid")
            await expect(price).to_have_count(1, timeout=WAIT_MS)
            await expect(price.locator("strong").first).to_have_text("BTC_USDC_PERP")

            await box.fill("/buy BTC 0.01")
            await box.press("Enter")
            preview = bot.filter(has_text="Nothing is sent until you tap")
            await expect(preview).to_have_count(1, timeout=WAIT_MS)
            preview_id = await preview.get_attribute("data-id")
            await preview.get_by_role("button", name="Confirm").click()
            final = page.locator(f"#msg-{preview_id}")  # the same message, edited in place
            await expect(final).to_contain_text("filled at", timeout=WAIT_MS)
            await expect(final.get_by_role("button")).to_have_count(0)
            await expect(final).to_contain_text("edited")
            await expect(page.locator("#toast")).to_contain_text("Filled")

            await box.fill("/chart BTC 24h")
            await box.press("Enter")
            image = page.locator("article.msg.in img.photo")
            await expect(image).to_have_count(1, timeout=WAIT_MS)
            await expect(image).to_be_visible()
            await page.wait_for_function(
                "document.querySelector('img.photo').naturalWidth > 100", timeout=WAIT_MS
            )
            await expect(page.locator("#toast")).to_be_hidden(timeout=WAIT_MS)
            legacy = os.environ.get("LOCAL_CHAT_SCREENSHOT")  # the README's older spelling
            await page.screenshot(path=legacy or shot(tmp_path, "local-chat.png"))

            # Every message shown comes back (a notice may still land meanwhile: a loaded
            # machine's "price stream silent"), in the same order.
            before = await page.locator("article.msg").evaluate_all("ms => ms.map(m => m.id)")
            await page.reload()
            await page.wait_for_function(
                "ids => ids.every((id, i) => "
                "document.querySelectorAll('article.msg')[i]?.id === id)",
                arg=before,
                timeout=WAIT_MS,
            )
            await expect(page.locator(f"#msg-{preview_id}")).to_contain_text("filled at")
            await expect(page.locator("article.msg.out").first).to_contain_text("/price BTC")
        finally:
            await context.close()


async def test_strategy_a_filled_order_and_a_fired_stop_on_a_phone(tmp_path: Path) -> None:
    """Issue 18's three screenshots, and what they must show: one message per event."""
    expect = async_api.expect
    apps: list[Any] = []
    settings = local_settings(tmp_path)
    async with running(settings, apps.append) as url, async_api.async_playwright() as pw:
        services: Services = apps[0].bot_data.services
        assert services.paper is not None
        sim = services.paper.sim
        context = await browser(pw, tmp_path)
        try:
            chat = await Chat.open(context, url)
            page, bot, say = chat.page, chat.bot, chat.say

            async def confirm(preview: Any, outcome: str) -> None:
                before = await bot.count()
                await preview.get_by_role("button", name="Confirm").click()
                await expect(preview).to_contain_text(outcome, timeout=WAIT_MS)
                await expect(preview.get_by_role("button")).to_have_count(0)
                await expect(bot).to_have_count(before)  # edited in place, nothing else sent

            strategy = await say("/strategy", "Top candidates")
            await expect(strategy.get_by_role("button", name="Settings")).to_be_visible()
            box_of = await strategy.bounding_box()
            assert box_of is not None and box_of["height"] <= PHONE["height"], box_of
            await page.screenshot(path=shot(tmp_path, "chat-strategy.png"))

            await confirm(await say("/buy BTC 0.01", "Nothing is sent"), "filled at")
            await page.wait_for_timeout(1500)  # a second message for the same fill would land now
            assert await bot.filter(has_text="Fill:").count() == 0
            await expect(page.locator("#toast")).to_be_hidden(timeout=WAIT_MS)
            await page.screenshot(path=shot(tmp_path, "chat-filled.png"))

            await confirm(await say("/sl BTC 1%", "STOP-LOSS"), "stop-loss set")
            await confirm(await say("/tp BTC 5%", "TAKE-PROFIT"), "take-profit set")
            listed = await say("/positions", "SL")  # bot.last: pinned by its id below
            positions = page.locator(f"#msg-{await listed.get_attribute('data-id')}")
            await expect(positions.get_by_role("button")).to_have_count(3)  # Close, 🗑 SL, 🗑 TP
            before = await bot.count()
            entry = sim.engine.markets["BTC_USDC_PERP"].mark
            sim.engine.set_price("BTC_USDC_PERP", (entry * Decimal("0.97")).quantize(Decimal(1)))
            sim.server.flush()
            fired = bot.filter(has_text="Stop triggered")
            await expect(fired).to_have_count(1, timeout=WAIT_MS)
            await expect(fired).to_contain_text("Cancelled with it: the take-profit at")
            await expect(positions.get_by_role("button")).to_have_count(0)  # no stale Close/🗑
            await expect(positions).to_contain_text("closed by its stop-loss at")  # edited
            await expect(positions.locator("s")).to_contain_text("BTC_USDC_PERP LONG")
            await page.wait_for_timeout(1500)  # a duplicate or a bare "Order cancelled" lands now
            assert await bot.count() == before + 1, await bot.all_inner_texts()
            await page.screenshot(path=shot(tmp_path, "chat-stop-fired.png"))
        finally:
            await context.close()


async def test_with_a_password_the_page_asks_for_it(tmp_path: Path) -> None:
    expect = async_api.expect
    settings = local_settings(tmp_path, local_chat_password="open sesame, please")
    async with running(settings) as url, async_api.async_playwright() as pw:
        context = await browser(pw, tmp_path)
        try:
            page = await context.new_page()
            await page.goto(url)
            password = page.get_by_label("Password")
            await password.fill("guess")
            await password.press("Enter")
            await expect(page.get_by_role("alert")).to_have_text("wrong password")
            await password.fill("open sesame, please")
            await password.press("Enter")
            box = page.get_by_label("Message")
            await box.fill("/price SOL")
            await box.press("Enter")
            reply = page.locator("article.msg.in").filter(has_text="SOL_USDC_PERP")
            await expect(reply).to_have_count(1, timeout=WAIT_MS)
        finally:
            await context.close()
