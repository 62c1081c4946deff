"""Paper trading: the simulator's engine, in-process, holds the paper account.

On ``EXCHANGE=sim`` the engine also makes the market (its own random walk); on
``EXCHANGE=backpack`` the market data comes from the real exchange and, just before each paper
order, the real book and prices are copied into the engine so the paper fill is the fill the
real book would have given (:meth:`PaperExchange.sync_market`).

The engine persists its state to ``DATA_DIR/paper-<exchange>.json`` durably before it answers
any request that changed the account, so a paper fill the bot was told about survives a
``kill -9`` and order ids are never reused.
"""

from __future__ import annotations

import base64
import json
import logging

from nacl.signing import SigningKey

from bot.clock import Clock
from bot.exchange.client import BackpackAPI
from bot.settings import Settings
from bot.sim import Simulator
from bot.storage.db import Database

log = logging.getLogger("bot.paper")

PAPER_KEY = "paper_secret"


class PaperExchange:
    """The in-process paper simulator and the two clients on it (account, market data)."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self.real_data = settings.exchange == "backpack"
        self.sim = Simulator(
            seed=settings.sim_seed,
            balance=settings.paper_balance,
            random_walk=not self.real_data,
            tick_interval=settings.sim_tick_seconds,
            state_path=settings.data_dir / f"paper-{settings.exchange}.json",
            clock=clock,
        )

    async def start(self, db: Database) -> tuple[BackpackAPI, BackpackAPI]:
        """Start the engine; returns (account client, market-data client)."""
        s = self.settings
        await self.sim.start()
        log.info("paper exchange (simulator) at %s", self.sim.rest_url)
        secret = await db.get_meta(PAPER_KEY)
        if secret is None:
            secret = base64.b64encode(bytes(SigningKey.generate())).decode()
            await db.set_meta(PAPER_KEY, secret)
        exchange_log = logging.getLogger("bot.exchange")
        account = BackpackAPI(
            None,
            secret,
            self.sim.rest_url,
            self.sim.ws_url,
            exchange_log,
            clock=self.clock,
            stream_silence_timeout=s.stale_stream_seconds,
        )
        rest, ws = (
            (s.backpack_api_url, s.backpack_ws_url)
            if self.real_data
            else (self.sim.rest_url, self.sim.ws_url)
        )
        market = BackpackAPI(
            None,
            None,
            rest,
            ws,
            exchange_log,
            clock=self.clock,
            stream_silence_timeout=s.stale_stream_seconds,
        )
        if self.real_data:
            try:
                rows = await market.get_markets()
                marks = {r["symbol"]: r["markPrice"] for r in await market.get_mark_prices()}
                tickers = {t["symbol"]: t["lastPrice"] for t in await market.get_tickers()}
                self.sim.engine.load_markets(rows, {**tickers, **marks})
            except Exception as exc:
                log.warning("could not load the real markets (%s); paper uses defaults", exc)
        self.market = market
        return account, market

    async def sync_market(self, symbol: str) -> None:
        """Before a paper order on real data: copy the real book and prices into the engine."""
        book = await self.market.get_orderbook(symbol, limit=100)
        last = await self.market.get_price(symbol)
        mark = index = rate = None
        if symbol.endswith("_PERP"):
            rows = await self.market.get_mark_prices(symbol)
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

    async def stop(self) -> None:
        await self.sim.stop()


HEDGE_KEY = "paper_hedge_secret"


class PaperHedge:
    """With ``EXCHANGE=sim``, the hedge venue is a second in-process simulator (another seed,
    its own funding interval) reached through ccxt's ``backpack`` class, so cross-venue
    trading runs offline through the same adapter a real second venue uses."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.sim = Simulator(
            seed=settings.sim_seed + 1,
            balance=settings.paper_balance,
            funding_interval=settings.hedge_sim_funding_interval,
            tick_interval=settings.sim_tick_seconds,
            state_path=settings.data_dir / "paper-hedge-sim.json",
            clock=clock,
        )

    async def start(self, db: Database) -> tuple[str, str]:
        """Start the engine; returns (REST URL, ccxt credentials JSON of the paper account)."""
        await self.sim.start()
        log.info("paper hedge venue (simulator) at %s", self.sim.rest_url)
        secret = await db.get_meta(HEDGE_KEY)
        if secret is None:
            secret = base64.b64encode(bytes(SigningKey.generate())).decode()
            await db.set_meta(HEDGE_KEY, secret)
        public = SigningKey(base64.b64decode(secret)).verify_key.encode()
        creds = {"apiKey": base64.b64encode(public).decode(), "secret": secret}
        return self.sim.rest_url, json.dumps(creds)

    async def stop(self) -> None:
        await self.sim.stop()
