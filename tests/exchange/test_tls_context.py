"""Every client's pool verifies with the one TLS context (made once: a context costs ~800 kB
and ~20 ms of CPU to load the certificate authorities, per desk before; ``bench/desks.py``)."""

from __future__ import annotations

import ssl

from httpx_aiohttp import AiohttpTransport

from bot.exchange.client import BackpackAPI
from bot.exchange.transport import default_transport, tls_context


async def test_clients_share_one_verifying_tls_context() -> None:
    first, second = default_transport(), default_transport()
    assert isinstance(first, AiohttpTransport) and isinstance(second, AiohttpTransport)
    assert first is not second  # each client keeps its own pool …
    assert first.ssl_context is second.ssl_context is tls_context()  # … and one context
    assert tls_context().verify_mode == ssl.CERT_REQUIRED and tls_context().check_hostname
    apis = [BackpackAPI(None, None, "https://api.backpack.exchange") for _ in range(2)]
    try:
        pools = [api._transport._http._transport for api in apis]
        assert all(isinstance(p, AiohttpTransport) for p in pools)
        assert {id(p.ssl_context) for p in pools if isinstance(p, AiohttpTransport)} == {
            id(tls_context())
        }
    finally:
        for api in apis:
            await api.close()
