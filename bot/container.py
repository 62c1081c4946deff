"""The typed container of every long-lived object, built once by :mod:`bot.app`.

Handlers reach it as ``context.bot_data.services`` and jobs get it handed in; nothing is looked
up by string and nothing is built lazily elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.alerts.service import AlertService
from bot.clock import Clock
from bot.desks.model import OPERATOR, Desk
from bot.desks.registry import Desks
from bot.exchange.client import BackpackAPI
from bot.paper import PaperExchange
from bot.services.access import Role
from bot.services.account.journal import JournalService
from bot.services.account.views import AccountService
from bot.services.market import MarketService
from bot.services.notices.fills import FillFeed
from bot.services.notices.outbox import Notices
from bot.services.notices.watchers import WatcherService
from bot.services.orders.confirm import TradingService
from bot.services.orders.sender import OrderSender
from bot.services.recovery import RecoveryService
from bot.services.strategy.arb import ArbService
from bot.services.strategy.control import StrategyService
from bot.settings import Settings
from bot.storage.alerts import AlertStore
from bot.storage.db import Database
from bot.storage.events import EventStore
from bot.venues.port import Venue

#: A help line: (command, what it does, examples).
HelpLine = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class Services:
    """Everything handlers and jobs use for one desk, in the order it was built.

    The desk's own parts (its account client, order path, trading, journal, strategy, watchers,
    fills, recovery, buttons) are built for it by :class:`bot.desks.factory.DeskFactory`; the
    public ones (settings, clock, database, market data, alerts, outbox, registry) are the same
    objects in every desk's container.
    """

    settings: Settings
    clock: Clock
    db: Database
    paper: PaperExchange | None
    market_api: BackpackAPI
    account_api: BackpackAPI
    orders: OrderSender
    market: MarketService
    venue: Venue  # Backpack behind the venue port
    hedge: Venue | None  # the second venue (HEDGE_EXCHANGE), or None
    arb: ArbService | None  # cross-venue funding, when there is a hedge venue
    account: AccountService
    trading: TradingService
    journal: JournalService
    strategy: StrategyService
    alert_store: AlertStore
    alerts: AlertService
    watchers: WatcherService
    outbox: Notices
    recovery: RecoveryService
    fills: FillFeed  # the order stream → fill notices, stale keyboards
    events: EventStore  # what the chat was shown: buttons per message
    desk: Desk  # whose account this is
    desks: Desks  # every desk and its members (shared)
    trading_mode: str  # this desk's: "paper" until it trades on its own keys on a live bot

    @property
    def mode(self) -> str:
        return self.trading_mode

    @property
    def allowed_groups(self) -> frozenset[int]:
        """Groups where this desk's account may be shown: only the operator's desk has any
        (``TELEGRAM_ALLOWED_GROUPS``); other desks' account stays in private chats."""
        if self.desk.id != OPERATOR:
            return frozenset()
        return frozenset(self.settings.telegram_allowed_groups)

    def role_of(self, user_id: int | None) -> Role | None:
        """``user_id``'s role on this desk (``None``: not a member)."""
        return None if user_id is None else self.desks.role(self.desk.id, user_id)
