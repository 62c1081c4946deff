"""The engine as data: `/_sim/state`, full dumps and the change journal of `bot.sim.store`."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from bot.sim import market_state
from bot.sim.model import (
    LOGS,
    Account,
    Bracket,
    D,
    Order,
    Position,
)

if TYPE_CHECKING:
    from bot.sim.core import Exchange


class Snapshot:
    """The engine as data: `/_sim/state`, full dumps and the change journal of `bot.sim.store`."""

    def __init__(self, ex: Exchange) -> None:
        self.ex = ex
        self.market_marks: dict[str, market_state.Marks] = {}

    def state(self) -> dict[str, Any]:
        """`GET /_sim/state`: every account's balances, positions, orders, fills and funding."""
        return {
            "accounts": {
                key: {
                    "balances": self.ex.margin.capital(key),
                    "positions": self.ex.margin.positions(key),
                    "orders": [o.to_state() for o in acc.orders.values()],
                    "fills": [{k: v for k, v in f.items() if k != "_ts"} for f in acc.fills],
                    "funding": list(acc.funding),
                }
                for key, acc in self.ex.accounts.items()
            }
        }

    def dump(self) -> str:
        """Serialise every account (paper trading persistence)."""
        return json.dumps(self.dump_data())

    def load(self, text: str) -> None:
        """Restore accounts written by :meth:`dump` (or a :mod:`bot.sim.store` snapshot file).

        Resting orders go back on their books, pending conditional orders on their triggers.
        """
        data = json.loads(text)
        self.load_data(data.get("engine", data))

    def _counters(self) -> dict[str, int]:
        return {
            "next_order_id": self.ex.next_order_id,
            "next_user_id": self.ex.next_user_id,
            "next_position_id": self.ex.next_position_id,
            "next_fill_id": self.ex.next_fill_id,
        }

    def dump_data(self, markets: bool = False) -> dict[str, Any]:
        """Every account and id counter as JSON-ready data (see :mod:`bot.sim.store`); with
        ``markets``, every market's prices, funding rate and history too."""
        data = {
            **self._counters(),
            "accounts": [
                {
                    **account_head(a),
                    "orders": [order_dump(o) for o in a.orders.values()],
                    **{log: getattr(a, log) for log in LOGS},
                }
                for a in self.ex.accounts.values()
            ],
        }
        if markets:
            data["markets"] = {s: market_state.dump(m, None) for s, m in self.ex.markets.items()}
            self.market_marks = {s: market_state.marks(m) for s, m in self.ex.markets.items()}
            self.ex.markets_moved = False
        return data

    def take_market_changes(self) -> dict[str, Any]:
        """Every market's live state and the history added since the last call or dump."""
        out = {
            s: market_state.dump(m, self.market_marks.get(s, market_state.Marks()))
            for s, m in self.ex.markets.items()
        }
        self.market_marks = {s: market_state.marks(m) for s, m in self.ex.markets.items()}
        self.ex.markets_moved = False
        return out

    def apply_markets(self, data: dict[str, Any]) -> None:
        """Restore markets written by :meth:`dump_data` or :meth:`take_market_changes`;
        markets no longer listed are skipped."""
        for symbol, d in data.items():
            m = self.ex.markets.get(symbol)
            if m is not None:
                market_state.apply(m, d, self.ex.seed)
                self.market_marks[symbol] = market_state.marks(m)

    def markets_moved(self) -> bool:
        """Whether a control-API move happened since the markets were last taken."""
        return self.ex.markets_moved

    def load_data(self, data: dict[str, Any]) -> None:
        """Restore what :meth:`dump_data` wrote; resting orders go back on their books."""
        for m in self.ex.markets.values():
            m.resting.clear()
            m.triggers.clear()
        self.ex.accounts = {}
        self.apply_changes(data)
        if "markets" in data:
            self.apply_markets(data["markets"])
        self.ex.reset_tracking()

    def needs_snapshot(self) -> bool:
        """True after a reset or load: the journal cannot express that, a snapshot must."""
        return self.ex.full_snapshot

    def take_changes(self) -> dict[str, Any] | None:
        """What changed since the last call, in :meth:`apply_changes` form (or ``None``).

        Order rows are whole orders (every order change passes through ``_order_event``);
        balances and positions are whole per account; fills and funding rows are the new tail.
        """
        self.ex.full_snapshot = False
        if not self.ex.touched_accounts and not self.ex.touched_orders:
            return None
        by_account: dict[str, list[dict[str, Any]]] = {}
        for o in self.ex.touched_orders.values():
            by_account.setdefault(o.account, []).append(order_dump(o))
        keys = self.ex.touched_accounts | set(by_account)
        rows = []
        for key in keys:
            a = self.ex.accounts.get(key)
            if a is None:
                continue
            rows.append(
                {
                    **account_head(a),
                    "orders": by_account.get(key, []),
                    **{
                        k: v
                        for log in LOGS
                        for k, v in (
                            (f"{log}_from", a.persisted.get(log, 0)),
                            (log, getattr(a, log)[a.persisted.get(log, 0) :]),
                        )
                    },
                }
            )
            a.persisted = {log: len(getattr(a, log)) for log in LOGS}
        self.ex.touched_orders = {}
        self.ex.touched_accounts = set()
        return {**self._counters(), "accounts": rows}

    def apply_changes(self, data: dict[str, Any]) -> None:
        """Apply a snapshot or a journal record; applying one twice changes nothing."""
        for name in ("next_order_id", "next_user_id", "next_position_id", "next_fill_id"):
            setattr(self.ex, name, max(getattr(self.ex, name), int(data[name])))
        for a in data["accounts"]:
            acc = self.ex.accounts.get(a["key"])
            if acc is None:
                acc = self.ex.accounts[a["key"]] = Account(key=a["key"], user_id=a["user_id"])
            acc.balances = {k: [D(v[0]), D(v[1])] for k, v in a["balances"].items()}
            acc.positions = {}
            for p in a["positions"]:
                acc.positions[p["symbol"]] = Position(
                    symbol=p["symbol"],
                    position_id=p["position_id"],
                    qty=D(p["qty"]),
                    entry=D(p["entry"]),
                    realized=D(p["realized"]),
                    funding=D(p["funding"]),
                    fees=D(p["fees"]),
                    opened_ms=p.get("opened_ms", 0),
                    closed_volume=D(p.get("closed_volume", "0")),
                )
            for od in a["orders"]:
                self._restore_order(acc, order_load(od))
            for log in LOGS:
                rows: list[dict[str, Any]] = getattr(acc, log)
                del rows[a.get(f"{log}_from", 0) :]
                rows.extend(a.get(log, []))
            acc.persisted = {log: len(getattr(acc, log)) for log in LOGS}

    def _restore_order(self, acc: Account, o: Order) -> None:
        old = acc.orders.get(o.id)
        m = self.ex.markets.get(o.symbol)
        if old is not None:
            acc.open.pop(o.id, None)
            if m is not None:
                for book in (m.resting, m.triggers):
                    if old in book:
                        book.remove(old)
        acc.orders[o.id] = o
        if m is not None and o.is_open:
            (m.triggers if o.pending else m.resting).append(o)
            acc.open[o.id] = o


def account_head(a: Account) -> dict[str, Any]:
    return {
        "key": a.key,
        "user_id": a.user_id,
        "balances": {k: [str(v[0]), str(v[1])] for k, v in a.balances.items()},
        "positions": [
            {
                "symbol": p.symbol,
                "position_id": p.position_id,
                "qty": str(p.qty),
                "entry": str(p.entry),
                "realized": str(p.realized),
                "funding": str(p.funding),
                "fees": str(p.fees),
                "opened_ms": p.opened_ms,
                "closed_volume": str(p.closed_volume),
            }
            for p in a.positions.values()
        ],
    }


def order_dump(o: Order) -> dict[str, Any]:
    return {
        "id": o.id,
        "account": o.account,
        "symbol": o.symbol,
        "side": o.side,
        "order_type": o.order_type,
        "quantity": str(o.quantity) if o.quantity is not None else None,
        "price": str(o.price) if o.price is not None else None,
        "quote_quantity": str(o.quote_quantity) if o.quote_quantity is not None else None,
        "client_id": o.client_id,
        "tif": o.tif,
        "post_only": o.post_only,
        "reduce_only": o.reduce_only,
        "stp": o.stp,
        "created_ms": o.created_ms,
        "status": o.status,
        "executed": str(o.executed),
        "executed_quote": str(o.executed_quote),
        "expiry_reason": o.expiry_reason,
        "locked_asset": o.locked_asset,
        "locked": str(o.locked),
        "reduce_only_sent": o.reduce_only_sent,
        "quote_estimate": _opt_str(o.quote_estimate),
        "slippage": o.slippage,
        "trigger_price": _opt_str(o.trigger_price),
        "trigger_quantity": o.trigger_quantity,
        "trigger_by": o.trigger_by,
        "trigger_above": o.trigger_above,
        "triggered_ms": o.triggered_ms,
        "related_order_id": o.related_order_id,
        "bracket_kind": o.bracket_kind,
        "stop_loss": o.stop_loss.dump() if o.stop_loss else None,
        "take_profit": o.take_profit.dump() if o.take_profit else None,
    }


def _opt_str(value: Decimal | None) -> str | None:
    return str(value) if value is not None else None


def order_load(d: dict[str, Any]) -> Order:
    def opt(v: str | None) -> Decimal | None:
        return D(v) if v is not None else None

    return Order(
        id=d["id"],
        account=d["account"],
        symbol=d["symbol"],
        side=d["side"],
        order_type=d["order_type"],
        quantity=opt(d["quantity"]),
        price=opt(d["price"]),
        quote_quantity=opt(d["quote_quantity"]),
        client_id=d["client_id"],
        tif=d["tif"],
        post_only=d["post_only"],
        reduce_only=d["reduce_only"],
        stp=d["stp"],
        created_ms=d["created_ms"],
        status=d["status"],
        executed=D(d["executed"]),
        executed_quote=D(d["executed_quote"]),
        expiry_reason=d["expiry_reason"],
        locked_asset=d["locked_asset"],
        locked=D(d["locked"]),
        reduce_only_sent=d.get("reduce_only_sent", d["reduce_only"]),
        quote_estimate=opt(d.get("quote_estimate")),
        slippage=d.get("slippage"),
        trigger_price=opt(d.get("trigger_price")),
        trigger_quantity=d.get("trigger_quantity"),
        trigger_by=d.get("trigger_by"),
        trigger_above=d.get("trigger_above", False),
        triggered_ms=d.get("triggered_ms"),
        related_order_id=d.get("related_order_id"),
        bracket_kind=d.get("bracket_kind"),
        stop_loss=Bracket.load(d.get("stop_loss")),
        take_profit=Bracket.load(d.get("take_profit")),
    )
