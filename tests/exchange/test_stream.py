"""The stream supervisor's watchdog over a real socket: quiet is not dead, dead-but-open is."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.server import Server, ServerConnection, serve

from bot.exchange.stream import StreamSupervisor


class Peer:
    """A WebSocket server that says nothing; ``freeze`` makes a connection stop reading."""

    def __init__(self) -> None:
        self.freeze = False
        self.connections = 0
        self.frozen: list[ServerConnection] = []
        self.server: Server | None = None

    async def handle(self, ws: ServerConnection) -> None:
        self.connections += 1
        await ws.recv()  # the SUBSCRIBE
        if self.freeze:
            # Open at the TCP level but unresponsive: pings are never read, so never answered.
            self.freeze = False
            ws.transport.pause_reading()
            self.frozen.append(ws)
        else:
            await ws.send(json.dumps({"stream": "x", "data": {"n": self.connections}}))
        await ws.wait_closed()

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = next(iter(self.server.sockets)).getsockname()[:2]
        return f"ws://{host}:{port}"


@pytest.fixture
async def peer() -> AsyncIterator[Peer]:
    p = Peer()
    async with serve(p.handle, "127.0.0.1", 0) as server:
        p.server = server
        yield p
        for ws in p.frozen:  # it would never see the client go: don't wait for a handshake
            ws.transport.abort()


def supervisor(url: str, frames: list[dict[str, Any]], got: asyncio.Event) -> StreamSupervisor:
    def on_frame(frame: dict[str, Any]) -> None:
        frames.append(frame)
        got.set()

    return StreamSupervisor(
        url,
        on_frame,
        logger=logging.getLogger("test.stream"),
        silence_timeout=0.2,
        pong_timeout=0.5,
    )


async def test_a_quiet_healthy_stream_is_not_reconnected(
    peer: Peer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="test.stream")
    frames: list[dict[str, Any]] = []
    got = asyncio.Event()
    sup = supervisor(peer.url, frames, got)
    await sup.subscribe(["x"])
    await sup.start()
    try:
        await asyncio.sleep(2)  # ten silent periods
        assert sup.connections == 1 and peer.connections == 1
        assert len(frames) == 1
    finally:
        await sup.stop()
    assert caplog.records == []


async def test_a_dead_but_open_socket_is_replaced(
    peer: Peer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="test.stream")
    peer.freeze = True
    frames: list[dict[str, Any]] = []
    got = asyncio.Event()
    sup = supervisor(peer.url, frames, got)
    await sup.subscribe(["x"])
    await sup.start()
    try:
        await asyncio.wait_for(got.wait(), 5)
        assert sup.connections == 2
        assert frames == [{"stream": "x", "data": {"n": 2}}]
    finally:
        await sup.stop()
    messages = [r.getMessage() for r in caplog.records]
    assert any("no pong" in m for m in messages), messages
    assert any("reconnected after" in m for m in messages), messages
