"""``python -m bot.sim --venue hyperliquid`` as a process: the CLI, and state kept across a
SIGKILL with ``--state`` (wallets, API wallets, resting orders and their cloids)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ccxt.async_support as ccxt_async
from eth_account import Account
from eth_account.signers.local import LocalAccount

from tests.simproc import SimProcess, start_sim

MAIN: LocalAccount = Account.from_key("0x" + "51" * 32)
AGENT: LocalAccount = Account.from_key("0x" + "52" * 32)
BTC = "BTC/USDC:USDC"
CLOID = "0x" + "fe" * 16


def _client(sim: SimProcess) -> Any:
    ex = ccxt_async.hyperliquid(
        {"walletAddress": MAIN.address, "privateKey": AGENT.key.hex(), "enableRateLimit": False}
    )
    ex.urls["api"] = {"public": sim.rest_url, "private": sim.rest_url}
    return ex


async def test_cli_serves_hyperliquid_and_survives_sigkill(tmp_path: Path) -> None:
    state = str(tmp_path / "hl.json")
    sim = await start_sim(
        5,
        "--venue",
        "hyperliquid",
        "--balance",
        "2500",
        "--wallet",
        MAIN.address,
        "--agent",
        f"{AGENT.address}={MAIN.address}",
        "--state",
        state,
    )
    ex = _client(sim)
    try:
        assert sim.ws_url.endswith("/ws")
        assert (await ex.fetch_balance())["USDC"]["total"] == 2500
        await ex.load_markets()
        bid = (await ex.fetch_order_book(BTC))["bids"][0][0]
        placed = await ex.create_order(
            BTC, "limit", "buy", 0.001, int(bid * 0.97), {"clientOrderId": CLOID}
        )
    finally:
        await ex.close()
        sim.kill()
        await sim.proc.wait()

    # Restarted without --wallet/--agent: both come back from the state file.
    sim = await start_sim(5, "--venue", "hyperliquid", "--state", state)
    ex = _client(sim)
    try:
        await ex.load_markets()
        again = await ex.fetch_order(None, BTC, {"clientOrderId": CLOID})
        assert again["id"] == placed["id"] and again["status"] == "open"
        cancelled = await ex.cancel_order(None, BTC, {"clientOrderId": CLOID})
        assert cancelled["status"] == "success"
        assert (await ex.fetch_balance())["USDC"]["total"] == 2500
    finally:
        await ex.close()
        await sim.stop()
