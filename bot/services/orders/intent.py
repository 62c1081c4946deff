"""What the user asked to trade, parsed from command text — pure, no market data needed.

``/buy BTC 0.01``, ``/sell ETH 0.5``, ``/buy SOL $200`` (USDC notional), ``/buy BTC 0.01 @ 60000``
(limit), optional flags ``post`` and ``reduce``, attached stops ``sl 60000 tp 70000``;
``/close BTC [50%]``; ``/sl BTC 60000``, ``/tp BTC 70000``, ``/sl BTC 5%`` (from the entry),
``/sl BTC off``. The parser checks the
*shape* of the request (is the size a positive plain number, is there a price after ``@`` ...);
everything that needs the market (does the symbol exist, too many decimals for the step, price
far from the market, notional over the limit) is checked when the preview is built.

Every rejection is an :class:`IntentError` with the problem and an example of the right form, so
the handler can answer with both and nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from bot.services.chat import numbers

Side = Literal["buy", "sell"]
StopKind = Literal["sl", "tp"]
#: What each kind of stop is called in messages.
STOP_NAMES: dict[str, str] = {"sl": "stop-loss", "tp": "take-profit"}

#: A plain positive-looking decimal: digits with an optional dot part (no exponent, no sign).
_NUMBER = re.compile(r"^(?:\d+(?:\.\d*)?|\.\d+)$")
_SYMBOL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")
_POST_FLAGS = frozenset({"post", "postonly", "post-only", "post_only", "maker"})
_REDUCE_FLAGS = frozenset({"reduce", "reduceonly", "reduce-only", "reduce_only"})
_QUOTE_WORDS = frozenset({"usdc", "usd"})


def examples(command: str) -> str:
    """Examples of the right form for a command (``buy``, ``sell`` or ``close``)."""
    if command == "close":
        return "/close BTC  or  /close BTC 50%"
    if command in STOP_NAMES:
        return f"/{command} BTC 60000  ·  /{command} BTC 5%  ·  /{command} BTC off"
    return (
        f"/{command} BTC 0.01  ·  /{command} SOL $200  ·  "
        f"/{command} BTC 0.01 @ 60000  ·  /{command} ETH 0.5 @ 3000 post"
    )


class IntentError(ValueError):
    """A request that cannot become an order; ``problem`` says why, ``example`` shows how."""

    def __init__(self, problem: str, example: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.example = example


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """One order as asked: exactly one of ``quantity`` (base units) or ``notional`` (USDC).

    ``price`` makes it a limit order; ``market`` is the symbol as typed (``btc``, ``SOL_USDC``),
    resolved against the exchange's markets when the preview is built.
    """

    side: Side
    market: str
    quantity: Decimal | None = None
    notional: Decimal | None = None
    price: Decimal | None = None
    post_only: bool = False
    reduce_only: bool = False
    venue: str | None = None  # None: Backpack; "hedge": the hedge venue (market orders)
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None

    def __post_init__(self) -> None:
        if (self.quantity is None) == (self.notional is None):
            raise ValueError("an OrderIntent needs exactly one of quantity or notional")
        if self.post_only and self.price is None:
            raise ValueError("post_only needs a limit price")


@dataclass(frozen=True, slots=True)
class CloseIntent:
    """Close ``fraction`` (0 < f ≤ 1) of the open position in ``market`` with a reduce-only
    market order."""

    market: str
    fraction: Decimal = Decimal(1)

    def __post_init__(self) -> None:
        if not Decimal(0) < self.fraction <= Decimal(1):
            raise ValueError("fraction must be in (0, 1]")


@dataclass(frozen=True, slots=True)
class StopIntent:
    """A stop-loss (``sl``) or take-profit (``tp``) on the whole position in ``market``: a
    reduce-only conditional market order that waits on the exchange until the mark price
    reaches ``trigger`` — or, with ``distance`` (a fraction), that far from the entry price."""

    kind: StopKind
    market: str
    trigger: Decimal | None = None
    distance: Decimal | None = None

    def __post_init__(self) -> None:
        if (self.trigger is None) == (self.distance is None):
            raise ValueError("a StopIntent needs exactly one of trigger or distance")


@dataclass(frozen=True, slots=True)
class StopOff:
    """``/sl BTC off``: cancel the position's stop-loss (or take-profit) orders."""

    kind: StopKind
    market: str


Leg = OrderIntent | CloseIntent | StopIntent


@dataclass(frozen=True, slots=True)
class MultiLeg:
    """Several orders approved with one tap and sent in order (e.g. a strategy's hedge pair).

    ``title`` heads the preview; ``origin`` is a free tag (``"strategy:approve:17"``) returned
    in the outcome so the caller can recognise its own confirmations.
    """

    legs: tuple[Leg, ...]
    title: str = ""
    origin: str | None = None

    def __post_init__(self) -> None:
        if not self.legs:
            raise ValueError("a MultiLeg needs at least one leg")


Intent = OrderIntent | CloseIntent | StopIntent | MultiLeg


def _tokens(args: Sequence[str] | str) -> list[str]:
    text = args if isinstance(args, str) else " ".join(args)
    # "0.01@60000" and "@60000" are the same as "0.01 @ 60000".
    text = text.replace("@", " @ ")
    return text.split()


def parse_number(text: str, what: str, example: str) -> Decimal:
    """A strictly positive plain decimal, or an :class:`IntentError` naming ``what`` was wrong.

    The rules are the shared grammar's (:mod:`bot.services.chat.numbers`): no commas, exponents,
    ``inf``/``nan`` or non-ASCII digits, at most 20 digits.
    """
    try:
        return numbers.parse_number(text, what=what, example=example).value
    except numbers.NumberError as err:
        raise IntentError(err.problem, example) from None


def _parse_size(text: str, example: str) -> tuple[Decimal | None, Decimal | None]:
    """``0.01`` → (quantity, None); ``$200`` / ``200$`` / ``200usdc`` → (None, notional)."""
    low = text.lower()
    if low.startswith("$"):
        return None, parse_number(text[1:], "USDC amount", example)
    if low.endswith("$"):
        return None, parse_number(text[:-1], "USDC amount", example)
    for word in _QUOTE_WORDS:
        if low.endswith(word) and len(low) > len(word):
            return None, parse_number(text[: -len(word)], "USDC amount", example)
    return parse_number(text, "size", example), None


def _parse_symbol(text: str, example: str) -> str:
    if not _SYMBOL.match(text) or _NUMBER.match(text) or text.startswith(("$", "-")):
        raise IntentError(
            f"{text!r} is not a market. Put the market first, then the size.", example
        )
    return text


def parse_order(side: Side, args: Sequence[str] | str) -> OrderIntent:
    """Parse the arguments of ``/buy`` or ``/sell`` (without the command itself)."""
    example = examples(side)
    tokens = _tokens(args)
    if not tokens:
        raise IntentError(f"Tell me what to {side} and how much.", example)
    market = _parse_symbol(tokens[0], example)
    rest = tokens[1:]
    if not rest or rest[0] == "@" or rest[0].lower() in _POST_FLAGS | _REDUCE_FLAGS:
        raise IntentError(f"How much {market.upper()}? The size is missing.", example)
    size_text = rest[0]
    rest = rest[1:]
    # "$ 200", "200 $" and "200 usdc" are one amount typed as two tokens.
    if rest and (size_text == "$" or rest[0] == "$" or rest[0].lower() in _QUOTE_WORDS):
        size_text += rest[0]
        rest = rest[1:]
    quantity, notional = _parse_size(size_text, example)

    price: Decimal | None = None
    stops: dict[str, Decimal] = {}
    post_only = reduce_only = False
    i = 0
    while i < len(rest):
        tok = rest[i]
        low = tok.lower()
        if low in STOP_NAMES:
            if low in stops:
                raise IntentError(f"Give '{low}' only once.", example)
            if i + 1 >= len(rest):
                raise IntentError(f"A trigger price must follow '{low}'.", example)
            stops[low] = parse_number(rest[i + 1], f"{STOP_NAMES[low]} price", example)
            i += 2
            continue
        if tok == "@":
            if price is not None:
                raise IntentError("Give the limit price only once.", example)
            if i + 1 >= len(rest):
                raise IntentError("A price must follow '@'.", example)
            price = parse_number(rest[i + 1], "limit price", example)
            i += 2
            continue
        if low in _POST_FLAGS:
            post_only = True
        elif low in _REDUCE_FLAGS:
            reduce_only = True
        else:
            raise IntentError(f"I don't understand {tok!r}.", example)
        i += 1
    if post_only and price is None:
        raise IntentError("'post' (maker only) needs a limit price: add '@ price'.", examples(side))
    return OrderIntent(
        side=side,
        market=market,
        quantity=quantity,
        notional=notional,
        price=price,
        post_only=post_only,
        reduce_only=reduce_only,
        stop_loss=stops.get("sl"),
        take_profit=stops.get("tp"),
    )


def parse_stop(kind: StopKind, args: Sequence[str] | str) -> StopIntent | StopOff:
    """Parse the arguments of ``/sl`` or ``/tp``: a market, then a trigger price, a distance
    from the entry price (``5%``) or ``off``."""
    example = examples(kind)
    name = STOP_NAMES[kind]
    tokens = _tokens(args)
    if not tokens:
        raise IntentError(f"Which position, and where should the {name} be?", example)
    market = _parse_symbol(tokens[0], example)
    rest = tokens[1:]
    if len(rest) == 2 and rest[1] == "%":
        rest = [rest[0] + "%"]
    if not rest:
        raise IntentError(f"Where should the {name} be? Give a price or a % from entry.", example)
    if len(rest) > 1:
        raise IntentError(f"I don't understand {' '.join(rest[1:])!r}.", example)
    text = rest[0]
    if text.lower() in ("off", "cancel", "none", "remove"):
        return StopOff(kind=kind, market=market)
    if text.endswith("%"):
        pct = parse_number(text[:-1], "distance", example)
        if pct >= 100:
            raise IntentError(f"A distance of {text} from the entry is too far.", example)
        return StopIntent(kind=kind, market=market, distance=pct / 100)
    return StopIntent(
        kind=kind, market=market, trigger=parse_number(text, "trigger price", example)
    )


def parse_close(args: Sequence[str] | str) -> CloseIntent:
    """Parse the arguments of ``/close``: a market and an optional percentage (default all)."""
    example = examples("close")
    tokens = _tokens(args)
    if not tokens:
        raise IntentError("Which position? Name the market.", example)
    market = _parse_symbol(tokens[0], example)
    rest = tokens[1:]
    if len(rest) == 2 and rest[1] == "%":
        rest = [rest[0] + "%"]
    if not rest or (len(rest) == 1 and rest[0].lower() in ("all", "100%")):
        return CloseIntent(market=market)
    if len(rest) > 1:
        raise IntentError(f"I don't understand {' '.join(rest[1:])!r}.", example)
    text = rest[0]
    if not text.endswith("%"):
        raise IntentError(
            f"Give the part to close as a percentage, e.g. 50%, not {text!r}.", example
        )
    pct = parse_number(text[:-1], "percentage", example)
    if pct > 100:
        raise IntentError(f"You can close at most 100%, not {text}.", example)
    return CloseIntent(market=market, fraction=pct / 100)


def intent_to_json(intent: Intent) -> dict[str, Any]:
    """A JSON-safe form of an intent (decimals as strings), stored with its confirmation."""
    if isinstance(intent, MultiLeg):
        return {
            "type": "multi",
            "legs": [intent_to_json(leg) for leg in intent.legs],
            "title": intent.title,
            "origin": intent.origin,
        }
    if isinstance(intent, CloseIntent):
        return {"type": "close", "market": intent.market, "fraction": str(intent.fraction)}

    def opt(v: Decimal | None) -> str | None:
        return None if v is None else str(v)

    if isinstance(intent, StopIntent):
        return {
            "type": "stop",
            "kind": intent.kind,
            "market": intent.market,
            "trigger": opt(intent.trigger),
            "distance": opt(intent.distance),
        }

    return {
        "type": "order",
        "side": intent.side,
        "market": intent.market,
        "quantity": opt(intent.quantity),
        "notional": opt(intent.notional),
        "price": opt(intent.price),
        "post_only": intent.post_only,
        "reduce_only": intent.reduce_only,
        "venue": intent.venue,
        "stop_loss": opt(intent.stop_loss),
        "take_profit": opt(intent.take_profit),
    }


def intent_from_json(data: dict[str, Any]) -> Intent:
    """The inverse of :func:`intent_to_json`."""
    kind = data["type"]
    if kind == "multi":
        legs: list[Leg] = []
        for raw in data["legs"]:
            leg = intent_from_json(raw)
            if isinstance(leg, MultiLeg):
                raise ValueError("legs cannot nest")
            legs.append(leg)
        return MultiLeg(legs=tuple(legs), title=data.get("title", ""), origin=data.get("origin"))
    if kind == "close":
        return CloseIntent(market=data["market"], fraction=Decimal(data["fraction"]))

    def opt(v: Any) -> Decimal | None:
        return None if v is None else Decimal(str(v))

    if kind == "stop":
        return StopIntent(
            kind="tp" if data["kind"] == "tp" else "sl",
            market=data["market"],
            trigger=opt(data.get("trigger")),
            distance=opt(data.get("distance")),
        )
    return OrderIntent(
        side="buy" if data["side"] == "buy" else "sell",
        market=data["market"],
        quantity=opt(data.get("quantity")),
        notional=opt(data.get("notional")),
        price=opt(data.get("price")),
        post_only=bool(data.get("post_only")),
        reduce_only=bool(data.get("reduce_only")),
        venue=data.get("venue"),
        stop_loss=opt(data.get("stop_loss")),
        take_profit=opt(data.get("take_profit")),
    )


def legs_of(intent: Intent) -> tuple[Leg, ...]:
    """The orders an intent stands for, in the order they are sent."""
    return intent.legs if isinstance(intent, MultiLeg) else (intent,)
