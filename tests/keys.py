"""Test keypairs: any ed25519 keypair is a simulator account."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

from nacl.signing import SigningKey

from bot.keyring.source import KEYRING_FILE, KeySource
from bot.keyring.vault import PAPER_ACCOUNT


@dataclass(frozen=True)
class KeyPair:
    api_key: str  # base64 public key (X-API-Key)
    api_secret: str  # base64 32-byte seed

    def __repr__(self) -> str:
        return f"KeyPair(api_key={self.api_key!r})"


def new_keypair() -> KeyPair:
    sk = SigningKey.generate()
    return KeyPair(
        api_key=base64.b64encode(bytes(sk.verify_key)).decode(),
        api_secret=base64.b64encode(bytes(sk)).decode(),
    )


def open_paper_secret(data_dir: Path, sealed: str) -> str:
    """The paper account's key from its sealed ``app_meta`` row, opened with the keyring file
    the bot made in ``data_dir`` — as only someone holding the whole data directory can."""
    ring = KeySource(None, data_dir / KEYRING_FILE).current()
    assert ring is not None, "the bot made no keyring file"
    return ring.open(sealed, PAPER_ACCOUNT.binding())
