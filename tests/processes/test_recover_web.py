"""A ``python -m bot web`` SIGKILLed with a ✅'s order in flight (the exchange answered, the
journal row still ``sending``, the confirmation ``executing``): a ``python -m bot worker``'s
``recover`` task settles the row within seconds, the exchange shows the order once, the user is
told once what happened, and the next ✅ on the desk goes through.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.render.recovery import HEAD
from bot.render.trading import CONFIRM_PREFIX
from bot.storage.db import Database
from tests.bot.conftest import ALICE
from tests.conftest import Control
from tests.fakes.telegram import FakeTelegram, Sent
from tests.processes.test_web import HEADER, SECRET, set_env, start_web
from tests.processes.workers import WorkerProc, rows, until
from tests.simproc import SimProcess, start_sim

#: How long the worker may take to settle the dead web process's order (the task runs every 5 s).
SETTLE_WITHIN = 10.0


@pytest.fixture
async def sim() -> AsyncIterator[SimProcess]:
    process = await start_sim(7)
    yield process
    await process.stop()


class Hook:
    """Updates posted to one web process, as Telegram's webhook would."""

    def __init__(self, http: httpx.AsyncClient, url: str) -> None:
        self.http, self.url, self.next_id = http, url, 100

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id

    async def post(self, update: dict[str, Any]) -> int:
        r = await self.http.post(f"{self.url}/webhook", json=update, headers={HEADER: SECRET})
        return r.status_code

    async def say(self, text: str) -> int:
        n = self._id()
        command = text.split(maxsplit=1)[0]
        return await self.post(
            {
                "update_id": n,
                "message": {
                    "message_id": n,
                    "date": int(time.time()),
                    "chat": {"id": ALICE, "type": "private", "first_name": "Alice"},
                    "from": {"id": ALICE, "is_bot": False, "first_name": "Alice"},
                    "text": text,
                    "entities": [{"type": "bot_command", "offset": 0, "length": len(command)}],
                },
            }
        )

    def tap_update(self, tg: FakeTelegram, message: Sent, data: str) -> dict[str, Any]:
        n = self._id()
        stored = tg.server.store.messages[message.message_id]
        return {
            "update_id": n,
            "callback_query": {
                "id": f"q{n}",
                "from": {"id": ALICE, "is_bot": False, "first_name": "Alice"},
                "chat_instance": str(ALICE),
                "data": data,
                "message": stored.wire(),
            },
        }


async def _preview(tg: FakeTelegram, hook: Hook, seen: int) -> Sent:
    assert await hook.say("/buy BTC 0.01") == 200
    found: Sent = await tg.wait_for(
        lambda: next((m for m in tg.to(ALICE)[seen:] if m.buttons), None), timeout=20
    )
    return found


async def _journal(db: Database, token: str) -> list[tuple[str, int]]:
    found = await rows(
        db, "SELECT status, client_id FROM order_journal WHERE token = :t ORDER BY leg", t=token
    )
    return [(str(r[0]), int(r[1])) for r in found]


async def _confirmation(db: Database, token: str) -> str:
    [(status,)] = await rows(db, "SELECT status FROM trade_confirmations WHERE token = :t", t=token)
    return str(status)


#: crash point → (the row's settled status, the short message's word, orders at the exchange):
#: killed once the exchange had filled the order, or once the tap was claimed (journaled) and
#: before anything was sent.
CASES = {
    "answered": ("filled", "filled", 1),
    "claimed": ("not_placed", "not placed", 0),
}


@pytest.mark.timeout(180)
@pytest.mark.parametrize(
    # the claimed variant is a long one (`pytest -m crash`); make test keeps the filled order
    "point",
    [pytest.param(p, marks=pytest.mark.crash) if p == "claimed" else p for p in sorted(CASES)],
)
async def test_a_web_process_killed_mid_order_is_settled_by_a_worker(
    tg: FakeTelegram, sim: SimProcess, pg_url: str, tmp_path: Path, point: str
) -> None:
    status, word, sent = CASES[point]
    db = Database(pg_url)
    await db.start()  # migrated here, once
    control = Control(sim)
    env = set_env(tg, sim, pg_url, tmp_path / "data") | {"LOG_LEVEL": "INFO"}
    worker = WorkerProc(env, tmp_path / "worker.log")
    web, url = await start_web(env | {"BOT_CRASH_AT": point}, tmp_path / "web.log")
    heir: asyncio.subprocess.Process | None = None
    try:
        await worker.start()
        async with httpx.AsyncClient(timeout=30) as http:
            hook = Hook(http, url)
            preview = await _preview(tg, hook, 0)
            data = preview.button("Confirm")
            token = data.removeprefix(CONFIRM_PREFIX)
            # It dies handling the tap, the outcome not recorded.
            with pytest.raises(httpx.TransportError):
                await hook.post(hook.tap_update(tg, preview, data))
            assert await asyncio.wait_for(web.wait(), 10) == -9
            killed = time.monotonic()
            assert await _confirmation(db, token) == "executing"
            [(leg, cid)] = await _journal(db, token)
            assert leg == "sending"

            async def settled() -> bool:
                return [r[0] for r in await _journal(db, token)] == [status]

            await until(settled, SETTLE_WITHIN, f"the row settled\n{worker.tail()}")
            print(f"settled {time.monotonic() - killed:.1f} s after the kill")
            assert await _confirmation(db, token) == "done"
            fills = (await control.state())["accounts"][env["BACKPACK_API_KEY"]]["fills"]
            assert [str(f["clientId"]) for f in fills] == [str(cid)] * sent  # never re-sent

            def told() -> list[Sent]:
                return [m for m in tg.to(ALICE) if m.text.startswith(HEAD)]

            await tg.wait_for(lambda: told() and tg.find(preview.message_id).edits, timeout=10)
            [short] = told()
            assert "BUY 0.01 BTC" in short.text and word in short.text
            edited = tg.find(preview.message_id)
            assert word in edited.text.lower() and not edited.buttons  # no ✅ stays live

            # Told once: two more periods of `recover` say nothing more.
            async def two_more() -> bool:
                done = await rows(
                    db,
                    "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'recover' "
                    "AND status = 'succeeded' AND id > :after",
                    after=last,
                )
                return int(done[0][0]) >= 2

            [(last,)] = await rows(db, "SELECT coalesce(max(id), 0) FROM procrastinate_jobs")
            await until(two_more, 20, "two more periods of `recover`")
            assert len(told()) == 1
            assert tg.find(preview.message_id).edits == 1

            # The next ✅ on the desk goes through (a web process started afresh).
            heir, url2 = await start_web(env, tmp_path / "web2.log")
            hook2 = Hook(http, url2)
            hook2.next_id = hook.next_id
            again = await _preview(tg, hook2, len(tg.to(ALICE)))
            data2 = again.button("Confirm")
            assert await hook2.post(hook2.tap_update(tg, again, data2)) == 200
            assert [r[0] for r in await _journal(db, data2.removeprefix(CONFIRM_PREFIX))] == [
                "filled"
            ]
            fills = (await control.state())["accounts"][env["BACKPACK_API_KEY"]]["fills"]
            assert len(fills) == sent + 1
    finally:
        if web.returncode is None:
            web.kill()
            await web.wait()
        if heir is not None and heir.returncode is None:
            heir.terminate()
            await heir.wait()
        await worker.stop()
        await control.close()
        await db.close()
