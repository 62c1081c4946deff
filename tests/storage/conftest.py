"""A real PostgreSQL server for the storage tests: Debian's ``postgresql``, started in a
temporary directory (:class:`bot.storage.pgserver.PgServer`) once per session; each test gets a
fresh database.

Skipped, with one line saying why, where the server binaries are missing (``.ci/run`` installs
them). Other test packages import ``pg_url`` and ``postgres`` from here (``pg_url`` needs only
``postgres``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from bot.storage.pgserver import PgServer, PgUnavailable, free_port

#: The session's servers by ``host:port`` (one per session, per xdist worker).
_SERVERS: dict[str, PgServer] = {}


def _free_port() -> int:
    """A free loopback port (other tests' fake servers use it)."""
    return free_port()


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """``host:port`` of a running server (superuser ``postgres``, trust auth on loopback)."""
    try:
        server = PgServer.start()
    except PgUnavailable as exc:
        pytest.skip(str(exc))
    with server:
        _SERVERS[server.address] = server
        yield server.address
        del _SERVERS[server.address]


@pytest.fixture(scope="session")
def pg_server(postgres: str) -> PgServer:
    """The running server itself."""
    return _SERVERS[postgres]


@pytest.fixture
def pg_url(postgres: str) -> Iterator[str]:
    """A fresh, empty database; its SQLAlchemy URL."""
    server = _SERVERS[postgres]
    name = f"t_{uuid.uuid4().hex[:12]}"
    url = server.create_database(name)
    yield url
    server.drop_database(name)
