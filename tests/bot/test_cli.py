"""``python -m bot`` as a user starts it: friendly messages and exit codes, never a token."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TOKEN = "1234:secret-token-for-the-cli-test"


def run(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "BACKPACK_"))}
    return subprocess.run(
        [sys.executable, "-m", "bot"],
        env={**clean, "DATA_DIR": str(tmp_path / "data"), **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("env", "code", "message"),
    [
        ({"LOCAL_CHAT_HOST": "0.0.0.0"}, 2, "LOCAL_CHAT_PASSWORD"),
        ({"LOCAL_CHAT_PASSWORD": "hunter2"}, 2, "LOCAL_CHAT_PASSWORD needs at least 12"),
        ({"TELEGRAM_BOT_TOKEN": TOKEN}, 2, "TELEGRAM_ALLOWED_USERS is empty"),
        (
            {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_ALLOWED_USERS": "1", "TRADING_MODE": "live"},
            2,
            "BACKPACK_API_KEY",
        ),
        (
            {
                "TELEGRAM_BOT_TOKEN": TOKEN,
                "TELEGRAM_ALLOWED_USERS": "1",
                "EXCHANGE": "sim",
                "TELEGRAM_API_URL": "http://127.0.0.1:9/bot",
            },
            4,
            "Cannot reach the Telegram Bot API",
        ),
        ({"SECRETS_KEYRING": "k1:c2hvcnQ="}, 2, "key k1 must be 32 bytes"),
        (  # the paper account's key must be stored, and no keyring may be made: no plaintext
            {
                "SECRETS_KEYRING_FILE": "false",
                "EXCHANGE": "sim",
                "LOCAL_CHAT_PORT": "0",
                "WEBAPP_PORT": "0",
            },
            2,
            "Not starting: a secret must be stored and there is no keyring",
        ),
    ],
)
def test_start_up_problems_are_explained(
    tmp_path: Path, env: dict[str, str], code: int, message: str
) -> None:
    proc = run(tmp_path, **env)
    assert proc.returncode == code, proc.stderr[-2000:]
    assert message in proc.stderr
    assert TOKEN not in proc.stderr + proc.stdout
    assert TOKEN.split(":")[1] not in proc.stderr + proc.stdout
