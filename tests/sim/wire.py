"""A raw signed HTTP/WS client for simulator tests: the wire as a third party sees it.

Written from the exchange's documentation (not from ``bot.exchange``), so the simulator's tests
hold even while the client is rewritten, and schema tests see untouched replies.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx
from nacl.signing import SigningKey

from bot.sim.auth import INSTRUCTIONS, pairs_string
from tests.keys import KeyPair


def _render_body(instruction: str, params: dict[str, Any] | list[dict[str, Any]]) -> str:
    if isinstance(params, list):
        return "&".join(
            f"instruction={instruction}" + (f"&{s}" if (s := pairs_string(p.items())) else "")
            for p in params
        )
    s = pairs_string(params.items())
    return f"instruction={instruction}" + (f"&{s}" if s else "")


class Wire:
    """Signed requests for one account (``keys``) against ``base_url``."""

    def __init__(self, base_url: str, keys: KeyPair) -> None:
        self.keys = keys
        self.signer = SigningKey(base64.b64decode(keys.api_secret))
        self.http = httpx.AsyncClient(base_url=base_url, timeout=10)

    def headers(
        self, instruction: str, params: dict[str, Any] | list[dict[str, Any]]
    ) -> dict[str, str]:
        ts, window = str(int(time.time() * 1000)), "5000"
        text = f"{_render_body(instruction, params)}&timestamp={ts}&window={window}"
        sig = base64.b64encode(self.signer.sign(text.encode()).signature).decode()
        return {
            "X-API-Key": self.keys.api_key,
            "X-Signature": sig,
            "X-Timestamp": ts,
            "X-Window": window,
        }

    async def request(
        self, method: str, path: str, params: dict[str, Any] | list[dict[str, Any]] | None = None
    ) -> httpx.Response:
        params = params if params is not None else {}
        instruction = INSTRUCTIONS.get((method, path))
        headers = self.headers(instruction, params) if instruction else {}
        if method in ("GET",):
            assert isinstance(params, dict)
            return await self.http.get(path, params=params, headers=headers)
        return await self.http.request(method, path, json=params, headers=headers)

    async def call(
        self, method: str, path: str, params: dict[str, Any] | list[dict[str, Any]] | None = None
    ) -> Any:
        r = await self.request(method, path, params)
        assert r.status_code == 200, (r.status_code, r.text)
        return r.json() if r.content else None

    def subscribe_frame(self, streams: list[str]) -> str:
        ts, window = str(int(time.time() * 1000)), "5000"
        text = f"instruction=subscribe&timestamp={ts}&window={window}"
        sig = base64.b64encode(self.signer.sign(text.encode()).signature).decode()
        return json.dumps(
            {
                "method": "SUBSCRIBE",
                "params": streams,
                "signature": [self.keys.api_key, sig, ts, window],
            }
        )

    async def close(self) -> None:
        await self.http.aclose()
