"""Hyperliquid's answers in the venue's own shape (API docs; hyperliquid-python-sdk's recorded
tests), small: three perps with different ``szDecimals`` and ``maxLeverage``."""

from __future__ import annotations

from typing import Any

MAIN = "0x" + "ab" * 20  # walletAddress: the main account
AGENT_KEY = "0x" + "11" * 32  # privateKey: an agent (API) wallet's key
VAULT = "0x" + "cd" * 20

META_AND_CTXS: list[Any] = [
    {
        "universe": [
            {"name": "BTC", "szDecimals": 5, "maxLeverage": 40},
            {"name": "ETH", "szDecimals": 4, "maxLeverage": 25},
            {"name": "DOGE", "szDecimals": 0, "maxLeverage": 10},
        ]
    },
    [
        {
            "funding": "0.0000125",
            "openInterest": "9876.5",
            "prevDayPx": "96000.0",
            "dayNtlVlm": "1234567890.0",
            "premium": "0.0001",
            "oraclePx": "97010.0",
            "markPx": "97000.0",
            "midPx": "97000.5",
            "impactPxs": ["96999.0", "97001.0"],
        },
        {
            "funding": "-0.00002",
            "openInterest": "100000.0",
            "prevDayPx": "3500.0",
            "dayNtlVlm": "500000000.0",
            "premium": "0.0",
            "oraclePx": "3550.1",
            "markPx": "3550.2",
            "midPx": "3550.15",
            "impactPxs": ["3550.0", "3550.3"],
        },
        {
            "funding": "0.0000125",
            "openInterest": "50000000.0",
            "prevDayPx": "0.31",
            "dayNtlVlm": "20000000.0",
            "premium": "0.0",
            "oraclePx": "0.32",
            "markPx": "0.32145",
            "midPx": "0.3214",
            "impactPxs": ["0.3213", "0.3215"],
        },
    ],
]


def l2_book(coin: str, bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> Any:
    def side(rows: list[tuple[str, str]]) -> list[dict[str, Any]]:
        return [{"px": p, "sz": s, "n": 1} for p, s in rows]

    return {"coin": coin, "time": 1733400000000, "levels": [side(bids), side(asks)]}


BTC_BOOK = l2_book(
    "BTC",
    [("96990.0", "0.5"), ("96900.0", "2.0")],
    [("97010.0", "0.3"), ("97300.0", "1.0"), ("98000.0", "5.0")],
)
SPOT_META = {
    "tokens": [
        {"name": "USDC", "szDecimals": 8, "weiDecimals": 8, "index": 0, "isCanonical": True}
    ],
    "universe": [],
}
OK = {"status": "ok", "response": {"type": "default"}}


def filled(total: str, avg: str, oid: int = 77) -> Any:
    return {
        "status": "ok",
        "response": {
            "type": "order",
            "data": {"statuses": [{"filled": {"totalSz": total, "avgPx": avg, "oid": oid}}]},
        },
    }


def order_status(cloid: str, coin: str = "BTC", size: str = "0.2") -> Any:
    """``orderStatus`` for a filled IOC (shape from the docs' "Query order status")."""
    return {
        "status": "order",
        "order": {
            "order": {
                "coin": coin,
                "side": "A",
                "limitPx": "96500.0",
                "sz": "0.0",
                "oid": 77,
                "timestamp": 1733400000000,
                "triggerCondition": "N/A",
                "isTrigger": False,
                "triggerPx": "0.0",
                "children": [],
                "isPositionTpsl": False,
                "reduceOnly": False,
                "orderType": "Limit",
                "origSz": size,
                "tif": "Ioc",
                "cloid": cloid,
            },
            "status": "filled",
            "statusTimestamp": 1733400000100,
        },
    }


USER_FUNDING = [
    {
        "time": 1733396400000,
        "hash": "0x" + "00" * 32,
        "delta": {
            "type": "funding",
            "coin": "BTC",
            "usdc": "1.25",
            "szi": "-0.2",
            "fundingRate": "0.0000125",
        },
    }
]


def user_fills(oid: int = 77) -> list[Any]:
    """``userFills``: two fills of one IOC (shape from the SDK's recorded responses)."""
    return [
        {
            "coin": "BTC",
            "px": px,
            "sz": sz,
            "side": "A",
            "time": 1733400000050,
            "startPosition": start,
            "dir": "Open Short",
            "closedPnl": "0.0",
            "hash": "0x" + "0" * 64,
            "oid": oid,
            "crossed": True,
            "fee": "0.5",
            "tid": tid,
            "feeToken": "USDC",
        }
        for px, sz, start, tid in (("96990.0", "0.1", "0.0", 1), ("96900.0", "0.1", "-0.1", 2))
    ]
