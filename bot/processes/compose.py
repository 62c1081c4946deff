"""What every process of the set builds first: the shared services on PostgreSQL, without the
single process's instance lock, and the registry kept current across processes.

The single process (:func:`bot.app.build_application`) stays the default; a process of the set
is the same services started with another ``role``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import asyncpg
from sqlalchemy.engine import make_url

from bot.app import ProcessRole, open_services
from bot.clock import Clock
from bot.desks.factory import DeskFactory
from bot.desks.registry import Desks
from bot.services.notices.table import TableOutbox
from bot.settings import ConfigError, Settings
from bot.storage.alerts import AlertStore
from bot.storage.db import Database
from bot.storage.desks import CHANNEL
from jobs.outbox import TelegramMarkupCodec

log = logging.getLogger("bot.processes")

#: A full re-read of the desks, besides the one every change notice triggers.
REFRESH_SECONDS = 30.0


def check_set_settings(settings: Settings, role: ProcessRole) -> None:
    """The set's own requirements, each refused with what to change."""
    if make_url(settings.database_url).get_backend_name() != "postgresql":
        raise ConfigError(
            f"`python -m bot {role}` shares its work with other processes through PostgreSQL: "
            "set DATABASE_URL=postgresql+asyncpg://user:password@host/db (SQLite is for the "
            "single process, `python -m bot`)."
        )
    if settings.paper:
        raise ConfigError(
            "Paper trading runs inside one process; the process set trades on an exchange "
            "(or the simulator: BACKPACK_API_URL/BACKPACK_WS_URL of `python -m bot.sim`). "
            "Set PAPER_TRADING=false, or run `python -m bot`."
        )
    if role == "web" and settings.webhook_secret is None:
        raise ConfigError(
            "Every web process must check the same secret token: set WEBHOOK_SECRET (1–256 of "
            "A-Z a-z 0-9 _ -)."
        )


def asyncpg_dsn(database_url: str) -> str:
    """``postgresql+asyncpg://…`` (SQLAlchemy's form) → ``postgresql://…`` (libpq's)."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


async def open_shared(
    settings: Settings, clock: Clock, stack: contextlib.AsyncExitStack, *, role: ProcessRole
) -> DeskFactory:
    """The shared services and the desks' factory for one process of the set; the registry
    follows the other processes' changes while ``stack`` is open."""
    check_set_settings(settings, role)

    def table(db: Database, alerts: AlertStore) -> TableOutbox:
        return TableOutbox(db, clock, TelegramMarkupCodec(), settings=alerts.settings)

    factory = await open_services(settings, clock, stack, role=role, outbox=table)
    await stack.enter_async_context(refresh_registry(factory.shared.desks, settings))
    return factory


@contextlib.asynccontextmanager
async def refresh_registry(desks: Desks, settings: Settings) -> AsyncIterator[None]:
    """Read the desks again whenever another process changes them (``NOTIFY desks_changed``,
    sent on commit by every registry write) and every :data:`REFRESH_SECONDS` in case a notice
    was missed while the connection was down."""
    wake = asyncio.Event()
    conn = await asyncpg.connect(asyncpg_dsn(settings.database_url))
    await conn.add_listener(CHANNEL, lambda *_: wake.set())

    async def loop() -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(REFRESH_SECONDS):
                    await wake.wait()
            wake.clear()
            try:
                await desks.reload()
            except Exception:  # the next notice or round tries again
                log.exception("reading the desks again failed")

    task = asyncio.create_task(loop(), name="refresh-desks")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        with contextlib.suppress(Exception):
            await conn.close()
