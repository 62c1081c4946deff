"""Order placement and clientId recovery: the part of the client that must never send twice.

:class:`OrderDesk` rounds an order to the market's tick and step, checks it against the
market's rules, always gives it a ``clientId``, and sends it once. A lost answer (network
error, 5xx) is settled by :meth:`OrderDesk.find_order_by_client_id` — the one clientId lookup,
which the bot's start-up recovery uses too — and never by sending again.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from bot.exchange.errors import (
    BackpackError,
    ExchangeUnavailable,
    InvalidOrder,
    InvalidTrigger,
    NetworkError,
    NotFound,
    OrderStatusUnknown,
)
from bot.exchange.markets import (
    Market,
    is_buy,
    plain,
    round_price,
    round_quantity,
    to_decimal,
    validate_order,
)
from bot.exchange.transport import Transport


def with_aliases(order: dict[str, Any]) -> dict[str, Any]:
    """The seed guide reads ``order['orderId']`` and ``order['type']``: provide both."""
    order.setdefault("orderId", order.get("id"))
    order.setdefault("type", order.get("orderType"))
    return order


class OrderDesk:
    """Places orders (plain, conditional, with attached SL/TP) and finds them by clientId."""

    def __init__(
        self,
        transport: Transport,
        market: Callable[[str], Awaitable[Market]],
        logger: logging.Logger,
    ) -> None:
        self._transport = transport
        self._market = market
        self.logger = logger

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
        market = await self._market(symbol)
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
        # DEBUG: the request; the caller logs the order once, with its outcome, at INFO.
        self.logger.debug(
            "order %s %s %s qty=%s price=%s cid=%s",
            body["side"],
            body["orderType"],
            symbol,
            body.get("quantity"),
            body.get("price"),
            cid,
        )
        try:
            order: dict[str, Any] = await self._transport.request(
                "POST", "/api/v1/order", body=body, instruction="orderExecute"
            )
            return with_aliases(order)
        except (NetworkError, ExchangeUnavailable) as exc:
            self.logger.warning("order cid=%s: %s; looking it up by clientId", cid, exc)
            found = await self.find_order_by_client_id(symbol, cid)
            if found is not None:
                return with_aliases(found)
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
                    order: dict[str, Any] = await self._transport.request(
                        "GET",
                        "/api/v1/order",
                        params={"symbol": symbol, "clientId": cid},
                        instruction="orderQuery",
                    )
                    return with_aliases(order)
                except NotFound:
                    pass
                rows = await self._transport.request(
                    "GET",
                    "/wapi/v1/history/orders",
                    params={"symbol": symbol, "limit": 100},
                    instruction="orderHistoryQueryAll",
                )
                for row in rows:
                    if row.get("clientId") is not None and int(row["clientId"]) == cid:
                        return with_aliases(dict(row))
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
