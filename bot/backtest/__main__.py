"""Run the funding strategy over an exchange's history and write the equity curve as a PNG.

    python -m bot.backtest --symbol BTC_USDC_PERP --days 30 --out eq.png
    python -m bot.backtest --sim --symbol BTC --days 7        # offline, on the built-in simulator

It uses the same history loader and backtest engine as ``/backtest`` in the chat, with the
default strategy configuration changed by ``--set key=value`` (the ``/strategy set`` keys).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from pathlib import Path

from bot.exchange.client import BackpackAPI
from bot.exchange.errors import BackpackError
from bot.render.strategy import backtest as summary
from bot.sim import Simulator
from bot.strategy.backtest import run_backtest
from bot.strategy.history import load_history
from bot.strategy.model import ConfigError, StrategyConfig

log = logging.getLogger("bot.backtest")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bot.backtest", description=__doc__.split("\n")[0])
    p.add_argument("--symbol", required=True, help="perp, e.g. BTC_USDC_PERP or BTC")
    p.add_argument("--days", type=int, default=30, help="history window in days (1-90)")
    p.add_argument("--out", type=Path, default=Path("equity.png"), help="PNG file to write")
    p.add_argument("--api-url", default="https://api.backpack.exchange", help="REST base URL")
    p.add_argument("--sim", action="store_true", help="use the built-in simulator (offline)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config")
    return p


async def _run(args: argparse.Namespace) -> int:
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
    except (ConfigError, BackpackError) as exc:
        print(f"backtest failed: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
