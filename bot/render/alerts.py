"""Alert and watcher messages (HTML, every dynamic value escaped)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.alerts.parse import EXAMPLES, AlertSpec
from bot.alerts.service import Firing
from bot.render import money
from bot.render.common import esc, pct, safe, signed_usd
from bot.services.access import Role, trade_notices
from bot.services.chat.numbers import human_duration
from bot.storage.alerts import Alert, NotifySettings

DELETE_PREFIX = "al:del:"
MUTE_PREFIX = "al:mute:"
FUNDING_PREFIX = "al:fund:"
PRICE_PREFIX = "al:px:"
ARM_PREFIX = "al:arm:"
DROP = "al:no"
#: Alert kinds in an "Arm anyway" button's data (it must fit Telegram's 64 bytes).
ARM_KINDS = {"price": "p", "funding": "f", "funding_apr": "a"}


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%H:%M:%S UTC")


def _until(ms: int, now_ms: int) -> str:
    """``14:05 UTC`` today, or with the date when the mute ends on another day."""
    at, now = datetime.fromtimestamp(ms / 1000, UTC), datetime.fromtimestamp(now_ms / 1000, UTC)
    return at.strftime("%H:%M UTC" if at.date() == now.date() else "%d %b %H:%M UTC")


def condition(a: Alert) -> str:
    """An alert's condition with its operator as stored (``>``/``<``), the threshold unrounded."""
    if a.kind == "price":
        return f"{esc(a.symbol)} {esc(a.op)} {money.number(a.threshold)}"
    if a.kind == "change":
        window = human_duration(a.window_seconds or 3600)
        return f"{esc(a.symbol)} moves ±{money.number(a.threshold * 100)}% within {window}"
    if a.kind == "funding":
        return f"{esc(a.symbol)} funding {esc(a.op)} {money.setting_rate(a.threshold, 'interval')}"
    if a.kind == "spread_apr":
        return f"{esc(a.symbol)} funding spread across venues {esc(a.op)} {pct(a.threshold)} APR"
    return f"{esc(a.symbol)} funding APR {esc(a.op)} {pct(a.threshold)}"


def created(a: Alert, spec: AlertSpec | None = None) -> str:
    """The confirmation, echoing what was understood as it was typed (``BTC > 70000``)."""
    what = f"{esc(a.symbol)} {esc(spec.echo)}" if spec is not None and spec.echo else condition(a)
    return f"🔔 Alert <b>#{a.id}</b> set: {what}\nSee all with /alerts."


def already_true(
    symbol: str, spec: AlertSpec, current: Decimal
) -> tuple[str, InlineKeyboardMarkup]:
    """An alert whose condition already holds: say so, offer to arm it anyway or drop it."""
    word = "above" if spec.op == ">" else "below"
    if spec.kind == "price":
        what = f"<b>{esc(symbol)}</b> is already {word} {money.typed(spec.threshold)}"
        now = money.price(current)
    elif spec.kind == "funding":
        what = (
            f"<b>{esc(symbol)}</b> funding is already {word} "
            f"{money.setting_rate(spec.threshold, 'interval')}"
        )
        now = money.rate(current)
    else:
        what = f"<b>{esc(symbol)}</b> funding APR is already {word} {pct(spec.threshold)}"
        now = pct(current)
    text = f"⚠️ {what} (now <b>{now}</b>): armed now, the alert would fire at once. Arm it anyway?"
    data = f"{ARM_PREFIX}{symbol}:{ARM_KINDS[spec.kind]}:{spec.op}:{spec.threshold:f}"
    return text, InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("🔔 Arm anyway", callback_data=data[:64]),
                InlineKeyboardButton("✖️ Cancel", callback_data=DROP),
            ]
        ]
    )


def not_armed() -> str:
    return "✖️ Not armed — no alert was set."


def usage(problem: str) -> str:
    """A refused /alert: the problem and one line of usage (the other forms in a few words)."""
    return (
        f"⚠️ {safe(problem.rstrip('.'))}.\nFor example: <code>{esc(EXAMPLES[0])}</code> "
        "(or: change 5% 1h · funding &gt; 0.05% · funding apr &gt; 30%)"
    )


def listing(alerts: list[Alert], now_ms: int = 0) -> tuple[str, InlineKeyboardMarkup | None]:
    """The user's alerts with their state; a muted one shows when its mute ends."""
    if not alerts:
        examples = "\n".join(f"<code>{esc(e)}</code>" for e in EXAMPLES)
        return f"No alerts yet. For example:\n{examples}", None
    lines = ["🔔 <b>Your alerts</b>"]
    for a in alerts:
        state = "armed" if a.armed else "fired — re-arms after the price comes back"
        if a.kind == "change":
            state = "armed"
        if a.muted_until_ms is not None and a.muted_until_ms > now_ms:
            state = f"🔕 muted until {_until(a.muted_until_ms, now_ms)} ({state})"
        lines.append(f"#{a.id} · {condition(a)} · {state}")
    lines.append(
        "\nRemove one with 🗑 or <code>/alert off ID</code>; all: <code>/alerts clear</code>"
    )
    rows = [
        [InlineKeyboardButton(f"🗑 #{a.id} {a.symbol}", callback_data=f"{DELETE_PREFIX}{a.id}")]
        for a in alerts[:40]
    ]
    return "\n".join(lines), InlineKeyboardMarkup(rows)


def fired(f: Firing) -> tuple[str, InlineKeyboardMarkup]:
    a = f.alert
    if a.kind == "price":
        verb = "rose above" if a.op == ">" else "fell below"
        head = (
            f"🚨 <b>{esc(a.symbol)}</b> {verb} {money.number(a.threshold)}: "
            f"now <b>{money.price(f.value)}</b>"
        )
    elif a.kind == "change":
        move = Decimal(f.detail) if f.detail else Decimal(0)
        head = (
            f"🚨 <b>{esc(a.symbol)}</b> moved {'+' if move >= 0 else '−'}{pct(abs(move))} "
            f"(alert: ±{pct(a.threshold)}): now <b>{money.price(f.value)}</b>"
        )
    elif a.kind == "funding":
        head = (
            f"🚨 <b>{esc(a.symbol)}</b> funding {esc(a.op)} {money.setting_rate(a.threshold)}: "
            f"now <b>{money.rate(f.value)}</b> per interval"
        )
    elif a.kind == "spread_apr":
        head = (
            f"🚨 <b>{esc(a.symbol)}</b> funding spread across venues {esc(a.op)} "
            f"{pct(a.threshold)} APR: now <b>{pct(f.value)}</b> (see /arb)"
        )
    else:
        head = (
            f"🚨 <b>{esc(a.symbol)}</b> funding APR {esc(a.op)} {pct(a.threshold)}: "
            f"now <b>{pct(f.value)}</b>"
        )
    text = f"{head}\nalert #{a.id} · {_when(f.at_ms)}"
    buttons = [
        InlineKeyboardButton("📈 Price", callback_data=f"{PRICE_PREFIX}{a.symbol}"),
        InlineKeyboardButton("💸 Funding", callback_data=f"{FUNDING_PREFIX}{a.symbol}"),
        InlineKeyboardButton("🔕 Mute 1h", callback_data=f"{MUTE_PREFIX}{a.id}"),
        InlineKeyboardButton("🗑", callback_data=f"{DELETE_PREFIX}{a.id}"),
    ]
    if not a.symbol.endswith("_PERP"):
        buttons.pop(1)
    return text, InlineKeyboardMarkup([buttons])


def notify_settings(st: NotifySettings, role: Role | None = None) -> str:
    def onoff(v: bool) -> str:
        return "on" if v else "off"

    def trading(choice: bool | None) -> str:
        on = onoff(trade_notices(role, choice))
        who = {"owner": "an owner", "trader": "a trader", "viewer": "a viewer"}.get(role or "")
        return on if choice is not None else f"{on} (the default for {who or 'you'})"

    quiet = (
        f"{st.quiet_start:02d}-{st.quiet_end:02d} UTC"
        if st.quiet_start is not None and st.quiet_end is not None
        else "off"
    )
    return (
        "🔔 <b>Notifications</b>\n"
        f"funding notices: {onoff(st.funding)}\n"
        f"position warnings: {onoff(st.positions)}\n"
        f"fills and cancels: {trading(st.fills)}\n"
        f"strategy trades: {trading(st.strategy)}\n"
        f"daily funding digest: {onoff(st.digest)}\n"
        f"quiet hours: {quiet} (liquidation warnings always go)\n\n"
        "Change: <code>/notify fills off</code> · <code>/notify strategy off</code> · "
        "<code>/notify digest on</code> · "
        "<code>/notify quiet 23-07</code> · <code>/notify quiet off</code>"
    )


def funding_notice(symbol: str, qty: Decimal, rate: Decimal, payment: Decimal, minutes: int) -> str:
    side = "long" if qty > 0 else "short"
    verb = "receive" if payment >= 0 else "pay"
    return (
        f"⏰ Funding for <b>{esc(symbol)}</b> in {minutes} min: rate "
        f"{money.rate(rate, 'interval')}; "
        f"your {side} {money.size(abs(qty))} will {verb} ≈ <b>{signed_usd(payment)}</b>"
    )


def funding_flip(symbol: str, qty: Decimal, rate: Decimal) -> str:
    side = "long" if qty > 0 else "short"
    return (
        f"↩️ Funding on <b>{esc(symbol)}</b> flipped against your {side}: now "
        f"{money.rate(rate, 'interval')} — the position now pays funding."
    )


def liquidation(symbol: str, qty: Decimal, mark: Decimal, liq: Decimal, dist: Decimal) -> str:
    side = "long" if qty > 0 else "short"
    return (
        f"🆘 <b>{esc(symbol)}</b> {side} {money.size(abs(qty))} is {pct(dist)} from liquidation: "
        f"mark {money.price(mark)}, liquidation {money.price(liq)}. "
        f"Add margin or /close {esc(symbol)}."
    )


def _wire_decimal(value: object) -> Decimal | None:
    try:
        return Decimal(str(value)) if value not in (None, "") else None
    except ArithmeticError:
        return None


def _cancelled_line(event: dict[str, object], symbol: str = "", tick: Decimal | None = None) -> str:
    side = "BUY" if event.get("S") == "Bid" else "SELL"
    qty = _wire_decimal(event.get("q"))
    trigger = _wire_decimal(event.get("P"))
    size = f" {money.size(qty)}" if qty else ""
    at = f" (trigger {money.price(trigger, tick)})" if trigger is not None else ""
    where = f" {symbol}" if symbol else ""
    return f"{side}{size}{where}{at} · <code>{esc(event.get('i', ''))}</code>"


def _sibling_line(fired: dict[str, object], other: dict[str, object], tick: Decimal | None) -> str:
    """An order cancelled when a stop fired, named for what it was: the closing order on the
    same side with a trigger is the position's other stop (for a long's SELLs the lower
    trigger is the stop-loss, the higher the take-profit; for a short's BUYs the reverse)."""
    mine, theirs = _wire_decimal(fired.get("P")), _wire_decimal(other.get("P"))
    if mine is None or theirs is None or other.get("S") != fired.get("S") or mine == theirs:
        return _cancelled_line(other, tick=tick)
    selling = fired.get("S") != "Bid"
    name = "take-profit" if (theirs > mine) == selling else "stop-loss"
    return (
        f"the {name} at {money.price(theirs, tick)} · order <code>{esc(other.get('i', ''))}</code>"
    )


def fill(
    event: dict[str, object],
    cancelled: tuple[dict[str, object], ...] = (),
    tick: Decimal | None = None,
) -> str | None:
    """A fill, cancel or expiry the user did not just see; ``cancelled`` are the orders the
    exchange cancelled in the same instant (a stop's fire takes the take-profit with it);
    prices to the market's ``tick`` when known."""
    kind = str(event.get("e", ""))
    symbol = esc(event.get("s", ""))
    side = "BUY" if event.get("S") == "Bid" else "SELL"
    oid = esc(event.get("i", ""))
    if kind == "orderFill":
        qty = _wire_decimal(event.get("l") or event.get("z"))
        px = _wire_decimal(event.get("L") or event.get("p"))
        fee = _wire_decimal(event.get("n"))
        fee_asset = str(event.get("N") or "USDC")
        fee_text = f", fee {esc(money.amount(fee, fee_asset))}" if fee else ""
        if event.get("P") is not None:  # a conditional order (a stop) that fired
            trigger = money.price(_wire_decimal(event.get("P")), tick)
            text = (
                f"⚡ Stop triggered at {trigger} — filled: {side} {money.size(qty)} {symbol} "
                f"at {money.price(px, tick)}{fee_text} ({esc(event.get('X', ''))}) · "
                f"order <code>{oid}</code>"
            )
        else:
            text = (
                f"💱 Fill: {side} {money.size(qty)} {symbol} at {money.price(px, tick)}{fee_text} "
                f"({esc(event.get('X', ''))}) · order <code>{oid}</code>"
            )
        if cancelled:
            text += "\n✖️ Cancelled with it: " + "; ".join(
                _sibling_line(event, c, tick) for c in cancelled
            )
        return text
    if kind in ("orderCancelled", "orderExpired"):
        what = "cancelled" if kind == "orderCancelled" else "expired"
        return f"✖️ Order {what}: {_cancelled_line(event, symbol, tick)}"
    return None


def stale(on: bool, seconds: float) -> str:
    if on:
        return (
            f"📡 The price stream has been silent for over {seconds:.0f} s; alerts now use "
            "REST polling until it recovers."
        )
    return "📡 The price stream is back; alerts are real-time again."


def digest(rows: list[tuple[str, Decimal, Decimal]]) -> str:
    lines = ["📰 <b>Daily funding digest</b> — top perps by |rate|"]
    for symbol, rate, yearly in rows:
        lines.append(f"{esc(symbol)}: {money.rate(rate, 'interval')} · APR {pct(yearly)}")
    return "\n".join(lines)
