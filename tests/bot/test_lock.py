"""One bot per database: a second ``python -m bot`` on the same database is refused, whatever
its token, and the first one keeps answering. Real processes in local-chat mode (no token, so
every run makes its own), the page driven over HTTP as the browser drives it."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

START_TIMEOUT = 30.0
REFUSED = "Not starting: another backpack-bot is already running on this database"


def local_env(**extra: str) -> dict[str, str]:
    drop = ("TELEGRAM_", "BACKPACK_", "TRADING_", "EXCHANGE", "DATABASE_", "BOT_CRASH", "LOCAL_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(
        EXCHANGE="sim", LOCAL_CHAT_PORT="0", WEBAPP_PORT="0", DATA_DIR="data", TRADING_MODE="paper"
    )
    return env | extra


@asynccontextmanager
async def local_bot(cwd: Path, env: dict[str, str]) -> AsyncIterator[str]:
    """``python -m bot`` in local-chat mode; yields the page's URL once it answers."""
    log = cwd / "first.log"
    with log.open("a") as stderr:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            cwd=str(cwd),
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
        )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), START_TIMEOUT)).decode()
        assert line.startswith("local chat: http://"), (line, log.read_text())
        yield line.split(": ", 1)[1].strip().rstrip("/")
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 20)
            except TimeoutError:
                proc.kill()
                await proc.wait()
    assert proc.returncode == 0, log.read_text()[-3000:]


async def run_to_exit(cwd: Path, env: dict[str, str]) -> tuple[int, str, str]:
    """Run ``python -m bot`` until it exits by itself; (exit code, stdout, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        cwd=str(cwd),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), START_TIMEOUT)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def price_answered(page: str) -> str:
    """Send ``/price BTC`` on the page and return the bot's answer once it is there."""
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{page}/api/send", json={"text": "/price BTC"}) as sent:
            assert sent.status == 200, await sent.text()
            mine = (await sent.json())["message"]["message_id"]
        deadline = time.monotonic() + 15
        while True:
            async with http.get(f"{page}/api/state") as state:
                messages: list[dict[str, Any]] = (await state.json())["messages"]
            answers = [m for m in messages if not m["outgoing"] and m["message_id"] > mine]
            if answers:
                return str(answers[0].get("text", ""))
            assert time.monotonic() < deadline, f"no answer to /price: {messages[-3:]}"
            await asyncio.sleep(0.1)


async def second_bot_is_refused(tmp_path: Path, **database: str) -> None:
    """The whole check: a first bot up, a second one (two different tokens) refused with the
    message and a non-zero exit code, the first still answering a /price."""
    async with local_bot(tmp_path, local_env(**database)) as page:
        assert "BTC_USDC" in await price_answered(page)
        others = (
            local_env(**database),  # no token: local-chat mode makes a new one for this run
            local_env(LOCAL_CHAT="true", TELEGRAM_BOT_TOKEN="987654:another-token", **database),
        )
        for env in others:
            code, out, err = await run_to_exit(tmp_path, env)
            assert code == 3, err[-3000:]
            assert REFUSED in err
            assert "one bot per database" in err
            assert out == ""  # no "local chat:" line: it never served a page
        assert "BTC_USDC" in await price_answered(page)


async def test_a_second_bot_on_the_same_sqlite_file_is_refused(tmp_path: Path) -> None:
    await second_bot_is_refused(tmp_path)
    assert lock_files(tmp_path / "data") == ["bot.db.lock"]  # one, with a fixed name


def lock_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*.lock"))
