"""Alerts, the strategy and the arbitrage table from the dashboard's API: the same services,
parsing and limits as the chat; only owners change the strategy."""

from __future__ import annotations

import httpx

from tests.bot.conftest import BotRunner
from tests.fakes.telegram import FakeTelegram
from tests.webapp.conftest import OWNER, STRANGER, VIEWER, tma


async def test_alerts_list_add_remove_as_in_the_chat(
    dash: httpx.AsyncClient, tg: FakeTelegram
) -> None:
    held = await dash.post("/api/alerts", json={"text": "BTC > 70000"}, headers=tma(VIEWER))
    assert held.status_code == 409 and "already above 70,000" in held.json()["error"], held.text
    assert (await dash.get("/api/alerts", headers=tma(VIEWER))).json()["alerts"] == []
    body = {"text": "BTC > 70000", "anyway": True}  # the page's "arm it anyway"
    added = await dash.post("/api/alerts", json=body, headers=tma(VIEWER))
    assert added.status_code == 200, added.text
    alert_id = added.json()["id"]
    assert f"#{alert_id}" in added.json()["text"]
    listed = (await dash.get("/api/alerts", headers=tma(VIEWER))).json()["alerts"]
    assert [a["id"] for a in listed] == [alert_id] and "70,000" in listed[0]["condition"]
    chat = await tg.ask(VIEWER, "/alerts", "alerts")
    assert f"#{alert_id}" in chat.text  # the same alert the chat lists
    assert (await dash.get("/api/alerts", headers=tma(OWNER))).json()["alerts"] == []
    bad = await dash.post("/api/alerts", json={"text": "BTC sideways"}, headers=tma(VIEWER))
    assert bad.status_code == 400 and "For example" in bad.json()["error"]
    theirs = await dash.post("/api/alerts/remove", json={"id": alert_id}, headers=tma(OWNER))
    assert theirs.status_code == 404
    gone = await dash.post("/api/alerts/remove", json={"id": alert_id}, headers=tma(VIEWER))
    assert gone.json() == {"removed": alert_id}
    assert (await dash.get("/api/alerts", headers=tma(VIEWER))).json()["alerts"] == []
    assert (await dash.get("/api/alerts", headers=tma(STRANGER))).status_code == 403


async def test_only_owners_change_the_strategy(dash: httpx.AsyncClient, tg: FakeTelegram) -> None:
    seen = (await dash.get("/api/strategy", headers=tma(VIEWER))).json()
    assert seen["mode"] == "off" and "entry_rate" in seen["config"]
    for path, body in [
        ("/api/strategy/mode", {"mode": "auto"}),
        ("/api/strategy/set", {"key": "entry_rate", "value": "0.05%"}),
    ]:
        r = await dash.post(path, json=body, headers=tma(VIEWER))
        assert r.status_code == 403 and "viewer" in r.json()["error"]
    assert (await dash.get("/api/strategy", headers=tma(OWNER))).json()["mode"] == "off"

    r = await dash.post("/api/strategy/mode", json={"mode": "approve"}, headers=tma(OWNER))
    assert r.json() == {"mode": "approve"}
    assert "approve" in (await tg.ask(OWNER, "/strategy", "approve")).text
    before = seen["config"]["entry_rate"]
    wrong = await dash.post(
        "/api/strategy/set", json={"key": "entry_rate", "value": "lots"}, headers=tma(OWNER)
    )
    assert wrong.status_code == 400
    unknown = await dash.post(
        "/api/strategy/set", json={"key": "nope", "value": "1"}, headers=tma(OWNER)
    )
    assert unknown.status_code == 400
    ok = await dash.post(
        "/api/strategy/set", json={"key": "entry_rate", "value": "0.05%"}, headers=tma(OWNER)
    )
    assert ok.status_code == 200 and ok.json()["value"] != before
    after = (await dash.get("/api/strategy", headers=tma(VIEWER))).json()
    assert after["config"]["entry_rate"] == ok.json()["value"]


async def test_arbitrage_says_when_no_hedge_venue_is_configured(
    dash: httpx.AsyncClient, dash_bot: BotRunner
) -> None:
    r = (await dash.get("/api/arb", headers=tma(VIEWER))).json()
    assert r["configured"] is False and "HEDGE_EXCHANGE" in r["text"]
