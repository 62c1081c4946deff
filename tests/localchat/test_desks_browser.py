"""Desks on a phone (390×844), in the local chat and a real headless Chromium: ``/desk`` for an
owner of two desks (the switch button) and an ``/invite viewer`` answer. With
``LOCAL_CHAT_SCREENSHOTS=docs`` they are saved as ``chat-desk.png`` and ``chat-invite.png``
(the README's "Desks" section shows them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.container import Services
from bot.localchat.server import LOCAL_USER_ID
from tests.localchat.conftest import local_settings, running
from tests.localchat.test_browser import PHONE, Chat, async_api, browser, shot


async def test_desk_and_invite_on_a_phone(tmp_path: Path) -> None:
    expect = async_api.expect
    apps: list[Any] = []
    async with (
        running(local_settings(tmp_path, signup="invite"), apps.append) as url,
        async_api.async_playwright() as pw,
    ):
        services: Services = apps[0].bot_data.services
        second = await services.desks.create(LOCAL_USER_ID, "Ada's paper desk")
        context = await browser(pw, tmp_path)
        try:
            chat = await Chat.open(context, url)
            page, say = chat.page, chat.say

            desk = await say("/desk", "Your role")
            await expect(desk).to_contain_text(second.desk.name)
            switch = desk.get_by_role("button")
            await expect(switch).to_have_count(1)
            await expect(switch).to_contain_text("Switch to")
            await expect(switch).to_be_in_viewport()
            await fits(page, desk)
            await page.screenshot(path=shot(tmp_path, "chat-desk.png"))

            invite = await say("/invite viewer", "Invitation")
            await expect(invite).to_contain_text("viewer")
            await expect(invite).to_contain_text("start=")
            await expect(invite).to_contain_text("A viewer sees market data")  # what it grants
            await fits(page, invite)
            await page.screenshot(path=shot(tmp_path, "chat-invite.png"))
        finally:
            await context.close()


async def fits(page: Any, message: Any) -> None:
    """Nothing of ``message`` is clipped: it fits the phone's width and height, and no line
    runs past its bubble."""
    box = await message.bounding_box()
    assert box is not None
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
    assert box["height"] <= PHONE["height"], box
    overflow = await message.evaluate("m => m.scrollWidth > m.clientWidth + 1")
    assert not overflow, await message.inner_html()
