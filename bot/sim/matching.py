"""Order lifecycle and matching: run, take, fill, rest, expire, cancel, query."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from bot.sim.book import Market
from bot.sim.markets import fmt
from bot.sim.model import (
    BPS,
    ZERO,
    Account,
    D,
    Order,
    SimError,
    bad_request,
    iso,
    page,
    payload_error,
    quantize_to,
)

if TYPE_CHECKING:
    from bot.sim.core import Exchange


class Matching:
    """Order lifecycle and matching: run, take, fill, rest, expire, cancel, query."""

    def __init__(self, ex: Exchange) -> None:
        self.ex = ex

    def execute(self, key: str, body: dict[str, Any]) -> dict[str, Any]:
        """Validate and run one order (POST /api/v1/order); returns the order object."""
        acc = self.ex.account(key)
        order = self.ex.validation.validate(acc, body)
        self.run(acc, order)
        self.ex.conditional.check_triggers(self.ex.markets[order.symbol])
        self.ex.changed()
        return order.to_wire()

    def run(self, acc: Account, order: Order) -> None:
        m = self.ex.markets[order.symbol]
        acc.orders[order.id] = order
        self.ex.streams.order_event(order, "orderAccepted")
        if order.pending:
            acc.open[order.id] = order
            m.triggers.append(order)
            return
        self.match(acc, m, order)

    def match(self, acc: Account, m: Market, order: Order) -> None:
        """Take liquidity, then rest what is left (GTC limit) or expire it."""
        if order.tif == "FOK" and not self._can_fill(m, order):
            self._expire(order, "FillOrKill")
            return
        self._take(acc, m, order)
        if order.order_type == "Market" or order.tif in ("IOC", "FOK"):
            if order.status not in ("Filled",):
                self._expire(order, "ImmediateOrCancel" if order.tif != "FOK" else "FillOrKill")
            return
        if order.remaining > 0:
            self._lock(acc, m, order)
            m.resting.append(order)
            acc.open[order.id] = order
            self.ex.streams.publish_book(m)

    def _can_fill(self, m: Market, order: Order) -> bool:
        asks, bids = m.aggregated()
        levels = asks if order.side == "Bid" else bids
        avail = sum(
            (
                q
                for p, q in levels.items()
                if order.price is None
                or (p <= order.price if order.side == "Bid" else p >= order.price)
            ),
            ZERO,
        )
        return avail >= (order.quantity or ZERO)

    def _lock(self, acc: Account, m: Market, order: Order) -> None:
        if m.spec.is_perp:
            return
        assert order.price is not None
        if order.side == "Bid":
            asset, amount = m.spec.quote, order.remaining * order.price
        else:
            asset, amount = m.spec.base, order.remaining
        b = acc.bal(asset)
        b[0] -= amount
        b[1] += amount
        order.locked_asset, order.locked = asset, amount

    def _unlock(self, acc: Account, order: Order) -> None:
        if order.locked_asset and order.locked:
            b = acc.bal(order.locked_asset)
            b[0] += order.locked
            b[1] -= order.locked
            order.locked = ZERO

    def _take(self, acc: Account, m: Market, order: Order) -> None:
        """Walk the book (synthetic liquidity and other users' resting orders)."""
        buy = order.side == "Bid"
        impact = m.mid * (D("1.03") if buy else D("0.97"))
        limit = order.price if order.price is not None else impact
        pos = acc.positions.get(m.spec.symbol)
        max_qty = order.quantity
        if order.reduce_only and pos is not None:
            cap = abs(pos.qty)
            max_qty = min(max_qty, cap) if max_qty is not None else cap
        quote_left = order.quote_quantity
        filled_any = False
        #: Synthetic levels taken (price -> what is left): published as changes when no
        #: user order was touched, instead of diffing both books.
        synthetic: dict[Decimal, Decimal] | None = {}
        while True:
            left = (max_qty - order.executed) if max_qty is not None else None
            if left is not None and left <= 0:
                break
            if quote_left is not None and quote_left <= 0:
                break
            level = self._best_level(m, buy, exclude=order)
            if level is None:
                break
            price, avail, maker = level
            if (buy and price > limit) or (not buy and price < limit):
                break
            take = avail if left is None else min(left, avail)
            if quote_left is not None:
                take = min(take, quantize_to(quote_left / price, m.spec.step))
                if take <= 0:
                    break
            self._fill(acc, m, order, price, take, maker_is_me=False)
            filled_any = True
            if quote_left is not None:
                quote_left -= take * price
            if maker is None:
                book = m.asks if buy else m.bids
                book[price] -= take
                if book[price] <= 0:
                    del book[price]
                if synthetic is not None:
                    synthetic[price] = book.get(price, ZERO)
            else:
                synthetic = None
                other = self.ex.accounts[maker.account]
                self._fill(other, m, maker, price, take, maker_is_me=True)
            self.ex.moves.public_trade(
                m,
                price=price,
                qty=take,
                buyer_maker=not buy,
                buyer=order.id if buy else (maker.id if maker else ""),
                seller=order.id if not buy else (maker.id if maker else ""),
            )
        if filled_any and synthetic is not None and not m.resting:
            levels = list(synthetic.items())
            changes = (levels, []) if buy else ([], levels)
            self.ex.streams.publish_changes(m, changes, every_ticker=True)
        elif filled_any:
            self.ex.streams.publish_book(m)
        if order.quantity is None and order.order_type == "Market":
            order.quantity = order.executed
        if order.executed and (order.quantity is None or order.executed >= order.quantity):
            order.status = "Filled"
        elif order.executed:
            order.status = "PartiallyFilled"

    def _best_level(
        self, m: Market, buy: bool, exclude: Order
    ) -> tuple[Decimal, Decimal, Order | None] | None:
        synth = m.asks if buy else m.bids
        best_s = (min(synth) if buy else max(synth)) if synth else None
        best_o: Order | None = None
        best_p = ZERO
        best_q = ZERO
        for o in m.resting:
            if o is exclude or o.account == exclude.account or (o.side == "Bid") == buy:
                continue
            assert o.price is not None
            avail = self._reducible(o) if o.reduce_only else o.remaining
            if avail <= 0:
                continue
            if best_o is None or (o.price < best_p if buy else o.price > best_p):
                best_o, best_p, best_q = o, o.price, avail
        if best_o is not None and (
            best_s is None or (best_p <= best_s if buy else best_p >= best_s)
        ):
            return best_p, best_q, best_o
        if best_s is None:
            return None
        return best_s, synth[best_s], None

    def _fill(
        self,
        acc: Account,
        m: Market,
        order: Order,
        price: Decimal,
        qty: Decimal,
        *,
        maker_is_me: bool,
    ) -> None:
        spec = m.spec
        buy = order.side == "Bid"
        fee_key = ("futures" if spec.is_perp else "spot") + (
            "MakerFee" if maker_is_me else "TakerFee"
        )
        rate = D(self.ex.fees[fee_key]) * BPS
        notional = price * qty
        if spec.is_perp:
            fee = (notional * rate).quantize(D("0.000001"), ROUND_HALF_UP)
            fee_asset = "USDC"
            self.ex.margin.apply_perp(acc, m, qty if buy else -qty, price, fee)
        else:
            if order.locked_asset:
                # Release the lock proportionally for the filled part.
                part = qty * (order.price or price) if buy else qty
                part = min(part, order.locked)
                b = acc.bal(order.locked_asset)
                b[1] -= part
                b[0] += part
                order.locked -= part
            base, quote = acc.bal(spec.base), acc.bal(spec.quote)
            if buy:
                fee = quantize_to(qty * rate, D("0.00000001"))
                fee_asset = spec.base
                quote[0] -= notional
                base[0] += qty - fee
            else:
                fee = (notional * rate).quantize(D("0.000001"), ROUND_HALF_UP)
                fee_asset = spec.quote
                base[0] -= qty
                quote[0] += notional - fee
        order.executed += qty
        order.executed_quote += notional
        if order.quantity is not None and order.executed >= order.quantity:
            order.status = "Filled"
            if order in m.resting:
                m.resting.remove(order)
                acc.open.pop(order.id, None)
                self._unlock(acc, order)
        elif order.executed:
            order.status = "PartiallyFilled"
        self.ex.next_fill_id += 1
        acc.fills.append(
            {
                "tradeId": self.ex.next_fill_id,
                "orderId": order.id,
                "clientId": str(order.client_id) if order.client_id is not None else None,
                "symbol": spec.symbol,
                "side": order.side,
                "price": fmt(price),
                "quantity": fmt(qty),
                "fee": fmt(fee),
                "feeSymbol": fee_asset,
                "isMaker": maker_is_me,
                "systemOrderType": None,
                "timestamp": iso(self.ex.clock.time()),
                "_ts": self.ex.now_ms(),
            }
        )
        self.ex.streams.order_event(
            order,
            "orderFill",
            fill={
                "l": fmt(qty),
                "L": fmt(price),
                "m": maker_is_me,
                "n": fmt(fee),
                "N": fee_asset,
                "t": self.ex.next_fill_id,
            },
        )
        if order.stop_loss is not None or order.take_profit is not None:
            self.ex.conditional.protect(acc, m, order)

    def _expire(self, order: Order, reason: str) -> None:
        order.status = "Expired"
        order.expiry_reason = reason
        acc = self.ex.accounts[order.account]
        if acc.open.pop(order.id, None) is not None:
            m = self.ex.markets[order.symbol]
            if order in m.resting:
                m.resting.remove(order)
            self._unlock(acc, order)
        self.ex.streams.order_event(order, "orderExpired", extra={"R": reason})

    def _reducible(self, order: Order) -> Decimal:
        """How much of a reduce-only order may still fill without growing or flipping."""
        pos = self.ex.accounts[order.account].positions.get(order.symbol)
        pq = pos.qty if pos is not None else ZERO
        if pq == 0 or (pq > 0) == (order.side == "Bid"):
            return ZERO
        return min(order.remaining, abs(pq))

    def expire_stale_reduce_only(self, acc: Account, symbol: str) -> None:
        """Resting reduce-only orders that can no longer reduce are expired, as on the exchange."""
        for o in list(acc.open.values()):
            if o.reduce_only and not o.pending and o.symbol == symbol and self._reducible(o) <= 0:
                self._expire(o, "ReduceOnlyNotReduced")

    def fill_crossed(self, m: Market) -> None:
        """Resting user orders that the moved market now crosses fill as makers."""
        if not m.resting:
            return
        best_ask = min(m.asks) if m.asks else None
        best_bid = max(m.bids) if m.bids else None
        for o in list(m.resting):
            assert o.price is not None
            crossed = (o.side == "Bid" and best_ask is not None and o.price >= best_ask) or (
                o.side == "Ask" and best_bid is not None and o.price <= best_bid
            )
            if crossed and o.status in ("New", "PartiallyFilled"):
                acc = self.ex.accounts[o.account]
                qty = self._reducible(o) if o.reduce_only else o.remaining
                if qty <= 0:
                    self._expire(o, "ReduceOnlyNotReduced")
                    continue
                self._fill(acc, m, o, o.price, qty, maker_is_me=True)
                self.ex.moves.public_trade(m, price=o.price, qty=qty, buyer_maker=o.side == "Bid")
                self.ex.changed()

    def get_order(
        self, key: str, symbol: str, order_id: str | None, client_id: int | None
    ) -> dict[str, Any]:
        acc = self.ex.account(key)
        self.ex.market(symbol)
        o = self._find(acc, symbol, order_id, client_id)
        if o is None or not o.is_open:
            raise SimError(404, "RESOURCE_NOT_FOUND", "Not Found")
        return o.to_wire()

    def _find(
        self, acc: Account, symbol: str, order_id: str | None, client_id: int | None
    ) -> Order | None:
        if (order_id is None) == (client_id is None):
            raise bad_request("Must specify exactly one of `orderId` or `clientId`")
        if order_id is not None:
            o = acc.orders.get(str(order_id))
            return o if o is not None and o.symbol == symbol else None
        live = [o for o in acc.orders.values() if o.client_id == client_id and o.symbol == symbol]
        live.sort(key=lambda o: (o.is_open, o.created_ms))
        return live[-1] if live else None

    def cancel(
        self, key: str, symbol: str, order_id: str | None, client_id: int | None
    ) -> dict[str, Any]:
        acc = self.ex.account(key)
        m = self.ex.market(symbol)
        o = self._find(acc, symbol, order_id, client_id)
        if o is None or not o.is_open:
            raise SimError(404, "RESOURCE_NOT_FOUND", "Not Found")
        self.cancel_order(acc, m, o)
        self.ex.streams.publish_book(m)
        self.ex.changed()
        return o.to_wire()

    def cancel_order(self, acc: Account, m: Market, o: Order) -> None:
        o.status = "Cancelled"
        acc.open.pop(o.id, None)
        if o in m.resting:
            m.resting.remove(o)
        if o in m.triggers:
            m.triggers.remove(o)
        self._unlock(acc, o)
        self.ex.streams.order_event(o, "orderCancelled")

    def cancel_all(
        self, key: str, symbol: str, order_type: str | None = None
    ) -> list[dict[str, Any]]:
        """``DELETE /api/v1/orders``; ``order_type``: ``RestingLimitOrder``/``ConditionalOrder``."""
        if order_type not in (None, "RestingLimitOrder", "ConditionalOrder"):
            raise payload_error("CancelOrderTypeEnum", "Expect a valid enumeration value")
        acc = self.ex.account(key)
        m = self.ex.market(symbol)
        out = []
        books = {
            None: m.resting + m.triggers,
            "RestingLimitOrder": list(m.resting),
            "ConditionalOrder": list(m.triggers),
        }[order_type]
        for o in books:
            if o.account == key:
                self.cancel_order(acc, m, o)
                out.append(o.to_wire())
        self.ex.streams.publish_book(m)
        self.ex.changed()
        return out

    def open_orders(self, key: str, symbol: str | None) -> list[dict[str, Any]]:
        acc = self.ex.account(key)
        if symbol is not None:
            self.ex.market(symbol)
        return [o.to_wire() for o in acc.open.values() if symbol is None or o.symbol == symbol]

    def fill_history(self, key: str, q: dict[str, str]) -> list[dict[str, Any]]:
        acc = self.ex.account(key)
        rows = acc.fills
        rows = [
            r
            for r in rows
            if (not q.get("symbol") or r["symbol"] == q["symbol"])
            and (not q.get("orderId") or r["orderId"] == q["orderId"])
            and (not q.get("from") or r["_ts"] >= int(q["from"]))
            and (not q.get("to") or r["_ts"] <= int(q["to"]))
        ]
        rows = page(rows, q)
        return [{k: v for k, v in r.items() if k != "_ts"} for r in rows]

    def order_history(self, key: str, q: dict[str, str]) -> list[dict[str, Any]]:
        acc = self.ex.account(key)
        rows = [
            o
            for o in acc.orders.values()
            if (not q.get("symbol") or o.symbol == q["symbol"])
            and (not q.get("orderId") or o.id == q["orderId"])
        ]
        return [o.to_wire(history=True) for o in page(rows, q)]
