"""Alerts and watchers on the JobQueue and the streams; the rules are in the services.

Wiring: the alert service hears the market client's price and funding callbacks and its
reconnect hook (every armed alert is re-checked after a reconnect); the account client's
private order stream feeds :class:`bot.services.notices.fills.FillFeed` (fill notices, stale
keyboards). Scheduled:

* ``watch-funding`` (60 s): funding notices ahead of each funding time, flip warnings;
* ``watch-liquidation`` (30 s): mark within the warning distance of liquidation;
* ``watch-stale`` (2 s): a silent stream switches alerts to REST polling, and back;
* ``outbox-quiet`` (60 s): releases what quiet hours held;
* ``funding-digest`` (daily, 08:00 UTC), for users who turned it on;
* ``forget-buttons`` (daily, 04:00 UTC): drops the button records of messages over 14 days old.

Whatever a watcher returns is rendered here and handed to the outbox.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import time as dtime
from decimal import Decimal
from typing import Any

from telegram.ext import JobQueue

from bot.alerts.service import Firing
from bot.clock import now_ms
from bot.container import Services
from bot.desks.factory import DeskFactory, Shared
from bot.desks.model import OPERATOR
from bot.render import account as render_account
from bot.render import alerts as render
from bot.render import keyboards as render_keyboards
from bot.render import money
from bot.services.notices.outbox import Note
from bot.services.notices.watchers import (
    Digest,
    FillNotice,
    FundingFlip,
    FundingNotice,
    LiquidationWarning,
    Notice,
    StreamNotice,
)
from bot.storage.events import EventStore, Keyboard
from jobs.common import on_desk, safe
from jobs.updates import schedule as schedule_pruning

log = logging.getLogger("jobs.watchers")

#: How long the buttons of a /positions or /orders message are kept track of.
BUTTONS_KEPT_MS = 14 * 86_400_000
#: How often spread alerts read both venues' funding.
SPREAD_POLL_SECONDS = 60


def present(notice: Notice, tick: money.Ticks = money.no_tick) -> Note | None:
    """A watcher's notice as an outbox message (prices to the market's ``tick``)."""
    match notice:
        case FundingNotice(user, chat, sym, qty, rate, payment, minutes):
            return Note(chat, user, render.funding_notice(sym, qty, rate, payment, minutes))
        case FundingFlip(user, chat, sym, qty, rate):
            return Note(chat, user, render.funding_flip(sym, qty, rate))
        case LiquidationWarning(user, chat, sym, qty, mark, liq, distance):
            text = render.liquidation(sym, qty, mark, liq, distance)
            return Note(chat, user, text, critical=True)
        case StreamNotice(user, chat, silent, seconds):
            return Note(chat, user, render.stale(silent, seconds))
        case Digest(user, chat, rows):
            return Note(chat, user, render.digest(list(rows)))
        case FillNotice(user, chat, event, cancelled):
            fill = render.fill(event, cancelled, tick(str(event.get("s", ""))))
            return Note(chat, user, fill) if fill is not None else None
    return None


def deliver(services: Services, notices: list[Notice]) -> None:
    for notice in notices:
        note = present(notice, services.market.tick)
        if note is not None:
            services.outbox.send(on_desk(services, note))


async def start_market_streams(shared: Shared) -> None:
    """Load the alerts (every user's, one index) and hook them to the public streams."""
    alerts, outbox = shared.alerts, shared.outbox
    log.info("%d alerts loaded", await alerts.load())

    async def on_fire(f: Firing) -> None:
        text, markup = render.fired(f)
        outbox.send(Note(f.alert.chat_id, f.alert.user_id, text, markup))

    async def on_price(symbol: str, price: Decimal) -> None:
        await alerts.on_price(symbol, price)

    async def on_funding(symbol: str, rate: Decimal) -> None:
        await alerts.on_funding(symbol, rate)

    async def on_reconnect() -> None:
        await alerts.check_all()

    alerts.on_fire = on_fire
    api = shared.market_api
    api.register_price_callback(on_price)
    api.register_funding_callback(on_funding)
    api.on_reconnect.append(on_reconnect)
    await alerts.check_all()


async def start_desk_streams(services: Services) -> None:
    """Hook a desk's private order stream to its fill notices and stale keyboards."""

    async def on_order(event: dict[str, Any]) -> None:
        await services.fills.on_event(event)

    async def on_keyboards(ended: list[Keyboard]) -> None:
        for k in ended:
            markup = render_keyboards.markup(k.rows)
            if k.text is not None and k.closed:  # /positions: its text no longer shows it open
                text = render_account.closed_positions(k.text, k.closed, services.market.tick)
                services.outbox.send(Note(k.chat_id, None, text, markup, edit=k.message_id))
                continue
            services.outbox.send(
                Note(k.chat_id, None, "", markup, edit=k.message_id, only_markup=True)
            )

    services.fills.emit = lambda notices: deliver(services, notices)
    services.fills.on_keyboards = on_keyboards
    if services.account_api.has_keys:
        try:
            await services.account_api.subscribe_orders(on_order)
        except Exception as exc:  # the stream supervisor keeps retrying on its own
            log.warning("order stream of desk %s not up yet: %s", services.desk.id, exc)


def schedule(jq: JobQueue[Any], factory: DeskFactory) -> None:
    """The account watchers run on every built desk; the public ones (a silent price stream,
    the daily digest, spread alerts) once, for every member of any desk."""
    shared = factory.shared

    def per_desk(name: str, fn: Callable[[Services], Awaitable[list[Notice]]]) -> Any:
        async def run() -> None:
            for services in factory.loaded():
                if factory.peek(services.desk.id) is not services:
                    continue  # closed (idle, or its keys changed) since the round began
                try:
                    deliver(services, await fn(services))
                except Exception:  # one desk's failure never stops another's watch
                    log.exception("job %s failed on desk %s", name, services.desk.id)

        return safe(name, run)

    operator = factory.peek(OPERATOR)
    if operator is None:
        raise RuntimeError("the operator's desk is built before the jobs are scheduled")
    public = factory.public_watchers(operator)

    def once(name: str, fn: Callable[[], Awaitable[list[Notice]]]) -> Any:
        async def run() -> None:
            await tell_public(shared, await fn())

        return safe(name, run)

    # One read of each desk's positions serves both: funding notices and liquidation warnings.
    jq.run_repeating(
        per_desk("watch-account", lambda d: d.watchers.account_round()),
        30,
        first=3,
        name="watch-account",
    )
    jq.run_repeating(once("watch-stale", public.stale), 2, first=2, name="watch-stale")
    jq.run_repeating(
        safe("outbox-quiet", shared.outbox.release_held), 60, first=60, name="outbox-quiet"
    )
    jq.run_daily(once("funding-digest", public.digest), dtime(8, 0), name="funding-digest")

    async def forget() -> None:
        await forget_buttons(shared)

    jq.run_daily(safe("forget-buttons", forget), dtime(4, 0), name="forget-buttons")
    schedule_pruning(jq, shared)  # update ids older than a week
    if shared.hedges.first is not None:

        async def spreads() -> None:
            await check_spreads(await factory.get(OPERATOR))

        jq.run_repeating(
            safe("watch-spread", spreads), SPREAD_POLL_SECONDS, first=5, name="watch-spread"
        )


async def tell_public(shared: Shared, notices: list[Notice]) -> None:
    """Hand the public watchers' notices (a silent stream, the digest) to the outbox."""
    for notice in notices:
        note = present(notice)
        if note is not None:
            shared.outbox.send(note)


async def forget_buttons(shared: Shared) -> None:
    """Drop every desk's button records of messages older than :data:`BUTTONS_KEPT_MS`."""
    before = now_ms(shared.clock) - BUTTONS_KEPT_MS
    for desk in shared.desks.all():
        await EventStore(shared.db, desk=desk.id).forget_before(before)


async def check_spreads(services: Services) -> None:
    """Spread alerts: the hedge venue has no stream here, so both venues' rates are polled."""
    arb, alerts = services.arb, services.alerts
    symbols = alerts.spread_symbols()
    if arb is not None and symbols:
        for symbol, spread in (await arb.spreads(symbols)).items():
            await alerts.on_spread(symbol, spread)
