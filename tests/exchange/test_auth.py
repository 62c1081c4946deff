"""Signing against the fact sheet's test vectors (§1.4)."""

from __future__ import annotations

import pytest

from bot.exchange.auth import Signer, batch_signing_string, public_key_of, signing_string

SECRET = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
KEY = "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg="
TS = 1700000000000


def test_public_key_from_seed() -> None:
    assert public_key_of(SECRET) == KEY


@pytest.mark.parametrize(
    ("text", "signature"),
    [
        (
            signing_string("balanceQuery", None, TS),
            "ogsyh1c6LnY10GiJaCoAEdHpkK2BT4KgS7NAd1PW2DQndw1OnR0WbY0M753KwW9Mq6Dmw3k+Kdw+wPxzKMCiAg==",
        ),
        (
            signing_string(
                "orderExecute",
                {
                    "symbol": "SOL_USDC_PERP",
                    "side": "Bid",
                    "orderType": "Limit",
                    "quantity": "0.01",
                    "price": "100.5",
                    "postOnly": True,
                    "clientId": 42,
                    "reduceOnly": None,
                },
                TS,
            ),
            "qKbZ3r1O4/Xk45vIabtcK1aTI1f8XCiXN970F6kastC2IAe5iQugiwBA1E01ijkOfGfbrIQk9w2Jtb2xCT4FDw==",
        ),
        (
            batch_signing_string(
                "orderExecute",
                [
                    {
                        "symbol": "SOL_USDC_PERP",
                        "side": "Bid",
                        "orderType": "Limit",
                        "price": "141",
                        "quantity": "12",
                    },
                    {
                        "symbol": "SOL_USDC_PERP",
                        "side": "Bid",
                        "orderType": "Limit",
                        "price": "140",
                        "quantity": "11",
                    },
                ],
                1750793021519,
            ),
            "/RiVIEmATq6bDKSR8I9tEY3qY/MRt45Y5/Wi4mKYjt3SaqoLFfOiYrYNRddqSXfrcDdY/b0n3duPew5JKrn/CA==",
        ),
        (
            "instruction=subscribe&timestamp=1700000000000&window=5000",
            "mxIdZT3relFG10SYkdl4nIzm1LhhlW8oC6qF2MO03/JWvhFiRSeHidCVk8UGX+cyLu3UdxatFYnoPs+ngqkdBQ==",
        ),
    ],
)
def test_vectors(text: str, signature: str) -> None:
    assert Signer(KEY, SECRET).sign(text) == signature


def test_documented_cancel_string() -> None:
    text = signing_string("orderCancel", {"orderId": 28, "symbol": "BTC_USDT"}, 1614550000000)
    assert (
        text
        == "instruction=orderCancel&orderId=28&symbol=BTC_USDT&timestamp=1614550000000&window=5000"
    )


def test_secret_never_in_repr() -> None:
    assert SECRET not in repr(Signer(KEY, SECRET))
