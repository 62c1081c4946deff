"""``python -m bot web``: two web processes on one PostgreSQL database, behind one webhook.

Either takes any update; a forged one (no or wrong secret token) is refused; the same update
delivered to both is answered once; what is not an update is refused with a reason.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.bot.conftest import ALICE, TOKEN, command_update
from tests.fakes.telegram import FakeTelegram
from tests.processes.procs import live_set_env
from tests.simproc import SimProcess, start_sim

HEADER = "X-Telegram-Bot-Api-Secret-Token"
SECRET = "s3cret-token_for-the-webhook-0123456789"


@pytest.fixture
async def sim() -> AsyncIterator[SimProcess]:
    process = await start_sim(7)
    yield process
    await process.stop()


def set_env(tg: FakeTelegram, sim: SimProcess, url: str, data: Path) -> dict[str, str]:
    """The set's settings: PostgreSQL, live on the simulator, one shared webhook secret."""
    telegram = f"{tg.url}/bot"
    return live_set_env(
        url, data, sim.rest_url, sim.ws_url, telegram_url=telegram, token=TOKEN,
        WEBHOOK_SECRET=SECRET, LOG_LEVEL="DEBUG",
    )  # fmt: skip


async def start_web(env: dict[str, str], log: Path) -> tuple[asyncio.subprocess.Process, str]:
    """``python -m bot web --port 0``; its address from the log line saying where it listens."""
    out = log.open("w")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "web", "--host", "127.0.0.1", "--port", "0",
        env=env, stdout=out, stderr=out,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = re.search(r"web process on (http://\S+?): webhook", _read(log))
        if found:
            return proc, found.group(1)
        if proc.returncode is not None:
            break
        await asyncio.sleep(0.1)
    proc.kill()
    raise AssertionError(f"the web process did not start:\n{_read(log)[-3000:]}")


def _read(path: Path) -> str:
    return path.read_text()


async def test_two_web_processes_share_one_webhook(
    tg: FakeTelegram, sim: SimProcess, pg_url: str, tmp_path: Path
) -> None:
    env = set_env(tg, sim, pg_url, tmp_path / "data")
    a, url_a = await start_web(env, tmp_path / "a.log")
    b, url_b = await start_web(env, tmp_path / "b.log")
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            forged = await http.post(f"{url_a}/webhook", json=command_update(1, "/buy BTC 0.01"))
            assert forged.status_code == 403
            wrong = await http.post(
                f"{url_b}/webhook",
                json=command_update(2, "/buy BTC 0.01"),
                headers={HEADER: "x" * 40},
            )
            assert wrong.status_code == 403
            junk = await http.post(f"{url_a}/webhook", content=b"{", headers={HEADER: SECRET})
            assert junk.status_code == 400
            # /whoami to A, /help to B, then update 5 to both at once: three answers
            assert (await http.post(
                f"{url_a}/webhook", json=command_update(3, "/whoami"), headers={HEADER: SECRET}
            )).status_code == 200  # fmt: skip
            assert (await http.post(
                f"{url_b}/webhook", json=command_update(4, "/help"), headers={HEADER: SECRET}
            )).status_code == 200  # fmt: skip
            both = await asyncio.gather(
                *(
                    http.post(
                        f"{u}/webhook", json=command_update(5, "/whoami"), headers={HEADER: SECRET}
                    )
                    for u in (url_a, url_b)
                )
            )
            assert [r.status_code for r in both] == [200, 200]
        await tg.wait_for(lambda: len(tg.to(ALICE)) >= 3, timeout=10)
        await asyncio.sleep(0.5)  # a doubled answer would arrive by now
        texts = [m.text for m in tg.to(ALICE)]
        assert len(texts) == 3, texts
        assert sum("Your role" in t for t in texts) == 2
        assert not any(m.buttons for m in tg.to(ALICE))  # the forged /buy made no preview
    finally:
        for proc in (a, b):
            proc.send_signal(signal.SIGTERM)
        for proc in (a, b):
            assert await asyncio.wait_for(proc.wait(), 30) == 0
    logs = (tmp_path / "a.log").read_text() + (tmp_path / "b.log").read_text()
    assert SECRET not in logs
    assert TOKEN.split(":")[1] not in logs


async def test_the_set_refuses_sqlite_and_paper_with_a_reason(tmp_path: Path) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "BACKPACK_"))}
    env = {**base, "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_ALLOWED_USERS": str(ALICE)}
    env |= {"DATA_DIR": str(tmp_path), "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/b.db"}
    for role in ("web", "worker", "ingest"):
        done = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", role, env=env, stderr=asyncio.subprocess.PIPE
        )
        _, err = await done.communicate()
        assert done.returncode == 2
        assert "PostgreSQL" in err.decode()
