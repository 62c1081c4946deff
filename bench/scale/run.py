"""One run of the scale bench: PostgreSQL, the simulator, the bot's processes, seeded rows.

:class:`Stack` starts and stops everything one run needs; :mod:`bench.scale` plays the load and
the faults on it. With ``bot.processes`` present the bot runs as the process set (``web`` ×
``webs``, ``worker`` × 2, ``ingest`` × 2); without it, as the single process ``python -m bot``
in webhook mode (the only fault it can take is a web kill).
"""

from __future__ import annotations

import contextlib
import importlib.util
import secrets
import socket
import tempfile
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.scale.botapi import BotApiRecorder
from bench.scale.procs import Proc, ProcessSet, clean_env, wait_for_line
from bench.scale.seed import OPERATOR_USER, Seeded, new_keypair, seed
from bot.keyring.ring import Key
from bot.storage.pgserver import PgServer, free_port

SYMBOL = "BTC_USDC_PERP"
TOKEN = f"7000002:{'S' * 35}"
#: Seconds a process may take to start serving (a 2-core machine under load is slow).
START_TIMEOUT = 90.0


def has_process_set() -> bool:
    """Whether this tree has ``python -m bot web|worker|ingest`` (issue 22's process set)."""
    return importlib.util.find_spec("bot.processes") is not None


@dataclass
class Options:
    users: int
    desks: int
    alerts: int
    seconds: float
    concurrency: int
    webs: int = 2
    workers: int = 2
    single: bool = False  # the single process even where the set exists


@dataclass
class Stack:
    """Everything of one run; ``async with Stack(options) as stack``."""

    options: Options
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="scale-")))
    pg: PgServer | None = None
    url: str = ""
    procs: ProcessSet | None = None
    api: BotApiRecorder | None = None
    sim_rest: str = ""
    sim_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    seeded: Seeded | None = None
    webhooks: dict[str, Proc] = field(default_factory=dict)  # URL → process
    start_price: Decimal = Decimal(0)
    set_mode: bool = field(default_factory=has_process_set)
    http: httpx.AsyncClient = field(default_factory=lambda: httpx.AsyncClient(timeout=30))
    _env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.options.single:
            self.set_mode = False

    async def __aenter__(self) -> Stack:
        try:
            await self._start()
        except BaseException:
            await self.__aexit__()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.procs is not None:
            await self.procs.stop_all()
        if self.api is not None:
            await self.api.__aexit__()
        await self.http.aclose()
        if self.pg is not None:
            self.pg.stop()

    # ------------------------------------------------------------------ start-up

    async def _start(self) -> None:
        o = self.options
        self.pg = PgServer.start(max_connections=400)
        self.url = self.pg.create_database("bot")
        self.procs = ProcessSet(self.workdir, clean_env())
        sim = await self.procs.start(
            "sim",
            "-m",
            "bot.sim",
            "--port",
            "0",
            "--seed",
            "1",
            "--tick-interval",
            "3600",  # prices move only when the bench walks them
            "--control-token",
            self.sim_token,
        )
        ready = (await wait_for_line(sim.log, "sim ready", sim, START_TIMEOUT)).split()
        self.sim_rest, sim_ws = ready[2], ready[3]
        self.start_price = await self.price()
        keyring = Key.generate("scale").entry()
        self.seeded = await seed(
            self.url,
            keyring,
            users=o.users,
            desks=o.desks,
            alerts=o.alerts,
            symbol=SYMBOL,
            price=self.start_price,
        )
        self.api = await BotApiRecorder(TOKEN).__aenter__()
        op_key, op_secret = new_keypair()
        self._env = {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": self.api.base_url,
            "TELEGRAM_ALLOWED_USERS": str(OPERATOR_USER),
            "TRADING_MODE": "live",
            "EXCHANGE": "backpack",
            "BACKPACK_API_KEY": op_key,
            "BACKPACK_API_SECRET": op_secret,
            "BACKPACK_API_URL": self.sim_rest,
            "BACKPACK_WS_URL": sim_ws,
            "DATABASE_URL": self.url,
            "SECRETS_KEYRING": keyring,
            "SECRETS_KEYRING_FILE": "false",
            "WEBHOOK_SECRET": self.secret,
            "SIGNUP": "invite",
            "MAX_DESKS": str(o.desks + 10),
            "DESK_ORDERS_PER_MINUTE": "1000",
            "STRATEGY_INTERVAL_SECONDS": "5",  # cycles often enough to kill a worker in one
            "LOG_LEVEL": "WARNING",
        }
        if self.set_mode:
            for i in range(o.webs):
                await self.start_web(f"web-{i + 1}")
            for i in range(o.workers):
                await self.start_role(f"worker-{i + 1}", "worker")
            for name in ("ingest-a", "ingest-b"):
                await self.start_role(name, "ingest")
            for p in self.procs.named("worker"):  # the play (and its faults) meets them up
                await wait_for_line(p.log, "worker ready", p, START_TIMEOUT)
        else:
            port = free_port()
            url = f"http://127.0.0.1:{port}/"
            extra = {
                "WEBHOOK_URL": url,
                "WEBHOOK_LISTEN": "127.0.0.1",
                "WEBHOOK_PORT": str(port),
            }
            p = await self.start_role("bot", None, extra)
            await self.wait_listening(p, port)
            self.webhooks[url] = p

    def env_for(self, name: str) -> dict[str, str]:
        data = self.workdir / f"data-{name}"
        return {**self._env, "DATA_DIR": str(data)}

    async def start_role(
        self, name: str, role: str | None, extra: dict[str, str] | None = None
    ) -> Proc:
        assert self.procs is not None
        args = ["-m", "bot"] + ([role] if role else [])
        return await self.procs.start(
            name, *args, extra_env={**self.env_for(name), **(extra or {})}
        )

    async def start_web(self, name: str, extra: dict[str, str] | None = None) -> Proc:
        assert self.procs is not None
        port = free_port()
        p = await self.procs.start(
            name,
            "-m",
            "bot",
            "web",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            extra_env={**self.env_for(name), **(extra or {})},
        )
        await self.wait_listening(p, port)
        self.webhooks[f"http://127.0.0.1:{port}/webhook"] = p
        return p

    async def wait_listening(self, p: Proc, port: int) -> float:
        """Seconds until ``p`` accepts connections on ``port`` (fails if it dies first)."""
        t0 = time.monotonic()
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return time.monotonic() - t0
            p.check()
            if time.monotonic() - t0 > START_TIMEOUT:
                raise TimeoutError(f"{p.name} is not listening on {port} after {START_TIMEOUT} s")
            await _tick()

    # ------------------------------------------------------------------ the simulator

    async def sim_post(self, path: str, body: dict[str, Any]) -> None:
        r = await self.http.post(
            f"{self.sim_rest}{path}", json=body, headers={"X-Sim-Token": self.sim_token}
        )
        r.raise_for_status()

    async def sim_state(self) -> dict[str, Any]:
        r = await self.http.get(
            f"{self.sim_rest}/_sim/state", headers={"X-Sim-Token": self.sim_token}
        )
        r.raise_for_status()
        data: dict[str, Any] = r.json()
        return data

    async def price(self) -> Decimal:
        r = await self.http.get(f"{self.sim_rest}/api/v1/ticker", params={"symbol": SYMBOL})
        r.raise_for_status()
        return Decimal(str(r.json()["lastPrice"]))

    # ------------------------------------------------------------------ the database

    @contextlib.asynccontextmanager
    async def sql(self) -> Any:
        assert self.pg is not None
        conn = await asyncpg.connect(
            host=self.pg.host, port=self.pg.port, user="postgres", database="bot"
        )
        try:
            yield conn
        finally:
            await conn.close()


async def _tick() -> None:
    import asyncio

    await asyncio.sleep(0.05)
