"""The simulator's market list: realistic filters, starting prices and fee schedule."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any, NamedTuple

D = Decimal
IMF_FUNCTION = {"base": "0.02", "factor": "0.0001275", "type": "sqrt"}
MMF_FUNCTION = {"base": "0.0125", "factor": "0.0000765", "type": "sqrt"}


@dataclass(frozen=True, slots=True)
class MarketSpec:
    """One tradable market as the simulator knows it."""

    symbol: str
    base: str
    quote: str
    kind: str  # "SPOT" or "PERP"
    tick: Decimal
    step: Decimal
    min_qty: Decimal
    max_qty: Decimal | None
    price: Decimal  # starting price
    base_funding: Decimal = Decimal("0.0000125")

    @property
    def is_perp(self) -> bool:
        return self.kind == "PERP"

    @property
    def imf_base(self) -> str:
        """The initial margin fraction a position reports: its ``imfFunction.base``."""
        return IMF_FUNCTION["base"]

    def to_wire(self, funding_interval_ms: int) -> dict[str, Any]:
        """The market object exactly as `/api/v1/markets` prints it."""
        perp = self.is_perp
        return {
            "symbol": self.symbol,
            "baseSymbol": self.base,
            "quoteSymbol": self.quote,
            "marketType": self.kind,
            "filters": {
                "price": {
                    "minPrice": fmt(self.tick),
                    "maxPrice": fmt(self.price * 1000),
                    "tickSize": fmt(self.tick),
                    "maxMultiplier": "1.25",
                    "minMultiplier": "0.75",
                    "maxImpactMultiplier": "1.03",
                    "minImpactMultiplier": "0.97",
                    "meanMarkPriceBand": (
                        {"maxMultiplier": "1.1", "minMultiplier": "0.9"} if perp else None
                    ),
                    "meanPremiumBand": {"tolerancePct": "0.05"} if perp else None,
                    "borrowEntryFeeMaxMultiplier": None,
                    "borrowEntryFeeMinMultiplier": None,
                },
                "quantity": {
                    "minQuantity": fmt(self.min_qty),
                    "maxQuantity": fmt(self.max_qty) if self.max_qty is not None else None,
                    "stepSize": fmt(self.step),
                },
            },
            "imfFunction": dict(IMF_FUNCTION) if perp else None,
            "mmfFunction": dict(MMF_FUNCTION) if perp else None,
            "fundingInterval": funding_interval_ms if perp else None,
            "fundingRateUpperBound": "150" if perp else None,
            "fundingRateLowerBound": "-150" if perp else None,
            "openInterestLimit": "4000000" if perp else "0",
            "orderBookState": "Open",
            "createdAt": "2025-01-21T06:34:54.691858",
            "visible": True,
            "positionLimitWeight": "1" if perp else None,
        }

    @classmethod
    def from_wire(cls, row: dict[str, Any], price: Decimal) -> MarketSpec:
        """Build a spec from a real `/api/v1/markets` row (paper trading on real markets)."""
        q = row["filters"]["quantity"]
        return cls(
            symbol=row["symbol"],
            base=row["baseSymbol"],
            quote=row["quoteSymbol"],
            kind=row["marketType"],
            tick=D(row["filters"]["price"]["tickSize"]),
            step=D(q["stepSize"]),
            min_qty=D(q["minQuantity"]),
            max_qty=D(q["maxQuantity"]) if q.get("maxQuantity") else None,
            price=price,
        )


class StreamNames(NamedTuple):
    """The public stream names of one market (built once: they are looked up per event)."""

    depth: str
    book_ticker: str
    trade: str


@lru_cache(maxsize=1024)
def stream_names(symbol: str) -> StreamNames:
    """``depth.SYM``, ``bookTicker.SYM`` and ``trade.SYM``."""
    return StreamNames(f"depth.{symbol}", f"bookTicker.{symbol}", f"trade.{symbol}")


def fmt_once(value: Decimal) -> str:
    """A decimal as the exchange prints it: plain digits, no exponent, no trailing zeros.

    For a value that will not come again (a trade's size, a notional): :func:`fmt` would
    hash it (a Decimal's hash costs more than formatting it) only to miss.
    """
    if value == 0:
        return "0"
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


fmt = lru_cache(maxsize=1 << 16)(fmt_once)
""":func:`fmt_once`, cached: book prices and sizes repeat constantly (the same objects, whose
hash Decimal keeps), and formatting dominates streaming."""


_COINS: list[tuple[str, str, str, str, str | None, str, str]] = [
    # base, tick, step, minQty, maxQty, price, base funding per hour
    ("BTC", "0.1", "0.00001", "0.00001", "1000", "97000", "0.0000125"),
    ("ETH", "0.01", "0.0001", "0.0001", "10000", "3400", "0.0000125"),
    ("SOL", "0.01", "0.01", "0.01", "100000", "180", "0.0000200"),
    ("DOGE", "0.00001", "1", "1", "50000000", "0.35", "0.0000300"),
    ("XRP", "0.0001", "0.1", "0.1", "5000000", "2.2", "0.0000100"),
    ("AVAX", "0.001", "0.01", "0.01", "200000", "38", "-0.0000150"),
    ("LINK", "0.001", "0.01", "0.01", "200000", "22", "0.0000125"),
    ("SUI", "0.0001", "0.1", "0.1", "2000000", "4.2", "0.0000400"),
    ("kPEPE", "0.000001", "1", "1", "100000000", "0.02", "0.0000600"),
    ("ARB", "0.0001", "0.1", "0.1", "5000000", "0.85", "-0.0000050"),
]

_SPOT = {"BTC", "ETH", "SOL"}


def default_markets() -> list[MarketSpec]:
    """BTC, ETH, SOL spot and ten USDC perps."""
    specs: list[MarketSpec] = []
    for base, tick, step, mn, mx, price, funding in _COINS:
        common = {
            "base": base,
            "quote": "USDC",
            "tick": D(tick),
            "step": D(step),
            "min_qty": D(mn),
            "max_qty": D(mx) if mx else None,
            "price": D(price),
        }
        if base in _SPOT:
            specs.append(MarketSpec(symbol=f"{base}_USDC", kind="SPOT", **common))  # type: ignore[arg-type]
        specs.append(
            MarketSpec(
                symbol=f"{base}_USDC_PERP",
                kind="PERP",
                base_funding=D(funding),
                **common,  # type: ignore[arg-type]
            )
        )
    return specs


ASSET_NAMES = {
    "USDC": "USD Coin",
    "BTC": "Bitcoin",
    "ETH": "Ethereum",
    "SOL": "Solana",
    "DOGE": "Dogecoin",
    "XRP": "XRP",
    "AVAX": "Avalanche",
    "LINK": "Chainlink",
    "SUI": "Sui",
    "kPEPE": "Pepe (1000)",
    "ARB": "Arbitrum",
}


_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def contract_address(asset: str) -> str:
    """A stable, Solana-looking (base58, 44 characters) made-up mint address for ``asset``."""
    n = int.from_bytes(hashlib.sha256(f"sim-mint:{asset}".encode()).digest(), "big")
    out = []
    for _ in range(44):
        n, r = divmod(n, 58)
        out.append(_B58[r])
    return "".join(out)


def asset_rows(markets: list[MarketSpec]) -> list[dict[str, Any]]:
    """`/api/v1/assets` rows for every asset the markets use."""
    seen: list[str] = ["USDC"]
    for m in markets:
        if m.base not in seen:
            seen.append(m.base)
    return [
        {
            "symbol": sym,
            "displayName": ASSET_NAMES.get(sym, sym),
            "coingeckoId": ASSET_NAMES.get(sym, sym).lower().replace(" ", "-"),
            "tokens": [
                {
                    "blockchain": "Solana",
                    "contractAddress": contract_address(sym),
                    "depositEnabled": True,
                    "displayName": ASSET_NAMES.get(sym, sym),
                    "minimumDeposit": "0.0001",
                    "minimumWithdrawal": "0.0002",
                    "maximumWithdrawal": None,
                    "withdrawalFee": "0.0001",
                    "withdrawEnabled": True,
                    "nativeDecimals": 8,
                }
            ],
        }
        for sym in seen
    ]
