"""Signer recovery against the fixed vectors of the venue's own Python SDK
(``hyperliquid-python-sdk/tests/signing_test.py``): the action, nonce and vault there, signed by
its test key, must recover that key's address; its testnet signatures must not."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account

from bot.sim.hyperliquid.signing import BadSignature, action_hash, recover_l1

WALLET = Account.from_key("0x0123456789012345678901234567890123456789012345678901234567890123")
SIGNER = WALLET.address.lower()
DUMMY = {"type": "dummy", "num": 100_000_000_000}  # float_to_int_for_hashing(1000)
ORDER_ITEM: dict[str, Any] = {
    "a": 1,
    "b": True,
    "p": "100",
    "s": "100",
    "r": False,
    "t": {"limit": {"tif": "Gtc"}},
}
ORDER = {"type": "order", "orders": [ORDER_ITEM], "grouping": "na"}
ORDER_WITH_CLOID = {
    "type": "order",
    "orders": [{**ORDER_ITEM, "c": "0x00000000000000000000000000000001"}],
    "grouping": "na",
}
VAULT = "0x1719884eb866cb12b2287399b15f7db5e7d775ea"


def sig(r: str, s: str, v: int) -> dict[str, Any]:
    return {"r": r, "s": s, "v": v}


def test_phantom_agent_matches_production() -> None:
    action = {
        "type": "order",
        "orders": [
            {
                "a": 4,
                "b": True,
                "p": "1670.1",
                "s": "0.0147",
                "r": False,
                "t": {"limit": {"tif": "Ioc"}},
            }
        ],
        "grouping": "na",
    }
    digest = action_hash(action, None, 1677777606040, None)
    assert (
        "0x" + digest.hex() == "0x0fcbeda5ae3c4950a548021552a4fea2226858c4453571bf3f24ba017eac2908"
    )


@pytest.mark.parametrize(
    ("action", "vault", "mainnet", "testnet"),
    [
        (
            DUMMY,
            None,
            sig(
                "0x53749d5b30552aeb2fca34b530185976545bb22d0b3ce6f62e31be961a59298",
                "0x755c40ba9bf05223521753995abb2f73ab3229be8ec921f350cb447e384d8ed8",
                27,
            ),
            sig(
                "0x542af61ef1f429707e3c76c5293c80d01f74ef853e34b76efffcb57e574f9510",
                "0x17b8b32f086e8cdede991f1e2c529f5dd5297cbe8128500e00cbaf766204a613",
                28,
            ),
        ),
        (
            ORDER,
            None,
            sig(
                "0xd65369825a9df5d80099e513cce430311d7d26ddf477f5b3a33d2806b100d78e",
                "0x2b54116ff64054968aa237c20ca9ff68000f977c93289157748a3162b6ea940e",
                28,
            ),
            sig(
                "0x82b2ba28e76b3d761093aaded1b1cdad4960b3af30212b343fb2e6cdfa4e3d54",
                "0x6b53878fc99d26047f4d7e8c90eb98955a109f44209163f52d8dc4278cbbd9f5",
                27,
            ),
        ),
        (
            ORDER_WITH_CLOID,
            None,
            sig(
                "0x41ae18e8239a56cacbc5dad94d45d0b747e5da11ad564077fcac71277a946e3",
                "0x3c61f667e747404fe7eea8f90ab0e76cc12ce60270438b2058324681a00116da",
                27,
            ),
            sig(
                "0xeba0664bed2676fc4e5a743bf89e5c7501aa6d870bdb9446e122c9466c5cd16d",
                "0x7f3e74825c9114bc59086f1eebea2928c190fdfbfde144827cb02b85bbe90988",
                28,
            ),
        ),
        (
            DUMMY,
            VAULT,
            sig(
                "0x3c548db75e479f8012acf3000ca3a6b05606bc2ec0c29c50c515066a326239",
                "0x4d402be7396ce74fbba3795769cda45aec00dc3125a984f2a9f23177b190da2c",
                28,
            ),
            sig(
                "0xe281d2fb5c6e25ca01601f878e4d69c965bb598b88fac58e475dd1f5e56c362b",
                "0x7ddad27e9a238d045c035bc606349d075d5c5cd00a6cd1da23ab5c39d4ef0f60",
                27,
            ),
        ),
    ],
)
def test_sdk_vectors_recover_the_sdk_key(
    action: dict[str, Any], vault: str | None, mainnet: dict[str, Any], testnet: dict[str, Any]
) -> None:
    assert recover_l1(action, mainnet, 0, vault) == SIGNER
    # The venue is mainnet: a testnet signature names someone else, and so does a changed action.
    assert recover_l1(action, testnet, 0, vault) != SIGNER
    assert recover_l1({**action, "type": "other"}, mainnet, 0, vault) != SIGNER


def test_garbage_signature_is_refused() -> None:
    with pytest.raises(BadSignature):
        recover_l1(DUMMY, {"r": "0xzz", "s": "0x1", "v": 27}, 0)
    with pytest.raises(BadSignature):
        recover_l1(DUMMY, "not a signature", 0)
