"""Alerts and watchers on the JobQueue, driven in real time by the price stream.

Wiring (at start-up): the alert service is loaded from the database and hooked to the market
client's price and funding callbacks and to its reconnect hook (every armed alert is checked
against current prices after a reconnect). The account client's private order stream feeds fill
notifications. JobQueue jobs run the watchers:

* ``watch-funding`` (every 60 s): funding notices ahead of each funding time, flip warnings;
* ``watch-liquidation`` (every 30 s): mark within the warning distance of liquidation;
* ``watch-stale`` (every 2 s): a silent stream switches alerts to REST polling, and back;
* ``notify-quiet`` (every 60 s): releases what quiet hours held;
* ``funding-digest`` (daily, 08:00 UTC), for users who turned it on;
* ``instance-heartbeat`` (every 20 s): keeps the single-instance lock fresh.

Every job is wrapped so an exception is logged and the job keeps its schedule.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from datetime import time as dtime
from decimal import Decimal
from typing import Any

from telegram.ext import Application, ContextTypes

from bot.alerts.notify import Note, Notifier
from bot.alerts.service import AlertService, Firing
from bot.clock import now_ms
from bot.render import alerts as render
from bot.runtime import Runtime
from bot.services.market import apr, funding_payment
from bot.storage.alerts import AlertStore

log = logging.getLogger("jobs.alerts")

HELP: list[tuple[str, str, str]] = [
    ("alert", "price, move and funding alerts", "/alert BTC > 70000  ·  /alert ETH change 5% 1h"),
    ("alerts", "your alerts (🗑 to remove)", "/alerts  ·  /alerts clear  ·  /alert off 3"),
    ("notify", "funding, liquidation, fill notices; quiet hours", "/notify quiet 23-07"),
]
LIQ_REPEAT_MS = 30 * 60 * 1000
JobFn = Callable[[ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]


def safe(name: str, fn: Callable[[], Awaitable[Any]]) -> JobFn:
    """A JobQueue callback that logs any exception and keeps the job scheduled."""

    @functools.wraps(fn)
    async def job(context: ContextTypes.DEFAULT_TYPE) -> None:
        try:
            await fn()
        except Exception:
            log.exception("job %s failed; it runs again on schedule", name)

    return job


class Watchers:
    """The watchers' state and logic, one instance per running bot."""

    def __init__(self, runtime: Runtime, service: AlertService, notifier: Notifier) -> None:
        self.runtime = runtime
        self.service = service
        self.notifier = notifier
        self.store: AlertStore = service.store
        self.users = list(runtime.settings.telegram_allowed_users)
        self.polling = False

    async def _targets(self, flag: str) -> list[tuple[int, int]]:
        out = []
        for user in self.users:
            st = await self.store.settings(user)
            if getattr(st, flag):
                out.append((user, st.chat_id))
        return out

    def _say(self, user: int, chat: int, text: str, *, critical: bool = False) -> None:
        self.notifier.send(Note(chat, user, text, critical=critical))

    async def on_fire(self, f: Firing) -> None:
        text, markup = render.fired(f)
        self.notifier.send(Note(f.alert.chat_id, f.alert.user_id, text, markup))

    async def on_order(self, event: dict[str, Any]) -> None:
        text = render.fill(event)
        if text is None:
            return
        for user, chat in await self._targets("fills"):
            self._say(user, chat, text)

    async def funding(self) -> None:
        rt = self.runtime
        assert rt.account_api is not None and rt.market_api is not None
        targets = await self._targets("funding")
        if not targets:
            return
        minutes = rt.settings.funding_notice_minutes
        now = now_ms(rt.clock)
        positions = await rt.account_api.get_positions()
        marks = {r["symbol"]: r for r in await rt.market_api.get_mark_prices()}
        for p in positions:
            qty = Decimal(p["quantity"])
            sym = p["symbol"]
            row = marks.get(sym)
            if qty == 0 or row is None:
                continue
            rate, mark = row["fundingRate"], row["markPrice"]
            next_ms = int(row.get("nextFundingTimestamp") or 0)
            pays = (rate > 0 and qty > 0) or (rate < 0 and qty < 0)
            for user, chat in targets:
                key = f"open:{user}:{sym}:{p.get('positionId', '')}"
                first = await self.store.mark(key)
                if first is None:
                    await self.store.set_mark(key, now, "pays" if pays else "earns")
                elif (
                    first.value == "earns"
                    and pays
                    and await self.store.claim_mark(
                        f"flip:{user}:{sym}:{p.get('positionId', '')}:{next_ms}", now
                    )
                ):
                    self._say(user, chat, render.funding_flip(sym, qty, rate))
                if next_ms and 0 <= next_ms - now <= minutes * 60_000:
                    key = f"fund:{user}:{sym}:{next_ms}"
                    if await self.store.claim_mark(key, now):
                        left = max(1, round((next_ms - now) / 60_000))
                        payment = funding_payment(rate, qty, mark)
                        self._say(user, chat, render.funding_notice(sym, qty, rate, payment, left))

    async def liquidation(self) -> None:
        rt = self.runtime
        assert rt.account is not None
        targets = await self._targets("positions")
        if not targets:
            return
        limit = rt.settings.liquidation_warning_distance
        now = now_ms(rt.clock)
        for p in await rt.account.positions():
            if p.liquidation is None or p.liquidation <= 0 or p.mark <= 0:
                continue
            distance = abs(p.mark - p.liquidation) / p.mark
            if distance > limit:
                continue
            for user, chat in targets:
                key = f"liq:{user}:{p.symbol}"
                last = await self.store.mark(key)
                if last is not None and now - last.at_ms < LIQ_REPEAT_MS:
                    continue
                await self.store.set_mark(key, now)
                text = render.liquidation(p.symbol, p.quantity, p.mark, p.liquidation, distance)
                self._say(user, chat, text, critical=True)

    async def stale(self) -> None:
        rt = self.runtime
        api = rt.market_api
        assert api is not None
        limit = rt.settings.stale_stream_seconds
        newest = max(api.last_update.values(), default=0.0)
        silent = time.monotonic() - newest > limit
        if silent:
            if not self.polling:
                self.polling = True
                log.warning("price stream silent for > %.0f s: alerts switch to REST", limit)
                await self._announce(render.stale(True, limit))
            await self.poll()
        elif self.polling:
            self.polling = False
            log.info("price stream recovered: alerts are real-time again")
            await self._announce(render.stale(False, limit))
            await self.service.check_all()

    async def poll(self) -> None:
        """One REST round: current prices and funding → the alert service."""
        api = self.runtime.market_api
        assert api is not None
        symbols = {a.symbol for a in self.service.alerts.values()}
        if not symbols:
            return
        for t in await api.get_tickers():
            if t["symbol"] in symbols:
                await self.service.on_price(t["symbol"], Decimal(t["lastPrice"]))
        for row in await api.get_mark_prices():
            if row["symbol"] in symbols:
                await self.service.on_funding(row["symbol"], row["fundingRate"])

    async def _announce(self, text: str) -> None:
        for user in self.users:
            st = await self.store.settings(user)
            self._say(user, st.chat_id, text)

    async def digest(self) -> None:
        rt = self.runtime
        assert rt.market_api is not None
        targets = await self._targets("digest")
        if not targets:
            return
        rows = await rt.market_api.get_mark_prices()
        top = sorted(rows, key=lambda r: abs(r["fundingRate"]), reverse=True)[:10]
        lines = [(r["symbol"], r["fundingRate"], apr(r["fundingRate"], Decimal(1))) for r in top]
        for user, chat in targets:
            self._say(user, chat, render.digest(lines))


async def setup(app: Application[Any, Any, Any, Any, Any, Any], runtime: Runtime) -> None:
    runtime.extras.setdefault("help", []).extend(HELP)
    assert runtime.db is not None and runtime.market_api is not None
    assert runtime.account_api is not None
    store = AlertStore(runtime.db)
    service = AlertService(
        store, runtime.market_api, runtime.clock, hysteresis=runtime.settings.alert_hysteresis
    )
    notifier = Notifier(app.bot, runtime.clock, store.settings)
    watchers = Watchers(runtime, service, notifier)
    service.on_fire = watchers.on_fire
    loaded = await service.load()
    log.info("%d alerts loaded", loaded)
    notifier.start()
    runtime.extras.update(alerts=service, notifier=notifier, watchers=watchers)

    async def on_price(symbol: str, price: Decimal) -> None:
        await service.on_price(symbol, price)

    async def on_funding(symbol: str, rate: Decimal) -> None:
        await service.on_funding(symbol, rate)

    async def on_reconnect() -> None:
        await service.check_all()

    runtime.market_api.register_price_callback(on_price)
    runtime.market_api.register_funding_callback(on_funding)
    runtime.market_api.on_reconnect.append(on_reconnect)
    if runtime.account_api.has_keys:
        try:
            await runtime.account_api.subscribe_orders(watchers.on_order)
        except Exception as exc:  # the stream supervisor keeps retrying on its own
            log.warning("order stream not up yet: %s", exc)
    await service.check_all()

    jq = app.job_queue
    if jq is None:
        log.warning("no JobQueue: watchers are off (install python-telegram-bot[job-queue])")
        return
    db = runtime.db
    jq.run_repeating(safe("watch-funding", watchers.funding), 60, first=5, name="watch-funding")
    jq.run_repeating(
        safe("watch-liquidation", watchers.liquidation), 30, first=3, name="watch-liquidation"
    )
    jq.run_repeating(safe("watch-stale", watchers.stale), 2, first=2, name="watch-stale")
    jq.run_repeating(safe("notify-quiet", notifier.release_held), 60, first=60, name="quiet")
    jq.run_daily(safe("funding-digest", watchers.digest), dtime(8, 0), name="funding-digest")
    jq.run_repeating(safe("heartbeat", db.heartbeat), 20, first=20, name="instance-heartbeat")


async def teardown(app: Application[Any, Any, Any, Any, Any, Any], runtime: Runtime) -> None:
    notifier = runtime.extras.get("notifier")
    if isinstance(notifier, Notifier):
        await notifier.stop()
