"""Hyperliquid's rules (ccxt's ``hyperliquid`` class, unmodified).

What the venue requires, as its API documentation and its own SDK (hyperliquid-python-sdk:
``Exchange.market_open`` → ``_slippage_price`` → an IOC limit; ``Cloid.from_int``) do it:

- **No market orders.** A market leg is an IOC limit at the best price moved by the slippage
  allowed (``HEDGE_MAX_SLIPPAGE``), priced here from the venue's own book and refused when the
  book holds less than the size within that slippage.
- **Client ids** (``cloid``) are 128-bit hex: ``0x`` + 32 hex digits. The bot's uint32 client
  id maps to one deterministically (a fixed tag, then the id), so lookup and cancel go by cloid
  and an order not placed by the bot is never taken for one of its own.
- **Precision:** sizes to ``szDecimals``; prices to 5 significant figures and at most
  ``6 − szDecimals`` decimals (integer prices always allowed), rounded towards the best price
  so the limit stays within the slippage.
- **Minimum** order value $10; **leverage** set per market (cross) before the first order
  there, never above the asset's ``maxLeverage``.
- **API wallets:** ``walletAddress`` is the main account, ``privateKey`` an agent wallet's key
  that signs for it; with ``vaultAddress`` (a vault or sub-account) the orders act for it
  and every account read is made for that address, not the signer's.
- **Nothing extra:** ccxt's own builder fee is set to 0 and its referral code is not sent.
- **Funding** is paid every hour (ccxt's rate says ``interval: '1h'``); the account's own
  payments are ``userFunding``.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from bot.venues.port import OrderBook, Side, VenueMarket
from bot.venues.rules.base import DEFAULT_SLIPPAGE, LegPlan, Refused, VenueRules, floor_to

#: Hex digits before the bot's client id in a cloid: "bpbot" in ASCII, so cloids the bot made
#: are told apart from any other tool's on the same account.
CLOID_TAG = b"bpbot".hex()
_CLOID_DIGITS = 32
MIN_ORDER_VALUE = Decimal(10)
#: Perps allow 6 decimals in a price minus the asset's size decimals.
PERP_MAX_DECIMALS = 6
SIGNIFICANT_FIGURES = 5


def cloid(client_id: int) -> str:
    """The bot's client id as a Hyperliquid cloid: ``0x`` + 32 hex digits."""
    digits = _CLOID_DIGITS - len(CLOID_TAG)
    if not 0 <= client_id < 16**digits:
        raise ValueError(f"client id {client_id} does not fit a cloid")
    return f"0x{CLOID_TAG}{client_id:0{digits}x}"


def client_id_of_cloid(value: Any) -> int | None:
    """The bot's client id from a cloid it made; ``None`` for any other."""
    text = str(value or "").lower()
    if len(text) != 2 + _CLOID_DIGITS or not text.startswith("0x" + CLOID_TAG):
        return None
    try:
        return int(text[2 + len(CLOID_TAG) :], 16)
    except ValueError:
        return None


def plain(value: Decimal) -> str:
    """A number as written by hand: no exponent, no trailing zeros."""
    return format(value.normalize(), "f")


def size_decimals(step: Decimal) -> int:
    """``szDecimals`` back from the size step (``0.00001`` → 5)."""
    return max(0, -step.normalize().as_tuple().exponent)  # type: ignore[operator]


def round_price(price: Decimal, sz_decimals: int, *, up: bool) -> Decimal:
    """A valid perp price: 5 significant figures, at most ``6 − szDecimals`` decimals, integers
    always allowed; rounded up or down (towards the best price, so within the slippage)."""
    mode = ROUND_CEILING if up else ROUND_FLOOR
    whole = price.to_integral_value(ROUND_FLOOR)
    if whole >= 10 ** (SIGNIFICANT_FIGURES - 1):  # 5 or more integer digits: an integer
        return price.to_integral_value(mode)
    exponent = price.adjusted() - (SIGNIFICANT_FIGURES - 1)
    decimals = min(-exponent, PERP_MAX_DECIMALS - sz_decimals)
    return price.quantize(Decimal(1).scaleb(-decimals), rounding=mode)


class HyperliquidRules(VenueRules):
    market_types = ("swap",)
    needs_book = True

    def __init__(self, config: dict[str, object] | None = None) -> None:
        config = config or {}
        self.slippage = Decimal(str(config.get("slippage") or DEFAULT_SLIPPAGE))
        leverage = config.get("leverage")
        self.wanted_leverage = int(str(leverage)) if leverage else None
        vault = config.get("vaultAddress") or config.get("subAccountAddress")
        self.vault = str(vault).lower() if vault else None

    def exchange_options(self) -> dict[str, Any]:
        options = super().exchange_options()
        # ccxt on its own charges its builder a fee on every order and signs the user up to
        # its referral code; the bot asks neither (a 0 % builder, no referrer).
        options.update(builderFee=False, refSet=True)
        if self.vault:
            options["vaultAddress"] = self.vault  # ccxt signs every action for the vault
        return options

    def client_order_id(self, client_id: int) -> str:
        return cloid(client_id)

    def client_id_of(self, venue_id: Any) -> int | None:
        return client_id_of_cloid(venue_id)

    def refuse(self, market: VenueMarket, quantity: Decimal, price: Decimal | None) -> str | None:
        if quantity <= 0 or quantity < market.step:
            return f"{quantity} {market.base} is below the size step {market.step}"
        if price is not None and quantity * price < MIN_ORDER_VALUE:
            return (
                f"{quantity} {market.base} is worth {quantity * price:.2f} USDC; "
                f"Hyperliquid's minimum order is {MIN_ORDER_VALUE} USDC"
            )
        return None

    def plan(
        self,
        market: VenueMarket,
        side: Side,
        quantity: Decimal,
        book: OrderBook | None,
        *,
        reduce_only: bool,
    ) -> LegPlan:
        size = floor_to(quantity, market.step)
        levels = (book.asks if side == "buy" else book.bids) if book is not None else ()
        if not levels:
            raise Refused(f"{market.base}: the {market.symbol} book is empty")
        best = levels[0][0]
        buy = side == "buy"
        bound = best * (1 + self.slippage) if buy else best * (1 - self.slippage)
        price = round_price(bound, size_decimals(market.step), up=not buy)
        within = sum(
            (q for p, q in levels if (p <= price if buy else p >= price)), start=Decimal(0)
        )
        if within < size:
            raise Refused(
                f"the {market.symbol} book is too thin: {plain(within)} {market.base} within "
                f"{plain(self.slippage * 100)} % of {plain(best)}, the order needs "
                f"{plain(size)} (HEDGE_MAX_SLIPPAGE)"
            )
        problem = self.refuse(market, size, price)
        if problem:
            raise Refused(problem)
        params: dict[str, Any] = {"timeInForce": "Ioc"}
        if reduce_only:
            params["reduceOnly"] = True
        return LegPlan("limit", size, price, params)

    def read_params(self) -> dict[str, Any]:
        return {"user": self.vault} if self.vault else {}

    def leverage(self, market_info: dict[str, Any]) -> int | None:
        if self.wanted_leverage is None:
            return None
        cap = int(str(market_info.get("maxLeverage") or self.wanted_leverage))
        return max(1, min(self.wanted_leverage, cap))

    def leverage_params(self) -> dict[str, Any]:
        return {"marginMode": "cross"}

    def lookup_by_client_id(self) -> bool:
        return True
