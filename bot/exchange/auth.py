"""Request signing: pure functions for the signing string, and an :class:`httpx.Auth`.

The signing string is ``instruction=<name>&<sorted params>&timestamp=<ms>&window=<ms>`` with
strings raw, booleans lowercase and integers as digits (fact sheet §1.3); a batch concatenates one
``instruction=...&<params>`` block per order.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from typing import Any

import httpx
from nacl.signing import SigningKey

from bot.exchange.errors import AuthError

DEFAULT_WINDOW_MS = 5000
EXTENSION = "backpack_sign"


def _render(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    return json.dumps(value, separators=(",", ":"), default=str)


def params_string(params: Mapping[str, Any] | None) -> str:
    """``k=v&...`` over the sorted keys, dropping ``None`` values."""
    if not params:
        return ""
    return "&".join(f"{k}={_render(params[k])}" for k in sorted(params) if params[k] is not None)


def signing_string(
    instruction: str,
    params: Mapping[str, Any] | None,
    timestamp_ms: int,
    window_ms: int = DEFAULT_WINDOW_MS,
) -> str:
    """The exact text a request signature covers."""
    body = params_string(params)
    head = f"instruction={instruction}&{body}" if body else f"instruction={instruction}"
    return f"{head}&timestamp={timestamp_ms}&window={window_ms}"


def batch_signing_string(
    instruction: str,
    orders: Sequence[Mapping[str, Any]],
    timestamp_ms: int,
    window_ms: int = DEFAULT_WINDOW_MS,
) -> str:
    """The signing string of a batch order request (one block per order)."""
    blocks = []
    for order in orders:
        body = params_string(order)
        blocks.append(f"instruction={instruction}&{body}" if body else f"instruction={instruction}")
    return "&".join(blocks) + f"&timestamp={timestamp_ms}&window={window_ms}"


class Signer:
    """Holds the ed25519 key. Its repr never shows the secret."""

    __slots__ = ("_key", "api_key")

    def __init__(self, api_key: str, api_secret: str) -> None:
        try:
            raw = base64.b64decode(api_secret, validate=True)
        except (binascii.Error, ValueError):
            raise AuthError("API secret is not valid base64", code="INVALID_SECRET") from None
        if len(raw) not in (32, 64):
            raise AuthError(
                "API secret must be the base64 of a 32-byte ed25519 seed", code="INVALID_SECRET"
            )
        self._key = SigningKey(raw[:32])
        derived = base64.b64encode(bytes(self._key.verify_key)).decode()
        self.api_key = api_key or derived
        if api_key and api_key != derived:
            raise AuthError("API key does not match the API secret", code="INVALID_SECRET")

    def sign(self, text: str) -> str:
        return base64.b64encode(self._key.sign(text.encode()).signature).decode()

    def __repr__(self) -> str:
        return f"Signer(api_key={self.api_key!r}, secret=***)"


def public_key_of(api_secret: str) -> str:
    """The X-API-Key belonging to a base64 seed."""
    return Signer("", api_secret).api_key


class BackpackAuth(httpx.Auth):
    """Signs requests that carry ``extensions["backpack_sign"] = (instruction, params)``.

    Requests without that extension (public endpoints) pass through untouched.
    """

    def __init__(
        self, signer: Signer, now_ms: Callable[[], int], window_ms: int = DEFAULT_WINDOW_MS
    ) -> None:
        self.signer = signer
        self.now_ms = now_ms
        self.window_ms = window_ms

    def sign_request(self, request: httpx.Request) -> None:
        spec = request.extensions.get(EXTENSION)
        if spec is None:
            return
        instruction, params = spec
        request.headers.update(self.headers(instruction, params))

    def headers(self, instruction: str, params: Any) -> dict[str, str]:
        """The four auth headers for one request signed now."""
        ts = self.now_ms()
        if isinstance(params, list):
            text = batch_signing_string(instruction, params, ts, self.window_ms)
        else:
            text = signing_string(instruction, params, ts, self.window_ms)
        return {
            "X-API-Key": self.signer.api_key,
            "X-Signature": self.signer.sign(text),
            "X-Timestamp": str(ts),
            "X-Window": str(self.window_ms),
        }

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        self.sign_request(request)
        yield request

    def __repr__(self) -> str:
        return f"BackpackAuth(api_key={self.signer.api_key!r})"
