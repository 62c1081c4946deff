"""The simulator's domain values: orders, positions, accounts, candles, and its errors."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

from bot.sim.markets import MarketSpec, fmt

D = Decimal
ZERO = D(0)
HOUR = 3600
HISTORY_HOURS = 24 * 35
LEVERAGE = D(10)
FEES = {"futuresMakerFee": "2", "futuresTakerFee": "5", "spotMakerFee": "8", "spotTakerFee": "10"}
BPS = D("0.0001")
MMF = D("0.0125")
DEFAULT_BALANCE = D(100000)

Listener = Callable[[str, str | None, dict[str, Any]], None]
"""``(stream, account_key | None, data)``; ``account_key`` is set on private streams."""
Wants = Callable[[str], bool]
"""Whether a listener cares about a stream; payloads nobody wants are never built."""


class SimError(Exception):
    """An exchange error: JSON ``{"code","message"}`` unless ``plain`` (framework text error)."""

    def __init__(self, status: int, code: str, message: str, *, plain: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.plain = plain


def bad_request(message: str, code: str = "INVALID_CLIENT_REQUEST") -> SimError:
    return SimError(400, code, message)


def parse_error(what: str, detail: str) -> SimError:
    return SimError(
        400, "", f"failed to parse parameter `{what}`: failed to parse {detail}", plain=True
    )


def payload_error(type_name: str, detail: str) -> SimError:
    return SimError(
        400,
        "",
        f'parse request payload error: failed to parse "{type_name}": {detail} '
        '(occurred while parsing "OrderExecutePayload")',
        plain=True,
    )


def iso(ts: float, *, ms: bool = True) -> str:
    """Naive UTC ISO time as the history endpoints print it."""
    if not ms:
        return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-7]
    # An order writes several rows (fill, fees, pnl, position) within the same millisecond:
    # the text is made once per millisecond. Not within 1 µs of the next one, where rounding
    # to the microsecond (as datetime does) could carry into it (float error here ≤ 0.25 µs).
    scaled = ts * 1000
    key = int(scaled)
    same_ms = scaled - key < 0.999
    if same_ms and _ISO_MS[0] == key:
        return str(_ISO_MS[1])
    text = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
    if same_ms:
        _ISO_MS[:] = (key, text)
    return text


_ISO_MS: list[int | str] = [-1, ""]


def dec(value: Any, name: str) -> Decimal:
    """Parse a request decimal; strings and numbers both accepted, garbage rejected."""
    try:
        out = D(str(value))
    except (InvalidOperation, ValueError):
        raise bad_request(f"Invalid {name}") from None
    if not out.is_finite():
        raise bad_request(f"Invalid {name}")
    return out


def quantize_to(value: Decimal, step: Decimal, rounding: str = ROUND_DOWN) -> Decimal:
    return (value / step).to_integral_value(rounding=rounding) * step


def check_quantity(spec: MarketSpec, qty: Decimal) -> None:
    """A base quantity must be positive, on the step and within the market's limits."""
    if qty <= 0:
        raise SimError(400, "INVALID_QUANTITY", "Quantity must be positive")
    if qty % spec.step != 0:
        raise bad_request("Quantity decimal too long")
    if qty < spec.min_qty:
        raise SimError(400, "INVALID_QUANTITY", "Quantity is below the minimum allowed value")
    if spec.max_qty is not None and qty > spec.max_qty:
        raise SimError(400, "INVALID_QUANTITY", "Quantity is above the maximum allowed value")


SETTLEMENT_SOURCES = (
    "BackstopLiquidation",
    "CulledBorrowInterest",
    "CulledRealizePnl",
    "CulledRealizePnlBookUtilization",
    "FundingPayment",
    "RealizePnl",
    "TradingFees",
    "TradingFeesSystem",
)


LOGS = ("fills", "funding", "settlements", "position_history")
"""Append-only per-account histories: journaled as new tails, never rewritten."""


TRIGGER_BY = ("MarkPrice", "LastPrice", "IndexPrice")


DEFAULT_TRIGGER_BY = "MarkPrice"


@dataclass
class Candle:
    start: int  # seconds
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal = ZERO
    quote_volume: Decimal = ZERO
    trades: int = 0

    def update(self, price: Decimal, qty: Decimal = ZERO) -> None:
        self.high = max(self.high, price)
        self.low = min(self.low, price)
        self.close = price
        if qty:
            self.volume += qty
            self.quote_volume += qty * price
            self.trades += 1


@dataclass
class Order:
    """A user order; ``to_wire`` renders the REST order object.

    A conditional order (``trigger_price`` set) waits as ``TriggerPending`` with no quantity until
    its reference price crosses the trigger, then runs as a market or limit order with the same
    id. ``stop_loss``/``take_profit`` hold the protective orders a fill of this order creates.
    """

    id: str
    account: str
    symbol: str
    side: str
    order_type: str
    quantity: Decimal | None
    price: Decimal | None
    quote_quantity: Decimal | None
    client_id: int | None
    tif: str
    post_only: bool
    reduce_only: bool
    stp: str
    created_ms: int
    status: str = "New"
    executed: Decimal = ZERO
    executed_quote: Decimal = ZERO
    expiry_reason: str | None = None
    locked_asset: str | None = None
    locked: Decimal = ZERO
    reduce_only_sent: bool = False  # ``reduceOnly`` is null in replies unless it was sent
    quote_estimate: Decimal | None = None  # what a market order by quantity was expected to cost
    slippage: dict[str, Any] | None = None  # ``slippageTolerance*`` exactly as sent
    trigger_price: Decimal | None = None
    trigger_quantity: str | None = None  # a quantity, or a percentage of the position ("50%")
    trigger_by: str | None = None
    trigger_above: bool = False  # fires when the reference price is >= (else <=) the trigger
    triggered_ms: int | None = None
    related_order_id: str | None = None
    bracket_kind: str | None = None  # "stopLoss"/"takeProfit" on a protective order
    stop_loss: Bracket | None = None
    take_profit: Bracket | None = None

    @property
    def remaining(self) -> Decimal:
        return (self.quantity or ZERO) - self.executed

    @property
    def pending(self) -> bool:
        return self.status == "TriggerPending"

    @property
    def is_open(self) -> bool:
        return self.status in ("New", "PartiallyFilled", "TriggerPending")

    def quote_wire(self) -> Decimal | None:
        """``quoteQuantity`` as replies print it: as sent, else the estimate or price x qty."""
        if self.quote_quantity is not None:
            return self.quote_quantity
        if self.order_type == "Limit" and self.price is not None and self.quantity is not None:
            return self.price * self.quantity
        return self.quote_estimate

    def to_wire(self, *, history: bool = False) -> dict[str, Any]:
        sl, tp = self.stop_loss, self.take_profit
        quantity = self.quantity if not self.pending else ZERO
        out: dict[str, Any] = {
            "id": self.id,
            "clientId": self.client_id,
            "symbol": self.symbol,
            "side": self.side,
            "orderType": self.order_type,
            "quantity": fmt(quantity) if quantity is not None else None,
            "executedQuantity": fmt(self.executed),
            "executedQuoteQuantity": fmt(self.executed_quote),
            "selfTradePrevention": self.stp,
            "status": self.status,
            "timeInForce": self.tif,
            "createdAt": iso(self.created_ms / 1000) if history else self.created_ms,
            "strategyId": None,
            "triggerBy": self.trigger_by,
            "triggerPrice": fmt(self.trigger_price) if self.trigger_price is not None else None,
            "triggerQuantity": self.trigger_quantity,
            "stopLossLimitPrice": sl.limit_wire() if sl else None,
            "stopLossTriggerBy": sl.trigger_by if sl else None,
            "stopLossTriggerPrice": fmt(sl.trigger_price) if sl else None,
            "takeProfitLimitPrice": tp.limit_wire() if tp else None,
            "takeProfitTriggerBy": tp.trigger_by if tp else None,
            "takeProfitTriggerPrice": fmt(tp.trigger_price) if tp else None,
        }
        quote = self.quote_wire()
        if self.order_type == "Limit":
            out["price"] = fmt(self.price or ZERO)
            out["postOnly"] = self.post_only
            if history:
                out["quoteQuantity"] = fmt(quote) if quote is not None else None
        else:
            out["quoteQuantity"] = fmt(quote) if quote is not None else None
            if self.slippage:
                out.update(self.slippage)
        if history:
            out["expiryReason"] = self.expiry_reason
            out["systemOrderType"] = None
        else:
            out["reduceOnly"] = self.reduce_only if self.reduce_only_sent else None
            out["relatedOrderId"] = self.related_order_id
            out["triggeredAt"] = self.triggered_ms
        return out

    def to_state(self) -> dict[str, Any]:
        wire = self.to_wire()
        wire["reduceOnly"] = self.reduce_only
        return wire


@dataclass(frozen=True)
class Bracket:
    """A stop-loss or take-profit attached to an order: placed when that order fills."""

    trigger_price: Decimal
    limit_price: Decimal | None
    trigger_by: str

    def limit_wire(self) -> str | None:
        return fmt(self.limit_price) if self.limit_price is not None else None

    def dump(self) -> dict[str, Any]:
        return {
            "trigger_price": str(self.trigger_price),
            "limit_price": str(self.limit_price) if self.limit_price is not None else None,
            "trigger_by": self.trigger_by,
        }

    @classmethod
    def load(cls, d: dict[str, Any] | None) -> Bracket | None:
        if d is None:
            return None
        limit = d.get("limit_price")
        return cls(D(d["trigger_price"]), D(limit) if limit is not None else None, d["trigger_by"])


@dataclass
class Position:
    symbol: str
    position_id: str
    qty: Decimal = ZERO
    entry: Decimal = ZERO
    realized: Decimal = ZERO
    funding: Decimal = ZERO
    fees: Decimal = ZERO
    opened_ms: int = 0
    closed_volume: Decimal = ZERO


@dataclass
class Account:
    key: str
    user_id: int
    balances: dict[str, list[Decimal]] = field(default_factory=dict)  # asset -> [avail, locked]
    positions: dict[str, Position] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)  # every order ever, by id
    open: dict[str, Order] = field(default_factory=dict)  # resting orders only (hot path)
    fills: list[dict[str, Any]] = field(default_factory=list)
    funding: list[dict[str, Any]] = field(default_factory=list)
    settlements: list[dict[str, Any]] = field(default_factory=list)
    position_history: list[dict[str, Any]] = field(default_factory=list)  # closed positions
    persisted: dict[str, int] = field(default_factory=dict)  # rows of each log in the journal
    published_balances: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)

    def bal(self, asset: str) -> list[Decimal]:
        return self.balances.setdefault(asset, [ZERO, ZERO])


def page(rows: list[Any], q: dict[str, str]) -> list[Any]:
    try:
        limit = min(1000, int(q.get("limit", "100")))
        offset = int(q.get("offset", "0"))
    except ValueError:
        raise parse_error("limit", '"u64": invalid digit found in string') from None
    desc = q.get("sortDirection", "Desc") != "Asc"
    ordered = list(reversed(rows)) if desc else list(rows)
    return ordered[offset : offset + limit]
