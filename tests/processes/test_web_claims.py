"""``python -m bot web``: an update is handled once and never lost across web processes.

Two real web processes on one PostgreSQL database. Web A is SIGKILLed right after claiming an
update (``BOT_CRASH_AT=update-claimed``): Telegram gets no ``200`` and delivers the update again.
A redelivery while A still looks alive is dropped; once A's heartbeat is older than
:data:`~bot.storage.updates.CLAIM_ALIVE_MS` (Telegram redelivers after its own timeout) web B
takes the claim over and answers, once. A handled update delivered again is dropped.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import asyncpg
import httpx

from bot.processes.coord import asyncpg_dsn
from bot.storage.updates import CLAIM_ALIVE_MS
from tests.bot.conftest import ALICE, command_update
from tests.fakes.telegram import FakeTelegram
from tests.processes.test_web import HEADER, SECRET, set_env, sim, start_web
from tests.simproc import SimProcess

__all__ = ["sim"]


async def _claim(pg: asyncpg.Connection, update_id: int) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await pg.fetchrow(
        "SELECT claimed_by, handled_ms FROM seen_updates WHERE update_id = $1", update_id
    )
    return row


async def test_an_update_in_hand_when_its_web_process_is_killed_is_answered_by_another(
    tg: FakeTelegram, sim: SimProcess, pg_url: str, tmp_path: Path
) -> None:
    env = set_env(tg, sim, pg_url, tmp_path / "data")
    a, url_a = await start_web({**env, "BOT_CRASH_AT": "update-claimed"}, tmp_path / "a.log")
    b, url_b = await start_web(env, tmp_path / "b.log")
    pg = await asyncpg.connect(asyncpg_dsn(pg_url))
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            hook = {HEADER: SECRET}
            try:
                await http.post(
                    f"{url_a}/webhook", json=command_update(41, "/whoami"), headers=hook
                )
                raise AssertionError("web A answered an update it was to die on")
            except httpx.TransportError:
                pass
            assert await asyncio.wait_for(a.wait(), 10) == -signal.SIGKILL
            row = await _claim(pg, 41)
            assert row is not None and row["handled_ms"] is None
            assert row["claimed_by"].startswith("web-") and f"-{a.pid}-" in row["claimed_by"]
            # a redelivery at once: A's heartbeat is fresh, so it counts as still at work
            early = await http.post(
                f"{url_b}/webhook", json=command_update(41, "/whoami"), headers=hook
            )
            assert early.status_code == 200
            assert (await _claim(pg, 41)) == row
            # Telegram redelivers after its timeout: by then A's heartbeat is stale
            deadline = time.monotonic() + 30
            while await pg.fetchval(
                "SELECT count(*) FROM processes WHERE pid = $1 AND beat_ms >= $2",
                a.pid,
                int(time.time() * 1000) - CLAIM_ALIVE_MS,
            ):
                assert time.monotonic() < deadline, "web A's heartbeat did not go stale"
                await asyncio.sleep(0.2)
            late = await http.post(
                f"{url_b}/webhook", json=command_update(41, "/whoami"), headers=hook
            )
            assert late.status_code == 200
            await tg.wait_for(lambda: len(tg.to(ALICE)) >= 1, timeout=10)
            row = await _claim(pg, 41)
            assert row is not None and row["handled_ms"] is not None
            assert f"-{b.pid}-" in row["claimed_by"]
            # handled: every later delivery is dropped
            again = await http.post(
                f"{url_b}/webhook", json=command_update(41, "/whoami"), headers=hook
            )
            assert again.status_code == 200
            assert (await http.post(
                f"{url_b}/webhook", json=command_update(42, "/help"), headers=hook
            )).status_code == 200  # fmt: skip
            await tg.wait_for(lambda: len(tg.to(ALICE)) >= 2, timeout=10)
        texts = [m.text for m in tg.to(ALICE)]
        assert len(texts) == 2, texts  # /whoami once (the killed one), /help once
        assert "Your role" in texts[0]
        assert "Your role" not in texts[1]
    finally:
        await pg.close()
        if a.returncode is None:
            a.kill()
        b.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(b.wait(), 30) == 0
    logs = (tmp_path / "b.log").read_text()
    assert "update 41 was claimed by web-" in logs and "taken over" in logs
    assert "update 41 was delivered again; handled or in hand, dropped" in logs
