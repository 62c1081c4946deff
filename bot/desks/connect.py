"""Connecting a desk's own exchange keys: the form of each venue, pure checks with a specific
sentence for each mistake, then ONE read against the venue with those keys; only when it passes
are the keys sealed and stored (:class:`~bot.keyring.desk_keys.DeskKeys`).

=============  ==========================================  ====================================
venue          fields (stored under these names)           checked by
=============  ==========================================  ====================================
backpack       ``api_key`` "API key", ``api_secret``       the API key is the base64 ed25519
               "API secret"                                public key of the secret's seed; one
                                                           signed ``get_balances()``
hyperliquid    ``walletAddress`` "Wallet address",         the key's address is the wallet or
               ``privateKey`` "Private key" (ccxt's        an API wallet it approved
               credential names)                           (``extraAgents``); one read of the
                                                           wallet's ``clearinghouseState``
=============  ==========================================  ====================================

No field's value ever reaches a log, an exception or a ``repr``: the errors say what is wrong
with a value, never the value.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from bot.exchange.client import DEFAULT_REST, DEFAULT_WS, BackpackAPI
from bot.exchange.errors import (
    AuthError,
    BackpackError,
    ExchangeUnavailable,
    NetworkError,
    RateLimitError,
)
from bot.keyring.desk_keys import NOT_CONFIGURED, DeskKeys, hint_of
from bot.keyring.ring import OPERATOR_DESK

if TYPE_CHECKING:
    from bot.settings import Settings

log = logging.getLogger("bot.desks")

#: Hyperliquid's public API (``HEDGE_API_URL_HYPERLIQUID`` points elsewhere).
HYPERLIQUID_URL = "https://api.hyperliquid.xyz"
_HEX40 = re.compile(r"0x[0-9a-fA-F]{40}")
_HEX64 = re.compile(r"(?:0x)?[0-9a-fA-F]{64}")
#: The longest value a field accepts (a pasted page is not a key).
MAX_FIELD = 200


@dataclass(frozen=True)
class Field:
    """One input of a venue's form."""

    name: str
    label: str
    hint: str
    secret: bool = False


#: Each venue's form, in the order the page shows it.
FORMS: dict[str, tuple[Field, ...]] = {
    "backpack": (
        Field("api_key", "API key", "The public key Backpack shows next to the key"),
        Field("api_secret", "API secret", "Shown once when you create the key", secret=True),
    ),
    "hyperliquid": (
        Field("walletAddress", "Wallet address", "Your main account's address, 0x…"),
        Field(
            "privateKey",
            "Private key",
            "An API wallet's key from app.hyperliquid.xyz/API, 0x…",
            secret=True,
        ),
    ),
}
#: How the venues are named in sentences.
NAMES = {"backpack": "Backpack", "hyperliquid": "Hyperliquid"}


class ConnectError(Exception):
    """Connecting failed; ``text`` is the sentence for the user (never a field's value)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class BadInput(ConnectError):
    """A field is missing or malformed, or the key does not match the secret."""


class KeyRefused(ConnectError):
    """The venue refused the keys (or they do not belong to the wallet)."""


class Unreachable(ConnectError):
    """The venue could not be asked; nothing was saved."""


class NotConfigured(ConnectError):
    """The bot has no ``SECRETS_KEYRING``: keys cannot be stored."""


#: The operator's desk trades the keys of the bot's settings; keys stored for it would never
#: be used, so none are taken.
OPERATOR_KEYS = (
    "The operator's desk trades with the keys in the bot's settings (BACKPACK_API_KEY, "
    "HEDGE_EXCHANGES …), which its operator changes there; /connect is for the other desks."
)


class OperatorKeys(ConnectError):
    """Keys offered for the operator's desk, which only trades the environment's."""


@dataclass(frozen=True)
class Credentials:
    """Checked form fields: ``public`` is the API key or wallet address, ``signer`` who signs
    (the key's address for Hyperliquid). ``repr`` shows the venue and hint only."""

    venue: str
    fields: Mapping[str, str] = field(repr=False)
    public: str = field(repr=False)
    signer: str = field(repr=False, default="")

    @property
    def hint(self) -> str:
        return hint_of(self.public)

    def __repr__(self) -> str:
        return f"Credentials({self.venue!r}, {self.hint!r})"

    __str__ = __repr__


@dataclass(frozen=True)
class Connected:
    """What :meth:`Connector.connect` stored: the venue and the key's hint (``…Ab3F``)."""

    venue: str
    hint: str


@dataclass(frozen=True)
class VenueUrls:
    """Where each venue is asked."""

    backpack_rest: str = DEFAULT_REST
    backpack_ws: str = DEFAULT_WS
    hyperliquid: str = HYPERLIQUID_URL

    @classmethod
    def from_settings(cls, settings: Settings) -> VenueUrls:
        hl = next((s.api_url for s in settings.hedge_specs() if s.id == "hyperliquid"), None)
        return cls(settings.backpack_api_url, settings.backpack_ws_url, hl or HYPERLIQUID_URL)


def _text(fields: Mapping[str, Any], f: Field, venue: str) -> str:
    raw = fields.get(f.name)
    value = raw.strip() if isinstance(raw, str) else ""
    if not value:
        raise BadInput(f"Paste your {NAMES[venue]} {f.label}.")
    if len(value) > MAX_FIELD:
        raise BadInput(f"The {f.label} is far too long for a key: paste the {f.label} alone.")
    return value


def _b64_32(value: str, label: str) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise BadInput(
            f"The {label} is not base64: copy it again from Backpack's API keys page "
            "(letters, digits, + and /, ending with =)."
        ) from None
    if len(raw) != 32:
        raise BadInput(
            f"The {label} has the wrong length: it is 44 characters of base64 (32 bytes), "
            f"and this one decodes to {len(raw)} bytes."
        )
    return raw


def validate(venue: str, fields: Mapping[str, Any]) -> Credentials:
    """The form's fields checked without the network; :class:`BadInput` says what is wrong."""
    if venue not in FORMS:
        raise BadInput(f"Connect which venue? One of: {', '.join(FORMS)}.")
    if venue == "backpack":
        return _backpack(fields)
    return _hyperliquid(fields)


def _backpack(fields: Mapping[str, Any]) -> Credentials:
    from nacl.signing import SigningKey

    key_f, secret_f = FORMS["backpack"]
    key, secret = _text(fields, key_f, "backpack"), _text(fields, secret_f, "backpack")
    seed = _b64_32(secret, "API secret")
    public = _b64_32(key, "API key")
    if bytes(SigningKey(seed).verify_key) != public:
        raise BadInput(
            "The API key does not match the API secret: copy both from the same key on "
            "Backpack's API keys page."
        )
    return Credentials("backpack", {"api_key": key, "api_secret": secret}, key, key)


def _hyperliquid(fields: Mapping[str, Any]) -> Credentials:
    from eth_account import Account

    wallet_f, key_f = FORMS["hyperliquid"]
    wallet, key = _text(fields, wallet_f, "hyperliquid"), _text(fields, key_f, "hyperliquid")
    if not _HEX40.fullmatch(wallet):
        raise BadInput(
            "The wallet address is 0x and 40 hex digits: your main account's address on "
            "app.hyperliquid.xyz."
        )
    if _HEX40.fullmatch(key):
        raise BadInput(
            "The private key is an address (0x and 40 hex digits): paste the API wallet's "
            "private key, 0x and 64 hex digits."
        )
    if not _HEX64.fullmatch(key):
        raise BadInput(
            "The private key is 0x and 64 hex digits: an API wallet's key from "
            "app.hyperliquid.xyz/API."
        )
    key = key if key.startswith("0x") else "0x" + key
    try:
        signer = str(Account.from_key(key).address).lower()
    except Exception:  # eth_account raises several types for a key off the curve
        raise BadInput("The private key is not a valid key: copy it again.") from None
    fields_out = {"walletAddress": wallet.lower(), "privateKey": key.lower()}
    return Credentials("hyperliquid", fields_out, wallet.lower(), signer)


async def check(creds: Credentials, urls: VenueUrls, *, seconds: float = 10.0) -> None:
    """One read against the venue with ``creds``: :class:`KeyRefused` when the venue says no,
    :class:`Unreachable` when it cannot be asked."""
    if creds.venue == "backpack":
        await _check_backpack(creds, urls, seconds)
    else:
        await _check_hyperliquid(creds, urls.hyperliquid, seconds)


async def _check_backpack(creds: Credentials, urls: VenueUrls, seconds: float) -> None:
    api = BackpackAPI(
        creds.fields["api_key"],
        creds.fields["api_secret"],
        urls.backpack_rest,
        urls.backpack_ws,
        log,
        timeout=seconds,
        max_retries=1,
    )
    try:
        await api.get_balances()
    except AuthError as exc:
        raise KeyRefused(f"Backpack refused this key: {exc.message}") from None
    except (NetworkError, ExchangeUnavailable, RateLimitError) as exc:
        raise Unreachable(
            f"Could not reach Backpack ({exc.message}); nothing was saved. Try again in a minute."
        ) from None
    except BackpackError as exc:
        raise KeyRefused(f"Backpack refused this key: {exc.message}") from None
    finally:
        await api.close()


async def _check_hyperliquid(creds: Credentials, url: str, seconds: float) -> None:
    wallet = creds.public
    async with httpx.AsyncClient(base_url=url.rstrip("/"), timeout=seconds) as http:
        if creds.signer != wallet:
            agents = await _info(http, {"type": "extraAgents", "user": wallet})
            approved = {
                str(a.get("address", "")).lower() for a in agents or [] if isinstance(a, dict)
            }
            if creds.signer not in approved:
                raise KeyRefused(
                    "This private key is neither the wallet's own key nor an API wallet the "
                    "wallet approved: approve it at app.hyperliquid.xyz/API (or check the "
                    "wallet address)."
                )
        state = await _info(http, {"type": "clearinghouseState", "user": wallet})
        if not isinstance(state, dict) or "marginSummary" not in state:
            raise Unreachable(
                "Hyperliquid answered the wallet's state in a shape the bot does not know; "
                "nothing was saved."
            )


async def _info(http: httpx.AsyncClient, body: dict[str, str]) -> Any:
    try:
        r = await http.post("/info", json=body)
    except httpx.HTTPError as exc:
        raise Unreachable(
            f"Could not reach Hyperliquid ({type(exc).__name__}); nothing was saved. "
            "Try again in a minute."
        ) from None
    if r.status_code == 429 or r.status_code >= 500:
        raise Unreachable(
            f"Could not reach Hyperliquid (HTTP {r.status_code}); nothing was saved. "
            "Try again in a minute."
        )
    if r.status_code >= 400:
        raise KeyRefused(f"Hyperliquid refused the request: {r.text.strip()[:160]}")
    try:
        return r.json()
    except ValueError:
        raise Unreachable("Hyperliquid's answer was not JSON; nothing was saved.") from None


class Connector:
    """``connect``: check the keyring, the fields, then the venue; only then seal and store.
    ``disconnect`` wipes a desk's keys for a venue."""

    def __init__(self, keys: DeskKeys, urls: VenueUrls, *, seconds: float = 10.0) -> None:
        self.keys = keys
        self.urls = urls
        self.seconds = seconds

    def __repr__(self) -> str:
        return f"Connector({self.urls!r})"

    async def connect(self, desk_id: str, venue: str, fields: Mapping[str, Any]) -> Connected:
        """Store the desk's keys for ``venue`` after they passed every check; raises a
        :class:`ConnectError` with the sentence for the user otherwise (nothing stored)."""
        if not self.keys.configured:
            raise NotConfigured(NOT_CONFIGURED)
        if desk_id == OPERATOR_DESK:
            raise OperatorKeys(OPERATOR_KEYS)
        creds = validate(venue, fields)
        await check(creds, self.urls, seconds=self.seconds)
        await self.keys.put(desk_id, venue, creds.fields, creds.hint)
        log.info("desk %s connected its %s key %s", desk_id, NAMES[venue], creds.hint)
        return Connected(venue, creds.hint)

    async def disconnect(self, desk_id: str, venue: str) -> bool:
        """Wipe the desk's keys for ``venue``; ``True`` when there were some."""
        if venue not in FORMS:
            raise BadInput(f"Disconnect which venue? One of: {', '.join(FORMS)}.")
        removed = await self.keys.delete(desk_id, venue)
        if removed:
            log.info("desk %s disconnected its %s key", desk_id, NAMES[venue])
        return removed
