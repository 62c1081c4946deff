"""The process's logging, configured in one place for every mode (polling, webhook, local chat).

An operator reads the INFO log to learn what the bot did: one line per order, fill, alert,
reconnect after an outage and strategy decision. ``python -m bot`` writes it to
``DATA_DIR/bot.log`` and keeps the console quiet (:func:`configure_quiet_logging`): warnings and
errors there, and the one line a user needs on stdout. Libraries that narrate their own machinery at
INFO (APScheduler logs "Running job …" and "… executed successfully" for every run of every
JobQueue job) are moved to DEBUG, where they are still there for whoever asks for them.
"""

from __future__ import annotations

import logging
from logging.handlers import RotatingFileHandler
from pathlib import Path
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


def _numeric(level: str) -> int:
    numeric = logging.getLevelName(level.upper())
    return numeric if isinstance(numeric, int) else logging.INFO


def configure_logging(level: str, stream: TextIO | None = None) -> logging.Handler:
    """Log to ``stream`` (stderr) at ``level``; returns the handler it installed on the root."""
    numeric = _numeric(level)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(Demote(numeric))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(numeric)
    _hold_back_libraries()
    return handler


def _hold_back_libraries() -> None:
    """Loggers whose lower levels are never wanted, whatever ``LOG_LEVEL`` says."""
    # httpx logs every request URL at INFO; they contain the bot token (redacted anyway).
    logging.getLogger("httpx").setLevel(logging.WARNING)
    for name in DATABASE:  # statement parameters: secrets among them
        logging.getLogger(name).setLevel(logging.WARNING)


#: The log file's name in ``DATA_DIR``, and how much of it is kept (rotated, a few files).
LOG_FILE = "bot.log"
LOG_FILE_BYTES = 5_000_000
LOG_FILE_BACKUPS = 3


def configure_quiet_logging(
    level: str, log_file: Path, console: TextIO | None = None
) -> list[logging.Handler]:
    """``python -m bot``'s logging: everything at ``level`` goes to ``log_file``; the console
    (stderr) shows only warnings and errors — or less, when ``level`` is above WARNING — so the
    one line the user needs (``local chat: …``) is not lost among start-up INFO lines.

    Returns the two handlers it installed on the root (file first)."""
    numeric = _numeric(level)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    to_file = RotatingFileHandler(
        log_file, maxBytes=LOG_FILE_BYTES, backupCount=LOG_FILE_BACKUPS, encoding="utf-8"
    )
    to_file.setFormatter(logging.Formatter(FORMAT))
    to_file.addFilter(Demote(numeric))
    to_console = logging.StreamHandler(console)
    to_console.setFormatter(logging.Formatter(FORMAT))
    to_console.setLevel(max(numeric, logging.WARNING))
    root = logging.getLogger()
    root.addHandler(to_file)
    root.addHandler(to_console)
    root.setLevel(numeric)
    _hold_back_libraries()
    return [to_file, to_console]


def _under(name: str, parents: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in parents)


def configure_process_logging(level: str, role: str) -> None:
    """A process of the set (``python -m bot web|worker|ingest``) logs to stderr at ``level``,
    each line naming its role and pid: a supervisor (systemd, a container runtime) keeps the
    lines of many processes apart; one rotating file shared by several processes would not."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        logging.Formatter(FORMAT.replace(" %(levelname)s", f" {role}[%(process)d] %(levelname)s"))
    )
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(_numeric(level))
    _hold_back_libraries()
