"""Balances, margin and positions: equity, funds checks, positions and their histories."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from bot.sim.book import Market
from bot.sim.markets import fmt
from bot.sim.model import (
    BPS,
    FEES,
    LEVERAGE,
    MMF,
    SETTLEMENT_SOURCES,
    ZERO,
    Account,
    D,
    Order,
    Position,
    SimError,
    iso,
    page,
    parse_error,
    quantize_to,
)

if TYPE_CHECKING:
    from bot.sim.core import Exchange


class Margin:
    """Balances, margin and positions: equity, funds checks, positions and their histories."""

    def __init__(self, ex: Exchange) -> None:
        self.ex = ex

    def capital(self, key: str) -> dict[str, Any]:
        acc = self.ex.account(key)
        return {
            a: {"available": fmt(v[0]), "locked": fmt(v[1]), "staked": "0"}
            for a, v in acc.balances.items()
        }

    def account_settings(self, key: str) -> dict[str, Any]:
        acc = self.ex.account(key)
        pending = sum(1 for o in acc.open.values() if o.pending)
        return {
            "autoBorrowSettlements": False,
            "autoLend": False,
            "autoRealizePnl": True,
            "autoRepayBorrows": False,
            "borrowLimit": "0",
            **FEES,
            "leverageLimit": fmt(LEVERAGE),
            "limitOrders": len(acc.open) - pending,
            "liquidating": False,
            "positionLimit": "1000000",
            "triggerOrders": pending,
        }

    def _upnl(self, acc: Account) -> Decimal:
        return sum(
            (
                p.qty * (self.ex.markets[s].mark - p.entry)
                for s, p in acc.positions.items()
                if p.qty
            ),
            ZERO,
        )

    def _margin_used(self, acc: Account) -> Decimal:
        used = sum(
            (abs(p.qty) * self.ex.markets[s].mark / LEVERAGE for s, p in acc.positions.items()),
            ZERO,
        )
        for o in acc.open.values():
            if not o.reduce_only and self.ex.markets[o.symbol].spec.is_perp:
                used += o.remaining * (o.price or ZERO) / LEVERAGE
        return used

    def collateral(self, key: str) -> dict[str, Any]:
        acc = self.ex.account(key)
        usdc = acc.bal("USDC")
        upnl = self._upnl(acc)
        assets_value = ZERO
        rows = []
        for asset, (avail, locked) in acc.balances.items():
            price = D(1) if asset == "USDC" else self._asset_price(asset)
            total = avail + locked
            assets_value += total * price
            rows.append(
                {
                    "symbol": asset,
                    "assetMarkPrice": fmt(price),
                    "totalQuantity": fmt(total),
                    "balanceNotional": fmt(total * price),
                    "collateralWeight": "1" if asset == "USDC" else "0.9",
                    "collateralValue": fmt(total * price),
                    "openOrderQuantity": fmt(locked),
                    "lendQuantity": "0",
                    "availableQuantity": fmt(avail),
                }
            )
        equity = assets_value + upnl
        used = self._margin_used(acc)
        exposure = sum(
            (abs(p.qty) * self.ex.markets[s].mark for s, p in acc.positions.items()), ZERO
        )
        mf = (equity / exposure) if exposure else None
        del usdc
        return {
            "assetsValue": fmt(assets_value),
            "borrowLiability": "0",
            "collateral": rows,
            "imf": fmt(1 / LEVERAGE),
            "mmf": fmt(MMF),
            "unsettledEquity": fmt(upnl),
            "liabilitiesValue": "0",
            "marginFraction": fmt(mf.quantize(D("0.0001"))) if mf is not None else None,
            "netEquity": fmt(equity),
            "netEquityAvailable": fmt(max(ZERO, equity - used)),
            "netEquityLocked": fmt(used),
            "netExposureFutures": fmt(exposure),
            "pnlUnrealized": fmt(upnl),
        }

    def _asset_price(self, asset: str) -> Decimal:
        for sym in (f"{asset}_USDC", f"{asset}_USDC_PERP"):
            if sym in self.ex.markets:
                return self.ex.markets[sym].mark
        return ZERO

    def position_wire(self, acc: Account, p: Position) -> dict[str, Any]:
        m = self.ex.markets[p.symbol]
        notional = p.qty * m.mark
        upnl = p.qty * (m.mark - p.entry)
        fee_bps = D(FEES["futuresTakerFee"]) * BPS
        be = p.entry * (1 + fee_bps) if p.qty > 0 else p.entry * (1 - fee_bps)
        return {
            "symbol": p.symbol,
            "positionId": p.position_id,
            "userId": acc.user_id,
            "subaccountId": None,
            "netQuantity": fmt(p.qty),
            "netExposureQuantity": fmt(abs(p.qty)),
            "netExposureNotional": fmt(abs(notional)),
            "netCost": fmt(p.qty * p.entry),
            "entryPrice": fmt(p.entry),
            "breakEvenPrice": fmt(be.quantize(m.spec.tick)),
            "markPrice": fmt(m.mark),
            "estLiquidationPrice": fmt(self.liq_price(acc, p)),
            "pnlRealized": fmt(p.realized),
            "pnlUnrealized": fmt(upnl),
            "cumulativeFundingPayment": fmt(p.funding),
            "cumulativeInterest": "0",
            "imf": m.spec.imf_base,
            "imfFunction": m.spec.to_wire(0)["imfFunction"],
            "mmf": fmt(MMF),
            "mmfFunction": m.spec.to_wire(0)["mmfFunction"],
        }

    def liq_price(self, acc: Account, p: Position) -> Decimal:
        """Price where equity meets maintenance margin, holding other positions' PnL fixed."""
        q = p.qty
        if not q:
            return ZERO
        m = self.ex.markets[p.symbol]
        others = sum(
            (
                o.qty * (self.ex.markets[s].mark - o.entry)
                for s, o in acc.positions.items()
                if s != p.symbol and o.qty
            ),
            ZERO,
        )
        balance = acc.bal("USDC")[0] + acc.bal("USDC")[1] + others
        denom = q * (1 - MMF) if q > 0 else q * (1 + MMF)
        price = (q * p.entry - balance) / denom
        return max(ZERO, quantize_to(price, m.spec.tick))

    def positions(self, key: str, symbol: str | None = None) -> list[dict[str, Any]]:
        acc = self.ex.account(key)
        return [
            self.position_wire(acc, p)
            for s, p in acc.positions.items()
            if p.qty and (symbol is None or s == symbol)
        ]

    def check_funds(self, acc: Account, m: Market, order: Order) -> None:
        spec = m.spec
        if spec.is_perp:
            if order.reduce_only:
                return
            pos = acc.positions.get(spec.symbol)
            pq = pos.qty if pos else ZERO
            qty = (
                order.quantity
                if order.quantity is not None
                else ((order.quote_quantity or ZERO) / m.mid)
            )
            signed = qty if order.side == "Bid" else -qty
            added = max(ZERO, abs(pq + signed) - abs(pq))
            need = added * (order.price or m.mid) / LEVERAGE
            usdc = acc.bal("USDC")
            equity = usdc[0] + usdc[1] + self._upnl(acc)
            if need and need + self._margin_used(acc) > equity:
                raise SimError(400, "INSUFFICIENT_MARGIN", "Insufficient margin")
            return
        if order.side == "Bid":
            need = self.estimate_cost(m, order)
            if need > acc.bal(spec.quote)[0]:
                raise SimError(400, "INSUFFICIENT_FUNDS", "Insufficient funds")
        else:
            qty = (
                order.quantity
                if order.quantity is not None
                else ((order.quote_quantity or ZERO) / m.mid)
            )
            if qty > acc.bal(spec.base)[0]:
                raise SimError(400, "INSUFFICIENT_FUNDS", "Insufficient funds")

    def estimate_cost(self, m: Market, order: Order) -> Decimal:
        """Quote needed to fill ``order`` now (walks the book for market orders)."""
        if order.quote_quantity is not None:
            return order.quote_quantity
        assert order.quantity is not None
        if order.price is not None:
            return order.quantity * order.price
        asks, bids = m.aggregated()
        levels = sorted(asks.items()) if order.side == "Bid" else sorted(bids.items(), reverse=True)
        left, cost = order.quantity, ZERO
        for p, q in levels:
            take = min(left, q)
            cost += take * p
            left -= take
            if not left:
                break
        return cost + left * m.mid

    def apply_perp(
        self, acc: Account, m: Market, signed: Decimal, price: Decimal, fee: Decimal
    ) -> None:
        sym = m.spec.symbol
        pos = acc.positions.get(sym)
        event = "positionAdjusted"
        if pos is None or pos.qty == 0:
            pos = Position(
                symbol=sym, position_id=str(self.ex.next_position_id), opened_ms=self.ex.now_ms()
            )
            self.ex.next_position_id += 1
            acc.positions[sym] = pos
            event = "positionOpened"
        usdc = acc.bal("USDC")
        old = pos.qty
        new = old + signed
        realized = ZERO
        if old == 0 or (old > 0) == (signed > 0):
            pos.entry = (old * pos.entry + signed * price) / new if new else ZERO
        else:
            closed = min(abs(old), abs(signed))
            realized = closed * (price - pos.entry) * (1 if old > 0 else -1)
            if abs(signed) > abs(old):
                pos.entry = price
            elif new == 0:
                pos.entry = pos.entry
        pos.qty = new
        pos.realized += realized - fee
        pos.fees += fee
        usdc[0] += realized - fee
        if old and (old > 0) != (signed > 0):
            pos.closed_volume += min(abs(old), abs(signed))
        self.settlement(acc, pos, -fee, "TradingFees")
        if realized:
            self.settlement(acc, pos, realized, "RealizePnl")
        m.open_interest = max(ZERO, m.open_interest + abs(new) - abs(old))
        if new == 0:
            event = "positionClosed"
        self.ex.streams.position_event(acc, pos, event)
        if new == 0:
            acc.position_history.append(self._position_row(acc, pos, closing_price=price))
            del acc.positions[sym]
        if (old > 0) != (new > 0) or new == 0:
            self.ex.conditional.cancel_stale_triggers(acc, m)
            self.ex.matching.expire_stale_reduce_only(acc, sym)

    def settlement(self, acc: Account, pos: Position, amount: Decimal, source: str) -> None:
        if not amount:
            return
        acc.settlements.append(
            {
                "quantity": fmt(amount),
                "source": source,
                "timestamp": iso(self.ex.clock.time()),
                "userId": acc.user_id,
                "subaccountId": None,
                "positionId": pos.position_id,
            }
        )

    def _position_row(
        self, acc: Account, p: Position, *, closing_price: Decimal | None = None
    ) -> dict[str, Any]:
        """A ``/wapi/v1/history/position`` row (open positions are built on request)."""
        m = self.ex.markets[p.symbol]
        closed = closing_price is not None
        return {
            "id": p.position_id,
            "symbol": p.symbol,
            "netQuantity": fmt(p.qty),
            "netExposureQuantity": fmt(abs(p.qty)),
            "netExposureNotional": fmt(abs(p.qty) * m.mark),
            "netCost": fmt(p.qty * p.entry),
            "markPrice": fmt(m.mark),
            "entryPrice": fmt(p.entry),
            "cumulativePnlRealized": fmt(p.realized),
            "unrealizedPnl": fmt(p.qty * (m.mark - p.entry)),
            "fundingQuantity": fmt(p.funding),
            "interest": "0",
            "liquidated": "0",
            "imf": m.spec.imf_base,
            "fees": fmt(p.fees),
            "state": "Closed" if closed else "Open",
            "closedVolume": fmt(p.closed_volume),
            "liquidationFees": "0",
            "closingPrice": fmt(closing_price) if closing_price is not None else None,
            "accountLeverage": fmt(LEVERAGE),
            "openedAt": iso(p.opened_ms / 1000),
            "closedAt": iso(self.ex.clock.time()) if closed else None,
        }

    def max_order_quantity(
        self, key: str, symbol: str, side: str, price: Decimal | None, reduce_only: bool
    ) -> dict[str, Any]:
        acc = self.ex.account(key)
        m = self.ex.market(symbol)
        px = price or m.mid
        if m.spec.is_perp:
            pos = acc.positions.get(symbol)
            pq = pos.qty if pos else ZERO
            if reduce_only:
                mx = abs(pq) if pq and (pq > 0) != (side == "Bid") else ZERO
            else:
                usdc = acc.bal("USDC")
                free = usdc[0] + usdc[1] + self._upnl(acc) - self._margin_used(acc)
                mx = max(ZERO, free) * LEVERAGE / px
                if pq and (pq > 0) != (side == "Bid"):
                    mx += abs(pq)
        elif side == "Bid":
            mx = acc.bal(m.spec.quote)[0] / px
        else:
            mx = acc.bal(m.spec.base)[0]
        mx = quantize_to(mx, m.spec.step)
        if m.spec.max_qty is not None:
            mx = min(mx, m.spec.max_qty)
        return {
            "symbol": symbol,
            "side": side,
            "maxOrderQuantity": fmt(mx),
            "price": fmt(px),
            "reduceOnly": reduce_only,
        }

    def position_history(self, key: str, q: dict[str, str]) -> list[dict[str, Any]]:
        """``/wapi/v1/history/position``: closed positions, then the open ones."""
        state = q.get("state")
        if state is not None and state not in ("Open", "Closed"):
            raise parse_error("state", '"PositionState": Expect a valid enumeration value.')
        acc = self.ex.account(key)
        rows = [*acc.position_history]
        rows += [self._position_row(acc, p) for p in acc.positions.values() if p.qty]
        rows = [
            r
            for r in rows
            if (not q.get("symbol") or r["symbol"] == q["symbol"])
            and (state is None or r["state"] == state)
        ]
        return page(rows, q)

    def settlement_history(self, key: str, q: dict[str, str]) -> list[dict[str, Any]]:
        """``/wapi/v1/history/settlement``: fees, realized PnL and funding, per position."""
        source = q.get("source")
        if source is not None and source not in SETTLEMENT_SOURCES:
            raise parse_error(
                "source", '"SettlementSourceFilter": Expect a valid enumeration value.'
            )
        acc = self.ex.account(key)
        rows = [r for r in acc.settlements if source is None or r["source"] == source]
        return page(rows, q)
