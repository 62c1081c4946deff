"""Every setting, from the environment and ``.env`` (pydantic-settings). See ``.env.example``."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    PrivateAttr,
    SecretStr,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.services.access import Role, parse_users, with_default_owner
from bot.venues.config import VenueSpec, split_ids


class ConfigError(ValueError):
    """A setting is missing or wrong; the message says which and how to fix it."""


class Settings(BaseSettings):
    """The bot's configuration. Field names are the environment variable names, lowercased."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    telegram_bot_token: SecretStr = SecretStr("")
    telegram_api_url: str = "https://api.telegram.org/bot"
    #: ``id[:role]`` items; the ids stay available here as a list, the roles in :attr:`roles`.
    telegram_allowed_users: Annotated[list[int], NoDecode] = Field(default_factory=list)
    #: Group chats where account data and trading are allowed (a team's group).
    telegram_allowed_groups: Annotated[list[int], NoDecode] = Field(default_factory=list)
    trading_mode: Literal["paper", "live"] = "paper"
    backpack_api_key: str | None = None
    backpack_api_secret: SecretStr | None = None
    backpack_api_url: str = "https://api.backpack.exchange"
    backpack_ws_url: str = "wss://ws.backpack.exchange"
    exchange: Literal["backpack", "sim"] = "backpack"
    database_url: str = "sqlite+aiosqlite:///./data/bot.db"
    data_dir: Path = Path("./data")
    max_order_notional: Decimal = Decimal(10000)
    confirm_ttl_seconds: int = Field(default=60, ge=5, le=3600)
    price_drift_tolerance: Decimal = Decimal("0.005")
    log_level: str = "INFO"
    webhook_url: str | None = None
    #: Loopback by default: a reverse proxy (TLS) in front forwards Telegram's POSTs.
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = 8443
    webhook_secret: SecretStr | None = None
    #: Telegram's limit for the whole bot (30 a second; a bot with paid broadcasts may send up to
    #: 1,000): the process set's senders and web processes keep it together.
    telegram_messages_per_second: int = Field(default=30, ge=1, le=1000)
    paper_balance: Decimal = Decimal(10000)
    sim_seed: int = 1
    sim_tick_seconds: float = 0.5
    limit_price_band: Decimal = Decimal("0.2")
    stale_stream_seconds: float = 15.0
    alert_hysteresis: Decimal = Decimal("0.002")
    liquidation_warning_distance: Decimal = Decimal("0.10")
    funding_notice_minutes: int = 10
    strategy_interval_seconds: int = Field(default=60, ge=5)
    local_chat: bool = False
    local_chat_host: str = "127.0.0.1"
    local_chat_port: int = Field(default=8080, ge=0, le=65535)
    local_chat_password: SecretStr | None = None
    hedge_exchange: str = ""
    hedge_credentials: SecretStr = SecretStr("")
    hedge_api_url: str | None = None
    hedge_symbols: Annotated[list[str], NoDecode] = Field(default_factory=list)
    hedge_sim_funding_interval: int = Field(default=28800, ge=60)
    arb_notional: Decimal = Field(default=Decimal(1000), gt=0)
    hedge_exchanges: str = ""
    hedge_max_slippage: Decimal = Field(default=Decimal("0.005"), gt=0, lt=1)
    hedge_leverage: int = Field(default=3, ge=1, le=100)
    arb_min_open_interest: Decimal = Field(default=Decimal(0), ge=0)
    arb_min_volume_24h: Decimal = Field(default=Decimal(0), ge=0)
    arb_horizon_hours: Decimal = Field(default=Decimal(24), gt=0, le=24 * 365)
    #: The dashboard (Telegram Mini App): where the bot serves it, and the public HTTPS URL
    #: Telegram users reach it at (``/dashboard`` needs it, except in the local chat).
    webapp_host: str = "127.0.0.1"
    webapp_port: int = Field(default=8081, ge=0, le=65535)
    webapp_url: str | None = None
    webapp_max_age: int = Field(default=3600, ge=10)
    #: Keys that seal the secrets kept in the database: ``k2:<base64>,k1:<base64>``, newest
    #: first (``python -m bot keys new``). Unset: the keyring file ``DATA_DIR/keyring``, made
    #: on first need unless ``secrets_keyring_file`` is false (then storing one is refused).
    secrets_keyring: SecretStr | None = None
    secrets_keyring_file: bool = True
    #: Desks (issue 21): who may join beyond TELEGRAM_ALLOWED_USERS, how many desks, how long an
    #: invite link lives, and the caps on every desk but the operator's.
    signup: Literal["closed", "invite", "open"] = "closed"
    max_desks: int = 1000
    invite_ttl_hours: int = 24
    desk_max_order_notional: Decimal = Decimal(10000)
    desk_orders_per_minute: int = 20
    #: A desk unused this long, with nothing open, has its clients closed until its next use.
    desk_idle_minutes: int = 30

    _roles: dict[int, Role] = PrivateAttr(default_factory=dict)

    @model_validator(mode="wrap")
    @classmethod
    def _users_and_roles(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        """Split ``id[:role]`` items: the ids go to the field, the roles to :attr:`roles`."""
        roles: dict[int, Role] | None = None
        if isinstance(data, dict):
            key = next((k for k in data if k.lower() == "telegram_allowed_users"), None)
            raw = data.get(key) if key is not None else None
            if isinstance(raw, str):
                roles = parse_users(raw)
            elif isinstance(raw, int) and not isinstance(raw, bool):
                roles = parse_users(str(raw))
            elif isinstance(raw, list | tuple):
                roles = parse_users(",".join(str(v) for v in raw))
            if key is not None and roles is not None:
                data = {**data, key: list(roles)}
        settings = handler(data)
        if isinstance(settings, Settings):
            if roles is None:
                roles = with_default_owner(
                    {uid: "trader" for uid in settings.telegram_allowed_users}
                )
            settings._roles = roles
        return settings

    @field_validator("telegram_allowed_groups", mode="before")
    @classmethod
    def _split_groups(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p.strip() for p in value.replace(";", ",").split(",") if p.strip()]
            try:
                return [int(p) for p in parts]
            except ValueError:
                raise ValueError(
                    "TELEGRAM_ALLOWED_GROUPS must be numeric chat ids separated by commas, "
                    "e.g. -1001234567890"
                ) from None
        if isinstance(value, int):
            return [value]
        return value

    @field_validator("hedge_symbols", mode="before")
    @classmethod
    def _split_symbols(cls, value: object) -> object:
        if isinstance(value, str):
            return [p.strip() for p in value.replace(";", ",").split(",") if p.strip()]
        return value

    @field_validator("hedge_exchange", mode="before")
    @classmethod
    def _hedge_id(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _first_hedge(self) -> Settings:
        """With ``HEDGE_EXCHANGES`` only, ``hedge_exchange`` is its first venue (the default
        hedge: the one the single-venue paths use)."""
        ids = split_ids(self.hedge_exchanges)
        if ids and not self.hedge_exchange:
            self.hedge_exchange = ids[0]
        return self

    @property
    def hedge(self) -> bool:
        """A second venue is configured (``HEDGE_EXCHANGES`` or ``HEDGE_EXCHANGE``)."""
        return bool(self.hedge_ids)

    @property
    def hedge_ids(self) -> list[str]:
        """Every hedge venue's ccxt id, the first being the default (``HEDGE_EXCHANGE``'s)."""
        return split_ids(self.hedge_exchanges) or split_ids(self.hedge_exchange)

    def hedge_specs(self, env: Mapping[str, str] | None = None) -> list[VenueSpec]:
        """Each hedge venue with its credentials and API URL (``HEDGE_CREDENTIALS_<ID>``,
        ``HEDGE_API_URL_<ID>``, read from the environment and ``.env``)."""
        from bot.venues.config import read_env_file, venue_specs

        if env is None:
            env = {**read_env_file(), **{k.upper(): v for k, v in os.environ.items()}}
        return venue_specs(
            self.hedge_ids,
            self.hedge_credentials.get_secret_value(),
            self.hedge_api_url,
            env,
        )

    @property
    def roles(self) -> Mapping[int, Role]:
        """Every allowed user's role (``owner`` | ``trader`` | ``viewer``)."""
        return MappingProxyType(self._roles)

    def role_of(self, user_id: int | None) -> Role | None:
        """The user's role, or ``None`` for someone not on the list."""
        return None if user_id is None else self._roles.get(user_id)

    def with_users(self, roles: Mapping[int, Role], **update: Any) -> Settings:
        """A copy whose allowed users are exactly ``roles`` (``model_copy`` skips validators,
        so the roles are set here rather than parsed again)."""
        copy = self.model_copy(update={**update, "telegram_allowed_users": list(roles)})
        copy._roles = dict(roles)
        return copy

    @field_validator(
        "price_drift_tolerance",
        "hedge_max_slippage",
        "limit_price_band",
        "alert_hysteresis",
        "liquidation_warning_distance",
        mode="before",
    )
    @classmethod
    def _percent(cls, value: object) -> object:
        """Fractions may be written as percents: ``0.5%`` is ``0.005``."""
        if isinstance(value, str) and value.strip().endswith("%"):
            try:
                return Decimal(value.strip()[:-1]) / 100
            except ArithmeticError:
                raise ValueError(f"{value!r} is not a percent like 0.5%") from None
        return value

    @field_validator(
        "backpack_api_key",
        "backpack_api_secret",
        "webhook_url",
        "webhook_secret",
        "local_chat_password",
        "hedge_api_url",
        "webapp_url",
        "secrets_keyring",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("signup", mode="before")
    @classmethod
    def _signup(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip().lower() or "closed"
            if value not in ("closed", "invite", "open"):
                raise ValueError(
                    "SIGNUP is closed (only TELEGRAM_ALLOWED_USERS), invite (owners invite "
                    "with /invite) or open (anyone who starts the bot gets a paper desk)"
                )
        return value

    @property
    def invite_ttl_seconds(self) -> int:
        return self.invite_ttl_hours * 3600

    @field_validator("telegram_api_url")
    @classmethod
    def _strip_url(cls, value: str) -> str:
        return value.rstrip("/")

    @property
    def paper(self) -> bool:
        return self.trading_mode == "paper"

    @property
    def wants_local_chat(self) -> bool:
        """Run against the embedded Bot API and chat page: ``LOCAL_CHAT=true`` or no token."""
        return self.local_chat or not self.telegram_bot_token.get_secret_value()

    @property
    def local_chat_on_loopback(self) -> bool:
        host = self.local_chat_host.strip("[]")
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False

    def check(self) -> None:
        """Start-up checks with messages a user can act on (raises :class:`ConfigError`).

        In local-chat mode (:attr:`wants_local_chat`) no token or Telegram user is needed, but
        the page may only be reachable from other machines behind ``LOCAL_CHAT_PASSWORD``.
        """
        if self.wants_local_chat:
            if not self.local_chat_on_loopback and self.local_chat_password is None:
                raise ConfigError(
                    f"LOCAL_CHAT_HOST={self.local_chat_host} lets other machines open the local "
                    "chat and trade; set LOCAL_CHAT_PASSWORD too (or use 127.0.0.1)."
                )
            chat_password = self.local_chat_password
            if chat_password is not None and len(chat_password.get_secret_value()) < 12:
                raise ConfigError(
                    "LOCAL_CHAT_PASSWORD needs at least 12 characters (a short one is guessed "
                    "quickly); e.g. four random words."
                )
        elif not self.telegram_allowed_users:
            raise ConfigError(
                "TELEGRAM_ALLOWED_USERS is empty, so nobody could use the bot. Put your numeric "
                "Telegram user id in .env (ask @userinfobot), e.g. TELEGRAM_ALLOWED_USERS=123456789"
            )
        if self.trading_mode == "live":
            if self.exchange == "sim":
                raise ConfigError(
                    "TRADING_MODE=live cannot run on EXCHANGE=sim; use TRADING_MODE=paper."
                )
            secret = self.backpack_api_secret.get_secret_value() if self.backpack_api_secret else ""
            if not self.backpack_api_key or not secret:
                raise ConfigError(
                    "TRADING_MODE=live needs BACKPACK_API_KEY and BACKPACK_API_SECRET "
                    "(or use TRADING_MODE=paper to trade without keys)."
                )
        if self.hedge:
            self._check_hedge()
        hook = self.webhook_secret.get_secret_value() if self.webhook_secret else None
        if hook is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", hook):
            raise ConfigError(
                "WEBHOOK_SECRET may hold only A-Z, a-z, 0-9, _ and - (1 to 256 characters); "
                "leave it empty and the bot makes a random one at each start."
            )
        if self.webapp_url and not self.webapp_url.startswith("https://"):
            raise ConfigError(
                "WEBAPP_URL must be the dashboard's public https:// address (Telegram opens Mini "
                "Apps only over HTTPS); see the README, “The dashboard”."
            )
        if self.secrets_keyring is not None:
            from bot.keyring.ring import Keyring, KeyringError

            try:  # the message names a key id at most, never a key
                Keyring.parse(self.secrets_keyring.get_secret_value())
            except KeyringError as exc:
                raise ConfigError(str(exc)) from None
        if self.max_order_notional <= 0:
            raise ConfigError("MAX_ORDER_NOTIONAL must be a positive USDC amount.")
        if not Decimal(0) < self.price_drift_tolerance < Decimal(1):
            raise ConfigError("PRICE_DRIFT_TOLERANCE is a fraction, e.g. 0.005 for 0.5 %.")
        self._check_desks()

    def _check_desks(self) -> None:
        if self.max_desks < 0:
            raise ConfigError("MAX_DESKS is how many desks besides the operator's; 0 or more.")
        if not 1 <= self.invite_ttl_hours <= 24 * 30:
            raise ConfigError("INVITE_TTL_HOURS is how long an invite link works: 1 to 720 hours.")
        if self.desk_max_order_notional <= 0:
            raise ConfigError("DESK_MAX_ORDER_NOTIONAL must be a positive USDC amount.")
        if self.desk_orders_per_minute < 1:
            raise ConfigError("DESK_ORDERS_PER_MINUTE must be 1 or more.")
        if self.desk_idle_minutes < 1:
            raise ConfigError("DESK_IDLE_MINUTES must be 1 or more.")

    def _check_hedge(self) -> None:
        import json

        import ccxt

        for venue in self.hedge_ids:
            if venue not in ccxt.exchanges:
                raise ConfigError(
                    f"HEDGE_EXCHANGE={venue} is not a ccxt exchange id; use ones like "
                    "binanceusdm, bybit, okx or hyperliquid (or leave it empty to turn hedging "
                    "off)."
                )
        for spec in self.hedge_specs():
            try:
                creds = json.loads(spec.credentials) if spec.credentials.strip() else {}
            except ValueError:
                creds = None
            if not isinstance(creds, dict):  # never echo the value: it holds the keys
                raise ConfigError(
                    f"HEDGE_CREDENTIALS must be a JSON object, e.g. "
                    f'{{"apiKey": "...", "secret": "..."}} (for {spec.id}: '
                    f"HEDGE_CREDENTIALS_{spec.id.upper()}, or HEDGE_CREDENTIALS keyed by venue)"
                )
            if (
                spec.id == "hyperliquid"
                and self.trading_mode == "live"
                and not (creds.get("walletAddress") and creds.get("privateKey"))
            ):
                raise ConfigError(
                    "hyperliquid needs walletAddress (your main account's address) and "
                    "privateKey (an API wallet's key, made at app.hyperliquid.xyz/API) in "
                    "HEDGE_CREDENTIALS_HYPERLIQUID; add vaultAddress to trade for a vault or "
                    "sub-account."
                )
