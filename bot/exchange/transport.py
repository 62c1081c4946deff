"""The request funnel: every REST call the client makes goes through :meth:`Transport.request`.

Like httpx's own client, one concern per layer::

    request → _authorise (keys present, clock synced) → _dispatch (pick the wire) → _parse

``_dispatch`` chooses the transport by what was measured fastest (``bench/client.py``): signed
writes (orders, cancels) go straight through one pooled ``aiohttp`` session — the httpx adapter
costs ~0.6 ms per POST, most of a localhost order round trip — and everything else through a
pooled ``httpx.AsyncClient`` on the aiohttp transport, signed by :class:`BackpackAuth`. Both
wires raise through the one :func:`map_errors` and answer through the one :func:`_parse`, so
callers see the same exceptions (:mod:`bot.exchange.errors`) and the same ``Decimal`` results
whichever wire carried the request. :meth:`Transport.get` adds retries for idempotent reads.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import random
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import aiohttp
import httpx

from bot.clock import Clock
from bot.exchange.auth import EXTENSION, BackpackAuth, Signer
from bot.exchange.errors import (
    AuthError,
    ExchangeUnavailable,
    NetworkError,
    RateLimitError,
    RequestTimeout,
    error_from_response,
)

#: Wire fields whose string values are decimals (converted to ``Decimal`` on the way in).
DECIMAL_FIELDS = frozenset(
    [
        "price",
        "quantity",
        "quoteQuantity",
        "executedQuantity",
        "executedQuoteQuantity",
        "triggerPrice",
        "triggerQuantity",
        "stopLossTriggerPrice",
        "stopLossLimitPrice",
        "takeProfitTriggerPrice",
        "takeProfitLimitPrice",
        "lastPrice",
        "firstPrice",
        "priceChange",
        "priceChangePercent",
        "high",
        "low",
        "volume",
        "quoteVolume",
        "markPrice",
        "indexPrice",
        "fundingRate",
        "openInterest",
        "netQuantity",
        "netExposureQuantity",
        "netExposureNotional",
        "netCost",
        "entryPrice",
        "breakEvenPrice",
        "estLiquidationPrice",
        "pnlRealized",
        "pnlUnrealized",
        "cumulativeFundingPayment",
        "cumulativeInterest",
        "imf",
        "mmf",
        "available",
        "locked",
        "staked",
        "fee",
        "open",
        "close",
        "assetsValue",
        "borrowLiability",
        "unsettledEquity",
        "liabilitiesValue",
        "marginFraction",
        "netEquity",
        "netEquityAvailable",
        "netEquityLocked",
        "netExposureFutures",
        "maxOrderQuantity",
        "futuresMakerFee",
        "futuresTakerFee",
        "spotMakerFee",
        "spotTakerFee",
        "leverageLimit",
        "borrowLimit",
        "positionLimit",
        "assetMarkPrice",
        "totalQuantity",
        "balanceNotional",
        "collateralWeight",
        "collateralValue",
        "openOrderQuantity",
        "lendQuantity",
        "availableQuantity",
    ]
)

RETRYABLE = (NetworkError, RateLimitError, ExchangeUnavailable)


def decimalize(obj: Any) -> Any:
    """Convert known decimal fields (recursively) from strings to ``Decimal``."""
    if isinstance(obj, list):
        return [decimalize(x) for x in obj]
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            if k in DECIMAL_FIELDS and isinstance(v, str) and v not in ("", "N/A"):
                try:
                    out[k] = Decimal(v)
                except ArithmeticError:
                    out[k] = v
            elif isinstance(v, dict | list):
                out[k] = decimalize(v)
            else:
                out[k] = v
        return out
    return obj


def query_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The one TLS context (certificate authorities loaded) every client's pool verifies with.

    Loading the authorities costs ~20 ms of CPU and a few hundred kB of memory per context;
    made per client, that was most of what each of a thousand desks cost (``bench/desks.py``).
    A context is read-only once made and safe to share between connections."""
    return httpx.create_ssl_context()


def default_transport() -> httpx.AsyncBaseTransport:
    try:
        from httpx_aiohttp import AiohttpTransport
    except ImportError:  # pragma: no cover - the dependency is pinned
        return httpx.AsyncHTTPTransport(verify=tls_context())
    transport: httpx.AsyncBaseTransport = AiohttpTransport(verify=tls_context())
    return transport


@contextmanager
def map_errors(method: str, path: str) -> Iterator[None]:
    """The one map from either wire's failures to the client's exception tree."""
    try:
        yield
    except (httpx.TimeoutException, TimeoutError) as exc:
        raise RequestTimeout(f"{method} {path} timed out", code="TIMEOUT") from exc
    except (httpx.TransportError, aiohttp.ClientError) as exc:
        raise NetworkError(
            f"{method} {path} failed: {type(exc).__name__}", code="NETWORK_ERROR"
        ) from exc


def _parse(status: int, text: str, content_type: str) -> Any:
    """An answer as the caller sees it: an exception for an error status, ``None`` for an
    empty body, text for plain text, JSON with known decimal fields as ``Decimal``."""
    if status >= 400:
        raise error_from_response(status, text)
    if not text:
        return None
    if "json" not in content_type:
        return text
    return decimalize(json.loads(text))


class Transport:
    """Signed and public REST requests to one base URL, over pooled connections.

    ``transport`` (an httpx transport) replaces the wire for every request, e.g. an in-process
    one for tests; without it signed writes take the direct aiohttp path.
    """

    def __init__(
        self,
        base_url: str,
        signer: Signer | None,
        clock: Clock,
        *,
        logger: logging.Logger,
        timeout: float = 10.0,
        window_ms: int = 5000,
        max_retries: int = 3,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.clock = clock
        self.logger = logger
        self.max_retries = max_retries
        #: Called (synchronously) when the exchange refuses a signed request's key: the desk
        #: that owns this client marks its keys revoked.
        self.on_key_refused: list[Callable[[AuthError], None]] = []
        self.time_offset_ms = 0
        self._time_synced = False
        self.signer = signer
        self._auth = BackpackAuth(signer, self.now_ms, window_ms) if signer else None
        self._timeout = timeout
        self._direct = transport is None
        self._session: aiohttp.ClientSession | None = None
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            auth=self._auth,
            timeout=timeout,
            transport=transport or default_transport(),
            headers={"Content-Type": "application/json; charset=utf-8"},
        )

    def now_ms(self) -> int:
        """The exchange's clock as far as we know it (local time + measured offset)."""
        return int(self.clock.time() * 1000) + self.time_offset_ms

    async def sync_time(self) -> int:
        """Measure the server clock offset (ms) so signed timestamps are right on a skewed host."""
        t0 = time.monotonic()
        local0 = self.clock.time()
        r = await self._http.get("/api/v1/time")
        rtt = time.monotonic() - t0
        server_ms = int(r.text.strip())
        self.time_offset_ms = server_ms - int((local0 + rtt / 2) * 1000)
        self._time_synced = True
        return self.time_offset_ms

    async def close(self) -> None:
        await self._http.aclose()
        if self._session is not None:
            await self._session.close()
            self._session = None

    # ------------------------------------------------------------------ the funnel

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        instruction: str | None = None,
    ) -> Any:
        """One request; ``instruction`` (Backpack's signing instruction) makes it signed."""
        if instruction is not None:
            await self._authorise()
        query = {k: query_value(v) for k, v in (params or {}).items() if v is not None}
        with map_errors(method, path):
            status, text, ctype = await self._dispatch(method, path, query, body, instruction)
        try:
            return _parse(status, text, ctype)
        except AuthError as exc:
            if instruction is not None:
                for listener in self.on_key_refused:
                    listener(exc)
            raise

    async def get(
        self, path: str, params: dict[str, Any] | None = None, instruction: str | None = None
    ) -> Any:
        """An idempotent GET, retried on 429/5xx/network errors with exponential backoff and
        full jitter (0.1 s, 0.2 s, … capped at 2 s). A plain loop rather than a retry library:
        the first attempt — nearly every call — costs nothing extra on the hot path."""
        for attempt in range(self.max_retries):
            try:
                return await self.request("GET", path, params=params, instruction=instruction)
            except RETRYABLE:
                if attempt + 1 >= self.max_retries:
                    raise
            await asyncio.sleep(random.uniform(0, min(2.0, 0.1 * 2**attempt)) + 0.05)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _authorise(self) -> None:
        if self.signer is None:
            raise AuthError(
                "this call needs BACKPACK_API_KEY and BACKPACK_API_SECRET", code="NO_API_KEYS"
            )
        if not self._time_synced:
            try:
                await self.sync_time()
            except (httpx.HTTPError, ValueError):
                self.logger.warning("could not read the exchange clock; using local time")
                self._time_synced = True

    async def _dispatch(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        body: Any,
        instruction: str | None,
    ) -> tuple[int, str, str]:
        """Send on the wire measured fastest for this kind of request: ``(status, text,
        content type)``."""
        if body is not None and instruction is not None and self._direct:
            return await self._send_aiohttp(method, path, query, body, instruction)
        return await self._send_httpx(method, path, query, body, instruction)

    async def _send_httpx(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        body: Any,
        instruction: str | None,
    ) -> tuple[int, str, str]:
        sign_params: Any = body if body is not None else query
        ext = {EXTENSION: (instruction, sign_params)} if instruction else None
        content = json.dumps(body, separators=(",", ":")) if body is not None else None
        resp = await self._http.request(
            method, path, params=query or None, content=content, extensions=ext
        )
        return resp.status_code, resp.text, resp.headers.get("content-type", "")

    async def _send_aiohttp(
        self, method: str, path: str, query: dict[str, str], body: Any, instruction: str
    ) -> tuple[int, str, str]:
        assert self._auth is not None
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._timeout),
                connector=aiohttp.TCPConnector(limit=100),
            )
        headers = self._auth.headers(instruction, body)
        headers["Content-Type"] = "application/json; charset=utf-8"
        content = json.dumps(body, separators=(",", ":"))
        async with self._session.request(
            method, self.base_url + path, params=query or None, data=content, headers=headers
        ) as resp:
            return resp.status, await resp.text(), resp.headers.get("content-type", "")
