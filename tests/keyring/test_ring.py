"""Sealing and opening: round trip, refusals, rotation, and keys that never show."""

from __future__ import annotations

import base64
import pickle

import pytest

from bot.keyring.ring import (
    Binding,
    CannotOpen,
    Key,
    Keyring,
    KeyringError,
    is_sealed,
    key_id_of,
    next_key_id,
)

K1 = bytes(range(32))
K2 = bytes(range(100, 132))
ENTRY1 = "k1:" + base64.b64encode(K1).decode()
ENTRY2 = "k2:" + base64.b64encode(K2).decode()
PAPER = Binding(purpose="paper_secret", venue="backpack-paper")
SECRET = "ZmFrZS1lZDI1NTE5LXNlY3JldC1mb3ItdGhlLXRlc3Q="


def test_round_trip_and_format() -> None:
    ring = Keyring.parse(f"{ENTRY2},{ENTRY1}")
    sealed = ring.seal(SECRET, PAPER)
    assert sealed.startswith("v1.k2.") and key_id_of(sealed) == "k2" and is_sealed(sealed)
    assert SECRET not in sealed
    assert ring.open(sealed, PAPER) == SECRET
    assert ring.seal(SECRET, PAPER) != sealed  # a fresh nonce every time
    assert not is_sealed(SECRET)


@pytest.mark.parametrize(
    "other",
    [
        Binding(purpose="paper_hedge_secret", venue="backpack-paper"),
        Binding(purpose="paper_secret", venue="backpack-live"),
        Binding(purpose="paper_secret", venue="backpack-paper", desk="7"),
    ],
)
def test_another_binding_does_not_open(other: Binding) -> None:
    ring = Keyring.parse(ENTRY1)
    with pytest.raises(CannotOpen, match="does not open with key k1"):
        ring.open(ring.seal(SECRET, PAPER), other)


def test_wrong_key_and_tampering_are_refused() -> None:
    sealed = Keyring.parse(ENTRY1).seal(SECRET, PAPER)
    impostor = Keyring.parse("k1:" + base64.b64encode(K2).decode())
    with pytest.raises(CannotOpen, match="does not open"):
        impostor.open(sealed, PAPER)
    with pytest.raises(CannotOpen, match=r"sealed under key k1.*does not hold"):
        Keyring.parse(ENTRY2).open(sealed, PAPER)
    ring = Keyring.parse(ENTRY1)
    body = sealed.split(".", 2)[2]
    flipped = body[:-3] + ("A" if body[-3] != "A" else "B") + body[-2:]
    for bad in (f"v1.k1.{flipped}", f"v1.k1.{body[:20]}", "v1.k1.!!!", "v2.k1." + body):
        with pytest.raises(CannotOpen):
            ring.open(bad, PAPER)
    # the key id is bound too: the same bytes under another name do not open
    renamed = Keyring.parse("k9:" + base64.b64encode(K1).decode())
    with pytest.raises(CannotOpen):
        renamed.open("v1.k9." + body, PAPER)


def test_rotation_old_key_opens_new_key_seals() -> None:
    old = Keyring.parse(ENTRY1)
    sealed_old = old.seal(SECRET, PAPER)
    both = Keyring.parse(f"{ENTRY2},{ENTRY1}")
    assert both.open(sealed_old, PAPER) == SECRET
    resealed = both.seal(both.open(sealed_old, PAPER), PAPER)
    assert key_id_of(resealed) == "k2"
    assert Keyring.parse(ENTRY2).open(resealed, PAPER) == SECRET  # k1 may now be dropped


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "holds no key"),
        ("k1", "not id:<base64 key>"),
        ("k1:not base64!", "k1 is not base64"),
        ("k1:" + base64.b64encode(b"short").decode(), "must be 32 bytes"),
        (f"{ENTRY1},{ENTRY1}", "k1 more than once"),
        ("k.1:" + base64.b64encode(K1).decode(), "a key id is"),
    ],
)
def test_malformed_keyrings_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(KeyringError, match=message) as caught:
        Keyring.parse(text)
    assert base64.b64encode(K1).decode() not in str(caught.value)


def test_keys_never_show() -> None:
    ring = Keyring.parse(f"{ENTRY2},{ENTRY1}")
    shown = [repr(ring), str(ring), repr(ring.keys), str(ring.newest), f"{ring.newest!r}"]
    for material in (K1, K2):
        encoded = base64.b64encode(material).decode()
        assert all(encoded not in text and repr(material) not in text for text in shown)
    assert "k2" in repr(ring.newest)
    with pytest.raises(TypeError):
        pickle.dumps(ring.newest)


def test_generated_keys_and_next_id() -> None:
    key = Key.generate("k3")
    again = Keyring.parse(key.entry())
    assert again.newest.id == "k3"
    assert next_key_id(None) == "k1"
    assert next_key_id(Keyring.parse(f"{ENTRY2},{ENTRY1}")) == "k3"


def test_a_malformed_secrets_keyring_is_a_start_up_error() -> None:
    from bot.settings import ConfigError, Settings

    bad = "k1:" + base64.b64encode(b"sixteen bytes!!!").decode()
    with pytest.raises(ConfigError, match="key k1 must be 32 bytes, not 16") as caught:
        Settings(_env_file=None, secrets_keyring=bad).check()
    assert bad.split(":")[1] not in str(caught.value)
    Settings(_env_file=None, secrets_keyring=ENTRY1).check()
    assert Settings(_env_file=None, secrets_keyring=" ").secrets_keyring is None
