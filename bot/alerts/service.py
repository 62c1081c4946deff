"""Alerts: the users' price/move/funding alerts, evaluated as the stream ticks.

* Price alerts live in an :class:`AlertIndex` (bisect per symbol, see :mod:`bot.alerts.index`);
  a tick costs O(log n + fired). A fired alert is disarmed in the database *before* it is
  announced, so a crash, a reconnect or a second tick never fires it twice for one crossing. It
  re-arms once the price has gone back past the threshold by the hysteresis band.
* Move alerts (``change 5% 1h``) keep a per-symbol price trail, one sample per second.
* Funding alerts are evaluated on every ``markPrice`` update (rate per interval, or its APR).
* On every (re)connect the current price is checked against every armed alert, so nothing that
  crossed while the stream was down is lost.

Messages go through :class:`bot.alerts.notify.Notifier` (queued, batched per chat, quiet hours),
never from the price-stream path itself.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from decimal import Decimal

from bot.alerts.index import AlertIndex, ArmedAlert, Hysteresis
from bot.alerts.parse import AlertSpec, AlertSyntaxError, check_price
from bot.clock import Clock, now_ms
from bot.exchange.client import BackpackAPI
from bot.faults import crash_point
from bot.services.access import Action, Actor
from bot.services.market import apr
from bot.storage.alerts import Alert, AlertStore

log = logging.getLogger("bot.alerts")

#: Alerts one user may keep; each is evaluated on every tick, and a list longer than this is
#: unreadable in chat anyway.
MAX_ALERTS_PER_USER = 50
SAMPLE_MS = 1000
#: The crash point right after a crossing's alerts were stored as fired (tests).
STORED_FIRED = "alert-stored-fired"


@dataclass(frozen=True, slots=True)
class Firing:
    """One alert that just fired, with what it saw."""

    alert: Alert
    value: Decimal
    at_ms: int
    detail: str = ""


FireCallback = Callable[[Firing], Awaitable[None]]
#: Told a crossing's firings before they are stored as fired (see ``AlertService.before_fired``).
DurableFire = Callable[[list[Firing]], Awaitable[None]]


def holds_now(op: str, value: Decimal, threshold: Decimal) -> bool:
    """Whether ``value op threshold`` holds; strict both ways ("> 0.05%" is not met at 0.05%)."""
    return value > threshold if op == ">" else value < threshold


class AlreadyTrue(Exception):
    """An alert whose condition already holds when it is set: armed only if the user says so."""

    def __init__(self, symbol: str, spec: AlertSpec, current: Decimal) -> None:
        super().__init__(f"{symbol} {spec.op} {spec.threshold} already holds (now {current})")
        self.symbol = symbol
        self.spec = spec
        self.current = current


class AlertService:
    def __init__(
        self,
        store: AlertStore,
        market: BackpackAPI,
        clock: Clock,
        *,
        hysteresis: Decimal = Decimal("0.002"),
        on_fire: FireCallback | None = None,
    ) -> None:
        self.store = store
        self.market = market
        self.clock = clock
        self.band = hysteresis
        self.on_fire = on_fire
        #: Other parts that react to alerts (the strategy re-runs on funding alerts).
        self.listeners: list[FireCallback] = []
        self.index = AlertIndex()
        self.parked = Hysteresis()
        self.alerts: dict[int, Alert] = {}
        self.funding: dict[str, dict[int, Alert]] = {}
        self.spreads: dict[str, dict[int, Alert]] = {}
        self.moves: dict[str, dict[int, Alert]] = {}
        self.trails: dict[str, deque[tuple[int, Decimal]]] = {}
        self.ticks = 0
        self.max_per_user = MAX_ALERTS_PER_USER
        #: Several processes: the evaluator writes each crossing's notices durably here *before*
        #: the alert is stored as fired (the firings carry the stored row, ``fired_count`` the
        #: crossing's number), so a crash in between re-fires the same crossing and its notice
        #: dedupes instead of being lost. ``on_fire`` is then for what may be lost (None).
        self.before_fired: DurableFire | None = None

    # ------------------------------------------------------------------ lifecycle

    async def load(self) -> int:
        """Rebuild the in-memory indexes from the database (start-up)."""
        for alert in await self.store.all():
            self._register(alert)
        return len(self.alerts)

    async def reload(self, alert_ids: list[int] | None = None) -> int:
        """Follow changes other processes made: re-read ``alert_ids`` (gone ones are dropped),
        or every alert when None. Returns how many alerts are loaded."""
        if alert_ids is None:
            rows = await self.store.all()
            self.index, self.parked, self.alerts = AlertIndex(), Hysteresis(), {}
            self.funding, self.spreads, self.moves = {}, {}, {}
        else:
            rows = await self.store.get_many(alert_ids)
            for alert_id in alert_ids:
                self._forget(alert_id)
        # in threshold order, each insertion into the sorted indexes is an append
        for alert in sorted(rows, key=lambda a: (a.threshold, a.id)):
            self._register(alert)
        return len(self.alerts)

    def _register(self, alert: Alert) -> None:
        self.alerts[alert.id] = alert
        if alert.kind == "price":
            armed = ArmedAlert(alert.id, alert.symbol, alert.op, alert.threshold)
            if alert.armed:
                self.index.add(armed)
            else:
                self.parked.park(armed, self.band)
        elif alert.kind in ("funding", "funding_apr"):
            self.funding.setdefault(alert.symbol, {})[alert.id] = alert
        elif alert.kind == "change":
            self.moves.setdefault(alert.symbol, {})[alert.id] = alert
        elif alert.kind == "spread_apr":
            self.spreads.setdefault(alert.symbol, {})[alert.id] = alert

    def _forget(self, alert_id: int) -> None:
        alert = self.alerts.pop(alert_id, None)
        if alert is None:
            return
        self.index.remove(alert_id)
        self.parked.remove(alert_id)
        self.funding.get(alert.symbol, {}).pop(alert_id, None)
        self.moves.get(alert.symbol, {}).pop(alert_id, None)
        self.spreads.get(alert.symbol, {}).pop(alert_id, None)

    # ------------------------------------------------------------------ user actions

    async def add(self, actor: Actor, spec: AlertSpec, *, anyway: bool = False) -> Alert:
        """A new alert of ``actor``'s, answered in their chat (refused for strangers). Raises
        :class:`AlreadyTrue` when its condition already holds (a typo like ``> 1.5k`` for 150k
        would fire at once), unless ``anyway``."""
        actor.require(Action.ALERTS)
        user_id, chat_id = actor.user_id, actor.chat_id
        symbol = await self.market.resolve_symbol(spec.symbol)
        if spec.kind in ("funding", "funding_apr", "spread_apr") and not symbol.endswith("_PERP"):
            raise AlertSyntaxError(f"{symbol} is a spot market; funding applies to perps only")
        count = await self.store.count_for(user_id)
        if count >= self.max_per_user:
            raise AlertSyntaxError(
                f"you already have {count} alerts, the most one user may keep is "
                f"{self.max_per_user}; remove some with /alerts or /alert off ID"
            )
        if spec.kind == "price":
            current = self.market.prices.get(symbol)
            if current is None:
                current = await self.market.get_price(symbol)
            check_price(spec, current)
        if not anyway:
            now = await self.current(symbol, spec.kind)
            if now is not None and holds_now(spec.op, now, spec.threshold):
                raise AlreadyTrue(symbol, spec, now)
        alert = await self.store.add(
            user_id=user_id,
            chat_id=chat_id,
            symbol=symbol,
            kind=spec.kind,
            op=spec.op,
            threshold=spec.threshold,
            window_seconds=spec.window_seconds,
            now_ms=now_ms(self.clock),
        )
        self._register(alert)
        return alert

    async def current(self, symbol: str, kind: str) -> Decimal | None:
        """The value a ``price``/``funding``/``funding_apr`` alert on ``symbol`` watches now."""
        if kind == "price":
            price = self.market.prices.get(symbol)
            return price if price is not None else await self.market.get_price(symbol)
        if kind not in ("funding", "funding_apr"):
            return None
        rate = self.market.funding_rates.get(symbol)
        if rate is None:
            rows = await self.market.get_mark_prices(symbol)
            if not rows:
                return None
            rate = Decimal(str(rows[0]["fundingRate"]))
        if kind == "funding":
            return rate
        market = self.market.markets.get(symbol)
        ms = market.funding_interval_ms if market and market.funding_interval_ms else None
        return apr(rate, Decimal(ms or 3_600_000) / Decimal(3_600_000))

    async def for_user(self, actor: Actor) -> list[Alert]:
        """``actor``'s own alerts — nobody else's."""
        actor.require(Action.ALERTS)
        return await self.store.for_user(actor.user_id)

    async def remove(self, actor: Actor, alert_id: int) -> bool:
        """Remove one of ``actor``'s alerts; False when there is none of theirs by that id."""
        actor.require(Action.ALERTS)
        removed = await self.store.delete(alert_id, actor.user_id)
        if removed:
            self._forget(alert_id)
        return removed

    async def clear(self, actor: Actor) -> int:
        actor.require(Action.ALERTS)
        ids = await self.store.clear(actor.user_id)
        for i in ids:
            self._forget(i)
        return len(ids)

    async def mute(self, actor: Actor, alert_id: int, seconds: int) -> bool:
        actor.require(Action.ALERTS)
        until = now_ms(self.clock) + seconds * 1000
        if not await self.store.mute(alert_id, actor.user_id, until):
            return False
        alert = self.alerts.get(alert_id)
        if alert is not None:
            self.alerts[alert_id] = replace(alert, muted_until_ms=until)
        return True

    # ------------------------------------------------------------------ evaluation

    async def on_price(self, symbol: str, price: Decimal) -> list[Firing]:
        """One tick: fire crossed price alerts, re-arm released ones, check move alerts."""
        self.ticks += 1
        now = now_ms(self.clock)
        fired: list[Firing] = []
        crossed = self.index.crossed(symbol, price)
        if crossed:
            for armed in crossed:
                self.parked.park(armed, self.band)
            # one transaction for the whole batch: a burst costs one write, not hundreds
            try:
                won = await self._disarm([a.id for a in crossed], price, now)
            except Exception:  # nothing stored: armed again, the next tick tries again
                for armed in crossed:
                    self.parked.remove(armed.id)
                    self.index.add(armed)
                raise
            for armed in crossed:
                if armed.id in won:
                    firing = await self._announce(armed.id, price, now)
                    if firing is not None:
                        fired.append(firing)
        released = self.parked.released(symbol, price)
        if released:  # one transaction for the batch, as for firing
            await self.store.rearm_many([a.id for a in released])
        for armed in released:
            alert = self.alerts.get(armed.id)
            if alert is None:
                continue
            self.alerts[armed.id] = replace(alert, armed=True)
            self.index.add(armed)
        moves = self.moves.get(symbol)
        if moves:
            fired.extend(await self._moves(symbol, price, now, moves))
        return fired

    async def _moves(
        self, symbol: str, price: Decimal, now: int, moves: dict[int, Alert]
    ) -> list[Firing]:
        trail = self.trails.setdefault(symbol, deque())
        if not trail or now - trail[-1][0] >= SAMPLE_MS:
            trail.append((now, price))
        longest = max((a.window_seconds or 0) for a in moves.values()) * 1000
        while trail and now - trail[0][0] > longest:
            trail.popleft()
        fired: list[Firing] = []
        for alert in list(moves.values()):
            window = (alert.window_seconds or 3600) * 1000
            if alert.last_fired_ms is not None and now - alert.last_fired_ms < window:
                continue  # one message per window: the same move never fires twice
            base = [p for t, p in trail if now - t <= window]
            if not base:
                continue
            low, high = min(base), max(base)
            up = (price - low) / low if low else Decimal(0)
            down = (high - price) / high if high else Decimal(0)
            move = up if up >= down else -down
            if abs(move) >= alert.threshold:
                firing = await self._fire(alert.id, price, now, detail=f"{move:+.6f}")
                if firing is not None:
                    fired.append(firing)
                    # move alerts stay armed, paced by their window (last_fired_ms is stored)
                    await self.store.rearm(alert.id)
                    self.alerts[alert.id] = replace(firing.alert, armed=True)
                    moves[alert.id] = self.alerts[alert.id]
        return fired

    async def on_funding(self, symbol: str, rate: Decimal) -> list[Firing]:
        """A ``markPrice`` update: fire funding alerts whose condition now holds."""
        alerts = self.funding.get(symbol)
        if not alerts:
            return []
        now = now_ms(self.clock)
        fired: list[Firing] = []
        for alert in list(alerts.values()):
            value = rate
            if alert.kind == "funding_apr":
                market = self.market.markets.get(symbol)
                ms = market.funding_interval_ms if market and market.funding_interval_ms else None
                value = apr(rate, Decimal(ms or 3_600_000) / Decimal(3_600_000))
            holds = holds_now(alert.op, value, alert.threshold)
            band = abs(alert.threshold) * self.band + Decimal("0.000001") * (
                alert.kind == "funding"
            )
            if alert.armed and holds:
                firing = await self._fire(alert.id, value, now)
                if firing is not None:
                    fired.append(firing)
                    alerts[alert.id] = self.alerts[alert.id]
            elif not alert.armed and not holds:
                back = (
                    value <= alert.threshold - band
                    if alert.op == ">"
                    else value >= alert.threshold + band
                )
                if back:
                    await self.store.rearm(alert.id)
                    self.alerts[alert.id] = alerts[alert.id] = replace(alert, armed=True)
        return fired

    async def on_spread(self, symbol: str, spread_apr: Decimal) -> list[Firing]:
        """A fresh cross-venue funding spread (APR, ≥ 0) for the Backpack perp ``symbol``."""
        alerts = self.spreads.get(symbol)
        if not alerts:
            return []
        now = now_ms(self.clock)
        fired: list[Firing] = []
        for alert in list(alerts.values()):
            holds = holds_now(alert.op, spread_apr, alert.threshold)
            band = abs(alert.threshold) * self.band
            if alert.armed and holds:
                firing = await self._fire(alert.id, spread_apr, now)
                if firing is not None:
                    fired.append(firing)
                    alerts[alert.id] = self.alerts[alert.id]
            elif not alert.armed and not holds:
                back = (
                    spread_apr <= alert.threshold - band
                    if alert.op == ">"
                    else spread_apr >= alert.threshold + band
                )
                if back:
                    await self.store.rearm(alert.id)
                    self.alerts[alert.id] = alerts[alert.id] = replace(alert, armed=True)
        return fired

    def spread_symbols(self) -> set[str]:
        """The perps that have spread alerts (what the spread watcher must read)."""
        return {s for s, alerts in self.spreads.items() if alerts}

    async def check_all(self) -> list[Firing]:
        """After a (re)connect or a stale period: check every armed alert at current values."""
        fired: list[Firing] = []
        symbols = set(self.index.symbols()) | {a.symbol for a in self.alerts.values()}
        for symbol in sorted(symbols):
            price = self.market.prices.get(symbol)
            if price is None:
                try:
                    price = await self.market.get_price(symbol)
                except Exception as exc:
                    log.warning("could not check alerts for %s: %s", symbol, exc)
                    continue
            fired.extend(await self.on_price(symbol, price))
            rate = self.market.funding_rates.get(symbol)
            if rate is not None:
                fired.extend(await self.on_funding(symbol, rate))
        return fired

    async def _fire(
        self, alert_id: int, value: Decimal, now: int, detail: str = ""
    ) -> Firing | None:
        alert = self.alerts.get(alert_id)
        if alert is None:
            return None
        if alert_id not in await self._disarm([alert_id], value, now, detail):
            return None  # already fired (another tick, another process): never twice
        return await self._announce(alert_id, value, now, detail)

    async def _disarm(
        self, alert_ids: list[int], value: Decimal, now: int, detail: str = ""
    ) -> set[int]:
        """Store ``alert_ids`` as fired; the ids that were armed. With ``before_fired``, their
        notices are written first (see there)."""
        if self.before_fired is not None:
            armed = await self.store.armed_among(alert_ids)
            if not armed:
                return set()
            done = [
                replace(a, armed=False, fired_count=a.fired_count + 1, last_fired_ms=now)
                for a in armed
            ]
            await self.before_fired([Firing(a, value, now, detail) for a in done])
            alert_ids = [a.id for a in armed]
        won = await self.store.fired_many(alert_ids, now)
        crash_point(STORED_FIRED)
        return won

    async def _announce(
        self, alert_id: int, value: Decimal, now: int, detail: str = ""
    ) -> Firing | None:
        """An alert the database has just disarmed: update memory and tell its owner."""
        alert = self.alerts.get(alert_id)
        if alert is None:
            return None
        alert = replace(alert, armed=False, fired_count=alert.fired_count + 1, last_fired_ms=now)
        self.alerts[alert_id] = alert
        firing = Firing(alert, value, now, detail)
        muted = alert.muted_until_ms is not None and alert.muted_until_ms > now
        log.info(
            "alert #%s fired: %s %s %s %s at %s (user %s%s)",
            alert_id,
            alert.symbol,
            alert.kind,
            alert.op,
            alert.threshold,
            value,
            alert.user_id,
            ", muted" if muted else "",
        )
        if self.on_fire is not None and not muted:
            try:
                await self.on_fire(firing)
            except Exception:
                log.exception("could not announce alert %s", alert_id)
        for listener in self.listeners:
            try:
                await listener(firing)
            except Exception:
                log.exception("alert listener failed for alert %s", alert_id)
        return firing
