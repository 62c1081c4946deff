"""Strategy, PnL, trades and backtest messages (HTML, every dynamic value escaped)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.render import money
from bot.render.common import esc, mode_badge, num, pct, safe, signed_usd, usd
from bot.services.account.journal import PnlReport, PnlRow, cents
from bot.services.orders.confirm import Status
from bot.services.strategy.control import ApprovalResult, PositionView, Proposal, StrategyStatus
from bot.storage.strategy import ActionRecord
from bot.strategy.backtest import BacktestResult
from bot.strategy.cross import CrossResult
from bot.strategy.executor import ExecutionReport, LegFill
from bot.strategy.model import CONFIG_KEYS, Action, Candidate, StrategyConfig, config_help

APPROVE_PREFIX = "stg:ok:"
REJECT_PREFIX = "stg:no:"
MODE_PREFIX = "stg:mode:"

MODE_TEXT = {
    "off": "⏸ off — the strategy watches nothing and trades nothing",
    "approve": "🙋 approve — each intended trade arrives here with ✅/❌",
    "auto": "🤖 auto — trades are executed and reported",
}


def _side(side: str) -> str:
    return "BUY" if side == "Bid" else "SELL"


def _time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%m-%d %H:%M")


def legs(action: Action) -> list[str]:
    out = []
    for leg in action.legs:
        flag = " reduce-only" if leg.reduce_only else ""
        where = " on the hedge venue" if leg.venue else ""
        out.append(
            f"• {_side(leg.side)} {money.size(leg.quantity)} {esc(leg.symbol)}{where}{flag} "
            f"≈ {money.price(leg.expected_price)}"
        )
    return out


def mode_set(mode: str, trading_mode: str) -> str:
    return f"Strategy mode: {MODE_TEXT[mode]}\nAccount: {mode_badge(trading_mode)}"


PAUSED = "⏸ Paused: no new entries; exits, stops and the delta check go on (/resume)"


#: The three views of ``/strategy``: the screen, its settings, every candidate.
VIEW_PREFIX = "stg:view:"
#: At most this many positions on the one-screen ``/strategy``; the rest are counted.
SCREEN_POSITIONS = 5
SCREEN_CANDIDATES = 3
_UNITS = {"_hours": "h", "_minutes": "min"}


def setting(cfg: StrategyConfig, key: str) -> str:
    """One setting as every message writes it: rates as percents with what they are per,
    notionals as USDC, hours and minutes with their unit."""
    value = getattr(cfg, key)
    kind = CONFIG_KEYS[key].kind
    if kind == "rate":
        return money.setting_rate(value, cfg.rate_per)
    if kind == "usdc":
        return money.usdc(value)
    if kind == "points":
        return f"{money.number(value)}%"
    if kind == "bps":
        return f"{money.number(value)} bps ({money.number(value / 100)}%)"
    if kind == "bool":
        return "on" if value else "off"
    if kind == "symbols":
        return ", ".join(value) if value else "all"
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        unit = next((u for suffix, u in _UNITS.items() if key.endswith(suffix)), "")
        return f"{money.number(Decimal(value))} {unit}".rstrip()
    return str(value)


def _per(st: StrategyStatus) -> str:
    return st.config.rate_per


def _candidate(cand: Candidate, per: str) -> str:
    mark = "✅" if cand.eligible else "·"
    # A market refused before it was sized has no edge to show: say why, not "edge —:".
    edge = f", edge {esc(signed_usd(cand.edge))}:" if cand.quantity else " —"
    return (
        f"{mark} {esc(cand.symbol)} {money.rate(cand.funding_rate, per)}{edge} {esc(cand.reason)}"
    )


def _position(v: PositionView, c: StrategyConfig) -> str:
    p = v.position
    hedge = f" + {money.size(p.spot_quantity)} {esc(p.spot_symbol)}" if p.spot_quantity else ""
    side = "short" if p.is_short else "long"
    rate = money.rate(v.funding_rate, c.rate_per) if v.funding_rate is not None else "—"
    upnl = esc(signed_usd(v.unrealized)) if v.unrealized is not None else "—"
    stop = (
        f"stop on the exchange @ {money.price(v.exchange_stop)}"
        if v.exchange_stop is not None
        else f"stop at -{money.number(c.stop_loss_pct)}% (bot)"
    )
    return (
        f"{esc(p.symbol)} {side} {money.size(abs(p.perp_quantity))}{hedge} @ "
        f"{money.price(p.perp_entry)} ({esc(p.kind)}), since {_time(p.opened_at_ms)}\n"
        f"   mark {money.price(v.mark)} · {rate} · uPnL {upnl} · {stop}"
    )


def buttons(mode: str) -> InlineKeyboardMarkup:
    """Under ``/strategy``: the other two views, and the modes it is not in."""
    modes = [
        InlineKeyboardButton(label, callback_data=f"{MODE_PREFIX}{m}")
        for m, label in (("off", "⏸ Off"), ("approve", "🙋 Approve"), ("auto", "🤖 Auto"))
        if m != mode
    ]
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("⚙️ Settings", callback_data=f"{VIEW_PREFIX}config"),
                InlineKeyboardButton("📋 All candidates", callback_data=f"{VIEW_PREFIX}candidates"),
            ],
            modes,
        ]
    )


def status(st: StrategyStatus) -> str:
    """``/strategy`` on one phone screen: mode, open positions, the top 3 candidates."""
    c = st.config
    lines = [
        f"<b>Strategy</b> ({esc(c.kind)}) · {mode_badge(st.trading_mode)}",
        f"Mode: {MODE_TEXT.get(st.mode, esc(st.mode))}" + (f"\n{PAUSED}" if st.paused else ""),
        "",
        f"<b>Open positions</b> ({len(st.positions)})",
    ]
    if not st.positions:
        lines.append("none")
    lines += [_position(v, c) for v in st.positions[:SCREEN_POSITIONS]]
    if len(st.positions) > SCREEN_POSITIONS:
        lines.append(f"… and {len(st.positions) - SCREEN_POSITIONS} more")
    lines += ["", "<b>Top candidates</b> (edge over the horizon, after costs)"]
    if not st.candidates:
        lines.append("none")
    lines += [_candidate(cand, _per(st)) for cand in st.candidates[:SCREEN_CANDIDATES]]
    lines += [
        "",
        "Settings and every market: the buttons below, or <code>/strategy config</code>, "
        "<code>/strategy candidates</code>",
    ]
    return "\n".join(lines)


def config_view(st: StrategyStatus) -> str:
    """``/strategy config``: every setting, labelled, and where the stop-loss lives."""
    c = st.config
    lines = [f"<b>Strategy settings</b> · {mode_badge(st.trading_mode)}"]
    for key, _example, helptext in config_help():
        lines.append(f"<code>{esc(key)}</code> {esc(setting(c, key))} — {esc(helptext)}")
    lines.append(
        "Stop-loss: held on the exchange for unhedged positions (works while the bot is down)"
        if c.stop_on_exchange
        else "Stop-loss: checked by the bot each cycle, only while it runs"
    )
    lines.append("Change one: <code>/strategy set entry_rate 0.02%</code>")
    return "\n".join(lines)


def candidates_view(st: StrategyStatus) -> str:
    """``/strategy candidates``: every market evaluated, best edge first, with why."""
    lines = [
        f"<b>Strategy candidates</b> ({len(st.candidates)}, best edge first) · "
        f"{mode_badge(st.trading_mode)}"
    ]
    if not st.candidates:
        lines.append("none: no market passes the symbol and volume filters")
    lines += [_candidate(cand, _per(st)) for cand in st.candidates]
    return "\n".join(lines)


def config_saved(cfg: StrategyConfig, key: str) -> str:
    return f"✅ <code>{esc(key)}</code> = {esc(setting(cfg, key))} (saved)"


def config_usage(problem: str | None = None, *, typed_key: str | None = None) -> str:
    """A refused ``/strategy set``: what was wrong and one line of usage, not the manual;
    ``typed_key`` is a setting that does not exist, quoted as typed."""
    if typed_key is not None:
        head = f"⚠️ unknown setting <code>{esc(typed_key)}</code>.\n"
    else:
        head = f"⚠️ {safe(problem.rstrip('.'))}.\n" if problem else ""
    return (
        f"{head}Usage: <code>/strategy set key value</code>, e.g. "
        "<code>/strategy set entry_rate 0.02%</code>; the keys: /strategy config"
    )


def proposal(p: Proposal, trading_mode: str) -> tuple[str, InlineKeyboardMarkup]:
    a = p.action
    head = "Open" if a.kind == "open" else "Close"
    lines = [
        f"<b>Strategy proposes: {head} {esc(a.symbol)}</b> ({esc(a.strategy)}) · "
        f"{mode_badge(trading_mode)}",
        *legs(a),
        (
            f"Notional ≈ {esc(usd(a.notional))} a leg, spread {money.rate(a.funding_rate, 'hour')}"
            if a.strategy == "cross"
            else f"Notional ≈ {esc(usd(a.notional))}, funding "
            f"{money.rate(a.funding_rate, 'interval')}"
        ),
        f"Why: {esc(a.reason)}",
        "Tap ✅ to execute or ❌ to skip.",
    ]
    markup = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("✅ Execute", callback_data=f"{APPROVE_PREFIX}{p.token}"),
                InlineKeyboardButton("❌ Skip", callback_data=f"{REJECT_PREFIX}{p.token}"),
            ]
        ]
    )
    return "\n".join(lines), markup


def report(r: ExecutionReport, trading_mode: str) -> str:
    """What one strategy action did: what happened (opened, completed after a restart,
    unwound and until when the symbol cools down), each leg, the fees, why, the problems."""
    a = r.action
    icon = "✅" if r.ok else "⚠️"
    lines = [f"{icon} <b>Strategy {_headline(r)}</b> · {mode_badge(trading_mode)}"]
    for f in r.fills:
        lines.append(_leg_line(f))
    for f in r.unwinds:
        lines.append(_leg_line(f, "unwind"))
    if r.fees is not None and r.traded:
        lines.append(f"Fees ≈ {money.usdc(r.fees)} (taker rates)")
    lines.append(f"Why: {esc(a.reason)}")
    lines += [f"⚠️ {esc(p)}" for p in r.problems]
    return "\n".join(lines)


def _headline(r: ExecutionReport) -> str:
    """What happened, in words the user can check against the legs below."""
    sym = esc(r.action.symbol)
    when = " after a restart" if r.after_restart is not None else ""
    if r.action.kind != "open":
        if r.after_restart == "untraded":
            return f"close of {sym} interrupted by a restart: nothing was traded"
        return f"Closed {sym}{' (finished after a restart)' if when else ''}"
    if r.after_restart == "untraded" or not r.traded:
        return f"entry {sym} not opened{when}: nothing was traded"
    if r.unwinds:
        cooldown = f", cooldown until {_until(r)}" if r.cooldown_until_ms else ""
        partly = r.perp_filled != 0 or r.spot_filled != 0
        what = "partly unwound" if partly else "unwound"
        return f"entry {sym} {what}{when}{cooldown}"
    if r.after_restart == "completed":
        return f"Opened {sym}: completed after a restart"
    if r.after_restart == "booked":
        return f"Opened {sym} (both legs went out before the restart)"
    return f"Opened {sym}"


def _until(r: ExecutionReport) -> str:
    assert r.cooldown_until_ms is not None
    until = datetime.fromtimestamp(r.cooldown_until_ms / 1000, UTC)
    same_day = r.cooldown_until_ms - r.at_ms < 20 * 3_600_000
    return until.strftime("%H:%M UTC" if same_day else "%b %d %H:%M UTC")


def _leg_line(f: LegFill, what: str = "") -> str:
    label = f" ({what})" if what else ""
    if f.error:
        return f"• {_side(f.side)} {money.size(f.requested)} {esc(f.symbol)}{label}: not traded"
    return (
        f"• {_side(f.side)} {money.size(f.filled)} {esc(f.symbol)}{label} @ "
        f"{money.price(f.average_price) if f.average_price else '—'} "
        f"(order {esc(f.order_id)})"
    )


def approval(res: ApprovalResult, trading_mode: str) -> str:
    """The final state of a tapped proposal."""
    if res.report is not None:
        return report(res.report, trading_mode)
    what = f" {esc(res.action.symbol)}" if res.action else ""
    status = res.outcome.status
    reason = f": {esc(res.outcome.reason)}" if res.outcome.reason else ""
    texts = {
        Status.CANCELLED: f"❌ Skipped{what}; nothing was sent.",
        Status.EXPIRED: (
            f"⌛ This proposal{what} expired; nothing was sent. The strategy proposes it again "
            "on a later cycle if the edge still holds."
        ),
        Status.USED: f"This proposal{what} was already answered; nothing more was sent.",
        Status.NOT_YOURS: "This proposal is not yours.",
        Status.NOT_FOUND: "Unknown proposal; nothing was sent.",
        Status.REQUOTED: f"↻ The price{what} moved; a fresh proposal follows. Nothing was sent.",
        Status.INVALID: f"⚠️ The proposal{what} no longer passes the checks{reason}",
        Status.UNAVAILABLE: f"📡 Not sent{what}{reason}",
    }
    return texts.get(status, f"{esc(str(status))}{what}{reason}")


def _pnl_row(r: PnlRow) -> str:
    return (
        f"<b>{esc(r.symbol)}</b>: realised {esc(signed_usd(r.realized))}, "
        f"unrealised {esc(signed_usd(r.unrealized))}, funding {esc(signed_usd(r.funding))}, "
        f"fees {esc(usd(r.fees))}, <b>net {esc(signed_usd(r.net))}</b>"
    )


def pnl(rep: PnlReport) -> str:
    """``/pnl``: every amount to the cent, and the nets and the total add up the shown cents
    (:meth:`PnlReport.in_cents`)."""
    rep = rep.in_cents()
    title = {"day": "last 24 h", "week": "last 7 days", "all": "all time"}[rep.period]
    lines = [f"<b>PnL, {title}</b> · {mode_badge(rep.mode)}"]
    if not rep.rows:
        lines.append("No fills or funding payments yet.")
        return "\n".join(lines)
    lines += [_pnl_row(r) for r in rep.rows]
    lines += ["", _pnl_row(rep.total)]
    return "\n".join(lines)


def trades(records: Sequence[ActionRecord]) -> str:
    if not records:
        return "No strategy trades yet."
    lines = ["<b>Last strategy trades</b>"]
    for r in records:
        qty = f"perp {money.size(r.perp_quantity)}"
        if r.perp_price is not None:
            qty += f" @ {money.price(r.perp_price)}"
        if r.spot_quantity:
            qty += f", spot {money.size(r.spot_quantity)}"
            if r.spot_price is not None:
                qty += f" @ {money.price(r.spot_price)}"
        lines.append(
            f"{_time(r.at_ms)} {mode_badge(r.mode)} <b>{esc(r.kind)} {esc(r.symbol)}</b> "
            f"({esc(r.strategy)}): {qty}\n   why: {esc(r.reason)}"
        )
        lines += [f"   ⚠️ {esc(p)}" for p in r.problems]
    return "\n".join(lines)


def backtest(result: BacktestResult, kind: str) -> str:
    days = Decimal(result.end_ms - result.start_ms) / 86_400_000
    sym = ", ".join(result.symbols)
    return "\n".join(
        [
            f"<b>Backtest {esc(sym)}</b>, {esc(num(days, 1))} days, {esc(kind)}",
            f"Trades: {len(result.trades)} ({result.round_trips} round trips)",
            f"Funding earned: {esc(signed_usd(result.funding))}",
            f"Fees: {esc(usd(result.fees))}",
            f"Price PnL: {esc(signed_usd(result.realized + result.unrealized))}",
            f"<b>Net: {esc(signed_usd(result.net))}</b> on {esc(usd(result.capital))}",
            f"Max drawdown: {esc(pct(result.max_drawdown))}",
            f"Annualised return: {esc(pct(result.annualised_return))}",
        ]
    )


def reconciled(notes: Sequence[str]) -> str:
    lines = ["Strategy positions reconciled with the exchange:"]
    lines += [f"• {esc(n)}" for n in notes]
    return "\n".join(lines)


def cross_backtest(result: CrossResult, base: str, short_long: str, days: int) -> str:
    """The ``cross`` backtest's summary: funding, costs and basis kept apart."""
    closed = [t for t in result.trades if t.closed_ms is not None]
    lines = [
        f"<b>Backtest {esc(base)} cross</b> ({esc(short_long)}), {days} days, "
        f"{result.hours} hours with both venues' prices",
        f"Trades: {len(result.trades)} ({len(closed)} closed)",
        f"Funding earned on both venues: {esc(signed_usd(result.funding))}",
        f"Fees and slippage, in and out: {esc(usd(result.costs))}",
        f"Basis (the legs' price PnL): {esc(signed_usd(result.basis))}",
        f"<b>Net: {esc(signed_usd(result.net))}</b>",
    ]
    for t in result.trades[-5:]:
        lines.append(
            f"• short {esc(t.short)} {esc(num(t.quantity))} → {esc(signed_usd(t.net))} "
            f"({esc(t.reason)})"
        )
    lines += [f"note: {esc(n)}" for n in result.notes]
    return "\n".join(lines)


def warning(text: str, trading_mode: str) -> str:
    """Something about the strategy's positions the user must know (legs diverging...)."""
    return f"⚠️ <b>Strategy</b> · {mode_badge(trading_mode)}\n{esc(text)}"


def hedge_funding(venue: str, rows: Mapping[str, Decimal]) -> str:
    """/pnl's second venue: funding received (+) and paid (−) there, per symbol."""
    lines = [f"<b>Funding on {esc(venue)}</b> (the hedge venue)"]
    if not rows:
        lines.append("no funding payments yet")
    for symbol, amount in sorted(rows.items()):
        lines.append(f"{esc(symbol)}: funding {esc(signed_usd(cents(amount)))}")
    if rows:  # the total adds the shown cents
        total = sum((cents(a) for a in rows.values()), Decimal(0))
        lines.append(f"total funding there: {esc(signed_usd(total))}")
    return "\n".join(lines)
