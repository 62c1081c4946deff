"""Orders with a preview and a single-use, owner-only, expiring confirmation.

The whole flow, with no Telegram types (handlers, strategy approvals and tests call it alike)::

    preview = await trading.preview(actor, intent)                 # priced, checked, stored
    ...show it with ✅ (callback data = preview.token) / ❌...
    outcome = await trading.confirm(actor, preview.token)          # at most one order set
    outcome = await trading.cancel(actor, preview.token)

``actor`` (:class:`~bot.services.access.Actor`) is who acts and in which chat: each of the three
refuses by role and chat itself (:class:`~bot.services.access.Refused`) before anything else.

``intent`` is one order (:class:`OrderIntent`), a close (:class:`CloseIntent`) or several legs
sent in order with one tap (:class:`MultiLeg`, e.g. a strategy's hedge pair; its ``origin`` tag
comes back in the :class:`Outcome`, and :attr:`TradingService.listeners` hear every outcome).

Guarantees:

* Nothing is sent at preview time. Quantities and prices are rounded to the market's step and
  tick, and checked against the market's min/max, ``MAX_ORDER_NOTIONAL``, the limit-price band,
  post-only crossing, reduce-only direction and available funds — a bad request never becomes a
  confirmation at all.
* The token is 144 random bits (``secrets``), stored with the owner, the chat and the expiry.
* ``confirm`` re-quotes first; if the expected price moved more than the drift tolerance the old
  token is retired and a fresh preview (new token) is returned instead of trading.
* The claim is one conditional ``UPDATE … WHERE status='pending' AND user_id=… AND expires>now``;
  only the caller whose update hits the row sends orders, so double taps, two devices or a replay
  after a restart place exactly one order. The journal rows (with each order's ``clientId``) are
  written in the same transaction, before anything is sent.
* A lost answer is settled by the client's ``clientId`` lookup: the outcome is ``filled`` /
  ``placed`` when the order exists, ``not_placed`` when it provably does not, and ``unknown``
  (never "failed") when it cannot be told.

:class:`TradingService` is the facade of the flow: its values (:class:`Preview`, :class:`Status`,
:class:`Outcome`, :class:`LegResult`) live in :mod:`~bot.services.orders.preview`, pricing in
:mod:`~bot.services.orders.pricing`, sending in :mod:`~bot.services.orders.sender`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal

from bot.clock import Clock, SystemClock, now_ms
from bot.exchange.client import BackpackAPI
from bot.exchange.errors import BackpackError
from bot.faults import crash_point
from bot.services.access import Action, Actor
from bot.services.orders.intent import Intent, IntentError, MultiLeg
from bot.services.orders.preview import (
    LegResult,
    Listener,
    Outcome,
    Preview,
    Status,
    confirmation_record,
    new_token,
    order_outcome,
    overall_status,
    result_json,
    wire_order,
)
from bot.services.orders.pricing import Pricer, TradingConfig
from bot.services.orders.quote import Limits
from bot.services.orders.rate import OrderRate, adds_risk
from bot.services.orders.sender import SENT_OK, LegStatus, OrderOutcome, OrderSender
from bot.storage.trading import (
    CANCELLED,
    DONE,
    EXECUTING,
    EXPIRED,
    PENDING,
    REQUOTED,
    SENDING,
    ConfirmationRecord,
    TradingStore,
)
from bot.venues.port import VenueError

__all__ = [
    "LegResult",
    "LegStatus",
    "Outcome",
    "Preview",
    "Status",
    "TradingConfig",
    "TradingService",
]

_RECENT = 256
#: How far back start-up re-applies the final text of finished confirmations' messages.
_REFINAL_WINDOW_MS = 30 * 60 * 1000


class TradingService:
    """Preview → confirm/cancel for orders; see the module docstring for the guarantees."""

    def __init__(
        self,
        exchange: BackpackAPI,
        store: TradingStore,
        config: TradingConfig | None = None,
        *,
        market_data: BackpackAPI | None = None,
        sender: OrderSender | None = None,
        clock: Clock | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        """``exchange`` holds the account (positions, funds, orders); ``market_data`` serves
        markets and books when they come from elsewhere (paper trading on the real exchange's
        data); ``sender`` is the one order path (built here on ``exchange`` when not given)."""
        self.exchange = exchange
        self.market_data = market_data or exchange
        self.store = store
        self.config = config or TradingConfig()
        self.clock: Clock = clock or SystemClock()
        self.logger = logger or logging.getLogger("bot.trading")
        self.sender = sender or OrderSender(
            exchange, store, mode=self.config.mode, clock=self.clock, logger=self.logger
        )
        self.listeners: list[Listener] = []
        self.pricer = Pricer(
            exchange, self.market_data, self.sender, self.config, self.clock, self.logger
        )
        self._recent: dict[str, ConfirmationRecord] = {}
        per_minute = self.config.orders_per_minute
        self.rate = OrderRate(per_minute, self.clock) if per_minute is not None else None

    @property
    def limits(self) -> Limits:
        return self.pricer.limits

    # ------------------------------------------------------------------ preview

    async def preview(
        self, actor: Actor, intent: Intent, *, replaces: str | None = None
    ) -> Preview:
        """Price and check ``intent`` and store it as a pending confirmation of ``actor``'s.

        Raises :class:`~bot.services.access.Refused` when the actor may not trade here,
        :class:`IntentError` (problem + example) for anything that must not be sent, and
        :class:`~bot.exchange.errors.BackpackError` when the exchange cannot be asked.
        """
        actor.require(Action.TRADE)
        if self.rate is not None:
            self.rate.check(intent)
        preview = await self._build(actor.user_id, actor.chat_id, intent, replaces=replaces)
        record = confirmation_record(preview, PENDING)
        await self.store.add(record)
        self._remember(record)
        return preview

    def _remember(self, record: ConfirmationRecord) -> None:
        """Keep a fresh pending confirmation at hand so its tap skips one database read (the
        claim itself stays the conditional UPDATE that decides who wins)."""
        self._recent[record.token] = record
        while len(self._recent) > _RECENT:
            self._recent.pop(next(iter(self._recent)))

    async def attach_message(self, token: str, message_id: int) -> None:
        """Remember the chat message that shows ``token`` (the expiry sweeper edits it)."""
        await self.store.set_message(token, message_id)

    async def _build(
        self,
        user_id: int,
        chat_id: int,
        intent: Intent,
        *,
        replaces: str | None = None,
        drift_seen: Decimal | None = None,
    ) -> Preview:
        legs = await self.pricer.price(intent)
        now = now_ms(self.clock)
        title = intent.title if isinstance(intent, MultiLeg) else ""
        origin = intent.origin if isinstance(intent, MultiLeg) else None
        return Preview(
            token=new_token(),
            user_id=user_id,
            chat_id=chat_id,
            mode=self.config.mode,
            intent=intent,
            legs=legs,
            created_at_ms=now,
            expires_at_ms=now + self.config.confirm_ttl_seconds * 1000,
            title=title,
            origin=origin,
            replaces=replaces,
            drift=drift_seen,
        )

    # ------------------------------------------------------------------ the hedge venue

    # ------------------------------------------------------------------ confirm / cancel

    async def confirm(
        self,
        actor: Actor,
        token: str,
        on_sent: Callable[[Outcome], Awaitable[None]] | None = None,
    ) -> Outcome:
        """Execute the confirmation ``token`` for ``actor`` — at most once, ever (refused
        with :class:`~bot.services.access.Refused` when the actor may not trade here).

        ``on_sent`` (optional) hears the outcome as soon as the exchange has answered, before
        the journal and the confirmation are updated: the user's tap is acknowledged without
        waiting for those writes. (The journal rows, with each order's clientId, were written
        when the confirmation was claimed, so nothing is lost if the process dies here.)
        Raises :class:`~bot.storage.desk_locks.DeskBusy` before claiming anything when another
        placement keeps the desk's lock too long (the ✅ stays live).
        """
        actor.require(Action.TRADE)
        user_id = actor.user_id
        rec = self._recent.pop(token, None) or await self.store.get(token)
        early = await self._refuse(rec, user_id, token)
        if early is not None:
            return early
        assert rec is not None
        preview = Preview.from_record(rec)
        try:
            moved = await self.pricer.drift(preview.legs)
        except (BackpackError, VenueError) as exc:
            self.logger.warning("re-quote for %s failed: %s", token, exc)
            return self._outcome(
                Status.UNAVAILABLE,
                rec,
                preview,
                reason=f"the exchange did not answer ({exc.message}); nothing was sent",
            )
        if moved is not None:
            return await self._requote(rec, preview, moved)

        async with self.sender.held():  # the desk's lock: from the claim to the final record
            done, sent = await self._execute(rec, preview, user_id=user_id, on_sent=on_sent)
        if sent:
            await self._notify(done)
        return done

    async def _execute(
        self,
        rec: ConfirmationRecord,
        preview: Preview,
        *,
        user_id: int,
        on_sent: Callable[[Outcome], Awaitable[None]] | None,
    ) -> tuple[Outcome, bool]:
        """Claim the confirmation and send its legs (the desk's lock held by the caller); the
        outcome, and whether anything was sent (False: the claim was refused)."""
        token = rec.token
        wires = [wire_order(leg) for leg in preview.legs]
        journal = [
            self.sender.entry(
                i,
                wire,
                preview=json.dumps(leg.to_json(), separators=(",", ":")),
                origin=preview.origin or "confirm",
            )
            for i, (leg, wire) in enumerate(zip(preview.legs, wires, strict=True))
        ]
        if not await self.store.claim(token, user_id, now_ms(self.clock), journal):
            # Someone (another tap, another device) got there first, or time ran out.
            refused = await self._refuse(await self.store.get(token), user_id, token)
            return refused or self._outcome(Status.USED, rec, preview), False
        crash_point("claimed")
        if self.rate is not None and adds_risk(preview.intent):
            self.rate.count(len(preview.legs))

        results: list[LegResult] = []
        for i, (leg, wire, entry) in enumerate(zip(preview.legs, wires, journal, strict=True)):
            if results and results[-1].status not in SENT_OK:
                result = LegResult(
                    leg, LegStatus.SKIPPED, entry.client_id, reason="an earlier leg failed"
                )
            else:
                result = LegResult.of(leg, await self.sender.send(wire, entry.client_id))
                crash_point("answered")
            results.append(result)
            if i < len(preview.legs) - 1:
                await self.sender.record(token, i, order_outcome(result))
                crash_point("recorded-leg")
        await self._retire_replaced(rec, results)
        status = overall_status(results)
        if on_sent is not None:
            try:
                await on_sent(self._outcome(status, rec, preview, results=tuple(results)))
            except Exception:  # telling the user early is a courtesy; the books come first
                self.logger.exception("early acknowledgement of %s failed", token)
        crash_point("acknowledged")
        await self.sender.record(token, len(results) - 1, order_outcome(results[-1]))
        crash_point("recorded")
        await self.store.transition(
            token, EXECUTING, DONE, now_ms(self.clock), result=result_json(status, results)
        )
        crash_point("finished")  # final, but the preview message not yet edited
        return self._outcome(status, rec, preview, results=tuple(results)), True

    async def _retire_replaced(self, rec: ConfirmationRecord, results: Sequence[LegResult]) -> None:
        """A new stop is in place: cancel the ones it replaces (after, so the position is never
        unprotected), through the journaled cancel path."""
        for r in results:
            if not r.leg.replaces or r.status not in SENT_OK:
                continue
            for oid in r.leg.replaces:
                try:
                    await self.sender.cancel(
                        r.leg.symbol, oid, user_id=rec.user_id, chat_id=rec.chat_id
                    )
                except BackpackError as exc:  # already fired or gone: nothing to retire
                    self.logger.info("replaced stop %s not cancelled: %s", oid, exc)

    async def cancel(self, actor: Actor, token: str) -> Outcome:
        """Cancel a pending confirmation (its owner only, where they may trade); nothing is
        sent."""
        actor.require(Action.TRADE)
        user_id = actor.user_id
        rec = await self.store.get(token)
        early = await self._refuse(rec, user_id, token)
        if early is not None:
            return early
        assert rec is not None
        preview = Preview.from_record(rec)
        if await self.store.transition(
            token, PENDING, CANCELLED, now_ms(self.clock), user_id=user_id
        ):
            outcome = self._outcome(Status.CANCELLED, rec, preview)
            await self._notify(outcome)
            return outcome
        return await self._refuse(await self.store.get(token), user_id, token) or (
            self._outcome(Status.USED, rec, preview)
        )

    async def expire_due(self) -> list[Outcome]:
        """Expire every pending confirmation whose time is up; one outcome per expired one
        (with its chat and message, so a job can edit the message and drop its buttons)."""
        now = now_ms(self.clock)
        out: list[Outcome] = []
        for rec in await self.store.due(now):
            if await self.store.transition(rec.token, PENDING, EXPIRED, now):
                outcome = self._outcome(Status.EXPIRED, rec, Preview.from_record(rec))
                out.append(outcome)
                await self._notify(outcome)
        return out

    async def finished_recently(self, window_ms: int = _REFINAL_WINDOW_MS) -> list[Outcome]:
        """The outcomes of confirmations that became final within ``window_ms`` (run at
        start-up): a stop between a confirmation becoming final and its message being edited
        would otherwise leave a preview that still offers ✅. Editing a message into the text
        it already has is harmless, so these are simply edited again."""
        out: list[Outcome] = []
        for rec in await self.store.finished_since(now_ms(self.clock) - window_ms):
            preview = Preview.from_record(rec)
            if rec.status == CANCELLED:
                out.append(self._outcome(Status.CANCELLED, rec, preview))
            elif rec.status == EXPIRED:
                out.append(self._outcome(Status.EXPIRED, rec, preview))
            else:
                rows = {row.leg: row for row in await self.store.journal_for(rec.token)}
                results = tuple(
                    LegResult.of(leg, OrderOutcome.of_row(rows[i]))
                    if i in rows and rows[i].status != SENDING
                    else LegResult(leg, LegStatus.SKIPPED, 0, reason="not sent")
                    for i, leg in enumerate(preview.legs)
                )
                out.append(self._outcome(overall_status(results), rec, preview, results=results))
        return out

    async def reconcile(self) -> list[Outcome]:
        """Settle confirmations left ``executing`` by a stop mid-send (run at start-up).

        Each journal row still ``sending`` is looked up by its ``clientId`` on the exchange
        (open orders, then order history) and what is found is recorded; what is not found was
        not placed. Nothing is ever re-sent. Every such confirmation ends ``done``: no ✅ stays
        live, and the outcome (with its chat and message) says what really happened.
        """
        out: list[Outcome] = []
        for rec in await self.store.stuck():
            preview = Preview.from_record(rec)
            results: list[LegResult] = []
            rows = {row.leg: row for row in await self.store.journal_for(rec.token)}
            unanswered = False
            for i, leg in enumerate(preview.legs):
                row = rows.get(i)
                if row is None:
                    results.append(LegResult(leg, LegStatus.NOT_PLACED, 0, reason="never sent"))
                elif row.status == SENDING:
                    found = await self.sender.resolve(row)
                    unanswered = unanswered or found.status is LegStatus.UNKNOWN
                    results.append(LegResult.of(leg, found))
                else:
                    results.append(LegResult.of(leg, OrderOutcome.of_row(row)))
            if unanswered:
                continue  # the exchange could not be asked: try again later, tell nothing yet
            status = overall_status(results)
            if await self.store.transition(
                rec.token, EXECUTING, DONE, now_ms(self.clock), result=result_json(status, results)
            ):
                outcome = self._outcome(status, rec, preview, results=tuple(results))
                out.append(outcome)
                await self._notify(outcome)
        return out

    async def get(self, token: str) -> Preview | None:
        """The stored preview behind ``token`` (any status), for display."""
        rec = await self.store.get(token)
        return Preview.from_record(rec) if rec is not None else None

    # ------------------------------------------------------------------ internals

    async def _refuse(
        self, rec: ConfirmationRecord | None, user_id: int, token: str
    ) -> Outcome | None:
        """The outcome for a tap that must do nothing, or ``None`` when it may proceed."""
        if rec is None:
            return Outcome(Status.NOT_FOUND, token)
        if rec.user_id != user_id:
            # Say nothing about someone else's order beyond "not yours".
            return Outcome(Status.NOT_YOURS, token)
        preview = Preview.from_record(rec)
        if rec.status == PENDING and rec.expires_at_ms <= now_ms(self.clock):
            if await self.store.transition(rec.token, PENDING, EXPIRED, now_ms(self.clock)):
                return self._outcome(Status.EXPIRED, rec, preview)
            rec = await self.store.get(token) or rec
        status = {
            PENDING: None,
            EXECUTING: Status.USED,
            DONE: Status.USED,
            REQUOTED: Status.USED,
            CANCELLED: Status.CANCELLED,
            EXPIRED: Status.EXPIRED,
        }.get(rec.status, Status.USED)
        if status is None:
            return None
        reason = "replaced by a newer preview" if rec.status == REQUOTED else ""
        return self._outcome(status, rec, preview, reason=reason)

    async def _requote(self, rec: ConfirmationRecord, old: Preview, moved: Decimal) -> Outcome:
        now = now_ms(self.clock)
        try:
            fresh = await self._build(
                rec.user_id, rec.chat_id, old.intent, replaces=rec.token, drift_seen=moved
            )
        except IntentError as exc:
            if await self.store.transition(
                rec.token, PENDING, CANCELLED, now, user_id=rec.user_id, result=exc.problem
            ):
                return self._outcome(Status.INVALID, rec, old, reason=exc.problem)
            return await self._refuse(await self.store.get(rec.token), rec.user_id, rec.token) or (
                self._outcome(Status.USED, rec, old)
            )
        except (BackpackError, VenueError) as exc:
            return self._outcome(
                Status.UNAVAILABLE,
                rec,
                old,
                reason=f"the exchange did not answer ({exc.message}); nothing was sent",
            )
        record = confirmation_record(fresh, PENDING)
        if await self.store.replace(rec.token, rec.user_id, now, record):
            self._remember(record)
            return self._outcome(Status.REQUOTED, rec, old, new_preview=fresh, reason=str(moved))
        return await self._refuse(await self.store.get(rec.token), rec.user_id, rec.token) or (
            self._outcome(Status.USED, rec, old)
        )

    def _outcome(
        self,
        status: Status,
        rec: ConfirmationRecord,
        preview: Preview,
        *,
        results: tuple[LegResult, ...] = (),
        new_preview: Preview | None = None,
        reason: str = "",
    ) -> Outcome:
        return Outcome(
            status=status,
            token=rec.token,
            preview=preview,
            results=results,
            new_preview=new_preview,
            reason=reason,
            chat_id=rec.chat_id,
            message_id=rec.message_id,
        )

    async def _notify(self, outcome: Outcome) -> None:
        for listener in list(self.listeners):
            try:
                await listener(outcome)
            except Exception:  # a listener's bug must not undo or hide a placed order
                self.logger.exception("trading outcome listener failed")
