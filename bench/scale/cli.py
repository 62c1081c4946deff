"""Load and faults on the bot's process set (issue 22): ``python -m bench.scale``.

For each user count: PostgreSQL (Debian's, in a temporary directory), the simulator process,
the bot's processes (:mod:`bench.scale.run`), desks, members and price alerts seeded through the
product's storage APIs; then users play through the webhook (``/price``, ``/positions``,
``/alerts``, a ``/buy`` preview and its ✅) while a price walk crosses every alert and processes
are SIGKILLed (:mod:`bench.scale.faults`). Checked and printed, as one markdown table with a
column per user count:

* orders: fills on the exchange (``/_sim/state``) = filled journal rows = fills the users were
  told (zero lost or doubled);
* every update answered once (answers counted at the recording Bot API), every alert crossing
  told once, Telegram's limits at the Bot API (busiest second, shortest private-chat gap, most
  per group per minute);
* takeover after each kill, p50/p95 update → answer and tick → alert sent, peak RSS per
  process, updates/s with one web process and with two.

Options: ``--users 1000,3000`` (one column each), ``--desks`` (default users / 10),
``--alerts`` (default = users), ``--seconds`` of play (default 30), ``--concurrency``
conversations at a time. Any process of the set dying on its own fails the run with its output.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from collections.abc import Sequence
from typing import Any

from bench.scale.checks import Figures, check_run
from bench.scale.faults import Faults
from bench.scale.load import Player, Webhooks
from bench.scale.procs import ProcessDied
from bench.scale.run import SYMBOL, Options, Stack
from bench.scale.table import table
from bench.scale.walk import walk

DEFAULT_USERS = (1000,)


def parse(argv: Sequence[str] | None = None) -> tuple[list[int], argparse.Namespace]:
    p = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n")[0])
    p.add_argument("--users", default=",".join(map(str, DEFAULT_USERS)), help="N[,N…]")
    p.add_argument("--desks", type=int, default=0, help="default: users / 10")
    p.add_argument("--alerts", type=int, default=0, help="default: one per user")
    p.add_argument("--seconds", type=float, default=30.0, help="seconds of play per count")
    p.add_argument("--concurrency", type=int, default=16, help="conversations at a time")
    p.add_argument("--webs", type=int, default=2, help="web processes (2 or 3)")
    p.add_argument("--no-faults", action="store_true", help="play without killing anything")
    p.add_argument("--no-throughput", action="store_true", help="skip the 1-web/2-web measure")
    p.add_argument(
        "--single", action="store_true", help="the single process `python -m bot` (webhook)"
    )
    args = p.parse_args(argv)
    users = [int(u.replace("_", "")) for u in str(args.users).split(",") if u.strip()]
    return users, args


async def run_one(n: int, args: argparse.Namespace) -> Figures:
    options = Options(
        users=n,
        desks=args.desks or max(1, n // 10),
        alerts=args.alerts or n,
        seconds=args.seconds,
        concurrency=args.concurrency,
        webs=args.webs,
        single=args.single,
    )
    print(f"-- {n} users, {options.desks} desks, {options.alerts} alerts", flush=True)
    async with Stack(options) as stack:
        assert stack.api is not None and stack.seeded is not None and stack.procs is not None
        figures = Figures(users=n, set_mode=stack.set_mode)
        hooks = Webhooks(list(stack.webhooks), stack.secret, stack.http)
        player = Player(stack.api, hooks)
        faults = Faults(stack, hooks, player, figures, enabled=not args.no_faults)
        if stack.set_mode and not args.no_throughput:
            await faults.throughput(figures)
        stack.procs.check()
        traders = set(stack.seeded.owners)  # a trade per desk, by its owner
        since = time.monotonic()
        users = stack.seeded.users
        random.Random(n).shuffle(users)  # owners (who trade) spread over the run
        work = asyncio.gather(
            player.play(
                users,
                SYMBOL,
                seconds=options.seconds,
                concurrency=options.concurrency,
                traders=traders,
            ),
            walk(stack, options.seconds / 2),
            faults.run(options.seconds),
        )
        watch = asyncio.create_task(faults.watch())
        try:
            waiting: set[asyncio.Future[Any]] = {work, watch}
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if watch.done():
                watch.result()  # a process died on its own: ProcessDied with its output
            figures.play_seconds, figures.walk, _ = work.result()
        finally:
            watch.cancel()
            work.cancel()
            await asyncio.gather(work, watch, return_exceptions=True)
        stack.procs.check()
        await check_run(stack, player, figures, since)
        return figures


async def main_async(argv: Sequence[str] | None = None) -> int:
    counts, args = parse(argv)
    results: list[Figures] = []
    for n in counts:
        try:
            results.append(await run_one(n, args))
            if len(counts) > 1:  # a long table: each column as soon as it is measured
                print(table(results[-1:]), flush=True)
        except ProcessDied as exc:
            print(f"scale run with {n} users failed: {exc}", file=sys.stderr, flush=True)
            return 1
    print(table(results), flush=True)
    return 0 if all(f.ok for f in results) else 1


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(main_async(argv if argv is not None else sys.argv[1:]))
