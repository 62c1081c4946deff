"""The simulator's control API (``/_sim/*``): move prices, inject faults, read or reset state.

It exists for ``python -m bot.sim`` and the tests, never in paper mode (the paper bot's
in-process engine serves only the exchange API). A web page in the user's browser can reach a
loopback port, so every control request must carry

* the per-run random token in ``X-Sim-Token`` (a page cannot learn it, and a cross-site request
  with a custom header needs a CORS preflight we never grant),
* ``Content-Type: application/json`` on POSTs (a "simple" ``text/plain`` POST is refused),
* a loopback ``Host`` with the server's own port (a DNS-rebinding name is refused),

or it is refused before its body is read.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.sim.model import SimError, bad_request

if TYPE_CHECKING:
    from bot.sim.server import SimServer

TOKEN_HEADER = "X-Sim-Token"  # noqa: S105 (a header name, not a secret)
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
FAULT_KINDS = ("http_error", "delay", "rate_limit", "drop_ws", "lost_response")
Respond = Callable[[Any, int], web.Response]


@dataclass
class Fault:
    kind: str
    count: int
    status: int = 500
    ms: int = 0
    path: str | None = None
    skip: int = 0  # let this many matching requests through first


def host_is_loopback(host: str, port: int) -> bool:
    """Whether a ``Host`` header names this machine's loopback at ``port`` (DNS rebinding)."""
    allowed = {f"{name}:{port}" for name in LOOPBACK_NAMES}
    if port == 80:  # a client leaves the default port out
        allowed.update(LOOPBACK_NAMES)
    return host in allowed


class ControlGuard:
    """The one check in front of every control route, on either face of the simulator:
    a loopback ``Host`` with the server's own port, the run's token, JSON on POSTs."""

    def __init__(self, token: str) -> None:
        if len(token) < 16:
            raise ValueError("the control token must have at least 16 characters")
        self._token = token.encode()

    def __call__(self, request: web.Request) -> web.Response | None:
        """Why ``request`` may not use the control API (a response), or ``None``."""
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        port = int(sockname[1]) if sockname else -1
        if not host_is_loopback(request.headers.get("Host", ""), port):
            return web.Response(text="control API: loopback Host only", status=403)
        given = request.headers.get(TOKEN_HEADER, "").encode()
        if not hmac.compare_digest(given, self._token):
            return web.Response(text=f"control API: {TOKEN_HEADER} missing or wrong", status=403)
        if request.method != "GET" and request.content_type != "application/json":
            return web.Response(text="control API: send application/json", status=415)
        return None


class ControlApi:
    """``/_sim/*`` routes on ``server``, each behind the token, JSON and Host checks."""

    def __init__(self, server: SimServer, token: str, respond: Respond) -> None:
        self.server = server
        self.refusal = ControlGuard(token)
        self._respond = respond

    def add_routes(self, app: web.Application) -> None:
        routes: list[tuple[str, str, Callable[[dict[str, Any]], Any]]] = [
            ("POST", "/_sim/price", self._price),
            ("POST", "/_sim/funding", self._funding),
            ("POST", "/_sim/settle", self._settle),
            ("POST", "/_sim/fault", self._fault),
            ("GET", "/_sim/state", lambda b: self.server.engine.state()),
            ("POST", "/_sim/reset", self._reset),
            ("POST", "/_sim/revoke", self._revoke),
        ]
        for method, path, run in routes:
            app.router.add_route(method, path, self._route(run))

    def _route(
        self, run: Callable[[dict[str, Any]], Any]
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            refused = self.refusal(request)
            if refused is not None:
                return refused
            try:
                body = await _body(request) if request.can_read_body else {}
                result = run(body)
                if self.server.store is not None:
                    await self.server.commit.wait()
                return self._respond(result, 200)
            except SimError as err:
                if err.plain:
                    return web.Response(text=err.message, status=err.status)
                return self._respond({"code": err.code, "message": err.message}, err.status)
            except (KeyError, InvalidOperation, ValueError, TypeError) as exc:
                message = f"Bad control request: {exc}"
                return self._respond({"code": "INVALID_CLIENT_REQUEST", "message": message}, 400)

        return handle

    def _price(self, b: dict[str, Any]) -> Any:
        self.server.engine.set_price(b["symbol"], Decimal(str(b["price"])))
        return {"ok": True}

    def _funding(self, b: dict[str, Any]) -> Any:
        self.server.engine.set_funding(b["symbol"], Decimal(str(b["rate"])))
        return {"ok": True}

    def _revoke(self, b: dict[str, Any]) -> Any:
        """The owner revoked an API key on the exchange: its signed requests fail from now on
        (the account and its positions stay)."""
        self.server.verifier.revoked.add(str(b["apiKey"]))
        return {"ok": True}

    def _settle(self, b: dict[str, Any]) -> Any:
        self.server.engine.settle_funding()
        return {"ok": True}

    def _fault(self, b: dict[str, Any]) -> Any:
        kind = b["kind"]
        if kind not in FAULT_KINDS:
            raise bad_request(f"Unknown fault kind {kind!r}")
        server = self.server
        if kind == "drop_ws":
            # ``ms``: keep refusing new WebSocket connections that long (an outage).
            server.ws_down_until = time.monotonic() + int(b.get("ms", 0)) / 1000
            asyncio.get_running_loop().create_task(server.drop_ws())
            return {"ok": True}
        server.faults.append(
            Fault(
                kind=kind,
                count=int(b.get("count", 1)),
                status=int(b.get("status", 500)),
                ms=int(b.get("ms", 0)),
                path=b.get("path"),
                skip=int(b.get("skip", 0)),
            )
        )
        return {"ok": True}

    def _reset(self, b: dict[str, Any]) -> Any:
        self.server.engine.reset()
        self.server.faults.clear()
        return {"ok": True}


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except json.JSONDecodeError:
        raise bad_request("Body must be JSON") from None
    if not isinstance(data, dict):
        raise bad_request("Body must be a JSON object")
    return data
