"""Bad input across the commands of the chat rules, driven through the fake Telegram server.

One bot answers a table of inputs — numbers, symbols, lengths, markup, unicode, roles, groups,
tampered buttons — and every case must get its own specific reply (never the generic "something
went wrong") and change nothing: alerts, strategy settings, notification settings, orders and
positions are compared before and after each case.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot.alerts.parse import parse_alert
from bot.alerts.service import AlertService
from bot.services.access import Actor
from tests.bot.conftest import BotRunner, make_settings
from tests.fakes.telegram import FakeTelegram, Sent

OWNER, TRADER, VIEWER = 1001, 1002, 1003
GROUP = -4242
ALLOWED_GROUP = -4343
USERS = f"{OWNER}:owner,{TRADER}:trader,{VIEWER}:viewer"
STALE = "This button is no longer valid"


@dataclass(frozen=True)
class Case:
    text: str  # a message, or "tap:<callback data>"
    expect: str  # a substring of the reply (or of the button's answer)
    user: int = OWNER
    chat: int | None = None  # a group id, or None for the user's private chat


def C(text: str, expect: str, user: int = OWNER, chat: int | None = None) -> Case:
    return Case(text, expect, user, chat)


CASES: list[Case] = [
    # --- /alert numbers
    C("/alert BTC > 1e999999", "exponents"),
    C("/alert BTC > 1,5", "comma"),
    C("/alert BTC > 1,000", "comma"),
    C("/alert BTC > 1e309", "exponents"),
    C("/alert BTC > 1e-30", "exponents"),
    C("/alert BTC above 1e5", "exponents"),
    C("/alert BTC > " + "9" * 60, "too long"),
    C("/alert BTC > 123456789012345678901", "21 digits"),
    C("/alert BTC > inf", "not a number"),
    C("/alert BTC > nan", "not a number"),
    C("/alert BTC > -Infinity", "not a number"),
    C("/alert BTC > -5", "greater than zero"),
    C("/alert BTC > 0", "greater than zero"),
    C("/alert BTC > abc", "not a number"),
    C("/alert BTC > 1.2.3", "not a number"),
    C("/alert BTC > 0x10", "not a number"),
    C("/alert BTC > 5%", "not a percentage"),
    C("/alert BTC > $", "no digits"),
    C("/alert BTC > \u0663", "non-ASCII"),
    C("/alert BTC > \uff11\uff10", "non-ASCII"),
    C("/alert BTC > \u22125", "not a minus"),
    C("/alert BTC > 5", "1/1000× to 1000×"),
    C("/alert BTC > 0.0001", "1/1000× to 1000×"),
    C("/alert BTC > 999999999", "1/1000× to 1000×"),
    C("/alert BTC > 5 6", "a market, an operator and a price"),
    C("/alert BTC >> 5", "operator"),
    C("/alert BTC = 5", "operator"),
    C("/alert BTC ≥ 5", "operator"),
    C("/alert BTC", "condition"),
    C("/alert", "condition"),
    C("/alert NOPE > 5", "NOPE"),
    C("/alert <b>BTC</b> > 5", "not a market"),
    C("/alert " + "A" * 300 + " > 5", "not a market"),
    C("/alert BTC\u200b > 5", "not a market"),
    # --- move alerts
    C("/alert BTC change 5%", "window"),
    C("/alert BTC change 5% 30s", "window"),
    C("/alert BTC change 5% 30d", "between 1 minute and 7 days"),
    C("/alert BTC change 5% 1.5h", "not a duration"),
    C("/alert BTC change 5% \u0661h", "non-ASCII"),
    C("/alert BTC change 0% 1h", "between 0.1% and 90%"),
    C("/alert BTC change 95% 1h", "between 0.1% and 90%"),
    C("/alert BTC change -5% 1h", "greater than zero"),
    C("/alert BTC change 5%% 1h", "not a number"),
    C("/alert BTC change 1e1 1h", "exponents"),
    # --- funding alerts
    C("/alert BTC funding > 11%", "between -10% and 10%"),
    C("/alert BTC funding > 0.2", "between -0.1 and 0.1"),
    C("/alert BTC funding > 1e-20%", "exponents"),
    C("/alert BTC funding > 0,05%", "comma"),
    C("/alert BTC funding apr > 20000%", "between -10000% and 10000%"),
    C("/alert BTC funding apr > 1e3", "exponents"),
    C("/alert BTC funding >", "operator"),
    C("/alert BTC funding ≥ 0.01%", "operator"),
    C("/alert SOL_USDC funding > 0.01%", "spot"),
    # --- removing alerts
    C("/alert off abc", "Which alert?"),
    C("/alert off", "Which alert?"),
    C("/alert off -1", "Which alert?"),
    C("/alert off 99999999999999999999", "Which alert?"),
    C("/alert off 999", "no alert #999"),
    C("/alerts foo", "<code>/alerts clear</code>"),
    # --- /notify
    C("/notify quiet 25-3", "UTC hours from 0 to 23"),
    C("/notify quiet 1-2-3", "did not get"),
    C("/notify fills maybe", "did not get"),
    C("/notify <b>x</b>", "did not get"),
    # --- strategy settings (the owner)
    C("/strategy set entry_rate 1e-5", "exponents"),
    C("/strategy set entry_rate 6%", "between 0.0001% and 5%"),
    C("/strategy set entry_rate 0.06", "between 0.000001 and 0.05"),
    C("/strategy set entry_rate -0.01%", "between 0.0001% and 5%"),
    C("/strategy set entry_rate 1,5", "comma"),
    C("/strategy set entry_rate abc", "not a number"),
    C("/strategy set entry_rate inf", "not a number"),
    C("/strategy set entry_rate 0.01%%", "not a number"),
    C("/strategy set entry_rate", "give a key and a value"),
    C("/strategy set", "give a key and a value"),
    C("/strategy set nope 1", "unknown setting"),
    C("/strategy set <b>x</b> 1", "unknown setting '&lt;b&gt;x&lt;/b&gt;'"),
    C("/strategy set symbols FOO,BAR", "no perp market 'FOO', 'BAR'"),
    C("/strategy set symbols BTC,SOL_USDC", "no perp market 'SOL_USDC'"),
    C("/strategy set symbols BTC;DROP", "not a symbol"),
    C("/strategy set symbols <i>BTC</i>", "not a symbol"),
    C("/strategy set max_positions 1.5", "whole number"),
    C("/strategy set max_positions 101", "between 0 and 100"),
    C("/strategy set trade_notional 5000", "must not exceed"),
    C("/strategy set trade_notional 1e4", "exponents"),
    C("/strategy set trade_notional 5%", "not a percentage"),
    C("/strategy set exit_rate 0.001", "must be below entry_rate"),
    C("/strategy set allow_unhedged maybe", "on or off"),
    C("/strategy set kind yolo", "directional, carry or cross"),
    C("/strategy set stop_loss_pct 0%", "between 0.1% and 100%"),
    C("/strategy set min_volume_24h -5", "between 0 and"),
    C("/strategy set horizon_hours 99999999", "between 1 and 720"),
    C("/strategy set cooldown_minutes \u0663", "non-ASCII"),
    C("/strategy maybe", "don't know"),
    C("/strategy auto now", "don't know"),
    C("/strategy <script>alert(1)</script>", "&lt;script&gt;"),
    # --- roles
    C("/strategy auto", "role is <b>trader</b>", TRADER),
    C("/strategy set entry_rate 0.02%", "role is <b>trader</b>", TRADER),
    C("/strategy off", "role is <b>viewer</b>", VIEWER),
    C("/strategy approve", "role is <b>viewer</b>", VIEWER),
    C("/strategy set kind carry", "role is <b>viewer</b>", VIEWER),
    C("/alert BTC > 1,5", "comma", VIEWER),
    C("/whoami", "Your role: <b>viewer</b>", VIEWER),
    C("/whoami", "Your role: <b>trader</b>", TRADER),
    # --- groups
    C("/pnl", "use a private chat with me", OWNER, GROUP),
    C("/trades", "use a private chat with me", OWNER, GROUP),
    C("/strategy", "use a private chat with me", OWNER, GROUP),
    C("/strategy auto", "use a private chat with me", OWNER, GROUP),
    C("/strategy set entry_rate 0.02%", "use a private chat with me", OWNER, GROUP),
    C("/alert BTC > 1,5", "comma", OWNER, GROUP),
    C("/price <b>x</b>", "not a market name", OWNER, GROUP),
    C("/whoami", "market data and alerts only", TRADER, GROUP),
    C("/pnl month", "/pnl day", OWNER, ALLOWED_GROUP),
    # --- /backtest and /chart windows
    C("/backtest BTC 36d", "between 1 day and 35 days"),
    C("/backtest BTC 90d", "between 1 day and 35 days"),
    C("/backtest BTC 6w", "between 1 day and 35 days"),
    C("/backtest BTC 0d", "between 1 day and 35 days"),
    C("/backtest BTC 1e2", "not a duration"),
    C("/backtest BTC 7y", "needs a unit"),
    C("/backtest BTC 48h", "needs a unit"),
    C("/backtest BTC -7d", "not a duration"),
    C("/backtest BTC 3.5d", "not a duration"),
    C("/backtest BTC 7d 8d", "Which market and how far back"),
    C("/backtest", "Which market and how far back"),
    C("/backtest <b>BTC</b>", "not a market name"),
    C("/backtest SOL_USDC 7d", "spot"),
    C("/backtest NOPE 7d", "NOPE"),
    C("/chart BTC 15d", "between 1 hour and 14 days"),
    C("/chart BTC 0h", "between 1 hour and 14 days"),
    C("/chart BTC 99y", "needs a unit"),
    C("/chart BTC 1e3h", "not a duration"),
    C("/chart <script> 1h", "not a market name"),
    C("/chart", "/chart BTC 24h"),
    C("/chart BTC 1h 2h", "/chart BTC 24h"),
    C("/pnl month", "/pnl day"),
    C("/pnl day week", "/pnl day"),
    # --- market symbols
    C("/price <b>BTC</b>", "not a market name"),
    C("/price NOPE", "NOPE"),
    C("/price " + " ".join(["BTC"] * 11), "At most 10"),
    C("/price", "Which market?"),
    C("/price \uff22\uff34\uff23", "not a market name"),
    C("/price " + "A" * 100, "not a market name"),
    C("/funding BTC ETH", "One market at a time"),
    C("/funding <i>x</i>", "not a market name"),
    C("/book", "Which market?"),
    C("/book BTC ETH", "Which market?"),
    C("/book NOPE", "NOPE"),
    C("/book ../../etc", "not a market name"),
    # --- /buy through the shared grammar
    C("/buy BTC 0.01usdc", "0.01 USDC buys only"),
    C("/buy BTC 1,5", "comma"),
    C("/buy BTC 1e5", "not a number"),
    C("/buy BTC \u0661", "non-ASCII"),
    C("/buy BTC " + "1" * 40, "too long"),
    # --- /sl and /tp
    C("/sl", "Which position"),
    C("/sl BTC", "Where should the stop-loss be"),
    C("/sl BTC 1,5", "comma"),
    C("/sl BTC abc", "not a number"),
    C("/tp BTC 150%", "too far"),
    C("/sl BTC 60000 70000", "don't understand"),
    C("/sl BTC 60000", "No open BTC position"),
    C("/sl SOL_USDC 100", "spot"),
    C("/sl BTC off", "no stop-loss set"),
    C("/buy BTC 0.01 sl", "must follow 'sl'"),
    C("/sl BTC 60000", "role is <b>viewer</b>", VIEWER),
    C("/tp BTC off", "role is <b>viewer</b>", VIEWER),
    C("/sl BTC 60000", "No open BTC position", TRADER),
    # --- unknown commands and free text (private chats)
    C("/foo", "I don't know /foo."),
    C("hello bot", "/help lists them all"),
    C("buy btc 0.01", "Did you mean <code>/buy BTC 0.01</code>?"),
    C("/bal", "did you mean <code>/balance</code>?"),
    C("/pirce btc", "did you mean <code>/price BTC</code>?"),
    C("🚀🚀🚀", "/help lists them all"),
    C("<b>hi</b>", "/help lists them all"),
    # --- tampered and stale buttons
    C("tap:al:del:abc", STALE),
    C("tap:al:mute:abc", STALE),
    C("tap:al:del:", STALE),
    C("tap:al:", STALE),
    C("tap:al:px:<b>", STALE),
    C("tap:al:fund:", STALE),
    C("tap:al:del:99999999999", STALE),
    C("tap:al:nope:1", STALE),
    C("tap:zz:1", STALE),
    C("tap:x", STALE),
    C("tap:al:del:12345", "Already gone"),
    C("tap:al:mute:12345", "Not yours or gone"),
    C("tap:stg:ok:forged", "Unknown proposal"),
    C("tap:stg:ok:x", "may not trade", VIEWER),
    C("tap:al:del:abc", STALE, TRADER),
    # --- not text: stickers, photos, files, voice, places (private chats)
    C("media:sticker", "text commands only"),
    C("media:photo", "text commands only"),
    C("media:photo:/buy BTC 0.01", "send <code>/buy BTC 0.01</code> on its own"),
    C("media:document:/alert BTC > 1,5", "not in a caption"),
    C("media:document:<b>/price</b>", "text commands only"),
    C("media:voice", "text commands only"),
    C("media:location", "text commands only"),
    C("media:contact", "text commands only"),
    C("media:sticker", "text commands only", VIEWER),
    C("media:photo:/strategy auto", "not in a caption", TRADER),
]


STRANGER = 6666

#: With the update gate wired as bot/app.py is to wire it (roles and groups for every command).
GATED_CASES: list[Case] = [
    C("/buy BTC 0.01", "role is <b>viewer</b>", VIEWER),
    C("/sell ETH 0.5", "role is <b>viewer</b>", VIEWER),
    C("/close BTC", "role is <b>viewer</b>", VIEWER),
    C("/cancel all", "role is <b>viewer</b>", VIEWER),
    C("/positions", "positions", VIEWER),
    C("/balance", "balances", VIEWER),
    C("/balance", "use a private chat with me", OWNER, GROUP),
    C("/positions", "use a private chat with me", OWNER, GROUP),
    C("/orders", "use a private chat with me", TRADER, GROUP),
    C("/account", "use a private chat with me", OWNER, GROUP),
    C("/buy BTC 0.01", "use a private chat with me", OWNER, GROUP),
    C("/close BTC", "use a private chat with me", TRADER, GROUP),
    C("/price BTC", "BTC_USDC_PERP", OWNER, GROUP),
    C("/balance", "balances", OWNER, ALLOWED_GROUP),
    C("/price BTC", "not on its list of users", STRANGER),
    C("tap:tc:sometoken", "may not trade", VIEWER),
    C("tap:close:BTC_USDC_PERP", "may not trade", VIEWER),
    C("tap:cxl:all", "may not trade", VIEWER),
    C("tap:al:del:1", "This bot is private", STRANGER),
]


async def _start(tg: FakeTelegram, tmp_path: Path) -> BotRunner:
    runner = BotRunner(
        make_settings(
            tg,
            tmp_path,
            telegram_allowed_users=USERS,
            telegram_allowed_groups=str(ALLOWED_GROUP),
        )
    )
    await runner.start()
    return runner


@pytest.fixture
async def bot(tg: FakeTelegram, tmp_path: Path) -> AsyncIterator[BotRunner]:
    runner = await _start(tg, tmp_path)
    yield runner
    await runner.stop()


def _alerts(runner: BotRunner) -> AlertService:
    svc = runner.services.alerts
    assert isinstance(svc, AlertService)
    return svc


async def _state(runner: BotRunner) -> Any:
    rt = runner.services
    svc = _alerts(runner)
    strategy = await rt.strategy.store.settings()
    notify = [await svc.store.settings(u) for u in (OWNER, TRADER, VIEWER)]
    api = rt.account_api
    assert api is not None
    orders = await api.get_open_orders()
    positions = await api.get_positions()
    return (
        [(a.id, a.threshold, a.armed) for a in await svc.store.all()],
        strategy.mode,
        strategy.config.to_dict(),
        notify,
        sorted(str(o.get("id")) for o in orders),
        sorted((p.get("symbol"), str(p.get("netQuantity"))) for p in positions),
    )


def _media(spec: str) -> dict[str, Any]:
    """``kind[:caption]`` → the fields of a Bot API Message carrying that kind of content."""
    kind, _, caption = spec.partition(":")
    file: dict[str, Any] = {"file_id": f"f-{kind}", "file_unique_id": f"u-{kind}"}
    sticker = {"type": "regular", "width": 512, "height": 512, "is_animated": False}
    kinds: dict[str, dict[str, Any]] = {
        "sticker": {"sticker": {**file, **sticker, "is_video": False}},
        "photo": {"photo": [{**file, "width": 90, "height": 90}]},
        "document": {"document": {**file, "file_name": "notes.txt"}},
        "voice": {"voice": {**file, "duration": 2}},
        "location": {"location": {"latitude": 47.37, "longitude": 8.54}},
        "contact": {"contact": {"phone_number": "+100", "first_name": "Eve"}},
    }
    fields = dict(kinds[kind])
    if caption:
        fields["caption"] = caption
    return fields


async def _run(tg: FakeTelegram, case: Case) -> str:
    if case.text.startswith("media:"):
        mark = len(tg.messages)
        chat = case.chat if case.chat is not None else case.user
        await tg.send_media(case.user, _media(case.text.removeprefix("media:")), case.chat)
        return (await tg.next_message(chat, after=mark)).text
    if case.text.startswith("tap:"):
        chat = case.chat if case.chat is not None else case.user
        message = Sent(chat_id=chat, message_id=1, text="an old message")
        query = await tg.tap(case.user, message, case.text.removeprefix("tap:"))
        return (await tg.answer_to(query)).text
    mark = len(tg.messages)
    await tg.send(case.user, case.text, chat_id=case.chat)
    chat = case.chat if case.chat is not None else case.user
    return (await tg.next_message(chat, after=mark)).text


async def test_table_of_bad_inputs(bot: BotRunner, tg: FakeTelegram) -> None:
    assert len(CASES) >= 150
    failures: list[str] = []
    for case in CASES:
        before = await _state(bot)
        try:
            got = await _run(tg, case)
        except AssertionError as exc:
            failures.append(f"{case.text[:60]!r}: no reply ({exc})")
            continue
        after = await _state(bot)
        if case.expect not in got:
            failures.append(f"{case.text[:60]!r}: expected {case.expect!r}, got {got[:200]!r}")
        if "something went wrong" in got.lower() or "traceback" in got.lower():
            failures.append(f"{case.text[:60]!r}: generic failure {got[:200]!r}")
        if before != after:
            failures.append(f"{case.text[:60]!r}: state changed")
    assert not failures, f"{len(failures)}/{len(CASES)} failed:\n" + "\n".join(failures)


async def test_table_with_the_update_gate(bot: BotRunner, tg: FakeTelegram) -> None:
    failures: list[str] = []
    for case in GATED_CASES:
        before = await _state(bot)
        try:
            got = await _run(tg, case)
        except AssertionError as exc:
            failures.append(f"{case.text[:60]!r}: no reply ({exc})")
            continue
        if case.expect not in got:
            failures.append(f"{case.text[:60]!r}: expected {case.expect!r}, got {got[:200]!r}")
        if "until you tap" in got or before != await _state(bot):
            failures.append(f"{case.text[:60]!r}: something was prepared or changed")
    assert not failures, f"{len(failures)}/{len(GATED_CASES)} failed:\n" + "\n".join(failures)


# ---------------------------------------------------------------------- the intended paths


async def _price(runner: BotRunner, symbol: str = "BTC_USDC_PERP") -> Decimal:
    api = runner.services.market_api
    assert api is not None
    return await api.get_price(symbol)


async def test_alert_echoes_as_typed_and_a_corrupt_row_never_breaks_the_list(
    bot: BotRunner, tg: FakeTelegram
) -> None:
    level = (await _price(bot) * Decimal("1.5")).quantize(Decimal("0.1"))
    created = await tg.ask(OWNER, f"/alert btc > {level}", "set:")
    assert f"BTC_USDC_PERP &gt; {level.normalize():f}" in created.text
    svc = _alerts(bot)
    await svc.store.add(
        user_id=OWNER,
        chat_id=OWNER,
        symbol="BTC_USDC_PERP",
        kind="price",
        op=">",
        threshold=Decimal("1E+999999"),
        window_seconds=None,
        now_ms=0,
    )
    listing = await tg.ask(OWNER, "/alerts", "Your alerts")
    assert "(out of range)" in listing.text and "&gt;" in listing.text
    assert "≥" not in listing.text


async def test_fifty_alerts_at_most(bot: BotRunner, tg: FakeTelegram) -> None:
    svc = _alerts(bot)
    p = await _price(bot)
    for i in range(50):
        await svc.add(Actor(VIEWER, "viewer", VIEWER), parse_alert(["BTC", ">", str(p + i + 1)]))
    reply = await tg.ask(VIEWER, f"/alert BTC > {p * 2}")
    assert "the most one user may keep is 50" in reply.text
    assert len(await svc.for_user(Actor(VIEWER, "viewer", VIEWER))) == 50


async def test_strategy_percent_is_stored_as_a_fraction_and_shown_as_typed(
    bot: BotRunner, tg: FakeTelegram
) -> None:
    reply = await tg.ask(OWNER, "/strategy set entry_rate 0.01%", "saved")
    assert "= 0.01% (saved)" in reply.text
    store = bot.services.strategy.store
    assert (await store.settings()).config.entry_rate == Decimal("0.0001")
    await tg.ask(OWNER, "/strategy set trade_notional $1.5k", "saved")
    await tg.ask(OWNER, "/strategy set symbols btc, eth", "saved")
    config = (await store.settings()).config
    assert config.trade_notional == 1500 and config.symbols == ("BTC", "ETH")
    status = await tg.ask(OWNER, "/strategy", "<b>Strategy</b>")
    assert "<code>entry_rate</code> = 0.01%" in status.text
    assert "<code>trade_notional</code> = 1500 USDC" in status.text


async def test_buy_with_a_spaced_dollar_gets_a_preview(bot: BotRunner, tg: FakeTelegram) -> None:
    reply = await tg.ask(OWNER, "/buy SOL $ 200", "until you tap")
    assert "SOL" in reply.text


async def test_chart_caption_in_days(bot: BotRunner, tg: FakeTelegram) -> None:
    mark = len(tg.messages)
    await tg.send(OWNER, "/chart BTC 14d")
    photo: Sent = await tg.wait_for(
        lambda: next((m for m in tg.messages[mark:] if m.photo), None), 30
    )
    assert photo.text.endswith("last 14 days")
    assert re.search(r"\d+ h\b", photo.text) is None
