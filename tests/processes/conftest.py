"""A real PostgreSQL server for the coordination tests (the storage tests' fixture)."""

from __future__ import annotations

from tests.storage.conftest import pg_url, postgres

__all__ = ["pg_url", "postgres"]
