"""The connect form in a real headless Chromium at a phone's size: labelled fields, Connect,
the key's hint once the simulator accepted it, the fields cleared, and the refusal sentence.

``DASHBOARD_SCREENSHOTS=docs`` saves ``connect-form.png`` (the README shows it) and
``connect-done.png``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.bot.conftest import BotRunner
from tests.keys import new_keypair
from tests.localchat.test_browser import CHROMIUM, WAIT_MS, browser
from tests.webapp import test_connect as connecting
from tests.webapp.conftest import OWNER, VIEWER, init_data
from tests.webapp.test_browser import shot
from tests.webapp.test_connect import DESK, Page, serve

async_api = pytest.importorskip("playwright.async_api", reason="playwright is not installed")
if not Path(CHROMIUM).exists():
    pytest.skip("Chromium is not installed (apt-get install chromium)", allow_module_level=True)

pytestmark = pytest.mark.timeout(180)
keyed_bot = connecting.keyed_bot  # the fixture: the bot live with SECRETS_KEYRING set


@pytest.fixture
async def page(keyed_bot: BotRunner, tmp_path: Path) -> AsyncIterator[Page]:
    p = await serve(keyed_bot, tmp_path, None)
    yield p
    await p.http.aclose()
    await p.server.stop()


async def test_the_form_connects_a_backpack_key(page: Page, tmp_path: Path) -> None:
    expect = async_api.expect
    pair = new_keypair()
    url = (
        f"{page.server.url}/connect?venue=backpack#tgWebAppData={quote(init_data(OWNER), safe='')}"
    )
    async with async_api.async_playwright() as pw:
        context = await browser(pw, tmp_path)
        try:
            tab = await context.new_page()
            errors: list[str] = []
            tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            await tab.goto(url)
            key = tab.get_by_label("API key")
            secret = tab.get_by_label("API secret")
            await expect(key).to_be_visible(timeout=WAIT_MS)
            await expect(secret).to_be_visible()
            assert await secret.get_attribute("type") == "password"
            assert await key.get_attribute("autocomplete") == "off"
            await expect(tab.locator("#venue-name")).to_have_text("Backpack")
            await expect(tab.get_by_label("Private key")).to_be_hidden()
            await tab.screenshot(path=shot(tmp_path, "connect-form.png"))

            await key.fill(new_keypair().api_key)  # another key's: refused with its sentence
            await secret.fill(pair.api_secret)
            await tab.get_by_role("button", name="Connect").click()
            await expect(tab.get_by_role("alert")).to_contain_text(
                "does not match the API secret", timeout=WAIT_MS
            )
            await key.fill(pair.api_key)
            await tab.get_by_role("button", name="Connect").click()
            hint = "…" + pair.api_key.rstrip("=")[-4:]
            await expect(tab.get_by_role("status")).to_contain_text(
                f"Connected: Backpack key {hint}", timeout=WAIT_MS
            )
            await expect(tab.locator("#connected-hint")).to_have_text(hint)
            await expect(tab.get_by_role("alert")).to_be_hidden()
            assert await key.input_value() == "" and await secret.input_value() == ""
            await tab.screenshot(path=shot(tmp_path, "connect-done.png"))
            assert page.door.changed == [(DESK, "backpack")]

            tab.once("dialog", lambda d: d.accept())
            await tab.get_by_role("button", name="Disconnect").click()
            await expect(tab.get_by_role("status")).to_contain_text("Disconnected", timeout=WAIT_MS)
            await expect(tab.locator("#connected")).to_be_hidden()
            assert errors == [] or all("400" in e for e in errors), errors

            viewer = await context.new_page()
            data = quote(init_data(VIEWER), safe="")
            await viewer.goto(f"{page.server.url}/connect?venue=backpack#tgWebAppData={data}")
            await expect(viewer.locator("#denied-text")).to_contain_text(
                "Only the desk's owner", timeout=WAIT_MS
            )
            await expect(viewer.get_by_label("API secret")).to_be_hidden()
        finally:
            await context.close()
