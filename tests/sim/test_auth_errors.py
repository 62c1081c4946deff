"""Every authentication failure gets the exchange's error, over real HTTP."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from bot.exchange.auth import Signer, signing_string
from bot.sim import Simulator
from tests.keys import KeyPair, new_keypair


def headers(keys: KeyPair, text: str, ts: int, window: int = 5000) -> dict[str, str]:
    return {
        "X-API-Key": keys.api_key,
        "X-Signature": Signer(keys.api_key, keys.api_secret).sign(text),
        "X-Timestamp": str(ts),
        "X-Window": str(window),
    }


async def _get(sim: Simulator, h: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=sim.rest_url) as http:
        return await http.get("/api/v1/capital", headers=h)


async def test_a_good_signature_creates_the_account(sim: Simulator, keys: KeyPair) -> None:
    ts = int(time.time() * 1000)
    r = await _get(sim, headers(keys, signing_string("balanceQuery", None, ts), ts))
    assert r.status_code == 200
    assert r.json()["USDC"]["available"] == "100000"


def _cases() -> list[tuple[str, Any]]:
    def wrong_instruction(k: KeyPair, ts: int) -> dict[str, str]:
        return headers(k, signing_string("orderQueryAll", None, ts), ts)

    def other_key(k: KeyPair, ts: int) -> dict[str, str]:
        h = headers(new_keypair(), signing_string("balanceQuery", None, ts), ts)
        h["X-API-Key"] = k.api_key
        return h

    def expired(k: KeyPair, ts: int) -> dict[str, str]:
        old = ts - 60_000
        return headers(k, signing_string("balanceQuery", None, old), old)

    def big_window(k: KeyPair, ts: int) -> dict[str, str]:
        return headers(k, signing_string("balanceQuery", None, ts, 60001), ts, 60001)

    def missing(k: KeyPair, ts: int) -> dict[str, str]:
        h = headers(k, signing_string("balanceQuery", None, ts), ts)
        del h["X-Signature"]
        return h

    def garbage(k: KeyPair, ts: int) -> dict[str, str]:
        h = headers(k, signing_string("balanceQuery", None, ts), ts)
        h["X-Signature"] = "not base64!"
        return h

    return [
        ("Invalid signature", wrong_instruction),
        ("Invalid signature", other_key),
        ("expired", expired),
        ("X-Window", big_window),
        ("Missing required headers", missing),
        ("X-Signature", garbage),
    ]


@pytest.mark.parametrize(("message", "make"), _cases())
async def test_auth_failures(sim: Simulator, keys: KeyPair, message: str, make: Any) -> None:
    r = await _get(sim, make(keys, int(time.time() * 1000)))
    assert r.status_code == 401
    body = r.json()
    assert body["code"] == "INVALID_CLIENT_REQUEST"
    assert message in body["message"]


async def test_auth_status_is_configurable(keys: KeyPair) -> None:
    async with Simulator(seed=1, auth_status=400) as sim:
        r = await _get(sim, {"X-API-Key": keys.api_key})
        assert r.status_code == 400
