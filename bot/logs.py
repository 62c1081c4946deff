"""The process's logging, configured in one place for every mode (polling, webhook, local chat).

An operator reads the INFO log to learn what the bot did: one line per order, fill, alert,
reconnect after an outage and strategy decision. Libraries that narrate their own machinery at
INFO (APScheduler logs "Running job …" and "… executed successfully" for every run of every
JobQueue job) are moved to DEBUG, where they are still there for whoever asks for them.
"""

from __future__ import annotations

import logging
from typing import TextIO

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# Loggers whose INFO lines are bookkeeping, not events: shown only at LOG_LEVEL=DEBUG.
CHATTY = ("apscheduler", "alembic.runtime.plugins")
# Database drivers log statements with their parameters (aiosqlite every call and its result at
# DEBUG, SQLAlchemy's engine at INFO), and the parameters hold secrets (the paper account's
# key): these loggers say only warnings, at any LOG_LEVEL.
DATABASE = ("aiosqlite", "sqlalchemy.engine", "sqlalchemy.pool", "sqlalchemy.orm", "asyncpg")


class Demote(logging.Filter):
    """A handler filter: INFO records of ``CHATTY`` loggers become DEBUG records.

    A handler filter, not a logger level, because a logger's level can only drop a record, and
    these lines should still appear, as DEBUG, when the operator asks for DEBUG.
    """

    def __init__(self, level: int, names: tuple[str, ...] = CHATTY) -> None:
        super().__init__()
        self.level = level
        self.names = names

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.INFO and _under(record.name, self.names):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return self.level <= logging.DEBUG
        return True


def configure_logging(level: str, stream: TextIO | None = None) -> logging.Handler:
    """Log to ``stream`` (stderr) at ``level``; returns the handler it installed on the root."""
    numeric = logging.getLevelName(level.upper())
    numeric = numeric if isinstance(numeric, int) else logging.INFO
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(Demote(numeric))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(numeric)
    # httpx logs every request URL at INFO; they contain the bot token (redacted anyway).
    logging.getLogger("httpx").setLevel(logging.WARNING)
    for name in DATABASE:
        logging.getLogger(name).setLevel(logging.WARNING)
    return handler


def _under(name: str, parents: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in parents)
