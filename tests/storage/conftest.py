"""A real PostgreSQL server for the storage tests: Debian's ``postgresql``, started in a
temporary directory (:class:`bot.storage.pgserver.PgServer`) once per session; each test gets a
fresh database.

Skipped, with one line saying why, where the server binaries are missing (``.ci/run`` installs
them).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from bot.storage.pgserver import PgServer, PgUnavailable


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """The session's running server (superuser ``postgres``, trust auth on loopback)."""
    try:
        server = PgServer.start()
    except PgUnavailable as exc:
        pytest.skip(str(exc))
    with server:
        yield server


@pytest.fixture(scope="session")
def postgres(pg_server: PgServer) -> str:
    """``host:port`` of the running server."""
    return pg_server.address


@pytest.fixture
def pg_url(pg_server: PgServer) -> Iterator[str]:
    """A fresh, empty database; its SQLAlchemy URL."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    url = pg_server.create_database(name)
    yield url
    pg_server.drop_database(name)
