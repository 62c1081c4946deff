"""Hyperliquid's wire: numbers, coins, the tick/lot rules and the shapes of its answers. Pure.

Shapes follow Hyperliquid's API documentation and the responses recorded in its Python SDK's
tests (``tests/cassettes/info_test``): decimals are strings, whole numbers keep a ``.0``
(``"entryPx":"26951.0"``), times are integer milliseconds, sides are ``"B"``/``"A"``.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from bot.sim.markets import MarketSpec, default_markets, fmt
from bot.sim.model import ZERO, Order

D = Decimal
USD = D("0.000001")
MIN_ORDER_VALUE = D(10)
PERP_MAX_DECIMALS = 6
SIGNIFICANT_FIGURES = 5
MAX_PRICE_DISTANCE = D("0.8")  # a price more than 80 % from the mark is refused
DEFAULT_LEVERAGE = 20
MAX_LEVERAGE = {"BTC": 40, "ETH": 25, "SOL": 20, "XRP": 20}
OTHER_MAX_LEVERAGE = 10

FEES_BPS = {  # the venue's base tier: 0.045 % taker, 0.015 % maker on perps
    "futuresMakerFee": "1.5",
    "futuresTakerFee": "4.5",
    "spotMakerFee": "4",
    "spotTakerFee": "7",
}

# The venue's texts (Hyperliquid docs, "Error responses"; the rest as the venue sends them).
TICK = "Price must be divisible by tick size."
MIN_VALUE = "Order must have minimum value of $10."
MARGIN = "Insufficient margin to place order."
REDUCE_ONLY = "Reduce only order would increase position."
ALO = "Post only order would have immediately matched, bbo was {bbo}."
IOC = "Order could not immediately match against any resting orders."
MISSING = "Order was never placed, already canceled, or filled."
INVALID_SIZE = "Order has invalid size."
ZERO_SIZE = "Order has zero size."
FAR_PRICE = "Order price cannot be more than 80% away from the reference price"
NO_USER = "User or API Wallet {address} does not exist."
MUST_DEPOSIT = "Must deposit before performing actions. User: {address}"
BUILDER_NOT_APPROVED = "Builder fee has not been approved."
BAD_JSON = "Failed to deserialize the JSON body into the target type"


def num(value: Decimal) -> str:
    """A decimal as the venue prints it: plain digits, at least one decimal (``"100.0"``)."""
    text = fmt(value)
    return text if "." in text else f"{text}.0"


def usd(value: Decimal) -> str:
    """A USDC amount, to the micro-dollar."""
    return num(value.quantize(USD, ROUND_HALF_UP))


def asset_error(text: str, asset: int) -> str:
    """Order errors name the asset they are about: ``"… asset=0"``."""
    return f"{text} asset={asset}"


def tx_hash(*parts: object) -> str:
    """A stable 32-byte hex hash standing in for the L1 transaction hash."""
    return "0x" + hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()


@dataclass(frozen=True)
class Coin:
    """One perpetual as the venue lists it: its asset index is its place in ``meta``."""

    asset: int
    name: str
    symbol: str  # the engine's market symbol
    sz_decimals: int
    max_leverage: int


def perp_coins(specs: list[MarketSpec]) -> list[Coin]:
    """The engine's perps as Hyperliquid coins (``BTC_USDC_PERP`` is ``BTC``, asset 0 …)."""
    out: list[Coin] = []
    for spec in (s for s in specs if s.is_perp):
        out.append(
            Coin(
                asset=len(out),
                name=spec.base,
                symbol=spec.symbol,
                sz_decimals=max(0, -spec.step.normalize().as_tuple().exponent),  # type: ignore[operator]
                max_leverage=MAX_LEVERAGE.get(spec.base, OTHER_MAX_LEVERAGE),
            )
        )
    return out


def hyperliquid_markets() -> list[MarketSpec]:
    """The engine's default perps with book ticks a Hyperliquid price can sit on.

    Five significant figures make BTC near 97,000 a whole-dollar market and ETH near 3,400 a
    ten-cent one; the other coins' engine ticks already fit. Perps only: this face lists no
    spot pairs.
    """
    ticks = {"BTC": D(1), "ETH": D("0.1")}
    return [
        dataclasses.replace(s, tick=ticks.get(s.base, s.tick))
        for s in default_markets()
        if s.is_perp
    ]


def default_leverage(coin: Coin) -> int:
    return min(DEFAULT_LEVERAGE, coin.max_leverage)


def parse_decimal(value: Any) -> Decimal | None:
    """A wire decimal (the venue takes strings); ``None`` when it is not a finite number."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    try:
        out = D(str(value))
    except (InvalidOperation, ValueError):
        return None
    return out if out.is_finite() else None


def decimals(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def size_ok(size: Decimal, coin: Coin) -> bool:
    """A size keeps at most ``szDecimals`` places."""
    return decimals(size) <= coin.sz_decimals


def price_ok(price: Decimal, coin: Coin) -> bool:
    """At most 5 significant figures (any whole price is fine) and ``6 - szDecimals`` places."""
    if price <= 0:
        return False
    if price == price.to_integral_value():
        return True
    places = decimals(price)
    digits = len(price.normalize().as_tuple().digits)
    return digits <= SIGNIFICANT_FIGURES and places <= PERP_MAX_DECIMALS - coin.sz_decimals


def side(order_side: str) -> str:
    return "B" if order_side == "Bid" else "A"


def tif(order: Order) -> str:
    if order.post_only:
        return "Alo"
    return "Ioc" if order.tif == "IOC" else "Gtc"


def order_status(order: Order) -> str:
    """The venue's status word for an engine order."""
    if order.is_open:
        return "open"
    if order.status == "Filled":
        return "filled"
    if order.status == "TriggerFailed":
        return "reduceOnlyCanceled" if order.reduce_only else "marginCanceled"
    if order.status == "Expired":
        if order.expiry_reason == "ReduceOnlyNotReduced":
            return "reduceOnlyCanceled"
        return "iocCancelRejected" if order.executed == 0 else "canceled"
    return "canceled"


def sizes(order: Order) -> tuple[Decimal, Decimal]:
    """``(origSz, sz)``: a trigger order waiting to fire has its size in ``triggerQuantity``."""
    if order.pending:
        size = D(order.trigger_quantity or "0")
        return size, size
    return order.quantity or ZERO, order.remaining


def is_take_profit(order: Order) -> bool:
    """A trigger that fires on a move *for* the position it closes (a sell above, a buy below)."""
    return order.trigger_above != (order.side == "Bid")


def order_type(order: Order) -> str:
    if order.trigger_price is None:
        return "Limit"
    kind = "Take Profit" if is_take_profit(order) else "Stop"
    return f"{kind} {'Market' if order.tif == 'IOC' else 'Limit'}"


def basic_order(order: Order, coin: Coin, cloid: str | None) -> dict[str, Any]:
    """An ``openOrders`` row (the recorded shape, plus ``cloid`` when the order has one)."""
    orig, left = sizes(order)
    row: dict[str, Any] = {
        "coin": coin.name,
        "limitPx": num(order.price or ZERO),
        "oid": int(order.id),
        "side": side(order.side),
        "sz": num(left),
        "timestamp": order.created_ms,
        "origSz": num(orig),
    }
    if cloid is not None:
        row["cloid"] = cloid
    return row


def frontend_order(order: Order, coin: Coin, cloid: str | None) -> dict[str, Any]:
    """A ``frontendOpenOrders`` / ``orderStatus`` / ``historicalOrders`` order object."""
    orig, left = sizes(order)
    trigger = order.trigger_price
    condition = "N/A"
    if trigger is not None:
        condition = f"Price {'above' if order.trigger_above else 'below'} {num(trigger)}"
    return {
        "coin": coin.name,
        "side": side(order.side),
        "limitPx": num(order.price or ZERO),
        "sz": num(left),
        "oid": int(order.id),
        "timestamp": order.created_ms,
        "triggerCondition": condition,
        "isTrigger": trigger is not None,
        "triggerPx": num(trigger or ZERO),
        "children": [],
        "isPositionTpsl": False,
        "reduceOnly": order.reduce_only,
        "orderType": order_type(order),
        "origSz": num(orig),
        "tif": tif(order) if trigger is None else None,
        "cloid": cloid,
    }


def direction(start: Decimal, signed: Decimal) -> str:
    """``dir`` of a fill: what it did to the position it started from."""
    end = start + signed
    if start == 0 or (start > 0) == (signed > 0):
        return "Open Long" if signed > 0 else "Open Short"
    if end != 0 and (end > 0) != (start > 0):
        return "Long > Short" if start > 0 else "Short > Long"
    return "Close Long" if start > 0 else "Close Short"


def replay_fills(
    rows: list[dict[str, Any]],
    coins: dict[str, Coin],
    cloids: dict[str, str],
    builder_fees: dict[int, Decimal],
) -> list[dict[str, Any]]:
    """The engine's fill log of one account as ``userFills`` rows, oldest first.

    ``startPosition``, ``dir`` and ``closedPnl`` come from replaying the log (average entry
    price, as the engine keeps positions); ``cloids`` maps order ids to client order ids.
    """
    pos: dict[str, tuple[Decimal, Decimal]] = {}  # symbol -> (size, entry)
    out = []
    for row in rows:
        coin = coins.get(row["symbol"])
        if coin is None:
            continue
        px, sz = D(row["price"]), D(row["quantity"])
        signed = sz if row["side"] == "Bid" else -sz
        start, entry = pos.get(row["symbol"], (ZERO, ZERO))
        closed_pnl = ZERO
        end = start + signed
        if start == 0 or (start > 0) == (signed > 0):
            entry = (start * entry + signed * px) / end
        else:
            closed = min(abs(start), sz)
            closed_pnl = closed * (px - entry) * (1 if start > 0 else -1)
            if end == 0:
                entry = ZERO
            elif (end > 0) != (start > 0):
                entry = px
        pos[row["symbol"]] = (end, entry)
        fill: dict[str, Any] = {
            "coin": coin.name,
            "px": num(px),
            "sz": num(sz),
            "side": "B" if row["side"] == "Bid" else "A",
            "time": row["_ts"],
            "startPosition": num(start),
            "dir": direction(start, signed),
            "closedPnl": usd(closed_pnl),
            "hash": tx_hash("fill", row["orderId"]),
            "oid": int(row["orderId"]),
            "crossed": not row["isMaker"],
            "fee": usd(D(row["fee"])),
            "tid": int(row["tradeId"]),
            "feeToken": "USDC",
        }
        cloid = cloids.get(row["orderId"])
        if cloid is not None:
            fill["cloid"] = cloid
        builder = builder_fees.get(int(row["tradeId"]))
        if builder is not None:
            fill["builderFee"] = usd(builder)
        out.append(fill)
    return out


class WireError(Exception):
    """A request the venue cannot even read: HTTP 422 with a plain-text body."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.text = f"{BAD_JSON}: {detail}"


def address(value: Any, name: str = "user") -> str:
    """A 42-character hex address, lower-cased (as the venue keys users)."""
    if not isinstance(value, str) or len(value) != 42 or not value.startswith("0x"):
        raise WireError(f"{name}: invalid address")
    try:
        int(value[2:], 16)
    except ValueError:
        raise WireError(f"{name}: invalid address") from None
    return value.lower()


def cloid_ok(value: Any) -> bool:
    """A client order id is ``0x`` and 32 hex digits (128 bits)."""
    if not isinstance(value, str) or len(value) != 34 or not value.startswith("0x"):
        return False
    try:
        int(value[2:], 16)
    except ValueError:
        return False
    return True
