"""/alert, /alerts, /notify and the buttons under alert messages."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.alerts.parse import AlertSyntaxError, parse_alert
from bot.alerts.service import AlertService
from bot.render import alerts as render
from bot.render import arb as render_arb
from bot.render import market as render_market
from bot.services.access import Action
from bot.storage.alerts import NotifySettings
from handlers.common import Context, args_of, guarded, reply, rt
from handlers.guard import actor, permitted, role_of

HELP: list[tuple[str, str, str]] = [
    ("alert", "price, move and funding alerts", "/alert BTC > 70000  ·  /alert ETH change 5% 1h"),
    ("alerts", "your alerts (🗑 to remove)", "/alerts  ·  /alerts clear  ·  /alert off 3"),
    (
        "notify",
        "funding, liquidation, fill and strategy notices; quiet hours",
        "/notify quiet 23-07",
    ),
]
MUTE_SECONDS = 3600
_TOGGLES = {"funding", "positions", "fills", "digest", "strategy"}
#: What a tap on a button whose data we do not recognise (tampered, or from an old version) gets.
STALE_BUTTON = "This button is no longer valid"
_ID = re.compile(r"^[0-9]{1,9}$")
_SYMBOL = re.compile(r"^[A-Z0-9][A-Z0-9_]{0,39}$")


def service(context: Context) -> AlertService:
    return rt(context).alerts


@guarded
async def alert(update: Update, context: Context) -> None:
    who = actor(update, context)
    if who is None or not await permitted(update, context, Action.ALERTS):
        return
    args = args_of(context)
    svc = service(context)
    if args and args[0].lower() in ("off", "del", "delete", "remove"):
        if len(args) != 2 or not _ID.match(args[1].lstrip("#")):
            await reply(update, "Which alert? e.g. <code>/alert off 3</code> (ids are in /alerts)")
            return
        alert_id = int(args[1].lstrip("#"))
        if await svc.remove(who, alert_id):
            await reply(update, f"🗑 Alert #{alert_id} removed.")
        else:
            await reply(update, f"There is no alert #{alert_id} of yours; see /alerts.")
        return
    if args and args[0].lower() == "list":
        await alerts(update, context)
        return
    try:
        spec = parse_alert(args)
        if spec.kind == "spread_apr" and rt(context).arb is None:
            await reply(update, render_arb.no_hedge())
            return
        created = await svc.add(who, spec)
    except AlertSyntaxError as err:
        await reply(update, render.usage(err.problem))
        return
    await reply(update, render.created(created, spec))


@guarded
async def alerts(update: Update, context: Context) -> None:
    who = actor(update, context)
    if who is None or not await permitted(update, context, Action.ALERTS):
        return
    args = args_of(context)
    svc = service(context)
    if args and args[0].lower() == "clear":
        n = await svc.clear(who)
        await reply(update, f"🗑 Removed {n} alert{'s' if n != 1 else ''}.")
        return
    if args:
        await reply(update, "Use <code>/alerts</code> to list or <code>/alerts clear</code>.")
        return
    text, markup = render.listing(await svc.for_user(who))
    await reply(update, text, markup)


@guarded
async def button(update: Update, context: Context) -> None:
    query = update.callback_query
    who = actor(update, context)
    if query is None or query.data is None or who is None:
        return
    if not await permitted(update, context, Action.ALERTS):
        return
    data = query.data
    svc = service(context)
    r = rt(context)
    kind, arg = _parse_button(data)
    if kind == "del":
        alert_id = int(arg)
        ok = await svc.remove(who, alert_id)
        await query.answer(f"Alert #{alert_id} removed" if ok else "Already gone")
    elif kind == "mute":
        alert_id = int(arg)
        ok = await svc.mute(who, alert_id, MUTE_SECONDS)
        await query.answer(f"Alert #{alert_id} muted for 1 h" if ok else "Not yours or gone")
    elif kind == "px":
        await query.answer()
        await reply(update, render_market.prices(await r.market.prices([arg])))
    elif kind == "fund":
        await query.answer()
        views = await r.market.funding(arg)
        await reply(update, render_market.funding(views, r.clock, single=True))
    else:
        await query.answer(STALE_BUTTON)


def _parse_button(data: str) -> tuple[str, str]:
    """``al:del:3`` → ``("del", "3")``; anything malformed → ``("", "")``.

    Callback data comes from the client and can be forged: ids must be small decimal numbers
    and symbols plain market names before anything is looked up.
    """
    for kind, prefix, pattern in (
        ("del", render.DELETE_PREFIX, _ID),
        ("mute", render.MUTE_PREFIX, _ID),
        ("px", render.PRICE_PREFIX, _SYMBOL),
        ("fund", render.FUNDING_PREFIX, _SYMBOL),
    ):
        if data.startswith(prefix):
            arg = data.removeprefix(prefix)
            return (kind, arg) if pattern.match(arg) else ("", "")
    return "", ""


_QUIET = re.compile(r"^(\d{1,2})-(\d{1,2})$")


@guarded
async def notify(update: Update, context: Context) -> None:
    who = actor(update, context)
    if who is None or not await permitted(update, context, Action.ALERTS):
        return
    ids = who.user_id, who.chat_id
    store = service(context).store
    st = await store.settings(ids[0], ids[1])
    st = replace(st, chat_id=ids[1])
    args = [a.lower() for a in args_of(context)]
    if not args:
        await reply(update, render.notify_settings(st, role_of(update, context)))
        return
    new: NotifySettings | None = None
    if len(args) == 2 and args[0] in _TOGGLES and args[1] in ("on", "off"):
        new = replace(st, **{args[0]: args[1] == "on"})
    elif len(args) == 2 and args[0] == "quiet":
        if args[1] == "off":
            new = replace(st, quiet_start=None, quiet_end=None)
        else:
            m = _QUIET.match(args[1])
            if m and int(m.group(1)) < 24 and int(m.group(2)) < 24:
                new = replace(st, quiet_start=int(m.group(1)), quiet_end=int(m.group(2)))
            elif m:
                await reply(
                    update,
                    "⚠️ I did not get that: quiet hours are UTC hours from 0 to 23, "
                    "e.g. <code>/notify quiet 23-07</code>",
                )
                return
    if new is None:
        await reply(
            update,
            "⚠️ I did not get that. For example: <code>/notify fills off</code>, "
            "<code>/notify strategy on</code>, "
            "<code>/notify digest on</code>, <code>/notify quiet 23-07</code> (UTC hours), "
            "<code>/notify quiet off</code>",
        )
        return
    await store.save_settings(new)
    await reply(update, "✅ Saved.\n\n" + render.notify_settings(new, role_of(update, context)))


def handlers() -> list[BaseHandler[Any, Any, Any]]:
    return [
        CommandHandler("alert", alert),
        CommandHandler("alerts", alerts),
        CommandHandler("notify", notify),
        CallbackQueryHandler(button, pattern=r"^al:"),
    ]
