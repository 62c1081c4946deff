"""Which hedge venues to open, with which credentials and URL (read from :class:`Settings`).

``HEDGE_EXCHANGES=hyperliquid,binanceusdm`` names every venue at once (``HEDGE_EXCHANGE`` is the
one-venue form). Credentials per venue: ``HEDGE_CREDENTIALS_<ID>`` (e.g.
``HEDGE_CREDENTIALS_HYPERLIQUID``), or ``HEDGE_CREDENTIALS`` as JSON keyed by venue id
(``{"hyperliquid": {...}, "okx": {...}}``); with one venue ``HEDGE_CREDENTIALS`` may also be the
venue's object itself. ``HEDGE_API_URL_<ID>`` points one venue elsewhere (tests, a gateway);
``HEDGE_API_URL`` does so for the first. Pure: no ccxt import, no I/O.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class VenueSpec:
    """One hedge venue to open. ``credentials`` is a secret: never logged or shown."""

    id: str
    credentials: str = ""
    api_url: str | None = None

    def __repr__(self) -> str:
        return f"VenueSpec(id={self.id!r}, api_url={self.api_url!r})"


def split_ids(text: str) -> list[str]:
    """``"hyperliquid, binanceusdm"`` → ``["hyperliquid", "binanceusdm"]`` (order kept, once)."""
    out: list[str] = []
    for part in text.replace(";", ",").split(","):
        venue = part.strip().lower()
        if venue and venue not in out:
            out.append(venue)
    return out


def _keyed(raw: str, ids: list[str]) -> dict[str, str] | None:
    """``HEDGE_CREDENTIALS`` keyed by venue id, or ``None`` when it is one venue's object."""
    try:
        value: Any = json.loads(raw) if raw.strip() else {}
    except ValueError:
        return None
    if not isinstance(value, dict) or not value:
        return None
    if all(k.lower() in ids and isinstance(v, dict) for k, v in value.items()):
        return {k.lower(): json.dumps(v) for k, v in value.items()}
    return None


def venue_specs(
    ids: list[str],
    credentials: str,
    api_url: str | None,
    env: Mapping[str, str] | None = None,
) -> list[VenueSpec]:
    """Each configured venue with its credentials and URL; ``env`` (the process environment and
    ``.env`` merged, upper-case keys) holds the per-venue forms."""
    env = {k.upper(): v for k, v in (env if env is not None else os.environ).items()}
    keyed = _keyed(credentials, ids)
    out = []
    for i, venue in enumerate(ids):
        key = venue.upper()
        own = env.get(f"HEDGE_CREDENTIALS_{key}", "").strip()
        if not own and keyed is not None:
            own = keyed.get(venue, "")
        if not own and keyed is None and len(ids) == 1:
            own = credentials  # the one-venue form: the venue's object itself
        url = env.get(f"HEDGE_API_URL_{key}", "").strip() or (api_url if i == 0 else None)
        out.append(VenueSpec(venue, own, url or None))
    return out


def read_env_file(path: str = ".env") -> dict[str, str]:
    """``KEY=value`` lines of ``.env`` (the per-venue keys pydantic does not declare)."""
    out: dict[str, str] = {}
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                text = line.strip()
                if not text or text.startswith("#") or "=" not in text:
                    continue
                key, _, value = text.partition("=")
                out[key.strip().upper()] = value.strip().strip("'\"")
    except OSError:
        return {}
    return out
