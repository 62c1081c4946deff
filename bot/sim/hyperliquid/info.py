"""``POST /info``: one handler per request ``type``, each returning the venue's JSON.

Reads about a wallet the venue does not know answer as the venue does for an empty wallet
(zero balances, no orders) and never create an account.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from bot.sim.hyperliquid.state import Venue
from bot.sim.hyperliquid.wire import (
    Coin,
    WireError,
    address,
    basic_order,
    frontend_order,
    num,
    order_status,
    tx_hash,
    usd,
)
from bot.sim.model import ZERO, Account

D = Decimal
BOOK_LEVELS = 20
MAX_ROWS = 2000
MAX_FUNDING_ROWS = 500
INTERVALS = {
    "1m",
    "3m",
    "5m",
    "15m",
    "30m",
    "1h",
    "2h",
    "4h",
    "8h",
    "12h",
    "1d",
    "3d",
    "1w",
    "1M",
}
Handler = Callable[[dict[str, Any]], Any]


class Info:
    """The read side of the venue."""

    def __init__(self, venue: Venue) -> None:
        self.v = venue
        self.ex = venue.ex
        self.handlers: dict[str, Handler] = {
            "meta": self.meta,
            "metaAndAssetCtxs": lambda b: [self.meta(b), self.asset_ctxs()],
            "spotMeta": lambda b: self.spot_meta(),
            "spotMetaAndAssetCtxs": lambda b: [self.spot_meta(), []],
            "perpDexs": lambda b: [None],
            "exchangeStatus": lambda b: {"time": self.ex.now_ms(), "specialStatuses": None},
            "allMids": lambda b: self.all_mids(),
            "l2Book": self.l2_book,
            "candleSnapshot": self.candles,
            "fundingHistory": self.funding_history,
            "clearinghouseState": self.clearinghouse,
            "spotClearinghouseState": self.spot_clearinghouse,
            "openOrders": lambda b: self.open_orders(b, frontend=False),
            "frontendOpenOrders": lambda b: self.open_orders(b, frontend=True),
            "historicalOrders": self.historical_orders,
            "orderStatus": self.order_status,
            "userFills": lambda b: self.user_fills(b, by_time=False),
            "userFillsByTime": lambda b: self.user_fills(b, by_time=True),
            "userFunding": self.user_funding,
            "userAbstraction": lambda b: _user(b) and "default",
            "maxBuilderFee": self.max_builder_fee,
            "extraAgents": self.extra_agents,
        }

    def answer(self, body: Any) -> Any:
        if not isinstance(body, dict) or not isinstance(body.get("type"), str):
            raise WireError("missing field `type`")
        handler = self.handlers.get(body["type"])
        if handler is None:
            raise WireError(f"unknown variant `{body['type']}`")
        return handler(body)

    # ------------------------------------------------------------------ markets

    def meta(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("dex"):
            raise WireError(f"unknown dex `{body['dex']}`")
        return {
            "universe": [
                {
                    "szDecimals": c.sz_decimals,
                    "name": c.name,
                    "maxLeverage": c.max_leverage,
                    "marginTableId": c.max_leverage,
                }
                for c in self.v.coins
            ],
            "marginTables": [
                [
                    lev,
                    {
                        "description": "",
                        "marginTiers": [{"lowerBound": "0.0", "maxLeverage": lev}],
                    },
                ]
                for lev in sorted({c.max_leverage for c in self.v.coins})
            ],
            "collateralToken": 0,
        }

    def asset_ctxs(self) -> list[dict[str, Any]]:
        out = []
        for c in self.v.coins:
            m = self.ex.markets[c.symbol]
            bid, ask = m.best()
            day = m.candles[-24:]
            out.append(
                {
                    "funding": num(m.funding_rate),
                    "openInterest": num(m.open_interest),
                    "prevDayPx": num(day[0].open),
                    "dayNtlVlm": usd(sum((k.quote_volume for k in day), ZERO)),
                    "premium": num(((m.mark - m.index) / m.index).quantize(D("0.00000001"))),
                    "oraclePx": num(m.index),
                    "markPx": num(m.mark),
                    "midPx": num(m.mid),
                    "impactPxs": [num(bid or m.mid), num(ask or m.mid)],
                    "dayBaseVlm": num(sum((k.volume for k in day), ZERO)),
                }
            )
        return out

    def spot_meta(self) -> dict[str, Any]:
        """Perps only: USDC is the one spot token, and there are no spot pairs."""
        return {
            "tokens": [
                {
                    "name": "USDC",
                    "szDecimals": 8,
                    "weiDecimals": 8,
                    "index": 0,
                    "tokenId": "0x6d1e7cde53ba9467b783cb7c530ce054",
                    "isCanonical": True,
                    "evmContract": None,
                    "fullName": None,
                }
            ],
            "universe": [],
        }

    def all_mids(self) -> dict[str, str]:
        return {c.name: num(self.ex.markets[c.symbol].mid) for c in self.v.coins}

    def _coin(self, body: dict[str, Any], key: str = "coin") -> Coin:
        coin = self.v.by_name.get(body.get(key))  # type: ignore[arg-type]
        if coin is None:
            raise WireError(f"unknown coin `{body.get(key)}`")
        return coin

    def l2_book(self, body: dict[str, Any]) -> dict[str, Any]:
        coin = self._coin(body)
        m = self.ex.markets[coin.symbol]
        asks, bids = m.aggregated()
        counts: dict[tuple[str, Decimal], int] = {}
        for o in m.resting:
            assert o.price is not None
            key = (o.side, o.price)
            counts[key] = counts.get(key, 0) + 1

        def level(side: str, px: Decimal, sz: Decimal) -> dict[str, Any]:
            synthetic = 1 if px in (m.bids if side == "Bid" else m.asks) else 0
            return {"px": num(px), "sz": num(sz), "n": synthetic + counts.get((side, px), 0)}

        top_bids = sorted(bids.items(), reverse=True)[:BOOK_LEVELS]
        top_asks = sorted(asks.items())[:BOOK_LEVELS]
        return {
            "coin": coin.name,
            "time": self.ex.now_ms(),
            "levels": [
                [level("Bid", p, q) for p, q in top_bids],
                [level("Ask", p, q) for p, q in top_asks],
            ],
        }

    def candles(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        req = body.get("req")
        if not isinstance(req, dict):
            raise WireError("missing field `req`")
        coin = self._coin(req)
        interval = req.get("interval")
        if interval not in INTERVALS:
            raise WireError(f"unknown variant `{interval}`")
        start, end = _ms(req, "startTime", required=True), _ms(req, "endTime")
        rows = self.ex.history.klines(
            coin.symbol,
            "1month" if interval == "1M" else str(interval),
            (start or 0) // 1000,
            end // 1000 if end is not None else None,
        )
        out = []
        for r in rows:
            t = int(
                datetime.strptime(r["start"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()
            )
            t_end = int(
                datetime.strptime(r["end"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()
            )
            out.append(
                {
                    "t": t * 1000,
                    "T": t_end * 1000 - 1,
                    "s": coin.name,
                    "i": interval,
                    "o": num(D(r["open"])),
                    "c": num(D(r["close"])),
                    "h": num(D(r["high"])),
                    "l": num(D(r["low"])),
                    "v": num(D(r["volume"])),
                    "n": int(r["trades"]),
                }
            )
        return out[-5000:]

    def funding_history(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        coin = self._coin(body)
        start, end = _ms(body, "startTime", required=True) or 0, _ms(body, "endTime")
        m = self.ex.markets[coin.symbol]
        rows = []
        for ts, rate in m.funding_history:
            t = ts * 1000
            if t >= start and (end is None or t <= end):
                rows.append(
                    {"coin": coin.name, "fundingRate": num(rate), "premium": "0.0", "time": t}
                )
        return rows[:MAX_FUNDING_ROWS]

    # ------------------------------------------------------------------ accounts

    def clearinghouse(self, body: dict[str, Any]) -> dict[str, Any]:
        user = _user(body)
        if body.get("dex"):
            raise WireError(f"unknown dex `{body['dex']}`")
        acc = self.v.account(user)
        positions = []
        value = used = ntl = maint = ZERO
        if acc is not None:
            value, used = self.v.account_value(acc), self.v.margin_used(acc)
            for s, p in acc.positions.items():
                coin = self.v.by_symbol.get(s)
                if coin is None or not p.qty:
                    continue
                positions.append(self._position(acc, coin))
                notional = abs(p.qty) * self.ex.markets[s].mark
                ntl += notional
                maint += notional / (2 * coin.max_leverage)
        summary = {
            "accountValue": usd(value),
            "totalNtlPos": usd(ntl),
            "totalRawUsd": usd(value - self._signed_ntl(acc)),
            "totalMarginUsed": usd(used),
        }
        return {
            "marginSummary": summary,
            "crossMarginSummary": dict(summary),
            "crossMaintenanceMarginUsed": usd(maint),
            "withdrawable": usd(max(ZERO, value - used)),
            "assetPositions": positions,
            "time": self.ex.now_ms(),
        }

    def _signed_ntl(self, acc: Account | None) -> Decimal:
        if acc is None:
            return ZERO
        return sum((p.qty * self.ex.markets[s].mark for s, p in acc.positions.items()), ZERO)

    def _position(self, acc: Account, coin: Coin) -> dict[str, Any]:
        p = acc.positions[coin.symbol]
        mark = self.ex.markets[coin.symbol].mark
        lev = self.v.leverage(acc.key, coin)
        value = abs(p.qty) * mark
        margin = value / lev.value
        upnl = p.qty * (mark - p.entry)
        liq = self.ex.margin.liq_price(acc, p)
        return {
            "type": "oneWay",
            "position": {
                "coin": coin.name,
                "szi": num(p.qty),
                "leverage": {"type": "cross" if lev.cross else "isolated", "value": lev.value},
                "entryPx": num(p.entry),
                "positionValue": usd(value),
                "unrealizedPnl": usd(upnl),
                "returnOnEquity": num((upnl / margin).quantize(D("0.00000001"))),
                "liquidationPx": num(liq) if liq > 0 else None,
                "marginUsed": usd(margin),
                "maxLeverage": coin.max_leverage,
                "cumFunding": {
                    "allTime": usd(-p.funding),
                    "sinceOpen": usd(-p.funding),
                    "sinceChange": usd(-p.funding),
                },
            },
        }

    def spot_clearinghouse(self, body: dict[str, Any]) -> dict[str, Any]:
        _user(body)
        return {
            "balances": [
                {"coin": "USDC", "token": 0, "hold": "0.0", "total": "0.0", "entryNtl": "0.0"}
            ]
        }

    def open_orders(self, body: dict[str, Any], *, frontend: bool) -> list[dict[str, Any]]:
        user = _user(body)
        acc = self.v.account(user)
        if acc is None:
            return []
        rows = []
        for o in sorted(acc.open.values(), key=lambda o: o.created_ms, reverse=True):
            coin = self.v.by_symbol.get(o.symbol)
            if coin is None:
                continue
            cloid = self.v.cloid(o.id)
            rows.append(frontend_order(o, coin, cloid) if frontend else basic_order(o, coin, cloid))
        return rows

    def historical_orders(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        user = _user(body)
        acc = self.v.account(user)
        if acc is None:
            return []
        rows = []
        for o in sorted(acc.orders.values(), key=lambda o: o.created_ms, reverse=True):
            coin = self.v.by_symbol.get(o.symbol)
            if coin is None:
                continue
            rows.append(
                {
                    "order": frontend_order(o, coin, self.v.cloid(o.id)),
                    "status": order_status(o),
                    "statusTimestamp": self.v.status_ms(acc, o),
                }
            )
        return rows[:MAX_ROWS]

    def order_status(self, body: dict[str, Any]) -> dict[str, Any]:
        user = _user(body)
        oid = body.get("oid")
        order = self.v.find_order(user, oid)
        acc = self.v.account(user)
        coin = self.v.by_symbol.get(order.symbol) if order is not None else None
        if order is None or acc is None or coin is None:
            return {"status": "unknownOid"}
        return {
            "status": "order",
            "order": {
                "order": frontend_order(order, coin, self.v.cloid(order.id)),
                "status": order_status(order),
                "statusTimestamp": self.v.status_ms(acc, order),
            },
        }

    def user_fills(self, body: dict[str, Any], *, by_time: bool) -> list[dict[str, Any]]:
        user = _user(body)
        rows = self.v.fills(user)
        if by_time:
            start, end = _ms(body, "startTime", required=True) or 0, _ms(body, "endTime")
            rows = [r for r in rows if r["time"] >= start and (end is None or r["time"] <= end)]
        return list(reversed(rows))[:MAX_ROWS]  # newest first, as recorded for both

    def user_funding(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        user = _user(body)
        start, end = _ms(body, "startTime") or 0, _ms(body, "endTime")
        acc = self.v.account(user)
        if acc is None:
            return []
        out = []
        for i, row in enumerate(acc.funding):
            coin = self.v.by_symbol.get(row["symbol"])
            if coin is None:
                continue
            t = self.v.state.funding_ms.get((user, i))
            if t is None:
                stamp = datetime.strptime(row["intervalEndTimestamp"], "%Y-%m-%dT%H:%M:%S")
                t = int(stamp.replace(tzinfo=UTC).timestamp()) * 1000
            if t < start or (end is not None and t > end):
                continue
            out.append(
                {
                    "time": t,
                    "hash": tx_hash("funding", user, i),
                    "delta": {
                        "type": "funding",
                        "coin": coin.name,
                        "usdc": usd(D(row["quantity"])),
                        "szi": num(self._funding_szi(user, i, coin, row)),
                        "fundingRate": num(D(row["fundingRate"])),
                        "nSamples": None,
                    },
                }
            )
        return out[:MAX_ROWS]

    def _funding_szi(self, user: str, i: int, coin: Coin, row: dict[str, Any]) -> Decimal:
        """The size a payment was made on; for one settled outside :meth:`Venue.settle`,
        worked back from the payment at today's mark."""
        szi = self.v.state.funding_szi.get((user, i))
        if szi is not None:
            return szi
        rate, mark = D(row["fundingRate"]), self.ex.markets[coin.symbol].mark
        if not rate or not mark:
            return ZERO
        return (-D(row["quantity"]) / (rate * mark)).quantize(D(1).scaleb(-coin.sz_decimals))

    def max_builder_fee(self, body: dict[str, Any]) -> int:
        user = _user(body)
        builder = address(body.get("builder"), "builder")
        return self.v.state.builders.get((user, builder), 0)

    def extra_agents(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        user = _user(body)
        return [
            {"name": self.v.state.agent_names.get(agent, ""), "address": agent, "validUntil": None}
            for agent, owner in self.v.state.agents.items()
            if owner == user
        ]


def _user(body: dict[str, Any]) -> str:
    return address(body.get("user"))


def _ms(body: dict[str, Any], name: str, *, required: bool = False) -> int | None:
    value = body.get(name)
    if value is None:
        if required:
            raise WireError(f"missing field `{name}`")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise WireError(f"{name}: invalid type, expected u64")
    return value
