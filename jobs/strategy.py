"""The strategy runner: a JobQueue job every ``STRATEGY_INTERVAL_SECONDS``.

A funding-rate alert firing runs a cycle at once (debounced). Each run syncs the PnL journal
and asks the strategy service for a cycle; proposals (approve mode) and execution reports (auto
mode) are sent to the chat that switched the strategy on. At start the positions the strategy
owns are reconciled with the exchange's real ones.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from telegram.constants import ParseMode
from telegram.ext import Application, ContextTypes

from bot.alerts.service import AlertService, Firing
from bot.exchange.errors import BackpackError
from bot.render import strategy as render
from bot.runtime import Runtime
from bot.services.journal import JournalService
from bot.services.strategy import CycleResult, StrategyService
from bot.storage.strategy import StrategyStore

log = logging.getLogger("jobs.strategy")

EXTRA_KEY = "strategy"
JOB_NAME = "strategy"
REACT_DEBOUNCE_SECONDS = 10.0

HELP: list[tuple[str, str, str]] = [
    (
        "strategy",
        "funding strategy: mode, config, candidates",
        "/strategy  ·  /strategy approve  ·  /strategy set kind carry",
    ),
    ("pnl", "realised, unrealised, funding, fees, net", "/pnl  ·  /pnl day  ·  /pnl week"),
    ("trades", "the strategy's last trades with reasons", "/trades"),
    ("backtest", "run the strategy on history, equity PNG", "/backtest BTC 30d"),
    ("chart", "price + funding chart, or top funding rates", "/chart BTC 24h  ·  /chart funding"),
]


def strategy_service(runtime: Runtime) -> StrategyService:
    """The runtime's strategy service, built on first use from the runtime's parts."""
    existing = runtime.extras.get(EXTRA_KEY)
    if isinstance(existing, StrategyService):
        if existing.trading is None:
            existing.trading = runtime.trading
        return existing
    assert runtime.db is not None
    assert runtime.market_api is not None and runtime.account_api is not None
    store = StrategyStore(runtime.db)
    journal = JournalService(
        store, runtime.account_api, runtime.market_api, runtime.clock, runtime.mode
    )
    service = StrategyService(
        store,
        runtime.market_api,
        runtime.account_api,
        journal,
        runtime.clock,
        trading_mode=runtime.mode,
        confirm_ttl_seconds=runtime.settings.confirm_ttl_seconds,
        before_order=runtime.sync_paper_market if runtime.mirrors_real_market else None,
        trading=runtime.trading,
    )
    runtime.extras[EXTRA_KEY] = service
    return service


async def deliver(app: Application[Any, Any, Any, Any, Any, Any], result: CycleResult) -> None:
    """Send a cycle's proposals (with ✅/❌) and reports to the strategy's chat."""
    if result.chat_id is None:
        return
    runtime: Runtime | None = app.bot_data.runtime
    mode = runtime.mode if runtime else "paper"
    for p in result.proposals:
        text, markup = render.proposal(p, mode)
        msg = await app.bot.send_message(
            result.chat_id, text, parse_mode=ParseMode.HTML, reply_markup=markup
        )
        trading = runtime.trading if runtime else None
        if trading is not None:
            await trading.attach_message(p.token, msg.message_id)
    for r in result.reports:
        await app.bot.send_message(
            result.chat_id, render.report(r, mode), parse_mode=ParseMode.HTML
        )


async def run_once(app: Application[Any, Any, Any, Any, Any, Any], runtime: Runtime) -> None:
    """One strategy cycle; failures are logged and the next run tries again."""
    service = strategy_service(runtime)
    try:
        await service.journal.sync()
        result = await service.run_cycle()
    except BackpackError as exc:
        log.warning("strategy cycle skipped: %s", exc)
        return
    for note in result.notes:
        log.info("strategy: %s", note)
    await deliver(app, result)


async def setup(app: Application[Any, Any, Any, Any, Any, Any], runtime: Runtime) -> None:
    """Register the help lines, reconcile with the exchange, and schedule the cycle."""
    runtime.extras.setdefault("help", []).extend(HELP)
    service = strategy_service(runtime)
    try:
        notes = await service.reconcile()
    except BackpackError as exc:
        log.warning("strategy reconciliation postponed: %s", exc)
        notes = []
    settings = await service.store.settings()
    if notes and settings.chat_id is not None:
        text = render.reconciled(notes)
        try:
            await app.bot.send_message(settings.chat_id, text, parse_mode=ParseMode.HTML)
        except Exception as exc:  # telling the user is best effort; the books are already right
            log.warning("could not report the reconciliation: %s", exc)

    async def tick(context: ContextTypes.DEFAULT_TYPE) -> None:
        try:
            await run_once(app, runtime)
        except Exception:  # the job must survive anything; the next run tries again
            log.exception("strategy cycle failed")

    interval = runtime.settings.strategy_interval_seconds
    if app.job_queue is not None:
        app.job_queue.run_repeating(tick, interval=interval, first=interval, name=JOB_NAME)
        jq = app.job_queue
        last = [0.0]

        async def on_alert(firing: Firing) -> None:
            """A funding alert fired: run a cycle now rather than at the next interval."""
            if firing.alert.kind not in ("funding", "funding_apr"):
                return
            now = time.monotonic()
            if now - last[0] < REACT_DEBOUNCE_SECONDS:
                return
            last[0] = now
            jq.run_once(tick, 0, name=f"{JOB_NAME}-on-alert")

        alerts = runtime.extras.get("alerts")
        if isinstance(alerts, AlertService):
            alerts.listeners.append(on_alert)


async def teardown(app: Application[Any, Any, Any, Any, Any, Any], runtime: Runtime) -> None:
    if app.job_queue is not None:
        for job in app.job_queue.get_jobs_by_name(JOB_NAME):
            job.schedule_removal()
