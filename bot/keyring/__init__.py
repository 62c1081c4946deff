"""Secrets at rest: the keyring, sealing, and the sealed rows of the database.

:mod:`bot.keyring.ring` seals and opens (XChaCha20-Poly1305, keys named and rotated),
:mod:`bot.keyring.source` finds the keyring (``SECRETS_KEYRING`` or ``DATA_DIR/keyring``),
:mod:`bot.keyring.vault` keeps the bot's stored secrets sealed, :mod:`bot.keyring.cli` is
``python -m bot keys …``, and :mod:`bot.keyring.spot` recognises a secret typed into the chat.
"""

from bot.keyring.ring import (
    OPERATOR_DESK,
    Binding,
    CannotOpen,
    Key,
    Keyring,
    KeyringError,
    NoKeyring,
    is_sealed,
    key_id_of,
)

__all__ = [
    "OPERATOR_DESK",
    "Binding",
    "CannotOpen",
    "Key",
    "Keyring",
    "KeyringError",
    "NoKeyring",
    "is_sealed",
    "key_id_of",
]
