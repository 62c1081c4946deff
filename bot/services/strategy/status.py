"""What the strategy shows: ``/strategy`` (mode, positions, candidates), its last trades,
backtests over history and the price and funding charts."""

from __future__ import annotations

from decimal import Decimal

from bot.services import access
from bot.services.access import Actor
from bot.services.strategy.core import StrategyCore
from bot.services.strategy.values import (
    MAX_BACKTEST_DAYS,
    CrossBacktest,
    PositionView,
    StrategyStatus,
    split,
)
from bot.storage.strategy import ActionRecord
from bot.strategy.backtest import BacktestResult, run_backtest
from bot.strategy.cross import cross_config, run_cross_backtest
from bot.strategy.decide import candidates, exchange_stop_price
from bot.strategy.history import load_cross_history, load_history, parse_ts_ms
from bot.strategy.model import HOUR_MS, ConfigError, StrategyConfig


class StatusViews:
    """Read-only views of the strategy and of the market it trades."""

    def __init__(self, core: StrategyCore) -> None:
        self.core = core

    async def status(self, actor: Actor, limit: int = 8) -> StrategyStatus:
        """The strategy's mode, positions and candidates (account data for ``actor``)."""
        c = self.core
        actor.require(access.Action.ACCOUNT)
        settings = await c.store.settings()
        portfolio = await c.store.portfolio()
        crossing, others = split(portfolio)
        if settings.config.kind == "cross" and c.cross is not None:
            pairs = await c.cross.candidates(settings.config, crossing, c.now_ms())
            marks = await c.cross.marks()
            return StrategyStatus(
                settings.mode,
                c.trading_mode,
                settings.config,
                pairs[:limit],
                tuple(PositionView(p, marks.get(p.symbol), None, None) for p in crossing.positions),
                settings.paused,
            )
        snap = await c.snapshot(settings.config, others)
        cands = candidates(snap, others, settings.config, c.now_ms())
        views = []
        for p in others.positions:
            perp = snap.get(p.symbol)
            views.append(
                PositionView(
                    p,
                    perp.mark if perp else None,
                    perp.funding_rate if perp else None,
                    p.unhedged_pnl(perp.mark, perp.spot_price) if perp else None,
                    exchange_stop_price(p, settings.config),
                )
            )
        return StrategyStatus(
            settings.mode,
            c.trading_mode,
            settings.config,
            tuple(cands[:limit]),
            tuple(views),
            settings.paused,
        )

    async def trades(self, actor: Actor, limit: int = 10) -> list[ActionRecord]:
        """The strategy's last trades with their reasons (account data for ``actor``)."""
        actor.require(access.Action.ACCOUNT)
        return await self.core.store.actions(limit=limit)

    async def backtest(
        self, symbol: str, days: int
    ) -> tuple[BacktestResult | CrossBacktest, bytes]:
        """Run the current config over ``days`` of history; returns the PNG too. ``cross``
        replays both venues' history (the hedge's through ccxt)."""
        c = self.core
        if not 1 <= days <= MAX_BACKTEST_DAYS:
            raise ValueError(f"days must be between 1 and {MAX_BACKTEST_DAYS}")
        config = (await c.store.settings()).config
        if config.kind == "cross":
            return await self._cross_backtest(symbol, days, config)
        history = await load_history(c.market_api, symbol, days=days, now_ms=c.now_ms())
        result = run_backtest([history], config, fees=await c.fees())
        from bot.render.charts import equity_png  # matplotlib: ~35 MB, load on use

        png = equity_png(result.equity, f"{history.symbol} backtest, {days} days ({config.kind})")
        return result, png

    async def _cross_backtest(
        self, symbol: str, days: int, config: StrategyConfig
    ) -> tuple[CrossBacktest, bytes]:
        c = self.core
        if c.cross is None:
            raise ConfigError("kind cross needs the hedge venue (HEDGE_EXCHANGE)")
        base = (await c.market_api.market(symbol)).base
        a, b = await load_cross_history(
            c.market_api, c.cross.hedge, base, days=days, now_ms=c.now_ms()
        )
        result = run_cross_backtest(a, b, cross_config(config))
        from bot.render.charts import equity_png  # matplotlib: ~35 MB, load on use

        png = equity_png(result.equity, f"{base} cross backtest, {days} days")
        return CrossBacktest(result, base, f"{a.name} vs {b.name}", days), png

    async def price_chart(self, symbol: str, hours: int) -> tuple[str, bytes]:
        api = self.core.market_api
        sym = await api.resolve_symbol(symbol)
        now = self.core.now_ms()
        start = now - hours * HOUR_MS
        interval = "15m" if hours <= 24 else "1h"
        klines = await api.get_klines(sym, interval, start // 1000, now // 1000)
        prices = [
            (parse_ts_ms(str(k["start"])), Decimal(str(k["close"])))
            for k in klines
            if k.get("close") is not None
        ]
        funding: list[tuple[int, Decimal]] = []
        if sym.endswith("_PERP"):
            for r in await api.get_funding_history(sym, limit=min(1000, hours + 1)):
                t = parse_ts_ms(str(r["intervalEndTimestamp"]))
                if start <= t <= now:
                    funding.append((t, Decimal(str(r["fundingRate"]))))
            funding.sort()
        from bot.render.charts import price_funding_png  # matplotlib: ~35 MB, load on use

        return sym, price_funding_png(sym, prices, funding)

    async def funding_chart(self, top: int = 15) -> bytes:
        rows = [
            (m["symbol"], Decimal(m["fundingRate"]))
            for m in await self.core.market_api.get_mark_prices()
            if "fundingRate" in m
        ]
        rows.sort(key=lambda r: abs(r[1]), reverse=True)
        from bot.render.charts import funding_bars_png  # matplotlib: ~35 MB, load on use

        return funding_bars_png(
            rows[:top], f"Funding per interval, top {min(top, len(rows))} perps"
        )
