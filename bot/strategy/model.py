"""The strategy's domain values: market snapshot, config, positions it owns, intended actions.

Everything here is a frozen dataclass of ``Decimal`` money so that :func:`bot.strategy.decide`
stays a pure function that tests can feed tables of cases.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from bot.render import money
from bot.services.chat.numbers import NumberError, Unit, bounds, parse_number, plain

Kind = Literal["directional", "carry", "cross"]
Side = Literal["Bid", "Ask"]
ActionKind = Literal["open", "close"]

ZERO = Decimal(0)
ONE = Decimal(1)
BPS = Decimal("0.0001")
HOUR_MS = 3_600_000

#: A price level: (price, quantity), best first.
Level = tuple[Decimal, Decimal]


@dataclass(frozen=True, slots=True)
class PerpSnapshot:
    """What the strategy knows about one perp (and its spot twin, for carry) at one instant."""

    symbol: str
    base: str
    mark: Decimal
    funding_rate: Decimal  # per funding interval, a fraction; positive ⇒ longs pay shorts
    funding_interval_hours: Decimal
    volume_24h: Decimal  # quote (USDC) volume over the last 24 h
    step_size: Decimal
    min_quantity: Decimal
    bids: tuple[Level, ...]  # best first
    asks: tuple[Level, ...]  # best first
    spot_symbol: str | None = None
    spot_step_size: Decimal | None = None
    spot_min_quantity: Decimal | None = None
    spot_bids: tuple[Level, ...] = ()
    spot_asks: tuple[Level, ...] = ()
    spot_price: Decimal | None = None
    next_funding_ms: int = 0

    @property
    def has_spot(self) -> bool:
        return self.spot_symbol is not None and self.spot_step_size is not None


@dataclass(frozen=True, slots=True)
class Fees:
    """Taker fees as fractions (the strategy only sends market orders)."""

    perp_taker: Decimal = Decimal("0.0005")
    spot_taker: Decimal = Decimal("0.0010")


@dataclass(frozen=True, slots=True)
class MarketSnapshot:
    """Every perp the strategy may trade, at one instant."""

    perps: tuple[PerpSnapshot, ...]
    fees: Fees = Fees()
    taken_at_ms: int = 0

    def get(self, symbol: str) -> PerpSnapshot | None:
        for p in self.perps:
            if p.symbol == symbol:
                return p
        return None


@dataclass(frozen=True, slots=True)
class StrategyPosition:
    """A position the strategy opened and owns.

    ``perp_quantity`` is signed (negative = short); ``spot_quantity`` is the spot hedge held
    (zero for directional trades).
    """

    symbol: str
    kind: Kind
    perp_quantity: Decimal
    perp_entry: Decimal
    opened_at_ms: int
    entry_rate: Decimal
    spot_symbol: str | None = None
    spot_quantity: Decimal = ZERO
    spot_entry: Decimal = ZERO
    #: ``cross``: the hedge venue's id the second leg is held on (``None``: the default).
    hedge_venue: str | None = None

    @property
    def notional(self) -> Decimal:
        return abs(self.perp_quantity) * self.perp_entry

    @property
    def is_short(self) -> bool:
        return self.perp_quantity < 0

    def unhedged_pnl(self, perp_mark: Decimal, spot_price: Decimal | None) -> Decimal:
        """Price PnL of both legs at the given prices (the hedge cancels most of it in carry)."""
        pnl = (perp_mark - self.perp_entry) * self.perp_quantity
        if self.spot_quantity:
            spot = spot_price if spot_price is not None else perp_mark
            pnl += (spot - self.spot_entry) * self.spot_quantity
        return pnl


@dataclass(frozen=True, slots=True)
class Portfolio:
    """The strategy's own book: open positions and when each symbol was last exited."""

    positions: tuple[StrategyPosition, ...] = ()
    last_exit_ms: Mapping[str, int] = field(default_factory=dict)

    def position(self, symbol: str) -> StrategyPosition | None:
        for p in self.positions:
            if p.symbol == symbol:
                return p
        return None


@dataclass(frozen=True, slots=True)
class Leg:
    """One market order of an action."""

    symbol: str
    side: Side
    quantity: Decimal
    reduce_only: bool = False
    expected_price: Decimal = ZERO
    venue: str | None = None  # None: Backpack; "hedge": the hedge venue (a perp there)

    @property
    def is_buy(self) -> bool:
        return self.side == "Bid"


@dataclass(frozen=True, slots=True)
class Action:
    """An intended trade: open or close one strategy position (one or two legs)."""

    kind: ActionKind
    symbol: str
    strategy: Kind
    legs: tuple[Leg, ...]
    reason: str
    funding_rate: Decimal
    notional: Decimal
    expected_edge: Decimal = ZERO  # USDC over the horizon, after costs (opens only)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A perp's evaluation: the trade it would be and why it is or is not taken."""

    symbol: str
    funding_rate: Decimal
    strategy: Kind | None
    quantity: Decimal
    notional: Decimal
    expected_funding: Decimal
    fees: Decimal
    slippage: Decimal
    edge: Decimal  # expected_funding − fees − slippage
    eligible: bool
    reason: str


@dataclass(frozen=True, slots=True)
class StrategyConfig:
    """User-editable strategy settings (``/strategy set key value``)."""

    kind: Kind = "carry"
    entry_rate: Decimal = Decimal("0.0001")  # |rate| per interval needed to open (the seed's)
    exit_rate: Decimal = Decimal("0.00003")  # close when the earning rate drops below this
    allow_unhedged: bool = False  # carry: may negative funding be traded with a naked long?
    trade_notional: Decimal = Decimal(1000)  # USDC per new position
    max_notional_per_symbol: Decimal = Decimal(2000)
    max_notional_total: Decimal = Decimal(10000)
    max_positions: int = 3
    horizon_hours: Decimal = Decimal(24)  # how long we expect to collect funding
    min_edge_bps: Decimal = Decimal(5)  # required edge after costs, in bps of notional
    max_hold_hours: Decimal = Decimal(72)
    stop_loss_pct: Decimal = Decimal(3)  # % of notional lost on the unhedged PnL
    #: Hold the stop-loss of unhedged perps on the exchange (a conditional order that works
    #: while the bot is down) instead of checking it each cycle.
    stop_on_exchange: bool = False
    cooldown_minutes: int = 60
    symbols: tuple[str, ...] = ()  # allow-list of bases or symbols; empty = every perp
    min_volume_24h: Decimal = Decimal(100_000)
    #: Each changed setting as the user typed it (``0.01%``, ``$1000``), for display; not a
    #: setting itself, so it takes no part in equality.
    shown: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def rate_per(self) -> str:
        """What ``entry_rate``/``exit_rate`` are per: a funding interval, or (cross) an hour."""
        return "hour" if self.kind == "cross" else "interval"

    def allows(self, perp: PerpSnapshot) -> bool:
        if not self.symbols:
            return True
        wanted = {s.upper() for s in self.symbols}
        return perp.symbol.upper() in wanted or perp.base.upper() in wanted

    def to_dict(self) -> dict[str, str]:
        """Every setting as text (stored in the database, shown in chat)."""
        out: dict[str, str] = {}
        for f in fields(self):
            if f.name not in CONFIG_KEYS:
                continue
            v = getattr(self, f.name)
            if f.name in self.shown:
                out[f.name] = self.shown[f.name]
            elif isinstance(v, bool):
                out[f.name] = "on" if v else "off"
            elif isinstance(v, tuple):
                out[f.name] = ",".join(v)
            elif isinstance(v, Decimal):
                out[f.name] = plain(v)
            else:
                out[f.name] = str(v)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, str]) -> StrategyConfig:
        """Rebuild from :meth:`to_dict` output; unknown keys are ignored (older versions).

        The cross-setting rules were checked when the settings were saved, so they are not
        re-checked one key at a time here (that would depend on the order of the keys).
        """
        cfg = cls()
        for key, value in data.items():
            if key not in CONFIG_KEYS:
                continue
            try:
                cfg = cfg._set(key, value)
            except ConfigError:
                # Stored before the shared number grammar (``str(Decimal)`` may be ``1E-7``):
                # read it as the plain decimal it was.
                try:
                    cfg = cfg._set(key, plain(Decimal(value)))
                except (ConfigError, InvalidOperation):
                    continue  # keep the default rather than refuse to start
        return cfg

    def _set(self, key: str, text: str) -> StrategyConfig:
        spec = CONFIG_KEYS.get(key)
        if spec is None:
            raise ConfigError(f"unknown setting {key!r}; known: {', '.join(sorted(CONFIG_KEYS))}")
        value, shown = spec.parse(key, text.strip())
        return replace(self, **{key: value}, shown={**self.shown, key: shown})

    def with_value(self, key: str, text: str) -> StrategyConfig:
        """A copy with one setting parsed from text; raises :class:`ConfigError` when invalid."""
        cfg = self._set(key, text)
        per = cfg.rate_per
        if cfg.exit_rate >= cfg.entry_rate:
            raise ConfigError(
                f"exit_rate ({money.setting_rate(cfg.exit_rate, per)}) must be below entry_rate "
                f"({money.setting_rate(cfg.entry_rate, per)}) so entries and exits do not flap"
            )
        if cfg.trade_notional > cfg.max_notional_per_symbol:
            raise ConfigError(
                f"trade_notional ({money.usdc(cfg.trade_notional)}) must not exceed "
                f"max_notional_per_symbol ({money.usdc(cfg.max_notional_per_symbol)})"
            )
        if cfg.max_notional_per_symbol > cfg.max_notional_total:
            raise ConfigError(
                f"max_notional_per_symbol ({money.usdc(cfg.max_notional_per_symbol)}) must not "
                f"exceed max_notional_total ({money.usdc(cfg.max_notional_total)})"
            )
        return cfg


class ConfigError(ValueError):
    """A setting that does not parse or breaks an invariant; the message says which and why."""


#: How a numeric setting is typed and stored. ``rate``: a fraction, ``0.0001`` or ``0.01%``;
#: ``usdc``: a notional, ``1000``, ``$1k``, ``1000 usdc``; ``points``: percent points, ``3`` or
#: ``3%``; ``bps``: basis points, ``5`` or ``0.05%``; ``decimal``/``int``: plain numbers.
_SCALE = {"rate": Decimal(1), "points": Decimal(100), "bps": Decimal(10_000)}


@dataclass(frozen=True, slots=True)
class _Key:
    kind: (
        str  # "rate" | "usdc" | "points" | "bps" | "decimal" | "int" | "bool" | "kind" | "symbols"
    )
    low: Decimal | None = None
    high: Decimal | None = None
    example: str = ""
    help: str = ""

    def parse(self, key: str, text: str) -> tuple[Any, str]:
        """``(value, text to show)`` — the value in the setting's unit, the text as typed."""
        if self.kind == "bool":
            low = text.lower()
            if low in ("on", "true", "yes", "1"):
                return True, "on"
            if low in ("off", "false", "no", "0"):
                return False, "off"
            raise ConfigError(f"{key} must be on or off, e.g. /strategy set {key} on")
        if self.kind == "kind":
            if text.lower() not in ("directional", "carry", "cross"):
                raise ConfigError(f"{key} must be directional, carry or cross")
            return text.lower(), text.lower()
        if self.kind == "symbols":
            if text.lower() in ("", "all", "*", "-"):
                return (), "all"
            parts = tuple(p.strip().upper() for p in text.split(",") if p.strip())
            if len(parts) > 50:
                raise ConfigError(f"{key}: at most 50 markets, not {len(parts)}")
            for p in parts:
                if len(p) > 40 or not p.replace("_", "").isalnum() or not p.isascii():
                    raise ConfigError(
                        f"{p[:24]!r} is not a symbol, e.g. /strategy set {key} BTC,ETH"
                    )
            return parts, ",".join(parts)
        return self._number(key, text)

    def _number(self, key: str, text: str) -> tuple[Any, str]:
        example = f"/strategy set {key} {self.example}"
        scale = _SCALE.get(self.kind)
        try:
            n = parse_number(
                text,
                what=key,
                example=example,
                percent="allow" if scale is not None else "no",
                usdc=self.kind == "usdc",
                suffixes=self.kind == "usdc",
                signed=True,
                zero=True,
            )
        except NumberError as err:
            raise ConfigError(f"{err.problem} For example: {example}") from None
        # A typed percent is a fraction (``3%`` = 0.03); a bare number is in the setting's own
        # unit (``3`` percent points, ``5`` bps, ``0.0001`` as a rate).
        value = n.value
        if scale is not None and n.unit == "percent":
            value = (n.value * scale).normalize()
        # Rates are always said as percents, whatever was typed (0.0001 → 0.01%).
        shown_unit: Unit = "percent" if self.kind == "rate" or n.unit == "percent" else n.unit
        if (self.low is not None and value < self.low) or (
            self.high is not None and value > self.high
        ):
            div = scale if scale is not None and shown_unit == "percent" else Decimal(1)
            lo = None if self.low is None else self.low / div
            hi = None if self.high is None else self.high / div
            raise ConfigError(f"{key} must be {bounds(lo, hi, shown_unit)}, e.g. {example}")
        if self.kind == "int":
            if value != value.to_integral_value():
                raise ConfigError(f"{key} must be a whole number, e.g. {example}")
            return int(value), str(int(value))
        return value, n.text if n.unit != "plain" else plain(value)


D = Decimal
CONFIG_KEYS: dict[str, _Key] = {
    "kind": _Key(
        "kind", example="carry", help="directional (the seed's rule), carry, or cross (2 venues)"
    ),
    "entry_rate": _Key(
        "rate", D("0.000001"), D("0.05"), "0.01%", "the |rate| needed to open (cross: the spread)"
    ),
    "exit_rate": _Key(
        "rate", D(0), D("0.05"), "0.003%", "close below this earning rate (cross: the spread)"
    ),
    "allow_unhedged": _Key("bool", example="off", help="carry: naked long on negative funding"),
    "trade_notional": _Key("usdc", D(1), D(10_000_000), "1000", "USDC per position"),
    "max_notional_per_symbol": _Key("usdc", D(1), D(10_000_000), "2000", "USDC cap per symbol"),
    "max_notional_total": _Key("usdc", D(1), D(100_000_000), "10000", "USDC cap overall"),
    "max_positions": _Key("int", D(0), D(100), "3", "open positions at most"),
    "horizon_hours": _Key("decimal", D(1), D(24 * 30), "24", "hours of funding counted"),
    "min_edge_bps": _Key("bps", D(0), D(10_000), "5", "edge after costs, bps of notional"),
    "max_hold_hours": _Key("decimal", D(1), D(24 * 90), "72", "close after this long"),
    "stop_loss_pct": _Key("points", D("0.1"), D(100), "3%", "% loss on unhedged PnL"),
    "stop_on_exchange": _Key("bool", example="on", help="stop-loss as an exchange order"),
    "cooldown_minutes": _Key("int", D(0), D(24 * 60 * 7), "60", "wait after an exit"),
    "symbols": _Key("symbols", example="BTC,ETH", help="allow-list; all = every perp"),
    "min_volume_24h": _Key("usdc", D(0), D(10**12), "100000", "24h volume a market needs"),
}


def config_help() -> list[tuple[str, str, str]]:
    """``(key, example, help)`` for every setting, in declaration order."""
    return [(k, v.example, v.help) for k, v in CONFIG_KEYS.items()]
