"""Messages and keyboards for /positions, /orders, /balance, /account and /mode."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.render import money
from bot.render.common import esc, mode_badge, num, pct, signed_usd, usd
from bot.services.account.views import AccountView, BalanceView, OrderView, PositionView
from bot.services.orders.stops import StopOrder

CLOSE_PREFIX = "close:"
CANCEL_PREFIX = "cxl:"


def positions(
    views: list[PositionView], mode: str, tick: money.Ticks = money.no_tick
) -> tuple[str, InlineKeyboardMarkup | None]:
    if not views:
        return f"{mode_badge(mode)} · no open positions", None
    lines = [f"{mode_badge(mode)} · <b>positions</b>"]
    for v in views:
        icon = "🟢" if v.quantity > 0 else "🔴"
        t = tick(v.symbol)
        lines.append(
            f"\n{icon} <b>{esc(v.symbol)}</b> {v.side} {money.size(abs(v.quantity))}\n"
            f"entry {money.price(v.entry, t)} · mark {money.price(v.mark, t)}\n"
            f"uPnL {signed_usd(v.unrealized)} · funding {signed_usd(v.funding)}\n"
            f"liq. {money.price(v.liquidation, t) if v.liquidation else '—'} · "
            f"notional {usd(v.notional)}\n" + _stop_line(v, t)
        )
    buttons: list[list[InlineKeyboardButton]] = []
    for v in views:
        buttons.append(
            [InlineKeyboardButton(f"Close {v.symbol}", callback_data=f"{CLOSE_PREFIX}{v.symbol}")]
        )
        row = [
            InlineKeyboardButton(
                f"🗑 {_STOP_LABEL[s.kind]} {money.price(s.trigger, tick(v.symbol))}",
                callback_data=f"{CANCEL_PREFIX}{s.id}",
            )
            for s in v.stops
        ]
        if row:
            buttons.append(row)
    return "\n".join(lines), InlineKeyboardMarkup(buttons)


_STOP_LABEL = {"sl": "SL", "tp": "TP"}


def _stop_line(v: PositionView, tick: Decimal | None) -> str:
    """``SL 60,000 · TP 70,000`` (or ``SL — · TP —`` with the command to set them)."""
    parts = []
    for kind in ("sl", "tp"):
        mine = [s for s in v.stops if s.kind == kind]
        text = " / ".join(money.price(s.trigger, tick) for s in mine) if mine else "—"
        parts.append(f"{_STOP_LABEL[kind]} {text}")
    return "🛡 " + " · ".join(parts)


def stops_off(symbol: str, kind: str, done: list[StopOrder]) -> str:
    name = "stop-loss" if kind == "sl" else "take-profit"
    if not done:
        return f"no {name} set on {esc(symbol)}"
    return f"{name} removed from {esc(symbol)}: " + ", ".join(
        f"{money.price(s.trigger)} (<code>{esc(s.id)}</code>)" for s in done
    )


def orders(
    views: list[OrderView], mode: str, tick: money.Ticks = money.no_tick
) -> tuple[str, InlineKeyboardMarkup | None]:
    if not views:
        return f"{mode_badge(mode)} · no open orders", None
    lines = [f"{mode_badge(mode)} · <b>open orders</b>"]
    for o in views:
        side = "BUY" if o.side == "Bid" else "SELL"
        t = tick(o.symbol)
        price = f" @ {money.price(o.price, t)}" if o.price is not None else ""
        if o.trigger is not None:
            price += f" · trigger {money.price(o.trigger, t)}"
        filled = f" (filled {money.size(o.executed)})" if o.executed else ""
        lines.append(
            f"<code>{esc(o.id)}</code> {side} {money.size(o.quantity)} "
            f"{esc(o.symbol)}{price}{filled}"
        )
    buttons = [
        [InlineKeyboardButton(f"Cancel {o.id}", callback_data=f"{CANCEL_PREFIX}{o.id}")]
        for o in views[:20]
    ]
    if len(views) > 1:
        buttons.append([InlineKeyboardButton("Cancel all", callback_data=f"{CANCEL_PREFIX}all")])
    return "\n".join(lines), InlineKeyboardMarkup(buttons)


def order_gone(order_id: str, fate: str | None) -> str:
    """The answer to a tap on an order that is no longer open (plain text: a toast)."""
    if fate:
        return f"order {order_id} already {fate}"
    return f"order {order_id} is no longer open"


def closed_positions(
    text: str, closed: Sequence[tuple[str, str]], tick: money.Ticks = money.no_tick
) -> str:
    """An older ``/positions`` message once positions it shows are over: each closed
    position's block becomes one struck-through line saying what closed it (``✖️ <s>BTC_USDC_PERP
    LONG 0.01</s>`` then ``closed by its stop-loss at 58,000.0``); the other positions stay as
    they were shown. One short line reads well on a phone, and the struck name keeps the
    message recognisable when scrolling back."""
    fates = dict(closed)
    blocks = text.split("\n\n")
    for i, block in enumerate(blocks):
        first, _, _ = block.partition("\n")
        head = re.fullmatch(r"[🟢🔴] <b>(.+?)</b> (.*)", first)
        if head is None or html.unescape(head.group(1)) not in fates:
            continue
        symbol = html.unescape(head.group(1))
        blocks[i] = (
            f"✖️ <s>{head.group(1)} {head.group(2)}</s>\n{_fate(fates[symbol], tick(symbol))}"
        )
    return "\n\n".join(blocks)


def _fate(gone: str, tick: Decimal | None) -> str:
    """``stop-loss@58000`` → ``closed by its stop-loss at 58,000.0``; else what it says."""
    name, at, wire = gone.partition("@")
    if not at:
        return esc(gone)
    try:
        price = money.price(Decimal(wire), tick)
    except InvalidOperation:
        return f"closed by its {esc(name)}"
    return f"closed by its {esc(name)} at {price}"


def position_gone(symbol: str) -> str:
    """The answer to a Close tap on a position that is already flat (a toast)."""
    return f"{symbol} position is closed"


def cancelled(views: list[OrderView]) -> str:
    if not views:
        return "no open orders to cancel"
    return "cancelled " + ", ".join(f"<code>{esc(o.id)}</code> ({esc(o.symbol)})" for o in views)


def balances(views: list[BalanceView], mode: str) -> str:
    if not views:
        return f"{mode_badge(mode)} · the account is empty"
    lines = [f"{mode_badge(mode)} · <b>balances</b>"]
    for b in views:
        locked = f" (locked {esc(money.amount(b.locked, b.asset))})" if b.locked else ""
        lines.append(f"{esc(b.asset)}: {esc(money.amount(b.available, b.asset))}{locked}")
    return "\n".join(lines)


def account(v: AccountView, mode: str) -> str:
    lines = [
        f"{mode_badge(mode)} · <b>account</b> ({esc(v.status)}, {esc(v.tier)})",
        f"perp fees: maker {num(v.maker_fee_bps)} bps · taker {num(v.taker_fee_bps)} bps",
        f"spot fees: maker {num(v.spot_maker_fee_bps)} bps · taker {num(v.spot_taker_fee_bps)} bps",
        f"leverage limit {num(v.leverage_limit)}x",
    ]
    if v.net_equity is not None:
        lines.append(f"net equity {usd(v.net_equity)} · available {usd(v.available)}")
    if v.margin_fraction is not None:
        lines.append(f"margin fraction {pct(v.margin_fraction)}")
    if v.unrealized is not None:
        lines.append(f"unrealised PnL {signed_usd(v.unrealized)}")
    return "\n".join(lines)


START_PREFIX = "start:"


def market_source(mode_name: str, exchange: str) -> str:
    """Where prices come from, in words."""
    if exchange == "sim":
        return "the built-in simulator (offline, made-up prices)"
    return "Backpack Exchange (real prices)"


def welcome(
    mode_name: str,
    exchange: str,
    usdc: Decimal | None,
    positions: int | None,
    *,
    account_shown: bool = True,
) -> tuple[str, InlineKeyboardMarkup]:
    """``/start``: a short welcome — mode, market source, the account — and three buttons.

    ``usdc``/``positions`` are ``None`` when the account could not be read just now;
    ``account_shown`` is false where the account is not for this chat (a group)."""
    if not account_shown:
        account = "shown in a private chat with me"
    elif usdc is None or positions is None:
        account = "not reachable right now; /balance tries again"
    else:
        held = {0: "no open positions", 1: "1 open position"}.get(
            positions, f"{positions} open positions"
        )
        account = f"{money.usdc(usdc)} available, {held}"
    money_moves = "no real money moves" if mode_name == "paper" else "real money"
    text = "\n".join(
        [
            "👋 <b>Backpack trading bot</b>",
            f"Mode: {mode_badge(mode_name)} — {money_moves}",
            f"Market data: {market_source(mode_name, exchange)}",
            f"Account: {account}",
            "",
            "Every order shows a preview and waits for your ✅. Try <code>/price BTC</code>; "
            "every command: /help",
        ]
    )
    markup = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("💲 Prices", callback_data=f"{START_PREFIX}price"),
                InlineKeyboardButton("📊 Positions", callback_data=f"{START_PREFIX}positions"),
                InlineKeyboardButton("❓ Help", callback_data=f"{START_PREFIX}help"),
            ]
        ]
    )
    return text, markup


def mode_change(mode_name: str, wanted: str, *, operator: bool = True) -> str:
    """``/mode live`` or ``/mode paper``: the mode is chosen at start-up (the operator's desk)
    or by connecting keys (any other desk), never by a command."""
    if wanted == mode_name:
        return f"{mode_badge(mode_name)} — this desk is already in {esc(wanted)} mode."
    if not operator:
        if wanted == "live":
            return (
                f"This desk trades in {mode_badge(mode_name)} mode until its owner connects "
                "Backpack keys with <code>/connect backpack</code> (on a bot that trades live)."
            )
        return (
            f"This desk trades in {mode_badge(mode_name)} mode on its own keys; "
            "<code>/disconnect backpack</code> puts it back on paper."
        )
    if wanted == "live":
        return (
            f"The bot runs in {mode_badge(mode_name)} mode. To trade live with real money:\n"
            "1. stop the bot;\n"
            "2. in <code>.env</code> set <code>TRADING_MODE=live</code>, "
            "<code>BACKPACK_API_KEY</code> and <code>BACKPACK_API_SECRET</code>;\n"
            "3. start it again (<code>make run</code>).\n"
            "The chat never switches the mode itself, so no tap can move real money by mistake."
        )
    return (
        f"The bot runs in {mode_badge(mode_name)} mode. To go back to paper trading, set "
        "<code>TRADING_MODE=paper</code> in <code>.env</code> and start the bot again."
    )


def mode(mode_name: str, exchange: str) -> str:
    if mode_name == "paper":
        where = "the built-in simulator" if exchange == "sim" else "live Backpack market data"
        return (
            f"{mode_badge(mode_name)} — orders fill against {where} in a paper account; "
            "no real money moves. Going live: <code>/mode live</code>"
        )
    return f"{mode_badge(mode_name)} — orders are signed with your API key and sent to Backpack."
