"""What the users are told after a restart settled interrupted requests (once each)."""

from __future__ import annotations

from bot.render.common import esc, mode_badge
from bot.render.strategy import approval, report
from bot.render.trading import _leg_result, final
from bot.services.orders.confirm import Outcome
from bot.services.orders.sender import LegStatus, OrderOutcome
from bot.services.strategy.control import ApprovalResult
from bot.storage.trading import JournalRecord
from bot.strategy.executor import ExecutionReport

HEAD = "🔄 <b>After a restart</b>"


def confirmation(outcome: Outcome) -> tuple[str | None, str]:
    """(the preview message's final text, the short message) for a settled confirmation."""
    badge = mode_badge(outcome.preview.mode) if outcome.preview else ""
    lines = [_leg_result(r) for r in outcome.results if r.status is not LegStatus.SKIPPED]
    if not lines:
        lines = ["❌ nothing was sent; nothing was traded"]
    return final(outcome), f"{HEAD} · {badge}: your confirmed order\n" + "\n".join(lines)


def strategy_approval(res: ApprovalResult, trading_mode: str) -> str:
    return f"{HEAD}: " + approval(res, trading_mode)


def strategy_action(r: ExecutionReport, trading_mode: str) -> str:
    return f"{HEAD}: an automatic trade was interrupted\n" + report(r, trading_mode)


def cancel(row: JournalRecord, outcome: OrderOutcome) -> str:
    what = (
        f"your cancel of order <code>{esc(row.target)}</code>"
        if row.target
        else "your cancel of all orders"
    )
    if outcome.status is LegStatus.CANCELLED:
        return f"{HEAD}: {what} went through."
    return f"{HEAD}: {what} may not have gone through ({esc(outcome.reason)}); check /orders."


def strategy_notes(notes: tuple[str, ...]) -> str:
    lines = [f"{HEAD}: strategy positions reconciled with the exchange:"]
    lines += [f"• {esc(n)}" for n in notes]
    return "\n".join(lines)
