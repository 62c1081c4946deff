"""Desk B's things, made through the chat as its owner would, and B's state as rows and the
account's truth: what :mod:`tests.bot.test_desk_isolation` tries desk A's member against.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.container import Services
from bot.desks.model import OPERATOR
from bot.services.access import Actor
from bot.strategy.model import Action, Leg
from tests.bot.conftest import BotRunner
from tests.fakes.telegram import FakeTelegram, Sent

#: B's owner: a stranger who opened their own desk with /start (SIGNUP=open).
DAVE = 4004
#: Joins B with B's invite, so that invite is used when A's member tries it.
CAROL = 3003
#: B's owner's first name: B is "Zebulon's desk".
DAVE_NAME = "Zebulon"
#: B trades a market A never holds.
SYMBOL = "SOL_USDC_PERP"


@dataclass(frozen=True)
class World:
    """B's things, as B's owner was shown them."""

    owner: int
    desk_id: str
    name: str  # the desk's name
    token: str  # a pending order confirmation (✅ / ❌)
    proposal: str  # a pending strategy proposal
    order_id: str  # a resting limit order
    stop_id: str  # a stop-loss under B's position
    alert_id: int
    used_code: str  # an invite CAROL redeemed
    expired_code: str
    buttons: tuple[str, ...]  # every button's data B's owner was shown

    @property
    def secrets(self) -> tuple[str, ...]:
        """What no answer to A may contain (the operator's desk id is also a common word)."""
        desk = self.desk_id if self.desk_id != OPERATOR else f"<code>{OPERATOR}</code>"
        name = self.name.split("'")[0]  # "Zebulon's desk" → "Zebulon"
        return (desk, name, self.order_id, self.stop_id, self.proposal, self.token)


def code_of(text: str) -> str:
    match = re.search(r"\?start=([A-Za-z0-9_-]+)", text)
    assert match, text
    return match.group(1)


async def confirm(tg: FakeTelegram, user: int, command: str) -> str:
    """``command`` previews an order; its ✅ is tapped; the tap's answer."""
    preview = await tg.ask(user, command, contains="preview")
    answer = await tg.answer_to(await tg.tap(user, preview, preview.button("Confirm")), 10)
    return answer.text


async def open_desk(tg: FakeTelegram) -> None:
    """DAVE, a stranger, opens B with /start (``SIGNUP=open``)."""
    tg.server.store.user_names[DAVE] = DAVE_NAME
    await tg.ask(DAVE, "/start", contains="is open")


async def make_world(bot: BotRunner, tg: FakeTelegram, owner: int = DAVE) -> tuple[World, Services]:
    """In the only desk of ``owner`` (B, opened by :func:`open_desk`, or the operator's): a
    position with a stop-loss, a resting order, a pending confirmation, a pending strategy
    proposal, an alert, invites (one used by CAROL, one expired) and the screens with every
    kind of button."""
    factory = bot.app.bot_data.factory
    (desk,) = [m.desk for m in factory.shared.desks.memberships(owner)]
    b = await factory.get(desk.id)
    price = await b.market_api.get_price(SYMBOL)
    assert "Filled" in await confirm(tg, owner, "/buy SOL 2")
    assert await confirm(tg, owner, f"/sl SOL {(price * Decimal('0.6')).quantize(Decimal(1))}")
    limit = (price * Decimal("0.85")).quantize(Decimal(1))
    assert await confirm(tg, owner, f"/buy SOL 1 @ {limit}")
    pending = await tg.ask(owner, "/sell SOL 1", contains="preview")
    token = pending.button("Confirm").removeprefix("tc:")
    created = await tg.ask(owner, f"/alert SOL > {(price * 3).quantize(Decimal(1))}", "#")
    match = re.search(r"#(\d+)", created.text)
    assert match, created.text
    await tg.ask(owner, "/alert SOL > 1", "already")  # "Arm anyway" / "Cancel" buttons
    actor = Actor(owner, "owner", owner)
    leg = Leg(SYMBOL, "Ask", Decimal(1))
    action = Action("open", SYMBOL, "directional", (leg,), "test", Decimal("0.001"), price)
    proposal = await b.strategy.approvals.propose(action, actor, b.strategy.now_ms())
    used = code_of((await tg.ask(owner, "/invite trader", contains="start=")).text)
    await tg.ask(CAROL, f"/start {used}", contains="joined")
    expired = code_of((await tg.ask(owner, "/invite viewer", contains="start=")).text)
    _expire(bot, expired)
    for screen in ("/positions", "/orders", "/alerts", "/strategy", "/start", "/arb"):
        await tg.ask(owner, screen)
    shown = [data for m in tg.to(owner) for _, data in m.buttons if data]
    orders = [d.removeprefix("cxl:") for d in shown if re.fullmatch(r"cxl:\d+", d)]
    views = await b.account.positions(actor)
    (stop,) = [s.id for v in views for s in v.stops]
    (order,) = [o for o in orders if o != stop]
    world = World(
        owner=owner,
        desk_id=desk.id,
        name=desk.name,
        token=token,
        proposal=proposal.token,
        order_id=order,
        stop_id=stop,
        alert_id=int(match.group(1)),
        used_code=used,
        expired_code=expired,
        buttons=tuple(dict.fromkeys(shown)),
    )
    return world, b


def db_path(bot: BotRunner) -> Path:
    url = bot.settings.database_url
    return Path(url.removeprefix("sqlite+aiosqlite:///"))


def _expire(bot: BotRunner, code: str) -> None:
    """The invite expired a minute ago (long-dead ones are dropped as new ones are made)."""
    digest = hashlib.sha256(code.encode()).hexdigest()
    gone = int(time.time() * 1000) - 60_000
    with sqlite3.connect(db_path(bot)) as con:
        n = con.execute(
            "UPDATE desk_invites SET expires_at_ms = ? WHERE code_hash = ?", (gone, digest)
        ).rowcount
    assert n == 1


#: A desk's stored rows (table → rows) and its account as the exchange keeps it.
State = tuple[dict[str, list[str]], Any]


def rows_of(path: Path, desk_id: str, users: tuple[int, ...]) -> dict[str, list[str]]:
    """Every stored row of the desk (each table with a desk column) in the SQLite database at
    ``path``, its registry rows, and the per-user rows (alerts, notification settings) of
    ``users``; the watch marks its own watchers keep writing aside."""
    out: dict[str, list[str]] = {}
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        marks = ",".join("?" * len(users))
        for table in tables:
            if table == "watch_marks":  # the desk's own watchers write these as time passes
                continue
            cols = [c[1] for c in con.execute(f"PRAGMA table_info({table})")]
            args: tuple[object, ...]
            if "desk_id" in cols:
                where, args = "desk_id = ?", (desk_id,)
            elif table == "desks":
                where, args = "id = ?", (desk_id,)
            elif "user_id" in cols and table.startswith(("alert", "notify")):
                where, args = f"user_id IN ({marks})", users
            else:
                continue
            rows = con.execute(f"SELECT * FROM {table} WHERE {where}", args).fetchall()
            out[table] = sorted(map(repr, rows))
    finally:
        con.close()
    return out


async def account_of(b: Services) -> Any:
    """B's account as the exchange keeps it (what is held, what rests, what is left)."""
    api = b.account_api
    assert api is not None
    positions = await api.get_positions()
    orders = await api.get_open_orders()
    balances = await api.get_balances()
    return (
        sorted((str(p.get("symbol")), str(p.get("netQuantity"))) for p in positions),
        sorted((str(o.get("id")), str(o.get("status")), str(o.get("quantity"))) for o in orders),
        sorted((str(x["asset"]), str(x["available"]), str(x["locked"])) for x in balances),
    )


async def state_of(bot: BotRunner, w: World, b: Services) -> State:
    return rows_of(db_path(bot), w.desk_id, (w.owner, CAROL)), await account_of(b)


def under(tg: FakeTelegram, user: int) -> Sent:
    """A message of the user's own chat for A's taps to be under (the last one)."""
    return tg.to(user)[-1]
