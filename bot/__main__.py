"""``python -m bot`` / ``backpack-bot``: read settings, check them, run the bot."""

from __future__ import annotations

import sys

from pydantic import ValidationError
from telegram.error import InvalidToken
from telegram.error import NetworkError as TelegramNetworkError

from bot.app import build_application, install_token_redaction
from bot.logs import configure_logging
from bot.settings import ConfigError, Settings
from bot.storage.db import InstanceLocked


def main() -> int:
    try:
        settings = Settings()
    except ValidationError as exc:
        lines = [
            f"  {'.'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()
        ]
        print("Configuration error:\n" + "\n".join(lines), file=sys.stderr)
        return 2
    install_token_redaction(settings.telegram_bot_token.get_secret_value())
    configure_logging(settings.log_level)
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
            secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
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
