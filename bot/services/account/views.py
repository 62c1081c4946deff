"""Account views and order cancellation (no Telegram types)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bot.exchange.client import BackpackAPI
from bot.exchange.errors import BackpackError, NotFound
from bot.services.access import Action, Actor
from bot.services.orders.sender import OrderSender
from bot.services.orders.stops import StopOrder, stops_of


@dataclass(frozen=True, slots=True)
class PositionView:
    symbol: str
    quantity: Decimal  # signed
    entry: Decimal
    mark: Decimal
    unrealized: Decimal
    realized: Decimal
    funding: Decimal
    liquidation: Decimal | None
    #: The stop-loss / take-profit orders the exchange holds for this position.
    stops: tuple[StopOrder, ...] = ()

    @property
    def side(self) -> str:
        return "LONG" if self.quantity > 0 else "SHORT"

    @property
    def notional(self) -> Decimal:
        return abs(self.quantity) * self.mark


@dataclass(frozen=True, slots=True)
class OrderView:
    id: str
    symbol: str
    side: str  # "Bid" / "Ask"
    order_type: str
    quantity: Decimal
    executed: Decimal
    price: Decimal | None
    status: str
    trigger: Decimal | None = None  # a conditional order's trigger price


@dataclass(frozen=True, slots=True)
class BalanceView:
    asset: str
    available: Decimal
    locked: Decimal


@dataclass(frozen=True, slots=True)
class AccountView:
    maker_fee_bps: Decimal
    taker_fee_bps: Decimal
    spot_maker_fee_bps: Decimal
    spot_taker_fee_bps: Decimal
    leverage_limit: Decimal
    status: str
    tier: str
    net_equity: Decimal | None
    available: Decimal | None
    margin_fraction: Decimal | None
    unrealized: Decimal | None


_FATES = {
    "Filled": "filled",
    "Cancelled": "cancelled",
    "Expired": "expired",
    "TriggerFailed": "failed to trigger",
}


def _d(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value or 0))


def _size(value: Any) -> Decimal:
    """A trigger quantity as a size (``"50%"`` of the position has none: 0)."""
    return value if isinstance(value, Decimal) else Decimal(0)


class AccountService:
    """Reads the trading account (paper or live) through the account client."""

    def __init__(self, account: BackpackAPI, orders: OrderSender) -> None:
        self.api = account
        self.orders_path = orders

    async def positions(self, actor: Actor) -> list[PositionView]:
        """The open positions with their stops (account data: refused where it may not show)."""
        actor.require(Action.ACCOUNT)
        rows, orders = await asyncio.gather(self.api.get_positions(), self.api.get_open_orders())
        out = []
        for p in rows:
            liq = _d(p.get("liquidationPrice"))
            mine = [o for o in orders if o.get("symbol") == p["symbol"]]
            out.append(
                PositionView(
                    symbol=p["symbol"],
                    quantity=p["quantity"],
                    entry=_d(p.get("entryPrice")),
                    mark=_d(p.get("markPrice")),
                    unrealized=_d(p.get("unrealizedProfit")),
                    realized=_d(p.get("realizedProfit")),
                    funding=_d(p.get("fundingPaid")),
                    liquidation=liq if liq > 0 else None,
                    stops=tuple(stops_of(p["quantity"], _d(p.get("markPrice")), mine)),
                )
            )
        return sorted(out, key=lambda v: v.symbol)

    async def stops_off(
        self, market: str, kind: str, *, actor: Actor
    ) -> tuple[str, list[StopOrder]]:
        """Cancel the stop-losses (``kind="sl"``) or take-profits of the position in ``market``,
        each through the journaled cancel path; ``(symbol, the cancelled stops)``."""
        actor.require(Action.TRADE)
        symbol = await self.api.resolve_symbol(market)
        done: list[StopOrder] = []
        for view in await self.positions(actor):
            if view.symbol != symbol:
                continue
            for stop in view.stops:
                if stop.kind == kind:
                    await self.orders_path.cancel(
                        symbol, stop.id, user_id=actor.user_id, chat_id=actor.chat_id
                    )
                    done.append(stop)
        return symbol, done

    async def orders(self, actor: Actor) -> list[OrderView]:
        actor.require(Action.ACCOUNT)
        rows = await self.api.get_open_orders()
        return [
            OrderView(
                id=str(o["id"]),
                symbol=o["symbol"],
                side=o["side"],
                order_type=o["orderType"],
                quantity=_d(o.get("quantity")) or _size(o.get("triggerQuantity")),
                executed=_d(o.get("executedQuantity")),
                price=o.get("price"),
                status=o["status"],
                trigger=o.get("triggerPrice"),
            )
            for o in rows
        ]

    async def cancel(self, order_id: str, *, actor: Actor) -> OrderView:
        """Cancel one open order by id (its market is looked up from the open orders);
        journaled like every request that changes the account."""
        actor.require(Action.TRADE)
        for o in await self.orders(actor):
            if o.id == order_id:
                (row,) = await self.orders_path.cancel(
                    o.symbol, o.id, user_id=actor.user_id, chat_id=actor.chat_id
                )
                return OrderView(
                    id=o.id,
                    symbol=o.symbol,
                    side=o.side,
                    order_type=o.order_type,
                    quantity=o.quantity,
                    executed=_d(row.get("executedQuantity")),
                    price=o.price,
                    status=row.get("status", "Cancelled"),
                )
        raise NotFound(f"no open order with id {order_id}", code="RESOURCE_NOT_FOUND")

    async def order_fate(self, order_id: str) -> str | None:
        """What became of an order that is no longer open ("filled", "cancelled", …), from the
        exchange's order history; ``None`` when it does not know the order."""
        try:
            rows = await self.api.get_order_history(order_id=order_id, limit=1)
        except BackpackError:
            return None
        for row in rows:
            status = str(row.get("status") or "")
            if status == "Filled" and row.get("triggeredAt"):
                return "triggered and filled"
            return _FATES.get(status)
        return None

    async def cancel_all(self, *, actor: Actor) -> list[OrderView]:
        actor.require(Action.TRADE)
        rows = await self.orders_path.cancel(
            None, None, user_id=actor.user_id, chat_id=actor.chat_id
        )
        return [
            OrderView(
                id=str(o["id"]),
                symbol=o["symbol"],
                side=o["side"],
                order_type=o["orderType"],
                quantity=_d(o.get("quantity")),
                executed=_d(o.get("executedQuantity")),
                price=o.get("price"),
                status=o.get("status", "Cancelled"),
            )
            for o in rows
        ]

    async def balances(self, actor: Actor) -> list[BalanceView]:
        actor.require(Action.ACCOUNT)
        rows = await self.api.get_balances()
        out = [BalanceView(r["asset"], _d(r["available"]), _d(r["locked"])) for r in rows]
        return sorted(
            (b for b in out if b.available or b.locked),
            key=lambda b: (b.asset != "USDC", b.asset),
        )

    async def account(self, actor: Actor) -> AccountView:
        actor.require(Action.ACCOUNT)
        info = await self.api.get_account_info()
        col: dict[str, Any] = {}
        try:
            col = await self.api.get_collateral()
        except Exception:  # collateral is optional detail
            col = {}
        mf = col.get("marginFraction")
        return AccountView(
            maker_fee_bps=_d(info.get("futuresMakerFee")),
            taker_fee_bps=_d(info.get("futuresTakerFee")),
            spot_maker_fee_bps=_d(info.get("spotMakerFee")),
            spot_taker_fee_bps=_d(info.get("spotTakerFee")),
            leverage_limit=_d(info.get("leverageLimit")),
            status=info["status"],
            tier=info["commissionTier"],
            net_equity=col.get("netEquity"),
            available=col.get("netEquityAvailable"),
            margin_fraction=_d(mf) if mf is not None else None,
            unrealized=col.get("pnlUnrealized"),
        )
