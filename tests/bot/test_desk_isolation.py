"""Isolation is proved, not assumed (issue 21): every command and every button kind, as a member
of desk A, against desk B's objects.

A is the operator's desk and ALICE its owner (she holds a BTC position of her own). B is the
desk a stranger, DAVE, opened with /start under ``SIGNUP=open``: a SOL position with a
stop-loss, a resting order, a pending confirmation, a pending strategy proposal, an alert,
invites (one used by CAROL, one expired) and screens with every kind of button. ALICE then types
every command the bot has and taps every button kind with B's tokens, order ids, alert ids,
symbol, desk id and every button data B was shown. For every row: something specific is
answered (not the fault sentence), nothing of B appears in it (B's desk id, name, order ids,
tokens; B's symbol in A's account views) and nothing of B changed (B's rows in every table with
a desk column, B's members' alerts and settings, B's account on the exchange).

The same table runs with the bot on paper (every desk on the shared paper engine), on paper the
other way round (the stranger against the operator's desk), and live (A on the environment's
keys, B on its own keys connected through the key form, both against one external simulator;
there the dashboard's and the key form's endpoints are tried too). Recovery is in
tests/crash/test_desk_recovery.py; notices, the outbox and /logs in
test_desk_isolation_notices.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bot.container import Services
from bot.services.access import CALLBACKS, COMMANDS
from bot.sim import Simulator
from tests.bot.conftest import ALICE, BotRunner, connect, desk_settings, make_settings
from tests.bot.desk_world import DAVE, SYMBOL, State, World, make_world, open_desk, state_of, under
from tests.bot.tables import FAULT, Said, idle, is_tap, knock
from tests.fakes.telegram import FakeTelegram
from tests.keys import KeyPair, new_keypair
from tests.webapp.conftest import tma

#: Rows whose screen is A's account: B's symbol must not be on it (elsewhere, market data and
#: A's own words may name SOL).
ACCOUNT_VIEWS = (
    "/positions",
    "/orders",
    "/balance",
    "/account",
    "/pnl",
    "/trades",
    "/daily",
    "/weekly",
    "/monthly",
    "/stats",
    "/health",
    "/desk",
    "start:positions",
)


@dataclass(frozen=True)
class Row:
    door: str
    #: What the answer must contain (a specific answer), "" for any non-empty one.
    expect: str = ""


def command_rows(w: World) -> list[Row]:
    """Every command, with B's objects where the command takes any."""
    return [
        Row("/start"),
        Row(f"/start {w.used_code}", "already been used"),
        Row(f"/start {w.expired_code}", "expired"),
        Row("/start AAAAbbbbCCCCdddd1234", "not valid"),
        Row("/help", "/buy"),
        Row("/mode", "PAPER"),
        Row("/whoami", "owner"),
        Row("/version"),
        Row("/price SOL", "SOL"),
        Row("/funding SOL", "SOL"),
        Row("/book SOL", "SOL"),
        Row("/arb"),
        Row("/chart SOL 24h", "SOL"),
        Row("/backtest SOL 7d", "SOL"),
        Row(f"/alert off {w.alert_id}", f"no alert #{w.alert_id} of yours"),
        Row(f"/alert delete {w.alert_id}", f"no alert #{w.alert_id} of yours"),
        Row(f"/alert remove #{w.alert_id}", f"no alert #{w.alert_id} of yours"),
        Row("/alert list"),
        Row("/alerts"),
        Row("/alerts clear", "Removed 0 alerts"),
        Row("/notify"),
        Row("/notify fills on", "Saved"),
        *(Row(c) for c in ACCOUNT_VIEWS if c.startswith("/")),
        Row("/strategy"),
        Row("/strategy config"),
        Row("/strategy candidates"),
        Row("/strategy approve"),
        Row("/strategy set entry_rate 0.02%", "entry_rate"),
        Row("/strategy off"),
        Row("/dashboard"),
        Row("/logs"),
        Row("/buy SOL 0.1", "preview"),
        Row("/sell SOL 0.1", "preview"),
        Row("/close SOL", "No open SOL position"),
        Row(f"/cancel {w.order_id}", w.order_id),
        Row(f"/cancel {w.stop_id}", w.stop_id),
        Row("/cancel all"),
        Row("/sl SOL off"),
        Row("/tp SOL off"),
        Row("/sl SOL 5%"),
        Row("/tp SOL 5%"),
        Row("/pause"),
        Row("/resume"),
        Row("/invite viewer", "start="),
        Row("/connect backpack"),
        Row("/disconnect backpack"),
    ]


def tap_rows(w: World) -> list[Row]:
    """Every button kind with B's data, then every button B's owner was shown."""
    explicit = [
        Row(f"tc:{w.token}", "does not exist"),
        Row(f"tx:{w.token}", "does not exist"),
        Row(f"stg:ok:{w.proposal}", "Unknown proposal; nothing was sent"),
        Row(f"stg:no:{w.proposal}", "Unknown proposal; nothing was sent"),
        Row(f"close:{SYMBOL}", "position is closed"),
        Row(f"cxl:{w.order_id}"),
        Row(f"cxl:{w.stop_id}"),
        Row("cxl:all"),
        Row(f"al:del:{w.alert_id}", "Already gone"),
        Row(f"al:mute:{w.alert_id}", "Not yours or gone"),
        Row(f"al:px:{SYMBOL}", "SOL"),
        Row(f"al:fund:{SYMBOL}", "SOL"),
        Row("al:no", "Not armed"),
        Row("arb:open:SOL"),
        Row("stg:view:config"),
        Row("stg:view:candidates"),
        Row("stg:mode:off"),
        Row("start:positions"),
        Row("start:price"),
        Row("start:help"),
        Row(f"desk:use:{w.desk_id}", "not a member"),
    ]
    seen = {r.door for r in explicit}
    return explicit + [Row(d) for d in w.buttons if d not in seen]


def table(w: World) -> list[Row]:
    return command_rows(w) + tap_rows(w)


def test_the_table_has_every_command_and_every_button_kind() -> None:
    w = World(DAVE, "d0", "B", "t", "p", "1", "2", 3, "u", "e", ())
    rows = table(w)
    typed = {r.door.split()[0].removeprefix("/") for r in rows if not is_tap(r.door)}
    assert typed == set(COMMANDS), set(COMMANDS) ^ typed
    for prefix in CALLBACKS:
        assert any(r.door.startswith(prefix) for r in rows if is_tap(r.door)), prefix


# ---------------------------------------------------------------------- running it


async def run_table(
    bot: BotRunner, tg: FakeTelegram, mode: str, member: int = ALICE, owner: int = DAVE
) -> tuple[int, World, Services]:
    """Make B's world (``owner``'s desk), try every row as ``member`` (of desk A), and check
    each; returns the number of rows, B's world and B's services."""
    w, b = await make_world(bot, tg, owner)
    preview = await tg.ask(member, "/buy BTC 0.01", contains="preview")
    answer = await tg.answer_to(await tg.tap(member, preview, preview.button("Confirm")), 10)
    assert "Filled" in answer.text  # A's own account has something to show
    await tg.ask(member, "/help", "/buy")  # the message A's taps are under
    await idle(bot, tg)
    before = await state_of(bot, w, b)
    failures: list[str] = []
    rows = table(w)
    for row in rows:
        said = await knock(bot, tg, member, row.door, under=under(tg, member))
        failures += _check(row, said, w, mode)
        now = await state_of(bot, w, b)
        if now != before:
            failures.append(f"{row.door}: B changed: {_diff(before, now)}")
            before = now
    # Edits of A's messages (a tap edits the message it is under) show nothing of B either.
    for m in (m for m in tg.to(member) if m.edits):
        for text in (m.text, *m.history):
            failures += [f"{m.message_id}: edited into {s!r}" for s in w.secrets if s in text]
    assert not failures, f"{len(failures)} of {len(rows)} rows failed:\n" + "\n".join(failures)
    # B's things are B's: its owner still sees and acts on them.
    mine = await tg.ask(owner, "/orders", w.order_id)
    assert w.stop_id in mine.text or w.order_id in mine.text
    return len(rows), w, b


def _check(row: Row, said: Said, w: World, mode: str) -> list[str]:
    out: list[str] = []
    shown = " | ".join(t[:160] for t in said.texts)
    if said.silent:
        out.append(f"{row.door}: no answer at all")
    if said.shows(FAULT):
        out.append(f"{row.door}: the fault sentence: {shown}")
    leaked = [s for s in w.secrets if said.shows(s) and s not in row.door]
    if row.door in ACCOUNT_VIEWS and said.shows(SYMBOL):
        leaked.append(SYMBOL)
    if leaked:
        out.append(f"{row.door}: shows B's {leaked}: {shown}")
    expect = mode.upper() if row.door == "/mode" else row.expect
    if expect and not said.shows(expect):
        out.append(f"{row.door}: expected {expect!r}: {shown}")
    return out


def _diff(before: State, now: State) -> str:
    (b_rows, b_acc), (n_rows, n_acc) = before, now
    changed = {
        t: (set(b_rows.get(t, ())) ^ set(n_rows.get(t, ())))
        for t in set(b_rows) | set(n_rows)
        if b_rows.get(t) != n_rows.get(t)
    }
    return f"rows {changed}" + (f"; the account {b_acc} → {n_acc}" if b_acc != n_acc else "")


# ---------------------------------------------------------------------- the two variants


@pytest.fixture
async def open_paper_bot(tg: FakeTelegram, tmp_path: Path) -> AsyncIterator[BotRunner]:
    runner = BotRunner(make_settings(tg, tmp_path, signup="open", confirm_ttl_seconds=3600))
    await runner.start()
    yield runner
    await runner.stop()


async def test_a_member_of_desk_a_reaches_nothing_of_desk_b_on_paper(
    open_paper_bot: BotRunner, tg: FakeTelegram
) -> None:
    await open_desk(tg)
    size, _, _ = await run_table(open_paper_bot, tg, "paper")
    assert size > 80, size


async def test_a_strangers_desk_reaches_nothing_of_the_operators_desk(
    open_paper_bot: BotRunner, tg: FakeTelegram
) -> None:
    """The other way round: B is the operator's desk (ALICE's things) and the member of A is
    DAVE, the owner of the desk a stranger opened with /start."""
    await open_desk(tg)
    size, _, _ = await run_table(open_paper_bot, tg, "paper", member=DAVE, owner=ALICE)
    assert size > 80, size


async def test_a_member_of_desk_a_reaches_nothing_of_desk_b_live(
    tg: FakeTelegram, tmp_path: Path, quiet_sim: Simulator, keys: KeyPair
) -> None:
    settings = desk_settings(
        tg,
        tmp_path,
        quiet_sim,
        keys,
        confirm_ttl_seconds=3600,
    )
    bot = BotRunner(settings)
    await bot.start()
    try:
        await open_desk(tg)
        server = bot.app.bot_data.dashboard
        assert (await connect(server.url, DAVE, new_keypair()))["connected"] == "backpack"
        size, w, b = await run_table(bot, tg, "live")
        assert size > 80, size
        await dashboard_doors(bot, tg, w, b)
    finally:
        await bot.stop()


def http_rows(w: World) -> list[tuple[str, str, dict[str, object] | None]]:
    """Every endpoint of the dashboard and the key form, with B's things where one takes any."""
    gets = ["me", "positions", "pnl", "funding", "trades", "alerts", "strategy", "arb"]
    return [("GET", f"/api/{g}", None) for g in gets] + [
        ("POST", "/api/close", {"symbol": SYMBOL}),
        ("POST", "/api/confirm", {"token": w.token}),
        ("POST", "/api/cancel", {"token": w.token}),
        ("POST", "/api/alerts/remove", {"id": w.alert_id}),
        ("POST", "/api/strategy/mode", {"mode": "off"}),
        ("POST", "/api/strategy/set", {"key": "entry_rate", "value": "0.03%"}),
        ("POST", "/api/connections", {}),
        ("POST", "/api/disconnect", {"venue": "backpack"}),
    ]


async def dashboard_doors(bot: BotRunner, tg: FakeTelegram, w: World, b: Services) -> None:
    """The Mini App's doors, as ALICE: answered (no 5xx), nothing of B in any body, B unchanged
    (the endpoints find the caller's own desk; nothing in a request names another)."""
    server = bot.app.bot_data.dashboard
    await idle(bot, tg)  # B's owner's last /orders is recorded with its buttons
    before = await state_of(bot, w, b)
    failures: list[str] = []
    async with httpx.AsyncClient(base_url=server.url, headers=tma(ALICE)) as http:
        for method, path, body in http_rows(w):
            r = await http.request(method, path, json=body)
            door = f"{method} {path}"
            if r.status_code >= 500:
                failures.append(f"{door}: {r.status_code} {r.text[:160]}")
            leaked = [s for s in w.secrets if s in r.text and s not in str(body)]
            if path == "/api/positions" and SYMBOL in r.text:
                leaked.append(SYMBOL)
            if leaked:
                failures.append(f"{door}: shows B's {leaked}: {r.text[:160]}")
            now = await state_of(bot, w, b)
            if now != before:
                failures.append(f"{door}: B changed: {_diff(before, now)}")
                before = now
    assert not failures, "\n".join(failures)
