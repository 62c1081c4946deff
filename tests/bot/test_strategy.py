"""The funding strategy from the chat: approve a carry trade, see both legs, earn funding."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot.sim import Simulator
from tests.bot.conftest import ALICE, BotRunner, live_settings
from tests.conftest import Control
from tests.fakes.telegram import FakeTelegram
from tests.keys import KeyPair


async def _positions(control: Control, keys: KeyPair) -> dict[str, Decimal]:
    acc: dict[str, Any] = (await control.state())["accounts"].get(keys.api_key, {})
    return {p["symbol"]: Decimal(str(p["netQuantity"])) for p in acc.get("positions", [])}


async def _balances(control: Control, keys: KeyPair) -> dict[str, Any]:
    acc: dict[str, Any] = (await control.state())["accounts"].get(keys.api_key, {})
    return dict(acc.get("balances", {}))


@pytest.fixture
async def strategy_bot(
    tg: FakeTelegram, tmp_path: Path, quiet_sim: Simulator, keys: KeyPair
) -> Any:
    runner = BotRunner(live_settings(tg, tmp_path, quiet_sim, keys, strategy_interval_seconds=5))
    await runner.start()
    yield runner
    await runner.stop()


async def test_approve_a_carry_trade_then_earn_funding(
    strategy_bot: BotRunner, tg: FakeTelegram, sim_control: Control, keys: KeyPair
) -> None:
    await tg.ask(ALICE, "/strategy approve", "approve")
    await sim_control.post("funding", {"symbol": "BTC_USDC_PERP", "rate": "0.001"})
    proposal = await tg.next_message(ALICE, "Execute" if False else "BTC_USDC_PERP", timeout=15)
    await tg.wait_for(lambda: any("Execute" in label for label, _ in proposal.buttons), 5)
    answer = await tg.answer_to(await tg.tap(ALICE, proposal, proposal.button("Execute")), 15)
    assert "wrong" not in answer.text
    positions = await _positions(sim_control, keys)
    assert positions.get("BTC_USDC_PERP", Decimal(0)) < 0
    balances = await _balances(sim_control, keys)
    assert Decimal(str(balances["BTC"]["available"])) > 0  # the spot leg of the carry
    await sim_control.post("settle")
    pnl = await tg.ask(ALICE, "/pnl", "PnL")
    assert "funding +" in pnl.text
    trades = await tg.ask(ALICE, "/trades", "trades")
    assert "BTC_USDC_PERP" in trades.text
    status = await tg.ask(ALICE, "/strategy", "<b>Strategy</b>")
    assert "BTC_USDC_PERP" in status.text


async def test_backtest_and_charts_send_pngs(paper_bot: BotRunner, tg: FakeTelegram) -> None:
    mark = len(tg.messages)
    await tg.send(ALICE, "/backtest BTC 7d")
    photo = await tg.wait_for(lambda: next((m for m in tg.messages[mark:] if m.photo), None), 20)
    assert "Backtest" in photo.text and "Max drawdown" in photo.text
    mark = len(tg.messages)
    await tg.send(ALICE, "/chart funding")
    await tg.wait_for(lambda: any(m.photo for m in tg.messages[mark:]), 20)
    mark = len(tg.messages)
    await tg.send(ALICE, "/chart ETH 24h")
    await tg.wait_for(lambda: any(m.photo for m in tg.messages[mark:]), 20)


@pytest.mark.parametrize(
    ("command", "expect"),
    [
        ("/strategy maybe", "don't know"),
        ("/strategy set nope 1", "nope"),
        ("/strategy set entry_rate abc", "not a number"),
        ("/backtest BTC abc", "not a duration"),
        ("/backtest SOL_USDC 7d", "spot"),
        ("/backtest NOPE 7d", "NOPE"),
        ("/chart BTC 99y", "window"),
        ("/pnl month", "/pnl day"),
    ],
)
async def test_bad_strategy_input(
    paper_bot: BotRunner, tg: FakeTelegram, command: str, expect: str
) -> None:
    reply = await tg.ask(ALICE, command)
    assert expect in reply.text, reply.text


def test_backtest_cli_writes_a_png(tmp_path: Path) -> None:
    out = tmp_path / "eq.png"
    cmd = [sys.executable, "-m", "bot.backtest", "--sim", "--symbol", "BTC_USDC_PERP"]
    proc = subprocess.run(
        [*cmd, "--days", "7", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Net" in proc.stdout
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


async def test_a_funding_alert_triggers_a_strategy_cycle_at_once(
    tg: FakeTelegram, tmp_path: Path, quiet_sim: Simulator, keys: KeyPair, sim_control: Control
) -> None:
    runner = BotRunner(
        live_settings(
            tg,
            tmp_path,
            quiet_sim,
            keys,
            strategy_interval_seconds=3600,  # the timer alone would not run for an hour
        )
    )
    await runner.start()
    try:
        await tg.ask(ALICE, "/strategy approve", "approve")
        await tg.ask(ALICE, "/alert BTC funding > 0.05%", "#")
        await sim_control.post("funding", {"symbol": "BTC_USDC_PERP", "rate": "0.001"})
        await tg.next_message(ALICE, "funding &gt; 0.05%: now", timeout=8)
        proposal = await tg.wait_for(
            lambda: next(
                (m for m in tg.to(ALICE) if any("Execute" in b for b, _ in m.buttons)), None
            ),
            timeout=10,
        )
        assert "BTC_USDC_PERP" in proposal.text
    finally:
        await runner.stop()


async def test_a_directional_position_gets_its_stop_loss_on_the_exchange(
    strategy_bot: BotRunner, tg: FakeTelegram, sim_control: Control, keys: KeyPair
) -> None:
    await tg.ask(ALICE, "/strategy set kind directional", "kind")
    await tg.ask(ALICE, "/strategy set stop_on_exchange on", "stop_on_exchange")
    settings = await tg.ask(ALICE, "/strategy config", "settings")
    assert "held on the exchange" in settings.text
    await tg.ask(ALICE, "/strategy approve", "approve")
    mark = len(tg.messages)
    await sim_control.post("funding", {"symbol": "BTC_USDC_PERP", "rate": "0.001"})
    proposal = await tg.next_message(ALICE, "Strategy proposes", after=mark, timeout=15)
    await tg.wait_for(lambda: any("Execute" in label for label, _ in proposal.buttons), 5)
    await tg.answer_to(await tg.tap(ALICE, proposal, proposal.button("Execute")), 15)
    short = (await _positions(sim_control, keys))["BTC_USDC_PERP"]
    assert short < 0
    acc: dict[str, Any] = (await sim_control.state())["accounts"][keys.api_key]
    (stop,) = [o for o in acc["orders"] if o.get("status") == "TriggerPending"]
    assert stop["side"] == "Bid" and stop["reduceOnly"] is True
    status = await tg.ask(ALICE, "/strategy", "<b>Strategy</b>")
    assert "stop on the exchange @" in status.text
    # The exchange fires it on its own: the bot only hears the fill.
    trigger = Decimal(str(stop["triggerPrice"]))
    await sim_control.post("price", {"symbol": "BTC_USDC_PERP", "price": str(trigger + 100)})
    await tg.next_message(ALICE, "Stop triggered", timeout=8)
    assert "BTC_USDC_PERP" not in await _positions(sim_control, keys)
