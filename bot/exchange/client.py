"""``BackpackAPI``: the async Backpack Exchange client (the seed guide's public face).

A thin facade over the rooms that do the work:

* :mod:`bot.exchange.transport` — the one request funnel (signing, clock sync, the wire chosen
  by measurement, one error map, ``Decimal`` parsing, retries for reads);
* :mod:`bot.exchange.placement` — order placement and clientId recovery (rounding, checks,
  conditional orders, never a blind re-send);
* :mod:`bot.exchange.events` — stream frames → typed events;
* :mod:`bot.exchange.feeds` — the price caches the stream keeps fresh, local books, and the
  routing of events to callbacks, over :mod:`bot.exchange.stream`'s WebSocket supervisor.

What stays here is the REST catalogue in the seed guide's names and shapes.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from types import TracebackType
from typing import Any

import httpx

from bot.clock import Clock, SystemClock
from bot.exchange.auth import Signer
from bot.exchange.errors import InvalidOrder, NotFound
from bot.exchange.feeds import EventCallback, Feeds
from bot.exchange.markets import Market, is_buy, resolve_symbol, to_decimal
from bot.exchange.placement import (
    TRIGGER_BY,
    OrderDesk,
    new_client_id,
    round_trigger,
    with_aliases,
)
from bot.exchange.stream import LocalOrderBook, PriceCallback
from bot.exchange.transport import DECIMAL_FIELDS, RETRYABLE, Transport, decimalize

__all__ = [
    "DECIMAL_FIELDS",
    "RETRYABLE",
    "TRIGGER_BY",
    "BackpackAPI",
    "commission_tier",
    "decimalize",
    "new_client_id",
    "round_trigger",
]

DEFAULT_REST = "https://api.backpack.exchange"
DEFAULT_WS = "wss://ws.backpack.exchange"
DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000)


class BackpackAPI:
    """Async client for Backpack Exchange (REST + WebSocket).

    ``BackpackAPI(api_key, api_secret, base_url, ws_url, logger)``; keys are optional for public
    data. Use ``async with`` or call :meth:`close` to release the connection pool and streams.
    """

    def __init__(
        self,
        api_key: str | None = None,
        api_secret: str | None = None,
        base_url: str = DEFAULT_REST,
        ws_url: str = DEFAULT_WS,
        logger: logging.Logger | None = None,
        *,
        clock: Clock | None = None,
        timeout: float = 10.0,
        window_ms: int = 5000,
        max_retries: int = 3,
        transport: httpx.AsyncBaseTransport | None = None,
        stream_silence_timeout: float = 15.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.ws_url = ws_url
        self.logger = logger or logging.getLogger("bot.exchange")
        self.clock: Clock = clock or SystemClock()
        self._signer = Signer(api_key or "", api_secret) if api_secret else None
        self._transport = Transport(
            self.base_url,
            self._signer,
            self.clock,
            logger=self.logger,
            timeout=timeout,
            window_ms=window_ms,
            max_retries=max_retries,
            transport=transport,
        )
        #: Listeners told when the exchange refuses this client's key (revoked, expired).
        self.on_key_refused = self._transport.on_key_refused
        self._orders = OrderDesk(self._transport, self.market, self.logger)
        self.markets: dict[str, Market] = {}
        self._feeds = Feeds(
            ws_url,
            snapshot=self._depth_snapshot,
            signer=self._signer,
            now_ms=self._transport.now_ms,
            logger=self.logger,
            silence_timeout=stream_silence_timeout,
        )
        # The seed guide's attribute names for the caches the stream keeps fresh (shared).
        self.prices = self._feeds.prices
        self.mark_prices = self._feeds.mark_prices
        self.funding_rates = self._feeds.funding_rates
        self.next_funding = self._feeds.next_funding
        self.best_bid_ask = self._feeds.best_bid_ask
        self.last_update = self._feeds.last_update
        self.books = self._feeds.books
        self.on_reconnect = self._feeds.on_reconnect
        self._price_callbacks = self._feeds.price_callbacks  # bench/client.py drives these
        self._on_frame = self._feeds.on_frame

    # ------------------------------------------------------------------ lifecycle

    @property
    def api_key(self) -> str | None:
        return self._signer.api_key if self._signer else None

    @property
    def has_keys(self) -> bool:
        return self._signer is not None

    def __repr__(self) -> str:
        return f"BackpackAPI(base_url={self.base_url!r}, api_key={self.api_key!r})"

    async def __aenter__(self) -> BackpackAPI:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop streams and callbacks, close the HTTP pool."""
        await self._feeds.close()
        await self._transport.close()

    @property
    def time_offset_ms(self) -> int:
        """How far the exchange's clock is ahead of ours (ms), measured at the first signed call."""
        return self._transport.time_offset_ms

    def _now_ms(self) -> int:
        return self._transport.now_ms()

    async def sync_time(self) -> int:
        """Measure the server clock offset (ms) so signed timestamps are right on a skewed host."""
        return await self._transport.sync_time()

    async def _get(
        self, path: str, params: dict[str, Any] | None = None, instruction: str | None = None
    ) -> Any:
        """An idempotent GET through the funnel, retried on 429/5xx/network errors."""
        return await self._transport.get(path, params, instruction)

    # ------------------------------------------------------------------ markets

    async def load_markets(self, *, reload: bool = False) -> dict[str, Market]:
        """Fetch and cache every market's rules."""
        if self.markets and not reload:
            return self.markets
        rows = await self._get("/api/v1/markets")
        self.markets = {r["symbol"]: Market.from_wire(r) for r in rows}
        return self.markets

    async def get_markets(self) -> list[dict[str, Any]]:
        """The raw market list (decimals parsed)."""
        rows: list[dict[str, Any]] = await self._get("/api/v1/markets")
        self.markets = {r["symbol"]: Market.from_wire(r) for r in rows}
        return rows

    async def market(self, symbol: str) -> Market:
        """The rules of one market; accepts the same forms as :meth:`resolve_symbol`."""
        await self.load_markets()
        return self.markets[resolve_symbol(symbol, self.markets)]

    async def resolve_symbol(self, text: str) -> str:
        """``BTC`` → ``BTC_USDC_PERP``, ``sol_usdc`` → ``SOL_USDC``; raises ``InvalidSymbol``."""
        await self.load_markets()
        return resolve_symbol(text, self.markets)

    async def perp_symbols(self) -> list[str]:
        await self.load_markets()
        return [s for s, m in self.markets.items() if m.is_perp]

    # ------------------------------------------------------------------ public data

    async def get_ticker(self, symbol: str) -> dict[str, Any]:
        sym = await self.resolve_symbol(symbol)
        data: dict[str, Any] = await self._get("/api/v1/ticker", {"symbol": sym})
        return data

    async def get_tickers(self) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = await self._get("/api/v1/tickers")
        return data

    async def get_price(self, symbol: str) -> Decimal:
        """Last traded price."""
        t = await self.get_ticker(symbol)
        price: Decimal = t["lastPrice"]
        self.prices[t["symbol"]] = price
        return price

    async def get_mark_prices(self, symbol: str | None = None) -> list[dict[str, Any]]:
        """Mark, index, funding rate and next funding time (ms) per perp."""
        params = {"symbol": await self.resolve_symbol(symbol)} if symbol else None
        rows: list[dict[str, Any]] = await self._get("/api/v1/markPrices", params)
        return rows

    async def get_funding_rate(self, symbol: str) -> Decimal:
        """Current (estimated) funding rate per interval, as a fraction (0.0001 = 0.01 %)."""
        rows = await self.get_mark_prices(symbol)
        if not rows or "fundingRate" not in rows[0]:
            raise NotFound(f"{symbol} has no funding rate (not a perp)", code="RESOURCE_NOT_FOUND")
        rate: Decimal = rows[0]["fundingRate"]
        return rate

    async def get_all_funding_rates(self) -> dict[str, Decimal]:
        """``{symbol: rate}`` for every perp."""
        return {
            r["symbol"]: r["fundingRate"]
            for r in await self.get_mark_prices()
            if "fundingRate" in r
        }

    async def get_funding_history(
        self, symbol: str, limit: int = 100, offset: int = 0
    ) -> list[dict[str, Any]]:
        """Past funding rates of a perp, newest first (``intervalEndTimestamp`` ISO)."""
        sym = await self.resolve_symbol(symbol)
        rows: list[dict[str, Any]] = await self._get(
            "/api/v1/fundingRates", {"symbol": sym, "limit": limit, "offset": offset}
        )
        return rows

    async def get_klines(
        self, symbol: str, interval: str = "1h", start: int | None = None, end: int | None = None
    ) -> list[dict[str, Any]]:
        """Candles; ``start``/``end`` in Unix seconds (default: the last 24 h)."""
        sym = await self.resolve_symbol(symbol)
        if start is None:
            start = int(self.clock.time()) - 86400
        rows: list[dict[str, Any]] = await self._get(
            "/api/v1/klines",
            {"symbol": sym, "interval": interval, "startTime": start, "endTime": end},
        )
        return rows

    async def get_orderbook(self, symbol: str, limit: int = 20) -> dict[str, Any]:
        """``{"bids", "asks", "lastUpdateId"}``, best price first on both sides."""
        sym = await self.resolve_symbol(symbol)
        wire_limit = next((n for n in DEPTH_LIMITS if n >= limit), 1000)
        data = await self._get("/api/v1/depth", {"symbol": sym, "limit": wire_limit})
        bids = [[Decimal(p), Decimal(q)] for p, q in reversed(data["bids"])][:limit]
        asks = [[Decimal(p), Decimal(q)] for p, q in data["asks"]][:limit]
        return {
            "symbol": sym,
            "bids": bids,
            "asks": asks,
            "lastUpdateId": int(data["lastUpdateId"]),
            "timestamp": data.get("timestamp"),
        }

    async def get_open_interest(self, symbol: str | None = None) -> list[dict[str, Any]]:
        params = {"symbol": await self.resolve_symbol(symbol)} if symbol else None
        rows: list[dict[str, Any]] = await self._get("/api/v1/openInterest", params)
        return rows

    # ------------------------------------------------------------------ orders

    async def place_order(  # noqa: PLR0917 - the seed guide passes these positionally
        self,
        symbol: str,
        side: str,
        quantity: Decimal | str | int | float | None = None,
        price: Decimal | str | int | float | None = None,
        order_type: str = "LIMIT",
        post_only: bool = False,
        reduce_only: bool = False,
        *,
        time_in_force: str | None = None,
        quote_quantity: Decimal | str | int | float | None = None,
        client_id: int | None = None,
        trigger_price: Decimal | str | int | float | None = None,
        trigger_quantity: Decimal | str | int | float | None = None,
        trigger_by: str | None = None,
        stop_loss: Decimal | str | int | float | None = None,
        take_profit: Decimal | str | int | float | None = None,
    ) -> dict[str, Any]:
        """Place one order; returns the exchange's order object (numbers as ``Decimal``).

        See :meth:`bot.exchange.placement.OrderDesk.place_order` (rounding, checks, conditional
        orders with ``trigger_price``/``trigger_quantity``/``trigger_by``, attached
        ``stop_loss``/``take_profit``, a lost answer resolved by ``clientId``).
        """
        return await self._orders.place_order(
            symbol,
            side,
            quantity,
            price,
            order_type,
            post_only,
            reduce_only,
            time_in_force=time_in_force,
            quote_quantity=quote_quantity,
            client_id=client_id,
            trigger_price=trigger_price,
            trigger_quantity=trigger_quantity,
            trigger_by=trigger_by,
            stop_loss=stop_loss,
            take_profit=take_profit,
        )

    async def find_order_by_client_id(self, symbol: str, cid: int) -> dict[str, Any] | None:
        """Find an order by clientId (open orders incl. pending conditional ones, then
        history); ``None`` = not placed. Raises
        :class:`~bot.exchange.errors.OrderStatusUnknown` when the exchange cannot be asked."""
        return await self._orders.find_order_by_client_id(symbol, cid)

    async def place_order_with_depth(
        self,
        symbol: str,
        side: str,
        quantity: Decimal | str | int | float,
        order_type: str = "LIMIT",
        depth_tolerance: Decimal | str | float = Decimal("0.001"),
        **kwargs: Any,
    ) -> dict[str, Any]:
        """A limit order priced from the live book: best ask × (1 + tol) to buy, best bid ×
        (1 − tol) to sell, rounded to the tick in the safe direction."""
        book = await self.get_orderbook(symbol, limit=5)
        tol = to_decimal(depth_tolerance, "depth_tolerance")
        buy = is_buy(side)
        levels = book["asks"] if buy else book["bids"]
        if not levels:
            raise InvalidOrder(f"the {symbol} book is empty on that side", code="INVALID_ORDER")
        best: Decimal = levels[0][0]
        price = best * (1 + tol) if buy else best * (1 - tol)
        if order_type.upper() == "MARKET":
            return await self.place_order(symbol, side, quantity, order_type="MARKET", **kwargs)
        return await self.place_order(symbol, side, quantity, price, order_type="LIMIT", **kwargs)

    async def get_order_status(self, symbol: str, order_id: str) -> dict[str, Any]:
        """Any order by id: resting ones from the book, finished ones from history."""
        sym = await self.resolve_symbol(symbol)
        try:
            order: dict[str, Any] = await self._get(
                "/api/v1/order", {"symbol": sym, "orderId": order_id}, "orderQuery"
            )
            return with_aliases(order)
        except NotFound:
            rows = await self._get(
                "/wapi/v1/history/orders",
                {"symbol": sym, "orderId": order_id},
                "orderHistoryQueryAll",
            )
            if not rows:
                raise NotFound(f"no order {order_id} on {sym}", code="RESOURCE_NOT_FOUND") from None
            return with_aliases(dict(rows[0]))

    async def get_open_orders(self, symbol: str | None = None) -> list[dict[str, Any]]:
        params = {"symbol": await self.resolve_symbol(symbol)} if symbol else None
        rows = await self._get("/api/v1/orders", params, "orderQueryAll")
        return [with_aliases(o) for o in rows]

    async def cancel_order(self, symbol: str, order_id: str) -> dict[str, Any]:
        sym = await self.resolve_symbol(symbol)
        order: dict[str, Any] = await self._transport.request(
            "DELETE",
            "/api/v1/order",
            body={"orderId": str(order_id), "symbol": sym},
            instruction="orderCancel",
        )
        return with_aliases(order)

    async def cancel_all_orders(self, symbol: str | None = None) -> list[dict[str, Any]]:
        """Cancel every open order of a market, or of every market when ``symbol`` is None."""
        if symbol is not None:
            symbols = [await self.resolve_symbol(symbol)]
        else:
            symbols = sorted({o["symbol"] for o in await self.get_open_orders()})
        out: list[dict[str, Any]] = []
        for sym in symbols:
            rows = await self._transport.request(
                "DELETE", "/api/v1/orders", body={"symbol": sym}, instruction="orderCancelAll"
            )
            out.extend(with_aliases(o) for o in rows or [])
        return out

    # ------------------------------------------------------------------ account

    async def get_positions(self) -> list[dict[str, Any]]:
        """Open perp positions in the seed guide's shape plus the raw wire fields."""
        rows = await self._get("/api/v1/position", None, "positionQuery")
        return [_position(r) for r in rows if r.get("netQuantity")]

    async def get_position(self, symbol: str) -> dict[str, Any] | None:
        """One position, or ``None`` when flat."""
        sym = await self.resolve_symbol(symbol)
        for p in await self.get_positions():
            if p["symbol"] == sym:
                return p
        return None

    async def get_balances(self) -> list[dict[str, Any]]:
        data = await self._get("/api/v1/capital", None, "balanceQuery")
        return [
            {"asset": a, "available": v["available"], "locked": v["locked"], "staked": v["staked"]}
            for a, v in data.items()
        ]

    async def get_account_info(self) -> dict[str, Any]:
        """Account settings plus ``status`` and ``commissionTier`` (derived from the fees)."""
        data: dict[str, Any] = await self._get("/api/v1/account", None, "accountQuery")
        data["status"] = "Liquidating" if data.get("liquidating") else "Active"
        data["commissionTier"] = commission_tier(data.get("spotTakerFee"))
        return data

    async def get_collateral(self) -> dict[str, Any]:
        data: dict[str, Any] = await self._get(
            "/api/v1/capital/collateral", None, "collateralQuery"
        )
        return data

    async def get_max_order_quantity(
        self, symbol: str, side: str, price: Decimal | None = None, reduce_only: bool = False
    ) -> Decimal:
        sym = await self.resolve_symbol(symbol)
        data = await self._get(
            "/api/v1/account/limits/order",
            {
                "symbol": sym,
                "side": "Bid" if is_buy(side) else "Ask",
                "price": price,
                "reduceOnly": reduce_only or None,
            },
            "maxOrderQuantity",
        )
        qty: Decimal = data["maxOrderQuantity"]
        return qty

    async def get_fills(
        self,
        symbol: str | None = None,
        *,
        limit: int = 100,
        offset: int = 0,
        from_ms: int | None = None,
        to_ms: int | None = None,
        order_id: str | None = None,
    ) -> list[dict[str, Any]]:
        params = {
            "symbol": await self.resolve_symbol(symbol) if symbol else None,
            "limit": limit,
            "offset": offset,
            "from": from_ms,
            "to": to_ms,
            "orderId": order_id,
        }
        rows: list[dict[str, Any]] = await self._get(
            "/wapi/v1/history/fills", params, "fillHistoryQueryAll"
        )
        return rows

    async def get_order_history(
        self,
        symbol: str | None = None,
        *,
        limit: int = 100,
        offset: int = 0,
        order_id: str | None = None,
    ) -> list[dict[str, Any]]:
        params = {
            "symbol": await self.resolve_symbol(symbol) if symbol else None,
            "limit": limit,
            "offset": offset,
            "orderId": order_id,
        }
        rows = await self._get("/wapi/v1/history/orders", params, "orderHistoryQueryAll")
        return [with_aliases(dict(r)) for r in rows]

    async def get_funding_payments(
        self, symbol: str | None = None, *, limit: int = 100, offset: int = 0
    ) -> list[dict[str, Any]]:
        """Funding paid/received (``quantity`` positive = received)."""
        params = {
            "symbol": await self.resolve_symbol(symbol) if symbol else None,
            "limit": limit,
            "offset": offset,
        }
        rows: list[dict[str, Any]] = await self._get(
            "/wapi/v1/history/funding", params, "fundingHistoryQueryAll"
        )
        for r in rows:
            r["quantity"] = Decimal(str(r["quantity"]))
            r["fundingRate"] = Decimal(str(r["fundingRate"]))
        return rows

    # ------------------------------------------------------------------ streams

    async def start_ws_price_stream(self, symbols: list[str] | None = None) -> None:
        """Start the supervised price stream; returns once it is connected and subscribed.

        ``prices`` is then kept fresh from ``ticker``/``bookTicker``; perps also fill
        ``mark_prices``, ``funding_rates`` and ``next_funding`` from ``markPrice``.
        """
        await self.load_markets()
        syms = symbols or list(self.markets)
        streams = [f"ticker.{s}" for s in syms]
        streams += [f"markPrice.{s}" for s in syms if self.markets[s].is_perp]
        await self._feeds.start_prices(streams)

    async def stop_ws_price_stream(self) -> None:
        await self._feeds.stop()

    @property
    def stream_connected(self) -> bool:
        return self._feeds.connected

    @property
    def stream_connections(self) -> int:
        """How many times the stream has connected (a reconnect counts once more)."""
        return self._feeds.connections

    def register_price_callback(self, callback: PriceCallback) -> None:
        """``async callback(symbol, price)`` on every price update; never blocks the reader."""
        self._feeds.on_price(callback)

    def register_funding_callback(self, callback: PriceCallback) -> None:
        """``async callback(symbol, funding_rate)`` on every ``markPrice`` update of a perp."""
        self._feeds.on_funding(callback)

    async def subscribe_orders(self, callback: EventCallback) -> None:
        """Private order updates (``account.orderUpdate``) → ``async callback(event)``."""
        await self._feeds.on_account("order", callback)

    async def subscribe_positions(self, callback: EventCallback) -> None:
        """Private position updates (``account.positionUpdate``) → ``async callback(event)``."""
        await self._feeds.on_account("position", callback)

    async def watch_order_book(self, symbol: str) -> LocalOrderBook:
        """A local book kept in sync from depth deltas (see :class:`LocalOrderBook`)."""
        return await self._feeds.book(await self.resolve_symbol(symbol))

    async def _depth_snapshot(self, symbol: str) -> dict[str, Any]:
        data: dict[str, Any] = await self._get("/api/v1/depth", {"symbol": symbol, "limit": 1000})
        return data


def commission_tier(spot_taker_bps: Any) -> str:
    """A readable fee tier from the spot taker fee in basis points (Tier 1 pays 10 bps)."""
    try:
        bps = Decimal(str(spot_taker_bps))
    except ArithmeticError:
        return "Unknown"
    tiers = [
        (Decimal(10), "Tier 1"),
        (Decimal(9), "Tier 2"),
        (Decimal(8), "Tier 3"),
        (Decimal(7), "Tier 4"),
        (Decimal(6), "Tier 5"),
    ]
    for limit, name in tiers:
        if bps >= limit:
            return name
    return "VIP"


def _position(r: dict[str, Any]) -> dict[str, Any]:
    out = dict(r)
    out["quantity"] = Decimal(str(r["netQuantity"]))
    out["unrealizedProfit"] = r.get("pnlUnrealized")
    out["realizedProfit"] = r.get("pnlRealized")
    out["liquidationPrice"] = r.get("estLiquidationPrice")
    out["fundingPaid"] = r.get("cumulativeFundingPayment")
    return out
