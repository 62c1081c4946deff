"""Server-side request authentication, written independently of the client's signer.

The server rebuilds the signing string from the parsed request (sorted keys; strings raw, booleans
lowercase, integers as digits, nested values as compact JSON) and verifies the ed25519 signature
against the public key in ``X-API-Key``. It also accepts the percent-encoded rendering that ccxt
signs.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import quote

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from bot.sim.model import SimError

MAX_WINDOW = 60_000
DEFAULT_WINDOW = 5_000

INSTRUCTIONS: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/account"): "accountQuery",
    ("PATCH", "/api/v1/account"): "accountUpdate",
    ("GET", "/api/v1/account/limits/order"): "maxOrderQuantity",
    ("GET", "/api/v1/capital"): "balanceQuery",
    ("GET", "/api/v1/capital/collateral"): "collateralQuery",
    ("GET", "/api/v1/order"): "orderQuery",
    ("POST", "/api/v1/order"): "orderExecute",
    ("DELETE", "/api/v1/order"): "orderCancel",
    ("GET", "/api/v1/orders"): "orderQueryAll",
    ("POST", "/api/v1/orders"): "orderExecute",
    ("DELETE", "/api/v1/orders"): "orderCancelAll",
    ("GET", "/api/v1/position"): "positionQuery",
    ("GET", "/wapi/v1/history/fills"): "fillHistoryQueryAll",
    ("GET", "/wapi/v1/history/orders"): "orderHistoryQueryAll",
    ("GET", "/wapi/v1/history/funding"): "fundingHistoryQueryAll",
    ("GET", "/wapi/v1/history/settlement"): "settlementHistoryQueryAll",
    ("GET", "/wapi/v1/history/position"): "positionHistoryQueryAll",
}


def render(value: Any, *, encoded: bool = False) -> str:
    """One value as it appears in the signing string."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = value
    elif isinstance(value, int | float):
        text = str(value)
    else:
        text = json.dumps(value, separators=(",", ":"))
    return quote(text, safe="") if encoded else text


def pairs_string(pairs: Iterable[tuple[str, Any]], *, encoded: bool = False) -> str:
    return "&".join(
        f"{k}={render(v, encoded=encoded)}"
        for k, v in sorted(pairs, key=lambda kv: kv[0])
        if v is not None
    )


def candidate_strings(
    instruction: str, params: dict[str, Any] | list[dict[str, Any]], ts: str, window: str
) -> Iterator[str]:
    """Every signing string we accept for these parameters (decoded first, then encoded).

    Lazily: the encoded rendering (ccxt's) is built only when the decoded one did not verify.
    """
    seen = ""
    for encoded in (False, True):
        if isinstance(params, list):
            body = "&".join(
                f"instruction={instruction}"
                + (f"&{s}" if (s := pairs_string(p.items(), encoded=encoded)) else "")
                for p in params
            )
        else:
            s = pairs_string(params.items(), encoded=encoded)
            body = f"instruction={instruction}" + (f"&{s}" if s else "")
        text = f"{body}&timestamp={ts}&window={window}"
        if text != seen:
            seen = text
            yield text


class Verifier:
    """Checks signed requests; caches decoded public keys."""

    def __init__(self, *, auth_status: int = 401, now_ms: Any) -> None:
        self.auth_status = auth_status
        self._now_ms = now_ms
        self._keys: dict[str, VerifyKey] = {}
        #: API keys the account's owner revoked (``POST /_sim/revoke``): refused from now on.
        self.revoked: set[str] = set()

    def _error(self, message: str) -> SimError:
        return SimError(self.auth_status, "INVALID_CLIENT_REQUEST", message)

    def verify(
        self,
        headers: Any,
        instruction: str,
        params: dict[str, Any] | list[dict[str, Any]],
    ) -> str:
        """Return the account key or raise the exchange's auth error."""
        key = headers.get("X-API-Key")
        sig = headers.get("X-Signature")
        ts = headers.get("X-Timestamp")
        window = headers.get("X-Window") or str(DEFAULT_WINDOW)
        if not key or not sig or not ts:
            raise self._error("Missing required headers: X-API-Key, X-Signature, X-Timestamp")
        if key in self.revoked:
            raise self._error("Invalid X-API-Key header")
        try:
            ts_i = int(ts)
            window_i = int(window)
        except ValueError:
            raise self._error("Invalid timestamp") from None
        if window_i <= 0 or window_i > MAX_WINDOW:
            raise self._error(f"Invalid X-Window header: must be at most {MAX_WINDOW}")
        now = self._now_ms()
        if now > ts_i + window_i or ts_i > now + window_i:
            raise self._error("Request has expired")
        vk = self._keys.get(key)
        if vk is None:
            try:
                raw = base64.b64decode(key, validate=True)
                vk = VerifyKey(raw)
            except (binascii.Error, ValueError, TypeError):
                raise self._error("Invalid X-API-Key header") from None
            self._keys[key] = vk
        try:
            sig_b = base64.b64decode(sig, validate=True)
        except (binascii.Error, ValueError):
            raise self._error("Invalid X-Signature header") from None
        if len(sig_b) != 64:
            raise self._error("Invalid X-Signature header")
        for text in candidate_strings(instruction, params, ts, window):
            try:
                vk.verify(text.encode(), sig_b)
            except BadSignatureError:
                continue
            return str(key)
        raise self._error("Invalid signature")
