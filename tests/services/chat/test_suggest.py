"""The closest command for the fallback reply (pure)."""

from __future__ import annotations

import pytest

from bot.services.chat.suggest import closest_command, osa_distance, suggest
from handlers.general import unknown_reply


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("buy btc 0.01", "/buy BTC 0.01"),
        ("/bal", "/balance"),
        ("/pirce eth", "/price ETH"),
        ("/posi", "/positions"),
        ("sell eth 0.5 @ 3000", "/sell ETH 0.5 @ 3000"),
        ("/alrt btc > 5", "/alert BTC > 5"),
        ("Price sol", "/price SOL"),
        ("/BALANCE@backpack_test_bot", "/balance"),
        ("hello bot", None),
        ("/foo", None),
        ("", None),
        ("/" + "x" * 200, None),
        ("help me", "/help me"),
    ],
)
def test_suggest(text: str, expected: str | None) -> None:
    assert suggest(text) == expected


def test_closest_command() -> None:
    assert closest_command("stratgy") == "strategy"
    assert closest_command("zzz") is None


@pytest.mark.parametrize(
    ("text", "contains"),
    [
        ("buy btc 0.01", "Did you mean <code>/buy BTC 0.01</code>?"),
        ("/bal", "did you mean <code>/balance</code>?"),
        ("/foo", "I don't know <code>/foo</code>. /help"),
        ("hello bot", "/help lists them all"),
        ("/<b>x</b>", "I don't know <code>/&lt;b&gt;x&lt;/b&gt;</code>."),
        ("buy <i>btc</i> 1", "/buy &lt;i&gt;btc&lt;/i&gt; 1"),
    ],
)
def test_unknown_reply_is_one_escaped_line(text: str, contains: str) -> None:
    reply = unknown_reply(text)
    assert contains in reply
    assert "\n" not in reply


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("/byu BTC 0.01", "/buy BTC 0.01"),  # a swapped pair
        ("/poistions", "/positions"),
        ("/balancee", "/balance"),  # one letter too many
        ("/sel eth 1", "/sell ETH 1"),  # one too few
        ("/prive btc", "/price BTC"),  # one wrong
        ("/alerst", "/alerts"),  # a swap beats a deletion
        ("/ordres", "/orders"),
        ("/hlep", "/help"),
    ],
)
def test_one_slip_is_forgiven(typed: str, meant: str) -> None:
    assert suggest(typed) == meant


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [
        ("byu", "buy", 1),
        ("ab", "ba", 1),
        ("abc", "ca", 3),
        ("", "abc", 3),
        ("kitten", "sitting", 3),
    ],
)
def test_osa_distance(a: str, b: str, distance: int) -> None:
    assert osa_distance(a, b) == distance
