"""The long-lived objects the bot runs on, built once by the composition root.

``Runtime.start()`` opens the database (migrating it), picks the exchange clients for the mode
(paper on the in-process simulator, or live), and starts the price stream; ``close()`` releases
everything in reverse order.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

from nacl.signing import SigningKey

from bot.clock import Clock, SystemClock
from bot.exchange.client import BackpackAPI
from bot.services.account import AccountService
from bot.services.market import MarketService
from bot.services.trading import TradingConfig, TradingService
from bot.settings import Settings
from bot.sim import Simulator
from bot.storage.db import Database
from bot.storage.trading import TradingStore

log = logging.getLogger("bot.runtime")

PAPER_KEY = "paper_secret"


@dataclass
class Runtime:
    """Everything handlers and jobs need, owned in one place."""

    settings: Settings
    clock: Clock = field(default_factory=SystemClock)
    db: Database | None = None
    sim: Simulator | None = None
    market_api: BackpackAPI | None = None
    account_api: BackpackAPI | None = None
    market: MarketService | None = None
    account: AccountService | None = None
    trading: TradingService | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def mode(self) -> str:
        return self.settings.trading_mode

    @property
    def mirrors_real_market(self) -> bool:
        """Paper trading on the real exchange's data: the paper engine copies real books."""
        return self.settings.paper and self.settings.exchange == "backpack"

    async def start(self) -> None:
        s = self.settings
        self.db = Database(s.database_url, clock=self.clock)
        await self.db.start()
        await self.db.acquire_lock(s.telegram_bot_token.get_secret_value())
        if s.paper:
            await self._start_paper()
        else:
            secret = s.backpack_api_secret.get_secret_value() if s.backpack_api_secret else None
            api = BackpackAPI(
                s.backpack_api_key,
                secret,
                s.backpack_api_url,
                s.backpack_ws_url,
                logging.getLogger("bot.exchange"),
                clock=self.clock,
                stream_silence_timeout=s.stale_stream_seconds,
            )
            self.market_api = self.account_api = api
        assert self.market_api is not None and self.account_api is not None
        self.market = MarketService(self.market_api, self.account_api, self.clock)
        self.account = AccountService(self.account_api)
        self.trading = TradingService(
            self.account_api,
            TradingStore(self.db),
            TradingConfig(
                mode=s.trading_mode,
                max_order_notional=s.max_order_notional,
                confirm_ttl_seconds=s.confirm_ttl_seconds,
                price_drift_tolerance=s.price_drift_tolerance,
                limit_price_band=s.limit_price_band,
            ),
            market_data=self.market_api,
            before_send=self.sync_paper_market if self.mirrors_real_market else None,
            clock=self.clock,
            logger=logging.getLogger("bot.trading"),
        )
        try:
            await asyncio.wait_for(self.market_api.start_ws_price_stream(), 10)
        except (TimeoutError, Exception) as exc:  # keep running; the stream retries by itself
            log.warning("price stream not up yet (%s); it keeps retrying", type(exc).__name__)

    async def _start_paper(self) -> None:
        s = self.settings
        assert self.db is not None
        state = s.data_dir / f"paper-{s.exchange}.json"
        real = s.exchange == "backpack"
        self.sim = Simulator(
            seed=s.sim_seed,
            balance=s.paper_balance,
            random_walk=not real,
            tick_interval=s.sim_tick_seconds,
            state_path=state,
            clock=self.clock,
        )
        await self.sim.start()
        secret = await self.db.get_meta(PAPER_KEY)
        if secret is None:
            secret = base64.b64encode(bytes(SigningKey.generate())).decode()
            await self.db.set_meta(PAPER_KEY, secret)
        exchange_log = logging.getLogger("bot.exchange")
        self.account_api = BackpackAPI(
            None, secret, self.sim.rest_url, self.sim.ws_url, exchange_log, clock=self.clock
        )
        if real:
            self.market_api = BackpackAPI(
                None,
                None,
                s.backpack_api_url,
                s.backpack_ws_url,
                exchange_log,
                clock=self.clock,
                stream_silence_timeout=s.stale_stream_seconds,
            )
            try:
                rows = await self.market_api.get_markets()
                marks = {
                    r["symbol"]: r["markPrice"] for r in await self.market_api.get_mark_prices()
                }
                tickers = {t["symbol"]: t["lastPrice"] for t in await self.market_api.get_tickers()}
                self.sim.engine.load_markets(rows, {**tickers, **marks})
            except Exception as exc:
                log.warning("could not load the real markets (%s); paper uses defaults", exc)
        else:
            self.market_api = BackpackAPI(
                None,
                None,
                self.sim.rest_url,
                self.sim.ws_url,
                exchange_log,
                clock=self.clock,
                stream_silence_timeout=s.stale_stream_seconds,
            )

    async def sync_paper_market(self, symbol: str) -> None:
        """Before a paper order on real data: copy the real book and prices into the engine."""
        if not self.mirrors_real_market or self.sim is None or self.market_api is None:
            return
        book = await self.market_api.get_orderbook(symbol, limit=100)
        last = await self.market_api.get_price(symbol)
        mark = index = rate = None
        if symbol.endswith("_PERP"):
            rows = await self.market_api.get_mark_prices(symbol)
            if rows:
                mark, index, rate = (
                    rows[0]["markPrice"],
                    rows[0]["indexPrice"],
                    rows[0]["fundingRate"],
                )
        self.sim.engine.mirror(
            symbol,
            bids=[(p, q) for p, q in book["bids"]],
            asks=[(p, q) for p, q in book["asks"]],
            last=last,
            mark=mark,
            index=index,
            funding_rate=rate,
        )

    async def close(self) -> None:
        for api in {id(a): a for a in (self.market_api, self.account_api) if a}.values():
            with contextlib.suppress(Exception):
                await api.close()
        if self.sim is not None:
            await self.sim.stop()
        if self.db is not None:
            await self.db.close()
