"""Any ccxt exchange with perpetual swaps behind the venue port (async ccxt).

ccxt is the field's library for talking to exchanges; we never hand-write a second client.
Quantities cross the port in base units: contracts are converted with the market's
``contractSize`` here, so a venue quoting in contracts (OKX) and one quoting in coins
(Binance, Bybit, Hyperliquid) look the same to the strategy.

The funding interval is read from the venue, in this order: ``fetchFundingInterval`` when the
exchange has it; the market's own ``fundingInterval``/``fundingIntervalHours`` field; the
distance between the previous and the next funding time; the funding rate's ``interval``;
the spacing of the last two historical rates. Nothing is assumed: a venue that says nothing
is an error, never "8 h".
"""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

import ccxt.async_support as ccxt_async
from ccxt.base.decimal_to_precision import TICK_SIZE

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
from bot.venues.rules import Refused, VenueRules, rules_for

#: Credential keys that are not ccxt constructor fields but options (Hyperliquid's vault or
#: sub-account the agent wallet trades for).
_OPTION_KEYS = ("vaultAddress", "subAccountAddress")

#: Used when the venue publishes no taker fee for the market (ccxt's ``taker`` is ``None``).
DEFAULT_TAKER_FEE = Decimal("0.0005")
#: How long a funding interval read from the venue is trusted before it is read again.
INTERVAL_TTL_SECONDS = 3600.0
_HOUR_MS = 3_600_000
_STATUS: dict[str, Any] = {
    "open": "open",
    "closed": "filled",
    "canceled": "cancelled",
    "cancelled": "cancelled",
    "expired": "cancelled",
    "rejected": "rejected",
}


def dec(value: Any) -> Decimal | None:
    """ccxt's floats to ``Decimal`` via their shortest repr (``0.1`` stays ``0.1``)."""
    if value is None or value == "":
        return None
    return Decimal(str(value))


def interval_hours_from_field(value: Any) -> Decimal | None:
    """A market's raw ``fundingInterval``, whose unit differs by venue: milliseconds
    (Backpack: 28800000), minutes (Bybit: 480) or hours (8). Told apart by size: no venue pays
    more rarely than every 59 hours or more often than every minute."""
    v = dec(value)
    if v is None or v <= 0:
        return None
    if v >= 60_000:
        return v / _HOUR_MS
    if v >= 60:
        return v / 60
    return v


def interval_hours_from_text(text: Any) -> Decimal | None:
    """``'8h'``, ``'1h'``, ``'30m'`` → hours."""
    if not isinstance(text, str) or len(text) < 2:
        return None
    unit, number = text[-1].lower(), dec(text[:-1]) if text[:-1].isdigit() else None
    if number is None or number <= 0:
        return None
    return {"h": number, "m": number / 60, "d": number * 24}.get(unit)


def point_urls(api: Any, url: str) -> Any:
    """Every REST URL in ccxt's ``urls['api']`` replaced by ``url`` (a gateway, a simulator)."""
    if isinstance(api, dict):
        return {k: point_urls(v, url) for k, v in api.items()}
    if isinstance(api, str):
        return url
    return api


def make_exchange(
    exchange_id: str,
    credentials: str,
    api_url: str | None,
    *,
    slippage: Decimal | None = None,
    leverage: int | None = None,
) -> Any:
    """The async ccxt exchange object; ``credentials`` is the JSON for its constructor.

    The venue's rules (:mod:`bot.venues.rules`) add their options (perps-only market list, a
    Hyperliquid vault) and ride along as ``exchange.bot_rules`` for :class:`CcxtVenue`."""
    cls = getattr(ccxt_async, exchange_id, None)
    if cls is None:
        raise VenueError(exchange_id, "ccxt has no exchange with this id")
    try:
        config: Any = json.loads(credentials) if credentials.strip() else {}
    except ValueError:  # the text is a secret: never echo it
        config = None
    if not isinstance(config, dict):
        raise VenueError(exchange_id, "HEDGE_CREDENTIALS must be a JSON object")
    rules = rules_for(
        exchange_id,
        {
            **{k: config[k] for k in _OPTION_KEYS if config.get(k)},
            "slippage": slippage,
            "leverage": leverage,
        },
    )
    fields = {k: v for k, v in config.items() if k not in _OPTION_KEYS}
    options = {**(fields.pop("options", None) or {}), **rules.exchange_options()}
    ex = cls({**fields, "enableRateLimit": True, "options": options})
    if api_url:
        ex.urls["api"] = point_urls(ex.urls.get("api"), api_url.rstrip("/"))
    if not rules.read_currencies:
        ex.has = {**ex.has, "fetchCurrencies": False}
    ex.bot_rules = rules
    return ex


class CcxtVenue:
    """A venue over an async ccxt exchange object, which this adapter owns and closes."""

    def __init__(
        self, exchange: Any, label: str | None = None, rules: VenueRules | None = None
    ) -> None:
        self.ex = exchange
        self.label = label or str(exchange.id)
        self.rules: VenueRules = (
            rules
            or getattr(exchange, "bot_rules", None)
            or rules_for(str(getattr(exchange, "id", "")))
        )
        self._leverage_set: set[str] = set()
        self._markets: dict[str, VenueMarket] = {}
        self._contract_size: dict[str, Decimal] = {}
        self._intervals: dict[str, tuple[float, Decimal]] = {}
        self._reload = False

    @property
    def name(self) -> str:
        return self.label

    def client_order_id(self, client_id: int) -> str:
        """The id the venue knows the bot's ``client_id`` by (Hyperliquid: a hex cloid)."""
        return self.rules.client_order_id(client_id)

    def _fail(self, exc: Exception) -> VenueError:
        """The venue's own words, with any credential the exchange object holds blanked."""
        text = str(exc) or type(exc).__name__
        for field in ("apiKey", "secret", "password", "privateKey", "walletAddress", "token"):
            value = getattr(self.ex, field, None)
            if isinstance(value, str) and len(value) >= 4:
                text = text.replace(value, "<secret>")
        refused = isinstance(exc, ccxt_async.RateLimitExceeded | ccxt_async.DDoSProtection)
        uncertain = isinstance(exc, ccxt_async.NetworkError) and not refused
        return VenueError(self.name, text[:300], uncertain=uncertain)

    async def _load(self) -> dict[str, Any]:
        try:
            markets: dict[str, Any] = await self.ex.load_markets(self._reload)
        except ccxt_async.BaseError as exc:
            raise self._fail(exc) from exc
        self._reload = False
        return markets

    def forget_markets(self) -> None:
        """Read the venue's market list again on next use (it has listed a new market)."""
        self._markets = {}
        self._reload = True

    def _unit(self, value: Any) -> Decimal:
        """A precision entry as a step: ccxt gives a tick size or a number of decimals."""
        v = dec(value) or Decimal(0)
        return v if self.ex.precisionMode == TICK_SIZE else Decimal(1).scaleb(-int(v))

    async def markets(self) -> dict[str, VenueMarket]:
        if self._markets:
            return self._markets
        out: dict[str, VenueMarket] = {}
        for sym, m in (await self._load()).items():
            if not m.get("swap") or not m.get("linear") or m.get("active") is False:
                continue
            size = dec(m.get("contractSize")) or Decimal(1)
            limits = m.get("limits") or {}
            precision = m.get("precision") or {}
            step = self._unit(precision.get("amount")) * size
            self._contract_size[sym] = size
            out[sym] = VenueMarket(
                symbol=sym,
                base=str(m["base"]),
                quote=str(m["quote"]),
                settle=str(m.get("settle") or m["quote"]),
                tick=self._unit(precision.get("price")),
                step=step,
                min_quantity=(dec((limits.get("amount") or {}).get("min")) or Decimal(0)) * size
                or step,
                min_notional=dec((limits.get("cost") or {}).get("min")) or Decimal(0),
                taker_fee=dec(m.get("taker")) or DEFAULT_TAKER_FEE,
            )
        self._markets = out
        return out

    async def _market(self, symbol: str) -> VenueMarket:
        market = (await self.markets()).get(symbol)
        if market is None:
            raise VenueError(self.name, f"no perpetual swap {symbol}")
        return market

    async def _interval(self, symbol: str, rate: dict[str, Any]) -> Decimal:
        cached = self._intervals.get(symbol)
        now = time.monotonic()
        if cached is not None and now - cached[0] < INTERVAL_TTL_SECONDS:
            return cached[1]
        hours = await self._read_interval(symbol, rate)
        if hours is None:
            raise VenueError(self.name, f"{symbol}: the venue does not say its funding interval")
        self._intervals[symbol] = (now, hours)
        return hours

    async def _read_interval(self, symbol: str, rate: dict[str, Any]) -> Decimal | None:
        try:
            if self.ex.has.get("fetchFundingInterval"):
                try:
                    got = await self.ex.fetch_funding_interval(symbol)
                except ccxt_async.NetworkError:
                    raise
                except ccxt_async.BaseError:  # Binance lists only changed intervals
                    got = {}
                hours = interval_hours_from_text(got.get("interval"))
                if hours is not None:
                    return hours
            info = (self.ex.markets.get(symbol) or {}).get("info") or {}
            for key in ("fundingInterval", "fundingIntervalHours", "funding_interval"):
                hours = interval_hours_from_field(info.get(key))
                if hours is not None:
                    return hours
            prev, nxt = rate.get("fundingTimestamp"), rate.get("nextFundingTimestamp")
            if prev and nxt and nxt > prev:
                return Decimal(int(nxt) - int(prev)) / _HOUR_MS
            hours = interval_hours_from_text(rate.get("interval"))
            if hours is not None:
                return hours
            if self.ex.has.get("fetchFundingRateHistory"):
                rows = await self.ex.fetch_funding_rate_history(symbol, limit=3)
                times = sorted(int(r["timestamp"]) for r in rows if r.get("timestamp"))
                if len(times) >= 2 and times[-1] > times[-2]:
                    return Decimal(times[-1] - times[-2]) / _HOUR_MS
        except ccxt_async.BaseError as exc:
            raise self._fail(exc) from exc
        return None

    async def funding(self, symbol: str) -> FundingQuote:
        await self._market(symbol)
        try:
            rate: dict[str, Any] = await self.ex.fetch_funding_rate(symbol)
        except ccxt_async.BaseError as exc:
            raise self._fail(exc) from exc
        value = dec(rate.get("fundingRate"))
        if value is None:
            raise VenueError(self.name, f"{symbol} has no funding rate")
        nxt = rate.get("nextFundingTimestamp") or rate.get("fundingTimestamp")
        return FundingQuote(
            symbol=symbol,
            rate=value,
            interval_hours=await self._interval(symbol, rate),
            next_funding_ms=int(nxt) if nxt else None,
            mark=dec(rate.get("markPrice")),
        )

    async def order_book(self, symbol: str, depth: int = 50) -> OrderBook:
        await self._market(symbol)
        size = self._contract_size[symbol]
        try:
            ob = await self.ex.fetch_order_book(symbol, depth)
        except ccxt_async.BaseError as exc:
            raise self._fail(exc) from exc

        def side(rows: list[list[Any]]) -> tuple[tuple[Decimal, Decimal], ...]:
            return tuple((Decimal(str(r[0])), Decimal(str(r[1])) * size) for r in rows[:depth])

        return OrderBook(symbol=symbol, bids=side(ob["bids"]), asks=side(ob["asks"]))

    def _order(self, row: dict[str, Any]) -> VenueOrder:
        sym = str(row["symbol"])
        size = self._contract_size.get(sym, Decimal(1))
        amount = dec(row.get("amount"))
        filled = (dec(row.get("filled")) or Decimal(0)) * size
        return VenueOrder(
            order_id=str(row["id"]),
            client_id=self.rules.client_id_of(row.get("clientOrderId")),
            symbol=sym,
            side="buy" if row.get("side") == "buy" else "sell",
            quantity=amount * size if amount is not None else filled,
            filled=filled,
            average_price=dec(row.get("average")),
            status=_STATUS.get(str(row.get("status")), "open"),
        )

    async def place_order(
        self,
        symbol: str,
        side: Side,
        quantity: Decimal,
        *,
        client_id: int,
        reduce_only: bool = False,
    ) -> VenueOrder:
        """A market leg as the venue takes it (its rules' :class:`LegPlan`); what the venue
        would refuse is refused here, before anything is sent."""
        market = await self._market(symbol)
        book = await self.order_book(symbol) if self.rules.needs_book else None
        try:
            plan = self.rules.plan(market, side, quantity, book, reduce_only=reduce_only)
        except Refused as exc:
            raise VenueError(self.name, str(exc)) from exc
        problem = None if self.rules.needs_book else self.rules.refuse(market, plan.quantity, None)
        if problem:
            raise VenueError(self.name, problem)
        await self._set_leverage(symbol)
        contracts = plan.quantity / self._contract_size[symbol]
        params = {**plan.params, **self.rules.client_params(client_id)}
        price = float(plan.price) if plan.price is not None else None
        try:
            row = await self.ex.create_order(
                symbol, plan.type, side, float(contracts), price, params
            )
        except ccxt_async.BaseError as exc:
            raise self._fail(exc) from exc
        known = {k: v for k, v in row.items() if v is not None}
        if known.get("status") == "rejected" and not known.get("id"):
            info = known.get("info") or {}
            raise VenueError(self.name, str(info.get("error") or "the order was refused")[:300])
        return self._order(
            {
                "symbol": symbol,
                "side": side,
                "amount": float(contracts),
                "clientOrderId": self.client_order_id(client_id),
                **known,
            }
        )

    async def _set_leverage(self, symbol: str) -> None:
        """The rules' leverage on ``symbol``, once per market before its first order."""
        if symbol in self._leverage_set:
            return
        info = (self.ex.markets.get(symbol) or {}).get("info") or {}
        leverage = self.rules.leverage(info)
        if leverage is not None:
            try:
                await self.ex.set_leverage(leverage, symbol, self.rules.leverage_params())
            except ccxt_async.BaseError as exc:
                raise self._fail(exc) from exc
        self._leverage_set.add(symbol)

    async def cancel_order(self, symbol: str, order_id: str) -> None:
        try:
            await self.ex.cancel_order(order_id, symbol)
        except ccxt_async.BaseError as exc:
            raise self._fail(exc) from exc

    async def order_by_client_id(self, symbol: str, client_id: int) -> VenueOrder | None:
        await self._market(symbol)
        want = self.client_order_id(client_id)
        read = self.rules.read_params()
        try:
            if self.rules.lookup_by_client_id():
                try:
                    row = await self.ex.fetch_order("", symbol, {**read, "clientOrderId": want})
                except ccxt_async.OrderNotFound:
                    return None
                if not row.get("id"):
                    return None
                if row.get("average") is None and row.get("filled"):
                    row = {**row, "average": await self._average(symbol, str(row["id"]))}
                return self._order({"symbol": symbol, **row})
            rows: list[dict[str, Any]] = await self.ex.fetch_open_orders(symbol, None, None, read)
            if self.ex.has.get("fetchOrders"):
                rows += await self.ex.fetch_orders(symbol, None, None, read)
            elif self.ex.has.get("fetchClosedOrders"):
                rows += await self.ex.fetch_closed_orders(symbol, None, None, read)
        except ccxt_async.BaseError as exc:
            raise self._fail(exc) from exc
        for row in rows:
            if str(row.get("clientOrderId")) == want:
                return self._order(row)
        return None

    async def market_stats(self, symbol: str) -> tuple[Decimal | None, Decimal | None]:
        """Open interest and 24 h volume, both in USD (``None`` when the venue does not say):
        for ``ARB_MIN_OPEN_INTEREST`` / ``ARB_MIN_VOLUME_24H``."""
        await self._market(symbol)
        try:
            ticker: dict[str, Any] = await self.ex.fetch_ticker(symbol)
            oi: dict[str, Any] = (
                await self.ex.fetch_open_interest(symbol)
                if self.ex.has.get("fetchOpenInterest")
                else {}
            )
        except ccxt_async.BaseError as exc:
            raise self._fail(exc) from exc
        price = dec(ticker.get("last")) or dec(ticker.get("close"))
        volume = dec(ticker.get("quoteVolume"))
        if volume is None and price is not None:
            base = dec(ticker.get("baseVolume"))
            volume = base * price * self._contract_size[symbol] if base is not None else None
        value = dec(oi.get("openInterestValue"))
        amount = dec(oi.get("openInterestAmount"))
        if value is None and amount is not None and price is not None:
            value = amount * self._contract_size[symbol] * price
        return value, volume

    async def _average(self, symbol: str, order_id: str) -> float | None:
        """The average fill price of an order from the account's fills (a status lookup on
        Hyperliquid does not carry it)."""
        if not self.ex.has.get("fetchMyTrades"):
            return None
        trades = await self.ex.fetch_my_trades(symbol, None, None, self.rules.read_params())
        mine = [t for t in trades if str(t.get("order")) == order_id]
        amount = sum(Decimal(str(t["amount"])) for t in mine)
        if not amount:
            return None
        cost = sum(Decimal(str(t["amount"])) * Decimal(str(t["price"])) for t in mine)
        return float(cost / amount)

    async def positions(self) -> list[VenuePosition]:
        await self.markets()
        try:
            rows: list[dict[str, Any]] = await self.ex.fetch_positions(
                None, self.rules.read_params()
            )
        except ccxt_async.BaseError as exc:
            raise self._fail(exc) from exc
        out = []
        for r in rows:
            sym = str(r["symbol"])
            contracts = dec(r.get("contracts")) or Decimal(0)
            if not contracts:
                continue
            qty = abs(contracts) * self._contract_size.get(sym, Decimal(1))
            out.append(
                VenuePosition(
                    symbol=sym,
                    quantity=-qty if r.get("side") == "short" else qty,
                    entry_price=dec(r.get("entryPrice")),
                    mark=dec(r.get("markPrice")),
                    liquidation_price=dec(r.get("liquidationPrice")),
                    unrealized_pnl=dec(r.get("unrealizedPnl")),
                )
            )
        return out

    async def balances(self) -> dict[str, Decimal]:
        try:
            bal: dict[str, Any] = await self.ex.fetch_balance(self.rules.read_params())
        except ccxt_async.BaseError as exc:
            raise self._fail(exc) from exc
        free: dict[str, Any] = bal.get("free") or {}
        return {k: d for k, v in free.items() if (d := dec(v)) is not None}

    async def funding_payments(self, symbol: str | None = None) -> list[FundingPayment]:
        await self.markets()
        try:
            rows: list[dict[str, Any]] = await self.ex.fetch_funding_history(
                symbol, None, None, self.rules.read_params()
            )
        except ccxt_async.BaseError as exc:
            raise self._fail(exc) from exc
        out = [
            FundingPayment(
                symbol=str(r["symbol"]),
                time_ms=int(r["timestamp"] or 0),
                amount=dec(r.get("amount")) or Decimal(0),
                rate=dec(r.get("rate")),
            )
            for r in rows
        ]
        out.sort(key=lambda p: p.time_ms, reverse=True)
        return out

    # ------------------------------------------------------------------ history (backtests)

    async def rate_history(self, symbol: str, since_ms: int) -> list[tuple[int, Decimal]]:
        """Settled funding rates since ``since_ms``: ``(payment time ms, rate)``, oldest first."""
        out: dict[int, Decimal] = {}
        cursor = since_ms
        try:
            while True:
                rows = await self.ex.fetch_funding_rate_history(symbol, cursor, 1000)
                fresh = [r for r in rows if r.get("timestamp") and int(r["timestamp"]) >= cursor]
                for r in fresh:
                    rate = dec(r.get("fundingRate"))
                    if rate is not None:
                        out[int(r["timestamp"])] = rate
                newest = max((int(r["timestamp"]) for r in fresh), default=cursor)
                if len(rows) < 1000 or newest <= cursor:
                    break
                cursor = newest + 1
        except ccxt_async.BaseError as exc:
            raise self._fail(exc) from exc
        return sorted((t, r) for t, r in out.items() if t >= since_ms)

    async def hourly_closes(
        self, symbol: str, since_ms: int, until_ms: int
    ) -> list[tuple[int, Decimal]]:
        """Hourly closes: ``(close time ms, price)``, oldest first."""
        out: dict[int, Decimal] = {}
        cursor = since_ms
        try:
            while cursor < until_ms:
                rows = await self.ex.fetch_ohlcv(symbol, "1h", cursor, 1000)
                for start, _o, _h, _l, close, *_ in rows:
                    price = dec(close)
                    end = int(start) + _HOUR_MS
                    if price is not None and since_ms < end <= until_ms:
                        out[end] = price
                last = max((int(r[0]) for r in rows), default=cursor)
                if not rows or last + _HOUR_MS <= cursor:
                    break
                cursor = last + _HOUR_MS
        except ccxt_async.BaseError as exc:
            raise self._fail(exc) from exc
        return sorted(out.items())

    async def close(self) -> None:
        await self.ex.close()
