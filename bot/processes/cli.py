"""``python -m bot web --host H --port P`` | ``python -m bot worker`` | ``python -m bot ingest``.

The same settings as the single process (``DATABASE_URL``, ``TELEGRAM_BOT_TOKEN``,
``TELEGRAM_API_URL``, ``WEBHOOK_SECRET``, …); each command runs one process of the set
(README, "Scaling out"). Exit codes as ``python -m bot``: 2 for settings, 3 when a process of
this kind may not start.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from telegram.error import InvalidToken

from bot.app import ProcessRole, install_token_redaction
from bot.datadir import lock_down
from bot.keyring.ring import KeyringError
from bot.logs import configure_process_logging
from bot.processes.compose import check_set_settings
from bot.settings import ConfigError, Settings

log = logging.getLogger("bot.processes")

ROLES: tuple[ProcessRole, ...] = ("web", "worker", "ingest")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bot", description="Run one process of the set.")
    sub = p.add_subparsers(dest="role", required=True)
    web = sub.add_parser("web", help="Telegram's webhook at POST /webhook, the Mini App")
    web.add_argument("--host", default="127.0.0.1")
    web.add_argument("--port", type=int, default=8443, help="0 picks a free port")
    sub.add_parser("worker", help="jobs on procrastinate, the outbox's senders, private streams")
    sub.add_parser("ingest", help="public streams and alerts (one leads, the others stand by)")
    return p


def main(argv: list[str], settings_of: Callable[[], Settings | None]) -> int:
    """``argv`` starts with the role; ``settings_of`` reads the settings (``None``: it said
    what is wrong already)."""
    args = parser().parse_args(argv)
    settings = settings_of()
    if settings is None:
        return 2
    role: ProcessRole = args.role
    install_token_redaction(settings.telegram_bot_token.get_secret_value())
    try:
        settings.check()
        check_set_settings(settings, role)
    except ConfigError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return 2
    try:
        lock_down(settings.data_dir, settings.database_url)
    except OSError as exc:
        print(f"Cannot secure DATA_DIR={settings.data_dir}: {exc}", file=sys.stderr)
        return 2
    configure_process_logging(settings.log_level, role)
    try:
        return asyncio.run(_run(role, args, settings))
    except KeyringError as exc:
        print(f"Not starting: {exc}", file=sys.stderr)
        return 2
    except InvalidToken:
        print(
            "Telegram rejected TELEGRAM_BOT_TOKEN; copy it again from @BotFather.", file=sys.stderr
        )
        return 2
    except KeyboardInterrupt:
        return 0


def _run(
    role: ProcessRole, args: argparse.Namespace, settings: Settings
) -> Coroutine[Any, Any, int]:
    if role == "web":
        from bot.processes.web import run_web

        return run_web(settings, args.host, args.port)
    if role == "worker":
        from bot.processes.worker import run_worker

        return run_worker(settings)
    from bot.processes.ingest import run_ingest

    return run_ingest(settings)
