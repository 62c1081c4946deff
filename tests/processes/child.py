"""A process that takes part in the coordination tests, run as
``python -m tests.processes.child leader|desk|leases URL ARG…``; it says what it holds on stdout,
a line each, and then holds on until it is killed.

- ``leader URL NAME``: ``standby`` once another leads, ``leading <unix time>`` when it leads.
- ``desk URL DESK``: ``held`` once it holds the desk's lock.
- ``leases URL DESK…``: ``id <process id>``, then ``gained DESK <unix time>`` / ``lost DESK
  <unix time>`` as its
  :class:`~bot.processes.coord.StreamLeases` loop (ttl 2 s, renew 0.5 s) takes and drops them.
"""

from __future__ import annotations

import asyncio
import sys
import time

from bot.clock import SystemClock
from bot.processes.coord import DeskLocks, Leader, ProcessRecord
from bot.processes.leases import StreamLeases
from bot.storage.db import Database


def say(line: str) -> None:
    print(line, flush=True)


async def leader(url: str, name: str) -> None:
    lead = Leader(url, name, poll=0.5)

    async def standby() -> None:
        await lead.standby.wait()
        say("standby")

    told = asyncio.create_task(standby())
    await lead.wait()
    told.cancel()
    say(f"leading {time.time()}")
    await asyncio.Event().wait()


async def desk(url: str, desk_id: str) -> None:
    db = Database(url)
    async with DeskLocks.of(db).hold(desk_id):  # its engine ends with the process
        say("held")
        await asyncio.Event().wait()


async def leases(url: str, desks: list[str]) -> None:
    db = Database(url)
    clock = SystemClock()
    me = ProcessRecord(db, "worker", clock)
    await me.start()
    say(f"id {me.id}")

    async def want() -> set[str]:
        return set(desks)

    async def gained(desk_id: str) -> None:
        say(f"gained {desk_id} {time.time()}")

    async def lost(desk_id: str) -> None:
        say(f"lost {desk_id} {time.time()}")

    await StreamLeases(db, me.id, clock, ttl=2.0, renew=0.5).run(want, gained, lost)


def main() -> None:
    kind, url, *rest = sys.argv[1:]
    if kind == "leader":
        asyncio.run(leader(url, rest[0]))
    elif kind == "desk":
        asyncio.run(desk(url, rest[0]))
    else:
        asyncio.run(leases(url, rest))


if __name__ == "__main__":
    main()
