"""Backpack behind the venue port, over our own ``BackpackAPI``."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from bot.exchange.client import BackpackAPI
from bot.exchange.errors import BackpackError, OrderStatusUnknown
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

#: Backpack's base-tier perp taker fee, used when the account cannot be asked (no keys).
DEFAULT_TAKER_FEE = Decimal("0.0005")
_BPS = Decimal("0.0001")
_STATUS: dict[str, Any] = {
    "New": "open",
    "PartiallyFilled": "open",
    "TriggerPending": "open",
    "Filled": "filled",
    "Cancelled": "cancelled",
    "Expired": "cancelled",
    "TriggerFailed": "rejected",
}


def _dec(value: Any) -> Decimal | None:
    return None if value in (None, "") else Decimal(str(value))


def _order(row: dict[str, Any]) -> VenueOrder:
    filled = _dec(row.get("executedQuantity")) or Decimal(0)
    quote = _dec(row.get("executedQuoteQuantity"))
    status = _STATUS.get(str(row.get("status")), "open")
    return VenueOrder(
        order_id=str(row["id"]),
        client_id=int(row["clientId"]) if row.get("clientId") is not None else None,
        symbol=str(row["symbol"]),
        side="buy" if row.get("side") == "Bid" else "sell",
        quantity=_dec(row.get("quantity")) or filled,
        filled=filled,
        average_price=quote / filled if quote is not None and filled else None,
        status=status,
    )


def _iso_ms(text: str) -> int:
    t = datetime.fromisoformat(text)
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return int(t.timestamp() * 1000)


def _ms(text: str) -> int:
    """``"2025-09-11T12:00:00"`` (naive UTC) → epoch ms."""
    at = datetime.fromisoformat(text.replace(" ", "T"))
    return int((at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp() * 1000)


class BackpackVenue:
    """``account`` signs (orders, positions); ``market`` reads public data (may be the same)."""

    def __init__(self, account: BackpackAPI, market: BackpackAPI | None = None) -> None:
        self.account = account
        self.market = market or account
        self._markets: dict[str, VenueMarket] = {}

    @property
    def name(self) -> str:
        return "backpack"

    async def _taker_fee(self) -> Decimal:
        if not self.account.has_keys:
            return DEFAULT_TAKER_FEE
        try:
            info = await self.account.get_account_info()
        except BackpackError:
            return DEFAULT_TAKER_FEE
        bps = _dec(info.get("futuresTakerFee"))
        return bps * _BPS if bps is not None else DEFAULT_TAKER_FEE

    async def markets(self) -> dict[str, VenueMarket]:
        if self._markets:
            return self._markets
        try:
            rows = await self.market.load_markets()
        except BackpackError as exc:
            raise VenueError(self.name, exc.message) from exc
        fee = await self._taker_fee()
        self._markets = {
            s: VenueMarket(
                symbol=s,
                base=m.base,
                quote=m.quote,
                settle=m.quote,
                tick=m.tick_size,
                step=m.step_size,
                min_quantity=m.min_quantity,
                min_notional=Decimal(0),
                taker_fee=fee,
            )
            for s, m in rows.items()
            if m.is_perp and m.open
        }
        return self._markets

    async def funding(self, symbol: str) -> FundingQuote:
        try:
            market = await self.market.market(symbol)
            rows = await self.market.get_mark_prices(symbol)
        except BackpackError as exc:
            raise VenueError(self.name, exc.message) from exc
        if not rows or market.funding_interval_ms is None:
            raise VenueError(self.name, f"{symbol} has no funding rate")
        row = rows[0]
        return FundingQuote(
            symbol=market.symbol,
            rate=Decimal(str(row["fundingRate"])),
            interval_hours=Decimal(market.funding_interval_ms) / 3_600_000,
            next_funding_ms=int(row["nextFundingTimestamp"]),
            mark=_dec(row.get("markPrice")),
        )

    async def order_book(self, symbol: str, depth: int = 50) -> OrderBook:
        try:
            ob = await self.market.get_orderbook(symbol, limit=depth)
        except BackpackError as exc:
            raise VenueError(self.name, exc.message) from exc
        return OrderBook(
            symbol=ob["symbol"],
            bids=tuple((p, q) for p, q in ob["bids"]),
            asks=tuple((p, q) for p, q in ob["asks"]),
        )

    def client_order_id(self, client_id: int) -> str:
        return str(client_id)

    async def rate_history(self, symbol: str, since_ms: int) -> list[tuple[int, Decimal]]:
        """Settled funding rates since ``since_ms``: (payment time ms, rate), oldest first."""
        out: dict[int, Decimal] = {}
        offset = 0
        now = datetime.now(tz=UTC).timestamp() * 1000
        try:
            while True:
                rows = await self.market.get_funding_history(symbol, limit=1000, offset=offset)
                times = []
                for r in rows:
                    t = _ms(str(r["intervalEndTimestamp"]))
                    times.append(t)
                    if since_ms <= t <= now:  # the interval in progress is listed too
                        out[t] = Decimal(str(r["fundingRate"]))
                if len(rows) < 1000 or min(times, default=0) <= since_ms:
                    break
                offset += 1000
        except BackpackError as exc:
            raise VenueError(self.name, exc.message) from exc
        return sorted(out.items())

    async def place_order(
        self,
        symbol: str,
        side: Side,
        quantity: Decimal,
        *,
        client_id: int,
        reduce_only: bool = False,
    ) -> VenueOrder:
        try:
            row = await self.account.place_order(
                symbol,
                "BUY" if side == "buy" else "SELL",
                quantity,
                order_type="MARKET",
                reduce_only=reduce_only,
                client_id=client_id,
            )
        except OrderStatusUnknown as exc:
            raise VenueError(self.name, exc.message, uncertain=True) from exc
        except BackpackError as exc:
            raise VenueError(self.name, exc.message) from exc
        return _order(row)

    async def cancel_order(self, symbol: str, order_id: str) -> None:
        try:
            await self.account.cancel_order(symbol, order_id)
        except BackpackError as exc:
            raise VenueError(self.name, exc.message) from exc

    async def order_by_client_id(self, symbol: str, client_id: int) -> VenueOrder | None:
        try:
            row = await self.account.find_order_by_client_id(symbol, client_id)
        except BackpackError as exc:
            raise VenueError(self.name, exc.message) from exc
        return _order(row) if row is not None else None

    async def positions(self) -> list[VenuePosition]:
        try:
            rows = await self.account.get_positions()
        except BackpackError as exc:
            raise VenueError(self.name, exc.message) from exc
        return [
            VenuePosition(
                symbol=r["symbol"],
                quantity=r["quantity"],
                entry_price=_dec(r.get("entryPrice")),
                mark=_dec(r.get("markPrice")),
                liquidation_price=_dec(r.get("liquidationPrice")),
                unrealized_pnl=_dec(r.get("unrealizedProfit")),
            )
            for r in rows
        ]

    async def balances(self) -> dict[str, Decimal]:
        try:
            rows = await self.account.get_balances()
        except BackpackError as exc:
            raise VenueError(self.name, exc.message) from exc
        return {r["asset"]: Decimal(str(r["available"])) for r in rows}

    async def funding_payments(self, symbol: str | None = None) -> list[FundingPayment]:
        try:
            rows = await self.account.get_funding_payments(symbol)
        except BackpackError as exc:
            raise VenueError(self.name, exc.message) from exc
        return [
            FundingPayment(
                symbol=r["symbol"],
                time_ms=_iso_ms(r["intervalEndTimestamp"]),
                amount=r["quantity"],
                rate=r["fundingRate"],
            )
            for r in rows
        ]

    async def close(self) -> None:
        """The clients belong to the composition root, which closes them."""
