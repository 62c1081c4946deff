"""Desks at scale: a thousand connected paper desks in one bot process (issue 21).

The bot is the product's own: :func:`bot.app.build_application` with ``SIGNUP=open`` and paper
trading on the in-process engine (``EXCHANGE=sim``), polling the embedded Bot API
(:class:`bot.localchat.server.LocalChatServer`) over HTTP in this process. Every desk is opened
the way a user opens one — their own ``/start`` — and then given a position (``/buy BTC 0.001``
and ✅), two alerts and its strategy switched on (``/strategy approve``), all typed in the chat.

Measured, each against a figure from the same run:

* RSS per desk: (RSS with ``N`` such desks built − RSS with the operator's desk only) / ``N``;
  and for ``N`` more desks that are idle and flat (``/start`` only), RSS per desk before and
  after :func:`jobs.desks.evict`'s rule closed them (the desks with a position stay: counted).
* tap → order acknowledged (the user taps ✅ under a preview; the clock stops when the bot
  answers the callback query, after the fill) p50/p95 on the operator's desk with ``N`` desks
  loaded, against the same with the operator's desk alone (target: within 1.2×); and a tap on
  ``N``-desk bot's other desks.
* one strategy cycle over every desk (:func:`jobs.strategy.run_all`) against the cycle
  interval (``STRATEGY_INTERVAL_SECONDS``' default; the bench's own bot runs it only when asked);
  one round of the account watchers (funding and liquidation, every built desk) against theirs.

Run: ``python -m bench.desks --desks 100`` (``BENCH_DESKS`` also sets it; default 1,000;
``--concurrency`` conversations at a time, default 4), or
``python -m bench desks --desks 100``, or ``python -m bench`` for every benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot.app import build_application, start_polling, stop_polling
from bot.desks.factory import DeskFactory
from bot.desks.model import OPERATOR
from bot.localchat.messages import StoredMessage
from bot.localchat.server import BOT_ID, LocalChatServer
from bot.localchat.store import Event
from bot.settings import Settings
from jobs import desks as desk_jobs
from jobs import strategy as strategy_jobs

DESKS = 1000
ROUNDS = 40
WARMUP = 5
#: Users being set up at the same time (each one's conversation is sequential).
CONCURRENCY = 4
OPERATOR_USER = 1001
FIRST_USER = 2_000_000
FLAT_USER = 3_000_000
TARGET_RATIO = 1.2
WAIT = 60.0


def rss_mb() -> float:
    """This process's resident set (the bot, its paper engine and the embedded Bot API)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@dataclass
class _Waiter:
    chat_id: int
    contains: str
    future: asyncio.Future[StoredMessage]


@dataclass
class Chat:
    """Users typing and tapping in the embedded Bot API's chats; the bot's replies found by
    listening to the chat store's events (nothing is polled)."""

    server: LocalChatServer
    waiters: list[_Waiter] = field(default_factory=list)
    answers: dict[str, asyncio.Future[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.server.store.subscribe(self._on_event)

    def _on_event(self, event: Event) -> None:
        m = event.message
        if event.kind == "message" and m is not None and m.from_bot:
            for w in list(self.waiters):
                if w.chat_id == m.chat_id and w.contains in m.source and not w.future.done():
                    w.future.set_result(m)
                    self.waiters.remove(w)
                    break
        elif event.kind == "answer":
            found = self.answers.pop(str(event.data["callback_query_id"]), None)
            if found is not None and not found.done():
                found.set_result(str(event.data["text"]))

    async def ask(self, user: int, text: str, contains: str = "") -> StoredMessage:
        """``user`` sends ``text``; the bot's first new message to them containing ``contains``."""
        future: asyncio.Future[StoredMessage] = asyncio.get_running_loop().create_future()
        waiter = _Waiter(user, contains, future)
        self.waiters.append(waiter)
        self.server.store.user_message(user, text)
        try:
            return await asyncio.wait_for(future, WAIT)
        except TimeoutError:
            raise RuntimeError(f"no reply with {contains!r} to {text!r} from user {user}") from None
        finally:
            if waiter in self.waiters:
                self.waiters.remove(waiter)

    async def tap(self, user: int, message: StoredMessage, label: str) -> str:
        """``user`` presses the button labelled ``label``; the text the bot answered with."""
        rows = (message.reply_markup or {}).get("inline_keyboard", [])
        data = next(b["callback_data"] for row in rows for b in row if label in b["text"])
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        query = self.server.store.tap(user, message.chat_id, message.message_id, data)
        self.answers[query] = future
        return await asyncio.wait_for(future, WAIT)


async def trade(chat: Chat, user: int, side: str) -> float:
    """One ``/buy|/sell BTC 0.001`` preview and its ✅: milliseconds from the tap to the
    callback query's answer (the order filled)."""
    preview = await chat.ask(user, f"/{side} BTC 0.001", "until you tap")
    t0 = time.perf_counter()
    answer = await chat.tap(user, preview, "Confirm")
    elapsed = (time.perf_counter() - t0) * 1000
    if "Filled" not in answer:
        raise RuntimeError(f"the order of user {user} was not filled: {answer!r}")
    return elapsed


async def taps(chat: Chat, users: Callable[[int], int], rounds: int) -> tuple[float, float]:
    """p50 and p95 (ms) of ``rounds`` taps (after a warm-up), alternating buy and sell."""
    out = []
    for i in range(WARMUP + rounds):
        ms = await trade(chat, users(i), "buy" if i % 2 == 0 else "sell")
        if i >= WARMUP:
            out.append(ms)
    return statistics.median(out), statistics.quantiles(out, n=20)[18]


async def open_desk(chat: Chat, user: int, full: bool) -> None:
    """``user``'s own ``/start`` opens their paper desk; ``full``: a position, two alerts and
    the strategy on (approve)."""
    await chat.ask(user, "/start", "is open, on paper")
    if not full:
        return
    await trade(chat, user, "buy")
    await chat.ask(user, "/alert BTC > 10000000", "BTC")
    await chat.ask(user, "/alert BTC < 1", "BTC")
    await chat.ask(user, "/strategy approve", "")


async def open_desks(
    chat: Chat, users: list[int], full: bool, concurrency: int = CONCURRENCY
) -> float:
    """Open every user's desk, ``concurrency`` conversations at a time; seconds taken."""
    gate = asyncio.Semaphore(concurrency)

    async def one(user: int) -> None:
        async with gate:
            await open_desk(chat, user, full)

    t0 = time.perf_counter()
    await asyncio.gather(*(one(u) for u in users))
    return time.perf_counter() - t0


def settle() -> float:
    gc.collect()
    return rss_mb()


async def watch_round(factory: DeskFactory) -> float:
    """One round of the account watchers (funding notices and liquidation distance, on one read
    of the positions) over every built desk, as ``watch-account`` runs it; seconds."""
    t0 = time.perf_counter()
    for services in factory.loaded():
        await services.watchers.account_round()
    return time.perf_counter() - t0


async def measure(n: int, rounds: int = ROUNDS, concurrency: int = CONCURRENCY) -> dict[str, float]:
    out: dict[str, float] = {"desks": n}
    token = f"{BOT_ID}:{secrets.token_urlsafe(24)}"
    with tempfile.TemporaryDirectory() as tmp:
        server = LocalChatServer(token, max_poll_seconds=1.0)
        server.store.keep_messages = 200  # the chat's history is the harness's, not the bot's
        await server.start()
        chat = Chat(server)
        settings = Settings(
            _env_file=None,
            telegram_bot_token=token,
            telegram_api_url=server.api_url,
            telegram_allowed_users=[OPERATOR_USER],
            trading_mode="paper",
            exchange="sim",
            database_url=f"sqlite+aiosqlite:///{Path(tmp) / 'bot.db'}",
            data_dir=Path(tmp) / "data",
            signup="open",
            max_desks=2 * n + 10,
            # Cycles run when this benchmark asks (below), not on the clock in the middle of it.
            strategy_interval_seconds=86_400,
        )
        settings.check()
        app = build_application(settings)
        await start_polling(app, poll_timeout=1)
        try:
            factory: DeskFactory = app.bot_data.factory
            operator = lambda _i: OPERATOR_USER  # noqa: E731
            await chat.ask(OPERATOR_USER, "/start", "")
            out["rss_operator"] = settle()
            out["fds_operator"] = open_fds()
            out["tap1_p50"], out["tap1_p95"] = await taps(chat, operator, rounds)

            users = [FIRST_USER + i for i in range(n)]
            out["open_s"] = await open_desks(chat, users, True, concurrency)
            out["rss_full"] = settle()
            out["fds_full"] = open_fds()
            out["loaded_full"] = len(factory.loaded())
            out["tapN_p50"], out["tapN_p95"] = await taps(chat, operator, rounds)
            out["tapNd_p50"], out["tapNd_p95"] = await taps(
                chat, lambda i: users[(i * 7919) % n], rounds
            )

            t0 = time.perf_counter()
            out["cycled"] = await strategy_jobs.run_all(factory)
            out["cycle_s"] = time.perf_counter() - t0
            out["watch_s"] = await watch_round(factory)
            t0 = time.perf_counter()
            out["evicted_full"] = await factory.evict_idle(0, desk_jobs.busy)
            out["evict_full_s"] = time.perf_counter() - t0

            flat = [FLAT_USER + i for i in range(n)]
            out["rss_before_flat"] = settle()
            out["open_flat_s"] = await open_desks(chat, flat, False, concurrency)
            out["rss_flat"] = settle()
            out["fds_flat"] = open_fds()
            t0 = time.perf_counter()
            out["evicted_flat"] = await factory.evict_idle(0, desk_jobs.busy)
            await factory.reap(everything=True)  # the grace for requests on their way is over
            out["evict_flat_s"] = time.perf_counter() - t0
            out["rss_evicted"] = settle()
            out["fds_evicted"] = open_fds()
            out["loaded_end"] = len(factory.loaded())
            out["operator_built"] = float(factory.peek(OPERATOR) is not None)
        finally:
            await stop_polling(app)
            await server.stop()
    return out


def table(r: dict[str, float]) -> str:
    n = int(r["desks"])
    per_full = (r["rss_full"] - r["rss_operator"]) * 1024 / n
    per_flat = (r["rss_flat"] - r["rss_before_flat"]) * 1024 / n
    per_after = (r["rss_evicted"] - r["rss_before_flat"]) * 1024 / n
    interval = Settings.model_fields["strategy_interval_seconds"].default
    ratio = r["tapN_p50"] / r["tap1_p50"]
    ok = "ok" if ratio <= TARGET_RATIO else "MISSED"
    cycle_ok = "ok" if r["cycle_s"] < interval else "MISSED"
    watch_ok = "ok" if r["watch_s"] < 30 else "MISSED"
    rows = [
        (f"desks (bench/desks.py), N = {n}", "value", "baseline", "ratio", "target"),
        (
            "RSS per desk: position, 2 alerts, strategy (kB)",
            f"{per_full:.0f}",
            f"{r['rss_operator']:.0f} MB",
            "",
            "",
        ),
        (
            "RSS per idle flat desk, built (kB)",
            f"{per_flat:.0f}",
            f"{r['rss_before_flat']:.0f} MB",
            "",
            "",
        ),
        (
            f"RSS per idle flat desk, after evict ({r['evicted_flat']:.0f} closed) (kB)",
            f"{per_after:.0f}",
            "",
            "",
            "",
        ),
        (
            "open fds: operator / +N full / +N flat / evicted",
            f"{r['fds_full']:.0f}",
            f"{r['fds_operator']:.0f}",
            "",
            f"{r['fds_flat']:.0f} / {r['fds_evicted']:.0f}",
        ),
        (
            "tap → order acknowledged p50, operator (ms)",
            f"{r['tapN_p50']:.1f}",
            f"{r['tap1_p50']:.1f}",
            f"{ratio:.2f}",
            f"≤ {TARGET_RATIO}× {ok}",
        ),
        (
            "tap → order acknowledged p95, operator (ms)",
            f"{r['tapN_p95']:.1f}",
            f"{r['tap1_p95']:.1f}",
            f"{r['tapN_p95'] / r['tap1_p95']:.2f}",
            "",
        ),
        (
            "tap → order acknowledged p50 / p95, other desks (ms)",
            f"{r['tapNd_p50']:.1f}",
            f"{r['tap1_p50']:.1f}",
            f"{r['tapNd_p50'] / r['tap1_p50']:.2f}",
            f"p95 {r['tapNd_p95']:.1f}",
        ),
        (
            f"strategy cycle, {r['cycled']:.0f} desks (s)",
            f"{r['cycle_s']:.1f}",
            f"{interval} s",
            f"{r['cycle_s'] / interval:.2f}",
            f"< interval {cycle_ok}",
        ),
        (
            f"account watch round, {r['loaded_full']:.0f} desks (s)",
            f"{r['watch_s']:.1f}",
            "30 s",
            f"{r['watch_s'] / 30:.2f}",
            f"< interval {watch_ok}",
        ),
        (
            f"evict pass, {r['loaded_full']:.0f} busy desks ({r['evicted_full']:.0f} closed) (s)",
            f"{r['evict_full_s']:.1f}",
            "",
            "",
            "",
        ),
        (
            "opening N desks: full / flat (s)",
            f"{r['open_s']:.0f}",
            "",
            "",
            f"flat {r['open_flat_s']:.0f}",
        ),
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = [
        f"{a:<{widths[0]}}  {b:>{widths[1]}}  {c:>{widths[2]}}  {d:>{widths[3]}}  {e}"
        for a, b, c, d, e in rows
    ]
    lines.append(
        "baselines: the same process with the operator's desk only (RSS, fds, taps) / the "
        "strategy and watcher intervals"
    )
    return "\n".join(lines)


def _args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.desks")
    parser.add_argument(
        "--desks", type=int, default=int(os.environ.get("BENCH_DESKS", DESKS)), metavar="N"
    )
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument(
        "--concurrency", type=int, default=CONCURRENCY, help="conversations at the same time"
    )
    args, _ = parser.parse_known_args(argv)
    return args


def main(argv: list[str] | None = None) -> None:
    args = _args(sys.argv[1:] if argv is None else argv)
    if args.desks < 1 or args.rounds < 2 or args.concurrency < 1:
        raise SystemExit("--desks and --concurrency must be ≥ 1, --rounds ≥ 2")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    result = asyncio.run(measure(args.desks, args.rounds, args.concurrency))
    print(table(result), flush=True)


if __name__ == "__main__":
    main()
