"""The process set's tests share the storage tests' PostgreSQL server and the bot tests' fake
Bot API."""

from tests.bot.conftest import tg
from tests.storage.conftest import pg_url, postgres

__all__ = ["pg_url", "postgres", "tg"]
