"""Permissions hold whatever is typed after a command (issue 23): the role × chat × door table.

One bot, over the embedded Bot API, with an owner who has a position, a stop-loss, a resting
order, an alert and a pending confirmation. Every command and every button kind that changes or
shows the account is tried by every role (owner, trader, viewer, a stranger) in a private chat,
in an allowed group and in a group that is not allowed, with the punctuation Telegram ends a
command at (``/cancel, all`` *is* ``/cancel``), with ``@ourbot`` and with ``@otherbot``. Each
refused door must answer with a refusal, change nothing (orders, stops, positions, pending
confirmations, alerts, strategy mode and settings) and show nothing private.

Messages of one (role, chat) go out in one batch and the bot is waited on until idle (its
updates fetched and every handler finished), so the table of about a thousand doors runs in
seconds. The second half calls the services directly with a viewer (and an owner in a group),
past the gate, to prove the services refuse by themselves.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot.alerts.parse import parse_alert
from bot.alerts.service import AlertService
from bot.services.access import Actor, Refused, Role
from bot.services.orders.intent import StopIntent, parse_order, parse_stop
from tests.bot.conftest import BotRunner, make_settings
from tests.bot.tables import idle
from tests.fakes.telegram import BOT_USERNAME, FakeTelegram, Sent

OWNER, TRADER, VIEWER, STRANGER = 1001, 1002, 1003, 6666
#: Groups, many of each kind: python-telegram-bot's rate limiter lets a bot post 20 messages a
#: minute into one group, so the table spreads its doors over groups of the same kind.
ALLOWED_GROUPS = tuple(range(-4300, -4340, -1))
OTHER_GROUPS = tuple(range(-5000, -5060, -1))
GROUP, ALLOWED = OTHER_GROUPS[0], ALLOWED_GROUPS[0]
USERS = f"{OWNER}:owner,{TRADER}:trader,{VIEWER}:viewer"
ROLE: dict[int, Role | None] = {OWNER: "owner", TRADER: "trader", VIEWER: "viewer", STRANGER: None}
PRIVATE = 0  # "the user's own private chat"
CHATS = (PRIVATE, ALLOWED, GROUP)

#: What a refused message or tap is answered with.
REFUSED = ("🔒", "private trading bot", "This bot is private", "may not", "private chat with me")
#: Text that only the account's own views contain (each one is checked below on the owner's
#: own /positions, /orders, /balance … so a renderer's rewording cannot make them stale).
PRIVATE_WORDS = ("<b>positions</b>", "<b>balances</b>", "<b>open orders</b>", "<b>account</b>")


@dataclass(frozen=True)
class World:
    """The owner's account as the test set it up."""

    order_id: str
    stop_id: str
    alert_id: int
    token: str

    @property
    def secrets(self) -> tuple[str, ...]:
        return (*PRIVATE_WORDS, self.order_id, self.stop_id, "uPnL", "net equity")


# ---------------------------------------------------------------------- the doors


def reads() -> list[tuple[str, str]]:
    return [(c, "") for c in ("balance", "positions", "orders", "account", "pnl", "trades")] + [
        ("strategy", "")
    ]


def trades(w: World) -> list[tuple[str, str]]:
    return [
        ("buy", "BTC 0.01"),
        ("sell", "BTC 0.01"),
        ("close", "BTC"),
        ("cancel", "all"),
        ("cancel", w.order_id),
        ("sl", "BTC off"),
        ("tp", "BTC off"),
        ("sl", "BTC 5%"),
    ]


STRATEGY = [("strategy", "auto"), ("strategy", "set entry_rate 0.02%")]


def may(role: Role | None, chat: int, kind: str) -> bool:
    """The permission table as the issue states it (written out, not read from the code)."""
    if role is None:
        return False
    if chat == GROUP:
        return kind == "alerts"
    if kind in ("read", "alerts"):
        return True
    if kind == "trade":
        return role != "viewer"
    return role == "owner"  # strategy mode and settings


def variants(command: str, args: str) -> Iterator[str]:
    """``/cmd args`` as typed with each ending Telegram stops a command at, and ``@ourbot``."""
    for sep in (" ", ", ", ". ", "; ", ": ", f"@{BOT_USERNAME} "):
        yield f"/{command}{sep}{args}".rstrip()
    if len(args.split()) > 1 or (args and command != "strategy"):
        # No space: the handler sees one argument fewer (``/strategy,auto`` is the status).
        yield f"/{command},{args}"


def foreign(command: str, args: str) -> str:
    return f"/{command}@otherbot {args}".rstrip()


def refused_commands(role: Role | None, chat: int, w: World) -> list[tuple[str, str]]:
    doors: list[tuple[str, str]] = []
    for kind, cmds in (("read", reads()), ("trade", trades(w)), ("strategy", STRATEGY)):
        if not may(role, chat, kind):
            doors += cmds
    return doors


def message_doors(role: Role | None, chat: int, w: World) -> list[str]:
    """Every typed door this user must not get through here (each variant)."""
    return [v for c, a in refused_commands(role, chat, w) for v in variants(c, a)]


def harmless_doors(role: Role | None, w: World) -> list[str]:
    """Doors a non-owner may open that must still not reach the owner's things."""
    if role in (None, "owner"):
        return []
    return [f"/alert off {w.alert_id}", f"/alert, off {w.alert_id}", "/alerts clear"]


def tap_doors(role: Role | None, chat: int, w: World) -> list[str]:
    """Every button kind: refused ones, and the owner's buttons tapped by someone else."""
    acting = [
        "close:BTC_USDC_PERP",
        f"cxl:{w.order_id}",
        f"cxl:{w.stop_id}",
        "cxl:all",
        "arb:open:BTC",
    ]
    owners = [f"tc:{w.token}", f"tx:{w.token}", f"stg:ok:{w.token}", f"stg:no:{w.token}"]
    alerts = [f"al:del:{w.alert_id}", f"al:mute:{w.alert_id}"]
    if role == "owner":
        return acting + owners if chat == GROUP else []
    taps = owners + alerts  # not theirs: refused, or "not yours"
    if not may(role, chat, "trade"):
        taps += acting
    return taps


def refused_taps(role: Role | None, chat: int, taps: list[str]) -> list[str]:
    """The taps whose answer must be a refusal (the rest only say "not yours" / "gone")."""
    return [t for t in taps if not may(role, chat, "alerts" if t.startswith("al:") else "trade")]


# ---------------------------------------------------------------------- the bot and its state


@pytest.fixture
async def bot(tg: FakeTelegram, tmp_path: Path) -> AsyncIterator[BotRunner]:
    runner = BotRunner(
        make_settings(
            tg,
            tmp_path,
            telegram_allowed_users=USERS,
            telegram_allowed_groups=",".join(map(str, ALLOWED_GROUPS)),
            confirm_ttl_seconds=3600,  # the owner's pending confirmation outlives the table
            # No funding notice in the middle of the count (the world holds a position, and the
            # next funding may be minutes away whatever the hour).
            funding_notice_minutes=0,
        )
    )
    await runner.start()
    yield runner
    await runner.stop()


async def owner_world(runner: BotRunner) -> World:
    """A position with a stop-loss, a resting order, an alert and a pending confirmation."""
    rt = runner.services
    owner = Actor(OWNER, "owner", OWNER)
    opened = await rt.trading.preview(owner, parse_order("buy", "BTC 0.01"))
    assert (await rt.trading.confirm(owner, opened.token)).status.value in ("filled", "placed")
    price = await rt.market_api.get_price("BTC_USDC_PERP")
    stop_intent = parse_stop("sl", "BTC 5%")
    assert isinstance(stop_intent, StopIntent)
    stop = await rt.trading.preview(owner, stop_intent)
    await rt.trading.confirm(owner, stop.token)
    limit = (price * Decimal("0.97")).quantize(Decimal(1))
    rest = await rt.trading.preview(owner, parse_order("buy", f"BTC 0.001 @ {limit}"))
    await rt.trading.confirm(owner, rest.token)
    pending = await rt.trading.preview(owner, parse_order("sell", "BTC 0.001"))
    alert = await rt.alerts.add(owner, parse_alert(["BTC", ">", str(price * 2)]))
    views = await rt.account.positions(owner)
    (stop_order,) = [s for v in views for s in v.stops]
    orders = [o for o in await rt.account.orders(owner) if o.id != stop_order.id]
    (order,) = orders
    return World(order.id, stop_order.id, alert.id, pending.token)


async def state(runner: BotRunner) -> Any:
    rt = runner.services
    alerts = rt.alerts
    assert isinstance(alerts, AlertService)
    strategy = await rt.strategy.store.settings()
    api = rt.account_api
    assert api is not None
    orders = await api.get_open_orders()
    positions = await api.get_positions()
    pending = await rt.trading.store.due(10**15)
    return (
        sorted((a.id, a.user_id, a.armed, a.muted_until_ms) for a in await alerts.store.all()),
        strategy.mode,
        strategy.config.to_dict(),
        sorted((str(o.get("id")), str(o.get("status"))) for o in orders),
        sorted((p.get("symbol"), str(p.get("netQuantity"))) for p in positions),
        sorted((r.token, r.status) for r in pending),
    )


def chat_of(user: int, chat: int) -> int:
    return user if chat == PRIVATE else chat


def chats_of(user: int, chat: int) -> tuple[int, ...]:
    """Where a door of this kind is tried: the private chat, or one of the groups of its kind."""
    if chat == PRIVATE:
        return (user,)
    return ALLOWED_GROUPS if chat == ALLOWED else OTHER_GROUPS


# ---------------------------------------------------------------------- the table


async def test_every_door_for_every_role_in_every_chat(bot: BotRunner, tg: FakeTelegram) -> None:
    w = await owner_world(bot)
    before = await state(bot)
    await _owner_sees_own_account(tg, w)
    assert await state(bot) == before
    for group in (*ALLOWED_GROUPS, *OTHER_GROUPS):  # the groups exist (free text: no reply)
        await tg.send(OWNER, "hello everyone", chat_id=group)
    await idle(bot, tg)
    failures: list[str] = []
    total = 0
    turn = 0
    for user in (OWNER, TRADER, VIEWER, STRANGER):
        role = ROLE[user]
        for chat in CHATS:
            pool = chats_of(user, chat)
            texts = message_doors(role, chat, w)
            harmless = harmless_doors(role, w)
            taps = tap_doors(role, chat, w)
            others = [foreign(c, a) for c, a in refused_commands(role, chat, w)]
            mark, answers_mark = len(tg.messages), len(tg.answers)
            queries = []
            for text in [*texts, *harmless, *others, *taps]:
                turn += 1
                where = pool[turn % len(pool)]
                if text in taps:
                    old = Sent(chat_id=where, message_id=1, text="an old message")
                    queries.append(await tg.tap(user, old, text))
                else:
                    await tg.send(user, text, chat_id=None if chat == PRIVATE else where)
            await idle(bot, tg)
            total += len(texts) + len(harmless) + len(others) + len(taps)
            label = f"{role or 'stranger'} in {chat or 'private'}"
            replies = [m.text for m in tg.messages[mark:] if m.chat_id in pool]
            answers = {a.callback_query_id: a.text for a in tg.answers[answers_mark:]}
            failures += _check(label, role, chat, w, texts, harmless, replies)
            failures += _check_taps(label, role, chat, w, taps, queries, answers, replies)
            if await state(bot) != before:
                failures.append(f"{label}: the account, alerts or strategy changed")
                before = await state(bot)
    assert total > 900, total
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures[:40])


def _check(
    label: str,
    role: Role | None,
    chat: int,
    w: World,
    texts: list[str],
    harmless: list[str],
    replies: list[str],
) -> list[str]:
    out = [f"{label}: private text shown: {r[:120]!r}" for r in replies if _private(r, w)]
    out += [f"{label}: a preview was made: {r[:120]!r}" for r in replies if "until" in r]
    refusals = [r for r in replies if any(m in r for m in REFUSED)]
    if role is None:  # a stranger hears "not on the list" once, then nothing
        if len(refusals) != len(replies) or len(replies) > 1:
            out.append(f"{label}: a stranger got more than the refusal: {replies[:3]!r}")
        return out
    expected = len(texts) + len(harmless)  # @otherbot gets no answer at all
    if len(refusals) < len(texts) or len(replies) != expected:
        out.append(
            f"{label}: {len(texts)} doors, {len(refusals)} refusals, "
            f"{len(replies)} replies (expected {expected}); "
            f"not refusals: {[r[:80] for r in replies if r not in refusals][:6]!r}"
        )
    return out


def _check_taps(
    label: str,
    role: Role | None,
    chat: int,
    w: World,
    taps: list[str],
    queries: list[str],
    answers: dict[str, str],
    replies: list[str],
) -> list[str]:
    out: list[str] = []
    must_refuse = set(refused_taps(role, chat, taps))
    for data, query in zip(taps, queries, strict=True):
        answer = answers.get(query)
        if answer is None:
            out.append(f"{label}: tap {data!r} got no answer")
        elif _private(answer, w):
            out.append(f"{label}: tap {data!r} showed {answer!r}")
        elif data in must_refuse and not any(m in answer for m in REFUSED):
            out.append(f"{label}: tap {data!r} was not refused: {answer!r}")
    return out


def _private(text: str, w: World) -> bool:
    return any(s in text for s in w.secrets)


async def _owner_sees_own_account(tg: FakeTelegram, w: World) -> None:
    """The private-text check can fail: the owner's own views contain what it looks for."""
    for command, contains in (
        ("/positions", "uPnL"),
        ("/orders", w.order_id),
        ("/balance", "<b>balances</b>"),
        ("/account", "<b>account</b>"),
    ):
        reply = await tg.ask(OWNER, command)
        assert contains in reply.text and _private(reply.text, w), reply.text


# ---------------------------------------------------------------------- the five doors of the issue


DOORS: list[tuple[int, int, str, str]] = [
    (VIEWER, PRIVATE, "/cancel, all", "Viewers can see market data"),
    (VIEWER, PRIVATE, "/sl: BTC off", "ask the desk's owner for the trader role"),
    (VIEWER, PRIVATE, "/buy. BTC 0.01", "to trade, ask the desk's owner"),
    (OWNER, GROUP, "/balance.", "stay out of this group"),
    (VIEWER, PRIVATE, "/strategy; auto", "only an owner of this desk can change the strategy"),
    (TRADER, PRIVATE, "/strategy; auto", "Traders can do everything except"),
]


@pytest.mark.parametrize(("user", "chat", "text", "expect"), DOORS)
def test_the_doors_of_the_issue_are_in_the_table(
    user: int, chat: int, text: str, expect: str
) -> None:
    w = World("1", "2", 3, "t")
    assert text in message_doors(ROLE[user], chat, w)


async def test_the_doors_of_the_issue_are_shut(bot: BotRunner, tg: FakeTelegram) -> None:
    w = await owner_world(bot)
    before = await state(bot)
    for user, chat, text, expect in DOORS:
        where = chat_of(user, chat)
        mark = len(tg.messages)
        await tg.send(user, text, chat_id=None if chat == PRIVATE else chat)
        reply = await tg.next_message(where, after=mark)
        assert expect in reply.text, (text, reply.text)
        assert reply.text.rstrip().endswith("."), reply.text  # a sentence
        assert not _private(reply.text, w), reply.text
        assert await state(bot) == before, text
    # The same words from the owner in private do act: the table's doors are real doors.
    reply = await tg.ask(OWNER, "/cancel, all", "cancelled")
    assert w.order_id in reply.text


async def test_an_edit_into_a_door_is_ignored(bot: BotRunner, tg: FakeTelegram) -> None:
    w = await owner_world(bot)
    before = await state(bot)
    mark = len(tg.messages)
    first = await tg.send(VIEWER, "/price BTC")
    await tg.next_message(VIEWER, "BTC", after=mark)
    for text in ("/cancel, all", "/sl: BTC off", "/buy. BTC 0.01", "/strategy; auto"):
        mark = len(tg.messages)
        await tg.edit(VIEWER, first, text)
        reply = await tg.next_message(VIEWER, after=mark)
        assert "Edits are ignored" in reply.text or "🔒" in reply.text, reply.text
    mark = len(tg.messages)
    first = await tg.send(OWNER, "/price BTC", chat_id=GROUP)
    await tg.next_message(GROUP, "BTC", after=mark)
    mark = len(tg.messages)
    await tg.edit(OWNER, first, "/balance.")
    reply = await tg.next_message(GROUP, after=mark)
    assert "stay out of this group" in reply.text and not _private(reply.text, w)
    assert await state(bot) == before


# ---------------------------------------------------------------------- the second line


async def test_services_refuse_by_themselves(bot: BotRunner) -> None:
    """Past the gate: each service operation refuses a viewer, a trader where the owner is
    needed, a stranger, and the owner in a group that is not allowed — and nothing changes."""
    w = await owner_world(bot)
    before = await state(bot)
    rt = bot.services
    viewer = Actor(VIEWER, "viewer", VIEWER)
    trader = Actor(TRADER, "trader", TRADER)
    stranger = Actor(STRANGER, None, STRANGER)
    in_group = Actor(OWNER, "owner", GROUP, "group", frozenset({ALLOWED}))
    acts: list[tuple[str, Actor, Any]] = []

    def door(name: str, who: Actor, call: Any) -> None:
        acts.append((name, who, call))

    for who in (viewer, stranger, in_group):
        door("preview", who, lambda a: rt.trading.preview(a, parse_order("buy", "BTC 0.01")))
        door("confirm", who, lambda a: rt.trading.confirm(a, w.token))
        door("cancel confirmation", who, lambda a: rt.trading.cancel(a, w.token))
        door("cancel order", who, lambda a: rt.account.cancel(w.order_id, actor=a))
        door("cancel all", who, lambda a: rt.account.cancel_all(actor=a))
        door("stops off", who, lambda a: rt.account.stops_off("BTC", "sl", actor=a))
        door("approve", who, lambda a: rt.strategy.approve(w.token, a))
        door("reject", who, lambda a: rt.strategy.reject(w.token, a))
        door("open cross", who, lambda a: rt.strategy.propose_cross("BTC", a))
    for who in (viewer, trader, stranger, in_group):
        door("strategy mode", who, lambda a: rt.strategy.set_mode("auto", actor=a))
        door("strategy set", who, lambda a: rt.strategy.set_config("entry_rate", "0.02%", actor=a))
    for who in (stranger, in_group):
        door("positions", who, rt.account.positions)
        door("orders", who, rt.account.orders)
        door("balances", who, rt.account.balances)
        door("account", who, rt.account.account)
        door("pnl", who, lambda a: rt.strategy.journal.pnl("all", actor=a))
        door("trades", who, rt.strategy.trades)
        door("status", who, rt.strategy.status)
    door("alerts of a stranger", stranger, rt.alerts.for_user)
    door("alert add", stranger, lambda a: rt.alerts.add(a, parse_alert(["BTC", ">", "1"])))
    door("alert remove", stranger, lambda a: rt.alerts.remove(a, w.alert_id))
    door("alert mute", stranger, lambda a: rt.alerts.mute(a, w.alert_id, 60))
    door("alerts clear", stranger, rt.alerts.clear)
    for name, who, call in acts:
        with pytest.raises(Refused) as refused:
            await call(who)
        text = refused.value.refusal.text
        assert text.rstrip().endswith("."), (name, text)
        assert not _private(text, w), (name, text)
    assert len(acts) == 9 * 3 + 2 * 4 + 7 * 2 + 5
    assert await state(bot) == before
    # Alerts of other users: a viewer may manage alerts, but only their own.
    assert not await rt.alerts.remove(viewer, w.alert_id)
    assert not await rt.alerts.mute(viewer, w.alert_id, 60)
    assert await rt.alerts.clear(viewer) == 0
    assert await rt.alerts.for_user(viewer) == []
    assert await state(bot) == before
    # A viewer may read the account in private, and the owner in an allowed group.
    assert await rt.account.orders(viewer)
    allowed = Actor(OWNER, "owner", ALLOWED, "supergroup", frozenset({ALLOWED}))
    assert await rt.account.balances(allowed)


async def test_the_strategy_screens_buttons_obey_the_table(
    bot: BotRunner, tg: FakeTelegram
) -> None:
    """The mode buttons under /strategy change the mode for the owner only; its view buttons
    show the account, so only where account data may be shown."""
    await owner_world(bot)
    for group in OTHER_GROUPS[:3]:  # the groups exist (free text: no reply)
        await tg.send(OWNER, "hello everyone", chat_id=group)
    for user in (TRADER, VIEWER, STRANGER):
        await tg.send(user, "hello")
    await idle(bot, tg)
    before = await state(bot)
    for user in (TRADER, VIEWER, STRANGER):
        old = Sent(chat_id=user, message_id=1, text="an old /strategy screen")
        answer = await tg.answer_to(await tg.tap(user, old, "stg:mode:auto"))
        assert answer.text, user  # refused out loud, not silently
        assert await state(bot) == before, user
    for group in (OTHER_GROUPS[0], OTHER_GROUPS[2]):
        old = Sent(chat_id=group, message_id=1, text="an old /strategy screen")
        await tg.answer_to(await tg.tap(OWNER, old, "stg:mode:auto"))
        assert await state(bot) == before, group
    mark = len(tg.messages)
    old = Sent(chat_id=OTHER_GROUPS[1], message_id=1, text="an old /strategy screen")
    await tg.answer_to(await tg.tap(OWNER, old, "stg:view:config"))
    shown = [m.text for m in tg.messages[mark:] if m.chat_id == OTHER_GROUPS[1]]
    assert not any("entry_rate" in t for t in shown), shown  # no settings in that group
    old = Sent(chat_id=OWNER, message_id=1, text="an old /strategy screen")
    await tg.answer_to(await tg.tap(OWNER, old, "stg:mode:auto"))
    assert (await bot.services.strategy.store.settings()).mode == "auto"  # the owner's tap acts
