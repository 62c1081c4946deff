"""``python -m bot`` with no token: a real process prints the local chat line and serves it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bot.localchat.run import exchange_reachable
from bot.sim import Simulator


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "BACKPACK_"))}
    env.update(
        EXCHANGE="sim", LOCAL_CHAT_PORT="0", WEBAPP_PORT="0", TELEGRAM_BOT_TOKEN="", DATA_DIR="data"
    )
    env.update(extra)
    return env


def test_python_m_bot_without_a_token_opens_the_local_chat(tmp_path: Path) -> None:
    env = clean_env()
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        elapsed = time.monotonic() - started
        assert line.startswith("local chat: http://127.0.0.1:"), (line, proc.poll())
        assert elapsed < 10, f"the line took {elapsed:.1f} s"
        url = line.split(": ", 1)[1].strip()
        with urllib.request.urlopen(url, timeout=5) as page:
            assert b"Message" in page.read()
        with urllib.request.urlopen(url + "api/state", timeout=5) as state:
            body = json.load(state)
        assert body["banner"] == {
            "mode": "paper",
            "market": "built-in simulator",
            "detail": "EXCHANGE=sim",
        }
        assert {"price", "buy"} <= {c["command"] for c in body["commands"]}
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err[-2000:]
    assert out == ""  # exactly one line on stdout


async def test_an_unreachable_exchange_is_noticed_quickly() -> None:
    started = time.monotonic()
    assert not await exchange_reachable("http://127.0.0.1:9", seconds=2)
    assert time.monotonic() - started < 2.5
    async with Simulator(seed=1, random_walk=False) as sim:
        assert await exchange_reachable(sim.rest_url)


def test_a_busy_port_is_explained(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "bot"],
            cwd=tmp_path,
            env=clean_env(LOCAL_CHAT_PORT=str(port)),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert f"Cannot open the local chat on 127.0.0.1:{port}" in proc.stderr
    assert proc.stdout == ""
