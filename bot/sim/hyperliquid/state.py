"""What the Hyperliquid face knows beyond the engine: wallets, API wallets, leverage, cloids.

The engine keeps balances, orders, positions, fills and funding per account; an account here is
a main wallet's lower-case address. This module adds the venue's own notions on top: who may
sign for whom (API wallets), per-coin leverage, client order ids (``cloid``), builder-fee
approvals, and the position size each funding payment was made on.
"""

from __future__ import annotations

from bisect import insort
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bot.sim.engine import Engine
from bot.sim.hyperliquid.wire import (
    Coin,
    default_leverage,
    perp_coins,
    replay_fills,
)
from bot.sim.model import ZERO, Account, Order

NONCES_KEPT = 100


@dataclass
class Leverage:
    value: int
    cross: bool = True


@dataclass
class VenueState:
    """Everything the venue knows that the engine does not; all keys are lower-case."""

    agents: dict[str, str] = field(default_factory=dict)  # API wallet -> main wallet
    agent_names: dict[str, str] = field(default_factory=dict)
    subaccounts: dict[str, str] = field(default_factory=dict)  # sub-account -> its master
    leverage: dict[tuple[str, int], Leverage] = field(default_factory=dict)
    cloid_oids: dict[tuple[str, str], str] = field(default_factory=dict)  # (user, cloid) -> oid
    oid_cloids: dict[str, str] = field(default_factory=dict)
    closed_ms: dict[str, int] = field(default_factory=dict)  # oid -> when it was cancelled
    builders: dict[tuple[str, str], int] = field(default_factory=dict)  # max fee, tenths of bp
    referrers: dict[str, str] = field(default_factory=dict)
    builder_fees: dict[int, Decimal] = field(default_factory=dict)  # trade id -> builder fee
    funding_szi: dict[tuple[str, int], Decimal] = field(default_factory=dict)
    funding_ms: dict[tuple[str, int], int] = field(default_factory=dict)
    nonces: dict[str, list[int]] = field(default_factory=dict)  # signer -> its highest, sorted

    def dump(self) -> dict[str, Any]:
        """As JSON-ready data (pair keys become lists)."""
        return {
            "agents": self.agents,
            "agent_names": self.agent_names,
            "subaccounts": self.subaccounts,
            "leverage": [[u, a, lev.value, lev.cross] for (u, a), lev in self.leverage.items()],
            "cloids": [[u, c, oid] for (u, c), oid in self.cloid_oids.items()],
            "closed_ms": self.closed_ms,
            "builders": [[u, b, f] for (u, b), f in self.builders.items()],
            "referrers": self.referrers,
            "builder_fees": {str(t): str(f) for t, f in self.builder_fees.items()},
            "funding": [
                [u, i, str(szi), self.funding_ms.get((u, i))]
                for (u, i), szi in self.funding_szi.items()
            ],
            "nonces": self.nonces,
        }

    @classmethod
    def load(cls, data: dict[str, Any]) -> VenueState:
        out = cls(
            agents=dict(data["agents"]),
            agent_names=dict(data["agent_names"]),
            subaccounts=dict(data["subaccounts"]),
            leverage={(u, a): Leverage(v, c) for u, a, v, c in data["leverage"]},
            cloid_oids={(u, c): oid for u, c, oid in data["cloids"]},
            closed_ms=dict(data["closed_ms"]),
            builders={(u, b): f for u, b, f in data["builders"]},
            referrers=dict(data["referrers"]),
            builder_fees={int(t): Decimal(f) for t, f in data["builder_fees"].items()},
            nonces={k: list(v) for k, v in data.get("nonces", {}).items()},
        )
        out.oid_cloids = {oid: c for (_, c), oid in out.cloid_oids.items()}
        for u, i, szi, ms in data["funding"]:
            out.funding_szi[(u, i)] = Decimal(szi)
            if ms is not None:
                out.funding_ms[(u, i)] = ms
        return out


class Venue:
    """The engine seen as Hyperliquid: coins, users, their orders, fills and funding."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.ex = engine.ex
        self.state = VenueState()
        self.coins = perp_coins(self.ex.specs)
        self.by_name = {c.name: c for c in self.coins}
        self.by_symbol = {c.symbol: c for c in self.coins}

    # ------------------------------------------------------------------ users

    def known(self, address: str) -> bool:
        """A main wallet the venue has (it has deposited)."""
        return address in self.ex.accounts

    def principal(self, signer: str) -> str | None:
        """The main wallet ``signer`` acts for: itself, or the user that approved it as agent."""
        if self.known(signer):
            return signer
        return self.state.agents.get(signer)

    def use_nonce(self, signer: str, nonce: int) -> str | None:
        """Take ``nonce`` for ``signer``, or the venue's refusal: each signer's 100 highest
        nonces are kept, and a new one must be unused and above the smallest of them."""
        seen = self.state.nonces.setdefault(signer, [])
        if nonce in seen:
            return f"Invalid nonce: duplicate nonce {nonce}"
        if len(seen) >= NONCES_KEPT and nonce < seen[0]:
            return f"Invalid nonce: nonce too low {nonce} < {seen[0]}"
        insort(seen, nonce)
        if len(seen) > NONCES_KEPT:
            del seen[0]
        return None

    def deposit(self, user: str, amount: Decimal) -> Account:
        """Credit USDC to ``user`` (a new wallet starts at zero, not at the engine's default)."""
        new = user not in self.ex.accounts
        acc = self.ex.account(user)
        usdc = acc.bal("USDC")
        if new:
            usdc[0] = ZERO
        usdc[0] += amount
        self.ex.touch(user)
        self.ex.changed()
        return acc

    def approve_agent(self, user: str, agent: str, name: str = "") -> None:
        self.state.agents[agent] = user
        self.state.agent_names[agent] = name

    def account(self, user: str) -> Account | None:
        """The user's engine account, or ``None`` for a wallet the venue does not know (reads
        of unknown wallets answer empty, they never create one)."""
        return self.ex.accounts.get(user)

    # ------------------------------------------------------------------ coins and leverage

    def coin(self, asset: Any) -> Coin | None:
        if isinstance(asset, bool) or not isinstance(asset, int):
            return None
        return self.coins[asset] if 0 <= asset < len(self.coins) else None

    def leverage(self, user: str, coin: Coin) -> Leverage:
        return self.state.leverage.get((user, coin.asset)) or Leverage(default_leverage(coin))

    # ------------------------------------------------------------------ orders

    def cloid(self, oid: str) -> str | None:
        return self.state.oid_cloids.get(oid)

    def find_order(self, user: str, oid: Any) -> Order | None:
        """An order by ``oid`` (a number) or by ``cloid`` (``0x`` + 32 hex digits)."""
        acc = self.account(user)
        if acc is None:
            return None
        if isinstance(oid, str) and oid.startswith("0x"):
            found = self.state.cloid_oids.get((user, oid.lower()))
            return acc.orders.get(found) if found is not None else None
        if isinstance(oid, bool) or not isinstance(oid, (int, str)):
            return None
        return acc.orders.get(str(oid))

    def status_ms(self, acc: Account, order: Order) -> int:
        """When the order got its current status: cancel time, last fill, else creation."""
        if order.id in self.state.closed_ms:
            return self.state.closed_ms[order.id]
        times = [f["_ts"] for f in acc.fills if f["orderId"] == order.id]
        return max(times) if times else order.created_ms

    # ------------------------------------------------------------------ fills and funding

    def fills(self, user: str) -> list[dict[str, Any]]:
        """``userFills`` rows of ``user``, oldest first."""
        acc = self.account(user)
        if acc is None:
            return []
        return replay_fills(
            acc.fills, self.by_symbol, self.state.oid_cloids, self.state.builder_fees
        )

    def settle(self) -> None:
        """Settle funding now, remembering the position size each payment was made on."""
        before = {
            key: (len(acc.funding), {s: p.qty for s, p in acc.positions.items()})
            for key, acc in self.ex.accounts.items()
        }
        self.engine.settle_funding()
        now = self.ex.now_ms()
        for key, (start, sizes) in before.items():
            rows = self.ex.accounts[key].funding
            for i in range(start, len(rows)):
                self.state.funding_szi[(key, i)] = sizes.get(rows[i]["symbol"], ZERO)
                self.state.funding_ms[(key, i)] = now

    def maybe_settle(self) -> None:
        if self.ex.clock.time() >= self.ex.next_funding:
            self.settle()

    # ------------------------------------------------------------------ margin

    def account_value(self, acc: Account) -> Decimal:
        """USDC plus unrealized PnL at the mark."""
        usdc = acc.bal("USDC")
        upnl = sum(
            (p.qty * (self.ex.markets[s].mark - p.entry) for s, p in acc.positions.items()),
            ZERO,
        )
        return usdc[0] + usdc[1] + upnl

    def margin_used(self, acc: Account) -> Decimal:
        """Initial margin of positions (at the mark) and of resting orders, at each coin's
        leverage."""
        used = ZERO
        for s, p in acc.positions.items():
            coin = self.by_symbol.get(s)
            if coin is not None and p.qty:
                used += abs(p.qty) * self.ex.markets[s].mark / self.leverage(acc.key, coin).value
        for o in acc.open.values():
            coin = self.by_symbol.get(o.symbol)
            if coin is not None and not o.reduce_only:
                used += o.remaining * (o.price or ZERO) / self.leverage(acc.key, coin).value
        return used
