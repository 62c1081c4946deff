"""``POST /exchange``: signed actions, answered as the venue answers them.

Every request is ``{action, nonce, signature[, vaultAddress, expiresAfter]}``. The signer is
recovered from the signature (:mod:`bot.sim.hyperliquid.signing`) and must be a main wallet
the venue knows or an API wallet one of them approved; the action then runs for that main
wallet (or for ``vaultAddress``, a sub-account of it). Order and cancel results come back one
status per request item, refusals as ``{"error": "… asset=N"}``; a refused request as
``{"status": "err", "response": "…"}``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bot.sim.hyperliquid.signing import BadSignature, recover_l1, recover_user_signed
from bot.sim.hyperliquid.state import Leverage, Venue
from bot.sim.hyperliquid.wire import (
    ALO,
    BUILDER_NOT_APPROVED,
    FAR_PRICE,
    INVALID_SIZE,
    IOC,
    MARGIN,
    MAX_PRICE_DISTANCE,
    MIN_ORDER_VALUE,
    MIN_VALUE,
    MISSING,
    MUST_DEPOSIT,
    NO_USER,
    REDUCE_ONLY,
    TICK,
    ZERO_SIZE,
    Coin,
    WireError,
    address,
    asset_error,
    cloid_ok,
    num,
    parse_decimal,
    price_ok,
    size_ok,
)
from bot.sim.model import ZERO, Order

D = Decimal
TIFS = {"Gtc": "GTC", "Ioc": "IOC", "Alo": "GTC"}
TENTH_BP = D("0.00001")  # builder fees are in tenths of a basis point
Action = Callable[[str, dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class OrderRequest:
    """One item of an ``order`` action, read off the wire."""

    coin: Coin | None
    asset: int
    buy: bool
    px: Decimal
    sz: Decimal
    reduce_only: bool
    tif: str  # "Gtc", "Ioc", "Alo"; a market trigger runs as "Ioc" at ``px`` once it fires
    cloid: str | None
    trigger_px: Decimal | None = None
    take_profit: bool = False


def ok(kind: str = "default", data: Any = None) -> dict[str, Any]:
    response: dict[str, Any] = {"type": kind}
    if data is not None:
        response["data"] = data
    return {"status": "ok", "response": response}


def err(text: str) -> dict[str, Any]:
    return {"status": "err", "response": text}


class ExchangeActions:
    """The write side of the venue."""

    def __init__(self, venue: Venue) -> None:
        self.v = venue
        self.ex = venue.ex
        self.l1: dict[str, Action] = {
            "order": self.order,
            "cancel": lambda user, a: self.cancel(user, a, by_cloid=False),
            "cancelByCloid": lambda user, a: self.cancel(user, a, by_cloid=True),
            "updateLeverage": self.update_leverage,
            "setReferrer": self.set_referrer,
        }
        self.user_signed: dict[str, Action] = {
            "approveAgent": self.approve_agent,
            "approveBuilderFee": self.approve_builder_fee,
        }

    def handle(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("action"), dict):
            raise WireError("missing field `action`")
        action, nonce = body["action"], body.get("nonce")
        if isinstance(nonce, bool) or not isinstance(nonce, int) or nonce < 0:
            raise WireError("missing field `nonce`")
        kind = action.get("type")
        if kind in self.user_signed:
            return self._user_signed(kind, action, body.get("signature"), nonce)
        if kind not in self.l1:
            raise WireError(f"unknown variant `{kind}`")
        vault = body.get("vaultAddress")
        if isinstance(vault, str) and len(vault) == 40:
            vault = "0x" + vault  # ccxt sends it without the prefix, as the venue accepts
        vault = address(vault, "vaultAddress") if vault is not None else None
        expires = body.get("expiresAfter")
        try:
            signer = recover_l1(action, body.get("signature"), nonce, vault, expires)
        except BadSignature as exc:
            raise WireError(f"signature: {exc}") from None
        user = self.v.principal(signer)
        if user is None:
            return err(NO_USER.format(address=signer))
        refused = self.v.use_nonce(signer, nonce)
        if refused is not None:
            return err(refused)
        if vault is not None:
            if self.v.state.subaccounts.get(vault) != user:
                return err(NO_USER.format(address=vault))
            user = vault
        return self.l1[kind](user, action)

    def _user_signed(
        self, kind: str, action: dict[str, Any], signature: Any, nonce: int
    ) -> dict[str, Any]:
        # The venue checks the signature against its own chain: a testnet-signed action
        # recovers a different address, as it would on mainnet.
        try:
            signer = recover_user_signed({**action, "hyperliquidChain": "Mainnet"}, signature)
        except BadSignature as exc:
            raise WireError(f"signature: {exc}") from None
        if not self.v.known(signer):
            return err(MUST_DEPOSIT.format(address=signer))
        refused = self.v.use_nonce(signer, nonce)
        if refused is not None:
            return err(refused)
        return self.user_signed[kind](signer, action)

    # ------------------------------------------------------------------ orders

    def order(self, user: str, action: dict[str, Any]) -> dict[str, Any]:
        orders = action.get("orders")
        if not isinstance(orders, list):
            raise WireError("missing field `orders`")
        if action.get("grouping", "na") != "na":
            raise WireError("grouping: only `na` is served by the simulator")
        builder = action.get("builder")
        fee_tenths = 0
        if builder is not None:
            if not isinstance(builder, dict) or not isinstance(builder.get("f"), int):
                raise WireError("builder: expected {b, f}")
            b, fee_tenths = address(builder.get("b"), "builder"), builder["f"]
            if self.v.state.builders.get((user, b), -1) < fee_tenths:
                return err(BUILDER_NOT_APPROVED)
        parsed = [self._parse(o) for o in orders]
        statuses = [self._place(user, p, fee_tenths) for p in parsed]
        return ok("order", {"statuses": statuses})

    def _parse(self, o: Any) -> OrderRequest:
        if not isinstance(o, dict):
            raise WireError("orders: expected an object")
        asset, buy, reduce_only = o.get("a"), o.get("b"), o.get("r", False)
        if isinstance(asset, bool) or not isinstance(asset, int):
            raise WireError("a: invalid type, expected u32")
        if not isinstance(buy, bool) or not isinstance(reduce_only, bool):
            raise WireError("b/r: invalid type, expected a boolean")
        px, sz = parse_decimal(o.get("p")), parse_decimal(o.get("s"))
        if px is None or sz is None:
            raise WireError("p/s: expected a decimal string")
        kind = o.get("t")
        trigger = kind.get("trigger") if isinstance(kind, dict) else None
        trigger_px: Decimal | None = None
        take_profit = False
        if isinstance(trigger, dict):
            trigger_px = parse_decimal(trigger.get("triggerPx"))
            is_market, tpsl = trigger.get("isMarket"), trigger.get("tpsl")
            if trigger_px is None or not isinstance(is_market, bool) or tpsl not in ("tp", "sl"):
                raise WireError("trigger: expected {isMarket, triggerPx, tpsl}")
            tif, take_profit = ("Ioc" if is_market else "Gtc"), tpsl == "tp"
        elif isinstance(kind, dict) and isinstance(kind.get("limit"), dict):
            tif = kind["limit"].get("tif")
        else:
            raise WireError("t: expected {limit} or {trigger}")
        if tif not in TIFS:
            raise WireError(f"tif: unknown variant `{tif}`")
        cloid = o.get("c")
        if cloid is not None and not cloid_ok(cloid):
            raise WireError("c: invalid cloid, expected 0x and 32 hex digits")
        return OrderRequest(
            coin=self.v.coin(asset),
            asset=asset,
            buy=buy,
            px=px,
            sz=sz,
            reduce_only=reduce_only,
            tif=tif,
            cloid=cloid.lower() if cloid else None,
            trigger_px=trigger_px,
            take_profit=take_profit,
        )

    def _place(self, user: str, req: OrderRequest, fee_tenths: int) -> dict[str, Any]:
        """One order: the venue's checks in the venue's order, then the engine's matching."""
        coin, asset, buy, px, sz = req.coin, req.asset, req.buy, req.px, req.sz
        reduce_only, tif, cloid = req.reduce_only, req.tif, req.cloid
        if coin is None:
            return {"error": f"Invalid asset {asset}"}
        if sz == 0:
            return {"error": ZERO_SIZE}
        if sz < 0 or not size_ok(sz, coin):
            return {"error": INVALID_SIZE}
        if not price_ok(px, coin) or (
            req.trigger_px is not None and not price_ok(req.trigger_px, coin)
        ):
            return {"error": asset_error(TICK, asset)}
        m = self.ex.markets[coin.symbol]
        if abs(px - m.mark) > m.mark * MAX_PRICE_DISTANCE:
            return {"error": asset_error(FAR_PRICE, asset)}
        acc = self.ex.account(user)
        pos = acc.positions.get(coin.symbol)
        held = pos.qty if pos is not None else ZERO
        signed = sz if buy else -sz
        if reduce_only and (held == 0 or (held > 0) == buy):
            return {"error": asset_error(REDUCE_ONLY, asset)}
        if not reduce_only and px * sz < MIN_ORDER_VALUE:
            return {"error": asset_error(MIN_VALUE, asset)}
        if tif == "Alo":
            bid, ask = m.best()
            if (buy and ask is not None and px >= ask) or (
                not buy and bid is not None and px <= bid
            ):
                bbo = f"{num(bid or ZERO)}@{num(ask or ZERO)}"
                return {"error": asset_error(ALO.format(bbo=bbo), asset)}
        if not reduce_only and req.trigger_px is None:  # a trigger is margined when it fires
            added = max(ZERO, abs(held + signed) - abs(held))
            need = added * px / self.v.leverage(user, coin).value
            if need and need + self.v.margin_used(acc) > self.v.account_value(acc):
                return {"error": asset_error(MARGIN, asset)}
        order = Order(
            id=str(self.ex.next_order_id),
            account=user,
            symbol=coin.symbol,
            side="Bid" if buy else "Ask",
            order_type="Limit",
            quantity=sz,
            price=px,
            quote_quantity=None,
            client_id=None,
            tif=TIFS[tif],
            post_only=tif == "Alo",
            reduce_only=reduce_only,
            stp="RejectTaker",
            created_ms=self.ex.now_ms(),
            reduce_only_sent=True,
        )
        if req.trigger_px is not None:
            order.quantity, order.status = None, "TriggerPending"
            order.trigger_price, order.trigger_quantity = req.trigger_px, num(sz)
            order.trigger_by = "MarkPrice"
            # A stop-loss sell fires on a fall, a take-profit sell on a rise; buys the reverse.
            order.trigger_above = req.take_profit != buy
        self.ex.next_order_id += 1 + self.ex.rng.randint(0, 7)
        if cloid is not None:
            self.v.state.cloid_oids[(user, cloid)] = order.id
            self.v.state.oid_cloids[order.id] = cloid
        first_fill = len(acc.fills)
        self.ex.matching.run(acc, order)
        self.ex.conditional.check_triggers(m)
        if fee_tenths:
            self._charge_builder(acc.fills[first_fill:], order, fee_tenths, acc.bal("USDC"))
        self.ex.changed()
        ids: dict[str, Any] = {"oid": int(order.id)}
        if cloid is not None:
            ids["cloid"] = cloid
        if order.is_open or req.trigger_px is not None:
            return {"resting": ids}  # a trigger order rests until it fires, then runs
        if order.executed == 0:
            return {"error": asset_error(IOC, asset)}
        avg = (order.executed_quote / order.executed).quantize(D("0.00000001")).normalize()
        return {"filled": {"totalSz": num(order.executed), "avgPx": num(avg), **ids}}

    def _charge_builder(
        self, fills: list[dict[str, Any]], order: Order, tenths: int, usdc: list[Decimal]
    ) -> None:
        for f in fills:
            if f["orderId"] != order.id:
                continue
            fee = (D(f["price"]) * D(f["quantity"]) * tenths * TENTH_BP).quantize(D("0.000001"))
            usdc[0] -= fee
            self.v.state.builder_fees[int(f["tradeId"])] = fee

    def cancel(self, user: str, action: dict[str, Any], *, by_cloid: bool) -> dict[str, Any]:
        cancels = action.get("cancels")
        if not isinstance(cancels, list) or not all(isinstance(c, dict) for c in cancels):
            raise WireError("missing field `cancels`")
        statuses: list[Any] = []
        for c in cancels:
            asset = c.get("asset") if by_cloid else c.get("a")
            ref = c.get("cloid") if by_cloid else c.get("o")
            if by_cloid and not cloid_ok(ref):
                raise WireError("cloid: invalid cloid, expected 0x and 32 hex digits")
            if not by_cloid and (isinstance(ref, bool) or not isinstance(ref, int)):
                raise WireError("o: invalid type, expected u64")
            coin = self.v.coin(asset)
            order = self.v.find_order(user, ref.lower() if by_cloid else ref)
            if coin is None or order is None or order.symbol != coin.symbol or not order.is_open:
                statuses.append(
                    {"error": asset_error(MISSING, asset if isinstance(asset, int) else 0)}
                )
                continue
            acc, m = self.ex.accounts[user], self.ex.markets[coin.symbol]
            self.ex.matching.cancel_order(acc, m, order)
            self.ex.streams.publish_book(m)
            self.v.state.closed_ms[order.id] = self.ex.now_ms()
            statuses.append("success")
        self.ex.changed()
        return ok("cancel", {"statuses": statuses})

    # ------------------------------------------------------------------ settings

    def update_leverage(self, user: str, action: dict[str, Any]) -> dict[str, Any]:
        coin = self.v.coin(action.get("asset"))
        lev, cross = action.get("leverage"), action.get("isCross")
        if coin is None or isinstance(lev, bool) or not isinstance(lev, int):
            raise WireError("updateLeverage: expected {asset, isCross, leverage}")
        if not isinstance(cross, bool):
            raise WireError("isCross: invalid type, expected a boolean")
        if not 1 <= lev <= coin.max_leverage:
            return err("Invalid leverage value")
        self.v.state.leverage[(user, coin.asset)] = Leverage(lev, cross)
        return ok()

    def set_referrer(self, user: str, action: dict[str, Any]) -> dict[str, Any]:
        code = action.get("code")
        if not isinstance(code, str):
            raise WireError("missing field `code`")
        if user in self.v.state.referrers:
            return err("Referrer already set.")
        self.v.state.referrers[user] = code
        return ok()

    def approve_agent(self, user: str, action: dict[str, Any]) -> dict[str, Any]:
        agent = address(action.get("agentAddress"), "agentAddress")
        name = action.get("agentName") or ""
        self.v.approve_agent(user, agent, str(name))
        return ok()

    def approve_builder_fee(self, user: str, action: dict[str, Any]) -> dict[str, Any]:
        builder = address(action.get("builder"), "builder")
        rate = str(action.get("maxFeeRate", ""))
        pct = parse_decimal(rate.removesuffix("%")) if rate.endswith("%") else None
        if pct is None or pct < 0:
            raise WireError("maxFeeRate: expected a percentage like `0.01%`")
        self.v.state.builders[(user, builder)] = int(pct * 1000)
        return ok()
