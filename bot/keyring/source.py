"""Where the keyring comes from: ``SECRETS_KEYRING``, else the file ``DATA_DIR/keyring``.

With neither, the first secret the bot must store makes the file (one fresh key, 0600, created
exclusively so two processes never write two different keys) unless ``SECRETS_KEYRING_FILE=false``
forbids it; then storing a secret is refused (:class:`~bot.keyring.ring.NoKeyring`) — there is
no plaintext fallback.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from bot.keyring.ring import Key, Keyring, KeyringError, NoKeyring, next_key_id

if TYPE_CHECKING:
    from bot.settings import Settings

log = logging.getLogger("bot.keyring")

#: The keyring file's name in ``DATA_DIR``.
KEYRING_FILE = "keyring"

_FILE_HEADER = (
    "# backpack-bot keyring: seals the secrets the bot keeps in its database.\n"
    "# Keep it out of backups that also hold the database. SECRETS_KEYRING, when set, wins.\n"
)


class KeySource:
    """The keyring of this process: from ``SECRETS_KEYRING`` (``env``) or ``path``."""

    def __init__(self, env: str | None, path: Path, *, create_file: bool = True) -> None:
        self._env = env.strip() if env and env.strip() else None
        self.path = path
        self.create_file = create_file
        self._ring: Keyring | None = None

    def __repr__(self) -> str:
        where = "SECRETS_KEYRING" if self._env else str(self.path)
        return f"KeySource({where})"

    @property
    def configured(self) -> bool:
        """Whether the keyring comes from ``SECRETS_KEYRING`` (not from a file beside the
        database, which travels with its backups): connecting a desk's own keys needs it."""
        return self._env is not None

    @classmethod
    def from_settings(cls, settings: Settings) -> KeySource:
        env = settings.secrets_keyring
        return cls(
            env.get_secret_value() if env is not None else None,
            settings.data_dir / KEYRING_FILE,
            create_file=settings.secrets_keyring_file,
        )

    def current(self) -> Keyring | None:
        """The keyring, or ``None`` when there is none yet (raises :class:`KeyringError` when
        the one there is malformed)."""
        if self._ring is None:
            if self._env is not None:
                self._ring = Keyring.parse(self._env, "SECRETS_KEYRING")
            elif self.path.exists():
                self._ring = Keyring.parse(self.path.read_text(), f"the keyring file {self.path}")
        return self._ring

    def for_sealing(self) -> Keyring:
        """The keyring to seal with; makes the keyring file when there is none and that is
        allowed, else raises :class:`NoKeyring`."""
        ring = self.current()
        if ring is not None:
            return ring
        if not self.create_file:
            raise NoKeyring(
                "a secret must be stored and there is no keyring: set SECRETS_KEYRING "
                "(make a key with `python -m bot keys new`), or allow the keyring file "
                "(SECRETS_KEYRING_FILE=true)"
            )
        try:
            try:
                self._ring = create_keyring_file(self.path)
            except FileExistsError:  # another process made it meanwhile: use theirs
                text = self.path.read_text()
                self._ring = Keyring.parse(text, f"the keyring file {self.path}")
                return self._ring
        except OSError as exc:
            raise NoKeyring(
                f"a secret must be stored and the keyring file {self.path} cannot be made "
                f"({exc.strerror}); set SECRETS_KEYRING (see `python -m bot keys new`)"
            ) from None
        log.info(
            "made the keyring file %s (0600): it seals the secrets the bot keeps in its "
            "database; keep it out of backups of the database, or set SECRETS_KEYRING",
            self.path,
        )
        return self._ring


def create_keyring_file(path: Path) -> Keyring:
    """Write a new keyring with one fresh key to ``path`` (0600; fails if it exists)."""
    key = Key.generate(next_key_id(None))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, (_FILE_HEADER + key.entry() + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    return Keyring([key], f"the keyring file {path}")


__all__ = ["KEYRING_FILE", "KeySource", "KeyringError", "create_keyring_file"]
