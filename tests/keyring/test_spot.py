"""What the chat's guard takes for a secret, and what it leaves alone."""

from __future__ import annotations

import base64
import random

import pytest

from bot.keyring.spot import API_SECRET, BASE64_SECRET, PRIVATE_KEY, scrub, spot

_RANDOM = random.Random(21)  # fixed: the same keys every run
ED25519 = base64.b64encode(_RANDOM.randbytes(32)).decode()
HEX = _RANDOM.randbytes(32).hex()
API = base64.urlsafe_b64encode(_RANDOM.randbytes(30)).decode()


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (ED25519, BASE64_SECRET),
        (f"my secret is {ED25519} ok?", BASE64_SECRET),
        ("0x" + HEX, PRIVATE_KEY),
        (HEX, PRIVATE_KEY),
        (f"key: 0x{HEX.upper()}", PRIVATE_KEY),
        (API, API_SECRET),
        (f"secret={API}", API_SECRET),
        ("okx secret " + HEX[:32].upper(), API_SECRET),
    ],
)
def test_secrets_are_spotted(text: str, kind: str) -> None:
    assert spot(text) == kind
    assert ED25519 not in scrub(text) and HEX not in scrub(text).lower() and API not in scrub(text)


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "/buy BTC 0.01",
        "/alert BTC_USDC_PERP above 100000",
        "0x" + "ab" * 20,  # a wallet address is not a key
        "supercalifragilisticexpialidocious-and-more-words",
        "12345678901234567890123456789012345678",  # an order id
        "https://example.com/a/" + API,  # a link
        "t.me/backpack_bot?start=" + API,
        "BTC_USDC_PERP_BTC_USDC_PERP_BTC_USDC_PERP",
        "0011_strategy_pause_with_a_long_name_2",
        "/tmp/pytest-of-root/pytest-254/test_an_idle_paper_bot_logs_no_reconnect_and_no_job_runs0",
        HEX[:40],  # a hash
    ],
)
def test_ordinary_text_is_not(text: str | None) -> None:
    assert spot(text) is None
    if text:
        assert scrub(text) == text
