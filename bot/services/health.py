"""``/health`` and ``/logs`` (no Telegram types): is every part of the bot alive, and what did
it say last.

Health looks, it does not fix: the age of each stream, the strategy's last cycle, one query to
the database, one request to each venue, the outbox's backlog, the version.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass

from sqlalchemy import text

from bot.container import Services
from bot.logs import FORMAT
from bot.services.access import Action, Actor
from bot.services.account.reports import bot_version

#: How long one probe (a venue, the database) may take before it counts as down.
PROBE_SECONDS = 5.0
#: Log lines ``/logs`` can show (the newest are kept).
LOG_LINES = 500


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True, slots=True)
class Health:
    checks: tuple[Check, ...]
    version: str

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)


async def _timed(probe: Awaitable[object]) -> float:
    start = time.perf_counter()
    async with asyncio.timeout(PROBE_SECONDS):
        await probe
    return (time.perf_counter() - start) * 1000


async def health(services: Services, actor: Actor) -> Health:
    """Every check, run now (refused unless ``actor`` may see the account)."""
    actor.require(Action.ACCOUNT)
    s = services
    checks: list[Check] = []
    newest = max(s.market_api.last_update.values(), default=None)
    age = None if newest is None else time.monotonic() - newest
    stale = s.settings.stale_stream_seconds
    checks.append(
        Check(
            "price stream",
            s.market_api.stream_connected and age is not None and age <= stale,
            ("connected" if s.market_api.stream_connected else "not connected")
            + (f", last price {age:.1f} s ago" if age is not None else ", no price yet"),
        )
    )
    if s.account_api is not s.market_api:
        checks.append(
            Check(
                "account stream",
                True,
                "connected" if s.account_api.stream_connected else "not subscribed (REST only)",
            )
        )
    last = s.strategy.last_cycle_ms
    mode = (await s.strategy.store.settings()).mode
    checks.append(
        Check(
            "strategy",
            mode == "off" or last is not None,
            f"mode {mode}, "
            + (
                f"last cycle {(s.clock.time() * 1000 - last) / 1000:.0f} s ago"
                if last is not None
                else "no cycle since start"
            ),
        )
    )
    try:
        async with s.db.session() as session:
            ms = await _timed(session.execute(text("SELECT 1")))
        checks.append(Check("database", True, f"answers in {ms:.0f} ms"))
    except Exception as exc:  # any failure is the finding
        checks.append(Check("database", False, type(exc).__name__))
    checks.append(await _venue(s.venue.name, s.market_api.get_mark_prices()))
    if s.hedge is not None:
        checks.append(await _venue(s.hedge.name, s.hedge.markets()))
    backlog = s.outbox.pending()
    checks.append(
        Check(
            "outbox",
            backlog < 50,
            f"{backlog} queued, {len(s.outbox.held)} held for quiet hours",
        )
    )
    return Health(tuple(checks), bot_version())


async def _venue(name: str, probe: Awaitable[object]) -> Check:
    try:
        ms = await _timed(probe)
    except TimeoutError:
        return Check(name, False, f"no answer within {PROBE_SECONDS:.0f} s")
    except Exception as exc:  # any failure is the finding; the class says which
        return Check(name, False, f"unreachable ({type(exc).__name__})")
    return Check(name, True, f"reachable, {ms:.0f} ms")


class LogTail(logging.Handler):
    """The newest :data:`LOG_LINES` log lines in memory, for ``/logs``; secrets blanked when
    read (the token is already blanked when the record is made)."""

    def __init__(self, secrets: Iterable[str] = (), size: int = LOG_LINES) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(logging.Formatter(FORMAT))
        self.lines: deque[str] = deque(maxlen=size)
        self.secrets = [x for x in secrets if len(x) >= 6]

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:  # logging must never raise into the caller
            self.handleError(record)

    def tail(self, n: int, actor: Actor) -> list[str]:
        """The last ``n`` lines, secrets redacted (owners only)."""
        actor.require(Action.LOGS)
        out = list(self.lines)[-n:]
        for secret in self.secrets:
            out = [line.replace(secret, "<secret>") for line in out]
        return out
