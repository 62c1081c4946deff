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
from typing import TYPE_CHECKING, Any

import httpx
from nacl.signing import SigningKey

from bot.clock import Clock
from bot.exchange.client import BackpackAPI
from bot.exchange.transport import default_transport
from bot.faults import paper_faults
from bot.keyring.source import KeySource
from bot.keyring.vault import PAPER_ACCOUNT, PAPER_HEDGE, PAPER_HYPERLIQUID, Vault
from bot.settings import Settings
from bot.sim import Simulator
from bot.sim.control import Fault
from bot.sim.markets import fmt
from bot.storage.db import Database
from bot.venues.pairs import match
from bot.venues.port import Venue, VenueError, VenueMarket

if TYPE_CHECKING:
    from bot.venues.ccxt_venue import CcxtVenue

log = logging.getLogger("bot.paper")

PAPER_KEY = PAPER_ACCOUNT.name


def vault(settings: Settings, db: Database) -> Vault:
    """The operator desk's sealed secrets (the paper accounts' keys)."""
    return Vault(db, KeySource.from_settings(settings))


def new_signing_secret() -> str:
    return base64.b64encode(bytes(SigningKey.generate())).decode()


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
            control=False,  # no /_sim/* door: any web page could reach a loopback port
        )
        #: The one connection pool of the desks' clients (:meth:`client_for`), made on first use.
        self._pool: httpx.AsyncBaseTransport | None = None

    async def start(self, db: Database) -> tuple[BackpackAPI, BackpackAPI]:
        """Start the engine; returns (account client, market-data client)."""
        s = self.settings
        self.sim.server.faults.extend(Fault(**f) for f in paper_faults())
        await self.sim.start()
        log.info("paper exchange (simulator) at %s", self.sim.rest_url)
        secret = await vault(s, db).get_or_create(PAPER_ACCOUNT, new_signing_secret)
        exchange_log = logging.getLogger("bot.exchange")
        account = self._client(secret, None)  # its own pool: signed orders take the direct wire
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

    def client_for(self, secret: str) -> BackpackAPI:
        """A client of the paper account whose signing key is ``secret`` (base64 ed25519): the
        engine opens an account for a key it has not seen (each desk has its own).

        Every such client borrows the engine's one connection pool (:class:`LentPool`): a
        thousand paper desks keep a few connections to the engine, not two each."""
        if self._pool is None:
            self._pool = default_transport()
        return self._client(secret, LentPool(self._pool))

    def _client(self, secret: str, pool: httpx.AsyncBaseTransport | None) -> BackpackAPI:
        return BackpackAPI(
            None,
            secret,
            self.sim.rest_url,
            self.sim.ws_url,
            logging.getLogger("bot.exchange"),
            clock=self.clock,
            transport=pool,
            stream_silence_timeout=self.settings.stale_stream_seconds,
        )

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
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.aclose()


class LentPool(httpx.AsyncBaseTransport):
    """The paper engine's connection pool as one client sees it: requests go through it, and
    closing the client (its desk evicted) leaves it open for the others; the engine closes it."""

    def __init__(self, pool: httpx.AsyncBaseTransport) -> None:
        self._pool = pool

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._pool.handle_async_request(request)

    async def aclose(self) -> None:
        return None


HEDGE_KEY = PAPER_HEDGE.name


class PaperHedge:
    """With ``EXCHANGE=sim``, the hedge venue is a second in-process simulator (another seed,
    its own funding interval) reached through ccxt's ``backpack`` class, so cross-venue
    trading runs offline through the same adapter a real second venue uses."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.settings = settings
        self.sim = Simulator(
            seed=settings.sim_seed + 1,
            balance=settings.paper_balance,
            funding_interval=settings.hedge_sim_funding_interval,
            tick_interval=settings.sim_tick_seconds,
            state_path=settings.data_dir / "paper-hedge-sim.json",
            clock=clock,
            control=False,
        )

    async def start(self, db: Database) -> tuple[str, str]:
        """Start the engine; returns (REST URL, ccxt credentials JSON of the paper account)."""
        await self.sim.start()
        log.info("paper hedge venue (simulator) at %s", self.sim.rest_url)
        return self.sim.rest_url, await hedge_credentials(self.settings, db)

    async def stop(self) -> None:
        await self.sim.stop()


async def hedge_credentials(settings: Settings, db: Database) -> str:
    """The ccxt credentials JSON of the paper hedge account (its key sealed in the database)."""
    secret = await vault(settings, db).get_or_create(PAPER_HEDGE, new_signing_secret)
    public = SigningKey(base64.b64decode(secret)).verify_key.encode()
    return json.dumps({"apiKey": base64.b64encode(public).decode(), "secret": secret})


def engine_symbol(market: VenueMarket) -> str:
    """The paper engine's (Backpack-style) symbol for a hedge venue's swap; ccxt's ``backpack``
    class reads it back as ``BASE/QUOTE:QUOTE``, the real venue's linear-swap symbol."""
    return f"{market.base}_{market.quote}_PERP"


def engine_row(market: VenueMarket) -> dict[str, Any]:
    """A hedge venue's swap (from ccxt, in base units) as a ``/api/v1/markets`` row the
    engine's ``load_markets`` takes: tick, step and minimum quantity carried over."""
    return {
        "symbol": engine_symbol(market),
        "baseSymbol": market.base,
        "quoteSymbol": market.quote,
        "marketType": "PERP",
        "filters": {
            "price": {"tickSize": fmt(market.tick), "minPrice": fmt(market.tick)},
            "quantity": {
                "stepSize": fmt(market.step),
                "minQuantity": fmt(market.min_quantity or market.step),
                "maxQuantity": None,
            },
        },
    }


class PaperHedgeOnReal:
    """With ``EXCHANGE=backpack`` in paper mode, the paper hedge account: an in-process
    simulator whose markets are the real hedge venue's linear swaps (from ccxt) and whose book
    and prices are copied from the real venue just before each paper order
    (:meth:`sync_market`), so the paper fill is the fill the real book would have given.
    Durable like :class:`PaperHedge`: ``DATA_DIR/paper-hedge-<exchange>.json``."""

    def __init__(self, settings: Settings, clock: Clock, real: CcxtVenue) -> None:
        self.settings = settings
        self.clock = clock
        self.real = real
        self.sim: Simulator | None = None
        self._rows: dict[str, dict[str, Any]] = {}

    async def start(self, db: Database, primary: Venue) -> tuple[str, str]:
        """Load the real markets, start the engine; returns (REST URL, ccxt credentials JSON).

        The engine gets the real swaps that pair with ``primary``'s perps (``HEDGE_SYMBOLS``
        applied) and those its saved state already holds; any other is added on first use
        (each market costs the engine its generated history). Raises the real venue's error
        when it cannot be reached (the caller falls back)."""
        s = self.settings
        markets = {sym: m for sym, m in (await self.real.markets()).items() if m.settle == m.quote}
        try:
            keep = {
                p.hedge.symbol for p in match(await primary.markets(), markets, s.hedge_symbols)
            }
        except Exception as exc:  # the primary's markets come later; pairs are added on use
            log.warning("paper hedge: no pairs at start (%s)", exc)
            keep = set()
        interval = s.hedge_sim_funding_interval
        first = next((m for m in markets.values() if m.base == "BTC"), None)
        first = first or next(iter(markets.values()), None)
        if first is not None:  # the engine pays funding on the real venue's interval
            try:
                quote = await self.real.funding(first.symbol)
                interval = max(60, int(quote.interval_hours * 3600))
            except VenueError as exc:
                log.warning(
                    "hedge funding interval unknown (%s); paper pays every %ss", exc, interval
                )
        self.sim = Simulator(
            seed=s.sim_seed + 1,
            balance=s.paper_balance,
            random_walk=False,
            funding_interval=interval,
            tick_interval=s.sim_tick_seconds,
            state_path=s.data_dir / f"paper-hedge-{s.hedge_exchange}.json",
            clock=self.clock,
            control=False,
        )
        await self.sim.start()
        held = {r["symbol"] for r in self.sim.engine.markets_wire()}
        self._rows = {
            engine_symbol(m): engine_row(m)
            for m in markets.values()
            if m.symbol in keep or engine_symbol(m) in held
        }
        self.sim.engine.load_markets(list(self._rows.values()))
        log.info(
            "paper hedge account (simulator on %s data, %d markets) at %s",
            self.real.name,
            len(self._rows),
            self.sim.rest_url,
        )
        return self.sim.rest_url, await hedge_credentials(s, db)

    async def sync_market(self, symbol: str) -> bool:
        """Before a paper hedge order: copy the real book, mark and funding rate of ``symbol``
        (the real venue's symbol) into the engine. True when the market was new to the engine
        (added now: the paper client must read the market list again)."""
        assert self.sim is not None
        market = (await self.real.markets()).get(symbol)
        if market is None or market.settle != market.quote:
            raise VenueError(self.real.name, f"no perpetual swap {symbol}")
        name = engine_symbol(market)
        added = name not in self._rows
        if added:
            self._rows[name] = engine_row(market)
            self.sim.engine.load_markets(list(self._rows.values()))
        book = await self.real.order_book(symbol, 100)
        quote = await self.real.funding(symbol)
        last = (book.bids[0][0] + book.asks[0][0]) / 2 if book.bids and book.asks else quote.mark
        self.sim.engine.mirror(
            name,
            bids=list(book.bids),
            asks=list(book.asks),
            last=last,
            mark=quote.mark,
            index=quote.mark,
            funding_rate=quote.rate,
        )
        return added

    async def stop(self) -> None:
        if self.sim is not None:
            await self.sim.stop()


HL_KEYS = PAPER_HYPERLIQUID.name


class PaperHyperliquid:
    """With ``EXCHANGE=sim`` and ``hyperliquid`` among the hedge venues: the simulator's
    Hyperliquid face in-process (hourly funding), reached through ccxt's own ``hyperliquid``
    class exactly as the real venue is — a funded main wallet and an API (agent) wallet that
    signs for it, both keys kept in the database, state in
    ``DATA_DIR/paper-hyperliquid-sim.json``."""

    def __init__(self, settings: Settings, clock: Clock, seed: int) -> None:
        from bot.sim.hyperliquid import HyperliquidSimulator

        self.settings = settings
        self.balance = settings.paper_balance
        self.sim = HyperliquidSimulator(
            seed=seed,
            funding_interval=3600,
            tick_interval=settings.sim_tick_seconds,
            state_path=settings.data_dir / "paper-hyperliquid-sim.json",
            clock=clock,
            control=False,  # paper mode: the exchange API only, no control door
        )

    async def start(self, db: Database) -> tuple[str, str]:
        """Start the face; returns (REST URL, ccxt credentials JSON: walletAddress + agent
        privateKey)."""
        from eth_account import Account

        await self.sim.start()
        stored = await vault(self.settings, db).get_or_create(
            PAPER_HYPERLIQUID,
            lambda: json.dumps([Account.create().key.hex(), Account.create().key.hex()]),
        )
        main_key, agent_key = json.loads(stored)
        main = str(Account.from_key(main_key).address).lower()
        agent = str(Account.from_key(agent_key).address).lower()
        if not self.sim.venue.known(main):
            self.sim.deposit(main, self.balance)
        self.sim.approve_agent(main, agent, "backpack-bot")
        log.info("paper hedge venue (Hyperliquid face) at %s", self.sim.rest_url)
        key = agent_key if agent_key.startswith("0x") else "0x" + agent_key
        return self.sim.rest_url, json.dumps({"walletAddress": main, "privateKey": key})

    async def stop(self) -> None:
        await self.sim.stop()
