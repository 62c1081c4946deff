"""Order validation: an `OrderExecutePayload` becomes an `Order` or the exchange's error."""

from __future__ import annotations

from decimal import ROUND_UP, Decimal
from typing import TYPE_CHECKING, Any

from bot.sim.markets import MarketSpec, fmt
from bot.sim.model import (
    DEFAULT_TRIGGER_BY,
    TRIGGER_BY,
    ZERO,
    Account,
    Bracket,
    D,
    Order,
    SimError,
    bad_request,
    check_quantity,
    dec,
    payload_error,
    quantize_to,
)

if TYPE_CHECKING:
    from bot.sim.core import Exchange


class Validation:
    """Order validation: an `OrderExecutePayload` becomes an `Order` or the exchange's error."""

    def __init__(self, ex: Exchange) -> None:
        self.ex = ex

    def validate(self, acc: Account, body: dict[str, Any]) -> Order:
        symbol = body.get("symbol")
        if not isinstance(symbol, str) or symbol not in self.ex.markets:
            raise SimError(
                400,
                "",
                'parse request payload error: failed to parse "MarketSymbol": Invalid market '
                'symbol (occurred while parsing "OrderExecutePayload")',
                plain=True,
            )
        m = self.ex.markets[symbol]
        spec = m.spec
        side = body.get("side")
        otype = body.get("orderType")
        if side not in ("Bid", "Ask"):
            raise payload_error("Side", "Expect a valid enumeration value")
        if otype not in ("Limit", "Market"):
            raise payload_error("OrderType", "Expect a valid enumeration value")
        tif = body.get("timeInForce") or "GTC"
        if tif not in ("GTC", "IOC", "FOK"):
            raise payload_error("TimeInForce", "Expect a valid enumeration value")
        stp = body.get("selfTradePrevention") or "RejectTaker"
        if stp not in ("RejectTaker", "RejectMaker", "RejectBoth"):
            raise payload_error("SelfTradePrevention", "Expect a valid enumeration value")
        cid = body.get("clientId")
        if cid is not None and (
            isinstance(cid, bool) or not isinstance(cid, int) or not 0 <= cid <= 4_294_967_295
        ):
            raise payload_error("u32", "Expect a valid unsigned 32-bit integer")
        trigger = _trigger_fields(body, spec)
        post_only = bool(body.get("postOnly") or False)
        reduce_only = bool(body.get("reduceOnly") or False)
        qty = dec(body["quantity"], "quantity") if body.get("quantity") is not None else None
        quote_qty = (
            dec(body["quoteQuantity"], "quoteQuantity")
            if body.get("quoteQuantity") is not None
            else None
        )
        price = dec(body["price"], "price") if body.get("price") is not None else None
        if trigger is not None:
            # Maintained clients (bpx-py, backpack-exchange-sdk) send `quantity` alongside
            # `triggerQuantity` and Backpack accepts it: the trigger quantity is the size, the
            # (well-formed) `quantity` is ignored.
            if quote_qty is not None:
                raise bad_request("Trigger orders take `triggerQuantity`, not `quoteQuantity`")
            qty = None
            if otype == "Limit" and price is None:
                raise bad_request("Limit orders require `price` and `quantity`")
        elif otype == "Limit":
            if price is None or qty is None:
                raise bad_request("Limit orders require `price` and `quantity`")
            if quote_qty is not None:
                raise bad_request("Quote quantity is only supported for market orders")
        elif (qty is None) == (quote_qty is None):
            raise bad_request("Must specify one of `quantity` or `quoteQuantity`")
        if otype == "Market" and post_only:
            raise SimError(400, "INVALID_ORDER", "Post only is only supported for limit orders")
        if price is not None:
            if price <= 0:
                raise SimError(400, "INVALID_PRICE", "Price must be positive")
            if price % spec.tick != 0:
                raise bad_request("Price decimal too long")
            if trigger is None and (price > m.last * D("1.25") or price < m.last * D("0.75")):
                raise SimError(400, "INVALID_PRICE", "Price is too far from the last active price")
        if qty is not None:
            check_quantity(spec, qty)
        if quote_qty is not None and quote_qty <= 0:
            raise SimError(400, "INVALID_QUANTITY", "Quote quantity must be positive")
        if reduce_only and not spec.is_perp:
            raise SimError(400, "INVALID_ORDER", "Reduce only is only supported for futures")
        if reduce_only:
            pos = acc.positions.get(symbol)
            pq = pos.qty if pos else ZERO
            if pq == 0 or (pq > 0) == (side == "Bid"):
                raise SimError(400, "INVALID_ORDER", "Reduce only order would not reduce position")
        if post_only and price is not None and trigger is None:
            bb, ba = m.best()
            if (side == "Bid" and ba is not None and price >= ba) or (
                side == "Ask" and bb is not None and price <= bb
            ):
                raise SimError(400, "INVALID_ORDER", "Order would immediately match and take")
        slippage = {
            k: body[k]
            for k in ("slippageTolerance", "slippageToleranceType")
            if body.get(k) is not None
        }
        order = Order(
            id=str(self.ex.next_order_id),
            account=acc.key,
            symbol=symbol,
            side=side,
            order_type=otype,
            quantity=qty,
            price=price,
            quote_quantity=quote_qty,
            client_id=cid,
            tif=tif,
            post_only=post_only,
            reduce_only=reduce_only,
            stp=stp,
            created_ms=self.ex.now_ms(),
            reduce_only_sent=body.get("reduceOnly") is not None,
            slippage=slippage or None,
            stop_loss=_bracket(body, "stopLoss", spec),
            take_profit=_bracket(body, "takeProfit", spec),
        )
        if (order.stop_loss or order.take_profit) and not spec.is_perp:
            raise SimError(
                400, "INVALID_ORDER", "Stop loss and take profit are only supported for futures"
            )
        if trigger is not None:
            trigger_price, trigger_qty, trigger_by = trigger
            order.status = "TriggerPending"
            order.trigger_price = trigger_price
            order.trigger_quantity = trigger_qty
            order.trigger_by = trigger_by
            order.trigger_above = trigger_price > self.ex.conditional.reference_price(m, trigger_by)
            self.ex.next_order_id += 1 + self.ex.rng.randint(0, 7)
            return order
        if otype == "Market" and qty is not None:
            order.quote_estimate = quantize_to(
                self.ex.margin.estimate_cost(m, order), spec.tick, ROUND_UP
            )
        self.ex.margin.check_funds(acc, m, order)
        self.ex.next_order_id += 1 + self.ex.rng.randint(0, 7)
        return order


def _trigger_fields(body: dict[str, Any], spec: MarketSpec) -> tuple[Decimal, str, str] | None:
    """``(triggerPrice, triggerQuantity, triggerBy)`` of a conditional order, validated."""
    tp, tq = body.get("triggerPrice"), body.get("triggerQuantity")
    if tp is None and tq is None:
        return None
    if tp is None or tq is None:
        raise bad_request("Must specify both `triggerPrice` and `triggerQuantity` or neither")
    price = _trigger_price(tp, "triggerPrice", spec)
    text = str(tq).strip()
    if text.endswith("%"):
        pct = dec(text[:-1], "triggerQuantity")
        if not 0 < pct <= 100:
            raise SimError(400, "INVALID_QUANTITY", "Trigger quantity percentage must be 0-100")
        qty_text = f"{fmt(pct)}%"
    else:
        qty = dec(text, "triggerQuantity")
        check_quantity(spec, qty)
        qty_text = fmt(qty)
    return price, qty_text, _trigger_by(body.get("triggerBy"), "triggerBy")


def _trigger_price(value: Any, name: str, spec: MarketSpec) -> Decimal:
    price = dec(value, name)
    if price <= 0:
        raise SimError(400, "INVALID_PRICE", f"{name} must be positive")
    if price % spec.tick != 0:
        raise bad_request("Price decimal too long")
    return price


def _trigger_by(value: Any, name: str) -> str:
    if value is None:
        return DEFAULT_TRIGGER_BY
    if value not in TRIGGER_BY:
        raise payload_error(name[0].upper() + name[1:], "Expect a valid enumeration value")
    return str(value)


def _bracket(body: dict[str, Any], prefix: str, spec: MarketSpec) -> Bracket | None:
    """An attached stop-loss (``prefix="stopLoss"``) or take-profit, validated."""
    trigger = body.get(f"{prefix}TriggerPrice")
    limit = body.get(f"{prefix}LimitPrice")
    if trigger is None:
        if limit is not None or body.get(f"{prefix}TriggerBy") is not None:
            raise bad_request(f"`{prefix}LimitPrice` and `{prefix}TriggerBy` need a trigger price")
        return None
    return Bracket(
        trigger_price=_trigger_price(trigger, f"{prefix}TriggerPrice", spec),
        limit_price=_trigger_price(limit, f"{prefix}LimitPrice", spec)
        if limit is not None
        else None,
        trigger_by=_trigger_by(body.get(f"{prefix}TriggerBy"), f"{prefix}TriggerBy"),
    )
