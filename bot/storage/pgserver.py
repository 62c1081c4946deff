"""A throw-away PostgreSQL server: Debian's ``postgresql`` package started in a temporary
directory (``initdb`` + ``pg_ctl``), for the tests and for ``make scale`` / ``bench/scale/``.

``initdb`` and ``postgres`` refuse to run as root, so as root both run as the ``postgres``
system user (``runuser -u postgres``), which the Debian package creates. The server listens on
127.0.0.1 only, with trust authentication for the superuser ``postgres``; it is for local runs,
never for a deployment.

    with PgServer.start() as pg:            # or pg = PgServer.start(); …; pg.stop()
        url = pg.create_database("bot")     # postgresql+asyncpg://postgres@127.0.0.1:PORT/bot
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

#: Seconds any one of initdb / pg_ctl / psql may take (a busy 2-core machine is slow).
TIMEOUT = 120


class PgUnavailable(RuntimeError):
    """The server binaries are not installed (``apt-get install postgresql``)."""


class PgFailed(RuntimeError):
    """initdb, pg_ctl or psql failed; the message carries its output's tail."""


def bindir() -> Path | None:
    """Where initdb, pg_ctl and psql live together (Debian keeps them off the PATH)."""
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version)
    if versions:
        return Path(versions[-1]).parent
    found = shutil.which("initdb")
    if found and shutil.which("psql", path=str(Path(found).parent)):
        return Path(found).parent
    return None


def _version(path: str) -> int:
    part = Path(path).parent.parent.name
    return int(part) if part.isdigit() else 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(cmd: list[str], *, as_postgres: bool) -> str:
    name = Path(cmd[0]).name
    if as_postgres:  # initdb and postgres refuse to run as root
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    done = subprocess.run(  # noqa: S603 - our own fixed argv, no shell
        cmd, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise PgFailed(f"{name} failed (exit {done.returncode}):\n{tail}")
    return done.stdout


class PgServer:
    """One running server in its own temporary directory; :meth:`stop` removes both."""

    def __init__(self, base: Path, bin_dir: Path, port: int, *, as_root: bool) -> None:
        self.base = base
        self.bin_dir = bin_dir
        self.port = port
        self.host = "127.0.0.1"
        self._as_root = as_root
        self._running = False

    @classmethod
    def start(cls, *, fsync: bool = False, max_connections: int = 200) -> PgServer:
        """initdb a fresh cluster and start it on a free port (``fsync=off`` unless asked:
        a crash of the machine loses this throw-away server anyway)."""
        found = bindir()
        if found is None:
            raise PgUnavailable(
                "PostgreSQL is not installed (apt-get install postgresql); .ci/run installs it"
            )
        as_root = os.geteuid() == 0
        base = Path(tempfile.mkdtemp(prefix="backpack-bot-pg-"))
        if as_root:
            shutil.chown(base, "postgres")
        server = cls(base, found, free_port(), as_root=as_root)
        try:
            server._init_and_start(fsync=fsync, max_connections=max_connections)
        except BaseException:
            shutil.rmtree(base, ignore_errors=True)
            raise
        return server

    @property
    def address(self) -> str:
        """``host:port``."""
        return f"{self.host}:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.base / "log"

    def _ctl(self) -> list[str]:
        data = self.base / "data"
        return [str(self.bin_dir / "pg_ctl"), "-D", str(data), "-l", str(self.log_file), "-w"]

    def _init_and_start(self, *, fsync: bool, max_connections: int) -> None:
        data = self.base / "data"
        initdb = [str(self.bin_dir / "initdb"), "-D", str(data), "-U", "postgres"]
        _run([*initdb, "--auth=trust", "-E", "UTF8"], as_postgres=self._as_root)
        options = (
            f"-p {self.port} -k {self.base} -c listen_addresses={self.host} "
            f"-c fsync={'on' if fsync else 'off'} -c max_connections={max_connections}"
        )
        _run([*self._ctl(), "-o", options, "start"], as_postgres=self._as_root)
        self._running = True

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run ``sql`` (stops at the first error); psql's unaligned, tuples-only output."""
        cmd = [str(self.bin_dir / "psql"), "-h", self.host, "-p", str(self.port)]
        cmd += ["-U", "postgres", "-d", database, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1"]
        return _run([*cmd, "-c", sql], as_postgres=False)

    def create_database(self, name: str) -> str:
        """A fresh, empty database; its SQLAlchemy URL (asyncpg driver)."""
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@{self.address}/{database}"

    def stop(self) -> None:
        """Stop at once (``-m immediate``: nothing here is worth a checkpoint) and remove the
        directory."""
        try:
            if self._running:
                self._running = False
                _run([*self._ctl(), "-m", "immediate", "stop"], as_postgres=self._as_root)
        finally:
            shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> PgServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
