"""The load generator of the scale bench: users playing the bot through its webhook.

Each user is a sequential conversation (the next update only after the bot answered the last),
as a person types; many users play at once. An update is POSTed to one of the web processes
with the secret header; when the POST fails (the process died) it is delivered again to another
one after :data:`REDELIVER_AFTER` seconds, as Telegram redelivers an update its webhook did not
accept after its own timeout — the web processes' claims on ``update_id`` must make the bot
handle it once and not lose it (a redelivery sooner, while the killed process's heartbeat is
fresh, would be dropped as in hand: Telegram never redelivers that fast).
"""

from __future__ import annotations

import asyncio
import itertools
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.scale.botapi import BotApiRecorder, Call
from bot.storage.updates import CLAIM_ALIVE_MS

HEADER = "X-Telegram-Bot-Api-Secret-Token"
#: How long a user waits for the bot's answer before the run fails.
REPLY_TIMEOUT = 30.0
#: Seconds before a failed delivery is delivered again: once a killed claimer's heartbeat is
#: stale (Telegram waits longer still).
REDELIVER_AFTER = CLAIM_ALIVE_MS / 1000 + 1.0
#: Prefix of an alert notice (bot/render/alerts.py ``fired``): not an answer to an update.
ALERT_MARK = "🚨"


class NoReply(RuntimeError):
    """The bot did not answer an update in time."""


@dataclass
class Sent:
    """One update as the load generator delivered it."""

    update_id: int
    user: int
    kind: str  # "price" | "positions" | "alerts" | "preview" | "tap"
    at: float
    replied: float | None = None
    deliveries: int = 1
    query_id: str | None = None


@dataclass
class Webhooks:
    """The web processes' webhook URLs; updates go round-robin to the live ones."""

    urls: list[str]
    secret: str
    client: httpx.AsyncClient
    dead: set[str] = field(default_factory=set)
    _next: itertools.count[int] = field(default_factory=itertools.count)
    pinned: dict[int, str] = field(default_factory=dict)  # update_id → URL (fault injection)

    def pick(self, update_id: int) -> str:
        url = self.pinned.pop(update_id, None)
        if url is not None:
            return url
        live = [u for u in self.urls if u not in self.dead] or self.urls
        return live[next(self._next) % len(live)]

    async def deliver(self, update: dict[str, Any]) -> int:
        """POST until a web process accepts it (200); returns the number of deliveries."""
        tries = 0
        deadline = time.monotonic() + REPLY_TIMEOUT
        while True:
            url = self.pick(int(update["update_id"]))
            tries += 1
            try:
                r = await self.client.post(url, json=update, headers={HEADER: self.secret})
                if r.status_code == 200:
                    return tries
                problem = f"HTTP {r.status_code}: {r.text[:200]}"
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}"
            if time.monotonic() > deadline:
                raise NoReply(f"no web process accepted update {update['update_id']}: {problem}")
            await asyncio.sleep(REDELIVER_AFTER)  # as Telegram retries a failed webhook


def message(update_id: int, user: int, text: str) -> dict[str, Any]:
    command = text.split(maxsplit=1)[0]
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": int(time.time()),
            "chat": {"id": user, "type": "private", "first_name": f"U{user}"},
            "from": {"id": user, "is_bot": False, "first_name": f"U{user}"},
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(command)}],
        },
    }


def callback(update_id: int, user: int, preview: Call, data: str) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "callback_query": {
            "id": f"q{update_id}",
            "chat_instance": str(user),
            "from": {"id": user, "is_bot": False, "first_name": f"U{user}"},
            "data": data,
            "message": {
                "message_id": preview.message_id or 0,
                "date": int(time.time()),
                "chat": {"id": user, "type": "private", "first_name": f"U{user}"},
                "from": {"id": 7000002, "is_bot": True, "first_name": "Scale bot"},
                "text": preview.text,
            },
        },
    }


def button(call: Call, label: str) -> str:
    rows = (call.params.get("reply_markup") or {}).get("inline_keyboard", [])
    for row in rows:
        for b in row:
            if label in b.get("text", ""):
                return str(b["callback_data"])
    raise NoReply(f"no {label!r} button under {call.text[:120]!r}")


def is_answer(call: Call) -> bool:
    """A message or edit in a user's chat that answers them (not an alert notice)."""
    return call.method in ("sendmessage", "editmessagetext") and not call.text.startswith(
        ALERT_MARK
    )


@dataclass
class Player:
    """Plays users through the webhook and keeps a record of every update."""

    api: BotApiRecorder
    hooks: Webhooks
    sent: list[Sent] = field(default_factory=list)
    taps: list[Sent] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    #: Called with the tap's update before it is delivered (fault injection pins and kills).
    before_tap: Callable[[int, int], None] | None = None

    async def say(self, user: int, text: str, kind: str) -> Call | None:
        """``user`` sends ``text``; the bot's answer, or None when none came in time (the
        checks count it as unanswered)."""
        update_id = next(self._ids)
        s = Sent(update_id, user, kind, time.monotonic())
        self.sent.append(s)
        reply = self.api.wait(user, lambda c: is_answer(c) and c.at >= s.at)
        try:
            s.deliveries = await self.hooks.deliver(message(update_id, user, text))
            got = await asyncio.wait_for(reply, REPLY_TIMEOUT)
        except TimeoutError:
            return None
        finally:
            self.api.forget(user, reply)
        s.replied = got.at
        return got

    async def tap(self, user: int, preview: Call, label: str) -> Call | None:
        update_id = next(self._ids)
        s = Sent(update_id, user, "tap", time.monotonic(), query_id=f"q{update_id}")
        self.sent.append(s)
        self.taps.append(s)
        answer = self.api.wait_answer(s.query_id or "")
        data = button(preview, label)
        if self.before_tap is not None:
            self.before_tap(update_id, user)
        try:
            s.deliveries = await self.hooks.deliver(callback(update_id, user, preview, data))
            got = await asyncio.wait_for(answer, REPLY_TIMEOUT)
        except TimeoutError:
            return None  # told later (recovery) or never: the checks count it
        s.replied = got.at
        return got

    async def session(self, user: int, symbol: str, trade: bool) -> None:
        """One user's visit: price, positions, alerts, and (``trade``) a buy and its ✅."""
        for text, kind in ((f"/price {symbol}", "price"), ("/positions", "positions")):
            if await self.say(user, text, kind) is None:
                return
        if await self.say(user, "/alerts", "alerts") is None:
            return
        if trade:
            preview = await self.say(user, f"/buy {symbol} 0.001", "preview")
            if preview is not None:
                await self.tap(user, preview, "Confirm")

    async def play(
        self,
        users: Sequence[int],
        symbol: str,
        *,
        seconds: float,
        concurrency: int,
        traders: set[int],
    ) -> float:
        """Users in turn, ``concurrency`` at a time, until ``seconds`` passed or every user had
        a session; the seconds it took."""
        queue = iter(users)
        t0 = time.monotonic()

        async def lane() -> None:
            for user in queue:
                if time.monotonic() - t0 > seconds:
                    return
                await self.session(user, symbol, user in traders)

        await asyncio.gather(*(lane() for _ in range(concurrency)))
        return time.monotonic() - t0


def percentiles(values: list[float]) -> tuple[float, float]:
    """p50 and p95 in milliseconds (of values in seconds)."""
    if not values:
        return float("nan"), float("nan")
    if len(values) == 1:
        return values[0] * 1000, values[0] * 1000
    q = statistics.quantiles(values, n=20, method="inclusive")
    return statistics.median(values) * 1000, q[18] * 1000
