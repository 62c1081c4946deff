"""Connecting a desk's own keys: the pure checks' sentences, then one read against a real
simulator (Backpack's and Hyperliquid's faces) before anything is sealed and stored."""

from __future__ import annotations

import base64
import logging
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from nacl.signing import SigningKey

from bot.desks.connect import (
    FORMS,
    BadInput,
    ConnectError,
    Connector,
    Credentials,
    KeyRefused,
    NotConfigured,
    Unreachable,
    VenueUrls,
    validate,
)
from bot.keyring.desk_keys import NOT_CONFIGURED, DeskKeys
from bot.keyring.ring import Key
from bot.keyring.source import KeySource
from bot.sim import Simulator
from bot.sim.hyperliquid import HyperliquidSimulator
from bot.storage.db import Database
from tests.conftest import Control
from tests.keys import new_keypair

PAIR = new_keypair()
BACKPACK = {"api_key": PAIR.api_key, "api_secret": PAIR.api_secret}
WALLET = Account.create()
AGENT = Account.create()
STRANGER = Account.create()


def hl(wallet: Any, key: Any) -> dict[str, str]:
    return {"walletAddress": wallet.address, "privateKey": "0x" + bytes(key.key).hex()}


def refused(venue: str, fields: dict[str, Any]) -> str:
    with pytest.raises(BadInput) as caught:
        validate(venue, fields)
    return caught.value.text


def test_the_forms_fields_and_labels() -> None:
    assert [(f.name, f.label, f.secret) for f in FORMS["backpack"]] == [
        ("api_key", "API key", False),
        ("api_secret", "API secret", True),
    ]
    assert [(f.name, f.label, f.secret) for f in FORMS["hyperliquid"]] == [
        ("walletAddress", "Wallet address", False),
        ("privateKey", "Private key", True),
    ]


def test_backpack_fields_get_a_specific_sentence_for_each_mistake() -> None:
    other = new_keypair()
    assert refused("backpack", {"api_secret": PAIR.api_secret}) == "Paste your Backpack API key."
    assert refused("backpack", {"api_key": PAIR.api_key, "api_secret": "  "}) == (
        "Paste your Backpack API secret."
    )
    assert "is not base64" in refused("backpack", {**BACKPACK, "api_secret": "not base64!"})
    assert "The API key is not base64" in refused("backpack", {**BACKPACK, "api_key": "k%y"})
    short = base64.b64encode(b"x" * 16).decode()
    text = refused("backpack", {**BACKPACK, "api_secret": short})
    assert text.startswith("The API secret has the wrong length") and "16 bytes" in text
    text = refused("backpack", {**BACKPACK, "api_key": other.api_key})
    assert text.startswith("The API key does not match the API secret")
    assert "far too long" in refused("backpack", {**BACKPACK, "api_key": "A" * 500})
    assert "One of: backpack, hyperliquid" in refused("binance", BACKPACK)
    creds = validate("backpack", {k: f"  {v}\n" for k, v in BACKPACK.items()})
    assert creds.fields == BACKPACK and creds.hint == "…" + PAIR.api_key.rstrip("=")[-4:]


def test_hyperliquid_fields_get_a_specific_sentence_for_each_mistake() -> None:
    good = hl(WALLET, AGENT)
    text = refused("hyperliquid", {**good, "walletAddress": "0x1234"})
    assert text.startswith("The wallet address is 0x and 40 hex digits")
    text = refused("hyperliquid", {**good, "privateKey": AGENT.address})
    assert text.startswith("The private key is an address")
    text = refused("hyperliquid", {**good, "privateKey": "0x" + "g" * 64})
    assert text.startswith("The private key is 0x and 64 hex digits")
    assert "not a valid key" in refused("hyperliquid", {**good, "privateKey": "0x" + "0" * 64})
    assert refused("hyperliquid", {"walletAddress": WALLET.address}) == (
        "Paste your Hyperliquid Private key."
    )
    bare = validate("hyperliquid", {**good, "privateKey": good["privateKey"][2:]})
    assert bare.fields["privateKey"] == good["privateKey"].lower()
    assert bare.signer == AGENT.address.lower() and bare.public == WALLET.address.lower()
    assert bare.hint == "…" + WALLET.address.lower()[-4:]


def test_nothing_secret_in_a_repr_or_an_error() -> None:
    creds = validate("backpack", BACKPACK)
    agent = validate("hyperliquid", hl(WALLET, AGENT))
    shown = repr(creds) + str(creds) + repr(agent) + repr(Connector)
    assert PAIR.api_secret not in shown and agent.fields["privateKey"] not in shown
    assert PAIR.api_key not in repr(creds)
    assert isinstance(creds, Credentials)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    d = Database(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    await d.start()
    yield d
    await d.close()


@pytest.fixture
def desk_keys(db: Database, tmp_path: Path) -> DeskKeys:
    return DeskKeys(db, KeySource(Key.generate("k1").entry(), tmp_path / "unused"))


@pytest.fixture
async def bp_sim() -> AsyncIterator[Simulator]:
    async with Simulator(seed=2, random_walk=False) as s:
        yield s


@pytest.fixture
async def hl_sim() -> AsyncIterator[HyperliquidSimulator]:
    async with HyperliquidSimulator(seed=3, random_walk=False) as s:
        s.deposit(WALLET.address, 1000)
        s.approve_agent(WALLET.address, AGENT.address, "bot")
        yield s


def urls(bp: Simulator | None = None, hls: HyperliquidSimulator | None = None) -> VenueUrls:
    closed = f"http://127.0.0.1:{free_port()}"
    return VenueUrls(
        bp.rest_url if bp else closed,
        bp.ws_url if bp else closed.replace("http", "ws"),
        hls.rest_url if hls else closed,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_backpack_keys_are_checked_with_one_signed_read_then_stored(
    desk_keys: DeskKeys, bp_sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    connector = Connector(desk_keys, urls(bp_sim))
    done = await connector.connect("dA", "backpack", BACKPACK)
    assert (done.venue, done.hint) == ("backpack", "…" + PAIR.api_key.rstrip("=")[-4:])
    assert await desk_keys.get("dA", "backpack") == BACKPACK
    assert await desk_keys.venues("dA") == {"backpack": done.hint}
    assert PAIR.api_secret not in caplog.text
    assert PAIR.api_key not in caplog.text
    assert any("connected its Backpack key" in r.getMessage() for r in caplog.records)
    assert await connector.disconnect("dA", "backpack")
    assert await desk_keys.get("dA", "backpack") is None
    assert not await connector.disconnect("dA", "backpack")


async def test_a_key_backpack_refuses_is_not_stored(
    desk_keys: DeskKeys, bp_sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    control = Control(bp_sim)
    try:
        await control.post(
            "fault", {"kind": "http_error", "status": 401, "path": "/api/v1/capital"}
        )
    finally:
        await control.close()
    with pytest.raises(KeyRefused) as caught:
        await Connector(desk_keys, urls(bp_sim)).connect("dA", "backpack", BACKPACK)
    assert caught.value.text.startswith("Backpack refused this key: ")
    assert await desk_keys.venues("dA") == {}
    for shown in (caplog.text, str(caught.value), repr(caught.value), caught.value.text):
        assert PAIR.api_secret not in shown


async def test_unreachable_backpack_stores_nothing(desk_keys: DeskKeys) -> None:
    with pytest.raises(Unreachable) as caught:
        await Connector(desk_keys, urls(), seconds=3).connect("dA", "backpack", BACKPACK)
    assert "Could not reach Backpack" in caught.value.text
    assert "nothing was saved" in caught.value.text
    assert await desk_keys.venues("dA") == {}


async def test_bad_input_is_refused_before_the_network(desk_keys: DeskKeys) -> None:
    connector = Connector(desk_keys, urls())  # no venue listens: a network call would fail
    with pytest.raises(BadInput, match="does not match"):
        await connector.connect("dA", "backpack", {**BACKPACK, "api_key": new_keypair().api_key})


async def test_without_secrets_keyring_connecting_is_refused_with_the_reason(
    db: Database, bp_sim: Simulator, tmp_path: Path
) -> None:
    keys = DeskKeys(db, KeySource(None, tmp_path / "keyring"))
    with pytest.raises(NotConfigured) as caught:
        await Connector(keys, urls(bp_sim)).connect("dA", "backpack", BACKPACK)
    assert caught.value.text == NOT_CONFIGURED
    assert not (tmp_path / "keyring").exists()  # no keyring file made for it either
    assert await keys.venues("dA") == {}


async def test_hyperliquid_agent_or_own_key_is_accepted_a_stranger_is_not(
    desk_keys: DeskKeys, hl_sim: HyperliquidSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    connector = Connector(desk_keys, urls(hls=hl_sim))
    fields = hl(WALLET, AGENT)
    done = await connector.connect("dA", "hyperliquid", fields)
    assert done.hint == "…" + WALLET.address.lower()[-4:]
    stored = await desk_keys.get("dA", "hyperliquid")
    assert stored == {k: v.lower() for k, v in fields.items()}
    await connector.connect("dB", "hyperliquid", hl(WALLET, WALLET))  # the main key itself
    with pytest.raises(KeyRefused) as caught:
        await connector.connect("dC", "hyperliquid", hl(WALLET, STRANGER))
    assert "neither the wallet's own key nor an API wallet" in caught.value.text
    assert await desk_keys.venues("dC") == {}
    for secret in (fields["privateKey"][2:], hl(WALLET, STRANGER)["privateKey"][2:]):
        assert secret not in caplog.text.lower()


async def test_hyperliquid_down_stores_nothing(
    desk_keys: DeskKeys, hl_sim: HyperliquidSimulator
) -> None:
    control = Control(hl_sim)
    try:
        await control.post("fault", {"kind": "http_error", "status": 502, "count": 5})
    finally:
        await control.close()
    with pytest.raises(Unreachable, match="Could not reach Hyperliquid"):
        await Connector(desk_keys, urls(hls=hl_sim)).connect("dA", "hyperliquid", hl(WALLET, AGENT))
    with pytest.raises(Unreachable, match="nothing was saved"):
        await Connector(desk_keys, urls(), seconds=3).connect(
            "dA", "hyperliquid", hl(WALLET, AGENT)
        )
    assert await desk_keys.venues("dA") == {}


def test_every_connect_error_has_a_sentence() -> None:
    for cls in (BadInput, KeyRefused, Unreachable, NotConfigured):
        err = cls("A sentence.")
        assert isinstance(err, ConnectError) and err.text == str(err) == "A sentence."


def test_signing_key_derivation_matches_the_form_check() -> None:
    sk = SigningKey.generate()
    seed = base64.b64encode(bytes(sk)).decode()
    public = base64.b64encode(bytes(sk.verify_key)).decode()
    assert validate("backpack", {"api_key": public, "api_secret": seed}).public == public
