"""``python -m bot.sim``: run the simulator until SIGINT/SIGTERM.

stdout: first ``sim ready http://HOST:PORT ws://HOST:PORT/ws`` (the contract), then
``sim control token TOKEN``: the ``X-Sim-Token`` the ``/_sim/*`` control API wants, random per
run unless ``--control-token`` / ``SIM_CONTROL_TOKEN`` sets it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from decimal import Decimal
from pathlib import Path

from bot.sim import Simulator


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bot.sim", description="Local Backpack Exchange")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--balance", type=Decimal, default=Decimal(100000), help="USDC per new account")
    p.add_argument("--funding-interval", type=int, default=3600, help="seconds between settlements")
    p.add_argument("--auth-status", type=int, default=401, help="HTTP status for auth errors")
    p.add_argument("--tick-interval", type=float, default=0.5, help="seconds between price moves")
    p.add_argument("--state", type=Path, default=None, help="persist accounts to this JSON file")
    p.add_argument(
        "--control-token",
        default=os.environ.get("SIM_CONTROL_TOKEN") or None,
        help="X-Sim-Token of the /_sim/* control API (16+ characters; default "
        "$SIM_CONTROL_TOKEN, else random per run, printed on the second stdout line)",
    )
    p.add_argument(
        "--venue", choices=("backpack", "hyperliquid"), default="backpack", help="API to speak"
    )
    p.add_argument(
        "--wallet",
        action="append",
        default=[],
        help="hyperliquid: fund this wallet address with --balance USDC (repeatable)",
    )
    p.add_argument(
        "--agent",
        action="append",
        default=[],
        metavar="AGENT=WALLET",
        help="hyperliquid: approve API wallet AGENT for WALLET (repeatable)",
    )
    return p.parse_args(argv)


async def serve_hyperliquid(args: argparse.Namespace, stop: asyncio.Event) -> None:
    from bot.sim.hyperliquid import HyperliquidSimulator

    async with HyperliquidSimulator(
        seed=args.seed,
        funding_interval=args.funding_interval,
        host=args.host,
        port=args.port,
        tick_interval=args.tick_interval,
        state_path=args.state,
        control_token=args.control_token,
    ) as sim:
        for wallet in args.wallet:
            if not sim.venue.known(wallet.lower()):
                sim.deposit(wallet, args.balance)
        for pair in args.agent:
            agent, _, wallet = pair.partition("=")
            sim.approve_agent(wallet, agent)
        print(f"sim ready {sim.rest_url} {sim.ws_url}", flush=True)
        print(f"sim control token {sim.control_token}", flush=True)
        await stop.wait()


async def serve(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if args.venue == "hyperliquid":
        await serve_hyperliquid(args, stop)
        return
    async with Simulator(
        seed=args.seed,
        balance=args.balance,
        funding_interval=args.funding_interval,
        auth_status=args.auth_status,
        host=args.host,
        port=args.port,
        tick_interval=args.tick_interval,
        state_path=args.state,
        control_token=args.control_token,
    ) as sim:
        print(f"sim ready {sim.rest_url} {sim.ws_url}", flush=True)
        print(f"sim control token {sim.control_token}", flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    os.umask(0o077)  # the state file and its journal: readable by this user only
    args = parse_args(argv)
    if args.control_token is not None and len(args.control_token) < 16:
        print("--control-token / SIM_CONTROL_TOKEN needs 16 or more characters", file=sys.stderr)
        return 2
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
