"""Who may read what the bot keeps on disk: only the user it runs as.

The data directory holds the database (its WAL too: recent rows), the keyring file that seals
the secrets stored in it, and the paper simulators' state and journals. :func:`lock_down` runs
first thing at start-up: ``umask 077`` so every file created from then on is 0600 (directories
0700), then the data directory and whatever an older version left in it (0644 files in a 0755
directory) are tightened, and so is a SQLite database kept outside it.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from sqlalchemy.engine import make_url

UMASK = 0o077
SQLITE_COMPANIONS = ("", "-wal", "-shm", "-journal")


def lock_down(data_dir: Path, database_url: str) -> None:
    """``umask 077``; ``data_dir`` 0700 with every directory in it 0700 and every file 0600;
    a SQLite database (and its -wal/-shm/-journal) 0600 wherever it is."""
    os.umask(UMASK)
    data_dir.mkdir(parents=True, exist_ok=True)
    _chmod(data_dir, 0o700)
    for path in data_dir.rglob("*"):
        _chmod(path, 0o700 if path.is_dir() else 0o600)
    database = sqlite_path(database_url)
    if database is not None:
        for suffix in SQLITE_COMPANIONS:
            companion = database.with_name(database.name + suffix)
            if companion.exists():
                _chmod(companion, 0o600)


def sqlite_path(database_url: str) -> Path | None:
    """The file of a SQLite ``DATABASE_URL`` (``None`` for other databases and ``:memory:``)."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def _chmod(path: Path, mode: int) -> None:
    if path.is_symlink():  # never follow a link out of the directory
        return
    with contextlib.suppress(FileNotFoundError):  # a file removed meanwhile (a rotated journal)
        if stat.S_IMODE(path.stat().st_mode) != mode:
            path.chmod(mode)
