"""The local chat in a real headless Chromium: price, buy + confirm, a chart, reload.

Needs Debian's ``chromium`` (``.ci/run`` installs it) and Playwright's Python package (its own
driver only; no browser is downloaded). ``LOCAL_CHAT_SCREENSHOT=docs/local-chat.png`` also saves
the screenshot the README shows.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

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

pytestmark = pytest.mark.timeout(180)


def browser(pw: Any, tmp_path: Path) -> Any:
    return pw.chromium.launch_persistent_context(
        str(tmp_path / "profile"),  # a fresh profile for every test
        executable_path=CHROMIUM,
        headless=True,
        args=FLAGS,
        viewport={"width": 480, "height": 900},
    )


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
            await expect(bot.filter(has_text="· ✅")).to_have_count(1, timeout=WAIT_MS)

            await box.fill("/chart BTC 24h")
            await box.press("Enter")
            image = page.locator("article.msg.in img.photo")
            await expect(image).to_have_count(1, timeout=WAIT_MS)
            await expect(image).to_be_visible()
            await page.wait_for_function(
                "document.querySelector('img.photo').naturalWidth > 100", timeout=WAIT_MS
            )
            count = await page.locator("article.msg").count()
            target = os.environ.get("LOCAL_CHAT_SCREENSHOT") or tmp_path / "local-chat.png"
            await page.screenshot(path=target)

            await page.reload()
            await expect(page.locator("article.msg")).to_have_count(count, timeout=WAIT_MS)
            await expect(page.locator(f"#msg-{preview_id}")).to_contain_text("filled at")
            await expect(page.locator("article.msg.out").first).to_contain_text("/price BTC")
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
