"""The scale bench's checks, all from outside the bot: the exchange's state, the database's
rows and the calls recorded at the Bot API. A failed check is a line in ``problems``."""

from __future__ import annotations

import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from bench.scale.botapi import Limits
from bench.scale.load import ALERT_MARK, Player, is_answer, percentiles
from bench.scale.run import Stack
from bench.scale.walk import Step, crossing

#: Telegram's limits (https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this)
MAX_PER_SECOND = 30
MIN_PRIVATE_GAP = 1.0
MAX_GROUP_PER_MINUTE = 20
#: How long after the play the checks wait for late messages (alerts behind the rate limit):
#: this, plus twice what the due alerts take at Telegram's 30 messages/s.
DRAIN_TIMEOUT = 120.0
_ALERT = re.compile(r"rose above ([0-9][0-9,\u202f\u2009 .]*)")
#: Words of an answer that tells the user their order filled.
FILLED = ("Filled", "filled")


@dataclass
class Figures:
    """One column of the table."""

    users: int
    set_mode: bool
    play_seconds: float = 0.0
    walk: list[Step] = field(default_factory=list)
    updates: int = 0
    answered_once: int = 0
    #: Delivered again after its web process was killed, and answered by both: the killed one
    #: answered, then died before it marked the update handled (the one point the claim cannot
    #: close: Telegram's answer and our mark are not one transaction). Counted, not failed.
    answered_twice_after_kill: int = 0
    taps: int = 0
    orders_exchange: int = 0
    orders_journal: int = 0
    orders_told: int = 0
    alerts_due: int = 0
    alerts_once: int = 0
    alerts_lost: int = 0
    alerts_doubled: int = 0
    limits: Limits | None = None
    update_ms: tuple[float, float] = (float("nan"), float("nan"))
    alert_ms: tuple[float, float] = (float("nan"), float("nan"))
    rss: dict[str, float] = field(default_factory=dict)  # process name → peak MB
    ups: dict[int, float] = field(default_factory=dict)  # web processes → updates/s
    tap_answers: Counter[str] = field(default_factory=Counter)
    takeovers: list[tuple[str, str]] = field(default_factory=list)  # fault → outcome
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _threshold(text: str) -> Decimal | None:
    found = _ALERT.search(text)
    if found is None:
        return None
    digits = re.sub(r"[^0-9.]", "", found.group(1)).rstrip(".")
    return Decimal(digits) if digits else None


async def _drain(stack: Stack, figures: Figures, due: dict[tuple[int, Decimal], Step]) -> None:
    """Wait (polling the record, with a deadline) until every due alert was told."""
    assert stack.api is not None and stack.procs is not None
    limit = DRAIN_TIMEOUT + 2 * len(due) / MAX_PER_SECOND
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        told = {
            (c.chat_id, _threshold(c.text))
            for c in stack.api.messages()
            if c.text.startswith(ALERT_MARK)
        }
        if all(k in told for k in due):
            return
        stack.procs.check()
        await _pause()
    figures.problems.append(f"alerts still untold {limit:.0f} s after the walk")


async def _pause() -> None:
    import asyncio

    await asyncio.sleep(0.5)


async def check_run(stack: Stack, player: Player, figures: Figures, since: float) -> None:
    assert stack.api is not None and stack.seeded is not None
    api = stack.api
    due = {  # what the alert notice says, read back: money.number trims zeros, = same value
        (a.user_id, a.threshold): step
        for a in stack.seeded.alerts
        if (step := crossing(figures.walk, a.threshold)) is not None
    }
    await _drain(stack, figures, due)

    # every update answered once
    sent = sorted(player.sent, key=lambda s: s.at)
    figures.updates = len(sent)
    nxt: dict[int, float] = {}
    windows: list[tuple[int, float, float, str, str | None, int]] = []
    for s in reversed(sent):
        end = nxt.get(s.user, float("inf"))
        windows.append((s.user, s.at, end, s.kind, s.query_id, s.deliveries))
        nxt[s.user] = s.at
    for user, start, end, kind, query, deliveries in windows:
        if kind == "tap":
            n = len(api.answers.get(query or "", []))
        else:
            n = sum(1 for c in api.by_chat.get(user, []) if start <= c.at < end and is_answer(c))
        if n == 1:
            figures.answered_once += 1
        elif n == 2 and deliveries > 1:
            figures.answered_twice_after_kill += 1
        elif len(figures.problems) < 20:
            figures.problems.append(
                f"user {user}: {kind} update answered {n} times (delivered {deliveries}×)"
            )
    figures.taps = sum(1 for s in sent if s.kind == "tap")
    for s in sent:
        if s.kind == "tap":
            answer = api.answers.get(s.query_id or "", [])
            figures.tap_answers[answer[0].text[:40] if answer else "(none)"] += 1
    figures.update_ms = percentiles([s.replied - s.at for s in sent if s.replied is not None])

    # every alert crossing told once
    counts: Counter[tuple[int | None, Decimal | None]] = Counter()
    late: list[float] = []
    for c in api.messages():
        if c.text.startswith(ALERT_MARK):
            for line in c.text.splitlines():
                if _threshold(line) is None:
                    continue
                key = (c.chat_id, _threshold(line))
                counts[key] += 1
                step = due.get((c.chat_id or 0, key[1] or Decimal(0)))
                if step is not None and counts[key] == 1:
                    late.append(c.at - step.at)
    figures.alerts_due = len(due)
    figures.alerts_once = sum(1 for k in due if counts[k] == 1)
    figures.alerts_lost = sum(1 for k in due if counts[k] == 0)
    figures.alerts_doubled = sum(1 for k in due if counts[k] > 1)
    extra = sum(1 for k in counts if k not in due)
    if figures.alerts_lost or figures.alerts_doubled or extra:
        figures.problems.append(
            f"alerts: {figures.alerts_lost} lost, {figures.alerts_doubled} doubled, "
            f"{extra} told that never crossed"
        )
    doubled = next((k for k in due if counts[k] > 1), None)
    if doubled is not None:
        t0 = figures.walk[0].at if figures.walk else 0.0
        told = [
            f"{c.method} +{c.at - t0:.1f} s: {c.text[:240]!r}"
            for c in api.by_chat.get(doubled[0], [])
            if ALERT_MARK in c.text
        ]
        figures.problems.append(
            f"e.g. chat {doubled[0]}, alert > {doubled[1]}: counted {counts[doubled]}; "
            + "; ".join(told)
        )
    figures.alert_ms = percentiles(late)

    # Telegram's limits, measured where Telegram would
    figures.limits = lim = api.limits(since, lambda c: c.text.startswith(ALERT_MARK))
    if lim.max_per_second > MAX_PER_SECOND:
        figures.problems.append(f"{lim.max_per_second} messages in one second (> {MAX_PER_SECOND})")
    if lim.min_private_gap is not None and lim.min_private_gap < MIN_PRIVATE_GAP * 0.95:
        a, b = lim.closest or (None, None)
        figures.problems.append(
            f"two messages to one chat {lim.min_private_gap:.2f} s apart: "
            f"{a.text[:50] if a else ''!r} then {b.text[:50] if b else ''!r}"
        )
    if lim.max_group_per_minute > MAX_GROUP_PER_MINUTE:
        figures.problems.append(f"{lim.max_group_per_minute} messages to a group in a minute")

    await _orders(stack, player, figures)


async def _orders(stack: Stack, player: Player, figures: Figures) -> None:
    """Fills on the exchange = filled journal rows = fills the users were told, per desk."""
    assert stack.api is not None and stack.seeded is not None
    state = await stack.sim_state()
    exchange: Counter[str] = Counter()
    for desk, key in stack.seeded.api_key_of.items():
        fills = state["accounts"].get(key, {}).get("fills", [])
        exchange[desk] = len({f.get("orderId") for f in fills})
    async with stack.sql() as conn:
        rows = await conn.fetch(
            "SELECT desk_id, count(*) AS n FROM order_journal WHERE order_id IS NOT NULL "
            "GROUP BY desk_id"
        )
    journal: Counter[str] = Counter({r["desk_id"]: int(r["n"]) for r in rows})
    told: Counter[str] = defaultdict(int)  # type: ignore[assignment]
    for tap in player.taps:
        desk = stack.seeded.desk_of[tap.user]
        answers = stack.api.answers.get(tap.query_id or "", [])
        edits = [
            c
            for c in stack.api.by_chat.get(tap.user, [])
            if c.at >= tap.at
            and c.method in ("editmessagetext", "sendmessage")
            and any(w in c.text for w in FILLED)
        ]
        if any(any(w in c.text for w in FILLED) for c in answers) or edits:
            told[desk] += 1
    figures.orders_exchange = sum(exchange.values())
    figures.orders_journal = sum(journal.values())
    figures.orders_told = sum(told.values())
    for desk in stack.seeded.api_key_of:
        if not exchange[desk] == journal[desk] == told[desk]:
            figures.problems.append(
                f"desk {desk}: {exchange[desk]} orders on the exchange, {journal[desk]} in the "
                f"journal, {told[desk]} told"
            )
