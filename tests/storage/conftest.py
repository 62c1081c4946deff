"""A real PostgreSQL server for the storage tests: Debian's ``postgresql``, started in a
temporary directory (``initdb`` + ``pg_ctl``) once per session; each test gets a fresh database.

Skipped, with one line saying why, where the server binaries are missing (``.ci/run`` installs
them).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest


def _bindir() -> Path | None:
    """Where initdb, pg_ctl and psql live together (Debian keeps them off the PATH)."""
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if versions:
        return Path(versions[-1]).parent
    found = shutil.which("initdb")
    return (
        Path(found).parent if found and shutil.which("psql", path=str(Path(found).parent)) else None
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(cmd: list[str], *, as_postgres: bool) -> None:
    if as_postgres:  # initdb and postgres refuse to run as root
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """``host:port`` of a running server (superuser ``postgres``, trust auth on loopback)."""
    bindir = _bindir()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql); .ci/run installs it")
    as_root = os.geteuid() == 0
    base = Path(tempfile.mkdtemp(prefix="backpack-bot-pg-"))
    data = base / "data"
    if as_root:
        shutil.chown(base, "postgres")
    port = _free_port()
    _run(
        [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
        as_postgres=as_root,
    )
    options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
    ctl = [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(base / "log"), "-w"]
    _run([*ctl, "-o", options, "start"], as_postgres=as_root)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        _run([*ctl, "-m", "immediate", "stop"], as_postgres=as_root)
        shutil.rmtree(base, ignore_errors=True)


def _psql(server: str, sql: str) -> None:
    host, port = server.split(":")
    bindir = _bindir()
    assert bindir is not None
    cmd = [str(bindir / "psql"), "-h", host, "-p", port, "-U", "postgres", "-d", "postgres"]
    subprocess.run([*cmd, "-v", "ON_ERROR_STOP=1", "-c", sql], check=True, capture_output=True)


@pytest.fixture
def pg_url(postgres: str) -> Iterator[str]:
    """A fresh, empty database; its SQLAlchemy URL."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    _psql(postgres, f'CREATE DATABASE "{name}"')
    yield f"postgresql+asyncpg://postgres@{postgres}/{name}"
    _psql(postgres, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
