"""Messages and keyboards for order previews, confirmations and their results (HTML, escaped).

Callback data (agreed with the other rooms; keep exactly):

* ``tc:<token>`` — ✅ Confirm, ``tx:<token>`` — ❌ Cancel (token = 24 url-safe characters);
* ``close:<SYMBOL>`` — the per-position Close button that ``/positions`` renders
  (:data:`bot.render.account.CLOSE_PREFIX`); it opens a /close preview for the whole position.
"""

from __future__ import annotations

from decimal import Decimal

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.render import money
from bot.render.common import esc, mode_badge, pct, safe, usd
from bot.services.orders.confirm import LegResult, LegStatus, Outcome, Preview, Status
from bot.services.orders.intent import STOP_NAMES, IntentError
from bot.services.orders.quote import LegPreview, decimals

CONFIRM_PREFIX = "tc:"
#: ``Preview.origin`` of a strategy proposal (``bot.services.strategy.control.ORIGIN``).
STRATEGY_ORIGIN = "strategy:"
CANCEL_PREFIX = "tx:"

_ALERT_LIMIT = 190
#: Outcomes in which orders were sent (or their fate had to be looked up).
_SENT = frozenset(
    {
        Status.FILLED,
        Status.PLACED,
        Status.PARTIAL,
        Status.REJECTED,
        Status.NOT_PLACED,
        Status.UNKNOWN,
    }
)


def keyboard(token: str) -> InlineKeyboardMarkup:
    """The ✅ Confirm / ❌ Cancel pair for one confirmation."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("✅ Confirm", callback_data=f"{CONFIRM_PREFIX}{token}"),
                InlineKeyboardButton("❌ Cancel", callback_data=f"{CANCEL_PREFIX}{token}"),
            ]
        ]
    )


def intent_error(err: IntentError) -> str:
    """A refused request: the problem, then an example of the right form."""
    text = f"⚠️ {safe(err.problem)}"
    if err.example:
        text += f"\nFor example: <code>{esc(err.example)}</code>"
    return text


def _px(value: Decimal, leg: LegPreview) -> str:
    """A price with one decimal more than the book's mid uses (averages fall between ticks)."""
    places = min(8, max(2, decimals(leg.mid) + 1))
    return money.price(value, Decimal(1).scaleb(-places)).rstrip("0").rstrip(".")


def _on_tick(value: Decimal | None) -> str:
    """A price the quote already rounded to the market's tick, written with the tick's decimals
    (``90,000.0`` on a 0.1 tick, as /orders and the quote's own notes write it, not ``90,000``)."""
    exp = value.as_tuple().exponent if value is not None else 0
    places = -exp if isinstance(exp, int) and exp < 0 else 0
    return money.price(value, Decimal(1).scaleb(-places))


def _qty(value: Decimal, leg: LegPreview) -> str:
    return f"{money.size(value)} {esc(leg.base)}"


def _signed_position(value: Decimal, leg: LegPreview) -> str:
    if value == 0:
        return "flat"
    if not leg.perp:
        return _qty(value, leg)
    return f"{'long' if value > 0 else 'short'} {_qty(abs(value), leg)}"


def _stop_lines(leg: LegPreview) -> list[str]:
    """A stop's preview: the trigger, what it would realise, how far it is from the mark and
    from liquidation."""
    assert leg.trigger_price is not None
    name = STOP_NAMES.get(leg.stop, "stop")
    icon = "🛑" if leg.stop == "sl" else "🎯"
    trigger = leg.trigger_price
    lines = [
        f"{icon} <b>{esc(name.upper())}</b> {esc(leg.symbol)} · "
        f"{'SELL' if not leg.is_buy else 'BUY'} {_qty(leg.quantity, leg)} at market, reduce-only",
        f"trigger: mark price reaches <b>{_on_tick(trigger)}</b>",
        f"position {_signed_position(leg.position_before, leg)} · entry "
        f"{money.price(leg.entry_price)}",
    ]
    if leg.pnl_at_trigger is not None:
        what = "expected loss" if leg.pnl_at_trigger < 0 else "expected gain"
        lines.append(
            f"{what} at the trigger ≈ <b>{money.signed_usdc(leg.pnl_at_trigger)}</b> "
            f"(fee ≈ {usd(leg.fee)})"
        )
    if leg.mark_price:
        lines.append(
            f"from mark {money.price(leg.mark_price)}: "
            f"{money.signed_percent((trigger - leg.mark_price) / leg.mark_price)}"
        )
    if leg.liquidation_price:
        lines.append(
            f"from liquidation {money.price(leg.liquidation_price)}: "
            f"{money.signed_percent((trigger - leg.liquidation_price) / leg.liquidation_price)}"
        )
    else:
        lines.append("from liquidation: — (no liquidation price at this margin)")
    lines.append("ℹ️ held by the exchange: it fires even while the bot is offline")
    lines.extend(f"ℹ️ {esc(note)}" for note in leg.notes)
    return lines


def _leg_lines(leg: LegPreview) -> list[str]:
    if leg.is_stop:
        return _stop_lines(leg)
    icon = "🟢" if leg.is_buy else "🔴"
    kind = "market" if leg.order_type == "MARKET" else f"limit @ {_on_tick(leg.price)}"
    flags = [f for f, on in (("post-only", leg.post_only), ("reduce-only", leg.reduce_only)) if on]
    head = (
        f"{icon} <b>{'BUY' if leg.is_buy else 'SELL'} {_qty(leg.quantity, leg)}</b> "
        f"{esc(leg.symbol)} · {esc(kind)}"
    )
    if flags:
        head += f" · {esc(', '.join(flags))}"
    lines = [head]
    if leg.taker_qty:
        lines.append(
            f"est. avg fill ≈ <b>{_px(leg.est_price, leg)}</b> "
            f"(mid {_px(leg.mid, leg)}, slippage {pct(leg.slippage, 3)})"
        )
    else:
        lines.append(f"mid {_px(leg.mid, leg)}")
    lines.append(f"notional ≈ {usd(leg.notional)} · fee ≈ {usd(leg.fee)}")
    lines.append(
        f"position {_signed_position(leg.position_before, leg)} → "
        f"<b>{_signed_position(leg.position_after, leg)}</b>"
    )
    if leg.perp:
        verb = "frees" if leg.margin < 0 else "uses"
        lines.append(f"margin: {verb} ≈ {usd(abs(leg.margin))} · {usd(leg.available)} available")
    elif leg.is_buy:
        lines.append(f"cost ≈ {usd(leg.margin)} of {usd(leg.available)} available")
    if leg.stop_loss is not None:
        lines.append(f"🛑 stop-loss at {money.price(leg.stop_loss)} once filled")
    if leg.take_profit is not None:
        lines.append(f"🎯 take-profit at {money.price(leg.take_profit)} once filled")
    lines.extend(f"ℹ️ {esc(note)}" for note in leg.notes)
    return lines


def preview(p: Preview) -> str:
    """The preview message: everything the order will do, and how long the buttons live."""
    title = esc(p.title) if p.title else ("order preview" if len(p.legs) == 1 else "orders")
    lines = [f"{mode_badge(p.mode)} · <b>{title}</b>"]
    if p.drift is not None:
        lines.append(
            f"⚠️ The price moved {pct(p.drift)} since your last preview — here is a fresh quote."
        )
    for i, leg in enumerate(p.legs, 1):
        lines.append("")
        if len(p.legs) > 1:
            lines.append(f"<b>Leg {i}</b>")
        lines.extend(_leg_lines(leg))
    if len(p.legs) > 1:
        lines.append("")
        lines.append(f"total ≈ {usd(p.notional)} · fees ≈ {usd(p.fee)}")
    lines.append("")
    lines.append(f"Nothing is sent until you tap ✅ (valid {p.ttl_seconds} s).")
    return "\n".join(lines)


def _leg_result(r: LegResult) -> str:
    leg = r.leg
    what = f"{'BUY' if leg.is_buy else 'SELL'} {_qty(leg.quantity, leg)} {esc(leg.symbol)}"
    oid = f" · order <code>{esc(r.order_id)}</code>" if r.order_id else ""
    avg = _px(r.avg_price, leg) if r.avg_price is not None else "—"
    if r.status is LegStatus.FILLED:
        return f"✅ {what}: filled at <b>{avg}</b>{oid}"
    if r.status is LegStatus.PARTIALLY_FILLED:
        return f"🟡 {what}: filled {_qty(r.executed_quantity, leg)} at {avg}{oid}"
    if r.status is LegStatus.PLACED and leg.trigger_price is not None:
        name = STOP_NAMES.get(leg.stop, "stop")
        return f"🛡 {esc(name)} set at <b>{_on_tick(leg.trigger_price)}</b> for {what}{oid}"
    if r.status is LegStatus.PLACED:
        where = f" at {_on_tick(leg.price)}" if leg.price is not None else ""
        return f"📌 {what}: placed, resting on the book{where}{oid}"
    if r.status is LegStatus.REJECTED:
        return f"❌ {what}: rejected: {esc(r.reason)}"
    if r.status is LegStatus.NOT_PLACED:
        return (
            f"❌ {what}: not placed — the exchange did not answer and has no such order; "
            "nothing was traded"
        )
    if r.status is LegStatus.UNKNOWN:
        return (
            f"❓ {what}: status unknown — the exchange did not answer and the order could not be "
            "looked up. Check /orders and /positions before trying again"
        )
    return f"⏭ {what}: not sent ({esc(r.reason)})"


def results(outcome: Outcome) -> str | None:
    """What each leg of a sent order did, one line a leg (``None`` when nothing was sent)."""
    if outcome.status not in _SENT or not outcome.results:
        return None
    return "\n".join(_leg_result(r) for r in outcome.results)


def final(outcome: Outcome) -> str | None:
    """The preview message edited into its final state (``None``: leave the message alone)."""
    p = outcome.preview
    if p is None:
        return None
    body = preview(p).rsplit("\n\n", 1)[0]  # the preview without its "tap ✅" footer
    s = outcome.status
    if s in _SENT:
        return body + "\n\n" + "\n".join(_leg_result(r) for r in outcome.results)
    if s is Status.CANCELLED:
        return body + "\n\n✖️ <b>Cancelled</b> — nothing was sent."
    if s is Status.EXPIRED:
        if p.origin and p.origin.startswith(STRATEGY_ORIGIN):
            return body + (
                "\n\n⌛ <b>Expired</b> — nothing was sent. The strategy proposes it again on a "
                "later cycle if the edge still holds."
            )
        return body + "\n\n⌛ <b>Expired</b> — nothing was sent. Send the command again."
    if s is Status.INVALID:
        return body + f"\n\n❌ <b>Not sent</b>: {esc(outcome.reason)}"
    return None


def alert(outcome: Outcome) -> tuple[str, bool]:
    """The text of the tap's answer (toast) and whether it is a modal alert."""
    s = outcome.status
    texts: dict[Status, tuple[str, bool]] = {
        Status.FILLED: ("Filled ✅", False),
        Status.PLACED: ("Order placed 📌", False),
        Status.PARTIAL: ("Not every leg went through — see the message", True),
        Status.REJECTED: ("Rejected by the exchange — see the message", True),
        Status.NOT_PLACED: ("Not placed — nothing was traded", True),
        Status.UNKNOWN: ("Status unknown — check /orders before retrying", True),
        Status.REQUOTED: ("The price moved — check the fresh quote, then tap ✅ again", True),
        Status.INVALID: ("The order no longer passes the checks; nothing was sent", True),
        Status.CANCELLED: ("Cancelled — nothing was sent", False),
        Status.EXPIRED: ("This confirmation expired; nothing was sent", True),
        Status.USED: ("Already confirmed — nothing more happens", True),
        Status.NOT_YOURS: ("Not yours: only the person who asked can confirm this", True),
        Status.NOT_FOUND: ("This confirmation does not exist (any more)", True),
    }
    if s is Status.UNAVAILABLE:
        return (
            f"The exchange is not reachable; nothing was sent. Tap ✅ again. ({outcome.reason})"[
                :_ALERT_LIMIT
            ],
            True,
        )
    return texts[s]
