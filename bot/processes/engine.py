"""The job engine of the worker processes: procrastinate on the bot's PostgreSQL database.

Why procrastinate (issue 22): it is Postgres-native (jobs are rows, workers are woken by
``LISTEN/NOTIFY``), it defers each periodic task once per period however many workers run
(a unique row per task and timestamp), it has per-job ``lock`` (jobs sharing a lock never run at
once) and ``queueing_lock`` (at most one waiting job per key), retries, and stalled-job recovery
from worker heartbeats. Nothing here is a queue of our own: this module only turns the bot's
settings into procrastinate's terms.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from procrastinate import App, PsycopgConnector
from procrastinate.schema import SchemaManager
from psycopg.conninfo import make_conninfo
from sqlalchemy.engine import make_url

log = logging.getLogger("bot.processes.engine")

#: The advisory-lock key under which one process applies procrastinate's schema
#: (``b"bpbot-pq"``): workers starting together wait for it instead of racing.
SCHEMA_LOCK = int.from_bytes(b"bpbot-pq", "big", signed=True)

#: The worker's heartbeat and how long a silent worker is trusted: a worker SIGKILLed mid-job
#: is declared stalled after :data:`STALLED_AFTER` seconds and its job is run again elsewhere.
HEARTBEAT_SECONDS = 1.0
STALLED_AFTER = 5.0


class EngineError(RuntimeError):
    """The database URL cannot host the job engine (it needs PostgreSQL)."""


def conninfo(database_url: str) -> str:
    """libpq's conninfo for the SQLAlchemy URL ``DATABASE_URL``
    (``postgresql+asyncpg://u:p@h:port/db?ssl=require`` → ``host=h port=… dbname=db …``)."""
    u = make_url(database_url)
    if u.get_backend_name() != "postgresql":
        raise EngineError(
            "the worker processes need PostgreSQL: set DATABASE_URL=postgresql+asyncpg://…"
        )
    params: dict[str, Any] = {}
    for key, value in u.query.items():
        text = value if isinstance(value, str) else value[-1]
        params["sslmode" if key == "ssl" else key] = text
    return make_conninfo(
        host=u.host or None,
        port=u.port or None,
        dbname=u.database or None,
        user=u.username or None,
        password=u.password or None,
        **params,
    )


def make_app(dsn: str, *, pool: int = 6) -> App:
    """A procrastinate ``App`` on ``dsn`` (a libpq conninfo) with up to ``pool`` connections
    (each running job may use one, besides the listener and the heartbeat); open it with
    ``open_async``."""
    connector = PsycopgConnector(conninfo=dsn, min_size=1, max_size=pool)
    return App(connector=connector)


async def ensure_schema(dsn: str) -> bool:
    """Apply procrastinate's schema unless it is there; returns True when this call applied
    it. Workers starting at once take turns on an advisory lock held for the transaction, so
    exactly one of them creates the tables and the others find them."""
    async with await psycopg.AsyncConnection.connect(dsn) as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
        cur = await conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")
        row = await cur.fetchone()
        if row is not None and row[0]:
            return False
        # No parameters: psycopg sends the script as one simple query (many statements).
        await conn.execute(SchemaManager.get_schema())
    log.info("procrastinate's schema applied")
    return True


#: Periods a cron line can express exactly, in seconds (sub-minute ones use the 6th field).
_SECOND_STEPS = [s for s in range(1, 60) if 60 % s == 0]
_MINUTE_STEPS = [m for m in range(1, 60) if 60 % m == 0]
_HOUR_STEPS = [h for h in range(1, 24) if 24 % h == 0]


def every(seconds: float) -> str:
    """A cron line (procrastinate's, with a 6th column for seconds) firing every ``seconds``:
    exact when ``seconds`` divides a minute, an hour or a day; otherwise the next shorter
    period that does (a cycle runs a little more often, never less)."""
    s = max(1, int(seconds))
    periods: list[tuple[int, str]] = [(x, f"* * * * * */{x}") for x in _SECOND_STEPS]
    periods += [(m * 60, f"*/{m} * * * *") for m in _MINUTE_STEPS]
    periods += [(h * 3600, f"0 */{h} * * *") for h in _HOUR_STEPS]
    periods.append((86_400, "0 0 * * *"))
    period, cron = max(p for p in periods if p[0] <= s)
    if period != s:
        log.info("an interval of %d s runs every %d s (a cron period)", s, period)
    return cron
