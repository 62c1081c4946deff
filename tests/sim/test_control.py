"""The simulator's control API is a door only for whoever started it.

``python -m bot.sim`` prints a per-run token on its second stdout line; a control request
without it, with ``text/plain`` (the "simple" cross-site POST a hostile page can send without a
CORS preflight) or with a foreign ``Host`` (DNS rebinding) is refused and changes nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest

from bot.sim.__main__ import main
from bot.sim.control import TOKEN_HEADER, host_is_loopback
from tests.conftest import Control
from tests.simproc import SimProcess, start_sim

BTC = "BTC_USDC_PERP"


@pytest.fixture
async def sim() -> AsyncIterator[SimProcess]:
    p = await start_sim(5, "--tick-interval", "3600")
    yield p
    await p.stop()


async def _last(http: httpx.AsyncClient) -> Decimal:
    r = await http.get("/api/v1/ticker", params={"symbol": BTC})
    return Decimal(r.json()["lastPrice"])


async def test_the_cli_control_api_wants_its_token_json_and_a_loopback_host(
    sim: SimProcess,
) -> None:
    assert len(sim.control_token) >= 32
    port = sim.rest_url.rsplit(":", 1)[1]
    token = {TOKEN_HEADER: sim.control_token}
    move = b'{"symbol": "BTC_USDC_PERP", "price": "1000"}'
    async with httpx.AsyncClient(base_url=sim.rest_url, timeout=10) as http:
        before = await _last(http)
        json_type = {"Content-Type": "application/json"}
        attempts = {
            "no token": json_type,
            "wrong token": {**json_type, TOKEN_HEADER: sim.control_token[:-1] + "x"},
            "text/plain": {**token, "Content-Type": "text/plain"},
            "form": {**token, "Content-Type": "application/x-www-form-urlencoded"},
            "rebound Host": {**token, **json_type, "Host": f"evil.example:{port}"},
            "other port": {**token, **json_type, "Host": "127.0.0.1:1"},
        }
        for why, headers in attempts.items():
            for path in ("/_sim/price", "/_sim/reset"):
                r = await http.post(path, content=move, headers=headers)
                assert r.status_code in (403, 415), (why, path, r.status_code)
            r = await http.get("/_sim/state", headers=headers)
            if why not in ("text/plain", "form"):  # a GET has no body to type
                assert r.status_code == 403, (why, r.status_code)
        assert await _last(http) == before  # nothing moved
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"):
            r = await http.get("/_sim/state", headers={**token, "Host": host})
            assert r.status_code == 200, host
        control = Control(sim)
        try:
            await control.post("price", {"symbol": BTC, "price": "1000"})
        finally:
            await control.close()
        assert await _last(http) == Decimal(1000)


async def test_a_chosen_token_and_a_short_one(capsys: pytest.CaptureFixture[str]) -> None:
    chosen = "a-token-of-my-own-choosing"
    p = await start_sim(5, "--control-token", chosen)
    try:
        assert p.control_token == chosen
    finally:
        await p.stop()
    assert main(["--control-token", "short"]) == 2
    assert "16 or more characters" in capsys.readouterr().err


def test_loopback_hosts() -> None:
    assert host_is_loopback("127.0.0.1:8080", 8080)
    assert host_is_loopback("[::1]:8080", 8080)
    assert host_is_loopback("localhost", 80)
    assert not host_is_loopback("localhost", 8080)
    assert not host_is_loopback("127.0.0.1.evil.example:8080", 8080)
    assert not host_is_loopback("", 8080)
