"""HEDGE_EXCHANGES and the per-venue credentials/URL forms (pure)."""

from __future__ import annotations

import json
from decimal import Decimal as D

import pytest

from bot.settings import ConfigError, Settings
from bot.venues.config import split_ids, venue_specs

HL = {"walletAddress": "0x" + "ab" * 20, "privateKey": "0x" + "11" * 32}


def test_ids_are_split_lowercased_and_kept_once_in_order() -> None:
    assert split_ids(" Hyperliquid, binanceusdm;okx,hyperliquid ") == [
        "hyperliquid",
        "binanceusdm",
        "okx",
    ]


def test_per_venue_credentials_and_urls() -> None:
    env = {
        "HEDGE_CREDENTIALS_HYPERLIQUID": json.dumps(HL),
        "hedge_api_url_okx": "http://127.0.0.1:9/",
    }
    hl, okx = venue_specs(["hyperliquid", "okx"], "", None, env)
    assert json.loads(hl.credentials) == HL and hl.api_url is None
    assert okx.credentials == "" and okx.api_url == "http://127.0.0.1:9/"
    assert "privateKey" not in repr(hl)  # a spec's repr never shows the secret


def test_json_keyed_by_venue_and_the_old_unkeyed_one_venue_form() -> None:
    keyed = json.dumps({"hyperliquid": HL, "okx": {"apiKey": "a", "secret": "b", "password": "c"}})
    hl, okx = venue_specs(["hyperliquid", "okx"], keyed, "http://gw", {})
    assert json.loads(hl.credentials) == HL and json.loads(okx.credentials)["password"] == "c"
    assert (hl.api_url, okx.api_url) == ("http://gw", None)  # HEDGE_API_URL: the first venue
    (one,) = venue_specs(["hyperliquid"], json.dumps(HL), None, {})
    assert json.loads(one.credentials) == HL
    # unkeyed with several venues: nobody gets it (it cannot be told whose it is)
    assert [
        s.credentials for s in venue_specs(["hyperliquid", "okx"], json.dumps(HL), None, {})
    ] == [
        "",
        "",
    ]


def test_settings_keep_hedge_exchange_as_the_one_venue_form() -> None:
    s = Settings(_env_file=None, hedge_exchanges="hyperliquid,binanceusdm")
    assert s.hedge_ids == ["hyperliquid", "binanceusdm"] and s.hedge_exchange == "hyperliquid"
    assert Settings(_env_file=None, hedge_exchange="okx").hedge_ids == ["okx"]
    assert Settings(_env_file=None, hedge_max_slippage="0.2%").hedge_max_slippage == D("0.002")


def test_live_hyperliquid_without_an_agent_wallet_is_refused_with_how_to(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HEDGE_CREDENTIALS_HYPERLIQUID", json.dumps({"privateKey": "0x" + "1" * 64}))
    s = Settings(
        _env_file=None,
        hedge_exchanges="hyperliquid",
        trading_mode="live",
        exchange="backpack",
        backpack_api_key="k",
        backpack_api_secret="s",
        local_chat=True,
    )
    with pytest.raises(ConfigError, match=r"walletAddress .* privateKey"):
        s.check()
    with pytest.raises(ConfigError, match="not a ccxt exchange id"):
        Settings(_env_file=None, hedge_exchanges="hyperliquid,nope", local_chat=True).check()
