"""Starting one of the bot's own aiohttp sites (the local chat, the dashboard) on a host and
port (0: any free port) and reading back the URL it really listens on."""

from __future__ import annotations

from typing import Any

from aiohttp import web


async def start_site(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, str]:
    """Serve ``app``; returns its runner (``cleanup()`` stops it) and ``http://host:port``.

    A port already taken raises ``OSError`` with nothing left running."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError:
        await runner.cleanup()
        raise
    server: Any = site._server
    bound = server.sockets[0].getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    return runner, f"http://{shown}:{bound}"
