"""``python -m bot`` / ``backpack-bot``: read settings, check them, run the bot."""

from __future__ import annotations

import logging
import secrets
import sys

from pydantic import ValidationError
from telegram.error import InvalidToken
from telegram.error import NetworkError as TelegramNetworkError

from bot.app import build_application, install_secret_redaction, install_token_redaction
from bot.datadir import lock_down
from bot.keyring.ring import KeyringError
from bot.logs import LOG_FILE, configure_quiet_logging
from bot.settings import ConfigError, Settings
from bot.storage.db import InstanceLocked

log = logging.getLogger("bot")


def webhook_secret(settings: Settings) -> str:
    """The secret Telegram must send with every update (``X-Telegram-Bot-Api-Secret-Token``).

    ``WEBHOOK_SECRET`` when set; otherwise a fresh random one at every start: setWebhook
    registers it with Telegram, and python-telegram-bot's webhook server answers 403 to any
    POST without it, so whoever learns the webhook URL still cannot forge an update.
    """
    if settings.webhook_secret is not None:
        return settings.webhook_secret.get_secret_value()
    return secrets.token_urlsafe(32)  # 43 characters of A-Z a-z 0-9 _ -, as Telegram allows


#: The largest update body the webhook server accepts; Telegram's updates are a few KB.
WEBHOOK_MAX_BODY = 1 << 20


def cap_webhook_bodies(max_bytes: int = WEBHOOK_MAX_BODY) -> None:
    """Refuse webhook bodies over ``max_bytes`` before reading them.

    python-telegram-bot serves the webhook with tornado's ``HTTPServer``, built inside
    ``run_webhook`` with tornado's defaults: bodies up to 100 MB, read whole into memory before
    the secret token is checked. ``Configurable.configure`` sets the keyword arguments every
    ``HTTPServer`` of this process is built with: a ``Content-Length`` above the cap is answered
    400 and the connection closed before the body is read, a chunked body is cut off there.
    """
    from tornado.httpserver import HTTPServer

    HTTPServer.configure(None, max_body_size=max_bytes, max_buffer_size=4 * max_bytes)


def read_settings() -> Settings | None:
    """The settings, or ``None`` after saying on stderr which ones are wrong."""
    try:
        return Settings()
    except ValidationError as exc:
        lines = [
            f"  {'.'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()
        ]
        print("Configuration error:\n" + "\n".join(lines), file=sys.stderr)
        return None


def main() -> int:
    if sys.argv[1:2] == ["keys"]:  # python -m bot keys new|rotate
        from bot.keyring.cli import main as keys_main

        return keys_main(sys.argv[2:])
    if sys.argv[1:2] in (["web"], ["worker"], ["ingest"]):  # one process of the set
        from bot.processes.cli import main as process_main

        return process_main(sys.argv[1:], read_settings)
    settings = read_settings()
    if settings is None:
        return 2
    install_token_redaction(settings.telegram_bot_token.get_secret_value())
    try:
        lock_down(settings.data_dir, settings.database_url)  # before any file is created
    except OSError as exc:
        print(f"Cannot secure DATA_DIR={settings.data_dir}: {exc}", file=sys.stderr)
        return 2
    log_file = settings.data_dir / LOG_FILE
    configure_quiet_logging(settings.log_level, log_file)
    # stderr: stdout carries only the local chat's one line (a contract scripts rely on)
    print(f"log: {log_file.resolve()} (warnings and errors also here)", file=sys.stderr, flush=True)
    if settings.wants_local_chat:  # no token, or LOCAL_CHAT=true: the bot in a local web chat
        from bot.localchat.run import run_local_chat

        return run_local_chat(settings)
    try:
        settings.check()
    except ConfigError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return 2
    app = build_application(settings)
    try:
        if settings.webhook_url:
            secret = webhook_secret(settings)
            install_secret_redaction(secret, "<webhook-secret>")
            log.info(
                "webhook at %s; updates without the secret token are refused (%s)",
                settings.webhook_url,
                "WEBHOOK_SECRET" if settings.webhook_secret else "generated at start-up",
            )
            cap_webhook_bodies()
            app.run_webhook(
                listen=settings.webhook_listen,
                port=settings.webhook_port,
                webhook_url=settings.webhook_url,
                secret_token=secret,
                drop_pending_updates=False,
            )
        else:
            app.run_polling()
    except InstanceLocked as exc:
        print(f"Not starting: {exc}", file=sys.stderr)
        return 3
    except KeyringError as exc:  # a stored secret's key is missing, or none can be made
        print(f"Not starting: {exc}", file=sys.stderr)
        return 2
    except InvalidToken:
        print(
            "Telegram rejected TELEGRAM_BOT_TOKEN; copy it again from @BotFather into .env.",
            file=sys.stderr,
        )
        return 2
    except TelegramNetworkError as exc:
        print(
            f"Cannot reach the Telegram Bot API at {settings.telegram_api_url} ({exc.message}). "
            "Check the network or TELEGRAM_API_URL.",
            file=sys.stderr,
        )
        return 4
    return 0


if __name__ == "__main__":
    sys.exit(main())
