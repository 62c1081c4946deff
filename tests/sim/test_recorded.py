"""A recorded run: the same seed gives the same bytes, frame for frame and answer for answer.

The simulator's speed work (integer ticks in the walk, a cheaper order path) must not change
what a client sees. One fixed scenario — the random walk with every public and private stream
wanted, orders of every kind, cancels, control moves, a mirrored book, funding settlements and
the REST reads — is serialised as the server does it (orjson) and hashed; the hashes were
recorded on the code before that work. A change to the wire shows up here as a new hash.
"""

from __future__ import annotations

import decimal
import hashlib
from decimal import Decimal
from typing import Any

import orjson

from bot.clock import FakeClock
from bot.sim.engine import Engine
from bot.sim.model import SimError

#: sha256 of every frame the scenario emits, and of every answer, recorded before the change.
FRAMES = "d44f5f0d4fffbf4e2489382f6fc5a409a5d50a318f0b99c3f4c2b59624956422"
ANSWERS = "8c99ba618b7bfd4c2bd1e572397d8949d1ad1c0cb969f897f33699baff972cf3"

STEPS = 2400
PERP, SPOT = "SOL_USDC_PERP", "BTC_USDC"
ALICE, BOB = "alice-key", "bob-key"


def _orders(engine: Engine, step: int) -> list[tuple[str, dict[str, Any]]]:
    """The requests sent at ``step`` (a mix of every order kind, on a perp and a spot)."""
    mid = engine.markets[PERP].mid
    btc = engine.markets[SPOT].mid
    below, above = (
        str((mid * Decimal("0.999")).quantize(Decimal("0.01"))),
        str((mid * Decimal("1.001")).quantize(Decimal("0.01"))),
    )
    k = step // 25 % 8
    rows: list[tuple[str, dict[str, Any]]] = [
        (ALICE, {"symbol": PERP, "side": "Bid", "orderType": "Market", "quantity": "1.5"}),
        (
            BOB,
            {
                "symbol": PERP,
                "side": "Bid",
                "orderType": "Limit",
                "price": below,
                "quantity": "2",
                "clientId": step,
            },
        ),
        (
            ALICE,
            {
                "symbol": PERP,
                "side": "Ask",
                "orderType": "Limit",
                "price": above,
                "quantity": "0.7",
                "postOnly": True,
            },
        ),
        (BOB, {"symbol": SPOT, "side": "Bid", "orderType": "Market", "quoteQuantity": "250"}),
        (
            ALICE,
            {
                "symbol": PERP,
                "side": "Ask",
                "orderType": "Market",
                "quantity": "0.5",
                "reduceOnly": True,
            },
        ),
        (
            BOB,
            {
                "symbol": SPOT,
                "side": "Ask",
                "orderType": "Limit",
                "timeInForce": "IOC",
                "price": str((btc * Decimal("0.99")).quantize(Decimal("0.1"))),
                "quantity": "0.001",
            },
        ),
        (
            ALICE,
            {
                "symbol": PERP,
                "side": "Ask",
                "orderType": "Market",
                "quantity": "1",
                "triggerPrice": below,
                "triggerQuantity": "1",
            },
        ),
        (BOB, {"symbol": PERP, "side": "Ask", "orderType": "Market", "quantity": "0"}),
    ]
    return [rows[k]]


def _wanted(stream: str) -> bool:
    """Every stream but the long candles (their live candle rescans hours of history)."""
    return not stream.startswith("kline.") or stream.startswith("kline.1m.")


def _run() -> tuple[str, str]:
    clock = FakeClock(1_760_000_000.0)
    engine = Engine(seed=7, clock=clock, funding_interval=600)
    frames = hashlib.sha256()
    answers = hashlib.sha256()

    def listener(stream: str, account: str | None, data: dict[str, Any]) -> None:
        frames.update(orjson.dumps({"stream": stream, "account": account, "data": data}))

    engine.add_listener(listener, _wanted)

    def answer(fn: Any, *args: Any) -> None:
        try:
            out = fn(*args)
        except SimError as err:
            out = {"status": err.status, "code": err.code, "message": err.message}
        answers.update(orjson.dumps(out, option=orjson.OPT_NON_STR_KEYS))

    for step in range(STEPS):
        clock.advance(0.5)
        engine.step()
        if step % 4 == 3:
            engine.publish_periodic()
        if step % 25 == 0:
            for key, body in _orders(engine, step):
                answer(engine.execute, key, body)
        if step % 100 == 50:
            for key in (ALICE, BOB):
                opened = engine.open_orders(key, None)
                answer(lambda o=opened: o)
                if opened:
                    o = opened[0]
                    answer(engine.cancel, key, o["symbol"], o["id"], None)
                answer(engine.positions, key, None)
                answer(engine.capital, key)
                answer(engine.fill_history, key, {"limit": "20"})
                answer(engine.order_history, key, {"limit": "20"})
                answer(engine.funding_history, key, {})
        if step % 300 == 150:
            answer(engine.depth, PERP, 20)
            answer(engine.ticker, PERP)
            answer(engine.trades, SPOT, 50, 0)
            answer(engine.mark_prices, None)
            answer(engine.klines, PERP, "1m", int(clock.time()) - 3600, None)
            answer(engine.cancel_all, BOB, PERP, None)
        if step == 1000:
            engine.set_price(PERP, engine.markets[PERP].mid * Decimal("1.05"))
        if step == 1500:
            engine.set_funding(PERP, Decimal("0.0003"))
        if step == 2000:
            m = engine.markets["ETH_USDC_PERP"]
            px = m.mid
            engine.mirror(
                "ETH_USDC_PERP",
                bids=[(px - Decimal("0.37"), Decimal("3.1")), (px - Decimal("1.11"), Decimal("9"))],
                asks=[(px + Decimal("0.41"), Decimal("2.2")), (px + Decimal("2.5"), Decimal("7"))],
                last=px,
                mark=px + Decimal("0.05"),
            )
    answer(engine.state)
    return frames.hexdigest(), answers.hexdigest()


def test_a_recorded_run_gives_the_same_bytes() -> None:
    # Python's default decimal context: ccxt, once used in the process (another test), leaves
    # the thread's context rounding half up.
    with decimal.localcontext(decimal.Context()):
        frames, answers = _run()
    assert (frames, answers) == (FRAMES, ANSWERS)
