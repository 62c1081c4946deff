"""Several outbox senders — tasks with their own engines, and real OS processes — drain one
table within Telegram's limits for the whole bot, measured where the messages arrive (a Bot API
over HTTP): never more than 30 in any second, a private chat's messages at least a second
apart, a group's at least 3 s apart (so at most 20 a minute); every note once, each chat in
order; a ``retry_after`` pauses its chat (or everything), nothing is dropped; a sender killed
with a chat claimed leaves it to another.

Default limits throughout (Telegram's own numbers).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal

import pytest

from bot.services.notices.limits import is_group
from bot.services.notices.outbox import Note
from tests.services.notices.botapi import BotApi, min_gap, most_in_window
from tests.services.notices.tablekit import reap, senders, spawn, table

SLACK = 0.005  # arrival clocks and the database's milliseconds


async def _noted(_rest: str, _message_id: int) -> None:
    return None


HOOKS = {"n": _noted}


def _note(i: int, chat: int, *, alone: bool) -> Note:
    """Note ``n<i>``; ``alone`` ones (a hook) never merge with their neighbours."""
    user = None if is_group(chat) else chat
    return Note(chat, user, f"n{i:03d}", hook=f"n:{i}" if alone else None)


async def _write(url: str, plan: list[tuple[int, int, bool]], per_batch: int = 20) -> None:
    """Queue the plan's notes as producers would: a batch every 20 ms."""
    async with table(url) as outbox:
        for start in range(0, len(plan), per_batch):
            for i, chat, alone in plan[start : start + per_batch]:
                outbox.send(_note(i, chat, alone=alone))
            await asyncio.sleep(0.02)


def _check(api: BotApi, plan: list[tuple[int, int, bool]]) -> dict[str, float]:
    """Every note once, in order per chat, and no limit exceeded; the figures."""
    chats = sorted({c for _, c, _ in plan})
    for chat in chats:
        got = [n for text in api.texts(chat) for n in re.findall(r"n\d{3}", text)]
        assert got == [f"n{i:03d}" for i, c, _ in plan if c == chat], chat
    private = [c for c in chats if not is_group(c)]
    groups = [c for c in chats if is_group(c)]
    overall = most_in_window(api.times(), 1.0, SLACK)
    assert overall <= 30
    assert min(min_gap(api.times(c)) for c in private) >= 1.0 - SLACK
    if groups:
        assert min(min_gap(api.times(c)) for c in groups) >= 3.0 - SLACK
        assert max(most_in_window(api.times(c), 60.0, SLACK) for c in groups) <= 20
    times = api.times()
    return {"overall": overall, "messages": len(times), "seconds": max(times) - min(times)}


async def test_three_senders_300_notes_10_private_chats_3_groups(db_url: str, api: BotApi) -> None:
    private = list(range(1001, 1011))
    groups = [-2001, -2002, -2003]
    plan = []
    for i in range(300):
        if i % 10 == 9:
            plan.append((i, groups[i // 10 % 3], False))  # group notes merge
        else:
            plan.append((i, private[(i * 7) % 10], i % 8 == 0))
    async with senders(db_url, api.url, 3, hooks=HOOKS):
        await _write(db_url, plan)
        async with table(db_url) as outbox:
            await outbox.drain()
    figures = _check(api, plan)
    print(f"\n3 senders, 13 chats: {figures}")


async def test_three_senders_keep_30_a_second_over_100_chats(db_url: str, api: BotApi) -> None:
    plan = [(i, 3001 + i % 100, True) for i in range(300)]  # no merging: 300 messages
    async with senders(db_url, api.url, 3, hooks=HOOKS):
        await _write(db_url, plan, per_batch=300)
        async with table(db_url) as outbox:
            await outbox.drain()
    figures = _check(api, plan)
    assert figures["messages"] == 300
    print(f"\n3 senders, 100 chats: {figures}")


@pytest.mark.crash  # a long variant: the three in-process senders above keep the limits too
async def test_two_sender_processes_share_the_limits(db_url: str, api: BotApi) -> None:
    chats = [*range(4001, 4061), -5001, -5002, -5003]
    plan = [(i, chats[i % len(chats)], True) for i in range(300)]
    procs = [await spawn(db_url, api.url) for _ in range(2)]
    try:
        await _write(db_url, plan, per_batch=50)
        async with table(db_url) as outbox:
            await outbox.drain()
    finally:
        for p in procs:
            await reap(p)
    figures = _check(api, plan)
    print(f"\n2 sender processes, 63 chats: {figures}")


async def test_retry_after_pauses_only_its_chat(db_url: str, api: BotApi) -> None:
    chats = [6001, 6002, 6003, 6004]
    plan = [(i, chats[i % 4], True) for i in range(16)]
    api.refuse[6001] = [2.0]
    async with senders(db_url, api.url, 3, hooks=HOOKS):
        await _write(db_url, plan, per_batch=16)
        async with table(db_url) as outbox:
            await outbox.drain()
    _check(api, plan)
    [(refused_at, _)] = api.refused
    assert api.times(6001)[0] - refused_at >= 2.0 - SLACK
    others = [t for c in chats[1:] for t in api.times(c) if refused_at < t < refused_at + 2.0]
    assert others  # the other chats went on meanwhile


async def test_a_second_chat_refused_pauses_everything(db_url: str, api: BotApi) -> None:
    chats = [7001, 7002, 7003, 7004, 7005]
    plan = [(i, chats[i % 5], True) for i in range(15)]
    api.refuse[7001] = [2.0]
    api.refuse[7002] = [2.0]
    async with senders(db_url, api.url, 1, hooks=HOOKS):
        await _write(db_url, plan, per_batch=15)
        async with table(db_url) as outbox:
            await outbox.drain()
    _check(api, plan)
    second = max(t for t, _ in api.refused)
    # What had already left when the second refusal came may still arrive; then nothing
    # until Telegram's pause is over.
    late = [t for t in api.times() if second + 0.3 < t < second + 2.0 - SLACK]
    assert late == []
    assert len(api.times()) == 15


async def test_a_sender_killed_with_a_chat_claimed_leaves_it_to_another(
    db_url: str, api: BotApi
) -> None:
    plan = [(i, 8001 if i < 3 else 8002, True) for i in range(6)]
    api.hold.add(8001)  # its first message stays on its way until released
    proc = await spawn(db_url, api.url)
    try:
        await _write(db_url, plan, per_batch=6)
        await api.wait_for(lambda: api.held == [8001])
        async with senders(db_url, api.url, 1, hooks=HOOKS):
            # The killed sender's chat is locked: the other sender sends only 8002 meanwhile.
            await api.wait_for(lambda: len(api.texts(8002)) == 3)
            assert api.texts(8001) == []
            async with table(db_url) as outbox, asyncio.timeout(10):
                await outbox.count()
                while outbox.backlog != 3:  # 8002's sends recorded: only 8001's rows unsent
                    await asyncio.sleep(0.02)
                    await outbox.count()
            loop = asyncio.get_running_loop()
            killed_at = loop.time()
            os.kill(proc.pid, signal.SIGKILL)
            await proc.wait()
            await api.wait_for(lambda: len(api.texts(8001)) == 3)
            took = api.times(8001)[0] - killed_at
            api.release()  # the dead sender's request: never handled
    finally:
        await reap(proc)
    _check(api, plan)
    assert took < 2.0
    print(f"\nkilled sender's chat taken over in {took:.2f}s")
