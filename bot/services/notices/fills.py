"""The private order stream → fill notices, one per event the user has not already seen.

Rules (no Telegram types; ``jobs/watchers.py`` renders and sends what comes out):

* **Told already, not told again.** A fill of an order a ✅ tap sent is shown in the edited
  preview: the stream's copy is skipped while the tap's answer is still on its way (the journal
  row is ``sending``) and whenever the journal's executed quantity already covers it. A later
  fill of such an order (a resting limit) is news and is told. A cancel the bot itself asked for
  (``/cancel``, a 🗑 button, a stop replaced by a new one) was answered in the chat: skipped.
* **A stop's fire is one notice.** The exchange cancels a position's other reduce-only
  conditional orders (its take-profit) in the same instant the stop closes it, in either order on
  the stream. Events of conditional orders are held per market until :attr:`FillFeed.window`
  seconds pass without another, and leave as one notice: the stop's fill naming what was
  cancelled with it. Cancels that came with a position the user just closed by a tap (the
  journal has the tap's order) are part of that tap: not told again.
* **Stale buttons.** An order that fills, is cancelled, expires or fires, and a position that
  becomes flat, ends the buttons recorded for it (:class:`bot.storage.events.EventStore`); the
  messages showing them are handed to :attr:`FillFeed.on_keyboards` to be edited.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from bot.clock import Clock, now_ms
from bot.exchange.client import BackpackAPI
from bot.services.notices.watchers import FillNotice, Notice, WatcherService
from bot.storage.events import ORDER, POSITION, EventStore, Keyboard, stop_fate
from bot.storage.trading import SENDING

log = logging.getLogger("bot.fills")

#: How long a conditional order's events wait for the rest of the same fire (after the last).
GROUP_SECONDS = 1.0
#: How far back a cancel the bot asked for still explains a cancel event.
_CANCEL_WINDOW_MS = 10 * 60 * 1000
#: How recent a tap on the same market must be for cancels to count as part of it.
_TAPPED_MS = 10_000
_ENDS = {
    "orderCancelled": "cancelled",
    "orderExpired": "expired",
    "triggerFailed": "not triggered (no position to close)",
}


def _dec(value: object) -> Decimal:
    try:
        return Decimal(str(value)) if value not in (None, "") else Decimal(0)
    except InvalidOperation:
        return Decimal(0)


def _conditional(event: dict[str, Any]) -> bool:
    return event.get("P") not in (None, "")


@dataclass
class _Group:
    fills: list[dict[str, Any]] = field(default_factory=list)
    cancelled: list[dict[str, Any]] = field(default_factory=list)
    task: asyncio.Task[None] | None = None


def merged_fill(fills: list[dict[str, Any]]) -> dict[str, Any]:
    """Several partial fills of one order as one: the total size at the average price."""
    last = dict(fills[-1])
    if len(fills) > 1:
        qty = sum((_dec(f.get("l")) for f in fills), Decimal(0))
        quote = sum((_dec(f.get("l")) * _dec(f.get("L")) for f in fills), Decimal(0))
        last["l"] = str(qty)
        last["L"] = str(quote / qty) if qty else last.get("L")
        last["n"] = str(sum((_dec(f.get("n")) for f in fills), Decimal(0)))
    return last


class FillFeed:
    """Turns order-stream events into notices (see the module docstring)."""

    def __init__(
        self,
        watchers: WatcherService,
        events: EventStore,
        account_api: BackpackAPI,
        clock: Clock,
        *,
        window: float = GROUP_SECONDS,
    ) -> None:
        self.watchers = watchers
        self.events = events
        self.account_api = account_api
        self.clock = clock
        self.window = window
        #: Where finished notices go (the jobs layer renders them into the outbox).
        self.emit: Callable[[list[Notice]], None] = lambda _notices: None
        #: Where messages whose keyboards must change go.
        self.on_keyboards: Callable[[list[Keyboard]], Awaitable[None]] | None = None
        #: Events handled so far, and those skipped as already told (tests wait on these).
        self.seen = 0
        self.skipped = 0
        self._groups: dict[str, _Group] = {}
        self._releasing = 0

    @property
    def idle(self) -> bool:
        """Nothing held or being released: every notice so far is in the outbox."""
        return not self._groups and not self._releasing

    async def on_event(self, event: dict[str, Any]) -> None:
        try:
            await self._notice(event)  # first: a held event starts its group's wait at once
            await self._tidy(event)
        finally:
            self.seen += 1

    async def _notice(self, event: dict[str, Any]) -> None:
        kind = str(event.get("e", ""))
        if kind not in ("orderFill", "orderCancelled", "orderExpired"):
            return
        symbol = str(event.get("s", ""))
        await self.watchers.fills(event)  # the log line, for every fill and cancel
        if await self._told(event):
            self.skipped += 1
            return
        if _conditional(event):
            self._hold(symbol, event)
            return
        self.emit(await self._notices(event, ()))

    async def _notices(
        self, event: dict[str, Any], cancelled: tuple[dict[str, Any], ...]
    ) -> list[Notice]:
        return [
            FillNotice(user, chat, event, cancelled)
            for user, chat in await self.watchers.recipients("fills")
        ]

    async def _told(self, event: dict[str, Any]) -> bool:
        kind = str(event.get("e", ""))
        cid = event.get("c")
        row = None
        if cid not in (None, ""):
            try:
                row = await self.events.confirmed_order(int(str(cid)))
            except ValueError:
                row = None
        if kind == "orderFill":
            if row is None:
                return False
            if row.status == SENDING:
                return True  # the tap's answer (and so the edited preview) includes this fill
            return _dec(event.get("z")) <= (row.executed_quantity or Decimal(0))
        if row is not None and row.status in (SENDING, "rejected", "not_placed"):
            return True  # the edited preview says it did not go through
        since = now_ms(self.clock) - _CANCEL_WINDOW_MS
        return await self.events.cancel_requested(
            str(event.get("i", "")), str(event.get("s", "")), since
        )

    # ------------------------------------------------------------------ a stop's fire

    def _hold(self, symbol: str, event: dict[str, Any]) -> None:
        group = self._groups.setdefault(symbol, _Group())
        if event.get("e") == "orderFill":
            group.fills.append(event)
        else:
            group.cancelled.append(event)
        if group.task is not None:
            group.task.cancel()  # the wait restarts: the group leaves a window after its last
        group.task = asyncio.create_task(self._release(symbol), name=f"fills-{symbol}")

    async def _release(self, symbol: str) -> None:
        await asyncio.sleep(self.window)
        group = self._groups.pop(symbol, None)
        if group is None:
            return
        self._releasing += 1
        try:
            self.emit(await self._group_notices(symbol, group))
        except Exception:  # one lost notice must not stop the feed
            log.exception("fill notice for %s failed", symbol)
        finally:
            self._releasing -= 1

    async def _group_notices(self, symbol: str, group: _Group) -> list[Notice]:
        cancelled = tuple(group.cancelled)
        if group.fills:
            by_order: dict[str, list[dict[str, Any]]] = {}
            for f in group.fills:
                by_order.setdefault(str(f.get("i", "")), []).append(f)
            out: list[Notice] = []
            for i, fills in enumerate(by_order.values()):
                out.extend(await self._notices(merged_fill(fills), cancelled if i == 0 else ()))
            return out
        if await self.events.tapped_since(symbol, now_ms(self.clock) - _TAPPED_MS):
            self.skipped += len(cancelled)
            return []  # the position's stops went with a close the user just tapped
        out = []
        for event in cancelled:
            out.extend(await self._notices(event, ()))
        return out

    async def stop(self) -> None:
        """Cancel the waits of held events (shutdown)."""
        groups, self._groups = self._groups, {}
        for group in groups.values():
            if group.task is not None:
                group.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await group.task

    # ------------------------------------------------------------------ stale buttons

    async def _closed_by(self, event: dict[str, Any]) -> str:
        """What closed a position: its stop-loss or take-profit (named by the 🗑 button
        ``/positions`` showed for that order) at the fill's price, or just ``closed``."""
        if not _conditional(event) or event.get("L") in (None, ""):
            return "closed"
        words = (await self.events.label(ORDER, str(event.get("i", ""))) or "").split()
        name = {"SL": "stop-loss", "TP": "take-profit"}.get(
            words[1] if len(words) > 1 else "", "stop"
        )
        return stop_fate(name, str(event.get("L")))

    async def _tidy(self, event: dict[str, Any]) -> None:
        kind = str(event.get("e", ""))
        oid = str(event.get("i", ""))
        symbol = str(event.get("s", ""))
        ended: list[Keyboard] = []
        if kind == "orderFill":
            if str(event.get("X", "")) == "Filled":
                what = "triggered and filled" if _conditional(event) else "filled"
                ended += await self.events.end(ORDER, oid, what)
            if await self.events.live(POSITION, symbol):
                try:
                    flat = await self.account_api.get_position(symbol) is None
                except Exception as exc:  # the next fill or tap will tell
                    log.info("position check for %s failed: %s", symbol, exc)
                    flat = False
                if flat:
                    ended += await self.events.end(POSITION, symbol, await self._closed_by(event))
        elif kind in _ENDS:
            ended += await self.events.end(ORDER, oid, _ENDS[kind])
        if ended and self.on_keyboards is not None:
            await self.on_keyboards(ended)
