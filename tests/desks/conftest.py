"""The storage tests' real PostgreSQL server, for the registry's race tests."""

from __future__ import annotations

from tests.storage.conftest import pg_server, pg_url, postgres

__all__ = ["pg_server", "pg_url", "postgres"]
