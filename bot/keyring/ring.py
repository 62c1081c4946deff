"""Sealing: XChaCha20-Poly1305 (PyNaCl's libsodium binding) under a keyring of named keys.

A keyring is written ``k2:<base64 of 32 bytes>,k1:<…>`` (``SECRETS_KEYRING``, or the file
``DATA_DIR/keyring``): the first key seals, every listed key opens. A sealed value is one line of
ASCII, ``v1.<key id>.<base64url of nonce ‖ ciphertext>``, so it says which format and which key
it needs. The additional data binds it to where it belongs (:class:`Binding`: the desk, the venue,
the purpose) and to its key id: a sealed value copied into another row, another desk or another
key's slot does not open.

Key material lives only inside :class:`Key`, whose ``repr``/``str`` show the id alone; no
exception raised here carries a key or a plaintext.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets as _random
from dataclasses import dataclass

from nacl.bindings import (
    crypto_aead_xchacha20poly1305_ietf_decrypt,
    crypto_aead_xchacha20poly1305_ietf_encrypt,
    crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
    crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
)
from nacl.exceptions import CryptoError

#: The format a sealed value starts with; bumped if the construction ever changes.
VERSION = "v1"
KEY_BYTES = crypto_aead_xchacha20poly1305_ietf_KEYBYTES
NONCE_BYTES = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")
_SEALED = re.compile(rf"{VERSION}\.([A-Za-z0-9_-]{{1,32}})\.([A-Za-z0-9_-]+={{0,2}})")

#: The desk of the account configured in the environment (the only desk today).
OPERATOR_DESK = "operator"


class KeyringError(ValueError):
    """A keyring or a sealed value is wrong; the message says what, never a key or a secret."""


class NoKeyring(KeyringError):
    """A secret must be stored and there is no keyring to seal it with (never stored in clear)."""


class CannotOpen(KeyringError):
    """A sealed value does not open: its key is not in the keyring, or it is not what was
    sealed here for this binding (another key, another row, altered)."""


@dataclass(frozen=True)
class Binding:
    """Where a sealed value belongs; sealed into the additional data, checked on opening."""

    purpose: str
    venue: str
    desk: str = OPERATOR_DESK

    def additional_data(self, key_id: str) -> bytes:
        parts = (VERSION, self.desk, self.venue, self.purpose, key_id)
        return ("backpack-bot|" + "|".join(p.replace("|", "||") for p in parts)).encode()


class Key:
    """One named 32-byte key. The bytes are never shown: ``repr`` and ``str`` give the id."""

    __slots__ = ("_material", "id")

    def __init__(self, key_id: str, material: bytes) -> None:
        if not _KEY_ID.fullmatch(key_id):
            raise KeyringError(
                "a key id is 1 to 32 letters, digits, _ or - (e.g. k1); "
                f"got one of {len(key_id)} characters"
            )
        if len(material) != KEY_BYTES:
            raise KeyringError(f"key {key_id} must be {KEY_BYTES} bytes, not {len(material)}")
        self.id = key_id
        self._material = bytes(material)

    def __repr__(self) -> str:
        return f"Key({self.id!r}, <hidden>)"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:  # never pickled into a cache, a queue, a dump
        raise TypeError("a Key is not serialisable")

    def entry(self) -> str:
        """The key as a keyring entry, ``id:<base64>`` — for ``keys new`` and the keyring file
        only; never log it."""
        return f"{self.id}:{base64.b64encode(self._material).decode()}"

    @classmethod
    def generate(cls, key_id: str) -> Key:
        return cls(key_id, _random.token_bytes(KEY_BYTES))


class Keyring:
    """Keys newest first: :meth:`seal` uses the first, :meth:`open` any."""

    __slots__ = ("keys", "origin")

    def __init__(self, keys: list[Key], origin: str) -> None:
        if not keys:
            raise KeyringError(f"{origin} holds no key")
        ids = [k.id for k in keys]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise KeyringError(f"{origin} lists key {', '.join(twice)} more than once")
        self.keys = tuple(keys)
        #: Where the keys came from (``SECRETS_KEYRING`` or the file), for messages.
        self.origin = origin

    def __repr__(self) -> str:
        return f"Keyring({[k.id for k in self.keys]}, from {self.origin})"

    __str__ = __repr__

    @classmethod
    def parse(cls, text: str, origin: str = "SECRETS_KEYRING") -> Keyring:
        """``k2:<base64>,k1:<base64>`` (commas or new lines between entries; ``#`` starts a
        comment line)."""
        keys: list[Key] = []
        lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
        for n, raw in enumerate(",".join(lines).split(","), start=1):
            entry = raw.strip()
            if not entry:
                continue
            key_id, colon, encoded = entry.partition(":")
            if not colon:
                raise KeyringError(
                    f"{origin}: entry {n} is not id:<base64 key> "
                    "(make one with `python -m bot keys new`)"
                )
            try:
                material = base64.b64decode(encoded.strip(), validate=True)
            except (binascii.Error, ValueError):
                raise KeyringError(f"{origin}: key {key_id.strip()} is not base64") from None
            keys.append(Key(key_id.strip(), material))
        return cls(keys, origin)

    @property
    def newest(self) -> Key:
        return self.keys[0]

    @property
    def ids(self) -> list[str]:
        return [k.id for k in self.keys]

    def key(self, key_id: str) -> Key | None:
        return next((k for k in self.keys if k.id == key_id), None)

    def seal(self, plaintext: str, binding: Binding) -> str:
        """``plaintext`` sealed under the newest key for ``binding``."""
        key = self.newest
        nonce = _random.token_bytes(NONCE_BYTES)
        sealed = crypto_aead_xchacha20poly1305_ietf_encrypt(
            plaintext.encode(), binding.additional_data(key.id), nonce, key._material
        )
        body = base64.urlsafe_b64encode(nonce + sealed).decode()
        return f"{VERSION}.{key.id}.{body}"

    def open(self, value: str, binding: Binding) -> str:
        """The plaintext of a value :meth:`seal` made for ``binding``; :class:`CannotOpen`
        when it is not one."""
        key_id = key_id_of(value)
        if key_id is None:
            raise CannotOpen(f"the {binding.purpose} is not a sealed value of format {VERSION}")
        key = self.key(key_id)
        if key is None:
            raise CannotOpen(
                f"the {binding.purpose} is sealed under key {key_id}, which {self.origin} "
                f"does not hold (it holds {', '.join(self.ids)}); add {key_id} back, and drop "
                "it only after `python -m bot keys rotate`"
            )
        try:
            raw = base64.urlsafe_b64decode(value.split(".", 2)[2])
            if len(raw) <= NONCE_BYTES:
                raise CryptoError
            plain = crypto_aead_xchacha20poly1305_ietf_decrypt(
                raw[NONCE_BYTES:],
                binding.additional_data(key_id),
                raw[:NONCE_BYTES],
                key._material,
            )
        except (CryptoError, binascii.Error, ValueError):
            raise CannotOpen(
                f"the {binding.purpose} does not open with key {key_id}: another key of that "
                "name, or the value was altered or copied from another place"
            ) from None
        return plain.decode()


def key_id_of(value: str) -> str | None:
    """The key id a sealed value names, or ``None`` when ``value`` is not sealed."""
    match = _SEALED.fullmatch(value)
    return match.group(1) if match else None


def is_sealed(value: str) -> bool:
    return key_id_of(value) is not None


def next_key_id(ring: Keyring | None) -> str:
    """``k<n+1>`` after the highest ``k<n>`` of ``ring`` (``k1`` for none)."""
    numbers = [int(i[1:]) for i in (ring.ids if ring else []) if re.fullmatch(r"k\d{1,9}", i)]
    return f"k{max(numbers, default=0) + 1}"
