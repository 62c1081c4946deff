"""Run the funding strategy over an exchange's history and write the equity curve as a PNG.

    python -m bot.backtest --symbol BTC_USDC_PERP --days 30 --out eq.png
    python -m bot.backtest --sim --symbol BTC --days 7        # offline, on the built-in simulator
    python -m bot.backtest --cross --hedge-exchange binanceusdm --symbol BTC --days 30
    python -m bot.backtest --cross --sim --symbol BTC --days 30   # two simulators, 1 h vs 8 h

It uses the same history loader and backtest engine as ``/backtest`` in the chat, with the
default strategy configuration changed by ``--set key=value`` (the ``/strategy set`` keys).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from decimal import Decimal
from pathlib import Path

from bot.exchange.client import BackpackAPI
from bot.exchange.errors import BackpackError
from bot.render.strategy import backtest as summary
from bot.render.strategy import cross_backtest as cross_summary
from bot.sim import Simulator
from bot.strategy.backtest import run_backtest
from bot.strategy.cross import CrossConfig, run_cross_backtest
from bot.strategy.history import load_cross_history, load_history
from bot.strategy.model import ConfigError, StrategyConfig
from bot.venues.port import VenueError

log = logging.getLogger("bot.backtest")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bot.backtest", description=__doc__.split("\n")[0])
    p.add_argument("--symbol", required=True, help="perp, e.g. BTC_USDC_PERP or BTC")
    p.add_argument("--days", type=int, default=30, help="history window in days (1-90)")
    p.add_argument("--out", type=Path, default=Path("equity.png"), help="PNG file to write")
    p.add_argument("--api-url", default="https://api.backpack.exchange", help="REST base URL")
    p.add_argument("--sim", action="store_true", help="use the built-in simulator (offline)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config")
    p.add_argument("--cross", action="store_true", help="the cross strategy on two venues")
    p.add_argument("--hedge-exchange", default="", help="ccxt id of the second venue (--cross)")
    p.add_argument("--hedge-api-url", default=None, help="replace the hedge venue's REST URLs")
    d = CrossConfig()
    p.add_argument("--entry-apr", type=Decimal, default=d.entry_apr, help="--cross: 0.2 = 20%%")
    p.add_argument("--exit-apr", type=Decimal, default=d.exit_apr, help="--cross: below entry")
    p.add_argument("--max-hold-hours", type=Decimal, default=d.max_hold_hours, help="--cross")
    p.add_argument("--notional", type=Decimal, default=d.notional, help="--cross: USDC a leg")
    return p


async def _run_cross(args: argparse.Namespace) -> int:
    """Both venues' history through the venue port; the hedge through ccxt."""
    from bot.venues.ccxt_venue import CcxtVenue, make_exchange  # ccxt is heavy: load on use

    config = CrossConfig(
        entry_apr=args.entry_apr,
        exit_apr=args.exit_apr,
        max_hold_hours=args.max_hold_hours,
        notional=args.notional,
    )
    sims: list[Simulator] = []
    url, hedge_id, hedge_url = args.api_url, args.hedge_exchange, args.hedge_api_url
    if args.sim:
        sims = [
            Simulator(seed=1, random_walk=False),
            Simulator(seed=2, random_walk=False, funding_interval=8 * 3600),
        ]
        for s in sims:
            await s.start()
        url, hedge_id, hedge_url = sims[0].rest_url, "backpack", sims[1].rest_url
    if not hedge_id:
        print("--cross needs --hedge-exchange (a ccxt id) or --sim", file=sys.stderr)
        return 2
    label = "backpack (hedge)" if hedge_id == "backpack" else hedge_id
    hedge = CcxtVenue(make_exchange(hedge_id, "", hedge_url), label)
    try:
        ws = url.replace("http", "ws", 1) + "/ws"
        async with BackpackAPI(None, None, url, ws, log) as api:
            a, b = await load_cross_history(
                api, hedge, args.symbol, days=args.days, now_ms=int(time.time() * 1000)
            )
    finally:
        await hedge.close()
        for s in sims:
            await s.stop()
    result = run_cross_backtest(a, b, config)
    from bot.render.charts import equity_png

    names = f"{a.name} every {a.interval_hours}h vs {b.name} every {b.interval_hours}h"
    title = f"{args.symbol.upper()} cross backtest, {args.days} days"
    args.out.write_bytes(equity_png(result.equity, title))
    text = cross_summary(result, args.symbol.upper(), names, args.days)
    for tag in ("<b>", "</b>"):
        text = text.replace(tag, "")
    print(text)
    print(f"equity curve: {args.out}")
    return 0


async def _run(args: argparse.Namespace) -> int:
    if args.cross:
        return await _run_cross(args)
    config = StrategyConfig()
    for item in args.set:
        key, _, value = item.partition("=")
        config = config.with_value(key.strip(), value.strip())
    sim: Simulator | None = None
    url = args.api_url
    if args.sim:
        sim = Simulator(seed=1, random_walk=False)
        await sim.start()
        url = sim.rest_url
    try:
        async with BackpackAPI(None, None, url, url.replace("http", "ws", 1) + "/ws", log) as api:
            history = await load_history(
                api, args.symbol, days=args.days, now_ms=int(time.time() * 1000)
            )
        result = run_backtest([history], config)
    finally:
        if sim is not None:
            await sim.stop()
    from bot.render.charts import equity_png

    title = f"{history.symbol} backtest, {args.days} days ({config.kind})"
    args.out.write_bytes(equity_png(result.equity, title))
    text = summary(result, config.kind)
    for tag in ("<b>", "</b>"):
        text = text.replace(tag, "")
    print(text)
    print(f"equity curve: {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not 1 <= args.days <= 90:
        print("--days must be between 1 and 90", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_run(args))
    except (ConfigError, BackpackError, VenueError, ValueError) as exc:
        print(f"backtest failed: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
