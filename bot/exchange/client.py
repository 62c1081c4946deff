"""``BackpackAPI``: the async Backpack Exchange client (the seed guide's public face).

REST goes through one pooled ``httpx.AsyncClient`` (on aiohttp's transport, measured fastest),
signed by :class:`~bot.exchange.auth.BackpackAuth`. Numbers come back as ``Decimal`` under the
exchange's own field names. Orders are rounded to the market's tick/step and checked before they
are sent, always carry a ``clientId``, and are never re-sent blindly: a lost answer is resolved by
looking the ``clientId`` up.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from decimal import ROUND_HALF_UP, Decimal
from types import TracebackType
from typing import Any

import aiohttp
import httpx
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from bot.clock import Clock, SystemClock
from bot.exchange.auth import EXTENSION, BackpackAuth, Signer
from bot.exchange.errors import (
    AuthError,
    BackpackError,
    ExchangeUnavailable,
    InvalidOrder,
    InvalidTrigger,
    NetworkError,
    NotFound,
    OrderStatusUnknown,
    RateLimitError,
    RequestTimeout,
    error_from_response,
)
from bot.exchange.markets import (
    Market,
    is_buy,
    plain,
    resolve_symbol,
    round_price,
    round_quantity,
    to_decimal,
    validate_order,
)
from bot.exchange.stream import CallbackDispatcher, LocalOrderBook, PriceCallback, StreamSupervisor

DEFAULT_REST = "https://api.backpack.exchange"
DEFAULT_WS = "wss://ws.backpack.exchange"
DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000)

#: Wire fields whose string values are decimals (converted to ``Decimal`` on the way in).
DECIMAL_FIELDS = frozenset(
    [
        "price",
        "quantity",
        "quoteQuantity",
        "executedQuantity",
        "executedQuoteQuantity",
        "triggerPrice",
        "triggerQuantity",
        "stopLossTriggerPrice",
        "stopLossLimitPrice",
        "takeProfitTriggerPrice",
        "takeProfitLimitPrice",
        "lastPrice",
        "firstPrice",
        "priceChange",
        "priceChangePercent",
        "high",
        "low",
        "volume",
        "quoteVolume",
        "markPrice",
        "indexPrice",
        "fundingRate",
        "openInterest",
        "netQuantity",
        "netExposureQuantity",
        "netExposureNotional",
        "netCost",
        "entryPrice",
        "breakEvenPrice",
        "estLiquidationPrice",
        "pnlRealized",
        "pnlUnrealized",
        "cumulativeFundingPayment",
        "cumulativeInterest",
        "imf",
        "mmf",
        "available",
        "locked",
        "staked",
        "fee",
        "open",
        "close",
        "assetsValue",
        "borrowLiability",
        "unsettledEquity",
        "liabilitiesValue",
        "marginFraction",
        "netEquity",
        "netEquityAvailable",
        "netEquityLocked",
        "netExposureFutures",
        "maxOrderQuantity",
        "futuresMakerFee",
        "futuresTakerFee",
        "spotMakerFee",
        "spotTakerFee",
        "leverageLimit",
        "borrowLimit",
        "positionLimit",
        "assetMarkPrice",
        "totalQuantity",
        "balanceNotional",
        "collateralWeight",
        "collateralValue",
        "openOrderQuantity",
        "lendQuantity",
        "availableQuantity",
    ]
)

RETRYABLE = (NetworkError, RateLimitError, ExchangeUnavailable)
_OPEN = ("New", "PartiallyFilled", "TriggerPending")


def decimalize(obj: Any) -> Any:
    """Convert known decimal fields (recursively) from strings to ``Decimal``."""
    if isinstance(obj, list):
        return [decimalize(x) for x in obj]
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            if k in DECIMAL_FIELDS and isinstance(v, str) and v not in ("", "N/A"):
                try:
                    out[k] = Decimal(v)
                except ArithmeticError:
                    out[k] = v
            elif isinstance(v, dict | list):
                out[k] = decimalize(v)
            else:
                out[k] = v
        return out
    return obj


def _with_aliases(order: dict[str, Any]) -> dict[str, Any]:
    """The seed guide reads ``order['orderId']`` and ``order['type']``: provide both."""
    order.setdefault("orderId", order.get("id"))
    order.setdefault("type", order.get("orderType"))
    return order


def _transport() -> httpx.AsyncBaseTransport:
    try:
        from httpx_aiohttp import AiohttpTransport
    except ImportError:  # pragma: no cover - the dependency is pinned
        return httpx.AsyncHTTPTransport()
    transport: httpx.AsyncBaseTransport = AiohttpTransport()
    return transport


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
        self.max_retries = max_retries
        self.time_offset_ms = 0
        self._time_synced = False
        self._signer = Signer(api_key or "", api_secret) if api_secret else None
        auth = BackpackAuth(self._signer, self._now_ms, window_ms) if self._signer else None
        self._auth = auth
        self._timeout = timeout
        # Signed writes (orders, cancels) go straight through aiohttp: the httpx adapter costs
        # ~0.6 ms per POST, which is most of a localhost order round trip. Reads keep httpx.
        self._direct = transport is None
        self._session: aiohttp.ClientSession | None = None
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            auth=auth,
            timeout=timeout,
            transport=transport or _transport(),
            headers={"Content-Type": "application/json; charset=utf-8"},
        )
        self.markets: dict[str, Market] = {}
        self.prices: dict[str, Decimal] = {}
        self.mark_prices: dict[str, Decimal] = {}
        self.funding_rates: dict[str, Decimal] = {}
        self.next_funding: dict[str, int] = {}
        self.best_bid_ask: dict[str, tuple[Decimal, Decimal]] = {}
        self.last_update: dict[str, float] = {}
        self.books: dict[str, LocalOrderBook] = {}
        self._price_callbacks: list[CallbackDispatcher] = []
        self._funding_callbacks: list[CallbackDispatcher] = []
        self._order_callbacks: list[Callable[[dict[str, Any]], Awaitable[None]]] = []
        self._position_callbacks: list[Callable[[dict[str, Any]], Awaitable[None]]] = []
        self._event_tasks: set[asyncio.Task[None]] = set()
        self._stream = StreamSupervisor(
            ws_url,
            self._on_frame,
            logger=self.logger,
            signature=self._ws_signature if self._signer else None,
            silence_timeout=stream_silence_timeout,
            on_connect=self._on_stream_connect,
        )
        self.on_reconnect: list[Callable[[], Awaitable[None]]] = []

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
        await self._stream.stop()
        for d in (*self._price_callbacks, *self._funding_callbacks):
            await d.stop()
        for t in list(self._event_tasks):
            t.cancel()
        await self._http.aclose()
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _now_ms(self) -> int:
        return int(self.clock.time() * 1000) + self.time_offset_ms

    async def sync_time(self) -> int:
        """Measure the server clock offset (ms) so signed timestamps are right on a skewed host."""
        t0 = time.monotonic()
        local0 = self.clock.time()
        r = await self._http.get("/api/v1/time")
        rtt = time.monotonic() - t0
        server_ms = int(r.text.strip())
        self.time_offset_ms = server_ms - int((local0 + rtt / 2) * 1000)
        self._time_synced = True
        return self.time_offset_ms

    # ------------------------------------------------------------------ transport

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        instruction: str | None = None,
    ) -> Any:
        if instruction is not None:
            if self._signer is None:
                raise AuthError(
                    "this call needs BACKPACK_API_KEY and BACKPACK_API_SECRET", code="NO_API_KEYS"
                )
            if not self._time_synced:
                try:
                    await self.sync_time()
                except (httpx.HTTPError, ValueError):
                    self.logger.warning("could not read the exchange clock; using local time")
                    self._time_synced = True
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        query = {k: _query_value(v) for k, v in clean.items()}
        if body is not None and instruction is not None and self._direct:
            return await self._send_direct(method, path, query, body, instruction)
        sign_params: Any = body if body is not None else query
        ext = {EXTENSION: (instruction, sign_params)} if instruction else None
        try:
            if body is not None:
                content = json.dumps(body, separators=(",", ":"))
                resp = await self._http.request(
                    method, path, params=query or None, content=content, extensions=ext
                )
            else:
                resp = await self._http.request(method, path, params=query or None, extensions=ext)
        except httpx.TimeoutException as exc:
            raise RequestTimeout(f"{method} {path} timed out", code="TIMEOUT") from exc
        except httpx.TransportError as exc:
            raise NetworkError(
                f"{method} {path} failed: {type(exc).__name__}", code="NETWORK_ERROR"
            ) from exc
        if resp.status_code >= 400:
            raise error_from_response(resp.status_code, resp.text)
        if not resp.content:
            return None
        ctype = resp.headers.get("content-type", "")
        if "json" not in ctype:
            return resp.text
        return decimalize(resp.json())

    async def _send_direct(
        self, method: str, path: str, query: dict[str, str], body: Any, instruction: str
    ) -> Any:
        """A signed write over aiohttp, with the same errors and results as the httpx path."""
        assert self._auth is not None
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._timeout),
                connector=aiohttp.TCPConnector(limit=100),
            )
        headers = self._auth.headers(instruction, body)
        headers["Content-Type"] = "application/json; charset=utf-8"
        content = json.dumps(body, separators=(",", ":"))
        try:
            async with self._session.request(
                method, self.base_url + path, params=query or None, data=content, headers=headers
            ) as resp:
                status, text = resp.status, await resp.text()
                ctype = resp.headers.get("content-type", "")
        except TimeoutError as exc:
            raise RequestTimeout(f"{method} {path} timed out", code="TIMEOUT") from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(
                f"{method} {path} failed: {type(exc).__name__}", code="NETWORK_ERROR"
            ) from exc
        if status >= 400:
            raise error_from_response(status, text)
        if not text:
            return None
        if "json" not in ctype:
            return text
        return decimalize(json.loads(text))

    async def _get(
        self, path: str, params: dict[str, Any] | None = None, instruction: str | None = None
    ) -> Any:
        """An idempotent GET, retried with exponential backoff + jitter on 429/5xx/network."""
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(RETRYABLE),
            stop=stop_after_attempt(self.max_retries),
            wait=wait_exponential_jitter(multiplier=0.1, max=2.0),
            reraise=True,
        ):
            with attempt:
                return await self._send("GET", path, params=params, instruction=instruction)
        raise AssertionError("unreachable")  # pragma: no cover

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

        Sizes and prices are rounded to the market's step (down) and tick (safe direction) and
        checked against its limits first. A lost answer is resolved by ``clientId``.

        Conditional orders: ``trigger_price`` makes the order wait (``TriggerPending``) until
        the ``trigger_by`` price (``MarkPrice`` default, ``LastPrice``, ``IndexPrice``) reaches
        it; its size is ``trigger_quantity`` (a quantity, or ``"50%"`` of the position) — a
        ``quantity`` given instead is sent as the trigger quantity. ``stop_loss`` /
        ``take_profit`` attach protective trigger prices to the order (perps): the exchange
        places them, reduce-only, when the order fills. Trigger prices are rounded to the
        nearest tick.
        """
        if trigger_price is not None and trigger_quantity is None and quantity is not None:
            trigger_quantity, quantity = quantity, None
        market = await self.market(symbol)
        buy = is_buy(side)
        otype = order_type.strip().upper()
        if otype not in ("MARKET", "LIMIT"):
            raise InvalidOrder(
                f"order_type must be MARKET or LIMIT, got {order_type!r}",
                code="INVALID_CLIENT_REQUEST",
            )
        body: dict[str, Any] = {
            "symbol": market.symbol,
            "side": "Bid" if buy else "Ask",
            "orderType": "Market" if otype == "MARKET" else "Limit",
        }
        qty: Decimal | None = None
        if quantity is not None:
            raw_qty = to_decimal(quantity, "quantity")
            qty = round_quantity(market, raw_qty)
            if qty <= 0 < raw_qty:
                raise InvalidOrder(
                    f"quantity {plain(raw_qty)} rounds to 0 with step "
                    f"{plain(market.step_size)} for {market.symbol}; "
                    f"the minimum is {plain(market.min_quantity)}",
                    code="INVALID_QUANTITY",
                )
        px: Decimal | None = None
        if otype == "LIMIT":
            if price is None:
                raise InvalidOrder(
                    "a LIMIT order needs both quantity and price", code="INVALID_CLIENT_REQUEST"
                )
            px = round_price(market, to_decimal(price, "price"), side)
        trigger = _trigger_fields(
            market,
            trigger_price=trigger_price,
            trigger_quantity=trigger_quantity,
            trigger_by=trigger_by,
            stop_loss=stop_loss,
            take_profit=take_profit,
        )
        if "triggerPrice" in trigger:
            if qty is not None or quote_quantity is not None:
                raise InvalidTrigger(
                    "a trigger order takes trigger_quantity, not quantity",
                    code="INVALID_CLIENT_REQUEST",
                )
        elif otype == "LIMIT" and qty is None:
            raise InvalidOrder(
                "a LIMIT order needs both quantity and price", code="INVALID_CLIENT_REQUEST"
            )
        elif otype == "MARKET" and (qty is None) == (quote_quantity is None):
            raise InvalidOrder(
                "a MARKET order needs a quantity or a quote_quantity (not both)",
                code="INVALID_CLIENT_REQUEST",
            )
        if otype == "MARKET" and post_only:
            raise InvalidOrder("post_only applies to LIMIT orders only", code="INVALID_ORDER")
        validate_order(market, qty, px)
        if qty is not None:
            body["quantity"] = plain(qty)
        if px is not None:
            body["price"] = plain(px)
        if quote_quantity is not None:
            qq = to_decimal(quote_quantity, "quote_quantity")
            if qq <= 0:
                raise InvalidOrder("quote_quantity must be positive", code="INVALID_QUANTITY")
            body["quoteQuantity"] = plain(qq)
        body.update(trigger)
        if post_only:
            body["postOnly"] = True
        if reduce_only:
            body["reduceOnly"] = True
        if time_in_force:
            tif = time_in_force.upper()
            if tif not in ("GTC", "IOC", "FOK"):
                raise InvalidOrder("time_in_force must be GTC, IOC or FOK", code="INVALID_ORDER")
            body["timeInForce"] = tif
        cid = client_id if client_id is not None else new_client_id()
        if not 0 <= cid <= 0xFFFFFFFF:
            raise InvalidOrder("client_id must fit in 32 bits", code="INVALID_CLIENT_REQUEST")
        body["clientId"] = cid
        return await self._execute(body)

    async def _execute(self, body: dict[str, Any]) -> dict[str, Any]:
        cid: int = body["clientId"]
        symbol: str = body["symbol"]
        self.logger.info(
            "order %s %s %s qty=%s price=%s cid=%s",
            body["side"],
            body["orderType"],
            symbol,
            body.get("quantity"),
            body.get("price"),
            cid,
        )
        try:
            order: dict[str, Any] = await self._send(
                "POST", "/api/v1/order", body=body, instruction="orderExecute"
            )
            return _with_aliases(order)
        except (NetworkError, ExchangeUnavailable) as exc:
            self.logger.warning("order cid=%s: %s; looking it up by clientId", cid, exc)
            found = await self.find_order_by_client_id(symbol, cid)
            if found is not None:
                return _with_aliases(found)
            raise NetworkError(
                f"the order was not placed ({exc.message}); it is safe to try again",
                code=exc.code,
            ) from exc

    async def find_order_by_client_id(self, symbol: str, cid: int) -> dict[str, Any] | None:
        """Find an order by clientId: open orders first, then history. ``None`` = not placed.

        The one clientId lookup: a lost answer here, and recovery after a restart, both use it.
        Raises :class:`OrderStatusUnknown` when the exchange cannot be asked.
        """
        last_error: Exception | None = None
        for delay in (0.0, 0.3, 1.0):
            await asyncio.sleep(delay)
            try:
                try:
                    order: dict[str, Any] = await self._send(
                        "GET",
                        "/api/v1/order",
                        params={"symbol": symbol, "clientId": cid},
                        instruction="orderQuery",
                    )
                    return _with_aliases(order)
                except NotFound:
                    pass
                rows = await self._send(
                    "GET",
                    "/wapi/v1/history/orders",
                    params={"symbol": symbol, "limit": 100},
                    instruction="orderHistoryQueryAll",
                )
                for row in rows:
                    if row.get("clientId") is not None and int(row["clientId"]) == cid:
                        return _with_aliases(dict(row))
                last_error = None
            except BackpackError as exc:
                last_error = exc
        if last_error is not None:
            raise OrderStatusUnknown(
                f"order clientId={cid} on {symbol}: no answer and the lookup failed "
                f"({last_error}); check open orders before sending it again",
                client_id=cid,
                symbol=symbol,
            )
        return None

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
            return _with_aliases(order)
        except NotFound:
            rows = await self._get(
                "/wapi/v1/history/orders",
                {"symbol": sym, "orderId": order_id},
                "orderHistoryQueryAll",
            )
            if not rows:
                raise NotFound(f"no order {order_id} on {sym}", code="RESOURCE_NOT_FOUND") from None
            return _with_aliases(dict(rows[0]))

    async def get_open_orders(self, symbol: str | None = None) -> list[dict[str, Any]]:
        params = {"symbol": await self.resolve_symbol(symbol)} if symbol else None
        rows = await self._get("/api/v1/orders", params, "orderQueryAll")
        return [_with_aliases(o) for o in rows]

    async def cancel_order(self, symbol: str, order_id: str) -> dict[str, Any]:
        sym = await self.resolve_symbol(symbol)
        order: dict[str, Any] = await self._send(
            "DELETE",
            "/api/v1/order",
            body={"orderId": str(order_id), "symbol": sym},
            instruction="orderCancel",
        )
        return _with_aliases(order)

    async def cancel_all_orders(self, symbol: str | None = None) -> list[dict[str, Any]]:
        """Cancel every open order of a market, or of every market when ``symbol`` is None."""
        if symbol is not None:
            symbols = [await self.resolve_symbol(symbol)]
        else:
            symbols = sorted({o["symbol"] for o in await self.get_open_orders()})
        out: list[dict[str, Any]] = []
        for sym in symbols:
            rows = await self._send(
                "DELETE", "/api/v1/orders", body={"symbol": sym}, instruction="orderCancelAll"
            )
            out.extend(_with_aliases(o) for o in rows or [])
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
        return [_with_aliases(dict(r)) for r in rows]

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
        await self._stream.subscribe(streams)
        for d in (*self._price_callbacks, *self._funding_callbacks):
            d.start()
        await self._stream.start()

    async def stop_ws_price_stream(self) -> None:
        await self._stream.stop()

    @property
    def stream_connected(self) -> bool:
        return self._stream.connected.is_set()

    def register_price_callback(self, callback: PriceCallback) -> None:
        """``async callback(symbol, price)`` on every price update; never blocks the reader."""
        d = CallbackDispatcher(callback, self.logger)
        self._price_callbacks.append(d)
        if self._stream.running:
            d.start()

    def register_funding_callback(self, callback: PriceCallback) -> None:
        """``async callback(symbol, funding_rate)`` on every ``markPrice`` update of a perp."""
        d = CallbackDispatcher(callback, self.logger)
        self._funding_callbacks.append(d)
        if self._stream.running:
            d.start()

    async def subscribe_orders(self, callback: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        """Private order updates (``account.orderUpdate``) → ``async callback(event)``."""
        self._order_callbacks.append(callback)
        await self._stream.subscribe(["account.orderUpdate"], private=True)
        if not self._stream.running:
            await self._stream.start()

    async def subscribe_positions(
        self, callback: Callable[[dict[str, Any]], Awaitable[None]]
    ) -> None:
        """Private position updates (``account.positionUpdate``) → ``async callback(event)``."""
        self._position_callbacks.append(callback)
        await self._stream.subscribe(["account.positionUpdate"], private=True)
        if not self._stream.running:
            await self._stream.start()

    async def watch_order_book(self, symbol: str) -> LocalOrderBook:
        """A local book kept in sync from depth deltas (see :class:`LocalOrderBook`)."""
        sym = await self.resolve_symbol(symbol)
        book = self.books.get(sym)
        if book is None:
            book = self.books[sym] = LocalOrderBook(sym)
            await self._stream.subscribe([f"depth.{sym}"])
            if not self._stream.running:
                await self._stream.start()
            await self._snapshot(book)
        return book

    async def _snapshot(self, book: LocalOrderBook) -> None:
        data = await self._get("/api/v1/depth", {"symbol": book.symbol, "limit": 1000})
        book.on_snapshot(data)

    def _ws_signature(self) -> list[str]:
        assert self._signer is not None
        ts = self._now_ms()
        window = 5000
        sig = self._signer.sign(f"instruction=subscribe&timestamp={ts}&window={window}")
        return [self._signer.api_key, sig, str(ts), str(window)]

    async def _on_stream_connect(self) -> None:
        for book in self.books.values():
            book.reset()
            self._spawn(self._snapshot(book))
        for cb in self.on_reconnect:
            self._spawn(cb())

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._event_tasks.add(task)
        task.add_done_callback(self._event_done)

    def _event_done(self, task: asyncio.Task[None]) -> None:
        self._event_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.logger.error("stream callback failed: %r", task.exception())

    def _on_frame(self, msg: dict[str, Any]) -> None:
        """Hot path: one parsed frame from the socket."""
        data = msg.get("data")
        if data is None:
            if "error" in msg:
                self.logger.warning("stream error: %s", msg["error"])
            return
        stream: str = msg.get("stream", "")
        kind = stream.split(".", 1)[0]
        if kind == "ticker":
            self._price(data["s"], Decimal(data["c"]))
        elif kind == "bookTicker":
            self.best_bid_ask[data["s"]] = (Decimal(data["b"]), Decimal(data["a"]))
        elif kind == "markPrice":
            sym = data["s"]
            self.mark_prices[sym] = Decimal(data["p"])
            if "f" in data:
                rate = self.funding_rates[sym] = Decimal(data["f"])
                self.next_funding[sym] = int(data["n"])
                for d in self._funding_callbacks:
                    d.push(sym, rate)
            self.last_update[sym] = time.monotonic()
        elif kind == "depth":
            book = self.books.get(data["s"])
            if book is not None:
                book.on_delta(data)
                if book.last_update_id is not None and not book.synced:
                    book.reset()
                    self._spawn(self._snapshot(book))
        elif kind == "trade":
            self._price(data["s"], Decimal(data["p"]))
        elif kind == "account":
            targets = self._order_callbacks if "orderUpdate" in stream else self._position_callbacks
            event = decimalize(data)
            for cb in targets:
                self._spawn(cb(event))

    def _price(self, symbol: str, price: Decimal) -> None:
        self.prices[symbol] = price
        self.last_update[symbol] = time.monotonic()
        for d in self._price_callbacks:
            d.push(symbol, price)


TRIGGER_BY = ("MarkPrice", "LastPrice", "IndexPrice")


def round_trigger(market: Market, price: Decimal) -> Decimal:
    """A trigger price on the market's tick (nearest; a trigger has no "safe" side)."""
    tick = market.tick_size
    return (price / tick).to_integral_value(rounding=ROUND_HALF_UP) * tick


def _trigger_fields(
    market: Market,
    *,
    trigger_price: Decimal | str | int | float | None,
    trigger_quantity: Decimal | str | int | float | None,
    trigger_by: str | None,
    stop_loss: Decimal | str | int | float | None,
    take_profit: Decimal | str | int | float | None,
) -> dict[str, Any]:
    """The wire fields of a conditional order and of attached SL/TP, rounded and checked."""
    out: dict[str, Any] = {}
    if (trigger_price is None) != (trigger_quantity is None):
        raise InvalidTrigger(
            "a trigger order needs both trigger_price and trigger_quantity",
            code="INVALID_CLIENT_REQUEST",
        )
    if trigger_by is not None and trigger_by not in TRIGGER_BY:
        raise InvalidTrigger(
            f"trigger_by must be one of {', '.join(TRIGGER_BY)}, got {trigger_by!r}",
            code="INVALID_CLIENT_REQUEST",
        )

    def price(value: Decimal | str | int | float, name: str) -> str:
        px = round_trigger(market, to_decimal(value, name))
        if px <= 0:
            raise InvalidTrigger(f"{name} must be positive", code="INVALID_PRICE")
        return plain(px)

    if trigger_price is not None and trigger_quantity is not None:
        out["triggerPrice"] = price(trigger_price, "trigger_price")
        text = str(trigger_quantity).strip()
        if text.endswith("%"):
            pct = to_decimal(text[:-1], "trigger_quantity")
            if not 0 < pct <= 100:
                raise InvalidTrigger(
                    "trigger_quantity percentage must be in (0, 100]", code="INVALID_QUANTITY"
                )
            out["triggerQuantity"] = f"{plain(pct)}%"
        else:
            tq = round_quantity(market, to_decimal(trigger_quantity, "trigger_quantity"))
            validate_order(market, tq, None)
            out["triggerQuantity"] = plain(tq)
        if trigger_by is not None:
            out["triggerBy"] = trigger_by
    if (stop_loss is not None or take_profit is not None) and not market.is_perp:
        raise InvalidTrigger(
            "stop_loss and take_profit apply to perp markets only", code="INVALID_ORDER"
        )
    if stop_loss is not None:
        out["stopLossTriggerPrice"] = price(stop_loss, "stop_loss")
        if trigger_by is not None:
            out["stopLossTriggerBy"] = trigger_by
    if take_profit is not None:
        out["takeProfitTriggerPrice"] = price(take_profit, "take_profit")
        if trigger_by is not None:
            out["takeProfitTriggerBy"] = trigger_by
    return out


def new_client_id() -> int:
    """A random uint32 client order id."""
    return secrets.randbelow(0xFFFFFFFF) + 1


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


def _query_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)
