"""Test keypairs: any ed25519 keypair is a simulator account."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from nacl.signing import SigningKey


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
