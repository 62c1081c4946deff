"""A hedge venue on paper: market data from the real venue, orders on a paper account.

:class:`PaperVenue` is what the strategy, alerts and chat see in paper mode with
``EXCHANGE=backpack`` and a ``HEDGE_EXCHANGE``: markets, funding (rate and interval), books and
history come from the real venue through ccxt (public endpoints, nothing signed); orders,
positions, balances and funding history come from the paper hedge account (an in-process
simulator reached through ccxt's ``backpack`` class). Before each paper order ``sync`` copies
the real book and prices of the market into the paper engine (adding the market to it on first
use), so the paper fill is the fill the real book would have given.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal

from bot.venues.ccxt_venue import CcxtVenue
from bot.venues.port import (
    FundingPayment,
    FundingQuote,
    OrderBook,
    Side,
    VenueError,
    VenueMarket,
    VenueOrder,
    VenuePosition,
)


class PaperVenue:
    """The venue port over two ccxt adapters: ``real`` serves data, ``paper`` takes orders."""

    def __init__(
        self, real: CcxtVenue, paper: CcxtVenue, sync: Callable[[str], Awaitable[bool]]
    ) -> None:
        self.real = real
        self.paper = paper
        self.sync = sync

    @property
    def name(self) -> str:
        return self.real.name

    async def markets(self) -> dict[str, VenueMarket]:
        return await self.real.markets()

    async def funding(self, symbol: str) -> FundingQuote:
        return await self.real.funding(symbol)

    async def order_book(self, symbol: str, depth: int = 50) -> OrderBook:
        return await self.real.order_book(symbol, depth)

    async def market_stats(self, symbol: str) -> tuple[Decimal | None, Decimal | None]:
        return await self.real.market_stats(symbol)

    def client_order_id(self, client_id: int) -> str:
        return self.paper.client_order_id(client_id)

    async def place_order(
        self,
        symbol: str,
        side: Side,
        quantity: Decimal,
        *,
        client_id: int,
        reduce_only: bool = False,
    ) -> VenueOrder:
        if await self.sync(symbol):
            self.paper.forget_markets()  # the paper engine lists a market it did not before
        return await self.paper.place_order(
            symbol, side, quantity, client_id=client_id, reduce_only=reduce_only
        )

    async def cancel_order(self, symbol: str, order_id: str) -> None:
        await self.paper.cancel_order(symbol, order_id)

    async def order_by_client_id(self, symbol: str, client_id: int) -> VenueOrder | None:
        return await self.paper.order_by_client_id(symbol, client_id)

    async def positions(self) -> list[VenuePosition]:
        """The paper positions, valued at the real venue's current book and mark."""
        held = await self.paper.positions()
        if not held:
            return held
        try:
            for p in held:
                await self.sync(p.symbol)
        except VenueError:  # the real venue is down: the last mirrored prices value them
            return held
        return await self.paper.positions()

    async def balances(self) -> dict[str, Decimal]:
        """The paper account's free balances. Its collateral is one USDC pool that margins every
        swap whatever its quote (the engine's rule), so that pool is also shown under each
        settlement asset of the real venue it has no balance in (USDT on most venues)."""
        free = await self.paper.balances()
        pool = free.get("USDC")
        if pool is None:
            return free
        settle = {m.settle for m in (await self.real.markets()).values()}
        return {**{a: pool for a in settle}, **free}

    async def funding_payments(self, symbol: str | None = None) -> list[FundingPayment]:
        return await self.paper.funding_payments(symbol)

    async def rate_history(self, symbol: str, since_ms: int) -> list[tuple[int, Decimal]]:
        return await self.real.rate_history(symbol, since_ms)

    async def hourly_closes(
        self, symbol: str, since_ms: int, until_ms: int
    ) -> list[tuple[int, Decimal]]:
        return await self.real.hourly_closes(symbol, since_ms, until_ms)

    async def close(self) -> None:
        await self.paper.close()
        await self.real.close()
